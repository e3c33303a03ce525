//! POST /api/v1/send (send.rs).

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::{Api, keys, set};
use crate::model::event;

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
               "Helo": "pigeonhole-api", "Peer": "api", "Tls": false, "AuthUser": null, "Transcript": "",
               "Api": null, "Simulation": null})
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
