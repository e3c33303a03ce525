//! Effects carried out on a real store in a temporary folder; forwards reach a
//! second engine's SMTP listener, standing in for the user's relay.

use std::path::Path;
use std::time::Duration;

use mail_parser::{MessageParser, MimeHeaders};
use tokio::sync::mpsc;

use super::*;
use crate::config::StoreConfig;
use crate::model::{ApiRequest, event};
use crate::{Config, Engine};

const ORIGINAL: &[u8] = b"From: App <app@shop.example>\r\nTo: bounce@simulator.test, other@simulator.test\r\n\
Subject: Your order\r\nMessage-ID: <order-1@shop.example>\r\n\r\nThanks for your order.\r\n";
const INBOX: &str = "sendgrid:SG.key1";

fn open_store(dir: &Path) -> Store {
    Store::open(dir, StoreConfig::default(), event::channel()).expect("open store")
}

/// The original, as a provider API committed it.
async fn commit(store: &Store, mail_from: &str) -> Committed {
    let envelope = Envelope {
        mail_from: mail_from.into(),
        rcpt_to: vec!["bounce@simulator.test".into(), "other@simulator.test".into()],
        helo: "sendgrid-api".into(),
        peer: "127.0.0.1:40000".into(),
        auth_user: Some(INBOX.into()),
        api: Some(ApiRequest { provider: "sendgrid".into(), provider_message_id: "sg-1".into(), request: "".into() }),
        simulation: Some(SimulationOutcome {
            rule: "bounce@simulator.test".into(),
            action: "bounce".into(),
            reply: "202 Accepted".into(),
            effects: Vec::new(),
        }),
        ..Envelope::default()
    };
    let received_at = OffsetDateTime::now_utc();
    let new = NewMessage { raw: ORIGINAL.to_vec(), envelope: envelope.clone(), received_at };
    let id = store.submit(new).await.expect("submit the original");
    Committed { id, raw: ORIGINAL.into(), envelope, received_at }
}

/// Effects on `store` (relaying to `relay`) and the outcomes its observer sees.
fn effects(store: &Store, relay: Option<RelayConfig>) -> (EffectsHandle, mpsc::UnboundedReceiver<(bool, Outcome)>) {
    let (told, outcomes) = mpsc::unbounded_channel();
    let observer: Observer = Arc::new(move |committed: &Committed, outcome: &Outcome| {
        let _ = told.send((committed.envelope.api.is_some(), outcome.clone()));
    });
    let effects = Effects {
        store: store.clone(),
        relay: relay.map(Arc::new),
        hostname: "mx.pigeonhole.test".into(),
        observer: Some(observer),
    };
    (effects.spawn(), outcomes)
}

async fn next(outcomes: &mut mpsc::UnboundedReceiver<(bool, Outcome)>) -> Outcome {
    let (from_api, outcome) =
        tokio::time::timeout(Duration::from_secs(10), outcomes.recv()).await.expect("an outcome in time").unwrap();
    assert!(from_api, "the observer gets the original with its provider request");
    outcome
}

fn trigger(recipient: &str, effect: Effect) -> Triggered {
    Triggered { recipient: recipient.into(), effect }
}

fn bounce() -> Effect {
    Effect::Bounce { status: "5.1.1".into(), diagnostic: "550 5.1.1 user unknown".into() }
}

/// The stored report `id`: its envelope and parsed content type and subject.
fn stored(store: &Store, id: &MessageId) -> (Envelope, Vec<u8>) {
    (store.envelope(id).unwrap().unwrap(), store.raw(id).unwrap().unwrap())
}

#[tokio::test]
async fn bounces_become_one_dsn_to_the_sender_in_the_same_inbox() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let committed = commit(&store, "app@shop.example").await;
    let (handle, mut outcomes) = effects(&store, None);
    let triggers = vec![trigger("bounce@simulator.test", bounce()), trigger("other@simulator.test", bounce())];
    handle.after_commit(committed.clone(), triggers).unwrap();

    let (first, second) = (next(&mut outcomes).await, next(&mut outcomes).await);
    assert!(first.done, "{}", first.line);
    assert_eq!(first.report, second.report, "one DSN for both recipients");
    assert_eq!(
        (first.original.clone(), first.triggered.recipient.as_str()),
        (committed.id.clone(), "bounce@simulator.test")
    );
    let report = first.report.clone().unwrap();
    assert_eq!(first.line, format!("a DSN to app@shop.example in inbox {INBOX} (message {report})"));

    let (envelope, raw) = stored(&store, &report);
    assert_eq!(envelope.mail_from, "", "null sender");
    assert_eq!(envelope.rcpt_to, ["app@shop.example"]);
    assert_eq!(envelope.auth_user.as_deref(), Some(INBOX), "beside the original");
    assert_eq!((envelope.helo.as_str(), envelope.peer.as_str()), (REPORTER_NAME, REPORTER_NAME));
    let outcome = envelope.simulation.unwrap();
    assert_eq!((outcome.rule.as_str(), outcome.action.as_str()), ("bounce@simulator.test", "bounce"));
    assert_eq!(outcome.effects, [format!("a DSN about message {}", committed.id)]);
    let parsed = MessageParser::default().parse(&raw).unwrap();
    assert_eq!(parsed.content_type().unwrap().attribute("report-type"), Some("delivery-status"));
    let status = String::from_utf8_lossy(parsed.parts[2].contents());
    assert!(status.contains("Final-Recipient: rfc822; bounce@simulator.test"), "{status}");
    assert!(status.contains("Final-Recipient: rfc822; other@simulator.test"), "{status}");
    let recorded = store.envelope(&committed.id).unwrap().unwrap().simulation.unwrap().effects;
    assert_eq!(
        recorded.as_slice(),
        std::slice::from_ref(&first.line),
        "the original's outcome says what followed, once"
    );
    assert_eq!(store.inboxes().unwrap().iter().find(|inbox| inbox.name == INBOX).map(|inbox| inbox.total), Some(2));
}

#[tokio::test]
async fn a_complaint_stores_an_arf_report_and_an_auto_reply_an_answer() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let committed = commit(&store, "app@shop.example").await;
    let (handle, mut outcomes) = effects(&store, None);
    let triggers = vec![
        trigger("bounce@simulator.test", Effect::Complaint { feedback_type: "abuse".into() }),
        trigger("other@simulator.test", Effect::AutoReply { body: "Away until Monday.".into() }),
    ];
    handle.after_commit(committed, triggers).unwrap();

    let complaint = next(&mut outcomes).await;
    assert!(complaint.line.starts_with("an ARF report to app@shop.example"), "{}", complaint.line);
    let (envelope, raw) = stored(&store, complaint.report.as_ref().unwrap());
    assert_eq!((envelope.mail_from.as_str(), envelope.auth_user.as_deref()), ("", Some(INBOX)));
    let parsed = MessageParser::default().parse(&raw).unwrap();
    assert_eq!(parsed.content_type().unwrap().attribute("report-type"), Some("feedback-report"));

    let answer = next(&mut outcomes).await;
    assert!(answer.line.starts_with("an auto-reply to app@shop.example"), "{}", answer.line);
    let (envelope, raw) = stored(&store, answer.report.as_ref().unwrap());
    assert_eq!(envelope.simulation.unwrap().action, "auto-reply");
    let parsed = MessageParser::default().parse(&raw).unwrap();
    assert_eq!(parsed.subject(), Some("Automatic reply: Your order"));
    assert_eq!(parsed.from().unwrap().first().unwrap().address(), Some("other@simulator.test"));
}

#[tokio::test]
async fn a_null_sender_gets_no_dsn_and_the_line_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let committed = commit(&store, "").await;
    let (handle, mut outcomes) = effects(&store, None);
    handle.after_commit(committed, vec![trigger("bounce@simulator.test", bounce())]).unwrap();

    let outcome = next(&mut outcomes).await;
    assert!(!outcome.done && outcome.report.is_none());
    assert!(outcome.line.starts_with("no DSN: the original has a null sender"), "{}", outcome.line);
    let recorded = store.envelope(&outcome.original).unwrap().unwrap().simulation.unwrap().effects;
    assert_eq!(recorded, [outcome.line]);
    assert_eq!(store.stats().unwrap().total, 1, "only the original is stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forward_reaches_the_relay() {
    let relay_dir = tempfile::tempdir().unwrap();
    let relay_engine = Engine::start(Config {
        smtp_addr: "127.0.0.1:0".parse().unwrap(),
        http_addr: "127.0.0.1:0".parse().unwrap(),
        ..Config::new(relay_dir.path().to_owned())
    })
    .await
    .unwrap();
    let relay = RelayConfig {
        host: "127.0.0.1".into(),
        port: relay_engine.smtp_addr().port(),
        credentials: None,
        return_path: None,
        allowed_recipients: None,
        blocked_recipients: None,
        override_from: None,
        preserve_message_ids: true,
    };
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let committed = commit(&store, "app@shop.example").await;
    // Not a simulator address: the relay is an engine too, which would answer one.

    let (handle, mut outcomes) = effects(&store, Some(relay.clone()));
    handle.after_commit(committed.clone(), vec![trigger("copy@relay.test", Effect::Forward)]).unwrap();
    let outcome = next(&mut outcomes).await;
    let server = format!("127.0.0.1:{}", relay.port);
    assert_eq!(outcome.line, format!("forwarded through relay {server} to copy@relay.test"));
    assert!(outcome.done && outcome.report.is_none());
    let relayed = relay_engine.store().list(0, 10).unwrap();
    assert_eq!(relayed.messages.len(), 1);
    let id = &relayed.messages[0].id;
    let envelope = relay_engine.store().envelope(id).unwrap().unwrap();
    assert_eq!(
        (envelope.mail_from.as_str(), envelope.rcpt_to.as_slice()),
        ("app@shop.example", ["copy@relay.test".to_string()].as_slice())
    );
    let raw = relay_engine.store().raw(id).unwrap().unwrap();
    assert!(raw.windows(34).any(|w| w == b"Message-ID: <order-1@shop.example>"));

    // The relay's allowlist holds for forwards as for releases.
    let strict = RelayConfig { allowed_recipients: Some(regex::Regex::new("@nowhere\\.test$").unwrap()), ..relay };
    let (handle, mut outcomes) = effects(&store, Some(strict));
    handle.after_commit(committed.clone(), vec![trigger("copy@relay.test", Effect::Forward)]).unwrap();
    let outcome = next(&mut outcomes).await;
    assert!(!outcome.done);
    assert_eq!(
        outcome.line,
        format!("forward through relay {server} failed: Failed: Address do not match the allowlist: copy@relay.test")
    );

    let (handle, mut outcomes) = effects(&store, None);
    handle.after_commit(committed, vec![trigger("copy@relay.test", Effect::Forward)]).unwrap();
    assert_eq!(next(&mut outcomes).await.line, "no forward: no relay is configured (--smtp-relay-host)");
    relay_engine.shutdown().await;
}

/// With the effects task stuck (the store's write lock held elsewhere), handing
/// over never waits: the queue fills, then effects are dropped and said so.
#[tokio::test]
async fn after_commit_never_waits_and_drops_past_a_full_queue() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path());
    let committed = commit(&store, "app@shop.example").await;
    let (handle, mut outcomes) = effects(&store, None);
    let lock = rusqlite::Connection::open(store.database_path()).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();

    let bounce_of = |committed: &Committed| {
        handle.after_commit(committed.clone(), vec![trigger("bounce@simulator.test", bounce())])
    };
    assert_eq!(bounce_of(&committed), Ok(()));
    // The task takes that one and waits for its DSN's commit.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = std::time::Instant::now();
    let handed: Vec<_> = (0..QUEUE + 2).map(|_| bounce_of(&committed)).collect();
    assert!(started.elapsed() < Duration::from_secs(1), "handing over took {:?}", started.elapsed());
    assert!(handed[..QUEUE].iter().all(Result::is_ok));
    assert_eq!(handed[QUEUE..], [Err(Dropped), Err(Dropped)]);
    assert!(handle.after_commit(committed.clone(), Vec::new()).is_ok(), "nothing to do is never refused");

    lock.execute_batch("COMMIT").unwrap();
    assert!(next(&mut outcomes).await.done, "the first DSN is stored once the lock is gone");
}
