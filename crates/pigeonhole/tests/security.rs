//! End to end, the defences of SECURITY.md that a hostile web page, a hostile SMTP
//! client or a careless start-up could test: the real binary, raw HTTP and SMTP
//! bytes (so every header is exactly what an attacker would send), and after each
//! refused attempt a look at the store to prove nothing changed.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;

use common::{IO_TIMEOUT, Server, Smtp, simple_message};
use serde_json::Value;

/// An HTTP/1.1 answer: status, lower-cased head, body.
struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Answer {
    /// A JSON error answer with `status`; its message.
    fn error(&self, status: u16) -> String {
        assert_eq!(self.status, status, "{}{}", self.head, String::from_utf8_lossy(&self.body));
        assert!(self.head.contains("content-type: application/json"), "{}", self.head);
        let body: Value = serde_json::from_slice(&self.body).expect("a JSON error body");
        body["Error"].as_str().expect("{\"Error\": …}").to_string()
    }
}

/// `method path` with exactly these `headers` (Host included: none is added) and
/// `body`, over a fresh connection. The body is written from its own thread, so an
/// answer the server sends before reading all of it (413) is still read.
fn http(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Answer {
    let mut stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT).unwrap();
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let sending = thread::spawn(move || {
        let _ = writer.write_all(&body);
    });
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let _ = sending.join();
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").expect("an HTTP answer") + 4;
    let head = String::from_utf8_lossy(&answer[..split]).to_ascii_lowercase();
    let status = head[9..12].parse().unwrap();
    Answer { status, head, body: answer[split..].to_vec() }
}

/// The server's own Host value.
fn own(server: &Server) -> String {
    server.http.to_string()
}

/// One unread message, delivered over SMTP; its ID.
fn one_message(server: &Server) -> String {
    let mut smtp = Smtp::connect(server.smtp);
    smtp.ehlo("client.test");
    let reply = smtp.deliver(
        "a@example.test",
        &["b@example.test"],
        &simple_message("a@example.test", "b@example.test", "Keep me", "secret code 123456"),
    );
    assert!(reply.is(250), "{reply:?}");
    server.summary_by_subject("Keep me")["ID"].as_str().unwrap().to_string()
}

/// The store as a hostile request must leave it: the one message, still unread,
/// untagged; intake still running.
fn assert_unchanged(server: &Server, id: &str) {
    let list = server.list();
    assert_eq!(list["total"], 1, "{list:#}");
    let summary = &list["messages"][0];
    assert_eq!(summary["ID"], id);
    assert_eq!(summary["Read"], false, "{summary:#}");
    assert_eq!(summary["Tags"], serde_json::json!([]), "{summary:#}");
    assert_eq!(server.get_json("/api/v1/intake")["Paused"], false);
}

/// The writes a hostile page would try, as (method, path, JSON body).
fn writes(id: &str) -> Vec<(&'static str, String, String)> {
    vec![
        ("DELETE", "/api/v1/messages".into(), String::new()),
        ("DELETE", "/api/v1/messages".into(), format!(r#"{{"IDs":["{id}"]}}"#)),
        ("PUT", "/api/v1/messages".into(), r#"{"Read":true}"#.into()),
        ("PUT", "/api/v1/tags".into(), format!(r#"{{"IDs":["{id}"],"Tags":["pwned"]}}"#)),
        ("PUT", "/api/v1/intake".into(), r#"{"Paused":true}"#.into()),
        ("DELETE", "/api/v1/search?query=keep".into(), String::new()),
        (
            "POST",
            "/api/v1/send".into(),
            r#"{"From":{"Email":"x@evil.example"},"To":[{"Email":"y@example.test"}],"Subject":"injected"}"#.into(),
        ),
    ]
}

/// DNS rebinding: a page under its own name, resolved to 127.0.0.1, reaches the
/// API with that name in Host. Every request, read or write, is refused, and
/// nothing changes.
#[test]
fn a_foreign_host_is_refused_and_changes_nothing() {
    let server = Server::start();
    let id = one_message(&server);
    let port = server.http.port();
    for host in [format!("evil.example:{port}"), format!("127.0.0.1.evil.example:{port}"), "192.168.1.10".into()] {
        let host = host.as_str();
        for path in ["/", "/api/v1/messages", &format!("/api/v1/message/{id}/raw"), &format!("/view/{id}.txt")] {
            let refused = http(server.http, "GET", path, &[("Host", host)], Vec::new());
            assert!(refused.error(403).contains("is not allowed"), "GET {path} as {host}");
            assert!(!String::from_utf8_lossy(&refused.body).contains("123456"));
        }
        for (method, path, body) in writes(&id) {
            let headers = [("Host", host), ("Content-Type", "application/json"), ("Origin", &format!("http://{host}"))];
            http(server.http, method, &path, &headers, body.into_bytes()).error(403);
        }
    }
    assert_unchanged(&server, &id);
}

/// CSRF: a cross-site page posts with a foreign or `null` Origin (403), or as a
/// form or text body that needs no preflight, which an old browser might send with
/// no Origin at all (415). Nothing changes; then the same writes from the UI's own
/// origin with JSON succeed, so the refusals were not for some other reason.
#[test]
fn cross_site_writes_are_refused_and_change_nothing() {
    let server = Server::start();
    let id = one_message(&server);
    let host = own(&server);
    for (method, path, body) in writes(&id) {
        for origin in ["https://evil.example", "null", &format!("http://{host}.evil.example")] {
            let headers = [("Host", host.as_str()), ("Content-Type", "application/json"), ("Origin", origin)];
            let refused = http(server.http, method, &path, &headers, body.clone().into_bytes());
            assert!(refused.error(403).contains("origin"), "{method} {path} from {origin}");
        }
        for form in ["text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=b"]
        {
            let headers = [("Host", host.as_str()), ("Content-Type", form)];
            let refused = http(server.http, method, &path, &headers, body.clone().into_bytes());
            assert!(refused.error(415).contains("application/json"), "{method} {path} as {form}");
        }
    }
    // The import takes mail files, not JSON: still not from another site, nor as a form.
    let eml = simple_message("x@evil.example", "y@example.test", "imported", "x");
    let import = |headers: &[(&str, &str)]| http(server.http, "POST", "/api/v1/import", headers, eml.clone());
    import(&[("Host", &host), ("Content-Type", "message/rfc822"), ("Origin", "https://evil.example")]).error(403);
    import(&[("Host", &host), ("Content-Type", "text/plain")]).error(415);
    assert_unchanged(&server, &id);

    let origin = format!("http://{host}");
    for (method, path, body) in writes(&id).into_iter().rev() {
        let headers = [("Host", host.as_str()), ("Content-Type", "application/json"), ("Origin", origin.as_str())];
        let answer = http(server.http, method, &path, &headers, body.into_bytes());
        assert_eq!(answer.status, 200, "{method} {path}: {}", String::from_utf8_lossy(&answer.body));
    }
    assert_eq!(server.total(), 0);
}

/// Cross-site WebSocket hijacking: a page on another site (or a sandboxed frame,
/// Origin `null`) opening `/api/events` would read every new message live.
#[test]
fn cross_site_websockets_are_refused() {
    let server = Server::start();
    let host = own(&server);
    let upgrade = |origin: Option<&str>| {
        let mut headers = vec![
            ("Host", host.as_str()),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ];
        headers.extend(origin.map(|origin| ("Origin", origin)));
        // Connection: close is ours; the upgrade answer comes first and is all we read.
        let mut stream = TcpStream::connect_timeout(&server.http, IO_TIMEOUT).unwrap();
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        let mut request = String::from("GET /api/events HTTP/1.1\r\n");
        for (name, value) in &headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        stream.write_all(format!("{request}\r\n").as_bytes()).unwrap();
        let mut status = [0u8; 12];
        stream.read_exact(&mut status).unwrap();
        String::from_utf8_lossy(&status[9..12]).into_owned()
    };
    for origin in ["https://evil.example", "null", "http://localhost.evil.example"] {
        assert_eq!(upgrade(Some(origin)), "403", "{origin}");
    }
    assert_eq!(upgrade(Some(&format!("http://{host}"))), "101");
    assert_eq!(upgrade(None), "101");
}

/// `GET /api/v1/message/{ID}` marks the message read (as Mailpit's does), and any
/// web page can fire a GET blindly: `<img src="http://127.0.0.1:8025/api/v1/message/latest">`
/// carries no Origin. The browser's `Sec-Fetch-Site` tells: another site's request
/// (or another port's of this machine, `same-site`) gets the message but leaves it
/// unread; the UI's own (`same-origin`), a URL the user opened (`none`) and clients
/// that send no such header (curl) mark it read.
#[test]
fn a_cross_site_get_does_not_mark_a_message_read() {
    let server = Server::start();
    let id = one_message(&server);
    let host = own(&server);
    let open = |path: &str, site: Option<&str>| {
        let mut headers = vec![("Host", host.as_str())];
        headers.extend(site.map(|site| ("Sec-Fetch-Site", site)));
        let answer = http(server.http, "GET", path, &headers, Vec::new());
        assert_eq!(answer.status, 200, "{path} from {site:?}: {}", String::from_utf8_lossy(&answer.body));
        let message: Value = serde_json::from_slice(&answer.body).unwrap();
        assert_eq!(message["ID"], id.as_str());
    };
    for site in ["cross-site", "same-site", "Cross-Site"] {
        for path in [format!("/api/v1/message/{id}"), "/api/v1/message/latest".into()] {
            open(&path, Some(site));
            assert_unchanged(&server, &id);
        }
    }
    for site in [Some("same-origin"), Some("none"), None] {
        open(&format!("/api/v1/message/{id}"), site);
        assert_eq!(server.list()["messages"][0]["Read"], true, "opened from {site:?}");
        // Unread again for the next one.
        let unread = http(
            server.http,
            "PUT",
            "/api/v1/messages",
            &[("Host", host.as_str()), ("Content-Type", "application/json")],
            format!(r#"{{"IDs":["{id}"],"Read":false}}"#).into_bytes(),
        );
        assert_eq!(unread.status, 200);
        assert_unchanged(&server, &id);
    }
}

/// A body over the cap is refused with 413 and a JSON error, before it is read.
#[test]
fn oversized_bodies_get_413_with_a_json_error() {
    let server = Server::start();
    let host = own(&server);
    let big = format!(r#"{{"From":{{"Email":"a@example.test"}},"Text":"{}"}}"#, "x".repeat(11 << 20));
    let answer = http(
        server.http,
        "POST",
        "/api/v1/send",
        &[("Host", &host), ("Content-Type", "application/json")],
        big.into_bytes(),
    );
    assert!(answer.error(413).to_lowercase().contains("length limit"), "{}", String::from_utf8_lossy(&answer.body));
    assert_eq!(server.total(), 0);
}

/// The data folder (and any folder made on the way to it) is the owner's alone:
/// captured mail holds reset links and codes.
#[cfg(unix)]
#[test]
fn the_data_folder_is_created_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("new").join("data");
    let mut cmd = common::serve_command();
    cmd.args(common::port0_args(&data));
    let server = Server::launch(cmd, data.clone(), None);
    for folder in [&data, &tmp.path().join("new")] {
        let mode = std::fs::metadata(folder).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}: {mode:o}", folder.display());
    }
    drop(server);
}

/// MAIL FROM / RCPT TO carrying CR, LF, NUL or other control characters get 501
/// over a real connection, the session goes on, and what is stored has clean
/// addresses only.
#[test]
fn control_characters_in_envelope_addresses_get_501() {
    let server = Server::start();
    let mut smtp = Smtp::connect(server.smtp);
    smtp.ehlo("client.test");
    for line in [
        &b"MAIL FROM:<\"a\rBcc: x@evil.example\"@example.test>\r\n"[..],
        b"MAIL FROM:<\"a\0b\"@example.test>\r\n",
        b"MAIL FROM:<a\x1b[31m@example.test>\r\n",
        b"MAIL FROM:<a\x7f@example.test>\r\n",
    ] {
        smtp.send(line);
        let reply = smtp.reply();
        assert!(reply.is(501), "{:?} → {reply:?}", String::from_utf8_lossy(line));
    }
    smtp.expect("MAIL FROM:<a@example.test>", 250);
    for line in [&b"RCPT TO:<\"b\rX-Injected: 1\"@example.test>\r\n"[..], b"RCPT TO:<\"b\0\"@example.test>\r\n"] {
        smtp.send(line);
        assert!(smtp.reply().is(501));
    }
    smtp.expect("RCPT TO:<b@example.test>", 250);
    smtp.expect("DATA", 354);
    smtp.send(b"Subject: clean\r\n\r\nx\r\n.\r\n");
    assert!(smtp.reply().is(250));
    let id = server.summary_by_subject("clean")["ID"].as_str().unwrap().to_string();
    let envelope = server.envelope(&id);
    assert_eq!(envelope["MailFrom"], "a@example.test", "{envelope:#}");
    assert_eq!(envelope["RcptTo"], serde_json::json!(["b@example.test"]), "{envelope:#}");
}
