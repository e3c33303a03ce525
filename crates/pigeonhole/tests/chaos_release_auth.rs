//! Mailpit's chaos triggers, release (relay), basic auth and the provider keys
//! file, end to end: the real binary, real SMTP sessions and real HTTP requests;
//! release relays into a second real server.

mod common;

use std::time::{Duration, Instant};

use common::*;
use reqwest::Method;
use reqwest::blocking::Response;
use serde_json::{Value, json};

/// A request with a JSON body; the answer's status and text.
fn call(server: &Server, method: Method, path: &str, body: Value) -> (u16, String) {
    let answer = server.client().request(method, server.url(path)).json(&body).send().unwrap();
    (answer.status().as_u16(), answer.text().unwrap())
}

fn error_text(body: &str) -> String {
    let json: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    json["Error"].as_str().unwrap_or_else(|| panic!("no Error in {body}")).to_string()
}

#[test]
fn chaos_triggers_set_through_the_api_fail_smtp() {
    let server = Server::start_with(&["--enable-chaos"]);
    assert_eq!(server.get_json("/api/v1/webui")["ChaosEnabled"], true);
    let defaults = json!({
        "Sender": {"ErrorCode": 451, "Probability": 0},
        "Recipient": {"ErrorCode": 451, "Probability": 0},
        "Authentication": {"ErrorCode": 535, "Probability": 0},
    });
    assert_eq!(server.get_json("/api/v1/chaos"), defaults);

    // Keys in any case, as Go reads them; the triggers left out are reset.
    let (status, body) =
        call(&server, Method::PUT, "/api/v1/chaos", json!({"sender": {"errorcode": 452, "PROBABILITY": 100}}));
    assert_eq!(status, 200, "{body}");
    let set = json!({
        "Sender": {"ErrorCode": 452, "Probability": 100},
        "Recipient": {"ErrorCode": 451, "Probability": 0},
        "Authentication": {"ErrorCode": 535, "Probability": 0},
    });
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), set);
    assert_eq!(server.get_json("/api/v1/chaos"), set);

    let mut smtp = Smtp::connect(server.smtp);
    smtp.ehlo("client.test");
    let refused = smtp.cmd("MAIL FROM:<a@example.test>");
    assert_eq!((refused.code, refused.text.as_str()), (452, "Chaos sender error"));

    let (status, _) =
        call(&server, Method::PUT, "/api/v1/chaos", json!({"Recipient": {"ErrorCode": 550, "Probability": 100}}));
    assert_eq!(status, 200);
    smtp.expect("MAIL FROM:<a@example.test>", 250);
    let refused = smtp.cmd("RCPT TO:<b@example.test>");
    assert_eq!((refused.code, refused.text.as_str()), (550, "Chaos recipient error"));

    let (status, body) = call(&server, Method::PUT, "/api/v1/chaos", json!({}));
    assert_eq!((status, serde_json::from_str::<Value>(&body).unwrap()), (200, defaults));
    smtp.expect("RCPT TO:<b@example.test>", 250);
    smtp.quit();

    // Mailpit's validation texts; a refused change leaves the triggers as they were.
    for (body, text) in [
        (json!({"Sender": {"ErrorCode": 200, "Probability": 5}}), "error code must be between 400 and 599"),
        (json!({"Recipient": {"ErrorCode": 451, "Probability": 101}}), "probability must be between 0 and 100"),
    ] {
        let (status, answer) = call(&server, Method::PUT, "/api/v1/chaos", body);
        assert_eq!((status, error_text(&answer)), (400, text.to_string()));
    }
    assert_eq!(server.get_json("/api/v1/chaos")["Sender"]["Probability"], 0);
}

#[test]
fn chaos_is_refused_unless_enabled() {
    let server = Server::start();
    assert_eq!(server.get_json("/api/v1/webui")["ChaosEnabled"], false);
    let answer = server.get("/api/v1/chaos");
    assert_eq!(answer.status(), 400);
    assert!(error_text(&answer.text().unwrap()).starts_with("Chaos is not enabled"));
    let (status, body) = call(&server, Method::PUT, "/api/v1/chaos", json!({}));
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("--enable-chaos"));
}

#[test]
fn chaos_triggers_from_the_command_line() {
    let server = Server::start_with(&["--chaos-triggers", "Recipient:550:100"]);
    assert_eq!(server.get_json("/api/v1/chaos")["Recipient"], json!({"ErrorCode": 550, "Probability": 100}));
    let mut smtp = Smtp::connect(server.smtp);
    smtp.ehlo("client.test");
    smtp.expect("MAIL FROM:<a@example.test>", 250);
    let refused = smtp.cmd("RCPT TO:<b@example.test>");
    assert_eq!((refused.code, refused.text.as_str()), (550, "Chaos recipient error"));
    smtp.quit();

    let dir = tempfile::tempdir().unwrap();
    let mut cmd = serve_command();
    cmd.args(port0_args(dir.path())).args(["--chaos-triggers", "Sender:200:5"]);
    let refused = run_to_exit(cmd, STARTUP_TIMEOUT);
    assert!(!refused.status.success());
    assert!(refused.stderr.contains("error code must be between 400 and 599"), "{}", refused.stderr);
}

/// Waits until `server` holds `count` messages.
fn wait_for_total(server: &Server, count: u64) {
    let deadline = Instant::now() + IO_TIMEOUT;
    while server.total() < count {
        assert!(Instant::now() < deadline, "{count} message(s) did not arrive");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn release_relays_through_the_configured_server() {
    let target = Server::start();
    let port = target.smtp.port().to_string();
    let source = Server::start_with(&[
        "--smtp-relay-host",
        "127.0.0.1",
        "--smtp-relay-port",
        &port,
        "--smtp-relay-return-path",
        "bounce@example.test",
        "--smtp-relay-allowed-recipients",
        r"@example\.test$",
        "--smtp-relay-blocked-recipients",
        r"^boss@",
    ]);
    let relay = &source.get_json("/api/v1/webui")["MessageRelay"];
    assert_eq!(
        *relay,
        json!({
            "Enabled": true,
            "SMTPServer": format!("127.0.0.1:{port}"),
            "ReturnPath": "bounce@example.test",
            "AllowedRecipients": r"@example\.test$",
            "BlockedRecipients": "^boss@",
            "OverrideFrom": "",
            "PreserveMessageIDs": false,
            "RecipientAllowlist": r"@example\.test$",
        })
    );

    let original = b"From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nBcc: secret@example.test\r\n\
        Message-ID: <original@example.test>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nSubject: to release\r\n\r\n\
        The body, unchanged.\r\n";
    let id = send_one(source.smtp, "alice@example.test", "bob@example.test", original);

    let (status, body) = call(
        &source,
        Method::POST,
        &format!("/api/v1/message/{id}/release"),
        json!({"to": ["Friend <friend@example.test>"]}),
    );
    assert_eq!((status, body.as_str()), (200, "ok"));
    wait_for_total(&target, 1);
    let released_id = target.list()["messages"][0]["ID"].as_str().unwrap().to_string();
    let raw = String::from_utf8(target.raw(&released_id)).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    assert_eq!(body, "The body, unchanged.\r\n");
    let head = format!("{head}\r\n");
    assert!(head.contains("Return-Path: <bounce@example.test>\r\n"), "{head}");
    assert!(head.contains("From: Alice <alice@example.test>\r\n"), "{head}");
    assert!(head.contains("Subject: to release\r\n"), "{head}");
    assert!(!head.contains("Bcc") && !head.contains("secret@"), "Bcc removed: {head}");
    assert!(!head.contains("original@example.test") && head.contains("@pigeonhole>"), "new Message-Id: {head}");
    assert!(!head.contains("2024"), "new Date: {head}");
    let envelope = target.envelope(&released_id);
    assert_eq!(envelope["MailFrom"], "bounce@example.test");
    assert_eq!(envelope["RcptTo"], json!(["friend@example.test"]));

    // Mailpit's refusals: nothing is sent.
    for (to, text) in [
        (json!(["x@other.test"]), "Failed: Address do not match the allowlist: x@other.test"),
        (json!(["boss@example.test", "a@example.test"]), "Failed: Address found on blocklist: boss@example.test"),
        (json!(["not an address"]), "Invalid email address: not an address"),
        (json!([]), "No valid addresses found"),
    ] {
        let (status, body) = call(&source, Method::POST, &format!("/api/v1/message/{id}/release"), json!({"To": to}));
        assert_eq!((status, error_text(&body)), (400, text.to_string()));
    }
    let (status, _) =
        call(&source, Method::POST, "/api/v1/message/NoSuchMessage/release", json!({"To": ["a@example.test"]}));
    assert_eq!(status, 404);
    assert_eq!(target.total(), 1);

    // Without a relay, release is off and says how to turn it on.
    let (status, body) =
        call(&target, Method::POST, "/api/v1/message/latest/release", json!({"To": ["a@example.test"]}));
    assert_eq!(status, 400);
    assert!(error_text(&body).contains("--smtp-relay-host"), "{body}");
    assert_eq!(target.get_json("/api/v1/webui")["MessageRelay"]["Enabled"], false);
}

fn get_as(server: &Server, path: &str, credentials: Option<(&str, &str)>) -> Response {
    let mut request = server.client().get(server.url(path));
    if let Some((user, password)) = credentials {
        request = request.basic_auth(user, Some(password));
    }
    request.send().unwrap()
}

#[test]
fn basic_auth_guards_the_ui_the_api_and_the_event_stream() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("htpasswd");
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    std::fs::write(&file, format!("# who may look\nalice:{hash}\nbob:plain-password\n")).unwrap();
    let server = Server::start_with(&["--ui-auth-file", file.to_str().unwrap()]);

    for (path, credentials) in [
        ("/api/v1/messages", None),
        ("/api/v1/messages", Some(("alice", "wrong"))),
        ("/api/v1/messages", Some(("carol", "s3cret"))),
        ("/api/v1/info", Some(("bob", "s3cret"))),
        ("/api/v1/openapi.json", None),
    ] {
        let answer = get_as(&server, path, credentials);
        assert_eq!(answer.status(), 401, "{path} {credentials:?}");
        assert_eq!(answer.headers()["www-authenticate"], "Basic realm=\"Login\"");
        assert!(error_text(&answer.text().unwrap()).starts_with("Unauthorized"));
    }
    let page = get_as(&server, "/", None);
    assert_eq!(page.status(), 401);
    assert_eq!(page.headers()["www-authenticate"], "Basic realm=\"Login\"");
    assert_eq!(page.text().unwrap(), "Unauthorized.");

    assert_eq!(get_as(&server, "/api/v1/messages", Some(("alice", "s3cret"))).status(), 200);
    assert_eq!(get_as(&server, "/api/v1/messages", Some(("alice", "s3cret"))).status(), 200, "remembered");
    assert_eq!(get_as(&server, "/api/v1/info", Some(("bob", "plain-password"))).status(), 200);
    assert_eq!(get_as(&server, "/api/v1/openapi.json", Some(("bob", "plain-password"))).status(), 200);
    assert_eq!(get_as(&server, "/", Some(("alice", "s3cret"))).status(), 200);
    assert_eq!(get_as(&server, "/livez", None).status(), 200, "health checks stay open");
    assert_eq!(get_as(&server, "/readyz", None).status(), 200, "health checks stay open");

    // The send API stores the user as the message's Username, as Mailpit does.
    let sent = server
        .client()
        .post(server.url("/api/v1/send"))
        .basic_auth("bob", Some("plain-password"))
        .json(&json!({"From": {"Email": "app@example.test"}, "To": [{"Email": "b@example.test"}], "Subject": "as bob"}))
        .send()
        .unwrap();
    assert_eq!(sent.status(), 200);
    let list = get_as(&server, "/api/v1/messages", Some(("bob", "plain-password"))).json::<Value>().unwrap();
    assert_eq!(list["messages"][0]["Username"], "bob");

    // The WebSocket: refused without credentials, opened (first frame: stats) with them.
    let url = format!("ws://{}/api/events", server.http);
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        use futures_util::StreamExt;
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        use tokio_tungstenite::tungstenite::{Error, Message};

        match tokio_tungstenite::connect_async(url.as_str()).await {
            Err(Error::Http(response)) => assert_eq!(response.status(), 401),
            other => panic!("expected 401, got {other:?}"),
        }
        let mut request = url.as_str().into_client_request().unwrap();
        let token = base64_basic("alice", "s3cret");
        request.headers_mut().insert("authorization", format!("Basic {token}").parse().unwrap());
        let (mut stream, _) = tokio_tungstenite::connect_async(request).await.expect("authorized WebSocket");
        let first = tokio::time::timeout(IO_TIMEOUT, stream.next()).await.unwrap().unwrap().unwrap();
        let Message::Text(text) = first else { panic!("expected a text frame, got {first:?}") };
        assert!(text.contains("\"stats\""), "{text}");
    });
}

fn base64_basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

#[test]
fn http_off_loopback_needs_a_password_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = serve_command();
    cmd.args(["--smtp", "127.0.0.1:0", "--http", "0.0.0.0:0", "--data"]).arg(dir.path());
    let refused = run_to_exit(cmd, STARTUP_TIMEOUT);
    assert!(!refused.status.success());
    assert!(refused.stderr.contains("0.0.0.0:0 can be reached from other machines"), "{}", refused.stderr);
    assert!(refused.stderr.contains("--ui-auth-file") && refused.stderr.contains("--http-allow-unauthenticated"));
    assert!(refused.stdout.is_empty(), "nothing was started: {}", refused.stdout);

    // With a password file it serves, under whatever name the machine is reached by.
    let file = dir.path().join("htpasswd");
    std::fs::write(&file, "alice:plain-password\n").unwrap();
    let data = dir.path().join("data");
    let mut cmd = serve_command();
    cmd.args(["--smtp", "127.0.0.1:0", "--http", "0.0.0.0:0", "--ui-auth-file"]).arg(&file).arg("--data").arg(&data);
    let server = Server::launch(cmd, data, None);
    let url = format!("http://127.0.0.1:{}/api/v1/messages", server.http.port());
    let get = |credentials: Option<(&str, &str)>| {
        let mut request = server.client().get(&url).header("host", format!("workstation.lan:{}", server.http.port()));
        if let Some((user, password)) = credentials {
            request = request.basic_auth(user, Some(password));
        }
        request.send().unwrap().status().as_u16()
    };
    assert_eq!(get(Some(("alice", "plain-password"))), 200);
    assert_eq!(get(None), 401);
    drop(server);

    let file = dir.path().join("empty-htpasswd");
    std::fs::write(&file, "# nobody\n").unwrap();
    let mut cmd = serve_command();
    cmd.args(["--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0", "--ui-auth-file"])
        .arg(&file)
        .arg("--data")
        .arg(dir.path());
    let refused = run_to_exit(cmd, STARTUP_TIMEOUT);
    assert!(!refused.status.success());
    assert!(refused.stderr.contains("lists no users"), "{}", refused.stderr);
}

#[test]
fn a_bad_provider_keys_file_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("keys.toml");
    std::fs::write(&file, "[[key]]\nprovider = \"sendmail\"\nkey = \"x\"\n").unwrap();
    let mut cmd = serve_command();
    cmd.args(["--smtp", "127.0.0.1:0", "--http", "127.0.0.1:0", "--provider-keys"])
        .arg(&file)
        .arg("--data")
        .arg(dir.path().join("data"));
    let refused = run_to_exit(cmd, STARTUP_TIMEOUT);
    assert!(!refused.status.success());
    assert!(refused.stderr.contains("cannot use the provider keys file"), "{}", refused.stderr);
    assert!(refused.stderr.contains("unknown variant `sendmail`"), "{}", refused.stderr);
    assert!(refused.stdout.is_empty(), "nothing was started: {}", refused.stdout);
}
