//! The router against a real store on a temporary SQLite database: every route, its
//! statuses and exact JSON key sets, and the guard. The WebSocket test runs over a
//! real socket.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes, to_bytes};
use axum::http::{HeaderMap, HeaderName, Method, Request, StatusCode};
use futures_util::StreamExt;
use serde_json::{Value, json};
use tempfile::TempDir;
use time::OffsetDateTime;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message};
use tower::ServiceExt;

use super::{ApiState, router};
use crate::config::{HttpLimits, StoreConfig};
use crate::mail::mbox;
use crate::model::message::{PAGE_KEYS, SUMMARY_KEYS};
use crate::model::{Envelope, NewMessage, event};
use crate::store::Store;

const HOST: &str = "127.0.0.1:8025";

/// A text and an HTML body, an inline image, a PDF and an HTML attachment, and
/// List-Unsubscribe headers: the fixture the mail view tests use too.
const MULTIPART: &[u8] = include_bytes!("../mail/testdata/multipart.eml");

fn plain(subject: &str) -> Vec<u8> {
    format!("From: a@example.com\r\nTo: b@example.com\r\nSubject: {subject}\r\n\r\nBody of {subject}\r\n").into_bytes()
}

pub(super) struct Api {
    /// Where the store's files are (kept alive as long as the Api).
    pub(super) dir: TempDir,
    pub(super) state: ApiState,
    pub(super) router: Router,
}

/// What a request got back.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// An error answer: the status, and JSON with exactly an `Error` message.
    fn assert_error(&self, status: StatusCode) -> String {
        assert_eq!(self.status, status, "{:?}", self.body);
        assert_eq!(self.header("content-type"), Some("application/json"));
        let json = self.json();
        assert_eq!(keys(&json), set(&["Error"]));
        json["Error"].as_str().unwrap().to_string()
    }
}

impl Api {
    pub(super) async fn new() -> Api {
        let dir = TempDir::new().unwrap();
        let events = event::channel();
        let store = Store::open(dir.path(), StoreConfig::default(), events.clone()).unwrap();
        let intake = Arc::new(crate::smtp::Intake::new(events.clone()));
        let state = ApiState::new(store, events, Default::default(), intake);
        Api { dir, router: router(state.clone()), state }
    }

    pub(super) async fn submit(&self, raw: &[u8], auth_user: Option<&str>) -> String {
        let envelope = Envelope {
            mail_from: "a@example.com".into(),
            rcpt_to: vec!["b@example.com".into()],
            helo: "client.example".into(),
            peer: "127.0.0.1:5555".into(),
            tls: false,
            auth_user: auth_user.map(Into::into),
            transcript: "C: EHLO client.example\nS: 250 ok\n".into(),
        };
        let message = NewMessage { raw: raw.to_vec(), envelope, received_at: OffsetDateTime::now_utc() };
        self.state.store.submit(message).await.unwrap()
    }

    /// A request with Host `127.0.0.1:8025`, changed or added to by `headers` (an
    /// empty value removes the header).
    async fn request(&self, method: Method, uri: &str, body: impl Into<Body>, headers: &[(&str, &str)]) -> Answer {
        let mut request = Request::builder().method(method).uri(uri).header("host", HOST);
        for (name, value) in headers {
            let map = request.headers_mut().unwrap();
            map.remove(*name);
            if !value.is_empty() {
                map.insert(HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
            }
        }
        let response = self.router.clone().oneshot(request.body(body.into()).unwrap()).await.unwrap();
        let (parts, body) = response.into_parts();
        Answer { status: parts.status, headers: parts.headers, body: to_bytes(body, usize::MAX).await.unwrap() }
    }

    async fn get(&self, uri: &str) -> Answer {
        self.request(Method::GET, uri, Body::empty(), &[]).await
    }

    async fn get_json(&self, uri: &str) -> Value {
        let answer = self.get(uri).await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}: {:?}", answer.body);
        assert_eq!(answer.header("content-type"), Some("application/json"));
        answer.json()
    }

    async fn send_json(&self, method: Method, uri: &str, body: Value) -> Answer {
        self.request(method, uri, body.to_string(), &[("content-type", "application/json")]).await
    }

    async fn read_flags(&self) -> Vec<(String, bool)> {
        let page = self.get_json("/api/v1/messages").await;
        page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["ID"].as_str().unwrap().to_string(), m["Read"].as_bool().unwrap()))
            .collect()
    }
}

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().unwrap_or_else(|| panic!("not an object: {value}")).keys().cloned().collect()
}

fn set(keys: &[&str]) -> BTreeSet<String> {
    keys.iter().map(|k| k.to_string()).collect()
}

fn assert_ok(answer: &Answer) {
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    assert_eq!(&answer.body[..], b"ok");
    assert!(answer.header("content-type").unwrap().starts_with("text/plain"));
}

const MESSAGE_KEYS: &[&str] = &[
    "ID",
    "MessageID",
    "From",
    "To",
    "Cc",
    "Bcc",
    "ReplyTo",
    "ReturnPath",
    "Subject",
    "ListUnsubscribe",
    "Date",
    "Tags",
    "Username",
    "Text",
    "HTML",
    "Size",
    "Inline",
    "Attachments",
];
const ATTACHMENT_KEYS: &[&str] = &["PartID", "FileName", "ContentType", "ContentID", "Size", "Checksums"];

#[tokio::test]
async fn livez() {
    let api = Api::new().await;
    let answer = api.get("/livez").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(&answer.body[..], b"ok");
    assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
}

#[tokio::test]
async fn list_pages_newest_first() {
    let api = Api::new().await;
    let empty = api.get_json("/api/v1/messages").await;
    assert_eq!(keys(&empty), set(PAGE_KEYS));
    assert_eq!(empty["messages"], json!([]));

    let first = api.submit(&plain("First"), None).await;
    let second = api.submit(&plain("Second"), None).await;
    let third = api.submit(&plain("Third"), None).await;

    let page = api.get_json("/api/v1/messages").await;
    assert_eq!(keys(&page), set(PAGE_KEYS));
    assert_eq!((page["total"].clone(), page["unread"].clone(), page["count"].clone()), (json!(3), json!(3), json!(3)));
    let ids: Vec<&str> = page["messages"].as_array().unwrap().iter().map(|m| m["ID"].as_str().unwrap()).collect();
    assert_eq!(ids, [third.as_str(), second.as_str(), first.as_str()]);
    let summary = &page["messages"][0];
    assert_eq!(keys(summary), set(SUMMARY_KEYS));
    assert_eq!(summary["Subject"], "Third");
    assert_eq!(summary["From"], json!({"Name": "", "Address": "a@example.com"}));

    let page = api.get_json("/api/v1/messages?start=1&limit=1").await;
    assert_eq!(page["start"], 1);
    assert_eq!(page["count"], 1);
    assert_eq!(page["messages"][0]["ID"], second.as_str());
    assert_eq!(page["messages_count"], 3);

    // Like Mailpit, numbers that are not numbers fall back to the defaults.
    let page = api.get_json("/api/v1/messages?start=x&limit=-5").await;
    assert_eq!((page["start"].clone(), page["count"].clone()), (json!(0), json!(3)));
}

#[tokio::test]
async fn search() {
    let api = Api::new().await;
    api.submit(&plain("Invoice March"), None).await;
    let wanted = api.submit(&plain("Invoice April"), None).await;
    api.submit(&plain("Newsletter"), None).await;

    let page = api.get_json("/api/v1/search?query=subject%3AApril").await;
    assert_eq!(keys(&page), set(PAGE_KEYS));
    assert_eq!(page["messages_count"], 1);
    assert_eq!(page["total"], 3);
    assert_eq!(page["messages"][0]["ID"], wanted.as_str());
    assert_eq!(api.get_json("/api/v1/search?query=invoice&limit=1").await["messages_count"], 2);

    for uri in ["/api/v1/search", "/api/v1/search?query=", "/api/v1/search?query=%20%20"] {
        let message = api.get(uri).await.assert_error(StatusCode::BAD_REQUEST);
        assert!(message.contains("no search query"), "{message}");
    }
}

#[tokio::test]
async fn full_message_marks_read() {
    let api = Api::new().await;
    let id = api.submit(MULTIPART, Some("alice")).await;
    assert_eq!(api.read_flags().await, [(id.clone(), false)]);

    let message = api.get_json(&format!("/api/v1/message/{id}")).await;
    assert_eq!(keys(&message), set(MESSAGE_KEYS));
    assert_eq!(message["ID"], id.as_str());
    assert_eq!(message["MessageID"], "multi@example.com");
    assert_eq!(message["From"], json!({"Name": "Sender Smith", "Address": "sender@example.com"}));
    assert_eq!(message["To"], json!([{"Name": "Recipient Ross", "Address": "rcpt@example.com"}]));
    assert_eq!((message["Cc"].clone(), message["Bcc"].clone()), (json!([]), json!([])));
    assert_eq!(message["Subject"], "Café report 🐦");
    assert_eq!(message["ReturnPath"], "sender@example.com");
    assert_eq!(message["Date"], "2024-01-02T10:20:30-05:00");
    assert_eq!(message["Username"], "alice");
    assert_eq!(message["Size"], MULTIPART.len());
    assert_eq!(message["Text"].as_str().unwrap().trim_end(), "Plain body");
    assert!(message["HTML"].as_str().unwrap().contains("<p>HTML body"));
    assert_eq!(keys(&message["ListUnsubscribe"]), set(&["Header", "Links", "Errors", "HeaderPost"]));

    let inline = message["Inline"].as_array().unwrap();
    assert_eq!(inline.len(), 1);
    assert_eq!(keys(&inline[0]), set(ATTACHMENT_KEYS));
    assert_eq!(keys(&inline[0]["Checksums"]), set(&["MD5", "SHA1", "SHA256"]));
    assert_eq!(inline[0]["ContentID"], "logo@x");
    let attachments = message["Attachments"].as_array().unwrap();
    let names: Vec<&str> = attachments.iter().map(|a| a["FileName"].as_str().unwrap()).collect();
    assert_eq!(names, ["report.pdf", "page.html"]);
    assert_eq!(attachments[0]["PartID"], "2");
    assert_eq!(attachments[0]["ContentType"], "application/pdf");
    assert_eq!(attachments[0]["Size"], 9);

    assert_eq!(api.read_flags().await, [(id, true)]);
}

#[tokio::test]
async fn latest_and_unknown_ids() {
    let api = Api::new().await;
    for uri in
        ["/api/v1/message/latest", "/api/v1/message/latest/raw", "/api/v1/message/nope", "/api/v1/message/nope/headers"]
    {
        assert_eq!(api.get(uri).await.assert_error(StatusCode::NOT_FOUND), "Message not found", "{uri}");
    }

    let older = api.submit(&plain("Alpha"), None).await;
    let newer = api.submit(&plain("Beta"), None).await;
    assert_eq!(api.get_json("/api/v1/message/latest").await["ID"], newer.as_str());
    assert_eq!(api.get_json("/api/v1/message/latest?query=subject%3AAlpha").await["ID"], older.as_str());
    assert_eq!(api.get_json("/api/v1/message/latest?query=").await["ID"], newer.as_str());
    let missing = api.get("/api/v1/message/latest?query=subject%3AGamma").await;
    assert_eq!(missing.assert_error(StatusCode::NOT_FOUND), "Message not found");
    for suffix in ["", "/raw", "/headers", "/envelope", "/part/1"] {
        api.get(&format!("/api/v1/message/unknown{suffix}")).await.assert_error(StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn raw_is_the_exact_bytes() {
    let api = Api::new().await;
    // Bare LF, 8-bit bytes that are not UTF-8, no final newline: kept as they are.
    let raw = b"Subject: raw\nX-Latin1: caf\xe9\r\n\r\nline\n.dot\r\nend".to_vec();
    let id = api.submit(&raw, None).await;

    let answer = api.get(&format!("/api/v1/message/{id}/raw")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(&answer.body[..], &raw[..]);
    assert_eq!(answer.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(answer.header("content-disposition"), None);

    let download = api.get(&format!("/api/v1/message/{id}/raw?dl=1")).await;
    assert_eq!(&download.body[..], &raw[..]);
    assert_eq!(download.header("content-disposition").unwrap(), format!("attachment; filename=\"{id}.eml\""));

    let latest = api.get("/api/v1/message/latest/raw?dl=1").await;
    assert_eq!(latest.header("content-disposition").unwrap(), format!("attachment; filename=\"{id}.eml\""));
}

#[tokio::test]
async fn headers_are_canonical_and_decoded() {
    let api = Api::new().await;
    let id = api.submit(MULTIPART, None).await;
    let headers = api.get_json(&format!("/api/v1/message/{id}/headers")).await;
    assert_eq!(
        keys(&headers),
        set(&[
            "Content-Type",
            "Date",
            "From",
            "List-Unsubscribe",
            "List-Unsubscribe-Post",
            "Message-Id",
            "Mime-Version",
            "Subject",
            "To",
            "X-Folded",
        ])
    );
    assert_eq!(headers["Subject"], json!(["Café report 🐦"]));
    assert_eq!(headers["Message-Id"], json!(["<multi@example.com>"]));
}

#[tokio::test]
async fn parts_download() {
    let api = Api::new().await;
    let id = api.submit(MULTIPART, None).await;

    let pdf = api.get(&format!("/api/v1/message/{id}/part/2")).await;
    assert_eq!(pdf.status, StatusCode::OK);
    assert_eq!(&pdf.body[..], b"%PDF-1.4\n");
    assert_eq!(pdf.header("content-type"), Some("application/pdf"));
    assert_eq!(
        pdf.header("content-disposition"),
        Some("inline; filename=\"report.pdf\"; filename*=UTF-8''report%2Epdf")
    );
    assert!(pdf.header("content-security-policy").unwrap().contains("sandbox"));

    let png = api.get(&format!("/api/v1/message/{id}/part/1.2")).await;
    assert_eq!(png.header("content-type"), Some("image/png"));
    assert_eq!(&png.body[..4], b"\x89PNG");

    // A document a browser would run is only offered as a download.
    let html = api.get(&format!("/api/v1/message/{id}/part/3")).await;
    assert_eq!(html.header("content-type"), Some("application/octet-stream"));
    assert!(html.header("content-disposition").unwrap().starts_with("attachment;"));

    // Bodies are parts too.
    let text = api.get("/api/v1/message/latest/part/1.1.1").await;
    assert_eq!(text.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(&text.body[..], b"Plain body");
    let html_body = api.get(&format!("/api/v1/message/{id}/part/1.1.2")).await;
    assert_eq!(
        (html_body.status, html_body.header("content-type")),
        (StatusCode::OK, Some("application/octet-stream"))
    );
    assert!(std::str::from_utf8(&html_body.body).unwrap().contains("<p>HTML body"));

    for part in ["9", "1", "1.2.3", "x"] {
        let message = api.get(&format!("/api/v1/message/{id}/part/{part}")).await.assert_error(StatusCode::NOT_FOUND);
        assert_eq!(message, "Part not found");
    }
}

#[tokio::test]
async fn parts_tree() {
    let api = Api::new().await;
    assert_eq!(api.get("/api/v1/message/nope/parts").await.assert_error(StatusCode::NOT_FOUND), "Message not found");
    let id = api.submit(MULTIPART, None).await;

    let tree = api.get_json(&format!("/api/v1/message/{id}/parts")).await;
    let node_keys = set(&["PartID", "ContentType", "FileName", "Size", "Headers", "Parts"]);
    assert_eq!(keys(&tree), node_keys);
    assert_eq!((&tree["PartID"], &tree["ContentType"]), (&json!(""), &json!("multipart/mixed")));
    assert_eq!(tree["Headers"][0], json!(["From", "Sender Smith <sender@example.com>"]));
    let ids = |node: &Value| -> Vec<String> {
        node["Parts"].as_array().unwrap().iter().map(|p| p["PartID"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(ids(&tree), ["1", "2", "3"]);
    assert_eq!(ids(&tree["Parts"][0]), ["1.1", "1.2"]);
    assert_eq!(ids(&tree["Parts"][0]["Parts"][0]), ["1.1.1", "1.1.2"]);
    let pdf = &tree["Parts"][1];
    assert_eq!(keys(pdf), node_keys);
    assert_eq!((&pdf["FileName"], &pdf["Size"], &pdf["Parts"]), (&json!("report.pdf"), &json!(9), &json!([])));

    // Every leaf downloads, with the size the tree gives.
    let mut stack = vec![tree];
    while let Some(node) = stack.pop() {
        let parts = node["Parts"].as_array().unwrap().clone();
        if parts.is_empty() {
            let part = api.get(&format!("/api/v1/message/{id}/part/{}", node["PartID"].as_str().unwrap())).await;
            assert_eq!(part.status, StatusCode::OK, "{node}");
            assert_eq!(json!(part.body.len()), node["Size"], "{node}");
        }
        stack.extend(parts);
    }

    let single = api.get_json("/api/v1/message/latest/parts").await;
    assert_eq!((&single["PartID"], &single["ContentType"]), (&json!(""), &json!("multipart/mixed")));
    api.submit(&plain("Single"), None).await;
    let single = api.get_json("/api/v1/message/latest/parts").await;
    assert_eq!(
        (&single["PartID"], &single["ContentType"], &single["Parts"]),
        (&json!("1"), &json!("text/plain"), &json!([]))
    );
}

#[tokio::test]
async fn send_stores_like_smtp() {
    let api = Api::new().await;
    let mut events = api.state.events.subscribe();
    let body = json!({
        "From": {"Email": "app@example.test", "Name": "App"},
        "To": [{"Email": "ann@example.test"}],
        "Bcc": ["hidden@example.test"],
        "Subject": "Welcome",
        "Text": "Hi Ann",
        "HTML": "<p>Hi <b>Ann</b></p>",
        "Attachments": [{"Content": "JVBERi0xLjQK", "Filename": "terms.pdf"}],
    });
    let answer = api.send_json(Method::POST, "/api/v1/send", body).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    let sent = answer.json();
    assert_eq!(keys(&sent), set(&["ID"]));
    let id = sent["ID"].as_str().unwrap();

    match events.recv().await.unwrap() {
        event::Event::New(summary) => assert_eq!((summary.id.as_str(), summary.subject.as_str()), (id, "Welcome")),
        other => panic!("expected a new-message event, got {other:?}"),
    }
    let message = api.get_json(&format!("/api/v1/message/{id}")).await;
    assert_eq!(message["From"], json!({"Name": "App", "Address": "app@example.test"}));
    assert_eq!(message["Text"].as_str().unwrap().trim_end(), "Hi Ann");
    assert_eq!(message["Attachments"][0]["FileName"], "terms.pdf");
    assert_eq!(message["Attachments"][0]["ContentType"], "application/pdf");
    let envelope = api.get_json(&format!("/api/v1/message/{id}/envelope")).await;
    assert_eq!(
        envelope,
        json!({"MailFrom": "app@example.test", "RcptTo": ["ann@example.test", "hidden@example.test"],
               "Helo": "pigeonhole-api", "Peer": "api", "Tls": false, "AuthUser": null, "Transcript": ""})
    );

    let missing_from = api.send_json(Method::POST, "/api/v1/send", json!({"To": [{"Email": "a@example.test"}]})).await;
    assert_eq!(missing_from.assert_error(StatusCode::BAD_REQUEST), "From.Email is required");
    let bad_to = json!({"From": {"Email": "a@example.test"}, "To": [{"Email": "nope"}]});
    let bad_to = api.send_json(Method::POST, "/api/v1/send", bad_to).await;
    assert_eq!(bad_to.assert_error(StatusCode::BAD_REQUEST), "invalid To address: nope");
    let not_json = api.request(Method::POST, "/api/v1/send", "From: a", &[]).await;
    assert!(not_json.assert_error(StatusCode::BAD_REQUEST).starts_with("invalid JSON body"));
    api.get("/api/v1/send").await.assert_error(StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(api.get_json("/api/v1/messages").await["total"], 1);
}

#[tokio::test]
async fn export_mbox() {
    let api = Api::new().await;
    let tricky = b"From: a@example.com\r\nSubject: Quotes\r\n\r\nFrom the start\r\n>From once\r\n>>From twice\r\n";
    let raws: Vec<Vec<u8>> = vec![MULTIPART.to_vec(), tricky.to_vec(), plain("Third")];
    let mut ids = Vec::new();
    for raw in &raws {
        ids.push(api.submit(raw, None).await);
    }

    let answer = api.send_json(Method::POST, "/api/v1/export", json!({"IDs": ids})).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    assert_eq!(answer.header("content-type"), Some("application/mbox"));
    assert_eq!(answer.header("content-disposition"), Some("attachment; filename=\"pigeonhole-export.mbox\""));
    assert!(answer.body.starts_with(b"From a@example.com "), "{:?}", answer.body);
    assert_eq!(mbox::read(&answer.body), raws);

    // A search exports its matches, oldest first.
    let answer = api.send_json(Method::POST, "/api/v1/export", json!({"Search": "from:a@example.com"})).await;
    assert_eq!(mbox::read(&answer.body), raws[1..]);
    // An empty search (the UI's "Export…" with no inbox or search chosen): everything.
    let answer = api.send_json(Method::POST, "/api/v1/export", json!({"Search": ""})).await;
    assert_eq!(mbox::read(&answer.body), raws);

    let unknown = api.send_json(Method::POST, "/api/v1/export", json!({"IDs": [ids[0], "nope"]})).await;
    assert_eq!(unknown.assert_error(StatusCode::NOT_FOUND), "Message not found: nope");
    for body in [json!({}), json!({"IDs": [ids[0]], "Search": "x"})] {
        let answer = api.send_json(Method::POST, "/api/v1/export", body).await;
        assert_eq!(answer.assert_error(StatusCode::BAD_REQUEST), "give either IDs or a Search query");
    }
}

#[tokio::test]
async fn import_eml_and_mbox() {
    let api = Api::new().await;
    let mut events = api.state.events.subscribe();
    let import = |body: Vec<u8>, content_type: &'static str| {
        let api = &api;
        async move {
            let answer = api.request(Method::POST, "/api/v1/import", body, &[("content-type", content_type)]).await;
            assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
            let json = answer.json();
            assert_eq!(keys(&json), set(&["IDs"]));
            json["IDs"].as_array().unwrap().iter().map(|id| id.as_str().unwrap().to_string()).collect::<Vec<_>>()
        }
    };

    let eml = b"Return-Path: <bounce@example.com>\r\nFrom: a@example.com\r\nTo: b@example.com\r\n\
                Bcc: hidden@example.com\r\nSubject: Imported\r\n\r\nFrom the file\r\n";
    let ids = import(eml.to_vec(), "message/rfc822").await;
    assert_eq!(ids.len(), 1);
    assert_eq!(&api.get(&format!("/api/v1/message/{}/raw", ids[0])).await.body[..], eml);
    match events.recv().await.unwrap() {
        event::Event::New(summary) => {
            assert_eq!((summary.id.as_str(), summary.subject.as_str()), (&*ids[0], "Imported"))
        }
        other => panic!("expected a new-message event, got {other:?}"),
    }
    let envelope = api.get_json(&format!("/api/v1/message/{}/envelope", ids[0])).await;
    assert_eq!(envelope["MailFrom"], "bounce@example.com");
    assert_eq!(envelope["RcptTo"], json!(["b@example.com", "hidden@example.com"]));
    assert_eq!((&envelope["Helo"], &envelope["Peer"], &envelope["Tls"]), (&json!(""), &json!("import"), &json!(false)));

    // An mbox (as another tool writes it: CRLF, quoted `From ` lines) gives each
    // message, stored in the file's order.
    let raws = [
        plain("One"),
        b"From: a@example.com\r\nSubject: Two\r\n\r\nFrom here\r\n>From there\r\n".to_vec(),
        plain("Three"),
    ];
    let separator = b"From a@example.com Tue Jan  2 15:20:30 2024\r\n";
    let two_quoted = b"From: a@example.com\r\nSubject: Two\r\n\r\n>From here\r\n>>From there\r\n";
    let file = [&separator[..], &raws[0], b"\r\n", separator, two_quoted, b"\r\n", separator, &raws[2]].concat();
    let ids = import(file, "application/mbox; charset=utf-8").await;
    assert_eq!(ids.len(), 3);
    for (id, raw) in ids.iter().zip(&raws) {
        assert_eq!(&api.get(&format!("/api/v1/message/{id}/raw")).await.body[..], raw);
    }
    let listed: Vec<String> = api.get_json("/api/v1/messages").await["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["ID"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed[..3], [ids[2].clone(), ids[1].clone(), ids[0].clone()], "newest first: the file's last");

    // What export writes, import reads back.
    let exported = api.send_json(Method::POST, "/api/v1/export", json!({"IDs": ids})).await;
    let again = import(exported.body.to_vec(), "application/mbox").await;
    for (id, raw) in again.iter().zip(&raws) {
        assert_eq!(&api.get(&format!("/api/v1/message/{id}/raw")).await.body[..], raw);
    }
}

#[tokio::test]
async fn import_refuses_other_types_and_non_mail() {
    let api = Api::new().await;
    let eml = plain("Nope");
    // No type, and what a cross-site form or a plain fetch can send without a preflight.
    for content_type in ["", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"] {
        let headers = [("content-type", content_type)];
        let answer = api.request(Method::POST, "/api/v1/import", eml.clone(), &headers).await;
        let error = answer.assert_error(StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert!(error.contains("message/rfc822") && error.contains("application/mbox"), "{error}");
    }
    let headers = [("content-type", "message/rfc822")];
    let empty = api.request(Method::POST, "/api/v1/import", Body::empty(), &headers).await;
    assert!(empty.assert_error(StatusCode::BAD_REQUEST).starts_with("the file is empty"));
    let notes = api.request(Method::POST, "/api/v1/import", "just some notes\n", &headers).await;
    assert!(notes.assert_error(StatusCode::BAD_REQUEST).starts_with("the file is not an e-mail message"));
    let bad_mbox = "From a x\nSubject: one\n\nFrom b y\nnot a header\n";
    let bad_mbox = api.request(Method::POST, "/api/v1/import", bad_mbox, &[("content-type", "application/mbox")]).await;
    assert!(bad_mbox.assert_error(StatusCode::BAD_REQUEST).starts_with("message 2 of 2 in the mbox file"));
    let big =
        api.request(Method::POST, "/api/v1/import", vec![b'x'; HttpLimits::default().max_body + 1], &headers).await;
    assert!(big.assert_error(StatusCode::PAYLOAD_TOO_LARGE).starts_with("the file is larger than 10 MiB"));
    let cross_site = [("content-type", "message/rfc822"), ("origin", "https://evil.example")];
    api.request(Method::POST, "/api/v1/import", eml, &cross_site).await.assert_error(StatusCode::FORBIDDEN);
    api.get("/api/v1/import").await.assert_error(StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(api.get_json("/api/v1/messages").await["total"], 0);
}

#[tokio::test]
async fn envelope() {
    let api = Api::new().await;
    let id = api.submit(&plain("Env"), Some("bob")).await;
    let envelope = api.get_json(&format!("/api/v1/message/{id}/envelope")).await;
    assert_eq!(keys(&envelope), set(&["MailFrom", "RcptTo", "Helo", "Peer", "Tls", "AuthUser", "Transcript"]));
    assert_eq!(envelope["RcptTo"], json!(["b@example.com"]));
    assert_eq!(envelope["AuthUser"], "bob");
}

#[tokio::test]
async fn set_read_status() {
    let api = Api::new().await;
    let a = api.submit(&plain("Alpha"), None).await;
    let b = api.submit(&plain("Beta"), None).await;
    let flags = |a_read: bool, b_read: bool| vec![(b.clone(), b_read), (a.clone(), a_read)];

    // Keys match case-insensitively, as Go's encoding/json matches them.
    assert_ok(&api.send_json(Method::PUT, "/api/v1/messages", json!({"ids": [a], "read": true})).await);
    assert_eq!(api.read_flags().await, flags(true, false));

    assert_ok(&api.send_json(Method::PUT, "/api/v1/messages", json!({"Search": "subject:Beta", "Read": true})).await);
    assert_eq!(api.read_flags().await, flags(true, true));

    // Neither IDs nor Search: every message.
    assert_ok(&api.send_json(Method::PUT, "/api/v1/messages", json!({"Read": false})).await);
    assert_eq!(api.read_flags().await, flags(false, false));
    assert_ok(&api.send_json(Method::PUT, "/api/v1/messages", json!({"IDs": [], "Read": true})).await);
    assert_eq!(api.read_flags().await, flags(true, true));

    let both = api.send_json(Method::PUT, "/api/v1/messages", json!({"IDs": [a], "Search": "x", "Read": true})).await;
    assert!(both.assert_error(StatusCode::BAD_REQUEST).contains("not both"));
    let bad_type = api.send_json(Method::PUT, "/api/v1/messages", json!({"IDs": "abc", "Read": true})).await;
    assert!(bad_type.assert_error(StatusCode::BAD_REQUEST).contains("IDs"));
    for body in ["", "{", "[1]", "ids=abc"] {
        api.request(Method::PUT, "/api/v1/messages", body, &[]).await.assert_error(StatusCode::BAD_REQUEST);
    }
    assert_eq!(api.read_flags().await, flags(true, true));
}

#[tokio::test]
async fn delete_some_or_all() {
    let api = Api::new().await;
    let a = api.submit(&plain("Alpha"), None).await;
    let b = api.submit(&plain("Beta"), None).await;
    let c = api.submit(&plain("Gamma"), None).await;

    assert_ok(&api.send_json(Method::DELETE, "/api/v1/messages", json!({"Ids": [a, "unknown"]})).await);
    let left: Vec<String> = api.read_flags().await.into_iter().map(|(id, _)| id).collect();
    assert_eq!(left, [c.clone(), b.clone()]);
    api.get(&format!("/api/v1/message/{a}")).await.assert_error(StatusCode::NOT_FOUND);

    // Like Mailpit: a body that does not decode (here form data) deletes everything.
    assert_ok(&api.request(Method::DELETE, "/api/v1/messages", format!("ids={b}"), &[]).await);
    assert!(api.read_flags().await.is_empty());

    api.submit(&plain("Delta"), None).await;
    assert_ok(&api.request(Method::DELETE, "/api/v1/messages", Body::empty(), &[]).await);
    assert_eq!(api.get_json("/api/v1/messages").await["total"], 0);
}

#[tokio::test]
async fn inboxes() {
    let api = Api::new().await;
    api.submit(&plain("One"), None).await;
    api.submit(&plain("Two"), Some("team-a")).await;
    let inboxes = api.get_json("/api/v1/inboxes").await;
    let inboxes = inboxes.as_array().unwrap();
    for inbox in inboxes {
        assert_eq!(keys(inbox), set(&["Name", "Total", "Unread"]));
    }
    let names: BTreeSet<&str> = inboxes.iter().map(|i| i["Name"].as_str().unwrap()).collect();
    assert_eq!(names, BTreeSet::from(["default", "team-a"]));
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let api = Api::new().await;
    api.get("/api/v1/nope").await.assert_error(StatusCode::NOT_FOUND);
    api.get("/api/v3/messages").await.assert_error(StatusCode::NOT_FOUND);
    api.request(Method::POST, "/api/v1/messages", "{}", &[]).await.assert_error(StatusCode::METHOD_NOT_ALLOWED);
    // Not a WebSocket handshake.
    let answer = api.get("/api/events").await;
    assert!(answer.status.is_client_error());
    answer.assert_error(answer.status);
}

#[tokio::test]
async fn serves_the_embedded_ui() {
    let api = Api::new().await;
    for path in ["/", "/some/deep/link"] {
        let page = api.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert_eq!(page.header("content-type"), Some("text/html"));
        assert_eq!(page.header("cache-control"), Some("no-cache"));
        let policy = page.header("content-security-policy").unwrap();
        assert!(policy.contains("script-src 'self'") && !policy.contains("unsafe-eval"), "{policy}");
        let html = String::from_utf8_lossy(&page.body);
        let script = html.split("src=\"/").nth(1).and_then(|s| s.split('"').next()).expect("index.html loads a script");
        let asset = api.get(&format!("/{script}")).await;
        assert_eq!(asset.status, StatusCode::OK, "{script}");
        assert_eq!(asset.header("content-type"), Some("text/javascript"));
        assert!(asset.header("cache-control").unwrap().contains("immutable"));
    }
    // API and view paths never fall back to the UI.
    api.get("/view/nope.html").await.assert_error(StatusCode::NOT_FOUND);
    api.request(Method::POST, "/", "", &[]).await.assert_error(StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn intake_pauses_and_resumes() {
    let api = Api::new().await;
    let mut events = api.state.events.subscribe();
    // The SMTP address is unknown to a router that was not told it.
    assert_eq!(api.get_json("/api/v1/intake").await, json!({"Paused": false, "SMTPAddress": ""}));
    let paused = api.send_json(Method::PUT, "/api/v1/intake", json!({"paused": true})).await;
    assert_eq!(paused.json(), json!({"Paused": true, "SMTPAddress": ""}));
    assert!(api.state.intake.is_paused());
    let event = serde_json::to_value(events.try_recv().unwrap()).unwrap();
    assert_eq!(event, json!({"Type": "intake", "Data": {"Paused": true}}));
    // Pausing again changes nothing and announces nothing.
    api.send_json(Method::PUT, "/api/v1/intake", json!({"Paused": true})).await;
    assert!(events.try_recv().is_err());
    api.send_json(Method::PUT, "/api/v1/intake", json!({"Paused": false})).await;
    assert!(!api.state.intake.is_paused());

    let missing = api.send_json(Method::PUT, "/api/v1/intake", json!({})).await;
    assert_eq!(missing.assert_error(StatusCode::BAD_REQUEST), "Paused (true or false) is required");
    let wrong = api.send_json(Method::PUT, "/api/v1/intake", json!({"Paused": "yes"})).await;
    assert!(wrong.assert_error(StatusCode::BAD_REQUEST).starts_with("invalid Paused"));

    let told = router(api.state.clone().with_smtp_address("127.0.0.1:2525".parse().unwrap()));
    let request = Request::get("/api/v1/intake").header("host", HOST).body(Body::empty()).unwrap();
    let body = to_bytes(told.oneshot(request).await.unwrap().into_body(), usize::MAX).await.unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap()["SMTPAddress"], "127.0.0.1:2525");
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let api = Api::new().await;
    let body = format!("{{\"IDs\": [\"{}\"], \"Read\": true}}", "x".repeat(HttpLimits::default().max_body));
    for method in [Method::PUT, Method::DELETE] {
        api.request(method, "/api/v1/messages", body.clone(), &[]).await.assert_error(StatusCode::PAYLOAD_TOO_LARGE);
    }
}

#[tokio::test]
async fn host_must_be_loopback() {
    let api = Api::new().await;
    for host in ["localhost", "localhost:8025", "127.0.0.1", "127.1.2.3:80", "[::1]:8025", "ui.localhost:5173"] {
        assert_eq!(
            api.request(Method::GET, "/livez", Body::empty(), &[("host", host)]).await.status,
            StatusCode::OK,
            "{host}"
        );
    }
    for host in ["evil.example", "evil.example:8025", "192.168.1.10:8025", "localhost.evil.example", ""] {
        let answer = api.request(Method::GET, "/api/v1/messages", Body::empty(), &[("host", host)]).await;
        answer.assert_error(StatusCode::FORBIDDEN);
    }
    // A second Host header must not smuggle a name past the check.
    let request =
        Request::get("/livez").header("host", "evil.example").header("host", HOST).body(Body::empty()).unwrap();
    assert_eq!(api.router.clone().oneshot(request).await.unwrap().status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn cross_site_writes_are_refused() {
    let api = Api::new().await;
    let id = api.submit(&plain("Keep"), None).await;
    let body = json!({"IDs": [id]}).to_string();

    for origin in ["https://evil.example", "null", "http://127.0.0.1.evil.example"] {
        for method in [Method::PUT, Method::DELETE] {
            let answer = api.request(method, "/api/v1/messages", body.clone(), &[("origin", origin)]).await;
            answer.assert_error(StatusCode::FORBIDDEN);
        }
    }
    assert_eq!(api.get_json("/api/v1/messages").await["total"], 1);

    // Reads carry no risk; the API's own origin and loopback origins may write.
    let read = api.request(Method::GET, "/api/v1/messages", Body::empty(), &[("origin", "https://evil.example")]).await;
    assert_eq!(read.status, StatusCode::OK);
    for origin in ["http://127.0.0.1:8025", "tauri://localhost", "http://localhost:5173"] {
        let answer = api.request(Method::PUT, "/api/v1/messages", body.clone(), &[("origin", origin)]).await;
        assert_ok(&answer);
    }
    assert_ok(&api.request(Method::DELETE, "/api/v1/messages", body, &[("origin", "http://127.0.0.1:8025")]).await);
    assert_eq!(api.get_json("/api/v1/messages").await["total"], 0);
}

/// The event stream over a real socket: `stats` first, then `new` for a stored
/// message; a cross-site handshake is refused; shutdown closes with "going away".
#[tokio::test]
async fn event_stream() {
    let api = Api::new().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(axum::serve(listener, api.router.clone()).into_future());
    let url = format!("ws://{addr}/api/events");

    let mut evil = url.as_str().into_client_request().unwrap();
    evil.headers_mut().insert("origin", "https://evil.example".parse().unwrap());
    match tokio_tungstenite::connect_async(evil).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), StatusCode::FORBIDDEN),
        other => panic!("cross-site handshake was not refused: {other:?}"),
    }

    let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str()).await.unwrap();
    let mut next_event = async move || -> Option<Value> {
        loop {
            match tokio::time::timeout(Duration::from_secs(10), socket.next()).await.expect("no frame in 10 s")? {
                Ok(Message::Text(text)) => return Some(serde_json::from_str(&text).unwrap()),
                Ok(Message::Close(frame)) => {
                    assert_eq!(frame.unwrap().code, CloseCode::Away);
                    return None;
                }
                Ok(_) => continue,
                Err(err) => panic!("stream failed: {err}"),
            }
        }
    };

    let stats = next_event().await.unwrap();
    assert_eq!(stats["Type"], "stats");
    assert_eq!(keys(&stats["Data"]), set(&["Total", "Unread", "Version"]));
    assert_eq!(stats["Data"]["Total"], 0);

    let id = api.submit(&plain("Live"), None).await;
    let new = loop {
        let event = next_event().await.unwrap();
        if event["Type"] == "new" {
            break event;
        }
    };
    assert_eq!(new["Data"]["ID"], id.as_str());
    assert_eq!(keys(&new["Data"]), set(SUMMARY_KEYS));

    api.state.close_streams();
    while next_event().await.is_some() {}
    match tokio_tungstenite::connect_async(url.as_str()).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE),
        other => panic!("a stream opened after shutdown: {other:?}"),
    }
    server.abort();
}

#[tokio::test]
async fn info_keys_and_counts() {
    let api = Api::new().await;
    let read = api.submit(&plain("Read me"), None).await;
    api.submit(&plain("Leave me"), None).await;
    api.get_json(&format!("/api/v1/message/{read}")).await;

    let answer = api.get("/api/v1/info").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let info = answer.json();
    let stats = &info["RuntimeStats"];
    // The exact text: Mailpit's keys, in Mailpit's order, and nothing else.
    let expected = format!(
        concat!(
            r#"{{"Version":"{}","LatestVersion":"","Database":{},"DatabaseSize":{},"Messages":2,"Unread":1,"Tags":{{}},"#,
            r#""RuntimeStats":{{"Uptime":{},"Memory":{},"MessagesDeleted":0,"SMTPAccepted":0,"SMTPAcceptedSize":0,"#,
            r#""SMTPRejected":0,"SMTPIgnored":0}}}}"#
        ),
        env!("CARGO_PKG_VERSION"),
        info["Database"],
        info["DatabaseSize"],
        stats["Uptime"],
        stats["Memory"],
    );
    assert_eq!(std::str::from_utf8(&answer.body).unwrap(), expected);

    assert_eq!(info["Database"], api.state.store.database_path().to_str().unwrap());
    let on_disk = std::fs::metadata(api.state.store.database_path()).unwrap().len();
    assert!(info["DatabaseSize"].as_u64().unwrap() >= on_disk, "{info}");
    assert!(stats["Uptime"].as_u64().unwrap() < 60);
    if cfg!(target_os = "linux") {
        assert!(stats["Memory"].as_u64().unwrap() > 1024 * 1024, "{info}");
    }
}

#[tokio::test]
async fn webui_says_what_is_off() {
    let api = Api::new().await;
    let answer = api.get("/api/v1/webui").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    // Mailpit's keys in Mailpit's order, including the deprecated RecipientAllowlist.
    let expected = concat!(
        r#"{"Label":"","MessageRelay":{"Enabled":false,"SMTPServer":"","ReturnPath":"","AllowedRecipients":"","#,
        r#""BlockedRecipients":"","OverrideFrom":"","PreserveMessageIDs":false,"RecipientAllowlist":""},"#,
        r#""SpamAssassin":false,"ChaosEnabled":false,"DuplicatesIgnored":false,"HideDeleteAllButton":false}"#
    );
    assert_eq!(std::str::from_utf8(&answer.body).unwrap(), expected);
}

#[tokio::test]
async fn delete_by_search() {
    let api = Api::new().await;
    let march = api.submit(&plain("Invoice March"), None).await;
    let april = api.submit(&plain("Invoice April"), None).await;
    let news = api.submit(&plain("Newsletter"), None).await;
    let mut events = api.state.events.subscribe();

    assert_ok(&api.request(Method::DELETE, "/api/v1/search?query=subject%3Ainvoice", Body::empty(), &[]).await);
    let left: Vec<String> = api.read_flags().await.into_iter().map(|(id, _)| id).collect();
    assert_eq!(left, [news]);
    assert_eq!(api.get_json("/api/v1/info").await["Messages"], 1);

    // The writer publishes before it answers, so every event is already there.
    let mut deleted = BTreeSet::new();
    let mut last_stats = None;
    while let Ok(event) = events.try_recv() {
        let event = serde_json::to_value(event).unwrap();
        match event["Type"].as_str().unwrap() {
            "delete" => assert!(deleted.insert(event["Data"]["ID"].as_str().unwrap().to_string())),
            "stats" => last_stats = Some(event["Data"].clone()),
            other => panic!("unexpected event {other}: {event}"),
        }
    }
    assert_eq!(deleted, BTreeSet::from([march, april]));
    assert_eq!(last_stats.unwrap()["Total"], 1);

    // No match: nothing deleted, still ok.
    assert_ok(&api.request(Method::DELETE, "/api/v1/search?query=subject%3Anothing", Body::empty(), &[]).await);
    assert_eq!(api.get_json("/api/v1/messages").await["total"], 1);

    // An empty query never means "everything".
    for uri in ["/api/v1/search", "/api/v1/search?query=", "/api/v1/search?query=%20"] {
        let message = api.request(Method::DELETE, uri, Body::empty(), &[]).await.assert_error(StatusCode::BAD_REQUEST);
        assert!(message.contains("no search query"), "{message}");
    }
    assert_eq!(api.get_json("/api/v1/messages").await["total"], 1);
}

#[tokio::test]
async fn view_text_part() {
    let api = Api::new().await;
    for uri in ["/view/latest.txt", "/view/nope.txt"] {
        assert_eq!(api.get(uri).await.assert_error(StatusCode::NOT_FOUND), "Message not found", "{uri}");
    }

    let multipart = api.submit(MULTIPART, None).await;
    let answer = api.get(&format!("/view/{multipart}.txt")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(std::str::from_utf8(&answer.body).unwrap().trim_end(), "Plain body");

    let simple = api.submit(&plain("Simple"), None).await;
    let latest = api.get("/view/latest.txt").await;
    assert_eq!(&latest.body[..], b"Body of Simple\r\n");
    let matching = api.get("/view/latest.txt?query=subject%3A%22Caf%C3%A9%20report%22").await;
    assert_eq!(std::str::from_utf8(&matching.body).unwrap().trim_end(), "Plain body");
    assert_eq!(api.get(&format!("/view/{simple}.txt")).await.status, StatusCode::OK);

    // Viewing is not reading.
    assert!(api.read_flags().await.iter().all(|(_, read)| !read));

    let attachment_only = concat!(
        "From: a@example.com\r\nSubject: Scan\r\nMIME-Version: 1.0\r\n",
        "Content-Type: application/pdf; name=\"scan.pdf\"\r\nContent-Disposition: attachment; filename=\"scan.pdf\"\r\n",
        "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n"
    );
    let no_text = api.submit(attachment_only.as_bytes(), None).await;
    let empty = api.get(&format!("/view/{no_text}.txt")).await;
    assert_eq!(empty.status, StatusCode::OK);
    assert!(empty.body.is_empty(), "{:?}", empty.body);

    // Only `.txt` and `.html` are served here.
    for uri in
        [format!("/view/{simple}"), format!("/view/{simple}.eml"), "/view/.txt".to_string(), "/view/.html".into()]
    {
        assert_eq!(api.get(&uri).await.assert_error(StatusCode::NOT_FOUND), "Not found", "{uri}");
    }
}

#[tokio::test]
async fn view_html_part() {
    // The sanitized document (`?embed=1`, the UI's preview).
    const BLOCK_REMOTE: &str = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; \
        font-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'";
    const ALLOW_REMOTE: &str = "default-src 'none'; img-src * data:; style-src * 'unsafe-inline'; \
        font-src * data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'";
    // The part as sent: sandboxed, and images and fonts only from the message's parts.
    let part_policy = |id: &str| {
        format!(
            "sandbox; default-src 'none'; img-src {HOST}/api/v1/message/{id}/part/ data:; style-src 'unsafe-inline'; \
             font-src {HOST}/api/v1/message/{id}/part/ data:; base-uri 'none'; form-action 'none'; \
             frame-ancestors 'self'"
        )
    };
    let part_policy_remote = format!("sandbox; {ALLOW_REMOTE}");

    let api = Api::new().await;
    assert_eq!(api.get("/view/nope.html").await.assert_error(StatusCode::NOT_FOUND), "Message not found");
    assert_eq!(api.get("/view/nope.html?embed=1").await.assert_error(StatusCode::NOT_FOUND), "Message not found");

    // As sent: the part's text byte for byte, but for its cid: URL.
    let multipart = api.submit(MULTIPART, None).await;
    let logo = format!("/api/v1/message/{multipart}/part/1.2");
    let answer = api.get(&format!("/view/{multipart}.html")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(answer.header("content-security-policy"), Some(part_policy(&multipart).as_str()));
    assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(answer.header("x-pigeonhole-remote-content"), Some("0"));
    assert_eq!(answer.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    assert_eq!(std::str::from_utf8(&answer.body).unwrap(), format!("<p>HTML body <img src=\"{logo}\"></p>"));

    // Sanitized, as a standalone document.
    let answer = api.get(&format!("/view/{multipart}.html?embed=1")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(answer.header("content-security-policy"), Some(BLOCK_REMOTE));
    assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(answer.header("x-pigeonhole-remote-content"), Some("0"));
    assert_eq!(answer.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let document = std::str::from_utf8(&answer.body).unwrap();
    assert!(document.contains("<meta charset=\"utf-8\"><base target=\"_blank\">"), "{document}");
    assert!(document.contains(&format!("<img src=\"{logo}\">")), "{document}");
    // The image the cid: pointed at is there.
    let image = api.get(&logo).await;
    assert_eq!((image.status, image.header("content-type")), (StatusCode::OK, Some("image/png")));

    let hostile_part = concat!(
        "<style>p { background: url(http://t.example.test/bg.png) }</style>\n",
        "<p>Hi<script>alert(1)</script><img src=x onerror=\"alert(2)\">",
        "<a href=\"javascript:alert(3)\">x</a><img src=\"http://t.example.test/p.gif\">",
        "<a href=\"https://ok.example.test/\" target=\"_self\" rel=\"opener\">ok</a></p>",
    );
    let hostile = format!(
        "From: a@example.com\r\nSubject: Hostile\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/html; charset=utf-8\r\n\r\n{}\r\n",
        hostile_part.replace('\n', "\r\n")
    );
    let hostile = api.submit(hostile.as_bytes(), None).await;

    // As sent (line breaks as LF), script and all: the policy is what forbids it (a
    // sandbox without allow-scripts, and no script-src under default-src 'none').
    let answer = api.get(&format!("/view/{hostile}.html")).await;
    assert_eq!(std::str::from_utf8(&answer.body).unwrap().trim_end(), hostile_part);
    let policy = answer.header("content-security-policy").unwrap();
    assert_eq!(policy, part_policy(&hostile));
    assert!(policy.starts_with("sandbox; default-src 'none';") && !policy.contains("allow-"), "{policy}");
    assert!(!policy.contains("script-src") && !policy.contains("img-src 'self'"), "{policy}");
    assert_eq!(answer.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(answer.header("x-pigeonhole-remote-content"), Some("2"));
    let remote = api.get(&format!("/view/{hostile}.html?remote=1")).await;
    assert_eq!(remote.header("content-security-policy"), Some(part_policy_remote.as_str()));
    assert_eq!(remote.body, answer.body);
    // A Host that cannot be written into the policy: no own-origin images at all.
    assert_eq!(
        super::view::part_policy(Some("[::1]:8025"), &hostile),
        "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
    );
    assert_eq!(super::view::part_policy(Some("a.test; script-src *"), &hostile), super::view::part_policy(None, "x"));
    // `dark` is for the sanitized document only.
    let dark = api.get(&format!("/view/{hostile}.html?dark=1")).await;
    assert_eq!(dark.body, answer.body);

    // Sanitized: no script, every link opening outside with no opener or referrer.
    let answer = api.get(&format!("/view/{hostile}.html?embed=1")).await;
    let document = std::str::from_utf8(&answer.body).unwrap();
    assert!(
        !document.contains("alert") && !document.contains("onerror") && !document.contains("<script"),
        "{document}"
    );
    assert!(document.contains("<a target=\"_blank\" rel=\"noreferrer noopener\">x</a>"), "{document}");
    assert!(
        document.contains("<a href=\"https://ok.example.test/\" target=\"_blank\" rel=\"noreferrer noopener\">ok</a>"),
        "{document}"
    );
    assert_eq!(answer.header("x-pigeonhole-remote-content"), Some("2"));
    assert_eq!(answer.header("content-security-policy"), Some(BLOCK_REMOTE));
    let remote = api.get(&format!("/view/{hostile}.html?embed=1&remote=1")).await;
    assert_eq!(remote.header("content-security-policy"), Some(ALLOW_REMOTE));
    assert_eq!(remote.body, answer.body);
    // The dark preview: the same document with dark defaults first, same policy.
    let dark = api.get(&format!("/view/{hostile}.html?embed=1&dark=1")).await;
    assert_eq!(dark.header("content-security-policy"), Some(BLOCK_REMOTE));
    let dark = std::str::from_utf8(&dark.body).unwrap();
    assert!(dark.contains("<style>:root{color-scheme:dark}</style>") && !dark.contains("alert"), "{dark}");
    // Only `embed=1` asks for it.
    let not_embed = api.get(&format!("/view/{hostile}.html?embed=0")).await;
    assert_eq!(not_embed.body, api.get(&format!("/view/{hostile}.html")).await.body);

    // HEAD tells the count without the document, in both forms; `latest` is the hostile one.
    for uri in ["/view/latest.html", "/view/latest.html?embed=1"] {
        let head = api.request(Method::HEAD, uri, Body::empty(), &[]).await;
        assert_eq!(head.status, StatusCode::OK, "{uri}");
        assert_eq!(head.header("x-pigeonhole-remote-content"), Some("2"), "{uri}");
        assert!(head.body.is_empty(), "{uri}");
    }

    let simple = api.submit(&plain("Simple"), None).await;
    for uri in [format!("/view/{simple}.html"), format!("/view/{simple}.html?embed=1")] {
        assert_eq!(api.get(&uri).await.assert_error(StatusCode::NOT_FOUND), "Message has no HTML part", "{uri}");
    }

    // Viewing is not reading.
    assert!(api.read_flags().await.iter().all(|(_, read)| !read));
}

#[tokio::test]
async fn links_and_codes() {
    let api = Api::new().await;
    for uri in ["/api/v1/message/latest/links", "/api/v1/message/nope/links", "/api/v1/message/nope/codes"] {
        assert_eq!(api.get(uri).await.assert_error(StatusCode::NOT_FOUND), "Message not found", "{uri}");
    }

    let otp = concat!(
        "From: a@example.com\r\nTo: b@example.com\r\nSubject: Sign in\r\nMIME-Version: 1.0\r\n",
        "Content-Type: multipart/alternative; boundary=b\r\n\r\n",
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
        "Your verification code is 482913.\r\nOr open https://app.example.test/verify?c=482913 (valid 10 minutes).\r\n",
        "--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n",
        "<p>Your verification code is <b>482913</b>.</p>",
        "<p><a href=\"https://app.example.test/verify?c=482913&amp;u=7\">Verify</a>",
        "<a href=\"javascript:alert(1)\">x</a><img src=\"https://t.example.test/p.gif\"></p>\r\n",
        "--b--\r\n"
    );
    let otp_id = api.submit(otp.as_bytes(), None).await;
    let plain_id = api.submit(&plain("Order 2024"), None).await;

    let links = api.get_json(&format!("/api/v1/message/{otp_id}/links")).await;
    assert_eq!(
        links,
        json!({"Links": [
            {"URL": "https://app.example.test/verify?c=482913&u=7", "Text": "Verify"},
            {"URL": "https://app.example.test/verify?c=482913", "Text": ""},
        ]})
    );
    let codes = api.get_json(&format!("/api/v1/message/{otp_id}/codes")).await;
    assert_eq!(keys(&codes), set(&["Codes"]));
    assert_eq!(codes["Codes"].as_array().unwrap().len(), 1);
    assert_eq!(keys(&codes["Codes"][0]), set(&["Code", "Context"]));
    assert_eq!(codes["Codes"][0]["Code"], "482913");
    assert!(codes["Codes"][0]["Context"].as_str().unwrap().contains("verification code is 482913"));

    // `latest` is the plain message, which has neither; `?query=` finds the other.
    assert_eq!(api.get_json("/api/v1/message/latest/links").await, json!({"Links": []}));
    assert_eq!(api.get_json("/api/v1/message/latest/codes").await, json!({"Codes": []}));
    let by_query = api.get_json("/api/v1/message/latest/codes?query=subject%3A%22Sign%20in%22").await;
    assert_eq!(by_query["Codes"][0]["Code"], "482913");
    let missing = api.get("/api/v1/message/latest/links?query=subject%3ANothing").await;
    assert_eq!(missing.assert_error(StatusCode::NOT_FOUND), "Message not found");

    // Asking is not reading.
    assert!(api.read_flags().await.iter().all(|(_, read)| !read), "{plain_id}");
}

/// A MailHog `Message`'s key sets, all the way down, as mailhog/data marshals it.
fn assert_mailhog_message(message: &Value) {
    assert_eq!(keys(message), set(&["ID", "From", "To", "Content", "Created", "MIME", "Raw"]));
    let path_keys = set(&["Relays", "Mailbox", "Domain", "Params"]);
    assert_eq!(keys(&message["From"]), path_keys);
    for to in message["To"].as_array().unwrap() {
        assert_eq!(keys(to), path_keys);
    }
    assert_eq!(keys(&message["Content"]), set(&["Headers", "Body", "Size", "MIME"]));
    assert_eq!(message["Content"]["MIME"], Value::Null);
    assert_eq!(keys(&message["Raw"]), set(&["From", "To", "Data", "Helo"]));
    fn parts_keys(mime: &Value) {
        if mime.is_null() {
            return;
        }
        assert_eq!(keys(mime), set(&["Parts"]));
        for part in mime["Parts"].as_array().unwrap() {
            assert_eq!(keys(part), set(&["Headers", "Body", "Size", "MIME"]));
            parts_keys(&part["MIME"]);
        }
    }
    parts_keys(&message["MIME"]);
}

impl Api {
    /// A MailHog answer: 200, `text/json` as MailHog sends it, and its JSON.
    async fn get_mailhog(&self, uri: &str) -> Value {
        let answer = self.get(uri).await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}: {:?}", answer.body);
        assert_eq!(answer.header("content-type"), Some("text/json"));
        answer.json()
    }
}

#[tokio::test]
async fn mailhog_messages() {
    let api = Api::new().await;
    let empty = api.get_mailhog("/api/v2/messages").await;
    assert_eq!(empty, json!({"total": 0, "count": 0, "start": 0, "items": []}));

    let first = api.submit(&plain("First"), None).await;
    let multipart = api.submit(MULTIPART, None).await;
    let page = api.get_mailhog("/api/v2/messages").await;
    assert_eq!(keys(&page), set(&["total", "count", "start", "items"]));
    assert_eq!((page["total"].clone(), page["count"].clone(), page["start"].clone()), (json!(2), json!(2), json!(0)));
    let items = page["items"].as_array().unwrap();
    assert_eq!(items[0]["ID"], multipart.as_str());
    assert_eq!(items[1]["ID"], first.as_str());
    for item in items {
        assert_mailhog_message(item);
    }

    // What cypress-mailhog reads: the raw Subject, the body, the envelope.
    let plain_item = &items[1];
    assert_eq!(plain_item["Content"]["Headers"]["Subject"], json!(["First"]));
    assert_eq!(plain_item["Content"]["Body"], "Body of First\r\n");
    assert_eq!(plain_item["Content"]["Size"], plain("First").len());
    assert_eq!(plain_item["MIME"], Value::Null);
    assert_eq!(plain_item["From"], json!({"Relays": null, "Mailbox": "a", "Domain": "example.com", "Params": ""}));
    assert_eq!(plain_item["To"], json!([{"Relays": null, "Mailbox": "b", "Domain": "example.com", "Params": ""}]));
    assert_eq!(
        plain_item["Raw"],
        json!({
            "From": "a@example.com",
            "To": ["b@example.com"],
            "Data": String::from_utf8(plain("First")).unwrap(),
            "Helo": "client.example",
        })
    );
    let created = plain_item["Created"].as_str().unwrap();
    assert!(OffsetDateTime::parse(created, &time::format_description::well_known::Rfc3339).is_ok(), "{created}");

    // Headers as written (not decoded), folded ones joined; parts split at boundaries.
    let item = &items[0];
    assert_eq!(item["Content"]["Headers"]["Subject"], json!(["=?UTF-8?Q?Caf=C3=A9?= report =?UTF-8?B?8J+Qpg==?="]));
    assert_eq!(item["Content"]["Headers"]["X-Folded"], json!(["one two"]));
    let parts = item["MIME"]["Parts"].as_array().unwrap();
    assert_eq!(parts.len(), 3);
    let dispositions: Vec<&Value> = parts.iter().map(|p| &p["Headers"]["Content-Disposition"]).collect();
    assert_eq!(
        dispositions,
        [&Value::Null, &json!(["attachment; filename=\"report.pdf\""]), &json!(["attachment; filename=\"page.html\""])]
    );
    assert_eq!(parts[1]["Body"], "JVBERi0xLjQK");
    assert_eq!(parts[0]["MIME"]["Parts"].as_array().unwrap().len(), 2, "multipart/related inside");

    // MailHog's paging: start and limit, non-positive or non-numbers are the defaults.
    let page = api.get_mailhog("/api/v2/messages?start=1&limit=1").await;
    assert_eq!((page["total"].clone(), page["count"].clone(), page["start"].clone()), (json!(2), json!(1), json!(1)));
    assert_eq!(page["items"][0]["ID"], first.as_str());
    let page = api.get_mailhog("/api/v2/messages?start=-3&limit=0").await;
    assert_eq!((page["count"].clone(), page["start"].clone()), (json!(2), json!(0)));
}

#[tokio::test]
async fn mailhog_search() {
    let api = Api::new().await;
    let invoice = api.submit(&plain("Invoice March"), None).await;
    let other =
        b"From: Carol <carol@other.example>\r\nTo: Dave <dave@other.example>\r\nSubject: Lunch\r\n\r\nSoup?\r\n";
    let envelope = Envelope {
        mail_from: "bounces@other.example".into(),
        rcpt_to: vec!["dave@other.example".into(), "hidden@bcc.example".into()],
        ..Envelope::default()
    };
    let message = NewMessage { raw: other.to_vec(), envelope, received_at: OffsetDateTime::now_utc() };
    let lunch = api.state.store.submit(message).await.unwrap();

    let page = api.get_mailhog("/api/v2/search?kind=from&query=carol@other").await;
    assert_eq!(keys(&page), set(&["total", "count", "start", "items"]));
    assert_eq!((page["total"].clone(), page["count"].clone()), (json!(1), json!(1)));
    assert_mailhog_message(&page["items"][0]);
    // As in MailHog: the envelope's or the header's addresses, any part, any case.
    for (query, expected) in [
        ("kind=from&query=carol@other", &lunch),
        ("kind=from&query=BOUNCES@", &lunch),
        ("kind=from&query=a@example.com", &invoice),
        ("kind=to&query=hidden@bcc.example", &lunch),
        ("kind=to&query=Dave", &lunch),
        ("kind=to&query=B@EXAMPLE.COM", &invoice),
        ("kind=containing&query=soup", &lunch),
        ("kind=containing&query=invoice%20march", &invoice),
    ] {
        let page = api.get_mailhog(&format!("/api/v2/search?{query}")).await;
        let ids: Vec<&str> = page["items"].as_array().unwrap().iter().map(|m| m["ID"].as_str().unwrap()).collect();
        assert_eq!(ids, [expected.as_str()], "{query}");
    }
    let page = api.get_mailhog("/api/v2/search?kind=to&query=example&limit=1").await;
    assert_eq!((page["total"].clone(), page["count"].clone()), (json!(2), json!(1)));
    let page = api.get_mailhog("/api/v2/search?kind=from&query=nobody").await;
    assert_eq!(page, json!({"total": 0, "count": 0, "start": 0, "items": []}));

    let message = api.get("/api/v2/search?kind=subject&query=x").await.assert_error(StatusCode::BAD_REQUEST);
    assert!(message.contains("from, to or containing"), "{message}");
    let message = api.get("/api/v2/search?kind=to&query=").await.assert_error(StatusCode::BAD_REQUEST);
    assert!(message.contains("?query="), "{message}");
}

#[tokio::test]
async fn mailhog_single_message() {
    let api = Api::new().await;
    let id = api.submit(&plain("One"), None).await;
    let message = api.get_mailhog(&format!("/api/v1/messages/{id}")).await;
    assert_mailhog_message(&message);
    assert_eq!(message["ID"], id.as_str());

    let answer = api.request(Method::DELETE, &format!("/api/v1/messages/{id}"), Body::empty(), &[]).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert!(answer.body.is_empty());
    api.get(&format!("/api/v1/messages/{id}")).await.assert_error(StatusCode::NOT_FOUND);
    assert_eq!(api.get_mailhog("/api/v2/messages").await["total"], 0);
}

#[tokio::test]
async fn thumbnail_is_a_180_by_120_jpeg() {
    use base64::Engine as _;
    let api = Api::new().await;
    let mut png = Vec::new();
    image::RgbImage::from_pixel(600, 200, image::Rgb([0, 128, 0]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let raw = format!(
        "From: a@example.com\r\nTo: b@example.com\r\nSubject: picture\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSee attached\r\n\
         --b\r\nContent-Type: image/png\r\nContent-Disposition: attachment; filename=\"green.png\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
        base64::engine::general_purpose::STANDARD.encode(&png)
    );
    let id = api.submit(raw.as_bytes(), None).await;

    for part in ["2", "1"] {
        // The image, and the text part (not an image: a blank frame).
        let thumb = api.get(&format!("/api/v1/message/{id}/part/{part}/thumb")).await;
        assert_eq!((thumb.status, thumb.header("content-type")), (StatusCode::OK, Some("image/jpeg")));
        assert_eq!(image::guess_format(&thumb.body).unwrap(), image::ImageFormat::Jpeg);
        let decoded = image::load_from_memory(&thumb.body).unwrap().to_rgb8();
        assert_eq!(decoded.dimensions(), (180, 120));
        let centre = decoded.get_pixel(90, 60).0;
        let expected = if part == "2" { [0, 128, 0] } else { [255, 255, 255] };
        assert!(centre.iter().zip(expected).all(|(a, b)| a.abs_diff(b) < 12), "part {part}: {centre:?}");
    }
    let missing = api.get(&format!("/api/v1/message/{id}/part/7/thumb")).await;
    assert_eq!(missing.assert_error(StatusCode::NOT_FOUND), "Part not found");
    let missing = api.get("/api/v1/message/nope/part/2/thumb").await;
    assert_eq!(missing.assert_error(StatusCode::NOT_FOUND), "Message not found");
}

#[tokio::test]
async fn html_check_reports_caniemail_features() {
    let api = Api::new().await;
    let html = "From: a@example.com\r\nTo: b@example.com\r\nSubject: styled\r\nContent-Type: text/html\r\n\r\n\
                <div style=\"display: flex; border-radius: 4px\"><svg></svg><p>Hi</p></div>\r\n";
    let id = api.submit(html.as_bytes(), None).await;
    let report = api.get_json(&format!("/api/v1/message/{id}/html-check")).await;
    assert_eq!(keys(&report), set(&["Platforms", "Total", "Warnings"]));
    assert_eq!(keys(&report["Total"]), set(&["Nodes", "Tests", "Supported", "Partial", "Unsupported"]));
    assert!(report["Platforms"]["desktop-webmail"].as_array().unwrap().iter().any(|f| f == "Gmail"));
    assert_eq!(report["Total"]["Nodes"], 3);
    let warnings = report["Warnings"].as_array().unwrap();
    let slugs: BTreeSet<&str> = warnings.iter().map(|w| w["Slug"].as_str().unwrap()).collect();
    assert_eq!(
        slugs,
        BTreeSet::from(["css-display", "css-display-flex", "css-border-radius", "css-unit-px", "html-svg"])
    );
    for warning in warnings {
        let warning_keys = [
            "Slug",
            "Title",
            "Description",
            "Category",
            "Keywords",
            "Tags",
            "URL",
            "NotesByNumber",
            "Score",
            "Results",
        ];
        assert_eq!(keys(warning), set(&warning_keys));
        assert_eq!(keys(&warning["Score"]), set(&["Found", "Supported", "Partial", "Unsupported"]));
    }
    let result = warnings.iter().find_map(|w| w["Results"].as_array().and_then(|r| r.first())).unwrap();
    assert_eq!(keys(result), set(&["Name", "Family", "Platform", "Version", "Support", "NoteNumber"]));
    // The message is not marked read.
    assert_eq!(api.read_flags().await, vec![(id, false)]);

    let plain = api.submit(&plain("no html"), None).await;
    let error = api.get(&format!("/api/v1/message/{plain}/html-check")).await.assert_error(StatusCode::BAD_REQUEST);
    assert_eq!(error, "message does not contain HTML");
    let missing = api.get("/api/v1/message/nope/html-check").await.assert_error(StatusCode::NOT_FOUND);
    assert_eq!(missing, "Message not found");
}

/// A site for the link check: 200, 404, a redirect, and a page that refuses HEAD.
async fn link_site() -> std::net::SocketAddr {
    use axum::http::Method as HttpMethod;
    use axum::response::Redirect;
    use axum::routing::{any, get};
    let site = Router::new()
        .route("/ok", get(|| async { "fine" }))
        .route("/moved", get(|| async { Redirect::temporary("/ok") }))
        .route(
            "/get-only",
            any(|method: HttpMethod| async move {
                if method == HttpMethod::HEAD { StatusCode::METHOD_NOT_ALLOWED } else { StatusCode::OK }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, site).await.unwrap() });
    address
}

#[tokio::test]
async fn link_check_asks_each_link() {
    let mut api = Api::new().await;
    let site = link_site().await;
    let raw = format!(
        "From: a@example.com\r\nTo: b@example.com\r\nSubject: links\r\nContent-Type: text/html\r\n\r\n\
         <a href=\"http://{site}/ok\">ok</a> <a href=\"http://{site}/missing\">gone</a>\r\n\
         <a href=\"http://{site}/moved\">moved</a> <a href=\"http://{site}/get-only\">get</a>\r\n\
         <a href=\"mailto:x@example.com\">mail</a> <img src=\"http://{site}/ok\">\r\n"
    );
    let id = api.submit(raw.as_bytes(), None).await;
    let statuses = |report: &Value| -> Vec<(String, u64, String)> {
        report["Links"]
            .as_array()
            .unwrap()
            .iter()
            .map(|link| {
                assert_eq!(keys(link), set(&["URL", "StatusCode", "Status"]));
                let path = link["URL"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
                (path, link["StatusCode"].as_u64().unwrap(), link["Status"].as_str().unwrap().to_string())
            })
            .collect()
    };

    // Off by default: the test site is on this machine.
    let refused = api.get_json(&format!("/api/v1/message/{id}/link-check")).await;
    assert_eq!(keys(&refused), set(&["Errors", "Links"]));
    assert_eq!(refused["Errors"], 4);
    for (_, code, status) in statuses(&refused) {
        assert_eq!(code, 0);
        assert!(status.starts_with("refused: loopback address (127.0.0.1)"), "{status}");
        assert!(status.contains("--allow-local-link-check"), "{status}");
    }

    api.router = router(api.state.clone().with_local_link_check(true));
    let checked = api.get_json(&format!("/api/v1/message/{id}/link-check")).await;
    assert_eq!(
        statuses(&checked),
        [
            ("ok".to_string(), 200, "OK".to_string()),
            ("missing".to_string(), 404, "Not Found".to_string()),
            ("moved".to_string(), 307, "Temporary Redirect".to_string()),
            ("get-only".to_string(), 200, "OK".to_string()),
        ]
    );
    assert_eq!(checked["Errors"], 1);
    for follow in ["true", "1"] {
        let followed = api.get_json(&format!("/api/v1/message/latest/link-check?follow={follow}")).await;
        assert_eq!(statuses(&followed)[2], ("moved".to_string(), 200, "OK".to_string()));
    }
    assert_eq!(
        api.get("/api/v1/message/nope/link-check").await.assert_error(StatusCode::NOT_FOUND),
        "Message not found"
    );
}

#[tokio::test]
async fn tags_list_set_rename_delete() {
    let api = Api::new().await;
    let mut events = api.state.events.subscribe();
    let tagged = b"From: a@example.com\r\nTo: user+signup@example.com\r\nX-Tags: Big Deal\r\nSubject: T\r\n\r\nhi\r\n";
    let a = api.submit(tagged, None).await;
    let b = api.submit(&plain("Untagged"), None).await;

    let answer = api.get("/api/v1/tags").await;
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.json(), json!(["Big Deal", "signup"]));
    let page = api.get_json("/api/v1/messages").await;
    assert_eq!(keys(&page), set(PAGE_KEYS));
    assert_eq!(page["tags"], json!(["Big Deal", "signup"]));
    assert_eq!(page["messages"][1]["Tags"], json!(["Big Deal", "signup"]));
    assert_eq!(page["messages"][0]["Tags"], json!([]));
    let message = api.get_json(&format!("/api/v1/message/{a}")).await;
    assert_eq!(keys(&message), set(MESSAGE_KEYS));
    assert_eq!(message["Tags"], json!(["Big Deal", "signup"]));
    let found = api.get_json("/api/v1/search?query=tag%3A%22big%20deal%22").await;
    assert_eq!(found["messages_count"], 1);
    assert_eq!(api.get_json("/api/v1/info").await["Tags"], json!({"Big Deal": 1, "signup": 1}));

    // Set (keys in any case), then the update event in Mailpit's shape.
    while events.try_recv().is_ok() {}
    let set_both = json!({"ids": [a, b], "tags": ["Big Deal", "urgent"]});
    assert_ok(&api.send_json(Method::PUT, "/api/v1/tags", set_both).await);
    let update = serde_json::to_value(events.try_recv().unwrap()).unwrap();
    assert_eq!(update, json!({"Type": "update", "Data": {"ID": a, "Tags": ["Big Deal", "urgent"]}}));
    assert_eq!(api.get_json("/api/v1/info").await["Tags"], json!({"Big Deal": 2, "urgent": 2}));
    // No IDs: nothing to do, still ok.
    assert_ok(&api.send_json(Method::PUT, "/api/v1/tags", json!({"Tags": ["x"]})).await);

    // Rename through a URL-encoded path; delete; the messages stay.
    assert_ok(&api.send_json(Method::PUT, "/api/v1/tags/big%20deal", json!({"name": "Huge"})).await);
    assert_eq!(api.get_json("/api/v1/tags").await, json!(["Huge", "urgent"]));
    assert_ok(&api.request(Method::DELETE, "/api/v1/tags/urgent", Body::empty(), &[]).await);
    assert_eq!(api.get_json("/api/v1/tags").await, json!(["Huge"]));
    assert_eq!(api.get_json("/api/v1/messages").await["messages_count"], 2);
    // Empty Tags clears.
    assert_ok(&api.send_json(Method::PUT, "/api/v1/tags", json!({"IDs": [a, b], "Tags": []})).await);
    assert_eq!(api.get_json("/api/v1/tags").await, json!([]));

    let missing = api.send_json(Method::PUT, "/api/v1/tags/nope", json!({"Name": "x"})).await;
    assert!(missing.assert_error(StatusCode::NOT_FOUND).contains("no tag named \"nope\""));
    let gone = api.request(Method::DELETE, "/api/v1/tags/nope", Body::empty(), &[]).await;
    assert!(gone.assert_error(StatusCode::NOT_FOUND).contains("GET /api/v1/tags"));
    assert_ok(&api.send_json(Method::PUT, "/api/v1/tags", json!({"IDs": [a], "Tags": ["t"]})).await);
    let invalid = api.send_json(Method::PUT, "/api/v1/tags/t", json!({"Name": "@@"})).await;
    assert!(invalid.assert_error(StatusCode::BAD_REQUEST).contains("invalid tag name \"@@\""));
    let unnamed = api.send_json(Method::PUT, "/api/v1/tags/t", json!({})).await;
    unnamed.assert_error(StatusCode::BAD_REQUEST);
    for body in ["{", "[1]"] {
        api.request(Method::PUT, "/api/v1/tags", body, &[]).await.assert_error(StatusCode::BAD_REQUEST);
    }
    let bad_type = api.send_json(Method::PUT, "/api/v1/tags", json!({"IDs": [a], "Tags": "t"})).await;
    assert!(bad_type.assert_error(StatusCode::BAD_REQUEST).contains("Tags"));
    assert_eq!(api.get_json("/api/v1/tags").await, json!(["t"]));
}

/// The UI's document carries the whole policy and its companions, exactly; its
/// assets and the API do not need them (and `/view/` has its own, `view_html_part`).
#[tokio::test]
async fn the_ui_document_has_a_strict_policy() {
    let api = Api::new().await;
    let page = api.get("/").await;
    assert_eq!(page.status, StatusCode::OK);
    let policy = page.header("content-security-policy").unwrap();
    let directives: std::collections::BTreeMap<&str, &str> =
        policy.split(';').map(|d| d.trim().split_once(' ').unwrap_or((d.trim(), ""))).collect();
    let expected = std::collections::BTreeMap::from([
        ("default-src", "'self'"),
        ("script-src", "'self'"),
        ("style-src", "'self' 'unsafe-inline'"),
        ("img-src", "'self' data: blob:"),
        ("connect-src", "'self' ipc: http://ipc.localhost"),
        ("worker-src", "'self'"),
        ("object-src", "'none'"),
        ("base-uri", "'none'"),
        ("form-action", "'none'"),
        ("frame-ancestors", "'none'"),
        ("frame-src", "'self'"),
    ]);
    assert_eq!(directives, expected, "{policy}");
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    // No inline script in the built page: `script-src 'self'` would refuse it.
    let html = String::from_utf8_lossy(&page.body).to_ascii_lowercase();
    for script in html.split("<script").skip(1) {
        let tag = script.split('>').next().unwrap();
        assert!(tag.contains("src=\"/"), "an inline or foreign script in index.html: <script{tag}>");
    }
    // A deep link is the same document with the same headers.
    let deep = api.get("/some/deep/link").await;
    assert_eq!(deep.header("content-security-policy"), Some(policy));
    assert_eq!(deep.header("x-frame-options"), Some("DENY"));

    // The extra frame sources are checked tokens: nothing can end a directive early.
    assert!(super::ui_policy(&["isolation-1: ; script-src *".into()]).is_none());
    assert!(super::ui_policy(&["isolation-1:".into(), ";".into()]).is_none());
    assert!(super::ui_policy(&["evil'".into()]).is_none());
    let desktop = super::ui_policy(&["isolation-1:".into()]).unwrap();
    assert!(desktop.to_str().unwrap().ends_with("frame-src 'self' isolation-1:"), "{desktop:?}");
}
