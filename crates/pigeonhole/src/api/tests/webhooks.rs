//! /api/v1/webhooks, its log and SNS certificate, and POST /api/v1/message/{ID}/events
//! (webhooks.rs), with a real webhook worker over the test store's folder.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::{Api, keys, plain, set};
use crate::api::router;
use crate::config::MessageWebhookConfig;
use crate::login::Users;
use crate::model::{ApiRequest, Envelope, NewMessage};
use crate::providers::webhooks::Webhooks;

async fn api() -> Api {
    let mut api = Api::new().await;
    let webhooks = Webhooks::start(api.dir.path(), "http://127.0.0.1:8025", &MessageWebhookConfig::default()).unwrap();
    api.state = api.state.clone().with_webhooks(webhooks);
    api.router = router(api.state.clone());
    api
}

/// Store a message as the Postmark API would have: its envelope names the request.
async fn submit_through_postmark(api: &Api) -> String {
    let envelope = Envelope {
        mail_from: "app@sender.test".into(),
        rcpt_to: vec!["one@example.test".into(), "two@example.test".into()],
        helo: "postmark-api".into(),
        peer: "127.0.0.1:5555".into(),
        auth_user: Some("postmark:server".into()),
        api: Some(ApiRequest {
            provider: "postmark".into(),
            provider_message_id: "b7bc2f4a-e38e-4336-af7d-e6c392c2f817".into(),
            request: "POST /email HTTP/1.1".into(),
        }),
        ..Envelope::default()
    };
    let message = NewMessage { raw: plain("Welcome"), envelope, received_at: OffsetDateTime::now_utc() };
    api.state.store.submit(message).await.unwrap().into_string()
}

/// Point Postmark's webhook at a port nobody listens on, one attempt.
async fn postmark_to_nowhere(api: &Api) {
    let change = json!({
        "Webhooks": [{"Provider": "postmark", "URL": "http://127.0.0.1:9/hook", "Enabled": true, "Headers": {}}],
        "Retries": {"Attempts": 1, "FirstDelayMillis": 10, "TimeoutMillis": 2000},
    });
    let answer = api.send_json(Method::PUT, "/api/v1/webhooks", change).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
}

#[tokio::test]
async fn settings_show_every_provider_and_its_verification_key() {
    let api = api().await;
    let view = api.get_json("/api/v1/webhooks").await;
    assert_eq!(keys(&view), set(&["Webhooks", "Retries", "MessageWebhooks", "MessageSigningSecret", "MessageLimit"]));
    let providers: Vec<_> = view["Webhooks"].as_array().unwrap().iter().map(|w| w["Provider"].clone()).collect();
    assert_eq!(providers, [json!("sendgrid"), json!("postmark"), json!("mailgun"), json!("ses"), json!("resend")]);
    for webhook in view["Webhooks"].as_array().unwrap() {
        let mut expected = vec!["Provider", "URL", "Enabled", "Headers", "VerificationKey"];
        if webhook["Provider"] == "ses" {
            expected.push("SubscriptionConfirmed");
        }
        assert_eq!(keys(webhook), set(&expected));
        assert_eq!(webhook["Enabled"], false);
    }
    assert_eq!(view["Webhooks"][3]["SubscriptionConfirmed"], false);
    assert!(
        view["Webhooks"][0]["VerificationKey"].as_str().unwrap().starts_with("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE")
    );
    assert_eq!(view["Webhooks"][1]["VerificationKey"], Value::Null);
    assert_eq!(view["Webhooks"][3]["VerificationKey"], "http://127.0.0.1:8025/api/v1/webhooks/sns-certificate.pem");
    assert!(view["Webhooks"][4]["VerificationKey"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(view["Retries"], json!({"Attempts": 5, "FirstDelayMillis": 1000, "TimeoutMillis": 10000}));
}

/// Message webhooks through the API: a PUT's list is saved with an ID made for
/// each, shown by GET with the signing secret; a bad one is a 400; the log
/// filters by webhook.
#[tokio::test]
async fn message_webhooks_are_set_and_shown() {
    let api = api().await;
    let change = json!({
        "Webhooks": [],
        "MessageWebhooks": [{"URL": "http://127.0.0.1:9/mail", "Enabled": true, "Inbox": "shop", "Query": "subject:invoice"}],
    });
    let answer = api.send_json(Method::PUT, "/api/v1/webhooks", change).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    let view = api.get_json("/api/v1/webhooks").await;
    let hooks = view["MessageWebhooks"].as_array().unwrap();
    assert_eq!(hooks.len(), 1);
    assert_eq!(keys(&hooks[0]), set(&["ID", "URL", "Enabled", "Inbox", "Query", "Headers", "CommandLine"]));
    assert_eq!((&hooks[0]["Inbox"], &hooks[0]["Query"]), (&json!("shop"), &json!("subject:invoice")));
    assert!(!hooks[0]["ID"].as_str().unwrap().is_empty());
    assert!(view["MessageSigningSecret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(view["MessageLimit"], 5);
    let webhook = hooks[0]["ID"].as_str().unwrap();
    let log = api.get_json(&format!("/api/v1/webhooks/log?webhook={webhook}")).await;
    assert_eq!(log, json!([]));

    let bad = json!({"Webhooks": [], "MessageWebhooks": [{"URL": "gopher://x/", "Enabled": true}]});
    let answer = api.send_json(Method::PUT, "/api/v1/webhooks", bad).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(api.get_json("/api/v1/webhooks").await["MessageWebhooks"], view["MessageWebhooks"]);
}

#[tokio::test]
async fn put_changes_the_listed_providers_and_refuses_bad_ones() {
    let api = api().await;
    let change = json!({"Webhooks": [{
        "Provider": "resend", "URL": "https://hooks.app.test/resend", "Enabled": true, "Headers": {},
        "VerificationKey": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    }]});
    let answer = api.send_json(Method::PUT, "/api/v1/webhooks", change).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    let view = api.get_json("/api/v1/webhooks").await;
    assert_eq!(view["Webhooks"][4]["URL"], "https://hooks.app.test/resend");
    assert_eq!(view["Webhooks"][4]["VerificationKey"], "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    assert_eq!(view["Webhooks"][0]["URL"], "", "the others stay");

    for bad in [
        json!({"Webhooks": [{"Provider": "sendgrid", "URL": "file:///etc/passwd", "Enabled": true, "Headers": {}}]}),
        json!({"Webhooks": [{"Provider": "gmail", "URL": "", "Enabled": true, "Headers": {}}]}),
        json!({"Webhooks": "all"}),
        json!({"Webhooks": [], "Retries": {"Attempts": 0, "FirstDelayMillis": 1, "TimeoutMillis": 1}}),
    ] {
        api.send_json(Method::PUT, "/api/v1/webhooks", bad).await.assert_error(StatusCode::BAD_REQUEST);
    }
    assert_eq!(api.get_json("/api/v1/webhooks").await, view);
}

/// Opens and clicks are for provider mail only; for it, one delivery per
/// recipient lands in the log, which answers per message.
#[tokio::test]
async fn open_and_click_events_on_request() {
    let api = api().await;
    postmark_to_nowhere(&api).await;
    let smtp = api.submit(&plain("smtp"), None).await;
    let refused =
        api.send_json(Method::POST, &format!("/api/v1/message/{smtp}/events"), json!({"Event": "open"})).await;
    assert!(refused.assert_error(StatusCode::BAD_REQUEST).contains("not sent through a provider API"));

    let id = submit_through_postmark(&api).await;
    let uri = format!("/api/v1/message/{id}/events");
    for bad in [json!({"Event": "opened"}), json!({"Event": "click"}), json!({"URL": "x"})] {
        api.send_json(Method::POST, &uri, bad).await.assert_error(StatusCode::BAD_REQUEST);
    }
    let missing = api.send_json(Method::POST, "/api/v1/message/nope/events", json!({"Event": "open"})).await;
    missing.assert_error(StatusCode::NOT_FOUND);

    let answer = api.send_json(Method::POST, &uri, json!({"Event": "bounce"})).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{:?}", answer.body);
    let answer = api.send_json(Method::POST, &uri, json!({"Event": "click", "URL": "https://app.test/a"})).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{:?}", answer.body);

    let deadline = Instant::now() + Duration::from_secs(10);
    let log = loop {
        let log = api.get_json(&format!("/api/v1/webhooks/log?message={id}")).await;
        let done = log.as_array().unwrap().iter().filter(|d| d["State"] == "failed").count();
        if done == 4 {
            break log;
        }
        assert!(Instant::now() < deadline, "{log}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let delivery = &log[0];
    assert_eq!(
        keys(delivery),
        set(&["ID", "MessageID", "Provider", "Event", "Recipient", "URL", "State", "Payload", "Attempts"])
    );
    assert_eq!((&delivery["Provider"], &delivery["Event"]), (&json!("postmark"), &json!("clicked")));
    let payload: Value = serde_json::from_str(delivery["Payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload["RecordType"], "Click");
    assert_eq!(payload["OriginalLink"], "https://app.test/a");
    let attempt = &delivery["Attempts"][0];
    assert_eq!(keys(attempt), set(&["Time", "Status", "Response", "Error", "DurationMillis"]));
    assert_eq!(attempt["Status"], Value::Null);
    assert!(attempt["Error"].as_str().unwrap().contains("onnect"), "{attempt}");
    let events: Vec<_> = log.as_array().unwrap().iter().map(|d| d["Event"].as_str().unwrap()).collect();
    assert_eq!(events.len(), 4);
    assert_eq!(events.iter().filter(|e| **e == "bounced").count(), 2, "one per recipient: {events:?}");
    let bounce: Value = serde_json::from_str(log[3]["Payload"].as_str().unwrap()).unwrap();
    assert_eq!((&bounce["RecordType"], &bounce["Type"]), (&json!("Bounce"), &json!("HardBounce")));
    assert_eq!(bounce["Details"], "smtp;550 5.1.1 The email account does not exist");

    assert_eq!(api.get_json(&format!("/api/v1/webhooks/log?message={smtp}")).await, json!([]));
    api.get("/api/v1/webhooks/log?message=..%2Fx").await.assert_error(StatusCode::BAD_REQUEST);
}

/// SNS's certificate is served as PEM, also past the UI's basic auth (apps fetch
/// it without the UI's password); the settings are not.
#[tokio::test]
async fn the_sns_certificate_and_subscription_actions_are_public() {
    let mut api = api().await;
    let users = api.dir.path().join("users");
    std::fs::write(&users, "bob:plain-pw\n").unwrap();
    api.router = router(api.state.clone().with_auth(Some(Users::load(&users).unwrap())));
    let answer = api.get("/api/v1/webhooks/sns-certificate.pem").await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    assert_eq!(answer.header("content-type"), Some("application/x-pem-file"));
    assert!(answer.body.starts_with(b"-----BEGIN CERTIFICATE-----"));
    // SNS's SubscribeURL too (the app visits it with no password): a wrong token is
    // SNS's own 400, not the UI's 401.
    let confirm = api.get("/api/v1/webhooks/sns?Action=ConfirmSubscription&TopicArn=arn&Token=guess").await;
    assert_eq!(confirm.status, StatusCode::BAD_REQUEST, "{:?}", confirm.body);
    assert!(String::from_utf8_lossy(&confirm.body).contains("<Code>InvalidParameter</Code>"));
    let settings = api.request(Method::GET, "/api/v1/webhooks", Body::empty(), &[]).await;
    assert_eq!(settings.status, StatusCode::UNAUTHORIZED);
}
