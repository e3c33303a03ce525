//! Real SMTP clients against the real binary: swaks (STARTTLS + AUTH), Python smtplib
//! (SMTPUTF8, 8-bit, dot-stuffing) and postfix's smtp-source (load over many
//! connections). Each checks through the REST API what was stored.

mod common;

use std::collections::HashSet;
use std::process::Command;

use common::*;
use serde_json::Value;

/// Sends `message` with swaks (plus `options`, e.g. TLS and AUTH) from
/// sender@example.test to rcpt@example.test.
fn swaks(server: &Server, options: &[&str], message: &[u8]) {
    let swaks = require_tool("swaks");
    // swaks sends a --data file verbatim when it already ends in the terminator (it
    // still dot-stuffs the lines before), so the stored raw must equal `message`.
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("message.eml");
    std::fs::write(&file, [message, b".\r\n"].concat()).unwrap();
    run_ok(
        Command::new(swaks)
            .args(["--server", &server.smtp.to_string(), "--helo", "swaks.example.test"])
            .args(options)
            .args(["--from", "sender@example.test", "--to", "rcpt@example.test"])
            .arg("--data")
            .arg(format!("@{}", file.display())),
        &format!("swaks {}", options.join(" ")),
    );
}

/// Sends `message` with swaks over STARTTLS, authenticating with `mechanism` as `user`.
fn swaks_tls(server: &Server, mechanism: &str, user: &str, message: &[u8]) {
    swaks(server, &["--tls", "--auth", mechanism, "--auth-user", user, "--auth-password", "any secret"], message);
}

#[test]
fn swaks_starttls_and_auth_plain() {
    let server = Server::start();
    let subject = "swaks over STARTTLS";
    let body_marker = "Hello over TLS, body text that must not be in the transcript.";
    let message = simple_message(
        "Sender Person <sender@example.test>",
        "rcpt@example.test",
        subject,
        &format!("{body_marker}\n.a line that swaks dot-stuffs\nBye."),
    );
    swaks_tls(&server, "PLAIN", "alice", &message);

    let summary = server.summary_by_subject(subject);
    let id = summary["ID"].as_str().unwrap();
    assert_eq!(summary["From"]["Address"], "sender@example.test");
    assert_eq!(summary["From"]["Name"], "Sender Person");
    assert_eq!(summary["To"][0]["Address"], "rcpt@example.test");
    assert_eq!(summary["Username"], "alice", "{summary:#}");
    assert_eq!(summary["Size"].as_u64(), Some(message.len() as u64));
    server.assert_raw(id, &message);

    let env = server.envelope(id);
    assert_eq!(env["MailFrom"], "sender@example.test", "{env:#}");
    assert_eq!(env["RcptTo"], serde_json::json!(["rcpt@example.test"]));
    assert_eq!(env["Helo"], "swaks.example.test");
    assert_eq!(env["Tls"], true, "{env:#}");
    assert_eq!(env["AuthUser"], "alice");
    assert!(env["Peer"].as_str().unwrap().starts_with("127.0.0.1"), "{env:#}");
    let transcript = env["Transcript"].as_str().unwrap();
    for step in ["EHLO", "STARTTLS", "AUTH", "MAIL FROM", "RCPT TO", "DATA"] {
        assert!(transcript.to_ascii_uppercase().contains(step), "no {step} in transcript:\n{transcript}");
    }
    assert!(!transcript.contains(body_marker), "transcript holds the body:\n{transcript}");
    use base64::Engine as _;
    let credentials = base64::engine::general_purpose::STANDARD.encode("\0alice\0any secret");
    assert!(!transcript.contains(&credentials), "transcript holds the AUTH PLAIN password:\n{transcript}");
}

#[test]
fn swaks_auth_login_and_cram_md5_record_the_user() {
    let server = Server::start();
    for (mechanism, user) in [("LOGIN", "bob"), ("CRAM-MD5", "carol@example.test")] {
        let subject = format!("swaks auth {mechanism}");
        let message = simple_message("sender@example.test", "rcpt@example.test", &subject, "hi");
        swaks_tls(&server, mechanism, user, &message);

        let summary = server.summary_by_subject(&subject);
        let id = summary["ID"].as_str().unwrap();
        assert_eq!(summary["Username"], user, "{mechanism}: {summary:#}");
        let env = server.envelope(id);
        assert_eq!(env["AuthUser"], user, "{mechanism}: {env:#}");
        assert_eq!(env["Tls"], true);
        server.assert_raw(id, &message);
    }
}

#[test]
fn auth_user_picks_the_inbox_and_read_status_updates_counts() {
    let server = Server::start();
    // Two messages authenticated as alice (AUTH without TLS: it is advertised on plain
    // connections too), one not authenticated at all.
    let alice = ["--auth", "PLAIN", "--auth-user", "alice", "--auth-password", "any secret"];
    for subject in ["for alice 1", "for alice 2"] {
        swaks(&server, &alice, &simple_message("sender@example.test", "rcpt@example.test", subject, "hi"));
    }
    swaks(&server, &[], &simple_message("sender@example.test", "rcpt@example.test", "no auth", "hi"));
    let id = |subject: &str| server.summary_by_subject(subject)["ID"].as_str().unwrap().to_string();
    let (a1, a2, plain) = (id("for alice 1"), id("for alice 2"), id("no auth"));
    assert_eq!(server.summary_by_subject("for alice 1")["Username"], "alice");
    assert_eq!(server.summary_by_subject("no auth")["Username"], "");

    // [(Name, Total, Unread)], by name whatever order the server lists them in.
    let inboxes = || {
        let v = server.get_json("/api/v1/inboxes");
        let mut rows: Vec<(String, u64, u64)> = v
            .as_array()
            .unwrap_or_else(|| panic!("inboxes is not an array: {v:#}"))
            .iter()
            .map(|i| {
                (i["Name"].as_str().unwrap().to_string(), i["Total"].as_u64().unwrap(), i["Unread"].as_u64().unwrap())
            })
            .collect();
        rows.sort();
        rows
    };
    let row = |name: &str, total, unread| (name.to_string(), total, unread);
    assert_eq!(inboxes(), [row("alice", 2, 2), row("default", 1, 1)]);

    let search = |q: &str| -> HashSet<String> {
        let r = server.client().get(server.url("/api/v1/search")).query(&[("query", q)]).send().unwrap();
        assert_eq!(r.status(), 200, "search {q:?}");
        let v: Value = r.json().unwrap();
        v["messages"].as_array().unwrap().iter().map(|m| m["ID"].as_str().unwrap().to_string()).collect()
    };
    let set = |ids: &[&String]| ids.iter().map(|s| s.to_string()).collect::<HashSet<_>>();
    assert_eq!(search("inbox:alice"), set(&[&a1, &a2]));
    assert_eq!(search("inbox:default"), set(&[&plain]));
    assert_eq!(search("inbox:nobody"), set(&[]));

    // PUT Read (without fetching a message, which would mark it read as well).
    let read_of = || -> (u64, Vec<(String, bool)>) {
        let list = server.list();
        let mut flags: Vec<(String, bool)> = list["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["ID"].as_str().unwrap().to_string(), m["Read"].as_bool().unwrap()))
            .collect();
        flags.sort();
        (list["unread"].as_u64().unwrap(), flags)
    };
    let flags = |read: &[&String]| {
        let mut v: Vec<(String, bool)> = [&a1, &a2, &plain].iter().map(|i| (i.to_string(), read.contains(i))).collect();
        v.sort();
        v
    };
    assert_eq!(read_of(), (3, flags(&[])));
    server.mutate(reqwest::Method::PUT, "/api/v1/messages", Some(serde_json::json!({"IDs": [a1], "Read": true})));
    assert_eq!(read_of(), (2, flags(&[&a1])));
    assert_eq!(inboxes(), [row("alice", 2, 1), row("default", 1, 1)]);
    assert_eq!(search("inbox:alice is:unread"), set(&[&a2]));
    server.mutate(
        reqwest::Method::PUT,
        "/api/v1/messages",
        Some(serde_json::json!({"IDs": [a2, plain], "Read": true})),
    );
    assert_eq!(read_of(), (0, flags(&[&a1, &a2, &plain])));
    assert_eq!(inboxes(), [row("alice", 2, 0), row("default", 1, 0)]);
}

#[test]
fn python_smtplib_smtputf8_8bit_dot_stuffed() {
    let python = require_tool("python3");
    let server = Server::start();
    let subject = "Grüße aus Köln ✉ — SMTPUTF8";
    // Raw UTF-8 in headers and body (RFC 6531/6532), and lines that only survive if
    // smtplib's dot-stuffing is undone: a lone ".", "..", ". x".
    let message = format!(
        "From: Jös Sender <jös@exämple.test>\r\nTo: Zoë <zoë@exämple.test>\r\nSubject: {subject}\r\n\
         Date: Tue, 01 Apr 2025 10:00:00 +0000\r\nMessage-ID: <utf8-1@exämple.test>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         Hällo wörld, 8-bit body: naïve café, 日本語.\r\n.\r\n..\r\n.leading dot\r\n. dot space\r\nlast line\r\n"
    )
    .into_bytes();
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("message.eml");
    std::fs::write(&file, &message).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/smtplib_send.py");

    let out = run_ok(
        Command::new(python)
            .arg(script)
            .args(["127.0.0.1", &server.smtp.port().to_string()])
            .args(["jös@exämple.test", "zoë@exämple.test"])
            .arg(&file),
        "python3 smtplib_send.py",
    );
    let reply: Value = serde_json::from_str(out.trim()).expect("script prints JSON");

    let summary = server.summary_by_subject(subject);
    let id = summary["ID"].as_str().unwrap();
    assert!(reply["reply"].as_str().unwrap().contains(id), "250 reply {reply} does not name {id}");
    assert_eq!(summary["From"]["Address"], "jös@exämple.test", "{summary:#}");
    assert_eq!(summary["From"]["Name"], "Jös Sender");
    assert_eq!(summary["To"][0]["Address"], "zoë@exämple.test");
    assert_eq!(summary["MessageID"], "utf8-1@exämple.test");
    assert_eq!(summary["Size"].as_u64(), Some(message.len() as u64));
    server.assert_raw(id, &message);

    let env = server.envelope(id);
    assert_eq!(env["MailFrom"], "jös@exämple.test", "{env:#}");
    assert_eq!(env["RcptTo"], serde_json::json!(["zoë@exämple.test"]));
    assert_eq!(env["Helo"], "py.example.test");
    assert_eq!(env["Tls"], false);
    assert_eq!(env["AuthUser"], Value::Null);

    let full = server.message(id);
    assert!(full["Text"].as_str().unwrap().contains("naïve café, 日本語"), "{full:#}");
}

#[test]
fn smtp_source_many_messages_many_connections() {
    const MESSAGES: usize = 200;
    const PAGE: usize = 50;
    let smtp_source = require_tool("smtp-source");
    let server = Server::start();

    // 5 parallel sessions, each sending message after message on its connection (-d).
    run_ok(
        Command::new(smtp_source)
            .args(["-4", "-s", "5", "-m", &MESSAGES.to_string(), "-l", "2048", "-d"])
            .args(["-M", "source.example.test", "-f", "load@example.test", "-t", "sink@example.test"])
            .args(["-S", "smtp-source load"])
            .arg(server.smtp.to_string()),
        "smtp-source",
    );

    // Every 250 was sent after its commit, so all are visible now: no waiting.
    assert_eq!(server.total(), MESSAGES as u64);

    let mut ids = HashSet::new();
    for start in (0..MESSAGES).step_by(PAGE) {
        let page = server.get_json(&format!("/api/v1/messages?start={start}&limit={PAGE}"));
        assert_eq!(page["start"].as_u64(), Some(start as u64));
        assert_eq!(page["total"].as_u64(), Some(MESSAGES as u64));
        assert_eq!(page["messages_count"].as_u64(), Some(MESSAGES as u64));
        let messages = page["messages"].as_array().unwrap();
        assert_eq!(messages.len(), PAGE, "page at start={start}");
        assert_eq!(page["count"].as_u64(), Some(PAGE as u64));
        for m in messages {
            assert_eq!(m["Subject"], "smtp-source load");
            assert_eq!(m["From"]["Address"], "load@example.test", "{m:#}");
            assert!(m["Size"].as_u64().unwrap() > 2048, "{m:#}");
            ids.insert(m["ID"].as_str().unwrap().to_string());
        }
    }
    assert_eq!(ids.len(), MESSAGES, "paging must visit every message exactly once");
    let past_end = server.get_json(&format!("/api/v1/messages?start={MESSAGES}&limit={PAGE}"));
    assert_eq!(past_end["messages"].as_array().unwrap().len(), 0);

    let id = ids.iter().next().unwrap();
    let env = server.envelope(id);
    assert_eq!(env["MailFrom"], "load@example.test", "{env:#}");
    assert_eq!(env["RcptTo"], serde_json::json!(["sink@example.test"]));
    assert_eq!(env["Helo"], "source.example.test");
    let raw = server.raw(id);
    assert!(raw.ends_with(b"\r\n"), "raw must end in CRLF");
    assert!(!raw.ends_with(b"\r\n.\r\n"), "the DATA terminator must not be stored");
}
