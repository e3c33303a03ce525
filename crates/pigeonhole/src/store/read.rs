//! Reads: a small pool of read-only connections and the queries the API runs.
//!
//! In WAL mode readers see the last committed state and never wait for the writer,
//! so the API stays responsive during an ingest burst. The methods are synchronous;
//! async callers run them in `spawn_blocking`.

use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params_from_iter};

use crate::model::Envelope;

use super::StoreError;
use super::codec::{addresses_from_json, from_unix_ms};
use super::schema;
use super::search::Condition;
use crate::model::{InboxInfo, MessageId, MessageSummary};

/// Idle connections kept open; more are opened when needed and closed after use.
const MAX_IDLE_READERS: usize = 4;

/// The columns [`summary_from_row`] reads, in its order; the last is the message's
/// tags as a JSON array, in listing order, and its inbox's name.
const SUMMARY_COLUMNS: &str = "m.id, m.message_id, m.read, m.from_addrs, m.to_addrs, m.cc_addrs, m.bcc_addrs, \
     m.reply_to_addrs, m.subject, m.received_ms, m.username, m.size, m.attachments, m.snippet, \
     (SELECT json_group_array(name) FROM (SELECT t.name FROM message_tags mt JOIN tags t ON t.id = mt.tag_id \
      WHERE mt.seq = m.seq ORDER BY t.name)), \
     (SELECT name FROM inboxes WHERE id = m.inbox_id)";

pub(super) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    pub fn new(path: PathBuf) -> Readers {
        Readers { path, idle: Mutex::new(Vec::new()) }
    }

    /// Run `read` on a pooled read-only connection.
    pub fn with<T>(&self, read: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let pooled = self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => schema::open_reader(&self.path)?,
        };
        let result = read(&conn);
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        result
    }
}

/// A page of matching summaries, newest first.
pub(super) fn summaries(
    conn: &Connection,
    filter: &Condition,
    start: u64,
    limit: u64,
) -> Result<Vec<MessageSummary>, StoreError> {
    let sql =
        format!("SELECT {SUMMARY_COLUMNS} FROM messages m WHERE {} ORDER BY m.seq DESC LIMIT ? OFFSET ?", filter.sql);
    let paging = [Value::Integer(clamp(limit)), Value::Integer(clamp(start))];
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(params_from_iter(filter.params.iter().chain(&paging)), summary_from_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// How many messages match, and how many of those are unread.
pub(super) fn count_matching(conn: &Connection, filter: &Condition) -> Result<(u64, u64), StoreError> {
    let sql = format!("SELECT count(*), coalesce(sum(m.read = 0), 0) FROM messages m WHERE {}", filter.sql);
    let counts = conn
        .prepare_cached(&sql)?
        .query_row(params_from_iter(filter.params.iter()), |row| Ok((row.get(0)?, row.get(1)?)))?;
    Ok(counts)
}

pub(super) fn latest_id(conn: &Connection, filter: &Condition) -> Result<Option<MessageId>, StoreError> {
    let sql = format!("SELECT m.id FROM messages m WHERE {} ORDER BY m.seq DESC LIMIT 1", filter.sql);
    let id = conn
        .prepare_cached(&sql)?
        .query_row(params_from_iter(filter.params.iter()), |row| row.get(0).map(MessageId::stored))
        .optional()?;
    Ok(id)
}

/// The oldest message matching `filter` (the first stored).
pub(super) fn first_summary(conn: &Connection, filter: &Condition) -> Result<Option<MessageSummary>, StoreError> {
    let sql = format!("SELECT {SUMMARY_COLUMNS} FROM messages m WHERE {} ORDER BY m.seq LIMIT 1", filter.sql);
    Ok(conn.prepare_cached(&sql)?.query_row(params_from_iter(filter.params.iter()), summary_from_row).optional()?)
}

/// The storage sequence number of message `id`.
pub(super) fn seq_of(conn: &Connection, id: &str) -> Result<Option<i64>, StoreError> {
    Ok(conn.prepare_cached("SELECT seq FROM messages WHERE id = ?1")?.query_row([id], |row| row.get(0)).optional()?)
}

/// The highest storage sequence number in use (0 when empty).
pub(super) fn last_seq(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.prepare_cached("SELECT coalesce(max(seq), 0) FROM messages")?.query_row([], |row| row.get(0))?)
}

pub(super) fn summary(conn: &Connection, id: &str) -> Result<Option<MessageSummary>, StoreError> {
    let sql = format!("SELECT {SUMMARY_COLUMNS} FROM messages m WHERE m.id = ?1");
    Ok(conn.prepare_cached(&sql)?.query_row([id], summary_from_row).optional()?)
}

/// The exact bytes received.
pub(super) fn raw(conn: &Connection, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let stored: Option<(Vec<u8>, usize)> = conn
        .prepare_cached("SELECT r.zstd, m.size FROM messages m JOIN raw r ON r.seq = m.seq WHERE m.id = ?1")?
        .query_row([id], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    let Some((compressed, size)) = stored else { return Ok(None) };
    let damaged = |detail: String| StoreError::Damaged { id: id.to_owned(), detail };
    let raw = zstd::bulk::decompress(&compressed, size).map_err(|e| damaged(e.to_string()))?;
    if raw.len() != size {
        return Err(damaged(format!("{} bytes decompressed, {size} stored", raw.len())));
    }
    Ok(Some(raw))
}

pub(super) fn envelope(conn: &Connection, id: &str) -> Result<Option<Envelope>, StoreError> {
    let envelope = conn
        .prepare_cached(
            "SELECT e.mail_from, e.rcpt_to, e.helo, e.peer, e.tls, e.auth_user, e.transcript, e.api, e.simulation
             FROM messages m JOIN envelopes e ON e.seq = m.seq WHERE m.id = ?1",
        )?
        .query_row([id], |row| {
            let rcpt_to: String = row.get(1)?;
            Ok(Envelope {
                mail_from: row.get(0)?,
                rcpt_to: serde_json::from_str(&rcpt_to).map_err(|e| json_error(1, e))?,
                helo: row.get(2)?,
                peer: row.get(3)?,
                tls: row.get(4)?,
                auth_user: row.get(5)?,
                transcript: row.get(6)?,
                api: json_column(row, 7)?,
                simulation: json_column(row, 8)?,
            })
        })
        .optional()?;
    Ok(envelope)
}

/// Every inbox with its counts, by name.
pub(super) fn inboxes(conn: &Connection) -> Result<Vec<InboxInfo>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT i.name, count(m.seq), coalesce(sum(m.read = 0), 0)
         FROM inboxes i LEFT JOIN messages m ON m.inbox_id = i.id
         GROUP BY i.id ORDER BY i.name",
    )?;
    let rows =
        statement.query_map([], |row| Ok(InboxInfo { name: row.get(0)?, total: row.get(1)?, unread: row.get(2)? }))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn summary_from_row(row: &Row<'_>) -> rusqlite::Result<MessageSummary> {
    let addresses = |index: usize| -> rusqlite::Result<Vec<crate::model::Address>> {
        let json: String = row.get(index)?;
        addresses_from_json(&json).map_err(|e| json_error(index, e))
    };
    Ok(MessageSummary {
        id: MessageId::stored(row.get(0)?),
        message_id: row.get(1)?,
        read: row.get(2)?,
        from: addresses(3)?.into_iter().next().unwrap_or_default(),
        to: addresses(4)?,
        cc: addresses(5)?,
        bcc: addresses(6)?,
        reply_to: addresses(7)?,
        subject: row.get(8)?,
        created: from_unix_ms(row.get(9)?),
        username: row.get(10)?,
        tags: {
            let json: String = row.get(14)?;
            serde_json::from_str(&json).map_err(|e| json_error(14, e))?
        },
        size: row.get(11)?,
        attachments: row.get(12)?,
        snippet: row.get(13)?,
        inbox: row.get(15)?,
    })
}

/// A nullable JSON column as the value it holds.
fn json_column<T: serde::de::DeserializeOwned>(row: &rusqlite::Row<'_>, column: usize) -> rusqlite::Result<Option<T>> {
    row.get::<_, Option<String>>(column)?
        .map(|json| serde_json::from_str(&json).map_err(|e| json_error(column, e)))
        .transpose()
}

fn json_error(column: usize, error: serde_json::Error) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, Box::new(error))
}

/// Paging values as SQL integers (SQLite's are signed).
fn clamp(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
