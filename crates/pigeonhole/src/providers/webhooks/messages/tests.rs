//! Message webhooks on a real store: messages submitted, their `new` events
//! followed, POSTed to receivers on loopback; signatures checked with ring's HMAC
//! as the Standard Webhooks spec defines it.

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use time::OffsetDateTime;

use super::super::delivery::DeliveryState;
use super::super::settings::Retries;
use super::super::tests::{Received, receiver, until};
use super::super::*;
use crate::config::StoreConfig;
use crate::model::{Envelope, NewMessage, event};

/// A store in a fresh folder with webhooks following its events.
struct Setup {
    _dir: tempfile::TempDir,
    store: Store,
    webhooks: Webhooks,
}

async fn setup(config: MessageWebhookConfig) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let events = event::channel();
    let store = {
        let (path, events) = (dir.path().to_owned(), events.clone());
        tokio::task::spawn_blocking(move || Store::open(&path, StoreConfig::default(), events).unwrap()).await.unwrap()
    };
    let webhooks = Webhooks::start(dir.path(), "http://127.0.0.1:1", &config).unwrap();
    webhooks.watch(store.clone(), events.subscribe());
    Setup { _dir: dir, store, webhooks }
}

/// `--webhook-url URL` with no rate limit.
async fn command_line(url: &str) -> Setup {
    setup(MessageWebhookConfig { urls: vec![url.into()], limit: 0 }).await
}

/// Store a message with `subject`, in `inbox` (the SMTP AUTH user).
async fn submit(store: &Store, subject: &str, inbox: Option<&str>) -> MessageId {
    let raw =
        format!("From: App <app@example.com>\r\nTo: b@example.com\r\nSubject: {subject}\r\n\r\nBody of {subject}\r\n");
    let envelope = Envelope {
        mail_from: "app@example.com".into(),
        rcpt_to: vec!["b@example.com".into()],
        auth_user: inbox.map(Into::into),
        ..Envelope::default()
    };
    store.submit(NewMessage { raw: raw.into_bytes(), envelope, received_at: OffsetDateTime::now_utc() }).await.unwrap()
}

fn bodies(received: &Received) -> Vec<Value> {
    received.lock().unwrap().iter().map(|(_, body, _)| serde_json::from_slice(body).unwrap()).collect()
}

async fn received_count(received: &Received, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while received.lock().unwrap().len() < count {
        assert!(Instant::now() < deadline, "{} of {count} requests arrived", received.lock().unwrap().len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn message_webhook(url: &str, inbox: &str, query: &str) -> MessageWebhook {
    MessageWebhook { url: url.into(), enabled: true, inbox: inbox.into(), query: query.into(), ..Default::default() }
}

/// `--webhook-url`: the body is the message's summary exactly as the message
/// list shows it (Mailpit's webhook JSON, its keys in Mailpit's order); the
/// Standard Webhooks headers verify under the secret the settings show.
#[tokio::test]
async fn each_new_message_is_posted_as_its_summary_signed_per_standard_webhooks() {
    let (url, received) = receiver(vec![]).await;
    let Setup { store, webhooks, _dir } = command_line(&url).await;
    let id = submit(&store, "Hello \"hook\" </script>", None).await;
    received_count(&received, 1).await;
    let (headers, body, _) = received.lock().unwrap()[0].clone();

    let listed = serde_json::to_value(&store.list(0, 1).unwrap().messages[0]).unwrap();
    let posted: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(posted, listed);
    let keys: Vec<&str> = posted.as_object().unwrap().keys().map(String::as_str).collect();
    let mailpit = [
        "ID",
        "MessageID",
        "Read",
        "From",
        "To",
        "Cc",
        "Bcc",
        "ReplyTo",
        "Subject",
        "Created",
        "Username",
        "Tags",
        "Size",
        "Attachments",
        "Snippet",
    ];
    let mut sorted = mailpit;
    sorted.sort();
    assert_eq!(keys, sorted, "serde_json's map sorts keys: the set must be Mailpit's");
    let order: Vec<usize> =
        mailpit.iter().map(|key| String::from_utf8_lossy(&body).find(&format!("\"{key}\"")).unwrap()).collect();
    assert!(order.is_sorted(), "keys out of Mailpit's order: {}", String::from_utf8_lossy(&body));
    assert_eq!(posted["Subject"], "Hello \"hook\" </script>");

    assert_eq!(headers["content-type"], "application/json");
    let webhook_id = headers["webhook-id"].to_str().unwrap();
    assert_eq!(webhook_id, format!("msg_{}", id.as_str()));
    let timestamp = headers["webhook-timestamp"].to_str().unwrap();
    let age = OffsetDateTime::now_utc().unix_timestamp() - timestamp.parse::<i64>().unwrap();
    assert!((0..60).contains(&age), "{timestamp}");
    let secret = webhooks.view().message_signing_secret.unwrap();
    let secret = STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret);
    let signature = headers["webhook-signature"].to_str().unwrap().strip_prefix("v1,").unwrap();
    let signed = [webhook_id.as_bytes(), b".", timestamp.as_bytes(), b".", &body].concat();
    ring::hmac::verify(&key, &signed, &STANDARD.decode(signature).unwrap()).expect("the signature verifies");

    let log = until(&webhooks, |log| log.first().is_some_and(|d| d.state == DeliveryState::Delivered)).await;
    assert_eq!((log[0].webhook.as_deref(), log[0].event.as_str()), (Some("cli-1"), "new"));
    assert_eq!(log[0].attempts[0].status, Some(200));
    assert_eq!(webhooks.log(None, Some("cli-1")).len(), 1);
    assert!(webhooks.log(None, Some("cli-2")).is_empty());
    let shown = webhooks.view().message_webhooks.unwrap();
    assert_eq!(shown.len(), 1);
    assert!(shown[0].command_line && shown[0].url == url);
    webhooks.shutdown();
}

/// Each webhook gets the messages its inbox and search pick, and only those; a
/// disabled one gets nothing; the list is saved and outlives a restart.
#[tokio::test]
async fn filters_pick_by_inbox_and_search() {
    let (all, to_all) = receiver(vec![]).await;
    let (shop, to_shop) = receiver(vec![]).await;
    let (receipts, to_receipts) = receiver(vec![]).await;
    let (shop_receipts, to_shop_receipts) = receiver(vec![]).await;
    let (off, to_off) = receiver(vec![]).await;
    let Setup { store, webhooks, _dir } = setup(MessageWebhookConfig { urls: vec![], limit: 0 }).await;
    let change = WebhooksView {
        message_webhooks: Some(vec![
            message_webhook(&all, "", ""),
            message_webhook(&shop, "shop", ""),
            message_webhook(&receipts, "", "subject:receipt"),
            message_webhook(&shop_receipts, "shop", "receipt"),
            MessageWebhook { enabled: false, ..message_webhook(&off, "", "") },
        ]),
        ..WebhooksView::default()
    };
    let saved = webhooks.update(change).unwrap().message_webhooks.unwrap();
    assert!(saved.iter().all(|w| w.id.len() == 12), "{saved:?}");

    submit(&store, "Welcome", None).await;
    submit(&store, "Your receipt", None).await;
    submit(&store, "Welcome to the shop", Some("shop")).await;
    submit(&store, "Shop receipt 42", Some("shop")).await;
    received_count(&to_all, 4).await;
    received_count(&to_shop, 2).await;
    received_count(&to_receipts, 2).await;
    received_count(&to_shop_receipts, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let subjects = |received: &Received| {
        let mut subjects: Vec<String> =
            bodies(received).iter().map(|b| b["Subject"].as_str().unwrap().into()).collect();
        subjects.sort();
        subjects
    };
    assert_eq!(subjects(&to_all).len(), 4);
    assert_eq!(subjects(&to_shop), ["Shop receipt 42", "Welcome to the shop"]);
    assert_eq!(subjects(&to_receipts), ["Shop receipt 42", "Your receipt"]);
    assert_eq!(subjects(&to_shop_receipts), ["Shop receipt 42"]);
    assert!(to_off.lock().unwrap().is_empty());
    webhooks.shutdown();

    let again = Webhooks::start(_dir.path(), "http://127.0.0.1:1", &MessageWebhookConfig::default()).unwrap();
    assert_eq!(again.view().message_webhooks.unwrap(), saved);
    again.shutdown();
}

/// A 5xx is tried again after growing delays, with the same `webhook-id`; a
/// redirect is recorded, not followed, not retried; a receiver that never
/// answers runs into the total timeout.
#[tokio::test]
async fn retries_redirects_and_timeouts() {
    let (failing, to_failing) = receiver(vec![Some(503), Some(500), Some(200)]).await;
    let (redirecting, to_redirecting) = receiver(vec![Some(302)]).await;
    let (silent, _) = receiver(vec![None; 10]).await;
    let Setup { store, webhooks, _dir } = setup(MessageWebhookConfig::default()).await;
    let change = WebhooksView {
        message_webhooks: Some(vec![
            MessageWebhook { id: "failing".into(), ..message_webhook(&failing, "", "") },
            MessageWebhook { id: "redirecting".into(), ..message_webhook(&redirecting, "", "") },
            MessageWebhook { id: "silent".into(), ..message_webhook(&silent, "", "") },
        ]),
        retries: Some(Retries { attempts: 3, first_delay_millis: 100, timeout_millis: 300 }),
        ..WebhooksView::default()
    };
    webhooks.update(change).unwrap();
    submit(&store, "Retry me", None).await;
    let done = |log: &[Delivery], webhook: &str| {
        log.iter().any(|d| d.webhook.as_deref() == Some(webhook) && d.state != DeliveryState::Pending)
    };
    let log = until(&webhooks, |log| done(log, "failing") && done(log, "redirecting") && done(log, "silent")).await;
    let of = |webhook: &str| log.iter().find(|d| d.webhook.as_deref() == Some(webhook)).unwrap().clone();

    let failing = of("failing");
    assert_eq!(failing.state, DeliveryState::Delivered);
    assert_eq!(failing.attempts.iter().map(|a| a.status).collect::<Vec<_>>(), [Some(503), Some(500), Some(200)]);
    let times: Vec<Instant> = to_failing.lock().unwrap().iter().map(|(_, _, at)| *at).collect();
    let (first_gap, second_gap) = (times[1] - times[0], times[2] - times[1]);
    assert!(first_gap >= Duration::from_millis(100) && second_gap >= Duration::from_millis(200), "{times:?}");
    let ids: Vec<String> =
        to_failing.lock().unwrap().iter().map(|(h, _, _)| h["webhook-id"].to_str().unwrap().to_owned()).collect();
    assert!(ids.iter().all(|id| id == &ids[0]), "{ids:?}");

    let redirecting = of("redirecting");
    assert_eq!(redirecting.state, DeliveryState::Failed);
    assert_eq!(redirecting.attempts.len(), 1);
    assert!(redirecting.attempts[0].response.starts_with("redirect to /elsewhere not followed"), "{redirecting:?}");
    assert_eq!(to_redirecting.lock().unwrap().len(), 1, "the redirect was followed");

    let silent = of("silent");
    assert_eq!(silent.state, DeliveryState::Failed);
    assert_eq!(silent.attempts.len(), 3, "a timeout is worth another try");
    for attempt in &silent.attempts {
        assert!(attempt.error.as_deref().unwrap().contains("no answer within"), "{attempt:?}");
        assert!(attempt.duration_millis < 2_000, "{attempt:?}");
    }
    webhooks.shutdown();
}

/// `--webhook-limit 10`: six messages' deliveries start at least 100 ms apart.
#[tokio::test]
async fn the_limit_paces_deliveries() {
    let (url, received) = receiver(vec![]).await;
    let Setup { store, webhooks, _dir } = setup(MessageWebhookConfig { urls: vec![url], limit: 10 }).await;
    for n in 0..6 {
        submit(&store, &format!("Paced {n}"), None).await;
    }
    received_count(&received, 6).await;
    let times: Vec<Instant> = received.lock().unwrap().iter().map(|(_, _, at)| *at).collect();
    let spread = *times.iter().max().unwrap() - *times.iter().min().unwrap();
    assert!(spread >= Duration::from_millis(450), "6 deliveries at 10 a second took {spread:?}");
    webhooks.shutdown();
}

/// A PUT's bad message webhooks are refused and nothing is saved; the command
/// line's cannot be changed or shadowed.
#[tokio::test]
async fn bad_message_webhooks_are_refused() {
    let Setup { webhooks, _dir, .. } = command_line("http://127.0.0.1:9/hook").await;
    let before = std::fs::read(_dir.path().join("webhooks.json")).unwrap();
    let put = |hooks: Vec<MessageWebhook>| WebhooksView { message_webhooks: Some(hooks), ..WebhooksView::default() };
    for change in [
        put(vec![message_webhook("", "", "")]),
        put(vec![message_webhook("file:///etc/passwd", "", "")]),
        put(vec![MessageWebhook { id: "cli-1".into(), ..message_webhook("http://127.0.0.1:9/", "", "") }]),
        put(vec![
            MessageWebhook { id: "twice".into(), ..message_webhook("http://127.0.0.1:9/a", "", "") },
            MessageWebhook { id: "twice".into(), ..message_webhook("http://127.0.0.1:9/b", "", "") },
        ]),
    ] {
        assert!(matches!(webhooks.update(change), Err(WebhooksError::Invalid(_))));
    }
    assert_eq!(std::fs::read(_dir.path().join("webhooks.json")).unwrap(), before);
    // The view round-trips: its command-line entry is skipped, not saved.
    let view = webhooks.view();
    let after = webhooks.update(view.clone()).unwrap();
    assert_eq!(after, view);
    assert!(
        !String::from_utf8(std::fs::read(_dir.path().join("webhooks.json")).unwrap()).unwrap().contains("127.0.0.1:9")
    );
    assert!(matches!(
        Webhooks::start(
            _dir.path(),
            "http://127.0.0.1:1",
            &MessageWebhookConfig { urls: vec!["ftp://x/".into()], limit: 0 }
        ),
        Err(WebhooksError::Invalid(_))
    ));
    webhooks.shutdown();
}
