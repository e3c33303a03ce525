//! The process around the engine: durability across `kill -9`, clean SIGTERM,
//! settings from the environment, and start-up errors that say what is wrong.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;

/// A start-up failure is told in one line that names `subject`, never as a panic.
fn assert_one_line_error(stderr: &str, subject: &str) {
    assert!(
        !stderr.contains("panicked") && !stderr.contains("stack backtrace"),
        "start-up error surfaced as a panic:\n{stderr}"
    );
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line on stderr:\n{stderr}");
    assert!(lines[0].contains(subject), "stderr does not name {subject}:\n{stderr}");
}

/// SHA-256 of the certificate the server presents after STARTTLS, as Python's ssl
/// module sees it.
fn tls_fingerprint(server: &Server) -> String {
    let python = require_tool("python3");
    let script = "import hashlib, smtplib, ssl, sys\n\
        ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE\n\
        s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), timeout=30); s.starttls(context=ctx)\n\
        print(hashlib.sha256(s.sock.getpeercert(binary_form=True)).hexdigest()); s.quit()\n";
    let out = Command::new(python).args(["-c", script, &server.smtp.port().to_string()]).output().unwrap();
    assert!(out.status.success(), "STARTTLS probe failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The one SQLite database in the data folder, found by its file header.
fn database_file(data: &Path) -> std::path::PathBuf {
    let dbs: Vec<_> = std::fs::read_dir(data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && std::fs::read(p).is_ok_and(|b| b.starts_with(b"SQLite format 3\0")))
        .collect();
    assert_eq!(dbs.len(), 1, "expected one SQLite database in {}: {dbs:?}", data.display());
    dbs[0].clone()
}

#[test]
fn acknowledged_messages_survive_kill_9() {
    const N: usize = 40;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path());
    let mut sent = Vec::new();
    let mut smtp = Smtp::connect(server.smtp);
    smtp.ehlo("durable.example.test");
    for i in 0..N {
        let msg = simple_message("d@example.test", "r@example.test", &format!("durable {i}"), &format!("body {i}"));
        let id = queued_id(&smtp.deliver("d@example.test", &["r@example.test"], &msg));
        sent.push((id, msg));
    }
    // Straight after the last 250: no QUIT, no chance to flush anything.
    server.kill9();

    let server = Server::start_in(dir.path());
    assert_eq!(server.total(), N as u64, "acknowledged messages lost after kill -9");
    for (id, msg) in &sent {
        server.assert_raw(id, msg);
    }
}

#[test]
fn sigterm_exits_zero_and_keeps_messages() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path());
    let msg = simple_message("t@example.test", "r@example.test", "before sigterm", "kept");
    let id = send_one(server.smtp, "t@example.test", "r@example.test", &msg);

    let status = server.terminate();
    assert_eq!(status.code(), Some(0), "exit status after SIGTERM: {status}");

    let server = Server::start_in(dir.path());
    server.assert_raw(&id, &msg);
}

/// One GET /livez over a bare socket: a tight poll, as fast as a supervisor's.
fn livez_ok(http: &str) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(http) else { return false };
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let request = format!("GET /livez HTTP/1.1\r\nHost: {http}\r\nConnection: close\r\n\r\n");
    let mut status = [0u8; 12];
    s.write_all(request.as_bytes()).is_ok() && s.read_exact(&mut status).is_ok() && &status == b"HTTP/1.1 200"
}

#[test]
fn stop_signal_right_after_livez_exits_zero() {
    // /livez says "ready" once the listeners accept; a supervisor may stop the server at
    // once. Polled on a known port, before the listening lines, as such a supervisor
    // would; several rounds, as the window is short.
    for round in 0..30 {
        let sig = if round % 2 == 0 { "TERM" } else { "INT" };
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let http = format!("127.0.0.1:{port}");
        let dir = tempfile::tempdir().unwrap();
        let mut child = serve_command()
            .args(["--smtp", "127.0.0.1:0", "--http", &http, "--data"])
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // A shell waiting on its stdin sends the signal the moment we write a line: no
        // process start-up between "ready" and the signal.
        let mut killer = Command::new("sh")
            .args(["-c", &format!("read _ && kill -{sig} {}", child.id())])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + STARTUP_TIMEOUT;
        while !livez_ok(&http) {
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("/livez never answered on {http}");
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        {
            use std::io::Write;
            killer.stdin.take().unwrap().write_all(b"go\n").unwrap();
        }
        assert!(killer.wait().unwrap().success(), "kill -{sig} failed");
        let Some(status) = wait_timeout(&mut child, Duration::from_secs(30)) else {
            let _ = child.kill();
            panic!("round {round}: still running 30 s after SIG{sig}");
        };
        assert_eq!(status.code(), Some(0), "round {round}: SIG{sig} right after /livez → {status}");
    }
}

#[test]
fn sigterm_finishes_the_session_in_flight_and_stops_accepting() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_in(dir.path());
    let addr = server.smtp;
    let msg = simple_message("f@example.test", "r@example.test", "in flight", &"line of text\n".repeat(50));
    let (head, tail) = msg.split_at(msg.len() / 2);
    let mut smtp = Smtp::connect(addr);
    smtp.ehlo("flight.example.test");
    smtp.expect("MAIL FROM:<f@example.test>", 250);
    smtp.expect("RCPT TO:<r@example.test>", 250);
    smtp.expect("DATA", 354);
    smtp.send(head);

    signal(server.pid(), "TERM");
    // Soon after the signal, new sessions are refused (or told 421) while the old one
    // is still finishing. Polled, as the signal takes a moment to arrive.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let Ok(mut late) = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else { break };
        use std::io::Read;
        late.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut greeting = [0u8; 3];
        let n = late.read(&mut greeting).unwrap_or(0);
        if n == 0 || &greeting[..n] == b"421" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "new sessions still greeted 5 s after SIGTERM");
        drop(late);
        std::thread::sleep(Duration::from_millis(100));
    }

    smtp.send(&[tail, b".\r\n"].concat());
    let id = queued_id(&smtp.reply());
    let bye = smtp.cmd("QUIT");
    assert!(bye.is(221) || bye.is(421), "QUIT during shutdown → {bye:?}");
    let status = server.wait_exit();
    assert_eq!(status.code(), Some(0), "exit status after SIGTERM: {status}");

    let server = Server::start_in(dir.path());
    server.assert_raw(&id, &msg);
}

#[test]
fn tls_certificate_is_made_once_per_data_folder() {
    let dir = tempfile::tempdir().unwrap();
    let first = tls_fingerprint(&Server::start_in(dir.path()));
    let again = tls_fingerprint(&Server::start_in(dir.path()));
    assert_eq!(first, again, "certificate changed across a restart on the same data folder");
    let other = tls_fingerprint(&Server::start());
    assert_ne!(first, other, "two data folders share one certificate (and so one private key)");
}

#[test]
fn settings_from_environment() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = serve_command();
    cmd.env("PIGEONHOLE_SMTP", "127.0.0.1:0").env("PIGEONHOLE_HTTP", "127.0.0.1:0").env("PIGEONHOLE_DATA", dir.path());
    let server = Server::launch(cmd, dir.path().to_path_buf(), None);
    let msg = simple_message("e@example.test", "r@example.test", "env config", "x");
    send_one(server.smtp, "e@example.test", "r@example.test", &msg);
    // PIGEONHOLE_DATA was honoured: the store is in that folder.
    database_file(dir.path());
}

#[test]
fn port_in_use_is_one_clear_line() {
    for (which, other) in [("--smtp", "--http"), ("--http", "--smtp")] {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap().to_string();
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let mut cmd = serve_command();
        cmd.args([which, &addr, other, "127.0.0.1:0"]).arg("--data").arg(&data);
        let out = run_to_exit(cmd, Duration::from_secs(30));

        assert!(!out.status.success(), "{which} {addr} in use, yet exit {}", out.status);
        assert_one_line_error(&out.stderr, &addr);
        assert!(!data.exists(), "{which} in use, yet the data folder was created");
        assert!(
            !out.stdout.contains(&format!("listening on {addr}")),
            "claims to listen on the taken address:\n{}",
            out.stdout
        );
    }
}

#[test]
fn unwritable_data_folder_fails_to_start() {
    // A path below a regular file can be created by nobody, root included.
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let data = file.join("data");
    let mut cmd = serve_command();
    cmd.args(port0_args(&data));
    let out = run_to_exit(cmd, Duration::from_secs(30));

    assert!(!out.status.success(), "started on an impossible data folder: {}", out.status);
    assert_one_line_error(&out.stderr, &file.display().to_string());
}

#[test]
fn second_server_on_the_same_data_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let first = Server::start_in(dir.path());
    let mut cmd = serve_command();
    cmd.args(port0_args(dir.path()));
    let out = run_to_exit(cmd, Duration::from_secs(30));

    assert!(!out.status.success(), "two servers on one data folder: {}", out.status);
    assert_one_line_error(&out.stderr, &dir.path().display().to_string());
    assert!(out.stderr.contains("in use by another Pigeonhole"), "{}", out.stderr);
    // The first one is unharmed and the folder is free again once it stops.
    assert_eq!(first.total(), 0);
    assert_eq!(first.terminate().code(), Some(0));
    assert_eq!(Server::start_in(dir.path()).terminate().code(), Some(0));
}

#[test]
fn database_from_newer_version_is_refused_untouched() {
    let sqlite3 = require_tool("sqlite3");
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(Server::start_in(dir.path()).terminate().code(), Some(0));
    let db = database_file(dir.path());
    // rusqlite_migration keeps the schema version in user_version.
    let ok = Command::new(&sqlite3).arg(&db).arg("PRAGMA user_version = 999999;").status().unwrap();
    assert!(ok.success());
    let before = std::fs::read(&db).unwrap();

    let mut cmd = serve_command();
    cmd.args(port0_args(dir.path()));
    let out = run_to_exit(cmd, Duration::from_secs(30));

    assert!(!out.status.success(), "opened a database from the future: {}", out.status);
    assert_one_line_error(&out.stderr, &db.display().to_string());
    assert_same_bytes(&before, &std::fs::read(&db).unwrap(), "database file after the refused start");
}

/// One HTTP/1.1 GET over the Unix socket at `path`: the status line and the body.
#[cfg(unix)]
fn get_over_socket(path: &Path, uri: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut socket = std::os::unix::net::UnixStream::connect(path).unwrap();
    socket.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    // The Host curl --unix-socket sends.
    write!(socket, "GET {uri} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    socket.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    (head.lines().next().unwrap_or_default().to_string(), body.to_string())
}

/// `--http unix:PATH:MODE`: the UI and API on a Unix socket with that mode, the
/// listening line naming it; a stale socket file (a killed engine's) is replaced,
/// and the file is gone after SIGTERM. A path that is anything but a socket is
/// refused and left as it was.
#[cfg(unix)]
#[test]
fn http_on_a_unix_socket() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    use std::process::Stdio;

    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("http.sock");
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap()); // a stale socket file
    let mut cmd = serve_command();
    cmd.args(["--smtp", "127.0.0.1:0", "--http", &format!("unix:{}:0660", path.display())])
        .arg("--data")
        .arg(tmp.path().join("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let announced: Vec<String> = lines.map_while(Result::ok).take(2).collect();
    assert_eq!(
        announced.get(1).map(String::as_str),
        Some(format!("http listening on unix:{}", path.display()).as_str())
    );

    let meta = std::fs::symlink_metadata(&path).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    assert_eq!(get_over_socket(&path, "/readyz"), ("HTTP/1.1 200 OK".to_string(), "ok".to_string()));
    let (status, body) = get_over_socket(&path, "/api/v1/messages");
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.contains("\"total\":0"), "{body}");

    signal(child.id(), "TERM");
    let status = wait_timeout(&mut child, Duration::from_secs(30)).expect("no exit within 30 s of SIGTERM");
    assert_eq!(status.code(), Some(0));
    assert!(!path.exists(), "the socket file outlived the engine");

    std::fs::write(&path, b"not a socket").unwrap();
    let mut cmd = serve_command();
    cmd.args(["--smtp", "127.0.0.1:0", "--http", &format!("unix:{}", path.display())])
        .arg("--data")
        .arg(tmp.path().join("data"));
    let out = run_to_exit(cmd, Duration::from_secs(30));
    assert!(!out.status.success(), "started on a regular file: {}", out.status);
    assert_one_line_error(&out.stderr, &path.display().to_string());
    assert_eq!(std::fs::read(&path).unwrap(), b"not a socket");
}
