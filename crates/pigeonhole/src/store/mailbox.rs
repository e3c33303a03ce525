//! An inbox as IMAP sees it (imap/): its messages in UID order with the flags the
//! store keeps, its UIDVALIDITY and its next UID.
//!
//! A message's UID is its storage sequence number (AUTOINCREMENT: never handed out
//! twice) until it is moved to another inbox, where it takes the next value of that
//! same counter (`messages.moved_uid`): UIDs ascend in every inbox and are never
//! reused, and storing a message costs no extra query. The next UID is therefore the
//! counter's next value, shared by all inboxes: it can grow while an inbox gets no
//! new mail, which clients take as "look again" and find nothing new.

use rusqlite::{Connection, OptionalExtension};

use super::StoreError;
use crate::model::MessageId;

/// The tag IMAP's `\Flagged` stands for.
pub const FLAGGED_TAG: &str = "flagged";

/// One message of an inbox, as IMAP lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxEntry {
    pub uid: u32,
    pub id: MessageId,
    /// `\Seen`.
    pub read: bool,
    /// `\Flagged`: the message has the tag [`FLAGGED_TAG`].
    pub flagged: bool,
    /// RFC822.SIZE: the raw message's bytes.
    pub size: u64,
    /// INTERNALDATE (Unix milliseconds).
    pub received_ms: i64,
}

/// An inbox's messages, oldest UID first, as of one read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxSnapshot {
    /// The second the inbox was created: a database made again starts other UIDs.
    pub uid_validity: u32,
    pub uid_next: u32,
    pub entries: Vec<MailboxEntry>,
}

/// A message [`super::Store::move_to`] moved, and its UID in the inbox it went to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moved {
    pub id: MessageId,
    pub uid: u32,
}

/// The inbox named `inbox`, or `None` when no message ever went to it.
pub(super) fn read(conn: &Connection, inbox: &str) -> Result<Option<MailboxSnapshot>, StoreError> {
    let snapshot = conn.unchecked_transaction()?;
    let found: Option<(i64, i64)> = snapshot
        .prepare_cached("SELECT id, created_ms FROM inboxes WHERE name = ?1")?
        .query_row([inbox], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    let Some((inbox_id, created_ms)) = found else { return Ok(None) };
    let counter: i64 = snapshot
        .prepare_cached("SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0)")?
        .query_row([], |row| row.get(0))?;
    let mut statement = snapshot.prepare_cached(
        "SELECT coalesce(m.moved_uid, m.seq) AS uid, m.id, m.read, m.size, m.received_ms,
                EXISTS (SELECT 1 FROM message_tags mt JOIN tags t ON t.id = mt.tag_id
                        WHERE mt.seq = m.seq AND t.name = ?2)
         FROM messages m WHERE m.inbox_id = ?1 ORDER BY uid",
    )?;
    let rows = statement.query_map(rusqlite::params![inbox_id, FLAGGED_TAG], |row| {
        Ok(MailboxEntry {
            uid: clamp_uid(row.get(0)?),
            id: MessageId::stored(row.get(1)?),
            read: row.get(2)?,
            size: row.get(3)?,
            received_ms: row.get(4)?,
            flagged: row.get(5)?,
        })
    })?;
    let entries = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Some(MailboxSnapshot {
        uid_validity: u32::try_from(created_ms / 1000).unwrap_or(u32::MAX).max(1),
        uid_next: clamp_uid(counter + 1),
        entries,
    }))
}

/// A sequence number as a UID: IMAP's are 32-bit (four billion messages away).
pub(super) fn clamp_uid(value: i64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX).max(1)
}
