//! The database file: schema migrations and how connections are opened.
//!
//! Migrations are append-only: a released migration is never edited, a change is a
//! new entry at the end. `PRAGMA user_version` records how many ran, so a file from
//! a newer Pigeonhole (more migrations than this build knows) is recognised before
//! anything is written to it.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OpenFlags, Transaction, params};
use rusqlite_migration::{HookResult, M, Migrations};

use super::OpenError;

/// How long a connection waits for a lock another connection holds.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The WAL is truncated to this size after checkpoints, so one burst of mail does
/// not leave a huge `-wal` file behind.
const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

/// The writer's page cache: negative means KiB (16 MiB), SQLite's convention. Enough
/// for the index pages it touches on every commit; more would mostly hold raw
/// message pages that are written once and not read again.
const WRITER_CACHE_KIB: i64 = -16 * 1024;

/// Each reader's page cache (512 KiB; SQLite's default is 2 MiB). Up to four idle
/// readers stay open (store::read), and a listing's count scans the whole messages
/// table, which would fill every one of them with the same pages; the kernel's page
/// cache holds those anyway, so a small cache costs a copy, not a disk read.
const READER_CACHE_KIB: i64 = -512;

/// SQLite checkpoints inside a commit only if the WAL grows past this many pages
/// (40 MiB), i.e. if the background checkpointer falls behind.
const WAL_AUTOCHECKPOINT_PAGES: i64 = 10_000;

/// Every migration, oldest first.
pub(super) fn migrations() -> Vec<M<'static>> {
    vec![
        M::up(
            r#"
    -- One inbox per SMTP AUTH user name, plus the default inbox.
    CREATE TABLE inboxes (
        id         INTEGER PRIMARY KEY,
        name       TEXT NOT NULL UNIQUE,
        created_ms INTEGER NOT NULL
    );

    -- The summary of each message. `seq` orders messages by arrival and is the
    -- full-text index's rowid; `id` is the public 22-character ID. AUTOINCREMENT:
    -- a deleted newest message's seq is never handed out again, so "after seq N"
    -- (the wait API's cursor) keeps meaning "arrived later".
    -- Address columns hold JSON arrays of [name, address] pairs: compact, and a
    -- LIKE search over them sees names and addresses but no key names.
    CREATE TABLE messages (
        seq            INTEGER PRIMARY KEY AUTOINCREMENT,
        id             TEXT NOT NULL UNIQUE,
        inbox_id       INTEGER NOT NULL REFERENCES inboxes(id),
        received_ms    INTEGER NOT NULL,
        message_id     TEXT NOT NULL,
        from_addrs     TEXT NOT NULL,
        to_addrs       TEXT NOT NULL,
        cc_addrs       TEXT NOT NULL,
        bcc_addrs      TEXT NOT NULL,
        reply_to_addrs TEXT NOT NULL,
        subject        TEXT NOT NULL,
        date_ms        INTEGER,
        size           INTEGER NOT NULL,
        snippet        TEXT NOT NULL,
        attachments    INTEGER NOT NULL,
        inlines        INTEGER NOT NULL,
        username       TEXT NOT NULL,
        read           INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX messages_by_inbox ON messages(inbox_id);

    -- The message exactly as received, zstd-compressed; its size is messages.size.
    CREATE TABLE raw (
        seq  INTEGER PRIMARY KEY REFERENCES messages(seq) ON DELETE CASCADE,
        zstd BLOB NOT NULL
    );

    -- What SMTP knew besides the bytes. rcpt_to is a JSON array of addresses.
    CREATE TABLE envelopes (
        seq        INTEGER PRIMARY KEY REFERENCES messages(seq) ON DELETE CASCADE,
        mail_from  TEXT NOT NULL,
        rcpt_to    TEXT NOT NULL,
        helo       TEXT NOT NULL,
        peer       TEXT NOT NULL,
        tls        INTEGER NOT NULL,
        auth_user  TEXT,
        transcript TEXT NOT NULL
    );

    -- Mailpit-style tags (nothing sets them yet; search can already ask).
    CREATE TABLE tags (
        id   INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE COLLATE NOCASE
    );
    CREATE TABLE message_tags (
        seq    INTEGER NOT NULL REFERENCES messages(seq) ON DELETE CASCADE,
        tag_id INTEGER NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
        PRIMARY KEY (seq, tag_id)
    ) WITHOUT ROWID;
    CREATE INDEX message_tags_by_tag ON message_tags(tag_id);

    -- Full-text index over decoded text. Contentless: the text lives only in the
    -- index (the raw message is the source), which keeps the file small.
    CREATE VIRTUAL TABLE messages_fts USING fts5(
        subject, addresses, body, attachment_names,
        content = '', contentless_delete = 1,
        tokenize = 'unicode61 remove_diacritics 2'
    );
    -- Index writes are most of the cost of ingest; two settings cut them by about
    -- half (measured on 2 KB messages in batches of 40). Retention deletes the
    -- oldest messages all the time, and merging a segment as soon as 10% of it is
    -- deleted (the default) doubled the cost at steady state; merging at half keeps
    -- the index compact for a fraction. Merging 8 segments at a time instead of 4
    -- saves another quarter, and searches stay as fast.
    INSERT INTO messages_fts (messages_fts, rank) VALUES ('deletemerge', 50);
    INSERT INTO messages_fts (messages_fts, rank) VALUES ('automerge', 8);
    -- Text waiting to be indexed. Indexing a message on its own costs more than
    -- storing it (FTS5 writes a new segment per transaction), so the writer stores
    -- the text here with the message and moves it into the index in large batches
    -- when it is idle; search looks here too, so a message is found at once.
    CREATE TABLE fts_pending (
        seq              INTEGER PRIMARY KEY REFERENCES messages(seq) ON DELETE CASCADE,
        subject          TEXT NOT NULL,
        addresses        TEXT NOT NULL,
        body             TEXT NOT NULL,
        attachment_names TEXT NOT NULL
    );
    -- However a message goes (API, retention), its index entry goes with it.
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        DELETE FROM messages_fts WHERE rowid = old.seq;
    END;
    "#,
        ),
        // Mail from an email provider's HTTP API keeps the request it came in, and mail
        // that a delivery simulation rule matched keeps what was done: JSON each, NULL
        // for plain SMTP mail.
        M::up(
            r#"
    ALTER TABLE envelopes ADD COLUMN api TEXT;
    ALTER TABLE envelopes ADD COLUMN simulation TEXT;
    "#,
        ),
        // Free text matches substrings, as Mailpit's search does: the index holds
        // every three characters of the text (FTS5's trigram tokenizer), so a phrase
        // query finds "PLUGH12" inside "xyzzyPLUGH123". A term shorter than three
        // characters has no trigram to look up; `message_text` keeps the indexed
        // text for those, which only a scan can match. The word index this replaces
        // stored no text, so the hook reads every message again into `fts_pending`,
        // and the writer indexes it from there as it does new mail.
        M::up_with_hook(
            r#"
    DROP TABLE messages_fts;
    CREATE VIRTUAL TABLE messages_fts USING fts5(
        subject, addresses, body, attachment_names,
        content = '', contentless_delete = 1,
        tokenize = 'trigram remove_diacritics 1'
    );
    INSERT INTO messages_fts (messages_fts, rank) VALUES ('deletemerge', 50);
    INSERT INTO messages_fts (messages_fts, rank) VALUES ('automerge', 8);
    CREATE TABLE message_text (
        seq              INTEGER PRIMARY KEY REFERENCES messages(seq) ON DELETE CASCADE,
        subject          TEXT NOT NULL,
        addresses        TEXT NOT NULL,
        body             TEXT NOT NULL,
        attachment_names TEXT NOT NULL
    );
    "#,
            queue_every_message_for_indexing,
        ),
        // IMAP (imap/): a message's UID in its inbox is its seq until it moves to
        // another inbox; there it takes the next value of the messages' AUTOINCREMENT
        // counter, kept here. UIDs then ascend in every inbox and are never reused,
        // and storing a message costs nothing more. An inbox's UIDVALIDITY is the
        // second it was created.
        M::up("ALTER TABLE messages ADD COLUMN moved_uid INTEGER;"),
    ]
}

/// Put the search text of every message not already waiting into `fts_pending`,
/// read from the stored raw message as ingest reads it.
fn queue_every_message_for_indexing(tx: &Transaction<'_>) -> HookResult {
    let mut raws = tx.prepare(
        "SELECT m.seq, m.size, r.zstd FROM messages m JOIN raw r ON r.seq = m.seq
         WHERE m.seq NOT IN (SELECT seq FROM fts_pending)",
    )?;
    let mut queue = tx.prepare(
        "INSERT INTO fts_pending (seq, subject, addresses, body, attachment_names) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let mut rows = raws.query([])?;
    while let Some(row) = rows.next()? {
        let (seq, size, compressed): (i64, usize, Vec<u8>) = (row.get(0)?, row.get(1)?, row.get(2)?);
        // A message whose stored bytes do not decompress cannot be read anyway;
        // it stays listed, and found by its fields (`from:`, `subject:`…).
        let Ok(raw) = zstd::bulk::decompress(&compressed, size) else { continue };
        let parsed = crate::mail::summarize(&raw);
        let text = &parsed.search;
        queue.execute(params![seq, parsed.subject, text.addresses, text.body, text.attachment_names])?;
    }
    Ok(())
}

/// How many migrations this build knows: the schema version it writes.
pub(super) fn latest_version() -> usize {
    migrations().len()
}

/// Open the database read-write, creating and migrating it as needed. A file that
/// is not a SQLite database or comes from a newer Pigeonhole is refused before
/// anything is written to it.
pub(super) fn open_writer(path: &Path, fsync: bool) -> Result<Connection, OpenError> {
    skip_memory_statistics();
    if path.exists() {
        check_existing(path)?;
    }
    let fail = |e: rusqlite::Error| classify(path, e);
    let mut conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(fail)?;
    if conn.is_readonly(rusqlite::MAIN_DB).map_err(fail)? {
        return Err(OpenError::ReadOnly { path: path.to_owned() });
    }
    conn.busy_timeout(BUSY_TIMEOUT).map_err(fail)?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "wal", |row| row.get(0)).map_err(fail)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(OpenError::Database {
            path: path.to_owned(),
            detail: format!("the journal mode stayed {mode:?} instead of WAL"),
        });
    }
    // NORMAL in WAL mode survives a killed process (the durability contract); FULL
    // also survives power loss, at the cost of an fsync per commit.
    conn.pragma_update(None, "synchronous", if fsync { "FULL" } else { "NORMAL" }).map_err(fail)?;
    conn.pragma_update(None, "foreign_keys", "ON").map_err(fail)?;
    conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT).map_err(fail)?;
    conn.pragma_update(None, "temp_store", "MEMORY").map_err(fail)?;
    // The writer touches the same index pages again and again: keep them.
    conn.pragma_update(None, "cache_size", WRITER_CACHE_KIB).map_err(fail)?;
    // Checkpoints run on their own thread (store::checkpoint); this is the safety net.
    conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES).map_err(fail)?;
    Migrations::new(migrations()).to_latest(&mut conn).map_err(|e| match e {
        rusqlite_migration::Error::RusqliteError { err, .. } => classify(path, err),
        other => OpenError::Database { path: path.to_owned(), detail: other.to_string() },
    })?;
    Ok(conn)
}

/// Turn off SQLite's memory statistics, which nothing here reads: with them on,
/// every allocation SQLite makes locks one process-wide mutex (locking and
/// unlocking it were about 4% of the writer's time on 2 KB messages). SQLite accepts the setting only before its first connection opens,
/// so it is tried once, before the store's first one; in a process that opened
/// SQLite earlier it is refused, and the statistics stay on.
fn skip_memory_statistics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    // SAFETY: SQLITE_CONFIG_MEMSTATUS takes one int; sqlite3_config refuses
    // (SQLITE_MISUSE) rather than misbehaves once SQLite is initialised.
    ONCE.call_once(|| unsafe {
        rusqlite::ffi::sqlite3_config(rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS, 0 as std::ffi::c_int);
    });
}

/// Open a read-only connection to an existing, migrated database.
pub(super) fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "cache_size", READER_CACHE_KIB)?;
    Ok(conn)
}

/// Look at an existing file through a read-only connection, which can neither
/// write nor checkpoint it: is it SQLite, is it ours (or empty), and is its schema
/// one we know?
fn check_existing(path: &Path) -> Result<(), OpenError> {
    let conn = open_reader(path).map_err(|e| classify(path, e))?;
    let found: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0)).map_err(|e| classify(path, e))?;
    if found > latest_version() as i64 {
        return Err(OpenError::NewerSchema { path: path.to_owned(), found, known: latest_version() });
    }
    // Version 0 is a file no Pigeonhole migrated (migrations commit with the version):
    // if it holds anything, it is another program's, and migrating would write into it.
    let objects: i64 =
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get(0)).map_err(|e| classify(path, e))?;
    if found == 0 && objects > 0 {
        return Err(OpenError::ForeignDatabase { path: path.to_owned() });
    }
    Ok(())
}

/// Turn a SQLite error met while opening into the error that says what to do.
fn classify(path: &Path, error: rusqlite::Error) -> OpenError {
    let path = path.to_owned();
    match error.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => OpenError::NotADatabase { path },
        Some(ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => OpenError::CannotOpen { path },
        Some(ErrorCode::ReadOnly) => OpenError::ReadOnly { path },
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => OpenError::Busy { path },
        Some(ErrorCode::DiskFull) => OpenError::DiskFull { path },
        _ => OpenError::Database { path, detail: error.to_string() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid() {
        Migrations::new(migrations()).validate().unwrap();
    }
}
