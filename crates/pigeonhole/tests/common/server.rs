//! The `pigeonhole` process under test: started on free ports, asked over its HTTP
//! API, signalled, killed; runs expected to end by themselves; the client tools.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{BIN, IO_TIMEOUT, STARTUP_TIMEOUT, assert_same_bytes};

/// A `pigeonhole serve` process. Killed (SIGKILL) when dropped, so a failing test never
/// leaves a server behind.
pub struct Server {
    child: Child,
    pub smtp: SocketAddr,
    pub http: SocketAddr,
    pub data: PathBuf,
    /// Every `NAME listening on ADDR` line read so far (smtp, http, pop3, …).
    listeners: Arc<Mutex<HashMap<String, SocketAddr>>>,
    stderr: Arc<Mutex<String>>,
    http_client: reqwest::blocking::Client,
    /// Keeps a harness-made data folder alive as long as the server.
    _tmp: Option<tempfile::TempDir>,
}

/// `pigeonhole serve` with no inherited PIGEONHOLE_* settings (see [`without_settings`]).
pub fn serve_command() -> Command {
    let mut cmd = without_settings(Command::new(BIN));
    cmd.arg("serve").stdin(Stdio::null());
    cmd
}

/// `cmd` (`pigeonhole`, or a shell that runs it) with no inherited PIGEONHOLE_*
/// settings (addresses, URL, data folder, limits, timeouts, fsync), so the developer's
/// or CI's environment cannot change what a test runs against. Only PIGEONHOLE_LOG
/// passes: it changes what is logged, nothing else.
pub fn without_settings(mut cmd: Command) -> Command {
    for (name, _) in std::env::vars_os() {
        let is_setting = name.to_str().is_some_and(|n| n.starts_with("PIGEONHOLE_") && n != "PIGEONHOLE_LOG");
        if is_setting {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// The usual arguments: both listeners on free loopback ports, data in `data`.
pub fn port0_args(data: &Path) -> Vec<OsString> {
    vec!["--smtp".into(), "127.0.0.1:0".into(), "--http".into(), "127.0.0.1:0".into(), "--data".into(), data.into()]
}

impl Server {
    /// A fresh server with its own temp data folder.
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// A fresh server with extra `serve` options (e.g. smaller limits).
    pub fn start_with(extra: &[&str]) -> Server {
        let tmp = tempfile::tempdir().expect("temp dir");
        let data = tmp.path().to_path_buf();
        let mut cmd = serve_command();
        cmd.args(port0_args(&data)).args(extra);
        Server::launch(cmd, data, Some(tmp))
    }

    /// A server on an existing data folder (restarts, durability).
    pub fn start_in(data: &Path) -> Server {
        let mut cmd = serve_command();
        cmd.args(port0_args(data));
        Server::launch(cmd, data.to_path_buf(), None)
    }

    /// Starts `cmd`, waits for both "listening on" lines and for /livez to answer 200.
    pub fn launch(mut cmd: Command, data: PathBuf, tmp: Option<tempfile::TempDir>) -> Server {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {BIN}: {e}"));
        let stderr = drain_to_string(child.stderr.take().unwrap());

        // Keep reading stdout for the server's whole life so it never blocks on a full pipe.
        let (tx, rx) = mpsc::channel::<(String, SocketAddr)>();
        let stdout = child.stdout.take().unwrap();
        let listeners = Arc::new(Mutex::new(HashMap::new()));
        let heard = listeners.clone();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let Some((kind, addr)) = line.split_once(" listening on ") else { continue };
                // `http listening on unix:PATH` has no TCP address.
                let Ok(addr) = addr.trim().parse::<SocketAddr>() else { continue };
                heard.lock().unwrap().insert(kind.to_string(), addr);
                let _ = tx.send((kind.to_string(), addr));
            }
        });

        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let (mut smtp, mut http) = (None, None);
        while smtp.is_none() || http.is_none() {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok((kind, addr)) if kind == "smtp" => smtp = Some(addr),
                Ok((kind, addr)) if kind == "http" => http = Some(addr),
                Ok(_) => {}
                Err(_) => {
                    if let Ok(Some(status)) = child.try_wait() {
                        panic!(
                            "pigeonhole serve exited with {status} before listening; stderr:\n{}",
                            stderr.lock().unwrap()
                        );
                    }
                    if Instant::now() > deadline {
                        let _ = child.kill();
                        panic!(
                            "no 'smtp/http listening on' lines on stdout within {STARTUP_TIMEOUT:?}; stderr:\n{}",
                            stderr.lock().unwrap()
                        );
                    }
                }
            }
        }

        let server = Server {
            child,
            smtp: smtp.unwrap(),
            http: http.unwrap(),
            data,
            listeners,
            stderr,
            http_client: http_client(),
            _tmp: tmp,
        };
        server.wait_livez();
        server
    }

    fn wait_livez(&self) {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Ok(r) = self.http_client.get(self.url("/livez")).send()
                && r.status() == 200
            {
                return;
            }
            assert!(Instant::now() < deadline, "/livez not 200 within {STARTUP_TIMEOUT:?}; stderr:\n{}", self.stderr());
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// The address of the listener that announced itself as `kind` (`pop3 listening on …`).
    pub fn listener(&self, kind: &str) -> SocketAddr {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(addr) = self.listeners.lock().unwrap().get(kind) {
                return *addr;
            }
            assert!(Instant::now() < deadline, "no '{kind} listening on' line; stderr:\n{}", self.stderr());
            thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the server wrote to stderr so far (for failure messages).
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.http, path)
    }

    pub fn client(&self) -> &reqwest::blocking::Client {
        &self.http_client
    }

    pub fn get(&self, path: &str) -> reqwest::blocking::Response {
        self.http_client.get(self.url(path)).send().unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// GET that must answer 200 with JSON.
    pub fn get_json(&self, path: &str) -> Value {
        let r = self.get(path);
        let status = r.status();
        let body = r.text().unwrap();
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {body}"))
    }

    /// A mutating request (PUT/DELETE with an optional JSON body) that must answer 200.
    pub fn mutate(&self, method: reqwest::Method, path: &str, body: Option<Value>) {
        let mut req = self.http_client.request(method.clone(), self.url(path));
        if let Some(body) = &body {
            req = req.json(body);
        }
        let r = req.send().unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = r.status();
        assert_eq!(status, 200, "{method} {path} {body:?}: {}", r.text().unwrap_or_default());
    }

    /// The first page of summaries (newest first), big enough for any one test.
    pub fn list(&self) -> Value {
        self.get_json("/api/v1/messages?limit=1000")
    }

    pub fn total(&self) -> u64 {
        self.get_json("/api/v1/messages?limit=1")["total"].as_u64().expect("total is a number")
    }

    /// The one summary whose Subject is `subject`; fails if there is not exactly one.
    pub fn summary_by_subject(&self, subject: &str) -> Value {
        let list = self.list();
        let hits: Vec<&Value> = list["messages"]
            .as_array()
            .expect("messages is an array")
            .iter()
            .filter(|m| m["Subject"] == subject)
            .collect();
        assert_eq!(hits.len(), 1, "messages with Subject {subject:?} in {list:#}");
        hits[0].clone()
    }

    pub fn message(&self, id: &str) -> Value {
        self.get_json(&format!("/api/v1/message/{id}"))
    }

    pub fn envelope(&self, id: &str) -> Value {
        self.get_json(&format!("/api/v1/message/{id}/envelope"))
    }

    /// The stored raw bytes of a message.
    pub fn raw(&self, id: &str) -> Vec<u8> {
        let r = self.get(&format!("/api/v1/message/{id}/raw"));
        assert_eq!(r.status(), 200, "GET raw of {id}");
        r.bytes().unwrap().to_vec()
    }

    /// The stored raw must be exactly `sent`.
    pub fn assert_raw(&self, id: &str, sent: &[u8]) {
        assert_same_bytes(sent, &self.raw(id), &format!("raw of message {id}"));
    }

    /// SIGTERM and wait for the exit status (bounded).
    pub fn terminate(self) -> ExitStatus {
        signal(self.pid(), "TERM");
        self.wait_exit()
    }

    /// Waits (bounded) for a server that was told to stop.
    pub fn wait_exit(mut self) -> ExitStatus {
        let status = wait_timeout(&mut self.child, Duration::from_secs(30));
        status.unwrap_or_else(|| panic!("no exit within 30 s of SIGTERM; stderr:\n{}", self.stderr()))
    }

    /// SIGKILL, like a crash or a power cut: nothing gets to flush.
    pub fn kill9(mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reap");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn http_client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        // A proxy from the environment must never see loopback test traffic.
        .no_proxy()
        .timeout(IO_TIMEOUT)
        .build()
        .expect("reqwest client")
}

fn drain_to_string(mut r: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let out = Arc::new(Mutex::new(String::new()));
    let sink = out.clone();
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = r.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    out
}

pub fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill").args([&format!("-{sig}"), &pid.to_string()]).status().expect("run kill").success();
    assert!(ok, "kill -{sig} {pid} failed");
}

pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Outcome of a `pigeonhole` run that is expected to stop by itself.
pub struct Exited {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` to completion, failing the test if it is still running after `timeout`
/// (a server that should have refused to start but serves instead).
pub fn run_to_exit(mut cmd: Command, timeout: Duration) -> Exited {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let stdout = drain_to_string(child.stdout.take().unwrap());
    let stderr = drain_to_string(child.stderr.take().unwrap());
    let status = wait_timeout(&mut child, timeout);
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    thread::sleep(Duration::from_millis(100)); // let the pipe readers finish
    let (stdout, stderr) = (stdout.lock().unwrap().clone(), stderr.lock().unwrap().clone());
    let status =
        status.unwrap_or_else(|| panic!("still running after {timeout:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"));
    Exited { status, stdout, stderr }
}

/// Runs a client command, failing with its output when it does not succeed; its stdout.
pub fn run_ok(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {what}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Path of an external client tool. Missing tools fail loudly: a skipped client
/// test would read as a pass.
pub fn require_tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    // smtp-source lives in /usr/sbin, which a non-root PATH often lacks.
    let dirs = std::env::split_paths(&path).chain(["/usr/sbin".into(), "/sbin".into()]);
    for dir in dirs {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!("`{name}` not found on PATH or in /usr/sbin: run `bash scripts/setup.sh` first");
}
