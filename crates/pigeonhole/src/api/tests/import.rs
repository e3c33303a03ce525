//! /api/v1/import (import.rs): .eml and mbox bytes in, anything else refused.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::json;

use super::{Api, keys, plain, set};
use crate::config::HttpLimits;
use crate::model::event;

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
