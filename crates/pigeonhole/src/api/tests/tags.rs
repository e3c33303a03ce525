//! /api/v1/tags (tags.rs): listing, setting, renaming and deleting tags.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::json;

use super::{Api, MESSAGE_KEYS, assert_ok, keys, plain, set};
use crate::model::message::PAGE_KEYS;

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
