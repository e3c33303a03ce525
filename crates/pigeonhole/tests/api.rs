//! The REST API and the WebSocket event stream, fed by real SMTP deliveries.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::*;
use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

fn ids(v: &Value) -> BTreeSet<String> {
    v["messages"].as_array().unwrap().iter().map(|m| m["ID"].as_str().unwrap().to_string()).collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

fn with_attachment(from: &str, to: &str, subject: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nsee the report\r\n\
         --b1\r\nContent-Type: text/plain; name=\"report.txt\"\r\n\
         Content-Disposition: attachment; filename=\"report.txt\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\ncmVwb3J0IGJvZHkK\r\n--b1--\r\n"
    )
    .into_bytes()
}

#[test]
fn rest_api_shapes_and_mutations() {
    let server = Server::start();
    let first = simple_message("Alice <alice@example.test>", "bob@example.test", "first one", "first body");
    let second = simple_message("carol@example.test", "Dave <dave@example.test>", "second one", "second body");
    let id1 = send_one(server.smtp, "alice@example.test", "bob@example.test", &first);
    let id2 = send_one(server.smtp, "carol@example.test", "dave@example.test", &second);

    let list = server.get_json("/api/v1/messages");
    let keys: BTreeSet<&str> = list.as_object().unwrap().keys().map(String::as_str).collect();
    let want: BTreeSet<&str> =
        ["total", "unread", "count", "messages_count", "messages_unread", "start", "tags", "messages"].into();
    assert_eq!(keys, want, "list envelope keys");
    assert_eq!(list["total"], 2);
    assert_eq!(list["unread"], 2);
    assert_eq!(list["count"], 2);
    let messages = list["messages"].as_array().unwrap();
    assert_eq!(messages[0]["ID"], id2.as_str(), "newest first");
    assert_eq!(messages[1]["ID"], id1.as_str());
    let s = &messages[1];
    for key in [
        "ID",
        "MessageID",
        "Read",
        "From",
        "To",
        "Cc",
        "Bcc",
        "ReplyTo",
        "Subject",
        "Created",
        "Username",
        "Tags",
        "Size",
        "Attachments",
        "Snippet",
    ] {
        assert!(s.get(key).is_some(), "summary lacks {key}: {s:#}");
    }
    assert_eq!(s["From"], json!({"Name": "Alice", "Address": "alice@example.test"}));
    assert_eq!(s["To"], json!([{"Name": "", "Address": "bob@example.test"}]));
    assert_eq!(s["Cc"], json!([]));
    assert_eq!(s["Read"], false);
    assert_eq!(s["Size"].as_u64(), Some(first.len() as u64));
    assert!(s["Snippet"].as_str().unwrap().contains("first body"), "{s:#}");

    let full = server.message(&id1);
    assert_eq!(full["ID"], id1.as_str());
    assert_eq!(full["Subject"], "first one");
    assert!(full["Text"].as_str().unwrap().contains("first body"), "{full:#}");
    assert_eq!(server.message("latest")["ID"], id2.as_str());

    let r = server.get(&format!("/api/v1/message/{id1}/raw?dl=1"));
    assert_eq!(r.status(), 200);
    let cd = r.headers().get("content-disposition").expect("Content-Disposition").to_str().unwrap().to_string();
    assert!(cd.starts_with("attachment") && cd.contains(&format!("{id1}.eml")), "{cd}");
    assert_same_bytes(&first, &r.bytes().unwrap(), "raw download");

    let headers = server.get_json(&format!("/api/v1/message/{id1}/headers"));
    assert_eq!(headers["Subject"], json!(["first one"]), "{headers:#}");

    for path in ["", "/raw", "/headers", "/envelope"] {
        let r = server.get(&format!("/api/v1/message/NoSuchMessageId123456{path}"));
        assert_eq!(r.status(), 404, "unknown ID on {path:?}");
        // Errors are JSON carrying a message, never a bare status or a stack trace.
        let body: Value = r.json().unwrap_or_else(|e| panic!("404 on {path:?} is not JSON: {e}"));
        let texts: Vec<&str> = body.as_object().expect("error object").values().filter_map(Value::as_str).collect();
        assert!(texts.iter().any(|t| !t.is_empty()), "404 on {path:?} has no message: {body}");
    }

    // Read state. As in Mailpit, fetching a message marked both read.
    let read_flags = || -> (Value, Vec<bool>) {
        let list = server.list();
        let flags = list["messages"].as_array().unwrap().iter().map(|m| m["Read"].as_bool().unwrap()).collect();
        (list["unread"].clone(), flags)
    };
    assert_eq!(read_flags(), (json!(0), vec![true, true]));
    server.mutate(Method::PUT, "/api/v1/messages", Some(json!({"IDs": [id2], "Read": false})));
    assert_eq!(read_flags(), (json!(1), vec![false, true]));

    // Delete one, then everything.
    server.mutate(Method::DELETE, "/api/v1/messages", Some(json!({"IDs": [id1]})));
    assert_eq!(server.total(), 1);
    assert_eq!(server.get(&format!("/api/v1/message/{id1}")).status(), 404);
    server.mutate(Method::DELETE, "/api/v1/messages", None);
    assert_eq!(server.total(), 0);
    assert_eq!(server.get("/api/v1/message/latest").status(), 404);
}

#[test]
fn search_filters() {
    let server = Server::start();
    let a = send_one(
        server.smtp,
        "alice@example.test",
        "ops@example.test",
        &simple_message("alice@example.test", "ops@example.test", "Invoice 42", "please pay the kraken"),
    );
    let b = send_one(
        server.smtp,
        "bob@example.test",
        "ops@example.test",
        &with_attachment("bob@example.test", "ops@example.test", "Hello"),
    );
    let c = send_one(
        server.smtp,
        "carol@example.test",
        "sales@example.test",
        &simple_message("carol@example.test", "sales@example.test", "Invoice 43", "nothing to see"),
    );
    assert_eq!(server.summary_by_subject("Hello")["Attachments"], 1);

    let search = |q: &str| {
        let r = server.client().get(server.url("/api/v1/search")).query(&[("query", q)]).send().unwrap();
        assert_eq!(r.status(), 200, "search {q:?}");
        let v: Value = r.json().unwrap();
        assert_eq!(v["total"], 3, "{q}: total is the whole mailbox");
        assert_eq!(v["messages_count"].as_u64(), Some(ids(&v).len() as u64), "{q}: messages_count");
        ids(&v)
    };
    assert_eq!(search("kraken"), set(&[&a]));
    assert_eq!(search("subject:invoice"), set(&[&a, &c]));
    assert_eq!(search("from:bob"), set(&[&b]));
    assert_eq!(search("to:sales"), set(&[&c]));
    assert_eq!(search("subject:invoice from:carol"), set(&[&c]));
    assert_eq!(search("has:attachment"), set(&[&b]));
    assert_eq!(search("after:2000-01-01"), set(&[&a, &b, &c]));
    assert_eq!(search("before:2000-01-01"), set(&[]));

    server.mutate(Method::PUT, "/api/v1/messages", Some(json!({"IDs": [a], "Read": true})));
    assert_eq!(search("is:read"), set(&[&a]));
    assert_eq!(search("is:unread"), set(&[&b, &c]));
}

/// Next event of `kind` on the stream (skipping others, e.g. `stats`), within 15 s.
async fn next_event<S>(ws: &mut S, kind: &str) -> Value
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    next_event_where(ws, kind, |_| true).await
}

/// Next event of `kind` whose Data satisfies `pred`, within 15 s.
async fn next_event_where<S>(ws: &mut S, kind: &str, pred: impl Fn(&Value) -> bool) -> Value
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let frame = tokio::time::timeout(left, ws.next())
            .await
            .unwrap_or_else(|_| panic!("no {kind:?} event within 15 s; saw {seen:?}"))
            .expect("event stream ended")
            .expect("websocket error");
        if let Message::Text(text) = frame {
            let event: Value = serde_json::from_str(text.as_str()).expect("event is JSON");
            if event["Type"] == kind && pred(&event["Data"]) {
                return event["Data"].clone();
            }
            seen.push(event);
        }
    }
}

#[test]
fn websocket_events_follow_changes() {
    let server = Server::start();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (mut ws, _) = rt
        .block_on(tokio_tungstenite::connect_async(format!("ws://{}/api/events", server.http)))
        .expect("websocket handshake on /api/events");

    let msg = simple_message("ws@example.test", "r@example.test", "websocket new", "hi");
    let id = send_one(server.smtp, "ws@example.test", "r@example.test", &msg);
    let new = rt.block_on(next_event(&mut ws, "new"));
    assert_eq!(new["ID"], id.as_str(), "{new:#}");
    assert_eq!(new["Subject"], "websocket new");
    assert_eq!(new["From"]["Address"], "ws@example.test");
    assert_eq!(new["Size"].as_u64(), Some(msg.len() as u64));
    assert_eq!(new, server.list()["messages"][0], "the `new` payload is the list's summary");
    let stats = rt.block_on(next_event_where(&mut ws, "stats", |d| d["Total"] == 1));
    assert_eq!(stats["Unread"], 1, "{stats:#}");

    server.mutate(Method::PUT, "/api/v1/messages", Some(json!({"IDs": [id], "Read": true})));
    assert_eq!(rt.block_on(next_event(&mut ws, "update")), json!({"ID": id, "Read": true}));

    server.mutate(Method::DELETE, "/api/v1/messages", Some(json!({"IDs": [id]})));
    assert_eq!(rt.block_on(next_event(&mut ws, "delete")), json!({"ID": id}));

    send_one(server.smtp, "ws@example.test", "r@example.test", &msg);
    rt.block_on(next_event(&mut ws, "new"));
    server.mutate(Method::DELETE, "/api/v1/messages", None);
    assert_eq!(rt.block_on(next_event(&mut ws, "truncate")), Value::Null);
}

#[test]
fn retention_keeps_the_newest_messages() {
    let server = Server::start_with(&["--max-messages", "5"]);
    let mut smtp = Smtp::connect(server.smtp);
    smtp.ehlo("retention.example.test");
    for i in 0..8 {
        let msg = simple_message("k@example.test", "r@example.test", &format!("keep {i}"), "x");
        queued_id(&smtp.deliver("k@example.test", &["r@example.test"], &msg));
    }
    smtp.quit();
    // Pruning is the writer's job and may trail the last 250 a little.
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.total() != 5 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let subjects: Vec<String> = server.list()["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Subject"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(subjects, ["keep 7", "keep 6", "keep 5", "keep 4", "keep 3"]);
}

/// `GET /api/v1/wait` from a thread of its own: the status, the body, and when the
/// answer had arrived in full.
fn start_waiter(server: &Server, path: String) -> std::thread::JoinHandle<(u16, Value, Instant)> {
    let client = server.client().clone();
    let url = server.url(&path);
    std::thread::spawn(move || {
        let response = client.get(url).send().unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = response.status().as_u16();
        let body = response.text().unwrap();
        let arrived = Instant::now();
        (status, serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {body}")), arrived)
    })
}

#[test]
fn wait_returns_a_new_message_within_50ms_of_its_250() {
    let server = Server::start();
    let mut smtp = Smtp::connect(server.smtp);
    smtp.ehlo("waiter.example.test");
    // Idle waiters for mail that never comes, all through the rounds.
    let idle: Vec<_> = (0..20)
        .map(|n| start_waiter(&server, format!("/api/v1/wait?query=to:nobody{n}@example.test&timeout=3s")))
        .collect();
    let mut latencies = Vec::new();
    for round in 0..5 {
        let to = format!("bob{round}@example.test");
        let waiter = start_waiter(&server, format!("/api/v1/wait?query=to:{to}&timeout=10s"));
        // Time for the waiter to be waiting (without a cursor, only later mail counts).
        std::thread::sleep(Duration::from_millis(300));

        let noise = simple_message("a@example.test", "carol@example.test", "not for bob", "x");
        queued_id(&smtp.deliver("a@example.test", &["carol@example.test"], &noise));
        let msg = simple_message("a@example.test", &to, &format!("for bob, round {round}"), "x");
        let reply = smtp.deliver("a@example.test", &[&to], &msg);
        let replied = Instant::now();
        let id = queued_id(&reply);

        let (status, summary, arrived) = waiter.join().unwrap();
        assert_eq!(status, 200, "{summary}");
        assert_eq!(summary["ID"], id.as_str(), "{summary}");
        assert_eq!(summary["Subject"], format!("for bob, round {round}"));
        assert_eq!(summary, server.summary_by_subject(&format!("for bob, round {round}")), "the list's summary");
        latencies.push(arrived.saturating_duration_since(replied));
    }
    smtp.quit();
    for waiter in idle {
        let (status, body, _) = waiter.join().unwrap();
        assert_eq!(status, 408, "{body}");
        assert_eq!(body, json!({"Error": "no message matching the query arrived within 3s"}));
    }
    eprintln!("wait latency after the 250, per round: {latencies:?}");
    for latency in &latencies {
        assert!(*latency < Duration::from_millis(50), "a waiter answered {latency:?} after the 250: {latencies:?}");
    }

    // A cursor: the first match stored after it answers at once, even if its page moved on.
    let first = server.list()["messages"].as_array().unwrap().last().unwrap()["ID"].as_str().unwrap().to_string();
    let next = start_waiter(&server, format!("/api/v1/wait?after={first}&query=to:bob&timeout=0")).join().unwrap();
    assert_eq!((next.0, next.1["To"][0]["Address"].clone()), (200, json!("bob0@example.test")));
    let bad = start_waiter(&server, "/api/v1/wait?timeout=forever".to_string()).join().unwrap();
    assert_eq!(bad.0, 400, "{}", bad.1);
}

#[test]
fn info_counts_what_smtp_accepted_and_what_was_deleted() {
    let server = Server::start();
    let messages: Vec<Vec<u8>> = (0..3)
        .map(|i| simple_message("a@example.test", "b@example.test", &format!("info {i}"), &"x".repeat(100 * i)))
        .collect();
    let ids: Vec<String> =
        messages.iter().map(|m| send_one(server.smtp, "a@example.test", "b@example.test", m)).collect();
    server.mutate(Method::DELETE, "/api/v1/messages", Some(json!({"IDs": [ids[0]]})));

    let info = server.get_json("/api/v1/info");
    let stats = &info["RuntimeStats"];
    assert_eq!(stats["SMTPAccepted"], 3, "{info}");
    let sent_bytes: usize = messages.iter().map(Vec::len).sum();
    assert_eq!(stats["SMTPAcceptedSize"], sent_bytes as u64, "{info}");
    assert_eq!(stats["SMTPRejected"], 0, "{info}");
    assert_eq!(stats["MessagesDeleted"], 1, "{info}");
    assert_eq!(info["Messages"], 2, "{info}");
}
