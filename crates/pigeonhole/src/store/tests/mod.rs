//! Store tests on real SQLite files in temporary folders, and on a real
//! PostgreSQL server (`postgres`).
//!
//! This module is the helpers they share (opening a store, small messages, draining
//! events, stalling the writer); the tests sit in one file per concern.

mod access;
mod budget;
mod disk;
mod events;
mod indexing;
mod mailbox;
mod opening;
mod postgres;
mod read;
mod retention;
mod search;
mod tags;
mod writer;

/// The PostgreSQL server the end-to-end tests use too.
#[allow(dead_code)]
#[path = "../../../tests/common/postgres.rs"]
mod pg_fixture;

use std::future::Future;
use std::path::Path;
use std::pin::Pin;

use time::OffsetDateTime;
use tokio::sync::broadcast;

use crate::config::StoreConfig;
use crate::model::event::{self, Event};
use crate::model::{Envelope, MessageId, MessagePage, NewMessage};
use crate::store::{Store, SubmitError};

fn config() -> StoreConfig {
    StoreConfig::default()
}

fn open(dir: &Path, config: StoreConfig) -> (Store, broadcast::Receiver<Event>) {
    let events = event::channel();
    let receiver = events.subscribe();
    (Store::open(dir, config, events).expect("open store"), receiver)
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
            api: None,
            simulation: None,
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

type Pending<'a> = Pin<Box<dyn Future<Output = Result<MessageId, SubmitError>> + Send + 'a>>;

/// Start a submit and run it to where it waits for its commit: from then on its
/// message is in the writer's queue (or in the writer's hands).
async fn enqueue(store: &Store, raw: Vec<u8>) -> Pending<'_> {
    let mut submit: Pending<'_> = Box::pin(store.submit(new_message(raw)));
    assert!(futures_util::poll!(&mut submit).is_pending(), "a submit finished while the writer was stalled");
    submit
}
