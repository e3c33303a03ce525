//! The webhooks against real receivers: an axum server on loopback records what
//! arrives and answers as each test scripts it; signatures are checked with ring's
//! verifiers and the documented algorithms; the settings file on a real folder.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::signature::{self, UnparsedPublicKey};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::delivery::DeliveryState;
use super::keys::Keys;
use super::payload;
use super::settings::Retries;
use super::sns::{self, NotificationContext, SnsUrls, Subscription};
use super::*;
use crate::model::{Address, ApiRequest, Envelope, MessageId};

/// What a receiver got: each request's headers and body.
pub(super) type Received = Arc<Mutex<Vec<(HeaderMap, Bytes, Instant)>>>;

/// A receiver's answers to come: a status, or `None` for never answering.
type Script = Arc<Mutex<VecDeque<Option<u16>>>>;

/// A receiver on loopback answering each request with the next scripted status
/// (200 once the script runs out); `None` in the script: never answer.
pub(super) async fn receiver(script: Vec<Option<u16>>) -> (String, Received) {
    let received: Received = Arc::default();
    let script = Arc::new(Mutex::new(VecDeque::from(script)));
    let answer = |State((received, script)): State<(Received, Script)>, headers: HeaderMap, body: Bytes| async move {
        received.lock().unwrap().push((headers, body, Instant::now()));
        let next = script.lock().unwrap().pop_front().unwrap_or(Some(200));
        match next {
            // A 3xx points elsewhere on this receiver: it must not be followed.
            Some(status) => {
                let location = if (300..400).contains(&status) { "/elsewhere" } else { "" };
                let headers = [("location", location)].into_iter().filter(|(_, l)| !l.is_empty());
                let headers: HeaderMap = headers.map(|(n, v)| (n.parse().unwrap(), v.parse().unwrap())).collect();
                (StatusCode::from_u16(status).unwrap(), headers, format!("answer {status}"))
            }
            None => std::future::pending().await,
        }
    };
    let app = Router::new().fallback(post(answer)).with_state((received.clone(), script));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

fn summary(id: &MessageId) -> MessageSummary {
    MessageSummary {
        id: id.clone(),
        message_id: "<m1@app.test>".into(),
        read: false,
        from: Address { name: "App".into(), address: "app@sender.test".into() },
        to: vec![Address { name: String::new(), address: "user@example.test".into() }],
        cc: vec![],
        bcc: vec![],
        reply_to: vec![],
        // Hostile text: must arrive as JSON string data.
        subject: "Hi \"there\" </script>\u{0}".into(),
        created: OffsetDateTime::now_utc(),
        username: "sendgrid:test".into(),
        tags: vec!["welcome".into()],
        size: 100,
        attachments: 0,
        snippet: String::new(),
        inbox: String::new(),
    }
}

fn envelope(provider: &str) -> Envelope {
    Envelope {
        mail_from: "bounces@sender.test".into(),
        rcpt_to: vec!["user@example.test".into()],
        helo: format!("{provider}-api"),
        peer: "127.0.0.1:5555".into(),
        api: Some(ApiRequest {
            provider: provider.into(),
            provider_message_id: "pm-123".into(),
            request: "POST /x".into(),
        }),
        ..Envelope::default()
    }
}

fn event(provider: &str, kind: EventKind, detail: Detail) -> ProviderEvent {
    let id = MessageId::generate(1_700_000_000_000);
    ProviderEvent::new(kind, &id, &envelope(provider), &summary(&id), "user@example.test", detail).unwrap()
}

fn keys() -> Keys {
    let mut keys = Keys::default();
    keys.fill().unwrap();
    keys
}

fn header<'a>(outgoing: &'a payload::Outgoing, name: &str) -> &'a str {
    outgoing.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).unwrap()
}

fn body(outgoing: &payload::Outgoing) -> Value {
    serde_json::from_slice(&outgoing.body).unwrap()
}

const ALL_KINDS: [EventKind; 6] = [
    EventKind::Delivered,
    EventKind::Bounced,
    EventKind::Deferred,
    EventKind::Complained,
    EventKind::Opened,
    EventKind::Clicked,
];

fn detail(kind: EventKind) -> Detail {
    match kind {
        EventKind::Bounced => {
            Detail::Status(SmtpStatus { code: 550, enhanced: "5.1.1".into(), text: "user unknown".into() })
        }
        EventKind::Clicked => Detail::Url("https://app.test/welcome?a=1&b=2".into()),
        _ => Detail::None,
    }
}

/// A message that did not come through a provider API has no provider events.
#[test]
fn only_provider_mail_has_events() {
    let id = MessageId::generate(1_700_000_000_000);
    let smtp = Envelope { rcpt_to: vec!["a@b.test".into()], ..Envelope::default() };
    assert!(ProviderEvent::new(EventKind::Delivered, &id, &smtp, &summary(&id), "a@b.test", Detail::None).is_none());
}

/// SendGrid: a one-event array with SendGrid's event names, signed with ECDSA
/// P-256 over timestamp + body, verifiable with the public key the settings show.
#[test]
fn sendgrid_events_are_signed_with_the_public_key_shown() {
    let keys = keys();
    let spki = STANDARD.decode(keys.sendgrid_public_key()).unwrap();
    let public = UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_ASN1, &spki[26..]);
    let names = ["delivered", "bounce", "deferred", "spamreport", "open", "click"];
    for (kind, name) in ALL_KINDS.into_iter().zip(names) {
        let outgoing =
            payload::request(&event("sendgrid", kind, detail(kind)), &keys, &NotificationContext::default()).unwrap();
        let timestamp = header(&outgoing, "X-Twilio-Email-Event-Webhook-Timestamp");
        let signature = STANDARD.decode(header(&outgoing, "X-Twilio-Email-Event-Webhook-Signature")).unwrap();
        public.verify(&[timestamp.as_bytes(), &outgoing.body].concat(), &signature).unwrap();
        let mut tampered = outgoing.body.clone();
        tampered[1] ^= 1;
        assert!(public.verify(&[timestamp.as_bytes(), &tampered].concat(), &signature).is_err());

        let events = body(&outgoing);
        let event = &events.as_array().unwrap()[0];
        assert_eq!(event["event"], name);
        assert_eq!(event["email"], "user@example.test");
        assert!(event["sg_message_id"].as_str().unwrap().starts_with("pm-123."));
        assert_eq!(event["category"], json!(["welcome"]));
        assert!(event["timestamp"].is_i64() && event["sg_event_id"].is_string());
        match kind {
            EventKind::Bounced => {
                assert_eq!(event["status"], "5.1.1");
                assert_eq!(event["reason"], "550 5.1.1 user unknown");
                assert_eq!(event["type"], "bounce");
            }
            EventKind::Clicked => assert_eq!(event["url"], "https://app.test/welcome?a=1&b=2"),
            _ => {}
        }
    }
}

/// Postmark: one record with its RecordType and MessageID, unsigned.
#[test]
fn postmark_records() {
    let keys = keys();
    let records = ["Delivery", "Bounce", "Bounce", "SpamComplaint", "Open", "Click"];
    for (kind, record) in ALL_KINDS.into_iter().zip(records) {
        let outgoing =
            payload::request(&event("postmark", kind, detail(kind)), &keys, &NotificationContext::default()).unwrap();
        let value = body(&outgoing);
        assert_eq!(value["RecordType"], record);
        assert_eq!(value["MessageID"], "pm-123");
        assert_eq!(value["MessageStream"], "outbound");
        assert_eq!(value["Tag"], "welcome");
        match kind {
            EventKind::Delivered | EventKind::Opened | EventKind::Clicked => {
                assert_eq!(value["Recipient"], "user@example.test")
            }
            _ => assert_eq!(value["Email"], "user@example.test"),
        }
        match kind {
            EventKind::Bounced => assert_eq!((&value["Type"], &value["TypeCode"]), (&json!("HardBounce"), &json!(1))),
            EventKind::Deferred => assert_eq!(value["Type"], "Transient"),
            EventKind::Clicked => assert_eq!(value["OriginalLink"], "https://app.test/welcome?a=1&b=2"),
            _ => {}
        }
        assert_eq!(outgoing.headers.len(), 1, "no signature headers: {:?}", outgoing.headers);
    }
}

/// Mailgun: `signature` is HMAC-SHA256(signing key, timestamp + token), hex, and
/// `event-data` has Mailgun's event names and severities.
#[test]
fn mailgun_signature_and_event_data() {
    let keys = keys();
    let names = ["delivered", "failed", "failed", "complained", "opened", "clicked"];
    for (kind, name) in ALL_KINDS.into_iter().zip(names) {
        let outgoing =
            payload::request(&event("mailgun", kind, detail(kind)), &keys, &NotificationContext::default()).unwrap();
        let value = body(&outgoing);
        let signature = &value["signature"];
        let (timestamp, token) = (signature["timestamp"].as_str().unwrap(), signature["token"].as_str().unwrap());
        assert_eq!(token.len(), 50);
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, keys.mailgun_signing_key.as_bytes());
        let expected = super::keys::hex(ring::hmac::sign(&key, format!("{timestamp}{token}").as_bytes()).as_ref());
        assert_eq!(signature["signature"], expected);
        let data = &value["event-data"];
        assert_eq!(data["event"], name);
        assert_eq!(data["recipient"], "user@example.test");
        assert_eq!(data["message"]["headers"]["message-id"], "pm-123");
        match kind {
            EventKind::Bounced => {
                assert_eq!(data["severity"], "permanent");
                assert_eq!(data["delivery-status"]["code"], 550);
            }
            EventKind::Deferred => assert_eq!(data["severity"], "temporary"),
            _ => assert!(data.get("severity").is_none()),
        }
    }
}

/// Keys with SNS's made, and the public key its signatures verify with.
fn sns_keys() -> (Keys, UnparsedPublicKey<Vec<u8>>) {
    let mut keys = keys();
    keys.fill_sns("http://127.0.0.1:8025/api/v1/webhooks/sns-certificate.pem").unwrap();
    let pkcs8 = STANDARD.decode(&keys.sns_private_key).unwrap();
    let pair = signature::RsaKeyPair::from_pkcs8(&pkcs8).unwrap();
    let public = UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, pair.public().as_ref().to_vec());
    (keys, public)
}

/// SES: an SNS Notification whose Signature (v2, RSA-SHA256 over SNS's canonical
/// string) verifies with the certificate's key, and whose Message is SES's
/// event-publishing JSON.
#[test]
fn ses_notifications_are_signed_as_sns_does() {
    let (keys, public) = sns_keys();
    assert!(keys.sns_certificate.starts_with("-----BEGIN CERTIFICATE-----"));
    let urls = SnsUrls { certificate: "http://x/cert.pem".into(), actions: "http://x/sns".into() };
    let subscription = Subscription::new("http://127.0.0.1:3000/sns").unwrap();
    let sns = NotificationContext::new(&urls, &subscription);
    let names = ["Delivery", "Bounce", "DeliveryDelay", "Complaint", "Open", "Click"];
    let objects = ["delivery", "bounce", "deliveryDelay", "complaint", "open", "click"];
    for ((kind, name), object) in ALL_KINDS.into_iter().zip(names).zip(objects) {
        let outgoing = payload::request(&event("ses", kind, detail(kind)), &keys, &sns).unwrap();
        let value = body(&outgoing);
        assert_eq!(value["Type"], "Notification");
        assert_eq!(value["SignatureVersion"], "2");
        assert_eq!(value["SigningCertURL"], "http://x/cert.pem");
        assert_eq!(header(&outgoing, "x-amz-sns-message-type"), "Notification");
        assert_eq!(header(&outgoing, "x-amz-sns-message-id"), value["MessageId"]);
        assert_eq!(header(&outgoing, "x-amz-sns-subscription-arn"), subscription.arn());
        assert_eq!(
            value["UnsubscribeURL"],
            format!("http://x/sns?Action=Unsubscribe&SubscriptionArn={}", subscription.arn())
        );
        let canonical: String = ["Message", "MessageId", "Timestamp", "TopicArn", "Type"]
            .iter()
            .map(|key| format!("{key}\n{}\n", value[key].as_str().unwrap()))
            .collect();
        let signature = STANDARD.decode(value["Signature"].as_str().unwrap()).unwrap();
        public.verify(canonical.as_bytes(), &signature).unwrap();

        let message: Value = serde_json::from_str(value["Message"].as_str().unwrap()).unwrap();
        assert_eq!(message["eventType"], name);
        assert_eq!(message["mail"]["messageId"], "pm-123");
        assert_eq!(message["mail"]["commonHeaders"]["subject"], "Hi \"there\" </script>\u{0}");
        assert!(message[object].is_object(), "{message}");
    }
}

/// SNS's SubscriptionConfirmation: its Token and SubscribeURL, and a Signature
/// over SNS's canonical string of its fields that verifies with the certificate's key.
#[test]
fn sns_subscription_confirmations_are_signed_as_sns_does() {
    let (keys, public) = sns_keys();
    let urls = SnsUrls { certificate: "http://x/cert.pem".into(), actions: "http://x/sns".into() };
    let subscription = Subscription::new("http://127.0.0.1:3000/sns").unwrap();

    let outgoing = sns::confirmation(&subscription, &keys, &urls).unwrap();
    let value = body(&outgoing);
    assert_eq!(value["Type"], "SubscriptionConfirmation");
    assert_eq!(header(&outgoing, "x-amz-sns-message-type"), "SubscriptionConfirmation");
    assert_eq!(value["Token"], subscription.token);
    assert_eq!(
        value["SubscribeURL"],
        format!(
            "http://x/sns?Action=ConfirmSubscription&TopicArn={}&Token={}",
            payload::SNS_TOPIC_ARN,
            subscription.token
        )
    );
    let canonical: String = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
        .iter()
        .map(|key| format!("{key}\n{}\n", value[key].as_str().unwrap()))
        .collect();
    let signature = STANDARD.decode(value["Signature"].as_str().unwrap()).unwrap();
    public.verify(canonical.as_bytes(), &signature).unwrap();
    assert!(public.verify(canonical.replace("Token", "Tokens").as_bytes(), &signature).is_err());
}

/// Resend: Svix's headers, and a signature that is HMAC-SHA256 under the decoded
/// secret of `id.timestamp.body`.
#[test]
fn resend_events_are_signed_as_svix_does() {
    let keys = keys();
    assert!(keys.resend_signing_secret.starts_with("whsec_"));
    let secret = STANDARD.decode(&keys.resend_signing_secret["whsec_".len()..]).unwrap();
    let names = [
        "email.delivered",
        "email.bounced",
        "email.delivery_delayed",
        "email.complained",
        "email.opened",
        "email.clicked",
    ];
    for (kind, name) in ALL_KINDS.into_iter().zip(names) {
        let outgoing =
            payload::request(&event("resend", kind, detail(kind)), &keys, &NotificationContext::default()).unwrap();
        let (id, timestamp) = (header(&outgoing, "svix-id"), header(&outgoing, "svix-timestamp"));
        let signed = [id.as_bytes(), b".", timestamp.as_bytes(), b".", &outgoing.body].concat();
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret);
        let signature = header(&outgoing, "svix-signature").strip_prefix("v1,").unwrap();
        ring::hmac::verify(&key, &signed, &STANDARD.decode(signature).unwrap()).unwrap();
        let value = body(&outgoing);
        assert_eq!(value["type"], name);
        assert_eq!(value["data"]["email_id"], "pm-123");
        assert_eq!(value["data"]["to"], json!(["user@example.test"]));
    }
}

/// The settings, keys included, survive a restart from the same folder; the file
/// is the owner's alone.
#[tokio::test]
async fn settings_and_keys_are_kept_in_the_data_folder() {
    let dir = tempfile::tempdir().unwrap();
    let webhooks = Webhooks::start(dir.path(), "http://127.0.0.1:1", &MessageWebhookConfig::default()).unwrap();
    let shown = webhooks.view();
    assert_eq!(shown.webhooks.len(), 5);
    let change = WebhooksView {
        webhooks: vec![Webhook {
            provider: "mailgun".into(),
            url: "http://127.0.0.1:9/x".into(),
            enabled: true,
            headers: Default::default(),
            verification_key: Some("my-key".into()),
            subscription_confirmed: None,
        }],
        retries: None,
        ..WebhooksView::default()
    };
    let changed = webhooks.update(change).unwrap();
    webhooks.shutdown();
    let again = Webhooks::start(dir.path(), "http://127.0.0.1:1", &MessageWebhookConfig::default()).unwrap();
    assert_eq!(again.view(), changed);
    let mailgun = changed.webhooks.iter().find(|w| w.provider == "mailgun").unwrap();
    assert_eq!(mailgun.verification_key.as_deref(), Some("my-key"));
    let sendgrid = |view: &WebhooksView| view.webhooks[0].verification_key.clone();
    assert_eq!(sendgrid(&again.view()), sendgrid(&shown));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("webhooks.json")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
    again.shutdown();
}

/// A bad URL, an unknown provider, a key that is ours: refused, nothing saved.
#[tokio::test]
async fn bad_changes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let webhooks = Webhooks::start(dir.path(), "http://127.0.0.1:1", &MessageWebhookConfig::default()).unwrap();
    let before = std::fs::read(dir.path().join("webhooks.json")).unwrap();
    let entry = |provider: &str, url: &str, key: Option<&str>| WebhooksView {
        webhooks: vec![Webhook {
            provider: provider.into(),
            url: url.into(),
            enabled: true,
            headers: Default::default(),
            verification_key: key.map(Into::into),
            subscription_confirmed: None,
        }],
        retries: None,
        ..WebhooksView::default()
    };
    for change in [
        entry("sendgrid", "ftp://x/", None),
        entry("sendgrid", "javascript:alert(1)", None),
        entry("gmail", "http://x/", None),
        entry("sendgrid", "http://x/", Some("mine")),
        entry("resend", "http://x/", Some("not-whsec")),
    ] {
        assert!(matches!(webhooks.update(change), Err(WebhooksError::Invalid(_))));
    }
    assert_eq!(std::fs::read(dir.path().join("webhooks.json")).unwrap(), before);
    webhooks.shutdown();
}

/// Start webhooks whose `provider` endpoint is `url`, with fast retries.
fn started(dir: &std::path::Path, provider: &str, url: &str, attempts: u32, timeout_millis: u64) -> Webhooks {
    let webhooks = Webhooks::start(dir, "http://127.0.0.1:1", &MessageWebhookConfig::default()).unwrap();
    webhooks
        .update(WebhooksView {
            webhooks: vec![Webhook {
                provider: provider.into(),
                url: url.into(),
                enabled: true,
                headers: Default::default(),
                verification_key: None,
                subscription_confirmed: None,
            }],
            retries: Some(Retries { attempts, first_delay_millis: 100, timeout_millis }),
            ..WebhooksView::default()
        })
        .unwrap();
    webhooks
}

/// Wait until `check` holds for the log, or fail after 10 s.
pub(super) async fn until(webhooks: &Webhooks, check: impl Fn(&[Delivery]) -> bool) -> Vec<Delivery> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = webhooks.log(None, None);
        if check(&log) {
            return log;
        }
        assert!(Instant::now() < deadline, "gave up waiting: {log:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A receiver answering 500 twice, then 200: three attempts, the gaps growing
/// (100 ms, then 200 ms), each attempt's status and answer in the log.
#[tokio::test]
async fn a_failing_receiver_is_retried_with_growing_delays() {
    let (url, received) = receiver(vec![Some(500), Some(500), Some(200)]).await;
    let dir = tempfile::tempdir().unwrap();
    let webhooks = started(dir.path(), "postmark", &url, 5, 5_000);
    webhooks.emit(event("postmark", EventKind::Delivered, Detail::None));
    let log = until(&webhooks, |log| log.first().is_some_and(|d| d.state != DeliveryState::Pending)).await;
    let delivery = &log[0];
    assert_eq!(delivery.state, DeliveryState::Delivered);
    let statuses: Vec<_> = delivery.attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(500), Some(500), Some(200)]);
    assert_eq!(delivery.attempts[0].response, "answer 500");
    let times: Vec<Instant> = received.lock().unwrap().iter().map(|(_, _, at)| *at).collect();
    let (first, second) = (times[1] - times[0], times[2] - times[1]);
    assert!(first >= Duration::from_millis(100), "{first:?}");
    assert!(second >= Duration::from_millis(200) && second > first, "{first:?} then {second:?}");
    webhooks.shutdown();
}

/// A 4xx is the receiver's final word (no retry); running out of attempts fails.
#[tokio::test]
async fn client_errors_are_not_retried_and_attempts_run_out() {
    let (url, _) = receiver(vec![Some(400), Some(503), Some(503)]).await;
    let dir = tempfile::tempdir().unwrap();
    let webhooks = started(dir.path(), "postmark", &url, 2, 5_000);
    webhooks.emit(event("postmark", EventKind::Delivered, Detail::None));
    let log = until(&webhooks, |log| log.first().is_some_and(|d| d.state != DeliveryState::Pending)).await;
    assert_eq!(log[0].state, DeliveryState::Failed);
    assert_eq!(log[0].attempts.len(), 1);
    webhooks.emit(event("postmark", EventKind::Opened, Detail::None));
    let log = until(&webhooks, |log| log.len() == 2 && log[0].state != DeliveryState::Pending).await;
    assert_eq!(log[0].state, DeliveryState::Failed);
    assert_eq!(log[0].attempts.iter().map(|a| a.status).collect::<Vec<_>>(), [Some(503), Some(503)]);
    webhooks.shutdown();
}

/// A receiver that never answers: emitting stays instant (a thousand events in
/// well under a second), each attempt ends at the timeout, and the events of the
/// other providers still go out.
#[tokio::test]
async fn a_receiver_that_never_answers_holds_up_nothing() {
    let (silent, _) = receiver(vec![None; 100]).await;
    let (good, received) = receiver(vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    let webhooks = started(dir.path(), "postmark", &silent, 1, 300);
    webhooks
        .update(WebhooksView {
            webhooks: vec![Webhook {
                provider: "resend".into(),
                url: good,
                enabled: true,
                headers: Default::default(),
                verification_key: None,
                subscription_confirmed: None,
            }],
            retries: None,
            ..WebhooksView::default()
        })
        .unwrap();
    let started_at = Instant::now();
    for _ in 0..1000 {
        webhooks.emit(event("postmark", EventKind::Delivered, Detail::None));
    }
    webhooks.emit(event("resend", EventKind::Delivered, Detail::None));
    assert!(started_at.elapsed() < Duration::from_millis(500), "emit waited: {:?}", started_at.elapsed());
    let log = until(&webhooks, |log| {
        log.iter().any(|d| d.provider == "postmark" && d.state == DeliveryState::Failed)
            && log.iter().any(|d| d.provider == "resend" && d.state == DeliveryState::Delivered)
    })
    .await;
    let timed_out = log.iter().find(|d| d.provider == "postmark" && d.state == DeliveryState::Failed).unwrap();
    assert!(timed_out.attempts[0].error.as_deref().unwrap().contains("no answer within"), "{timed_out:?}");
    assert_eq!(received.lock().unwrap().len(), 1);
    webhooks.shutdown();
}

/// Custom headers (Postmark's) and basic auth in the URL reach the receiver; the
/// log filters by message.
#[tokio::test]
async fn custom_headers_and_url_credentials_are_sent() {
    let (url, received) = receiver(vec![]).await;
    let url = url.replace("http://", "http://hook:s3cret@");
    let dir = tempfile::tempdir().unwrap();
    let webhooks = started(dir.path(), "postmark", &url, 1, 5_000);
    let headers = [("X-Token".to_string(), "abc".to_string())].into();
    webhooks
        .update(WebhooksView {
            webhooks: vec![Webhook {
                provider: "postmark".into(),
                url,
                enabled: true,
                headers,
                verification_key: None,
                subscription_confirmed: None,
            }],
            retries: None,
            ..WebhooksView::default()
        })
        .unwrap();
    let sent = event("postmark", EventKind::Delivered, Detail::None);
    let message = sent.message.clone();
    webhooks.emit(sent);
    until(&webhooks, |log| log.first().is_some_and(|d| d.state == DeliveryState::Delivered)).await;
    let (headers, _, _) = received.lock().unwrap()[0].clone();
    assert_eq!(headers["x-token"], "abc");
    assert_eq!(headers["authorization"], format!("Basic {}", STANDARD.encode("hook:s3cret")));
    assert_eq!(webhooks.log(Some(&message), None).len(), 1);
    assert!(webhooks.log(Some(&MessageId::generate(1)), None).is_empty());
    webhooks.shutdown();
}

/// A disabled endpoint gets nothing and logs nothing.
#[tokio::test]
async fn disabled_endpoints_get_nothing() {
    let (url, received) = receiver(vec![]).await;
    let dir = tempfile::tempdir().unwrap();
    let webhooks = started(dir.path(), "sendgrid", &url, 1, 5_000);
    let mut view = webhooks.view();
    view.webhooks.iter_mut().for_each(|w| w.enabled = false);
    view.webhooks.iter_mut().for_each(|w| w.verification_key = None);
    webhooks.update(view).unwrap();
    webhooks.emit(event("sendgrid", EventKind::Delivered, Detail::None));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(webhooks.log(None, None).is_empty());
    assert!(received.lock().unwrap().is_empty());
    webhooks.shutdown();
}

/// A redirect is the receiver's answer, not a new destination: recorded, not
/// followed, not retried.
#[tokio::test]
async fn redirects_are_not_followed() {
    let (url, received) = receiver(vec![Some(307)]).await;
    let dir = tempfile::tempdir().unwrap();
    let webhooks = started(dir.path(), "sendgrid", &url, 3, 5_000);
    webhooks.emit(event("sendgrid", EventKind::Delivered, Detail::None));
    let log = until(&webhooks, |log| log.first().is_some_and(|d| d.state != DeliveryState::Pending)).await;
    assert_eq!(log[0].state, DeliveryState::Failed);
    assert_eq!(log[0].attempts.len(), 1);
    assert!(log[0].attempts[0].response.starts_with("redirect to /elsewhere not followed"), "{:?}", log[0]);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(received.lock().unwrap().len(), 1, "the redirect was followed");
    webhooks.shutdown();
}
