//! The router against a real store on a temporary SQLite database: every route, its
//! statuses and exact JSON key sets, and the guard. The WebSocket test runs over a
//! real socket.
//!
//! This module is the harness they share (`Api`: a router over a fresh store, its
//! requests and their `Answer`s) and the fixtures; the tests sit in one file per
//! handler file of `api/`, named after it.

mod checks;
mod diff;
mod event_stream;
mod export;
mod guard;
mod import;
mod inboxes;
mod info;
mod intake;
mod links;
mod mailhog;
mod message;
mod messages;
mod providers;
mod rules;
mod send;
mod tags;
mod ui;
mod view;
mod webhooks;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes, to_bytes};
use axum::http::{HeaderMap, HeaderName, Method, Request, StatusCode};
use serde_json::Value;
use tempfile::TempDir;
use time::OffsetDateTime;
use tower::ServiceExt;

use super::{ApiState, router};
use crate::config::StoreConfig;
use crate::model::{Envelope, EventSender, NewMessage, event};
use crate::store::Store;

const HOST: &str = "127.0.0.1:8025";

/// A text and an HTML body, an inline image, a PDF and an HTML attachment, and
/// List-Unsubscribe headers: the fixture the mail view tests use too.
const MULTIPART: &[u8] = include_bytes!("../../mail/testdata/multipart.eml");

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
        Api::with_store(|dir, events| Store::open(dir, StoreConfig::default(), events).unwrap()).await
    }

    /// [`Api::new`] over the store `open` opens in the data folder (one whose
    /// disk fills up …).
    pub(super) async fn with_store(open: impl FnOnce(&Path, EventSender) -> Store) -> Api {
        let dir = TempDir::new().unwrap();
        let events = event::channel();
        let store = open(dir.path(), events.clone());
        let intake = Arc::new(crate::smtp::Intake::new(events.clone()));
        let state = ApiState::new(store, events, Default::default(), intake);
        Api { dir, router: router(state.clone()), state }
    }

    pub(super) async fn submit(&self, raw: &[u8], auth_user: Option<&str>) -> String {
        self.submit_received(raw, auth_user, OffsetDateTime::now_utc()).await
    }

    /// [`Api::submit`], as received at `received_at`.
    pub(super) async fn submit_received(
        &self,
        raw: &[u8],
        auth_user: Option<&str>,
        received_at: OffsetDateTime,
    ) -> String {
        let envelope = Envelope {
            mail_from: "a@example.com".into(),
            rcpt_to: vec!["b@example.com".into()],
            helo: "client.example".into(),
            peer: "127.0.0.1:5555".into(),
            tls: false,
            auth_user: auth_user.map(Into::into),
            transcript: "C: EHLO client.example\nS: 250 ok\n".into(),
            api: None,
            simulation: None,
        };
        let message = NewMessage { raw: raw.to_vec(), envelope, received_at };
        self.state.store.submit(message).await.unwrap().into_string()
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
