//! Reading back: a stored message and its summary, every corpus file byte for byte,
//! pages and counts, inboxes, and positions in the storage order.

use std::time::Duration;

use tempfile::TempDir;
use time::macros::datetime;

use super::{config, drain, eml, from_user, ids, new_message, open, received, simple, subjects};
use crate::config::StoreConfig;
use crate::model::event::Event;
use crate::model::message::{PAGE_KEYS, SUMMARY_KEYS};
use crate::model::{Address, ApiRequest, DEFAULT_INBOX, MessageId, SimulationOutcome};
use crate::store::{Position, Selection, codec};

#[tokio::test]
async fn stores_and_reads_back_a_message() {
    let dir = TempDir::new().unwrap();
    let (store, mut events) = open(dir.path(), config());
    let raw = eml(
        "From: =?UTF-8?Q?J=C3=BCrgen?= <j@example.com>\r\nTo: A <a@example.com>, b@example.com\r\n\
         Cc: c@example.com\r\nBcc: d@example.com\r\nReply-To: r@example.com\r\nSubject: Hello there\r\n\
         Message-ID: <m1@example.com>\r\n",
        "First line\r\n\r\n   second   line",
    );
    let mut message = received(raw.clone(), datetime!(2025-07-01 08:20:31.5 UTC));
    // Everything the envelope can hold comes back, the provider request and the
    // simulation outcome (JSON columns) too.
    message.envelope.api = Some(ApiRequest {
        provider: "sendgrid".into(),
        provider_message_id: "abc".into(),
        request: "POST /v3/mail/send HTTP/1.1\n".into(),
    });
    message.envelope.simulation = Some(SimulationOutcome {
        rule: "bounce@simulator.test".into(),
        action: "bounce".into(),
        reply: "250 2.0.0 Ok".into(),
        effects: vec!["a DSN to the sender".into()],
    });
    let envelope = message.envelope.clone();
    let id = store.submit(message).await.unwrap();
    assert_eq!(id.as_str().len(), 22);

    assert_eq!(store.raw(&id).unwrap().unwrap(), raw);
    assert_eq!(store.envelope(&id).unwrap().unwrap(), envelope);
    let summary = store.summary(&id).unwrap().unwrap();
    assert_eq!(summary.message_id, "m1@example.com");
    assert_eq!(summary.from, Address { name: "Jürgen".into(), address: "j@example.com".into() });
    assert_eq!(summary.to.len(), 2);
    assert_eq!(summary.to[0], Address { name: "A".into(), address: "a@example.com".into() });
    assert_eq!(summary.cc[0].address, "c@example.com");
    assert_eq!(summary.bcc[0].address, "d@example.com");
    assert_eq!(summary.reply_to[0].address, "r@example.com");
    assert_eq!(summary.subject, "Hello there");
    assert_eq!(summary.snippet, "First line second line");
    assert_eq!(summary.created, datetime!(2025-07-01 08:20:31.5 UTC));
    assert_eq!(summary.size, raw.len() as u64);
    assert_eq!(summary.username, "");
    assert!(!summary.read);
    assert!(summary.tags.is_empty());

    // The event carries exactly what is read back, and stats follow it.
    let published = drain(&mut events);
    assert!(matches!(&published[..], [Event::New(new), Event::Stats(stats)]
        if **new == summary && stats.total == 1 && stats.unread == 1));
    assert_eq!(store.latest_id(&"".into()).unwrap().as_ref(), Some(&id));
    let nope = MessageId::generate(0);
    assert!(store.raw(&nope).unwrap().is_none());
    assert!(store.summary(&nope).unwrap().is_none());
    assert!(store.envelope(&nope).unwrap().is_none());
    store.close().await;
}

/// Effects carried out after the commit join the outcome's lines, each time
/// announced by an `effects` event (so an open message view reads them again); a
/// message without an outcome gets one to hold them, and a deleted one is left
/// alone, unannounced.
#[tokio::test]
async fn recorded_effects_join_the_simulation_outcome() {
    let dir = TempDir::new().unwrap();
    let (store, mut events) = open(dir.path(), config());
    let mut message = new_message(simple("bounced"));
    message.envelope.simulation = Some(SimulationOutcome {
        rule: "bounce@simulator.test".into(),
        action: "bounce".into(),
        reply: "250 2.0.0 Ok".into(),
        effects: vec!["planned".into()],
    });
    let with_outcome = store.submit(message).await.unwrap();
    let without = store.submit(new_message(simple("plain"))).await.unwrap();
    let lines = vec!["a DSN to sender@example.com".to_string(), "forward failed: \"quoted\"\n".to_string()];
    store.record_effects(with_outcome.clone(), lines.clone()).await.unwrap();
    store.record_effects(without.clone(), lines[..1].to_vec()).await.unwrap();
    let announced: Vec<MessageId> = drain(&mut events)
        .into_iter()
        .filter_map(|event| if let Event::Effects(recorded) = event { Some(recorded.id) } else { None })
        .collect();
    assert_eq!(announced, [with_outcome.clone(), without.clone()]);

    let outcome = store.envelope(&with_outcome).unwrap().unwrap().simulation.unwrap();
    assert_eq!(outcome.rule, "bounce@simulator.test");
    assert_eq!(outcome.effects, ["planned", lines[0].as_str(), lines[1].as_str()]);
    let outcome = store.envelope(&without).unwrap().unwrap().simulation.unwrap();
    assert_eq!(outcome, SimulationOutcome { effects: lines[..1].to_vec(), ..SimulationOutcome::default() });

    store.delete(Selection::Ids(vec![without.clone()])).await.unwrap();
    store.record_effects(without, lines).await.unwrap();
    assert_eq!(store.stats().unwrap().total, 1);
    assert!(!drain(&mut events).iter().any(|event| matches!(event, Event::Effects(_))));
}

#[tokio::test]
async fn serialises_summaries_in_mailpit_shape() {
    let dir = TempDir::new().unwrap();
    let (store, _events) = open(dir.path(), config());
    store.submit(new_message(simple("shape"))).await.unwrap();
    let page = serde_json::to_string(&store.list(0, 10).unwrap()).unwrap();
    assert_in_order(&page, PAGE_KEYS);
    assert_in_order(&page, SUMMARY_KEYS);
    let page: serde_json::Value = serde_json::from_str(&page).unwrap();
    assert_eq!(page.as_object().unwrap().len(), PAGE_KEYS.len());
    assert_eq!(page["messages"][0].as_object().unwrap().len(), SUMMARY_KEYS.len());
    assert_eq!(page["messages"][0]["Cc"], serde_json::json!([]));
    store.close().await;
}

/// Each of `keys` appears in `json` as a key, in this order.
fn assert_in_order(json: &str, keys: &[&str]) {
    let positions: Vec<usize> =
        keys.iter().map(|k| json.find(&format!("\"{k}\":")).unwrap_or_else(|| panic!("{k} missing: {json}"))).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{json}");
}

/// Every corpus file is stored and read back byte for byte, with the summary the
/// parser gives it.
#[tokio::test]
async fn stores_every_corpus_file_byte_identical() {
    let dir = TempDir::new().unwrap();
    let (store, _events) = open(dir.path(), config());
    let files = crate::mail::corpus::files();
    let mut stored = Vec::new();
    for path in &files {
        let raw = std::fs::read(path).unwrap();
        let id = store.submit(new_message(raw.clone())).await.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        stored.push((path, raw, id));
    }
    assert_eq!(store.stats().unwrap().total, files.len() as u64);
    for (path, raw, id) in &stored {
        assert_eq!(&store.raw(id).unwrap().unwrap(), raw, "{}", path.display());
        let summary = store.summary(id).unwrap().unwrap();
        let parsed = crate::mail::summarize(raw);
        assert_eq!(summary.subject, parsed.subject, "{}", path.display());
        assert_eq!(summary.from, parsed.from, "{}", path.display());
        assert_eq!(summary.size, raw.len() as u64);
    }
    store.close().await;
}

#[tokio::test]
async fn pages_newest_first_with_counts() {
    let dir = TempDir::new().unwrap();
    let (store, _events) = open(dir.path(), config());
    let mut sent = Vec::new();
    for n in 0..7 {
        sent.push(store.submit(new_message(simple(&format!("message {n}")))).await.unwrap());
    }
    store.set_read(Selection::Ids(vec![sent[0].clone(), sent[1].clone()]), true).await.unwrap();

    let first = store.list(0, 3).unwrap();
    assert_eq!(subjects(&first), ["message 6", "message 5", "message 4"]);
    assert_eq!((first.total, first.unread, first.count), (7, 5, 3));
    assert_eq!((first.messages_count, first.messages_unread, first.start), (7, 5, 0));
    let last = store.list(6, 3).unwrap();
    assert_eq!(subjects(&last), ["message 0"]);
    assert_eq!((last.count, last.start), (1, 6));
    assert!(store.list(7, 3).unwrap().messages.is_empty());
    assert!(store.list(0, 0).unwrap().messages.is_empty());
    assert_eq!(store.list(0, u64::MAX).unwrap().count, 7);

    let read = store.search("is:read", 0, 1).unwrap();
    assert_eq!((read.messages_count, read.messages_unread, read.count), (2, 0, 1));
    assert_eq!((read.total, read.unread), (7, 5));
    assert_eq!(ids(&read), [sent[1].as_str()]);
    store.close().await;
}

#[tokio::test]
async fn first_matching_after_a_position() {
    let dir = TempDir::new().unwrap();
    let (store, _events) = open(dir.path(), StoreConfig { max_messages: 3, ..config() });
    let start = store.position_now().unwrap();
    assert_eq!(start, Position::Stored(0));
    assert_eq!(store.first_matching_after(&"".into(), start).unwrap(), None);

    let t0 = datetime!(2025-07-01 10:00:00 UTC);
    let a = store.submit(received(simple("alpha"), t0)).await.unwrap();
    let b = store.submit(received(simple("beta"), t0 + Duration::from_millis(5))).await.unwrap();
    let c = store.submit(received(simple("alpha again"), t0 + Duration::from_millis(9))).await.unwrap();
    let first = |query: &str, position| store.first_matching_after(&query.into(), position).unwrap().map(|m| m.id);

    // Oldest first, whatever the page windows; the query filters.
    assert_eq!(first("", start), Some(a.clone()));
    assert_eq!(first("subject:alpha", start), Some(a.clone()));
    let after_a = store.position_after(&a).unwrap();
    assert_eq!(first("", after_a), Some(b.clone()));
    assert_eq!(first("subject:alpha", after_a), Some(c.clone()));
    assert_eq!(first("", store.position_after(&c).unwrap()), None);
    assert_eq!(first("", store.position_now().unwrap()), None);

    // By time: received strictly later than the millisecond.
    assert_eq!(first("", Position::received_after(t0)), Some(b.clone()));
    assert_eq!(first("", Position::received_after(t0 + Duration::from_micros(4_999))), Some(b.clone()));

    // A message pruned away still marks its point: the time its ID encodes.
    store.submit(received(simple("delta"), t0 + Duration::from_millis(20))).await.unwrap();
    assert_eq!(store.summary(&a).unwrap(), None, "pruned (max_messages 3)");
    assert_eq!(store.position_after(&a).unwrap(), Position::ReceivedSince(codec::unix_ms(t0)));
    assert_eq!(first("", store.position_after(&a).unwrap()), Some(b.clone()));
    assert_eq!(MessageId::parse("not an id"), None, "names no position");

    // One message against a query.
    assert_eq!(store.summary_if_matching(&c, &"alpha".into()).unwrap().map(|m| m.id), Some(c.clone()));
    assert_eq!(store.summary_if_matching(&b, &"alpha".into()).unwrap(), None);
    assert_eq!(store.summary_if_matching(&a, &"".into()).unwrap(), None, "gone");

    // A message received in the position's millisecond is not after it; a later one is.
    let summary = store.summary(&b).unwrap().unwrap();
    assert!(!Position::received_after(summary.created).admits_new(&summary));
    assert!(Position::received_after(t0).admits_new(&summary));
    assert!(Position::Stored(i64::MAX).admits_new(&summary));
    store.close().await;
}

#[tokio::test]
async fn routes_messages_to_inboxes_by_auth_user() {
    let dir = TempDir::new().unwrap();
    let (store, _events) = open(dir.path(), config());
    store.submit(new_message(simple("one"))).await.unwrap();
    let id = store.submit(from_user(simple("two"), "alice")).await.unwrap();
    store.submit(from_user(simple("three"), "alice")).await.unwrap();
    store.set_read(Selection::Ids(vec![id.clone()]), true).await.unwrap();

    assert_eq!(store.summary(&id).unwrap().unwrap().username, "alice");
    assert_eq!(store.envelope(&id).unwrap().unwrap().auth_user.as_deref(), Some("alice"));
    let inboxes: Vec<(String, u64, u64)> =
        store.inboxes().unwrap().into_iter().map(|i| (i.name, i.total, i.unread)).collect();
    assert_eq!(inboxes, [("alice".into(), 2, 1), (DEFAULT_INBOX.into(), 1, 1)]);
    store.close().await;
}

#[tokio::test]
async fn storage_order_numbers_are_never_reused() {
    let dir = TempDir::new().unwrap();
    let (store, _events) = open(dir.path(), config());
    let seq_of = |id: &MessageId| -> i64 {
        let conn = rusqlite::Connection::open(store.database_path()).unwrap();
        conn.query_row("SELECT seq FROM messages WHERE id = ?1", [id.as_str()], |row| row.get(0)).unwrap()
    };
    store.submit(new_message(simple("first"))).await.unwrap();
    let newest = store.submit(new_message(simple("newest"))).await.unwrap();
    let deleted_seq = seq_of(&newest);
    store.delete(Selection::Ids(vec![newest])).await.unwrap();
    // A cursor "after the deleted message" must still mean "arrived later".
    let next = store.submit(new_message(simple("next"))).await.unwrap();
    assert!(seq_of(&next) > deleted_seq);
    store.close().await;
}
