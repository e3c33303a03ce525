//! POP3 against the real binary with real clients: Python's poplib (STLS, USER/PASS,
//! every transaction command and its errors) and fetchmail (download and delete, as
//! a mail setup would), plus the refusals a raw socket sees: wrong passwords and the
//! throttle, the connection cap, a line too long, shutdown, an open address without
//! a password file.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::Value;

/// The plain-text htpasswd entries the tests log in with.
const USERS: &str = "alice:alice-secret\nbob:bob-secret\n";

fn start_with_users() -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let users = dir.path().join("users");
    std::fs::write(&users, USERS).unwrap();
    let server = Server::start_with(&["--pop3", "127.0.0.1:0", "--pop3-auth-file", users.to_str().unwrap()]);
    (server, dir)
}

/// Sends a message over SMTP, with `auth_user` through STARTTLS + AUTH PLAIN (the
/// inbox of that name) or without (the default inbox).
fn send(server: &Server, subject: &str, auth_user: Option<&str>) {
    let swaks = require_tool("swaks");
    let mut command = Command::new(swaks);
    command.args(["--server", &server.smtp.to_string(), "--to", "rcpt@example.test", "--from", "app@example.test"]);
    command.args(["--header", &format!("Subject: {subject}"), "--body", "Line one\n.a dot-stuffed line\nLast line"]);
    if let Some(user) = auth_user {
        command.args(["--tls", "--auth", "PLAIN", "--auth-user", user, "--auth-password", "whatever"]);
    }
    let out = command.output().unwrap();
    assert!(out.status.success(), "swaks: {}", String::from_utf8_lossy(&out.stdout));
}

/// A raw POP3 connection, for the refusals.
struct Pop3 {
    reader: BufReader<TcpStream>,
}

impl Pop3 {
    fn connect(addr: SocketAddr) -> Pop3 {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        Pop3 { reader: BufReader::new(stream) }
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        line
    }

    fn say(&mut self, command: &str) -> String {
        self.reader.get_mut().write_all(format!("{command}\r\n").as_bytes()).unwrap();
        self.line()
    }
}

#[test]
fn poplib_reads_its_inbox_over_stls_and_deletes_on_quit() {
    let (server, _users) = start_with_users();
    send(&server, "for alice, first", Some("alice"));
    send(&server, "for alice, second", Some("alice"));
    send(&server, "for the default inbox", None);
    let pop3 = server.listener("pop3");
    // Read before QUIT deletes one.
    let stored: std::collections::HashMap<String, (String, Vec<u8>)> = server.list()["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|summary| {
            let id = summary["ID"].as_str().unwrap().to_string();
            (id.clone(), (summary["Subject"].as_str().unwrap().to_string(), server.raw(&id)))
        })
        .collect();

    let out = tempfile::tempdir().unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/poplib_session.py");
    let run = Command::new("python3")
        .arg(script)
        .args([&pop3.ip().to_string(), &pop3.port().to_string(), "alice", "alice-secret"])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(run.status.success(), "poplib_session.py: {}", String::from_utf8_lossy(&run.stderr));
    let report: Value = serde_json::from_slice(&run.stdout).unwrap();

    assert_eq!(report["welcome"], "+OK Pigeonhole POP3 ready");
    let capa_before: Vec<&str> =
        report["capa_before_tls"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(capa_before.contains(&"STLS") && capa_before.contains(&"UIDL") && capa_before.contains(&"TOP"));
    assert!(!report["capa_after_tls"].as_array().unwrap().iter().any(|capability| capability == "STLS"));
    assert_eq!(report["pass_before_user"], "-ERR send USER first");
    assert!(report["stat_before_login"].as_str().unwrap().starts_with("-ERR log in first"));

    // Alice's inbox only, oldest first.
    let subjects = |id: &str| stored[id].0.clone();
    let uidl: Vec<(String, String)> = report["uidl"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| (pair[0].as_str().unwrap().to_string(), pair[1].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(uidl.len(), 2, "{report}");
    assert_eq!(subjects(&uidl[0].1), "for alice, first");
    assert_eq!(subjects(&uidl[1].1), "for alice, second");
    let sizes: Vec<u64> = uidl.iter().map(|(_, id)| stored[id].1.len() as u64).collect();
    assert_eq!(report["stat"], serde_json::json!([2, sizes[0] + sizes[1]]));
    assert_eq!(report["list"], serde_json::json!([format!("1 {}", sizes[0]), format!("2 {}", sizes[1])]));
    assert_eq!(report["login"], format!("+OK maildrop has 2 messages ({} octets)", sizes[0] + sizes[1]));

    // Each message byte for byte, its dot-stuffed line unstuffed by poplib.
    for (_, id) in &uidl {
        let downloaded = std::fs::read(out.path().join(format!("{id}.eml"))).unwrap();
        assert_same_bytes(&stored[id].1, &downloaded, "RETR");
    }
    let top = report["top_0"].as_array().unwrap();
    assert!(top.iter().any(|line| line == "Subject: for alice, first"), "{top:?}");
    assert_eq!(top.last().unwrap(), "", "TOP 1 0 ends with the blank line: no body");

    assert_eq!(report["retr_missing"], "-ERR no such message");
    assert_eq!(report["top_without_lines"], "-ERR TOP needs a message number and a line count");
    assert_eq!(report["dele"], "+OK message 1 deleted");
    assert_eq!(report["retr_deleted"], "-ERR message is deleted");
    assert_eq!(report["stat_after_dele"], serde_json::json!([1, sizes[1]]));
    assert_eq!(report["stat_after_rset"], serde_json::json!([2, sizes[0] + sizes[1]]));
    assert_eq!(report["quit"], "+OK Pigeonhole POP3 signing off (messages deleted: 1)");

    // QUIT deleted alice's first message in Pigeonhole; the rest stay.
    let left: Vec<String> = server.list()["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|summary| summary["Subject"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(left, ["for the default inbox", "for alice, second"]);
}

#[test]
fn a_login_that_names_no_inbox_reads_the_default_inbox() {
    let (server, _users) = start_with_users();
    send(&server, "for alice", Some("alice"));
    send(&server, "for everyone", None);
    let mut pop3 = Pop3::connect(server.listener("pop3"));
    pop3.line();
    assert_eq!(pop3.say("USER bob"), "+OK send PASS\r\n");
    assert!(pop3.say("PASS bob-secret").starts_with("+OK maildrop has 1 messages"));
    let summary = server.summary_by_subject("for everyone");
    assert_eq!(pop3.say("UIDL 1"), format!("+OK 1 {}\r\n", summary["ID"].as_str().unwrap()));
    // A session that ends without QUIT deletes nothing (RFC 1939's UPDATE state is never entered).
    assert_eq!(pop3.say("DELE 1"), "+OK message 1 deleted\r\n");
    drop(pop3);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(server.total(), 2);
}

#[test]
fn wrong_passwords_are_refused_and_then_throttled() {
    let (server, _users) = start_with_users();
    let mut pop3 = Pop3::connect(server.listener("pop3"));
    pop3.line();
    for _ in 0..5 {
        pop3.say("USER alice");
        assert_eq!(pop3.say("PASS wrong"), "-ERR [AUTH] wrong user or password\r\n");
    }
    // Refused now, even with the right password, and from a new connection too.
    pop3.say("USER alice");
    assert!(pop3.say("PASS alice-secret").starts_with("-ERR [SYS/TEMP] too many failed logins"));
    let mut again = Pop3::connect(server.listener("pop3"));
    again.line();
    again.say("USER alice");
    assert!(again.say("PASS alice-secret").starts_with("-ERR [SYS/TEMP] too many failed logins"));
    assert!(server.stderr().contains("pop3 login refused: too many failures"));
}

#[test]
fn fetchmail_downloads_every_message_and_deletes_them() {
    let fetchmail = require_tool("fetchmail");
    let server = Server::start_with(&["--pop3", "127.0.0.1:0"]);
    send(&server, "fetched one", None);
    send(&server, "fetched two", None);
    let raws: Vec<Vec<u8>> = server.list()["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|summary| server.raw(summary["ID"].as_str().unwrap()))
        .collect();

    // fetchmail refuses a world-readable rc file, and wants a home for its state.
    let home = tempfile::tempdir().unwrap();
    let out = home.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let rc = home.path().join("fetchmailrc");
    std::fs::write(
        &rc,
        format!(
            "set invisible\npoll 127.0.0.1 service {} protocol POP3 username \"anyone\" password \"any\" \
             sslproto '' no rewrite mda \"/bin/sh -c 'cat > $(mktemp {}/msg.XXXXXX)'\"\n",
            server.listener("pop3").port(),
            out.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&rc, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let run = Command::new(fetchmail)
        .env("HOME", home.path())
        .arg("-f")
        .arg(&rc)
        .args(["--nokeep", "--nodetach"])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "fetchmail: {}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );

    // fetchmail hands the MDA Unix line ends; otherwise the bytes are the stored ones.
    let mut fetched: Vec<Vec<u8>> =
        std::fs::read_dir(&out).unwrap().map(|entry| std::fs::read(entry.unwrap().path()).unwrap()).collect();
    let mut expected: Vec<Vec<u8>> =
        raws.iter().map(|raw| String::from_utf8_lossy(raw).replace("\r\n", "\n").into_bytes()).collect();
    fetched.sort();
    expected.sort();
    assert_eq!(fetched.len(), 2);
    for (want, got) in expected.iter().zip(&fetched) {
        assert_same_bytes(want, got, "fetchmail's delivery");
    }
    assert_eq!(server.total(), 0, "--nokeep deleted both in Pigeonhole");
}

#[test]
fn the_connection_cap_a_long_line_and_shutdown_close_sessions_with_a_reason() {
    let server = Server::start_with(&["--pop3", "127.0.0.1:0"]);
    let addr = server.listener("pop3");
    let mut open: Vec<Pop3> = (0..64).map(|_| Pop3::connect(addr)).collect();
    for pop3 in &mut open {
        assert_eq!(pop3.line(), "+OK Pigeonhole POP3 ready\r\n");
    }
    let mut refused = Pop3::connect(addr);
    assert_eq!(refused.line(), "-ERR [SYS/TEMP] too many connections; try again later\r\n");

    // A line past the cap ends that session, and frees its place.
    let mut long = open.pop().unwrap();
    long.reader.get_mut().write_all(&[b'a'; 3000]).unwrap();
    assert_eq!(long.line(), "-ERR [SYS/TEMP] line too long; closing\r\n");
    let mut rest = Vec::new();
    long.reader.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "closed after the reply");
    // The place is free once its task has ended, a moment after the close.
    let greeted = (0..40).any(|_| {
        std::thread::sleep(Duration::from_millis(25));
        Pop3::connect(addr).line() == "+OK Pigeonhole POP3 ready\r\n"
    });
    assert!(greeted, "a new client gets the freed place");

    let mut waiting = open.pop().unwrap();
    assert!(server.terminate().success());
    assert_eq!(waiting.line(), "-ERR [SYS/TEMP] Pigeonhole is shutting down\r\n");
}

#[test]
fn an_address_other_machines_reach_needs_a_password_file() {
    let data = tempfile::tempdir().unwrap();
    let mut command = serve_command();
    command.args(port0_args(data.path())).args(["--pop3", "0.0.0.0:0"]);
    let exited = run_to_exit(command, STARTUP_TIMEOUT);
    assert!(!exited.status.success());
    assert!(exited.stderr.contains("add --pop3-auth-file FILE"), "{}", exited.stderr);

    let mut command = serve_command();
    command.args(port0_args(data.path())).args(["--pop3", "127.0.0.1:0", "--pop3-tls-cert", "/nonexistent.pem"]);
    let exited = run_to_exit(command, STARTUP_TIMEOUT);
    assert!(!exited.status.success());
    assert!(exited.stderr.contains("--pop3-tls-key"), "{}", exited.stderr);
}
