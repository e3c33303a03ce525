//! /api/v1/export (export.rs): the messages as mboxrd.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::{Api, MULTIPART, plain};
use crate::mail::mbox;

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
