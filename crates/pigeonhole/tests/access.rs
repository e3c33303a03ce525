//! Per-inbox access on a team server, end to end: the real binary with a users
//! file whose lines limit users to inboxes (`user:password:inbox-a,inbox-b`), an
//! API token made by `pigeonhole token new --inboxes`, mail over SMTP to three
//! inboxes; every route family as a limited principal sees it, the event stream,
//! and IMAP and POP3 through Python's imaplib and poplib.

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::*;
use futures_util::StreamExt as _;
use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

/// alice sees team-a; bob team-b and the default inbox; admin every inbox.
const USERS: &str = "alice:pw-a:team-a\nbob:pw-b:team-b,default\nadmin:pw-admin\n";

/// How a request authenticates.
#[derive(Clone, Copy)]
enum As<'a> {
    User(&'a str, &'a str),
    Token(&'a str),
    Nobody,
}

struct Team {
    server: Server,
    token: String,
    _dir: tempfile::TempDir,
}

impl Team {
    fn start() -> Team {
        let dir = tempfile::tempdir().unwrap();
        let users = dir.path().join("users");
        std::fs::write(&users, USERS).unwrap();
        let made = Command::new(BIN).args(["token", "new", "ci", "--inboxes", "team-b"]).output().unwrap();
        assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
        let token = String::from_utf8(made.stdout).unwrap().trim().to_owned();
        let line = String::from_utf8(made.stderr).unwrap().lines().last().unwrap().to_owned();
        assert!(token.starts_with("ph_") && line.starts_with("ci:") && line.ends_with(":team-b"), "{token} {line}");
        let tokens = dir.path().join("tokens");
        std::fs::write(&tokens, format!("# CI\n{line}\n")).unwrap();
        let users = users.to_str().unwrap();
        let server = Server::start_with(&[
            "--ui-auth-file",
            users,
            "--api-tokens-file",
            tokens.to_str().unwrap(),
            "--imap",
            "127.0.0.1:0",
            "--imap-auth-file",
            users,
            "--pop3",
            "127.0.0.1:0",
            "--pop3-auth-file",
            users,
        ]);
        Team { server, token, _dir: dir }
    }

    fn request(&self, who: As<'_>, method: Method, path: &str) -> reqwest::blocking::RequestBuilder {
        let request = self.server.client().request(method, self.server.url(path));
        match who {
            As::User(user, password) => request.basic_auth(user, Some(password)),
            As::Token(token) => request.bearer_auth(token),
            As::Nobody => request,
        }
    }

    /// Status and body of a request with an optional JSON body.
    fn call(&self, who: As<'_>, method: Method, path: &str, body: Option<Value>) -> (u16, String) {
        let mut request = self.request(who, method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer = request.send().unwrap();
        (answer.status().as_u16(), answer.text().unwrap())
    }

    fn json(&self, who: As<'_>, path: &str) -> Value {
        let (status, body) = self.call(who, Method::GET, path, None);
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// Mail over SMTP into `inbox` (SMTP AUTH as its name; none: the default inbox).
    fn deliver(&self, inbox: Option<&str>, subject: &str, tags: &str) -> String {
        let mut smtp = Smtp::connect(self.server.smtp);
        smtp.ehlo("client.example.test");
        if let Some(user) = inbox {
            let plain = base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0secret"));
            smtp.expect(&format!("AUTH PLAIN {plain}"), 235);
        }
        let message = format!(
            "From: app@example.test\r\nTo: rcpt@example.test\r\nSubject: {subject}\r\nX-Tags: {tags}\r\n\
             Content-Type: text/html\r\n\r\n<p>Your code is 123456 <a href=\"https://example.test/{subject}\">go</a></p>\r\n"
        );
        let reply = smtp.deliver("app@example.test", &["rcpt@example.test"], message.as_bytes());
        smtp.quit();
        queued_id(&reply)
    }
}

fn ids(page: &Value) -> BTreeSet<String> {
    page["messages"].as_array().unwrap().iter().map(|m| m["ID"].as_str().unwrap().to_owned()).collect()
}

fn set(ids: &[&String]) -> BTreeSet<String> {
    ids.iter().map(|id| id.to_string()).collect()
}

/// An ID of the right shape that names no message.
const MISSING: &str = "0000000000AAAAAAAAAAAA";

#[test]
fn a_limited_principal_sees_only_its_inboxes_everywhere() {
    let team = Team::start();
    let alice = As::User("alice", "pw-a");
    let admin = As::User("admin", "pw-admin");
    let ci = As::Token(&team.token);
    let d1 = team.deliver(None, "default-one", "plain");
    let b1 = team.deliver(Some("team-b"), "b-one", "secret-b");
    let a1 = team.deliver(Some("team-a"), "a-one", "secret-a");
    let a2 = team.deliver(Some("team-a"), "a-two", "secret-a");
    let b2 = team.deliver(Some("team-b"), "b-two", "secret-b");

    // Lists, searches and their totals: only the principal's inboxes.
    let page = team.json(alice, "/api/v1/messages");
    assert_eq!(ids(&page), set(&[&a1, &a2]));
    assert_eq!((page["total"].as_u64(), page["unread"].as_u64()), (Some(2), Some(2)), "{page:#}");
    assert_eq!(page["messages_count"], 2);
    assert_eq!(page["tags"], json!(["secret-a"]), "no foreign tag names");
    let search = team.json(alice, "/api/v1/search?query=subject%3Aone");
    assert_eq!(ids(&search), set(&[&a1]));
    assert_eq!((search["total"].as_u64(), search["messages_count"].as_u64()), (Some(2), Some(1)));
    assert_eq!(team.json(alice, "/api/v1/inboxes"), json!([{"Name": "team-a", "Total": 2, "Unread": 2}]));
    assert_eq!(team.json(alice, "/api/v1/tags"), json!(["secret-a"]));
    let info = team.json(alice, "/api/v1/info");
    assert_eq!((info["Messages"].as_u64(), info["Unread"].as_u64()), (Some(2), Some(2)), "{info:#}");
    assert_eq!(info["Tags"], json!({"secret-a": 2}));
    assert_eq!(team.json(admin, "/api/v1/info")["Messages"], 5);
    let mailhog = team.json(alice, "/api/v2/messages");
    assert_eq!(mailhog["total"], 2);
    let mailhog_search = team.json(alice, "/api/v2/search?kind=containing&query=b-one");
    assert_eq!(mailhog_search["count"], 0, "{mailhog_search:#}");
    let token_page = team.json(ci, "/api/v1/messages");
    assert_eq!(ids(&token_page), set(&[&b1, &b2]));
    assert_eq!(token_page["total"], 2);
    let bob_page = team.json(As::User("bob", "pw-b"), "/api/v1/messages");
    assert_eq!(ids(&bob_page), set(&[&d1, &b1, &b2]));
    assert_eq!(ids(&team.json(admin, "/api/v1/messages")).len(), 5);
    // The CLI clients (and `pigeonhole mcp`) send a token and see what it sees.
    let url = format!("http://{}", team.server.http);
    let mut list = without_settings(Command::new(BIN));
    list.args(["list", "--url", &url]).env("PIGEONHOLE_TOKEN", &team.token);
    let listed: Value = serde_json::from_str(&run_ok(&mut list, "pigeonhole list")).unwrap();
    assert_eq!(ids(&listed), set(&[&b1, &b2]));
    assert_eq!(team.json(admin, "/api/v1/messages")["total"], 5);

    // `latest` and the wait API: the newest and the first of its own, not the store's.
    assert_eq!(team.json(alice, "/api/v1/message/latest/headers")["Subject"], json!(["a-two"]));
    let waited = team.json(alice, "/api/v1/wait?after=2000-01-01T00:00:00Z&timeout=1s");
    assert_eq!(waited["ID"], a1.as_str());

    // A foreign message's every route answers exactly as a missing message does.
    let routes: Vec<(Method, String, Option<Value>)> = [
        "/api/v1/message/{ID}",
        "/api/v1/message/{ID}/raw",
        "/api/v1/message/{ID}/headers",
        "/api/v1/message/{ID}/parts",
        "/api/v1/message/{ID}/part/1",
        "/api/v1/message/{ID}/part/1/thumb",
        "/api/v1/message/{ID}/envelope",
        "/api/v1/message/{ID}/links",
        "/api/v1/message/{ID}/codes",
        "/api/v1/message/{ID}/checks",
        "/api/v1/message/{ID}/html-check",
        "/api/v1/message/{ID}/link-check",
        "/api/v1/message/{ID}/sa-check",
        "/api/v1/message/{ID}/view-notes",
        "/api/v1/message/{ID}/screenshot.png",
        "/view/{ID}.html",
        "/view/{ID}.txt",
        "/api/v1/messages/{ID}",
        "/api/v1/diff?a={ID}&b=latest",
    ]
    .into_iter()
    .map(|path| (Method::GET, path.to_owned(), None))
    .chain([
        (Method::POST, "/api/v1/message/{ID}/release".to_owned(), Some(json!({"To": ["x@example.test"]}))),
        (Method::POST, "/api/v1/message/{ID}/events".to_owned(), Some(json!({"Event": "open"}))),
        (Method::POST, "/api/v1/messages/{ID}/release".to_owned(), Some(json!({"Email": "x@example.test"}))),
        (Method::POST, "/api/v1/export".to_owned(), Some(json!({"IDs": ["{ID}"]}))),
    ])
    .collect();
    for (method, route, body) in &routes {
        let with = |id: &str| {
            let body = body.as_ref().map(|b| serde_json::from_str(&b.to_string().replace("{ID}", id)).unwrap());
            team.call(alice, method.clone(), &route.replace("{ID}", id), body)
        };
        let (foreign, missing) = (with(&b1), with(MISSING));
        assert_eq!(foreign.0, missing.0, "{method} {route}: {} vs {}", foreign.1, missing.1);
        assert_eq!(foreign.1.replace(&b1, "ID"), missing.1.replace(MISSING, "ID"), "{method} {route}");
        assert!(!foreign.1.contains("b-one") && !foreign.1.contains("secret-b"), "{route}: {}", foreign.1);
        // The same route on its own message is not refused: the 404 above is the
        // access check (release has no relay here, SpamAssassin is off: 404 either way).
        let (own, _) = team.call(alice, method.clone(), &route.replace("{ID}", &a1), None);
        let off = ["release", "events", "sa-check"].iter().any(|off| route.contains(off));
        assert!(off || own != 404, "{method} {route} own: {own}");
    }
    assert_eq!(team.call(ci, Method::GET, &format!("/api/v1/message/{a1}"), None).0, 404);
    assert_eq!(team.call(ci, Method::GET, &format!("/api/v1/message/{b1}/raw"), None).0, 200);

    // Changes by selection stay within its inboxes.
    let (status, _) = team.call(alice, Method::PUT, "/api/v1/tags", Some(json!({"IDs": [b1, a1], "Tags": ["x"]})));
    assert_eq!(status, 200);
    let listed = team.json(admin, "/api/v1/messages");
    let b1_listed = listed["messages"].as_array().unwrap().iter().find(|m| m["ID"] == b1.as_str()).unwrap();
    assert_eq!(b1_listed["Tags"], json!(["secret-b"]), "a foreign message's tags are untouched");
    assert_eq!(team.call(alice, Method::PUT, "/api/v1/messages", Some(json!({"Read": true}))).0, 200);
    assert_eq!(team.json(admin, "/api/v1/messages")["unread"], 3, "only team-a's two were marked read");
    assert_eq!(team.call(alice, Method::DELETE, "/api/v1/messages", None).0, 200);
    assert_eq!(ids(&team.json(admin, "/api/v1/messages")), set(&[&d1, &b1, &b2]), "deleting all kept foreign mail");
    assert_eq!(team.call(ci, Method::DELETE, "/api/v1/search?query=b-one", None).0, 200);
    assert_eq!(ids(&team.json(admin, "/api/v1/messages")), set(&[&d1, &b2]));

    // What reaches every inbox, and sending outside its own, is refused.
    for (method, path, body) in [
        (Method::PUT, "/api/v1/intake", json!({"Paused": true})),
        (Method::GET, "/api/v1/webhooks", json!({})),
        (Method::PUT, "/api/v1/tags/plain", json!({"Name": "renamed"})),
        (Method::DELETE, "/api/v1/tags/plain", json!({})),
        (
            Method::POST,
            "/api/v1/send",
            json!({"From": {"Email": "a@example.test"}, "To": [{"Email": "b@example.test"}]}),
        ),
        (Method::POST, "/mcp", json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"})),
    ] {
        let (status, answer) = team.call(alice, method.clone(), path, Some(body));
        assert_eq!(status, 403, "{method} {path}: {answer}");
    }
    assert_eq!(team.json(admin, "/api/v1/intake")["Paused"], false);

    // No credentials, or a wrong token: 401.
    for who in [As::Nobody, As::Token("ph_wrong"), As::Token(""), As::User("alice", "wrong")] {
        assert_eq!(team.call(who, Method::GET, "/api/v1/messages", None).0, 401);
    }
}

#[test]
fn the_event_stream_never_sends_a_foreign_inboxs_events() {
    let team = Team::start();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut request = format!("ws://{}/api/events", team.server.http).into_client_request().unwrap();
    let basic = base64::engine::general_purpose::STANDARD.encode("alice:pw-a");
    request.headers_mut().insert("authorization", format!("Basic {basic}").parse().unwrap());
    let (mut ws, _) = rt.block_on(tokio_tungstenite::connect_async(request)).expect("handshake with credentials");

    let foreign = team.deliver(Some("team-b"), "b-one", "secret-b");
    let admin = As::User("admin", "pw-admin");
    team.call(admin, Method::PUT, "/api/v1/messages", Some(json!({"IDs": [foreign], "Read": true})));
    team.call(admin, Method::PUT, "/api/v1/tags", Some(json!({"IDs": [foreign], "Tags": ["t"]})));
    team.call(admin, Method::DELETE, "/api/v1/messages", Some(json!({"IDs": [foreign]})));
    let own = team.deliver(Some("team-a"), "a-one", "secret-a");

    let deadline = Instant::now() + Duration::from_secs(15);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let frame = rt
            .block_on(async { tokio::time::timeout(left, ws.next()).await })
            .expect("no `new` for team-a within 15 s");
        let Some(Ok(Message::Text(text))) = frame else { continue };
        let event: Value = serde_json::from_str(text.as_str()).unwrap();
        assert!(!text.contains(foreign.as_str()), "a foreign event was sent: {text} (after {seen:?})");
        if event["Type"] == "stats" {
            assert!(event["Data"]["Total"].as_u64() <= Some(1), "foreign mail in the totals: {text}");
        }
        seen.push(event["Type"].clone());
        if event["Type"] == "new" {
            assert_eq!(event["Data"]["ID"], own.as_str());
        }
        if event["Type"] == "stats" && event["Data"]["Total"] == 1 {
            break;
        }
    }
    assert!(seen.contains(&json!("new")), "{seen:?}");
}

#[test]
fn imap_and_pop3_users_see_only_their_inboxes() {
    let python = require_tool("python3");
    let team = Team::start();
    team.deliver(Some("team-b"), "b-one", "secret-b");
    team.deliver(Some("team-a"), "a-one", "secret-a");
    team.deliver(Some("team-a"), "a-two", "secret-a");
    team.deliver(None, "default-one", "plain");
    let script = format!("{}/tests/data/imaplib_poplib_access.py", env!("CARGO_MANIFEST_DIR"));
    let imap = team.server.listener("imap").port().to_string();
    let pop3 = team.server.listener("pop3").port().to_string();
    let out = run_ok(
        Command::new(python).arg(script).args([&imap, &pop3, "alice", "pw-a", "team-a", "team-b"]),
        "python3 imaplib_poplib_access.py",
    );
    let result: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(result["list"], json!(["team-a"]), "{result:#}");
    for refused in
        ["select_foreign", "examine_foreign", "status_foreign", "append_foreign", "copy_foreign", "create_outside"]
    {
        assert_eq!(result[refused][0], "NO", "{refused}: {result:#}");
    }
    assert_eq!(result["select_own"], json!(["OK", "2"]), "{result:#}");
    assert_eq!(result["pop3_stat"][0], 2, "alice's maildrop is team-a: {result:#}");
    // Nothing was appended to the foreign inbox.
    let admin = As::User("admin", "pw-admin");
    let inboxes = team.json(admin, "/api/v1/inboxes");
    let team_b = inboxes.as_array().unwrap().iter().find(|inbox| inbox["Name"] == "team-b").unwrap();
    assert_eq!(team_b, &json!({"Name": "team-b", "Total": 1, "Unread": 1}));
}

#[test]
fn a_tokens_file_alone_lets_http_listen_off_loopback_and_a_bad_one_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let made = Command::new(BIN).args(["token", "new", "deploy"]).output().unwrap();
    let token = String::from_utf8(made.stdout).unwrap().trim().to_owned();
    let line = String::from_utf8(made.stderr).unwrap().lines().last().unwrap().to_owned();
    let tokens = dir.path().join("tokens");
    std::fs::write(&tokens, format!("{line}\n")).unwrap();
    let data = dir.path().join("data");
    let mut cmd = serve_command();
    cmd.args(["--smtp", "127.0.0.1:0", "--http", "0.0.0.0:0", "--api-tokens-file"])
        .arg(&tokens)
        .arg("--data")
        .arg(&data);
    let server = Server::launch(cmd, data, None);
    let url = format!("http://127.0.0.1:{}/api/v1/messages", server.http.port());
    let status = |token: Option<&str>| {
        let request = server.client().get(&url);
        let request = match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        request.send().unwrap().status().as_u16()
    };
    assert_eq!(status(Some(&token)), 200, "an unlimited token sees the mailbox");
    assert_eq!(status(None), 401);
    assert_eq!(status(Some(line.split(':').nth(1).unwrap())), 401, "the file's hash is not the token");
    drop(server);

    // The token itself where its hash belongs: refused at start, with the line and the fix.
    std::fs::write(&tokens, format!("deploy:{token}\n")).unwrap();
    let mut cmd = serve_command();
    cmd.args(port0_args(&dir.path().join("data2"))).arg("--api-tokens-file").arg(&tokens);
    let refused = run_to_exit(cmd, STARTUP_TIMEOUT);
    assert!(!refused.status.success());
    for part in ["--api-tokens-file", "line 1 (deploy)", "SHA-256", "pigeonhole token new deploy"] {
        assert!(refused.stderr.contains(part), "{part}: {}", refused.stderr);
    }
}
