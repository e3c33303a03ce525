//! The process around the engine: durability across `kill -9`, clean SIGTERM,
//! settings from the environment, and start-up errors that say what is wrong.

mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;

/// No start-up failure may surface as a Rust panic or a backtrace.
fn assert_no_panic(stderr: &str) {
    assert!(
        !stderr.contains("panicked") && !stderr.contains("stack backtrace"),
        "start-up error surfaced as a panic:\n{stderr}"
    );
}

/// The one SQLite database in the data folder, found by its file header.
fn database_file(data: &Path) -> std::path::PathBuf {
    let dbs: Vec<_> = std::fs::read_dir(data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.is_file()
                && std::fs::read(p).is_ok_and(|b| b.starts_with(b"SQLite format 3\0"))
        })
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
    let mut smtp = Smtp::connect(server.smtp);
    smtp.ehlo("term.example.test");
    let id = queued_id(&smtp.deliver("t@example.test", &["r@example.test"], &msg));
    smtp.quit();

    let status = server.terminate();
    assert_eq!(status.code(), Some(0), "exit status after SIGTERM: {status}");

    let server = Server::start_in(dir.path());
    server.assert_raw(&id, &msg);
}

#[test]
fn settings_from_environment() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = serve_command();
    cmd.env("PIGEONHOLE_SMTP", "127.0.0.1:0")
        .env("PIGEONHOLE_HTTP", "127.0.0.1:0")
        .env("PIGEONHOLE_DATA", dir.path());
    let server = Server::launch(cmd, dir.path().to_path_buf(), None);
    let msg = simple_message("e@example.test", "r@example.test", "env config", "x");
    let mut smtp = Smtp::connect(server.smtp);
    smtp.ehlo("env.example.test");
    queued_id(&smtp.deliver("e@example.test", &["r@example.test"], &msg));
    smtp.quit();
    // PIGEONHOLE_DATA was honoured: the store is in that folder.
    database_file(dir.path());
}

#[test]
fn port_in_use_is_one_clear_line() {
    for (which, other) in [("--smtp", "--http"), ("--http", "--smtp")] {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap().to_string();
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = serve_command();
        cmd.args([which, &addr, other, "127.0.0.1:0"]).arg("--data").arg(dir.path());
        let out = run_to_exit(cmd, Duration::from_secs(30));

        assert!(!out.status.success(), "{which} {addr} in use, yet exit {}", out.status);
        assert_no_panic(&out.stderr);
        let lines: Vec<&str> = out.stderr.lines().filter(|l| l.contains(&addr)).collect();
        assert!(!lines.is_empty(), "{which}: stderr does not name {addr}:\n{}", out.stderr);
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
    assert_no_panic(&out.stderr);
    assert!(
        out.stderr.contains(&file.display().to_string()),
        "stderr does not name the data folder:\n{}",
        out.stderr
    );
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
    assert_no_panic(&out.stderr);
    assert!(!out.stderr.trim().is_empty(), "no error message on stderr");
    assert_same_bytes(&before, &std::fs::read(&db).unwrap(), "database file after the refused start");
}
