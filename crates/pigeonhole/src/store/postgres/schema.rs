//! The PostgreSQL schema and its migrations.
//!
//! Tables and columns are SQLite's (`store::schema`), so `store::search` writes
//! one condition for both; what differs: every integer is `bigint` (the search
//! binds `i64`s), the raw message is `bytea`, tag names are `citext` (SQLite's
//! `COLLATE NOCASE`), `messages.seq` and IMAP's moved UIDs come from one sequence
//! (SQLite's AUTOINCREMENT counter), free text is `message_text` with a `pg_trgm`
//! GIN index over the expression search matches with ILIKE (no FTS5; new text
//! waits in `text_pending` until a writer moves it there, as SQLite's
//! `fts_pending`), and the totals are per-node rows (`node_totals`) that each writer adds
//! its changes to, so no node counts the table and no row is every node's.
//!
//! Migrations are append-only, recorded one row each in `schema_version`, and run
//! in one transaction under an advisory lock: nodes starting together apply each
//! exactly once, the later ones waiting and then finding nothing to do. The
//! extensions need a role that may create them (`pg_trgm` and `citext` are
//! "trusted": a database owner may; the tests run as superuser).

use postgres::Client;

/// The advisory lock migrations run under (any constant no other program uses).
const MIGRATION_LOCK: i64 = 0x5069_6765_6f6e_0001;

/// The advisory lock retention runs under: one node at a time prunes.
pub(super) const RETENTION_LOCK: i64 = 0x5069_6765_6f6e_0002;

/// The channel nodes announce their commits on.
pub(super) const EVENTS_CHANNEL: &str = "pigeonhole_events";

/// Every migration, oldest first.
const MIGRATIONS: &[&str] = &[
    r#"
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    CREATE EXTENSION IF NOT EXISTS citext;

    CREATE TABLE inboxes (
        id         bigserial PRIMARY KEY,
        name       text NOT NULL UNIQUE,
        created_ms bigint NOT NULL
    );

    -- A message's seq orders messages by arrival; a moved message's UID in its new
    -- inbox is the sequence's next value too (store::mailbox).
    CREATE SEQUENCE messages_seq;
    CREATE TABLE messages (
        seq            bigint PRIMARY KEY DEFAULT nextval('messages_seq'),
        id             text NOT NULL UNIQUE,
        inbox_id       bigint NOT NULL REFERENCES inboxes(id),
        received_ms    bigint NOT NULL,
        message_id     text NOT NULL,
        from_addrs     text NOT NULL,
        to_addrs       text NOT NULL,
        cc_addrs       text NOT NULL,
        bcc_addrs      text NOT NULL,
        reply_to_addrs text NOT NULL,
        subject        text NOT NULL,
        date_ms        bigint,
        size           bigint NOT NULL,
        snippet        text NOT NULL,
        attachments    bigint NOT NULL,
        inlines        bigint NOT NULL,
        username       text NOT NULL,
        read           bigint NOT NULL DEFAULT 0,
        moved_uid      bigint
    );
    ALTER SEQUENCE messages_seq OWNED BY messages.seq;
    CREATE INDEX messages_by_inbox ON messages(inbox_id);
    -- max_age's look for expired messages, and before:/after:.
    CREATE INDEX messages_by_received ON messages(received_ms);

    CREATE TABLE raw (
        seq  bigint PRIMARY KEY REFERENCES messages(seq) ON DELETE CASCADE,
        zstd bytea NOT NULL
    );

    CREATE TABLE envelopes (
        seq        bigint PRIMARY KEY REFERENCES messages(seq) ON DELETE CASCADE,
        mail_from  text NOT NULL,
        rcpt_to    text NOT NULL,
        helo       text NOT NULL,
        peer       text NOT NULL,
        tls        boolean NOT NULL,
        auth_user  text,
        transcript text NOT NULL,
        api        text,
        simulation text
    );

    CREATE TABLE tags (
        id   bigserial PRIMARY KEY,
        name citext NOT NULL UNIQUE
    );
    CREATE TABLE message_tags (
        seq    bigint NOT NULL REFERENCES messages(seq) ON DELETE CASCADE,
        tag_id bigint NOT NULL REFERENCES tags(id) ON DELETE CASCADE,
        PRIMARY KEY (seq, tag_id)
    );
    CREATE INDEX message_tags_by_tag ON message_tags(tag_id);

    -- Free text: search matches ILIKE '%term%' against exactly this expression,
    -- which the trigram index answers for terms of three characters or more.
    CREATE TABLE message_text (
        seq              bigint PRIMARY KEY REFERENCES messages(seq) ON DELETE CASCADE,
        subject          text NOT NULL,
        addresses        text NOT NULL,
        body             text NOT NULL,
        attachment_names text NOT NULL
    );
    CREATE INDEX message_text_trigrams ON message_text
        USING gin ((subject || ' ' || addresses || ' ' || body || ' ' || attachment_names) gin_trgm_ops);

    -- New messages' text, written in the message's own transaction and moved into
    -- message_text (and so the trigram index) by a writer with time to spare:
    -- indexing is most of what storing a message costs. Search reads both. No
    -- foreign key: a delete then never waits on a move (which locks these rows
    -- first and the message second, a deadlock with a cascade); a move skips the
    -- text of messages deleted meanwhile, and drops it.
    CREATE TABLE text_pending (
        seq              bigint PRIMARY KEY,
        subject          text NOT NULL,
        addresses        text NOT NULL,
        body             text NOT NULL,
        attachment_names text NOT NULL
    );

    -- Each node's changes to the totals; the totals are the sum of the rows.
    CREATE TABLE node_totals (
        node_id  text PRIMARY KEY,
        messages bigint NOT NULL DEFAULT 0,
        unread   bigint NOT NULL DEFAULT 0,
        bytes    bigint NOT NULL DEFAULT 0
    );
    "#,
    r#"
    -- Pending text is read once, by its move into message_text: compressing it
    -- (which PostgreSQL tries for rows over 2 KB) cost a twentieth of storing a message.
    ALTER TABLE text_pending SET (toast_tuple_target = 8160);
    "#,
];

/// Why the schema could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub(super) enum MigrationError {
    #[error("{0}")]
    Database(#[from] postgres::Error),
    #[error(
        "the database was written by a newer Pigeonhole (schema version {found}; this one knows up to {known}): \
         upgrade Pigeonhole or use another database"
    )]
    Newer { found: i64, known: usize },
}

/// Apply the migrations this database lacks, once whatever other nodes do, and
/// fold the totals rows of earlier nodes into `node`'s (their sum is unchanged;
/// a node still running adds a new row with its next change).
pub(super) fn migrate(client: &mut Client, node: &str) -> Result<(), MigrationError> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version bigint PRIMARY KEY)")?;
    let found: i64 = tx.query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])?.get(0);
    let applied = usize::try_from(found).unwrap_or(usize::MAX);
    if applied > MIGRATIONS.len() {
        return Err(MigrationError::Newer { found, known: MIGRATIONS.len() });
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(applied) {
        tx.batch_execute(migration)?;
        tx.execute("INSERT INTO schema_version (version) VALUES ($1)", &[&(index as i64 + 1)])?;
    }
    tx.execute(
        "WITH gone AS (DELETE FROM node_totals WHERE node_id <> $1 RETURNING messages, unread, bytes)
         INSERT INTO node_totals (node_id, messages, unread, bytes)
         SELECT $1, coalesce(sum(messages), 0), coalesce(sum(unread), 0), coalesce(sum(bytes), 0) FROM gone",
        &[&node],
    )?;
    tx.commit()?;
    Ok(())
}

/// How many migrations there are (the version a migrated database records).
#[cfg(test)]
pub(crate) fn latest_version() -> usize {
    MIGRATIONS.len()
}
