//! The desktop app end to end: the real `pigeonhole-desktop` window on an Xvfb
//! display, driven through `tauri-driver` and WebKitWebDriver (WebDriver), with mail
//! delivered over real SMTP. The app takes its ports and data folder from
//! `PIGEONHOLE_SMTP`, `PIGEONHOLE_HTTP` and `PIGEONHOLE_DATA`.
//!
//! Needs `Xvfb`, `WebKitWebDriver` (Debian `webkit2gtk-driver`) and `tauri-driver`
//! (`cargo install tauri-driver --locked`); `scripts/setup.sh` installs them all. A
//! missing one fails the test with what to install: it is never skipped.
//! Screenshots of the window go to `artifacts/desktop-screenshots/`.

#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

/// How long the window gets to show something before a check fails.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A tool the test needs, from PATH or cargo's bin folder; panics with what to do.
fn tool(name: &str, install: &str) -> PathBuf {
    let cargo_bin = std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo/bin"));
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(cargo_bin)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("{name} is missing: {install} (scripts/setup.sh does)"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A child process leading its own process group, killed with everything it
/// started (tauri-driver → WebKitWebDriver → the app) when dropped, even when a
/// check failed half-way.
struct Process(Child);

impl Process {
    fn spawn(command: &mut Command) -> Process {
        Process(command.process_group(0).spawn().unwrap_or_else(|e| panic!("start {command:?}: {e}")))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.0.id())]).status();
        let _ = self.0.wait();
    }
}

/// An Xvfb display of our own: `-displayfd` tells which number it took.
fn start_xvfb() -> (Process, String) {
    let mut xvfb = Process::spawn(
        Command::new(tool("Xvfb", "apt-get install xvfb"))
            .args(["-displayfd", "1", "-screen", "0", "1400x900x24", "-nolisten", "tcp"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
    );
    let mut line = String::new();
    BufReader::new(xvfb.0.stdout.take().unwrap()).read_line(&mut line).expect("Xvfb's display number");
    (xvfb, format!(":{}", line.trim()))
}

/// The app under tauri-driver, and a WebDriver session in its window.
struct Desktop {
    client: Client,
    smtp: SocketAddr,
    http: SocketAddr,
    _driver: Process,
    _xvfb: Process,
    _data: tempfile::TempDir,
}

impl Desktop {
    async fn launch() -> Desktop {
        tool("WebKitWebDriver", "apt-get install webkit2gtk-driver");
        let (xvfb, display) = start_xvfb();
        let data = tempfile::tempdir().unwrap();
        let smtp: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let (port, native_port) = (free_port(), free_port());
        // tauri-driver starts WebKitWebDriver, which starts the app: all inherit this
        // environment.
        let driver = Process::spawn(
            Command::new(tool("tauri-driver", "cargo install tauri-driver --locked"))
                .args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
                .env("DISPLAY", &display)
                .env("PIGEONHOLE_SMTP", smtp.to_string())
                .env("PIGEONHOLE_HTTP", http.to_string())
                .env("PIGEONHOLE_DATA", data.path())
                .stdout(Stdio::null()),
        );
        let webdriver = format!("http://127.0.0.1:{port}");
        wait_until("tauri-driver to listen", || TcpStream::connect(("127.0.0.1", port)).is_ok());

        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("wry"));
        capabilities.insert("tauri:options".into(), json!({ "application": env!("CARGO_BIN_EXE_pigeonhole-desktop") }));
        // Plain HTTP to the local driver; `native` only names the (unused) TLS stack.
        let client = ClientBuilder::native()
            .capabilities(capabilities)
            .connect(&webdriver)
            .await
            .expect("a WebDriver session in the app's window");
        Desktop { client, smtp, http, _driver: driver, _xvfb: xvfb, _data: data }
    }

    /// The first element matching `css`, waiting for it.
    async fn find(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(TIMEOUT)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("the window never showed {css}: {e}"))
    }

    /// The text content of the first element matching `css` (WebKitWebDriver's own
    /// element text leaves out text it deems clipped, such as ellipsised lines).
    async fn text(&self, css: &str) -> String {
        let text = self
            .client
            .execute("return document.querySelector(arguments[0])?.textContent ?? null", vec![json!(css)])
            .await
            .expect("read the window's text");
        text.as_str().unwrap_or_else(|| panic!("nothing matches {css}")).trim().to_string()
    }

    /// Wait until `css` matches nothing. (Counted in the page: element handles for a
    /// node that is being removed can come back stale.)
    async fn gone(&self, css: &str) {
        let deadline = Instant::now() + TIMEOUT;
        let count = || async {
            let n = self.client.execute("return document.querySelectorAll(arguments[0]).length", vec![json!(css)]);
            n.await.expect("count elements in the window").as_u64().unwrap()
        };
        while count().await > 0 {
            assert!(Instant::now() < deadline, "{css} is still in the window");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn screenshot(&self, name: &str) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts/desktop-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let png = self.client.screenshot().await.expect("a screenshot of the window");
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }
}

fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The first line a new SMTP connection gets.
fn greeting(smtp: SocketAddr) -> String {
    let stream = TcpStream::connect(smtp).expect("connect to SMTP");
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    line
}

/// Deliver `message` over SMTP, one command at a time; returns the final reply.
fn deliver(smtp: SocketAddr, message: &str) -> String {
    let mut stream = TcpStream::connect(smtp).expect("connect to SMTP");
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut reply = || {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            all.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                return all;
            }
        }
    };
    assert!(reply().starts_with("220"));
    for (command, code) in [
        ("EHLO desktop-test.example", "250"),
        ("MAIL FROM:<app@example.com>", "250"),
        ("RCPT TO:<dev@example.com>", "250"),
        ("DATA", "354"),
    ] {
        stream.write_all(format!("{command}\r\n").as_bytes()).unwrap();
        let got = reply();
        assert!(got.starts_with(code), "{command} → {got}");
    }
    stream.write_all(format!("{message}\r\n.\r\n").as_bytes()).unwrap();
    let queued = reply();
    stream.write_all(b"QUIT\r\n").unwrap();
    queued
}

#[tokio::test(flavor = "multi_thread")]
async fn the_window_shows_mail_as_it_lands_and_pauses_intake() {
    let desktop = Desktop::launch().await;
    desktop.find("[data-testid=app][data-connected=true]").await;
    assert_eq!(desktop.client.title().await.unwrap(), "Pigeonhole");
    // The engine runs inside the app, on the ports the environment named.
    let mut webui = String::new();
    TcpStream::connect(desktop.http)
        .and_then(|mut s| {
            s.write_all(b"GET /api/v1/webui HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
            s.read_to_string(&mut webui)
        })
        .expect("the app's HTTP API");
    assert!(webui.contains(&format!("\"SMTPAddress\":\"{}\"", desktop.smtp)), "{webui}");
    desktop.screenshot("empty").await;

    let message = "From: App <app@example.com>\r\nTo: dev@example.com\r\nSubject: Desktop window check\r\n\r\nHello from the desktop test.";
    let queued = deliver(desktop.smtp, message);
    assert!(queued.starts_with("250"), "{queued}");
    let row = desktop.find("[data-testid=message-row]").await;
    assert_eq!(desktop.text("[data-testid=message-row] .subject").await, "Desktop window check");
    desktop.screenshot("list").await;
    row.click().await.unwrap();
    desktop.find("[data-testid=message-subject]").await;
    assert_eq!(desktop.text("[data-testid=message-subject]").await, "Desktop window check");
    desktop.find("[data-testid=tab-text]").await.click().await.unwrap();
    desktop.find("[data-testid=tab-panel] pre").await;
    assert!(desktop.text("[data-testid=tab-panel]").await.contains("Hello from the desktop test."));
    desktop.screenshot("message").await;

    desktop.find("[data-testid=intake-toggle]").await.click().await.unwrap();
    desktop.find("[data-testid=intake-paused]").await;
    let refused = greeting(desktop.smtp);
    assert!(refused.starts_with("421"), "a connection while paused got {refused:?}");
    desktop.screenshot("paused").await;
    desktop.find("[data-testid=intake-paused] button").await.click().await.unwrap();
    desktop.gone("[data-testid=intake-paused]").await;
    let welcomed = greeting(desktop.smtp);
    assert!(welcomed.starts_with("220"), "a connection after resuming got {welcomed:?}");

    desktop.client.close().await.unwrap();
}
