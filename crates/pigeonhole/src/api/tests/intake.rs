//! /api/v1/intake (intake.rs): pausing and resuming the SMTP intake.

use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{Api, HOST};
use crate::api::router;

#[tokio::test]
async fn intake_pauses_and_resumes() {
    let api = Api::new().await;
    let mut events = api.state.events.subscribe();
    // The SMTP address is unknown to a router that was not told it.
    assert_eq!(
        api.get_json("/api/v1/intake").await,
        json!({"Paused": false, "SMTPAddress": "", "POP3Address": "", "IMAPAddress": "", "IMAPImplicitTLS": false})
    );
    let paused = api.send_json(Method::PUT, "/api/v1/intake", json!({"paused": true})).await;
    assert_eq!(
        paused.json(),
        json!({"Paused": true, "SMTPAddress": "", "POP3Address": "", "IMAPAddress": "", "IMAPImplicitTLS": false})
    );
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

    let told = router(
        api.state
            .clone()
            .with_smtp_address("127.0.0.1:2525".parse().unwrap())
            .with_pop3_address(Some("127.0.0.1:1110".parse().unwrap()))
            .with_imap_address(Some(("127.0.0.1:1143".parse().unwrap(), true))),
    );
    let request = Request::get("/api/v1/intake").header("host", HOST).body(Body::empty()).unwrap();
    let body = to_bytes(told.oneshot(request).await.unwrap().into_body(), usize::MAX).await.unwrap();
    let body = serde_json::from_slice::<Value>(&body).unwrap();
    assert_eq!(body["SMTPAddress"], "127.0.0.1:2525");
    assert_eq!(body["POP3Address"], "127.0.0.1:1110");
    assert_eq!(body["IMAPAddress"], "127.0.0.1:1143");
    assert_eq!(body["IMAPImplicitTLS"], true);
}
