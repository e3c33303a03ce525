//! Two `pigeonhole serve --store postgres://…` processes sharing one database,
//! as a team server runs them: mail sent over SMTP to one is on the other's API.

mod common;

use std::time::{Duration, Instant};

use common::*;

#[test]
fn mail_sent_to_one_node_is_read_through_the_other() {
    let url = PgCluster::shared().database();
    let a = Server::start_with(&["--store", &url]);
    let b = Server::start_with(&["--store", &url]);
    for node in [&a, &b] {
        let ready = node.get("/readyz");
        assert_eq!(ready.status(), 200, "{}", node.stderr());
    }

    let message = simple_message("alice@example.com", "bob@example.com", "across nodes", "sent to A, read on B");
    let mut smtp = Smtp::connect(a.smtp);
    smtp.ehlo("client.example");
    let reply = smtp.deliver("alice@example.com", &["bob@example.com"], &message);
    assert!(reply.is(250), "{reply:?}");
    // 250 came after PostgreSQL's COMMIT: node B sees the message at once.
    let started = Instant::now();
    while b.total() == 0 {
        assert!(started.elapsed() < Duration::from_secs(2), "node B never listed the message");
        std::thread::sleep(Duration::from_millis(20));
    }
    let summary = b.summary_by_subject("across nodes");
    let id = summary["ID"].as_str().unwrap();
    b.assert_raw(id, &message);
    assert_eq!(b.envelope(id)["MailFrom"], "alice@example.com");
    let found = b.get_json("/api/v1/search?query=read%20on");
    assert_eq!(found["messages_count"], 1, "{found:#}");

    // A change on B (read) is on A too, and the database is named without a password.
    b.mutate(reqwest::Method::PUT, "/api/v1/messages", Some(serde_json::json!({"IDs": [id], "Read": true})));
    assert_eq!(a.summary_by_subject("across nodes")["Read"], true);
    let info = a.get_json("/api/v1/info");
    assert!(info["Database"].as_str().unwrap().starts_with("postgres://pigeonhole@127.0.0.1:"), "{info:#}");
}

#[test]
fn a_store_that_is_not_a_postgres_url_is_refused_with_what_to_do() {
    let out = run_to_exit(
        {
            let mut cmd = serve_command();
            cmd.args(["--store", "mysql://x@localhost/db", "--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0"]);
            cmd
        },
        Duration::from_secs(30),
    );
    assert!(!out.status.success());
    assert!(out.stderr.contains("postgres://USER@HOST:PORT/DB"), "{}", out.stderr);
}

#[test]
fn an_unreachable_database_stops_the_start_with_what_to_do() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("postgres://someone:secret@127.0.0.1:{port}/mail");
    let mut cmd = serve_command();
    cmd.args(["--store", &url, "--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0", "--data"]);
    let data = tempfile::tempdir().unwrap();
    cmd.arg(data.path());
    let out = run_to_exit(cmd, Duration::from_secs(30));
    assert!(!out.status.success());
    let stderr = out.stderr.trim();
    assert!(stderr.contains(&format!("postgres://someone@127.0.0.1:{port}/mail")), "{stderr}");
    assert!(stderr.contains("check that it runs"), "{stderr}");
    assert!(!stderr.contains("secret"), "the password was shown: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
