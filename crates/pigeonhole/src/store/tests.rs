//! Store tests on real SQLite files in temporary folders.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use tempfile::TempDir;
use time::macros::datetime;
use tokio::sync::broadcast;

use super::*;
use crate::model::event::{self, DiskState, Event};
use crate::model::message::{PAGE_KEYS, SUMMARY_KEYS};
use crate::model::{Address, DEFAULT_INBOX, MessagePage, NewMessage};
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use time::OffsetDateTime;

fn config() -> StoreConfig {
    StoreConfig::default()
}

fn open(dir: &Path, config: StoreConfig) -> (Store, broadcast::Receiver<Event>) {
    let events = event::channel();
    let receiver = events.subscribe();
    (Store::open(dir, config, events).expect("open store"), receiver)
}

/// [`open`], keeping a handle on the SQLite backend to watch its write queue.
fn open_sqlite(dir: &Path, config: StoreConfig) -> (Store, Arc<Sqlite>, broadcast::Receiver<Event>) {
    let events = event::channel();
    let receiver = events.subscribe();
    let sqlite = Arc::new(Sqlite::open(dir, &config, events, |_| Ok(())).expect("open store"));
    (Store::with_backend(sqlite.clone(), &config), sqlite, receiver)
}

/// A small message with the given extra header lines (CRLF-terminated) and body.
fn eml(headers: &str, body: &str) -> Vec<u8> {
    format!("Date: Tue, 1 Jul 2025 10:20:30 +0200\r\n{headers}\r\n{body}\r\n").into_bytes()
}

fn simple(subject: &str) -> Vec<u8> {
    eml(&format!("From: Sender <sender@example.com>\r\nTo: rcpt@example.com\r\nSubject: {subject}\r\n"), "hello")
}

fn new_message(raw: Vec<u8>) -> NewMessage {
    NewMessage {
        raw,
        envelope: Envelope {
            mail_from: "sender@example.com".into(),
            rcpt_to: vec!["rcpt@example.com".into()],
            helo: "client.example".into(),
            peer: "127.0.0.1:50000".into(),
            tls: false,
            auth_user: None,
            transcript: "C: EHLO client.example\nS: 250 ok\n".into(),
        },
        received_at: OffsetDateTime::now_utc(),
    }
}

fn received(raw: Vec<u8>, at: OffsetDateTime) -> NewMessage {
    NewMessage { received_at: at, ..new_message(raw) }
}

fn from_user(raw: Vec<u8>, user: &str) -> NewMessage {
    let mut message = new_message(raw);
    message.envelope.auth_user = Some(user.into());
    message
}

fn drain(events: &mut broadcast::Receiver<Event>) -> Vec<Event> {
    std::iter::from_fn(|| events.try_recv().ok()).collect()
}

fn ids(page: &MessagePage) -> Vec<&str> {
    page.messages.iter().map(|m| m.id.as_str()).collect()
}

fn subjects(page: &MessagePage) -> Vec<&str> {
    page.messages.iter().map(|m| m.subject.as_str()).collect()
}

/// Holds SQLite's write lock from a second connection, so the writer thread
/// blocks in `BEGIN IMMEDIATE` exactly as it would behind another writer.
struct WriteLock(rusqlite::Connection);

impl WriteLock {
    fn take(store: &Store) -> WriteLock {
        let conn = rusqlite::Connection::open(store.database_path()).unwrap();
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        WriteLock(conn)
    }

    fn release(self) {
        self.0.execute_batch("COMMIT").unwrap();
    }
}

type Pending<'a> = Pin<Box<dyn Future<Output = Result<String, SubmitError>> + Send + 'a>>;

/// Start a submit and run it to where it waits for its commit: from then on its
/// message is in the writer's queue (or in the writer's hands).
async fn enqueue(store: &Store, raw: Vec<u8>) -> Pending<'_> {
    let mut submit: Pending<'_> = Box::pin(store.submit(new_message(raw)));
    assert!(futures_util::poll!(&mut submit).is_pending(), "a submit finished while the writer was stalled");
    submit
}

/// Wait until the writer's queue has exactly `free` free slots.
async fn queue_has_free_slots(sqlite: &Sqlite, free: usize) {
    for _ in 0..500 {
        if sqlite.commands.capacity() == free {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("queue never had {free} free slots (has {})", sqlite.commands.capacity());
}

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
    let message = received(raw.clone(), datetime!(2025-07-01 08:20:31.5 UTC));
    let envelope = message.envelope.clone();
    let id = store.submit(message).await.unwrap();
    assert_eq!(id.len(), 22);

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
    assert_eq!(store.latest_id(None).unwrap().as_deref(), Some(id.as_str()));
    assert!(store.raw("nope").unwrap().is_none());
    assert!(store.summary("nope").unwrap().is_none());
    assert!(store.envelope("nope").unwrap().is_none());
    store.close().await;
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
async fn search_operators() {
    let dir = TempDir::new().unwrap();
    let (store, _events) = open(dir.path(), config());
    let invoice = eml(
        "From: Billing Dept <billing@shop.example>\r\nTo: Alice <alice@example.com>\r\nCc: boss@example.com\r\n\
         Bcc: audit@example.com\r\nSubject: Your invoice 50% off\r\nMessage-ID: <inv-1@shop.example>\r\n\
         Content-Type: multipart/mixed; boundary=b\r\n",
        "--b\r\nContent-Type: text/plain\r\n\r\nPlease pay the café bill.\r\n\
         --b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=receipt.pdf\r\n\r\nPDF\r\n--b--",
    );
    let newsletter = eml(
        "From: News <news@letters.example>\r\nTo: bob@example.com\r\nSubject: Weekly digest\r\n\
         Content-Type: text/html\r\n",
        &format!("<p>Big <b>sale</b> today</p>{}", "x".repeat(3000)),
    );
    let alert = eml("From: ops@example.com\r\nTo: alice@example.com\r\nSubject: Disk alert\r\n", "disk almost full");
    let a = store.submit(received(invoice, datetime!(2024-01-01 12:00 UTC))).await.unwrap();
    let b = store.submit(received(newsletter, datetime!(2024-02-01 12:00 UTC))).await.unwrap();
    let c = store.submit(from_user(alert, "ci-bot")).await.unwrap();
    store.set_read(Selection::Ids(vec![a.clone()]), true).await.unwrap();
    // Closing indexes all pending text: the table below is about the index.
    store.close().await;
    let (store, _events) = open(dir.path(), config());

    let found = |query: &str| -> Vec<String> {
        let mut ids: Vec<String> = store.search(query, 0, 50).unwrap().messages.into_iter().map(|m| m.id).collect();
        ids.sort();
        ids
    };
    let set = |list: &[&String]| -> Vec<String> {
        let mut ids: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        ids.sort();
        ids
    };
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("", set(&[&a, &b, &c])),
        ("invoice", set(&[&a])),
        ("INV", set(&[&a])),          // prefix, case-insensitive
        ("cafe", set(&[&a])),         // diacritics folded
        ("receipt.pdf", set(&[&a])),  // attachment names are indexed
        ("\"big sale\"", set(&[&b])), // phrase over HTML converted to text
        ("\"sale big\"", set(&[])),
        ("-invoice", set(&[&b, &c])),
        ("!invoice !digest", set(&[&c])),
        ("alice", set(&[&a, &c])), // addresses are indexed
        ("from:billing", set(&[&a])),
        ("from:\"Billing Dept\"", set(&[&a])),
        ("from:<ops@example.com>", set(&[&c])),
        ("-from:billing", set(&[&b, &c])),
        ("to:alice", set(&[&a, &c])),
        ("to:name", set(&[])), // no JSON key names match
        ("cc:boss", set(&[&a])),
        ("bcc:audit", set(&[&a])),
        ("addressed:bob", set(&[&b])),
        ("subject:\"50% off\"", set(&[&a])),
        ("subject:50%", set(&[&a])),
        ("subject:_", set(&[])), // LIKE wildcards are literal
        ("message-id:inv-1", set(&[&a])),
        ("is:read", set(&[&a])),
        ("is:unread", set(&[&b, &c])),
        ("-is:unread", set(&[&a])),
        ("has:attachment", set(&[&a])),
        ("has:attachments -has:attachment", set(&[])),
        ("before:2024-01-15", set(&[&a])),
        ("after:2024/01/15", set(&[&b, &c])),
        ("after:2024-01-15 before:2024-03-01T00:00:00Z", set(&[&b])),
        ("before:garbage", set(&[&a, &b, &c])), // unparseable dates filter nothing
        ("larger:2k", set(&[&b])),
        ("smaller:2KB", set(&[&a, &c])),
        ("inbox:ci-bot", set(&[&c])),
        ("inbox:default", set(&[&a, &b])),
        ("tag:anything", set(&[])),
        ("is:tagged", set(&[])),
        ("alice is:unread", set(&[&c])),
        // FTS5 syntax in user input is inert text, never an error.
        ("NEAR(a b) OR \"x AND * ^ col:x", set(&[])),
        ("- ! \"\"", set(&[&a, &b, &c])),
        ("alice\0x", set(&[])),
    ];
    for (query, expected) in cases {
        assert_eq!(found(query), expected, "query {query:?}");
    }
    assert_eq!(store.latest_id(Some("alice")).unwrap(), Some(c.clone()));
    assert_eq!(store.latest_id(Some("from:billing")).unwrap(), Some(a.clone()));
    assert_eq!(store.latest_id(Some("from:nobody")).unwrap(), None);
    store.close().await;
}

#[tokio::test]
async fn first_matching_after_a_position() {
    let dir = TempDir::new().unwrap();
    let (store, _events) = open(dir.path(), StoreConfig { max_messages: 3, ..config() });
    let start = store.position_now().unwrap();
    assert_eq!(start, Position::Stored(0));
    assert_eq!(store.first_matching_after("", start).unwrap(), None);

    let t0 = datetime!(2025-07-01 10:00:00 UTC);
    let a = store.submit(received(simple("alpha"), t0)).await.unwrap();
    let b = store.submit(received(simple("beta"), t0 + Duration::from_millis(5))).await.unwrap();
    let c = store.submit(received(simple("alpha again"), t0 + Duration::from_millis(9))).await.unwrap();
    let first = |query: &str, position| store.first_matching_after(query, position).unwrap().map(|m| m.id);

    // Oldest first, whatever the page windows; the query filters.
    assert_eq!(first("", start), Some(a.clone()));
    assert_eq!(first("subject:alpha", start), Some(a.clone()));
    let after_a = store.position_after(&a).unwrap().unwrap();
    assert_eq!(first("", after_a), Some(b.clone()));
    assert_eq!(first("subject:alpha", after_a), Some(c.clone()));
    assert_eq!(first("", store.position_after(&c).unwrap().unwrap()), None);
    assert_eq!(first("", store.position_now().unwrap()), None);

    // By time: received strictly later than the millisecond.
    assert_eq!(first("", Position::received_after(t0)), Some(b.clone()));
    assert_eq!(first("", Position::received_after(t0 + Duration::from_micros(4_999))), Some(b.clone()));

    // A message pruned away still marks its point: the time its ID encodes.
    store.submit(received(simple("delta"), t0 + Duration::from_millis(20))).await.unwrap();
    assert_eq!(store.summary(&a).unwrap(), None, "pruned (max_messages 3)");
    assert_eq!(store.position_after(&a).unwrap(), Some(Position::ReceivedSince(codec::unix_ms(t0))));
    assert_eq!(first("", store.position_after(&a).unwrap().unwrap()), Some(b.clone()));
    assert_eq!(store.position_after("not an id").unwrap(), None);

    // One message against a query.
    assert_eq!(store.summary_if_matching(&c, "alpha").unwrap().map(|m| m.id), Some(c.clone()));
    assert_eq!(store.summary_if_matching(&b, "alpha").unwrap(), None);
    assert_eq!(store.summary_if_matching(&a, "").unwrap(), None, "gone");

    // A message received in the position's millisecond is not after it; a later one is.
    let summary = store.summary(&b).unwrap().unwrap();
    assert!(!Position::received_after(summary.created).admits_new(&summary));
    assert!(Position::received_after(t0).admits_new(&summary));
    assert!(Position::Stored(i64::MAX).admits_new(&summary));
    store.close().await;
}

#[tokio::test]
async fn read_flags_and_deletes_publish_events() {
    let dir = TempDir::new().unwrap();
    let (store, mut events) = open(dir.path(), config());
    let mut sent = Vec::new();
    for n in 0..4 {
        sent.push(store.submit(new_message(simple(&format!("m{n}")))).await.unwrap());
    }
    drain(&mut events);

    store.set_read(Selection::Ids(vec![sent[0].clone(), sent[1].clone()]), true).await.unwrap();
    let published = drain(&mut events);
    let updated: Vec<(&str, bool)> = published
        .iter()
        .filter_map(|e| match e {
            Event::Update(u) => Some((u.id.as_str(), u.read)),
            _ => None,
        })
        .collect();
    assert_eq!(updated.len(), 2);
    assert!(updated.contains(&(sent[0].as_str(), true)) && updated.contains(&(sent[1].as_str(), true)));
    assert!(matches!(published.last(), Some(Event::Stats(s)) if s.total == 4 && s.unread == 2));
    assert!(store.summary(&sent[0]).unwrap().unwrap().read);

    // Only messages whose flag actually changes are reported.
    store.set_read(Selection::All, true).await.unwrap();
    let published = drain(&mut events);
    assert_eq!(published.iter().filter(|e| matches!(e, Event::Update(_))).count(), 2);
    assert_eq!(store.stats().unwrap().unread, 0);
    store.set_read(Selection::Search("subject:m3".into()), false).await.unwrap();
    assert_eq!(store.stats().unwrap().unread, 1);
    drain(&mut events);

    store.delete(Selection::Ids(vec![sent[3].clone(), "no-such-id".into()])).await.unwrap();
    let published = drain(&mut events);
    assert!(matches!(&published[..], [Event::Delete(d), Event::Stats(s)]
        if d.id == sent[3] && s.total == 3 && s.unread == 0));
    assert!(store.raw(&sent[3]).unwrap().is_none());
    assert!(store.envelope(&sent[3]).unwrap().is_none());
    assert_eq!(store.search("m3", 0, 10).unwrap().messages_count, 0, "index entry went with the message");

    store.delete(Selection::Search("subject:m2".into())).await.unwrap();
    assert!(matches!(&drain(&mut events)[..], [Event::Delete(d), Event::Stats(_)] if d.id == sent[2]));

    store.delete(Selection::All).await.unwrap();
    assert!(matches!(&drain(&mut events)[..], [Event::Truncate(()), Event::Stats(s)] if s.total == 0));
    assert_eq!(store.list(0, 10).unwrap().total, 0);
    assert!(store.latest_id(None).unwrap().is_none());
    // The store keeps working after a truncate.
    let id = store.submit(new_message(simple("after"))).await.unwrap();
    assert_eq!(store.search("after", 0, 10).unwrap().messages[0].id, id);
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
async fn retention_keeps_the_newest_by_count() {
    let dir = TempDir::new().unwrap();
    let (store, mut events) = open(dir.path(), StoreConfig { max_messages: 5, ..config() });
    for n in 0..8 {
        store.submit(new_message(simple(&format!("m{n}")))).await.unwrap();
    }
    let page = store.list(0, 50).unwrap();
    assert_eq!(subjects(&page), ["m7", "m6", "m5", "m4", "m3"]);
    assert_eq!((page.total, page.unread), (5, 5));
    assert_eq!(drain(&mut events).iter().filter(|e| matches!(e, Event::Prune(()))).count(), 3);
    assert_eq!(store.search("m0", 0, 10).unwrap().messages_count, 0);
    store.close().await;

    // The counts the writer keeps match the table after a restart.
    let (store, _events) = open(dir.path(), StoreConfig { max_messages: 5, ..config() });
    store.submit(new_message(simple("m8"))).await.unwrap();
    assert_eq!(subjects(&store.list(0, 50).unwrap()), ["m8", "m7", "m6", "m5", "m4"]);
    store.close().await;
}

#[tokio::test]
async fn retention_keeps_the_newest_by_size() {
    let dir = TempDir::new().unwrap();
    let one = simple("m0").len() as u64;
    let (store, _events) = open(dir.path(), StoreConfig { max_total_size: 3 * one + one / 2, ..config() });
    for n in 0..6 {
        store.submit(new_message(simple(&format!("m{n}")))).await.unwrap();
    }
    assert_eq!(subjects(&store.list(0, 50).unwrap()), ["m5", "m4", "m3"]);
    store.close().await;
}

#[tokio::test]
async fn refuses_a_newer_schema_without_touching_the_file() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join(DATABASE_FILE);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 99;").unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let error = Store::open(dir.path(), config(), event::channel()).err().expect("must refuse");
    assert!(matches!(error, OpenError::NewerSchema { found: 99, .. }), "{error:?}");
    let text = error.to_string();
    assert!(text.contains("newer Pigeonhole") && text.contains("--data") && !text.contains('\n'), "{text}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[tokio::test]
async fn refuses_another_programs_database_without_touching_it() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join(DATABASE_FILE);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers (name) VALUES ('x');",
        )
        .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let error = Store::open(dir.path(), config(), event::channel()).err().expect("must refuse");
    assert!(matches!(error, OpenError::ForeignDatabase { .. }), "{error:?}");
    let text = error.to_string();
    assert!(text.contains("another program") && text.contains("--data") && !text.contains('\n'), "{text}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[tokio::test]
async fn refuses_a_file_that_is_not_a_database_without_touching_it() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join(DATABASE_FILE);
    let junk = b"this is not a database, it is a shopping list\n".repeat(200);
    std::fs::write(&path, &junk).unwrap();
    let error = Store::open(dir.path(), config(), event::channel()).err().expect("must refuse");
    assert!(matches!(error, OpenError::NotADatabase { .. }), "{error:?}");
    assert!(!error.to_string().contains('\n'));
    assert_eq!(std::fs::read(&path).unwrap(), junk);
}

#[tokio::test]
async fn reports_an_unusable_data_folder() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"").unwrap();
    let error = Store::open(&file.join("data"), config(), event::channel()).err().expect("must refuse");
    assert!(matches!(error, OpenError::DataDir { .. }), "{error:?}");
    let text = error.to_string();
    assert!(text.contains("a-file") && text.contains("--data") && !text.contains('\n'), "{text}");

    // A read-only folder (meaningless for root, who may write anywhere).
    use std::os::unix::fs::PermissionsExt;
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
    if std::fs::write(locked.join("probe"), b"").is_err() {
        let error = Store::open(&locked, config(), event::channel()).err().expect("must refuse");
        assert!(matches!(error, OpenError::CannotOpen { .. }), "{error:?}");
        assert!(error.to_string().contains("writable"));
    }
}

#[tokio::test]
async fn reopening_keeps_everything() {
    let dir = TempDir::new().unwrap();
    let mut sent = Vec::new();
    {
        let (store, _events) = open(dir.path(), config());
        for n in 0..3 {
            let raw = simple(&format!("kept {n}"));
            sent.push((store.submit(from_user(raw.clone(), "bob")).await.unwrap(), raw));
        }
        store.set_read(Selection::Ids(vec![sent[0].0.clone()]), true).await.unwrap();
        // Dropped without close(): the writer stops when the last handle goes.
    }
    let (store, _events) = open(dir.path(), config());
    let page = store.list(0, 10).unwrap();
    assert_eq!((page.total, page.unread), (3, 2));
    for (id, raw) in &sent {
        assert_eq!(&store.raw(id).unwrap().unwrap(), raw);
    }
    assert_eq!(store.search("kept", 0, 10).unwrap().messages_count, 3);
    assert_eq!(store.inboxes().unwrap()[0].name, "bob");
    store.submit(new_message(simple("more"))).await.unwrap();
    assert_eq!(store.stats().unwrap().total, 4);
    store.close().await;
}

#[tokio::test]
async fn close_flushes_then_refuses() {
    let dir = TempDir::new().unwrap();
    let (store, _events) = open(dir.path(), config());
    let lock = WriteLock::take(&store);
    let mut pending = Vec::new();
    for n in 0..5 {
        pending.push(enqueue(&store, simple(&format!("q{n}"))).await);
    }
    let mut closing = Box::pin(store.close());
    assert!(futures_util::poll!(&mut closing).is_pending(), "close waits for the queued messages");
    lock.release();
    closing.await;
    for submit in pending {
        submit.await.expect("queued before close, so written");
    }
    assert_eq!(store.stats().unwrap().total, 5);
    assert!(matches!(store.submit(new_message(simple("late"))).await, Err(SubmitError::Closed)));
    assert!(matches!(store.delete(Selection::All).await, Err(StoreError::Closed)));
    assert_eq!(store.list(0, 10).unwrap().count, 5, "reads still work");
    store.close().await;
}

/// Many concurrent submits are all acknowledged, all present, and share commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn group_commit_acknowledges_every_message() {
    let dir = TempDir::new().unwrap();
    let (store, sqlite, mut events) = open_sqlite(dir.path(), config());

    // Messages that queue up while the writer waits go out in one transaction,
    // which publishes one stats event.
    let capacity = config().queue_capacity;
    let lock = WriteLock::take(&store);
    let first = enqueue(&store, simple("first")).await;
    queue_has_free_slots(&sqlite, capacity).await; // the writer took it and waits for the lock
    let mut queued = Vec::new();
    for n in 0..100 {
        queued.push(enqueue(&store, simple(&format!("queued {n}"))).await);
    }
    assert_eq!(sqlite.commands.capacity(), capacity - 100);
    lock.release();
    first.await.unwrap();
    for submit in queued {
        submit.await.unwrap();
    }
    let published = drain(&mut events);
    assert_eq!(published.iter().filter(|e| matches!(e, Event::New(_))).count(), 101);
    let commits = published.iter().filter(|e| matches!(e, Event::Stats(_))).count();
    assert_eq!(commits, 2, "one commit for the first message, one for the hundred queued behind it");

    // And without a stall: 1,000 submits from many tasks at once.
    let tasks: Vec<_> = (0..1000)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                let raw = simple(&format!("burst {n}"));
                loop {
                    match store.submit(new_message(raw.clone())).await {
                        Err(SubmitError::Busy) => tokio::task::yield_now().await,
                        other => return (other.unwrap(), raw),
                    }
                }
            })
        })
        .collect();
    let mut acknowledged = std::collections::HashSet::new();
    for task in tasks {
        let (id, raw) = task.await.unwrap();
        assert_eq!(store.raw(&id).unwrap().unwrap(), raw);
        assert!(acknowledged.insert(id));
    }
    assert_eq!(store.stats().unwrap().total, 1101);
    assert_eq!(store.search("burst", 0, 1).unwrap().messages_count, 1000);
    store.close().await;
}

/// A full queue refuses at once instead of growing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_queue_answers_busy() {
    let dir = TempDir::new().unwrap();
    let (store, sqlite, _events) = open_sqlite(dir.path(), StoreConfig { queue_capacity: 1, ..config() });
    let lock = WriteLock::take(&store);
    let in_writer = enqueue(&store, simple("in the writer")).await;
    queue_has_free_slots(&sqlite, 1).await; // the writer took it and waits for the lock
    let queued = enqueue(&store, simple("queued")).await;
    assert_eq!(sqlite.commands.capacity(), 0);

    let refused = store.submit(new_message(simple("refused"))).await;
    assert!(matches!(refused, Err(SubmitError::Busy)), "{refused:?}");

    lock.release();
    in_writer.await.unwrap();
    queued.await.unwrap();
    assert_eq!(subjects(&store.list(0, 10).unwrap()), ["queued", "in the writer"]);
    store.close().await;
}

#[tokio::test]
async fn queued_bytes_over_the_budget_answer_busy() {
    let dir = TempDir::new().unwrap();
    let config = StoreConfig { max_queued_bytes: 100 * 1024, ..config() };
    let (store, _events) = open(dir.path(), config);
    let lock = WriteLock::take(&store);
    let big = |subject: &str| eml(&format!("Subject: {subject}\r\n"), &"b".repeat(60 * 1024));
    // 60 KiB waits for the writer; another 60 KiB would pass the 100 KiB budget,
    // though the queue has room for a thousand messages.
    let waiting = enqueue(&store, big("waiting")).await;
    let refused = store.submit(new_message(big("refused"))).await;
    assert!(matches!(refused, Err(SubmitError::Busy)), "{refused:?}");
    let small = enqueue(&store, simple("small fits")).await;

    lock.release();
    waiting.await.unwrap();
    small.await.unwrap();
    // Once written, the budget is free again.
    store.submit(new_message(big("after"))).await.unwrap();
    assert_eq!(subjects(&store.list(0, 10).unwrap()), ["after", "small fits", "waiting"]);
    store.close().await;
}

/// A full disk fails the batch: nothing written, nothing acknowledged, nothing
/// announced, and the counts stay true.
#[tokio::test]
async fn full_disk_fails_the_batch_cleanly() {
    let dir = TempDir::new().unwrap();
    let events = event::channel();
    let mut receiver = events.subscribe();
    // SQLite reports a database that may not grow (max_page_count) exactly as a
    // full disk: SQLITE_FULL.
    let store = Store::open_with(dir.path(), config(), events, |conn| {
        let pages: i64 = conn.query_row("PRAGMA page_count", [], |row| row.get(0))?;
        conn.query_row(&format!("PRAGMA max_page_count = {}", pages + 8), [], |_| Ok(()))
    })
    .unwrap();
    let small = store.submit(new_message(simple("fits"))).await.unwrap();
    drain(&mut receiver);

    // Incompressible, so it needs far more than 8 pages.
    let mut noise = Vec::with_capacity(300_000);
    let mut x: u32 = 1;
    while noise.len() < 300_000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        noise.extend_from_slice(&x.to_le_bytes());
    }
    let mut raw = b"Subject: big\r\n\r\n".to_vec();
    raw.extend(noise.iter().map(|b| b'a' + b % 26));
    let result = store.submit(new_message(raw)).await;
    assert!(matches!(result, Err(SubmitError::DiskFull)), "{result:?}");

    // Nothing announced but the disk's state, which the store now reports.
    let published = drain(&mut receiver);
    assert!(matches!(published[..], [Event::Disk(DiskState { full: true })]), "{published:?}");
    assert!(store.disk_full());
    assert_eq!(store.data_dir(), dir.path());
    let page = store.list(0, 10).unwrap();
    assert_eq!((page.total, page.count), (1, 1));
    assert_eq!(page.messages[0].id, small);
    assert_eq!(store.search("big", 0, 10).unwrap().messages_count, 0);

    // A write that fits again clears it, and says so.
    store.submit(new_message(simple("fits again"))).await.unwrap();
    assert!(!store.disk_full());
    let published = drain(&mut receiver);
    assert!(matches!(published[0], Event::Disk(DiskState { full: false })), "{published:?}");
    assert_eq!(published.iter().filter(|e| matches!(e, Event::Disk(_))).count(), 1);
    store.close().await;
}

#[test]
fn open_errors_are_one_line_with_a_fix() {
    let path = PathBuf::from("/data/pigeonhole.db");
    let errors = [
        OpenError::DataDir { path: path.clone(), source: io::Error::from(io::ErrorKind::PermissionDenied) },
        OpenError::CannotOpen { path: path.clone() },
        OpenError::ReadOnly { path: path.clone() },
        OpenError::NotADatabase { path: path.clone() },
        OpenError::ForeignDatabase { path: path.clone() },
        OpenError::NewerSchema { path: path.clone(), found: 7, known: 1 },
        OpenError::Busy { path: path.clone() },
        OpenError::DiskFull { path: path.clone() },
        OpenError::Database { path: path.clone(), detail: "disk I/O error".into() },
    ];
    for error in errors {
        let text = error.to_string();
        assert!(!text.contains('\n'), "{text}");
        assert!(text.contains("/data/pigeonhole.db") && text.contains("--data"), "{text}");
    }
}

fn pending_rows(store: &Store) -> i64 {
    let conn = rusqlite::Connection::open(store.database_path()).unwrap();
    conn.query_row("SELECT count(*) FROM fts_pending", [], |row| row.get(0)).unwrap()
}

async fn wait_until_indexed(store: &Store) {
    for _ in 0..200 {
        if pending_rows(store) == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("pending text was never indexed");
}

#[tokio::test]
async fn new_messages_are_found_before_and_after_indexing() {
    let dir = TempDir::new().unwrap();
    let (store, _events) = open(dir.path(), config());
    let id = store.submit(new_message(simple("Quarterly invoice"))).await.unwrap();
    // Found at once, from the pending text…
    assert_eq!(ids(&store.search("invoice", 0, 10).unwrap()), [id.as_str()]);
    // …then indexed in the background once the writer is idle, and still found.
    wait_until_indexed(&store).await;
    assert_eq!(ids(&store.search("invoice", 0, 10).unwrap()), [id.as_str()]);
    assert_eq!(ids(&store.search("quart", 0, 10).unwrap()), [id.as_str()]);

    // A message deleted before it is indexed leaves nothing behind.
    let gone = store.submit(new_message(simple("Ephemeral receipt"))).await.unwrap();
    store.delete(Selection::Ids(vec![gone])).await.unwrap();
    assert!(store.search("receipt", 0, 10).unwrap().messages.is_empty());
    wait_until_indexed(&store).await;
    assert!(store.search("receipt", 0, 10).unwrap().messages.is_empty());
    store.close().await;
}

#[tokio::test]
async fn text_left_pending_by_a_crash_is_indexed_at_start() {
    let dir = TempDir::new().unwrap();
    let (store, _events) = open(dir.path(), config());
    let id = store.submit(new_message(simple("Café invoice"))).await.unwrap();
    store.close().await;
    // What a process killed before indexing leaves: text pending, nothing indexed.
    {
        let conn = rusqlite::Connection::open(store.database_path()).unwrap();
        conn.execute_batch(
            "INSERT INTO fts_pending SELECT 1, 'Café invoice', 'sender@example.com', 'hello', '';
             DELETE FROM messages_fts WHERE rowid = 1;",
        )
        .unwrap();
    }
    let (store, _events) = open(dir.path(), config());
    wait_until_indexed(&store).await;
    // "cafe" finds "Café" only through the index (diacritics folded).
    assert_eq!(ids(&store.search("cafe", 0, 10).unwrap()), [id.as_str()]);
    store.close().await;
}

#[tokio::test]
async fn commits_are_checkpointed_in_the_background() {
    let dir = TempDir::new().unwrap();
    let (store, _events) = open(dir.path(), config());
    let db_size = || std::fs::metadata(store.database_path()).unwrap().len();
    let before = db_size();
    let body = "lorem ipsum ".repeat(1000);
    for i in 0..100 {
        store.submit(new_message(eml(&format!("Subject: {i}\r\n"), &body))).await.unwrap();
    }
    // SQLite's own checkpoint waits for 10,000 pages; ~1 MB of commits reach the
    // database file only through the background checkpointer.
    for _ in 0..100 {
        if db_size() > before + 500_000 {
            store.close().await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no checkpoint within 2 s: the database file stayed at {} bytes", db_size());
}

#[tokio::test]
async fn storage_order_numbers_are_never_reused() {
    let dir = TempDir::new().unwrap();
    let (store, _events) = open(dir.path(), config());
    let seq_of = |id: &str| -> i64 {
        let conn = rusqlite::Connection::open(store.database_path()).unwrap();
        conn.query_row("SELECT seq FROM messages WHERE id = ?1", [id], |row| row.get(0)).unwrap()
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

#[tokio::test]
async fn tags_from_x_tags_and_plus_addresses_at_ingest() {
    let dir = TempDir::new().unwrap();
    let (store, mut events) = open(dir.path(), config());
    let tagged = eml("From: app@example.com\r\nTo: user+Signup@example.com\r\nX-Tags: urgent, big  deal\r\n", "hi");
    let mut envelope_only = new_message(simple("bcc"));
    envelope_only.envelope.rcpt_to.push("hidden+audit@example.com".into());
    let a = store.submit(new_message(tagged)).await.unwrap();
    let b = store.submit(envelope_only).await.unwrap();
    let plain = store.submit(new_message(simple("plain"))).await.unwrap();

    let summary = store.summary(&a).unwrap().unwrap();
    assert_eq!(summary.tags, ["big deal", "Signup", "urgent"]);
    // The new-message event carries the tags as stored.
    let new_tags: Vec<Vec<String>> = drain(&mut events)
        .into_iter()
        .filter_map(|e| match e {
            Event::New(s) => Some(s.tags),
            _ => None,
        })
        .collect();
    assert_eq!(new_tags, [summary.tags.clone(), vec!["audit".to_string()], vec![]]);

    let page = store.list(0, 50).unwrap();
    assert_eq!(page.tags, ["audit", "big deal", "Signup", "urgent"]);
    assert_eq!(page.messages.iter().find(|m| m.id == plain).unwrap().tags, Vec::<String>::new());
    assert_eq!(ids(&store.search("tag:SIGNUP", 0, 50).unwrap()), [a.as_str()]);
    assert_eq!(ids(&store.search("tag:\"big deal\"", 0, 50).unwrap()), [a.as_str()]);
    assert_eq!(ids(&store.search("is:tagged", 0, 50).unwrap()), [b.as_str(), a.as_str()]);
    assert_eq!(ids(&store.search("-is:tagged", 0, 50).unwrap()), [plain.as_str()]);
    let counts = store.tag_counts().unwrap();
    assert_eq!(counts.get("audit"), Some(&1));
    assert_eq!(counts.len(), 4);
    store.close().await;
}

#[tokio::test]
async fn tag_rules_can_turn_sources_off_and_add_the_user_name() {
    let dir = TempDir::new().unwrap();
    let rules = TagRules { from_x_tags: false, from_plus_addresses: false, from_username: true, title_case: true };
    let (store, _events) = open(dir.path(), StoreConfig { tags: rules, ..config() });
    let raw = eml("From: a@example.com\r\nTo: b+plus@example.com\r\nX-Tags: header\r\n", "hi");
    let id = store.submit(from_user(raw, "ci bot")).await.unwrap();
    assert_eq!(store.summary(&id).unwrap().unwrap().tags, ["Ci Bot"]);
    // API-set tags are cleaned by the same rules.
    store.set_tags(vec![id.clone()], &["new  one".into(), "@@".into()]).await.unwrap();
    assert_eq!(store.summary(&id).unwrap().unwrap().tags, ["New One"]);
    store.close().await;
}

#[tokio::test]
async fn set_rename_and_delete_tags() {
    let dir = TempDir::new().unwrap();
    let (store, mut events) = open(dir.path(), config());
    let a = store.submit(new_message(simple("a"))).await.unwrap();
    let b = store.submit(new_message(simple("b"))).await.unwrap();
    let tags_of = |id: &str| store.summary(id).unwrap().unwrap().tags;
    drain(&mut events);

    // Set: replaces, dedups case-insensitively, skips unknown IDs, one update each.
    let asked = ["Blue".to_string(), "red".into(), "BLUE".into(), " ".into()];
    store.set_tags(vec![a.clone(), b.clone(), "nosuchmessageid0000000".into()], &asked).await.unwrap();
    let published = drain(&mut events);
    let updates: Vec<(&str, &[String])> = published
        .iter()
        .filter_map(|e| match e {
            Event::Tagged(t) => Some((t.id.as_str(), t.tags.as_slice())),
            _ => None,
        })
        .collect();
    let both = ["Blue".to_string(), "red".into()];
    assert_eq!(updates, [(a.as_str(), &both[..]), (b.as_str(), &both[..])]);
    assert!(matches!(published.last(), Some(Event::Stats(_))));
    store.set_tags(vec![b.clone()], &["red".into(), "green".into()]).await.unwrap();
    assert_eq!(tags_of(&b), ["green", "red"]);
    assert_eq!(store.tags().unwrap(), ["Blue", "green", "red"]);

    // Rename: any case finds the tag; a case change respells it; another tag's
    // name merges the two.
    store.rename_tag("BLUE", "navy blue").await.unwrap();
    assert_eq!(tags_of(&a), ["navy blue", "red"]);
    store.rename_tag("Navy Blue", "RED").await.unwrap();
    assert_eq!(tags_of(&a), ["red"]);
    assert_eq!(store.tags().unwrap(), ["green", "red"]);
    store.rename_tag("red", "Red").await.unwrap();
    assert_eq!(tags_of(&b), ["green", "Red"]);
    assert!(matches!(store.rename_tag("nope", "x").await, Err(TagError::NoSuchTag(name)) if name == "nope"));
    assert!(matches!(store.rename_tag("Red", " !! ").await, Err(TagError::InvalidName(name)) if name == " !! "));
    drain(&mut events);

    // Delete: off every message, the messages stay; announced as prune + stats.
    store.delete_tag("red").await.unwrap();
    assert!(matches!(&drain(&mut events)[..], [Event::Prune(()), Event::Stats(s)] if s.total == 2));
    assert_eq!(tags_of(&a), Vec::<String>::new());
    assert_eq!(tags_of(&b), ["green"]);
    assert!(matches!(store.delete_tag("red").await, Err(TagError::NoSuchTag(_))));

    // Clearing a message's tags, and deleting the last message with a tag, drop
    // the tag from the list.
    store.set_tags(vec![b.clone()], &[]).await.unwrap();
    assert!(store.tags().unwrap().is_empty());
    store.set_tags(vec![a.clone()], &["keep".into()]).await.unwrap();
    store.delete(Selection::Ids(vec![a.clone()])).await.unwrap();
    assert!(store.tags().unwrap().is_empty());
    assert!(store.tag_counts().unwrap().is_empty());
    store.close().await;
}

/// One budget for messages on their way in: what a reservation holds (a body
/// still arriving) is not available to submits, a reservation cannot grow past
/// what is free, and it is given back when dropped or when its message is written.
#[tokio::test]
async fn reservations_share_the_byte_budget() {
    let dir = TempDir::new().unwrap();
    let config = StoreConfig { max_queued_bytes: 100 * 1024, ..config() };
    let (store, _events) = open(dir.path(), config);
    let big = |subject: &str| eml(&format!("Subject: {subject}\r\n"), &"b".repeat(60 * 1024));

    let mut arriving = store.reservation();
    assert!(arriving.cover(50 * 1024));
    assert_eq!(arriving.bytes(), 50 * 1024);
    assert!(arriving.cover(10 * 1024), "already held");
    assert_eq!(arriving.bytes(), 50 * 1024);
    // 50 KiB held by a body still arriving: a 60 KiB message does not fit.
    let refused = store.submit(new_message(big("refused"))).await;
    assert!(matches!(refused, Err(SubmitError::Busy)), "{refused:?}");
    let mut other = store.reservation();
    assert!(!other.cover(60 * 1024), "past what is free");
    assert_eq!(other.bytes(), 0);
    assert!(other.cover(40 * 1024));
    assert!(!arriving.cover(70 * 1024), "the other holds the rest");
    assert_eq!(arriving.bytes(), 50 * 1024, "a failed cover keeps what it held");
    drop(other);
    // The body arrives whole (61 KiB with its header): its reservation grows to
    // it and goes to the store with it.
    let id = store.submit_reserved(new_message(big("arrived")), arriving).await.unwrap();
    assert_eq!(store.summary(&id).unwrap().unwrap().subject, "arrived");
    // Written: all of the budget is free again.
    let mut all = store.reservation();
    assert!(all.cover(100 * 1024));
    all.release();
    assert_eq!(all.bytes(), 0);
    store.submit(new_message(big("after"))).await.unwrap();
    store.close().await;
}
