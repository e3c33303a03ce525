//! Events across nodes: each committing transaction announces itself with one
//! `NOTIFY pigeonhole_events` ([`Notice`]: the node's ID and what changed, by
//! message ID), and each node's listener thread turns the other nodes' notices
//! into the same [`Event`]s its own writer publishes, so a message accepted on
//! node A reaches node B's WebSocket and API.
//!
//! A notice carries IDs only (a payload is at most 8000 bytes): the listener
//! reads the new messages' summaries and the re-tagged messages' tags in one
//! query each. A change of more than [`MAX_EVENTS_PER_CHANGE`] messages is
//! announced as `prune` (clients reload), as it is locally. After its
//! connection was lost the listener cannot know what it missed: once connected
//! again it publishes `prune` and the totals.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use postgres::Config;
use postgres::fallible_iterator::FallibleIterator;
use serde::{Deserialize, Serialize};

use super::connection::{Link, Session};
use super::read::{SUMMARY_COLUMNS, summary_from_row};
use super::schema::EVENTS_CHANNEL;
use crate::model::{Deleted, EffectsRecorded, Event, EventSender, MessageId, ReadChanged, Stats, TagsChanged};
use crate::store::search::{Condition, Dialect};
use crate::store::writer::{MAX_EVENTS_PER_CHANGE, PublishedTotals, Totals};

/// Above this a payload might not fit PostgreSQL's 8000 bytes: `prune` instead.
const MAX_NOTICE_BYTES: usize = 7000;

/// How long the listener waits for a notification before it looks whether it
/// should stop.
const WAIT: Duration = Duration::from_millis(250);

/// What one transaction of one node changed, as announced to the others.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
pub(super) struct Notice {
    node: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    new: Vec<String>,
    /// (ID, read, inbox): IDs of messages still stored, but each change's inbox
    /// travels with it as it does for deletes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    read: Vec<(String, bool, String)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tagged: Vec<String>,
    /// (ID, inbox): a deleted message cannot be looked up for its inbox.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    deleted: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    effects: Vec<(String, String)>,
    #[serde(default)]
    truncate: bool,
    #[serde(default)]
    prune: bool,
}

impl Notice {
    /// The payload announcing `events`, committed by `node`.
    pub fn of(node: &str, events: &[Event]) -> String {
        let mut notice = Notice { node: node.to_owned(), ..Notice::default() };
        for event in events {
            match event {
                Event::New(summary) => notice.new.push(summary.id.as_str().to_owned()),
                Event::Update(ReadChanged { id, read, inbox }) => {
                    notice.read.push((id.as_str().to_owned(), *read, inbox.clone()));
                }
                Event::Tagged(TagsChanged { id, .. }) => notice.tagged.push(id.as_str().to_owned()),
                Event::Delete(Deleted { id, inbox }) => notice.deleted.push((id.as_str().to_owned(), inbox.clone())),
                Event::Effects(EffectsRecorded { id, inbox }) => {
                    notice.effects.push((id.as_str().to_owned(), inbox.clone()));
                }
                Event::Truncate(()) => notice.truncate = true,
                Event::Prune(()) => notice.prune = true,
                Event::Stats(_) | Event::Intake(_) | Event::Burst(_) | Event::Disk(_) => {}
            }
        }
        let changed = notice.new.len() + notice.read.len() + notice.tagged.len() + notice.deleted.len();
        let payload = serde_json::to_string(&notice).expect("a notice always serialises");
        if changed + notice.effects.len() <= MAX_EVENTS_PER_CHANGE && payload.len() <= MAX_NOTICE_BYTES {
            return payload;
        }
        let reload = Notice { node: notice.node, truncate: notice.truncate, prune: true, ..Notice::default() };
        serde_json::to_string(&reload).expect("a notice always serialises")
    }
}

/// Connect and LISTEN now, so that every commit after the store opened is heard.
pub(super) fn listen(config: &Config) -> Result<Session, postgres::Error> {
    let mut session = Session::open(config)?;
    session.client.batch_execute(&format!("LISTEN {EVENTS_CHANNEL}"))?;
    Ok(session)
}

/// The listener thread, on the `listening` session [`listen`] made: stops when
/// `stop` is set (within [`WAIT`]).
pub(super) fn start(
    config: Config,
    listening: Session,
    node: Arc<str>,
    events: EventSender,
    published: Arc<PublishedTotals>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<thread::JoinHandle<()>> {
    thread::Builder::new().name("pigeonhole-pg-listener".into()).spawn(move || {
        let mut link = Link::with_session(config, listening);
        let mut missed = false;
        while !stop.load(Ordering::Relaxed) {
            let session = match link.session() {
                Ok((session, fresh)) => {
                    if fresh && let Err(error) = session.client.batch_execute(&format!("LISTEN {EVENTS_CHANNEL}")) {
                        tracing::warn!(%error, "listening for other nodes' changes failed; retrying");
                        link.check();
                        continue;
                    }
                    session
                }
                Err(_) => {
                    missed = true;
                    thread::sleep(WAIT);
                    continue;
                }
            };
            if missed {
                // Whatever was announced while the connection was down is lost.
                missed = false;
                let _ = events.send(Event::Prune(()));
                publish_totals(session, &published, &events);
            }
            if let Err(error) = relay(session, &node, &events, &published) {
                tracing::warn!(%error, "reading other nodes' changes failed; reconnecting");
                missed = true;
                link.reset();
            }
        }
    })
}

/// Wait up to [`WAIT`] for notices, then publish what the other nodes' say.
fn relay(
    session: &mut Session,
    node: &str,
    events: &EventSender,
    published: &PublishedTotals,
) -> Result<(), postgres::Error> {
    let mut payloads = Vec::new();
    {
        let mut notifications = session.client.notifications();
        let first = notifications.timeout_iter(WAIT).next()?;
        if let Some(first) = first {
            payloads.push(first.payload().to_owned());
            // Whatever else already arrived, in the same round.
            let mut more = notifications.iter();
            while let Some(next) = more.next()? {
                payloads.push(next.payload().to_owned());
            }
        }
    }
    let notices: Vec<Notice> = payloads
        .iter()
        .filter_map(|payload| serde_json::from_str::<Notice>(payload).ok())
        .filter(|notice| notice.node != node)
        .collect();
    if notices.is_empty() {
        return Ok(());
    }
    for notice in notices {
        publish(session, notice, events)?;
    }
    publish_totals(session, published, events);
    Ok(())
}

/// One other node's notice as local events, in the order its writer publishes them.
fn publish(session: &mut Session, notice: Notice, events: &EventSender) -> Result<(), postgres::Error> {
    if notice.truncate {
        let _ = events.send(Event::Truncate(()));
    }
    if notice.prune {
        let _ = events.send(Event::Prune(()));
    }
    let ids = |ids: &[String]| ids.iter().cloned().map(MessageId::stored).collect::<Vec<_>>();
    if !notice.new.is_empty() {
        let filter = Condition::ids(&ids(&notice.new), Dialect::Postgres);
        let sql = format!("SELECT {SUMMARY_COLUMNS} FROM messages m WHERE {} ORDER BY m.seq", filter.sql);
        for row in session.query(&sql, &filter.params)? {
            match summary_from_row(&row) {
                Ok(summary) => {
                    let _ = events.send(Event::New(Box::new(summary)));
                }
                Err(error) => tracing::warn!(%error, "another node's new message cannot be read"),
            }
        }
    }
    if !notice.tagged.is_empty() {
        let filter = Condition::ids(&ids(&notice.tagged), Dialect::Postgres);
        let sql = format!(
            "SELECT m.id, (SELECT coalesce(json_agg(t.name ORDER BY t.name), '[]')::text FROM message_tags mt
                 JOIN tags t ON t.id = mt.tag_id WHERE mt.seq = m.seq),
                 (SELECT name FROM inboxes WHERE id = m.inbox_id) FROM messages m WHERE {}",
            filter.sql
        );
        for row in session.query(&sql, &filter.params)? {
            let tags: String = row.get(1);
            let tags = serde_json::from_str(&tags).unwrap_or_default();
            let id = MessageId::stored(row.get(0));
            let _ = events.send(Event::Tagged(TagsChanged { id, tags, inbox: row.get(2) }));
        }
    }
    for (id, read, inbox) in notice.read {
        let _ = events.send(Event::Update(ReadChanged { id: MessageId::stored(id), read, inbox }));
    }
    for (id, inbox) in notice.deleted {
        let _ = events.send(Event::Delete(Deleted { id: MessageId::stored(id), inbox }));
    }
    for (id, inbox) in notice.effects {
        let _ = events.send(Event::Effects(EffectsRecorded { id: MessageId::stored(id), inbox }));
    }
    Ok(())
}

/// Read the totals again (others changed them) and publish them.
fn publish_totals(session: &mut Session, published: &PublishedTotals, events: &EventSender) {
    let Session { client, statements } = session;
    match super::writer::totals(client, statements) {
        Ok(totals) => {
            published.publish(Totals { deleted: published.deleted(), ..totals });
            let _ = events.send(Event::Stats(Stats::new(totals.total, totals.unread)));
        }
        Err(error) => tracing::warn!(%error, "reading the totals failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: usize) -> MessageId {
        MessageId::stored(format!("{n:022}"))
    }

    #[test]
    fn a_notice_names_what_changed_and_a_large_change_is_a_prune() {
        let events = [
            Event::Tagged(TagsChanged { id: id(1), tags: vec!["a".into()], inbox: "x".into() }),
            Event::Update(ReadChanged { id: id(2), read: true, inbox: "y".into() }),
            Event::Delete(Deleted { id: id(3), inbox: "z".into() }),
            Event::Stats(Stats::new(1, 1)),
        ];
        let notice: Notice = serde_json::from_str(&Notice::of("node-a", &events)).unwrap();
        assert_eq!(
            notice,
            Notice {
                node: "node-a".into(),
                tagged: vec![id(1).as_str().into()],
                read: vec![(id(2).as_str().into(), true, "y".into())],
                deleted: vec![(id(3).as_str().into(), "z".into())],
                ..Notice::default()
            }
        );
        let many: Vec<Event> =
            (0..=MAX_EVENTS_PER_CHANGE).map(|n| Event::Delete(Deleted { id: id(n), inbox: "z".into() })).collect();
        let payload = Notice::of("node-a", &many);
        assert!(payload.len() < 100, "{payload}");
        let notice: Notice = serde_json::from_str(&payload).unwrap();
        assert!(notice.prune && notice.deleted.is_empty());
    }
}
