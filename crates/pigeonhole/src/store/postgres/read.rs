//! Reads: a fixed pool of reader threads, each with its own connection, and the
//! queries the API runs.
//!
//! The trait's reads are synchronous and called from async code, but the sync
//! client may not run on a tokio thread: a read is a closure sent to a reader
//! thread, and the caller waits for its answer. A page's counts, rows and tags
//! come from one repeatable-read snapshot, the rows' tags aggregated in the same
//! query (no query per message).

use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

use postgres::{Config, GenericClient, IsolationLevel, Row};
use rusqlite::types::Value;

use super::connection::{Link, Session, Statements};
use crate::model::{Address, Envelope, InboxInfo, MessageId, MessageSummary};
use crate::store::StoreError;
use crate::store::codec::{addresses_from_json, from_unix_ms};
use crate::store::mailbox::{FLAGGED_TAG, MailboxEntry, MailboxSnapshot, clamp_uid};
use crate::store::search::Condition;

/// The columns [`summary_from_row`] reads, in its order; the last is the
/// message's tags as a JSON array, in listing order.
pub(super) const SUMMARY_COLUMNS: &str = "m.id, m.message_id, m.read, m.from_addrs, m.to_addrs, m.cc_addrs, \
     m.bcc_addrs, m.reply_to_addrs, m.subject, m.received_ms, m.username, m.size, m.attachments, m.snippet, \
     (SELECT coalesce(json_agg(t.name ORDER BY t.name), '[]')::text FROM message_tags mt \
      JOIN tags t ON t.id = mt.tag_id WHERE mt.seq = m.seq), \
     (SELECT name FROM inboxes WHERE id = m.inbox_id)";

/// Reads queued for the reader threads beyond those running; a caller past it
/// waits for room.
const QUEUED_READS: usize = 64;

type Job = Box<dyn FnOnce(&mut Link) + Send>;

/// The reader threads. Dropping this ends them once their queue is empty.
pub(super) struct Readers {
    jobs: SyncSender<Job>,
}

impl Readers {
    /// `count` reader threads, each connecting on its first read.
    pub fn start(config: &Config, count: usize) -> std::io::Result<Readers> {
        let (jobs, queue) = sync_channel::<Job>(QUEUED_READS);
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..count.max(1) {
            let (queue, mut link) = (queue.clone(), Link::new(config.clone()));
            thread::Builder::new().name(format!("pigeonhole-pg-reader-{n}")).spawn(move || {
                while let Some(job) = next_job(&queue) {
                    job(&mut link);
                }
            })?;
        }
        Ok(Readers { jobs })
    }

    /// Run `read` on a reader's connection and wait for its answer.
    pub fn with<T: Send + 'static>(
        &self,
        read: impl Fn(&mut Session) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (answer, answered) = sync_channel(1);
        let job: Job = Box::new(move |link: &mut Link| {
            let attempt = |link: &mut Link| {
                let (result, fresh) = match link.session() {
                    Ok((session, fresh)) => (read(session), fresh),
                    Err(reason) => (Err(StoreError::Database(reason)), true),
                };
                link.check();
                (result, fresh)
            };
            let (mut result, fresh) = attempt(link);
            // A connection the server dropped (it restarted) is found out only by
            // using it: the read goes again, once, on a new one.
            if result.is_err() && !fresh && !link.is_connected() {
                result = attempt(link).0;
            }
            let _ = answer.send(result);
        });
        self.jobs.send(job).map_err(|_| StoreError::Closed)?;
        answered.recv().map_err(|_| StoreError::Closed)?
    }
}

fn next_job(queue: &Mutex<Receiver<Job>>) -> Option<Job> {
    queue.lock().unwrap_or_else(PoisonError::into_inner).recv().ok()
}

/// One page as read from one snapshot.
pub(super) struct Page {
    /// Matching messages and how many of them are unread, when asked for.
    pub counts: Option<(u64, u64)>,
    /// The messages visible (kept within some inboxes) and how many of them are
    /// unread; `None` when every message is.
    pub totals: Option<(u64, u64)>,
    pub messages: Vec<MessageSummary>,
    /// Every tag in use (on the visible messages).
    pub tags: Vec<String>,
}

/// A page of matching summaries, newest first, with the matching counts (if
/// `count`) and every tag in use, from one snapshot; kept to the `visible`
/// messages when given, with their totals and tags alone.
pub(super) fn page(
    session: &mut Session,
    filter: &Condition,
    visible: Option<&Condition>,
    start: u64,
    limit: u64,
    count: bool,
) -> Result<Page, StoreError> {
    let Session { client, statements } = session;
    let mut tx = client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start()?;
    let mut count_of = |tx: &mut postgres::Transaction<'_>, filter: &Condition| -> Result<(u64, u64), StoreError> {
        let sql = format!("SELECT count(*), count(*) FILTER (WHERE m.read = 0) FROM messages m WHERE {}", filter.sql);
        let row = statements.query(tx, &sql, &filter.params)?;
        Ok((unsigned(row[0].get(0)), unsigned(row[0].get(1))))
    };
    let (totals, restricted) = match visible {
        None => (None, None),
        Some(visible) => (Some(count_of(&mut tx, visible)?), Some(filter.clone().and(visible.clone()))),
    };
    let filter = restricted.as_ref().unwrap_or(filter);
    let counts = if count { Some(count_of(&mut tx, filter)?) } else { None };
    let sql =
        format!("SELECT {SUMMARY_COLUMNS} FROM messages m WHERE {} ORDER BY m.seq DESC LIMIT ? OFFSET ?", filter.sql);
    let mut values = filter.params.clone();
    values.extend([Value::Integer(signed(limit)), Value::Integer(signed(start))]);
    let messages = statements.query(&mut tx, &sql, &values)?.iter().map(summary_from_row).collect::<Result<_, _>>()?;
    let tags = match visible {
        None => all_tags(&mut tx, statements)?,
        Some(visible) => tags_on(&mut tx, statements, visible)?,
    };
    tx.commit()?;
    Ok(Page { counts, totals, messages, tags })
}

/// The newest (`newest`) or oldest message matching `filter`.
pub(super) fn first_summary(
    session: &mut Session,
    filter: &Condition,
    newest: bool,
) -> Result<Option<MessageSummary>, StoreError> {
    let order = if newest { "DESC" } else { "ASC" };
    let sql = format!("SELECT {SUMMARY_COLUMNS} FROM messages m WHERE {} ORDER BY m.seq {order} LIMIT 1", filter.sql);
    session.query(&sql, &filter.params)?.first().map(summary_from_row).transpose()
}

/// The storage sequence number of message `id`.
pub(super) fn seq_of(session: &mut Session, id: &str) -> Result<Option<i64>, StoreError> {
    Ok(session.query("SELECT seq FROM messages WHERE id = ?", &[text(id)])?.first().map(|row| row.get(0)))
}

/// The highest storage sequence number in use (0 when empty).
pub(super) fn last_seq(session: &mut Session) -> Result<i64, StoreError> {
    Ok(session.query("SELECT coalesce(max(seq), 0) FROM messages", &[])?[0].get(0))
}

/// The exact bytes received.
pub(super) fn raw(session: &mut Session, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let rows = session
        .query("SELECT r.zstd, m.size FROM messages m JOIN raw r ON r.seq = m.seq WHERE m.id = ?", &[text(id)])?;
    let Some(row) = rows.first() else { return Ok(None) };
    let (compressed, size): (Vec<u8>, i64) = (row.get(0), row.get(1));
    let size = usize::try_from(size).unwrap_or(0);
    let damaged = |detail: String| StoreError::Damaged { id: id.to_owned(), detail };
    let raw = zstd::bulk::decompress(&compressed, size).map_err(|e| damaged(e.to_string()))?;
    if raw.len() != size {
        return Err(damaged(format!("{} bytes decompressed, {size} stored", raw.len())));
    }
    Ok(Some(raw))
}

pub(super) fn envelope(session: &mut Session, id: &str) -> Result<Option<Envelope>, StoreError> {
    let rows = session.query(
        "SELECT e.mail_from, e.rcpt_to, e.helo, e.peer, e.tls, e.auth_user, e.transcript, e.api, e.simulation
         FROM messages m JOIN envelopes e ON e.seq = m.seq WHERE m.id = ?",
        &[text(id)],
    )?;
    let Some(row) = rows.first() else { return Ok(None) };
    let rcpt_to: String = row.get(1);
    Ok(Some(Envelope {
        mail_from: row.get(0),
        rcpt_to: serde_json::from_str(&rcpt_to).map_err(json_error)?,
        helo: row.get(2),
        peer: row.get(3),
        tls: row.get(4),
        auth_user: row.get(5),
        transcript: row.get(6),
        api: json_column(row, 7)?,
        simulation: json_column(row, 8)?,
    }))
}

/// Every inbox with its counts, by name.
pub(super) fn inboxes(session: &mut Session) -> Result<Vec<InboxInfo>, StoreError> {
    let rows = session.query(
        "SELECT i.name, count(m.seq), count(m.seq) FILTER (WHERE m.read = 0)
         FROM inboxes i LEFT JOIN messages m ON m.inbox_id = i.id
         GROUP BY i.id ORDER BY i.name",
        &[],
    )?;
    Ok(rows
        .iter()
        .map(|row| InboxInfo { name: row.get(0), total: unsigned(row.get(1)), unread: unsigned(row.get(2)) })
        .collect())
}

/// Every tag on at least one message, in listing order.
pub(super) fn all_tags(
    client: &mut impl GenericClient,
    statements: &mut Statements,
) -> Result<Vec<String>, StoreError> {
    Ok(statements
        .query(client, "SELECT name::text FROM tags ORDER BY tags.name", &[])?
        .iter()
        .map(|row| row.get(0))
        .collect())
}

/// The tags on the messages matching `filter`, in listing order.
pub(super) fn tags_on(
    client: &mut impl GenericClient,
    statements: &mut Statements,
    filter: &Condition,
) -> Result<Vec<String>, StoreError> {
    let sql = format!(
        "SELECT DISTINCT t.name::text FROM tags t JOIN message_tags mt ON mt.tag_id = t.id \
         JOIN messages m ON m.seq = mt.seq WHERE {} ORDER BY 1",
        filter.sql
    );
    Ok(statements.query(client, &sql, &filter.params)?.iter().map(|row| row.get(0)).collect())
}

/// Every tag (on the messages matching `filter`) with the number of those
/// messages that have it.
pub(super) fn tag_counts(session: &mut Session, filter: &Condition) -> Result<BTreeMap<String, u64>, StoreError> {
    let sql = format!(
        "SELECT t.name::text, count(*) FROM tags t JOIN message_tags mt ON mt.tag_id = t.id \
         JOIN messages m ON m.seq = mt.seq WHERE {} GROUP BY t.id",
        filter.sql
    );
    let rows = session.query(&sql, &filter.params)?;
    Ok(rows.iter().map(|row| (row.get(0), unsigned(row.get(1)))).collect())
}

/// Inbox `inbox` as IMAP sees it, from one snapshot.
pub(super) fn mailbox(session: &mut Session, inbox: &str) -> Result<Option<MailboxSnapshot>, StoreError> {
    let Session { client, statements } = session;
    let mut tx = client.build_transaction().isolation_level(IsolationLevel::RepeatableRead).read_only(true).start()?;
    let found = statements.query(&mut tx, "SELECT id, created_ms FROM inboxes WHERE name = ?", &[text(inbox)])?;
    let Some(row) = found.first() else { return Ok(None) };
    let (inbox_id, created_ms): (i64, i64) = (row.get(0), row.get(1));
    // The sequence's last value, whether or not it was ever used.
    let counter: i64 =
        statements.query(&mut tx, "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM messages_seq", &[])?[0]
            .get(0);
    let rows = statements.query(
        &mut tx,
        "SELECT coalesce(m.moved_uid, m.seq) AS uid, m.id, m.read, m.size, m.received_ms,
                EXISTS (SELECT 1 FROM message_tags mt JOIN tags t ON t.id = mt.tag_id
                        WHERE mt.seq = m.seq AND t.name = ?)
         FROM messages m WHERE m.inbox_id = ? ORDER BY uid",
        &[text(FLAGGED_TAG), Value::Integer(inbox_id)],
    )?;
    tx.commit()?;
    let entries = rows
        .iter()
        .map(|row| MailboxEntry {
            uid: clamp_uid(row.get(0)),
            id: MessageId::stored(row.get(1)),
            read: row.get::<_, i64>(2) != 0,
            size: unsigned(row.get(3)),
            received_ms: row.get(4),
            flagged: row.get(5),
        })
        .collect();
    Ok(Some(MailboxSnapshot {
        uid_validity: u32::try_from(created_ms / 1000).unwrap_or(u32::MAX).max(1),
        uid_next: clamp_uid(counter + 1),
        entries,
    }))
}

/// A row of [`SUMMARY_COLUMNS`].
pub(super) fn summary_from_row(row: &Row) -> Result<MessageSummary, StoreError> {
    let addresses =
        |index: usize| -> Result<Vec<Address>, StoreError> { addresses_from_json(row.get(index)).map_err(json_error) };
    let tags: String = row.get(14);
    Ok(MessageSummary {
        id: MessageId::stored(row.get(0)),
        message_id: row.get(1),
        read: row.get::<_, i64>(2) != 0,
        from: addresses(3)?.into_iter().next().unwrap_or_default(),
        to: addresses(4)?,
        cc: addresses(5)?,
        bcc: addresses(6)?,
        reply_to: addresses(7)?,
        subject: row.get(8),
        created: from_unix_ms(row.get(9)),
        username: row.get(10),
        tags: serde_json::from_str(&tags).map_err(json_error)?,
        size: unsigned(row.get(11)),
        attachments: u32::try_from(row.get::<_, i64>(12)).unwrap_or(u32::MAX),
        snippet: row.get(13),
        inbox: row.get(15),
    })
}

/// A nullable JSON column as the value it holds.
fn json_column<T: serde::de::DeserializeOwned>(row: &Row, column: usize) -> Result<Option<T>, StoreError> {
    row.get::<_, Option<String>>(column).map(|json| serde_json::from_str(&json).map_err(json_error)).transpose()
}

fn json_error(error: serde_json::Error) -> StoreError {
    StoreError::Database(format!("a stored JSON column does not parse: {error}"))
}

pub(super) fn text(value: &str) -> Value {
    Value::Text(value.to_owned())
}

/// A count or size as stored (`bigint`, never negative) as Rust counts them.
pub(super) fn unsigned(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// A count or size as a `bigint`.
pub(super) fn signed(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
