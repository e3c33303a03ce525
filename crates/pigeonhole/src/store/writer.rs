//! The single writer: one thread owns the read-write connection and applies every
//! change — new messages, read flags, deletes, retention — in group commits.
//!
//! The thread blocks for one command, then takes whatever else is already queued
//! (up to `max_batch`) into the same `BEGIN IMMEDIATE` transaction. One commit (one
//! WAL append, one sync when `fsync` is on) then covers the whole group, so the cost
//! of durability is shared and batches grow by themselves under load, without ever
//! waiting for more. Only after the commit are events published and waiters
//! answered: an acknowledged message is on disk, an event describes committed data,
//! and when a change returns to its caller its events are already out.
//!
//! Indexing for search is the most expensive part of storing a message (the
//! trigram index costs several times the commit), so new messages' text goes to
//! `fts_pending` in the same transaction, and the writer moves it into the FTS5
//! index (and `message_text`, for the terms too short for the index) in chunks
//! sized to take about [`INDEX_CHUNK_TIME`]: whenever the queue has been quiet for
//! a moment, and during a flood, once a thousand messages wait, for at most a
//! fifth of the writer's time, so a flood is acknowledged at nearly the rate of
//! an unindexed store and indexed as it ends. Search reads `fts_pending` too, so
//! waiting text is still found. Text left pending by a killed process is indexed
//! after the next start.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use rusqlite::types::Value;
use rusqlite::{Connection, ErrorCode, OptionalExtension, Transaction, TransactionBehavior, params, params_from_iter};
use tokio::sync::{mpsc, oneshot};

use crate::config::StoreConfig;
use crate::model::{Deleted, EffectsRecorded, Event, EventSender, ReadChanged, Stats, TagsChanged};

use super::checkpoint::Checkpointer;
use super::disk::{self, Disk};
use super::ingest::PreparedMessage;
use super::search::Condition;
use super::{StoreError, SubmitError, tags};
use crate::model::{MessageId, MessageSummary};

/// Above this many messages changed at once, one `prune` event ("reload") replaces
/// the per-message events, as Mailpit does for large deletes, so a bulk change does
/// not flood the event stream.
pub(super) const MAX_EVENTS_PER_CHANGE: usize = 200;

/// Index pending text once the queue has been empty this long…
pub(super) const INDEX_WHEN_IDLE_FOR: std::time::Duration = std::time::Duration::from_millis(20);
/// …or, between commits, once this many messages wait; also the most indexed in
/// one transaction.
pub(super) const INDEX_BATCH: u64 = 1000;
/// About how long one indexing transaction may hold the writer (and so the
/// commits of new mail behind it); the chunk's size follows from the last ones.
const INDEX_CHUNK_TIME: std::time::Duration = std::time::Duration::from_millis(40);
/// Between commits, after indexing for a time T the writer commits for at least
/// this many times T before it indexes again: indexing takes at most a fifth.
const INDEX_SHARE_SPACING: u32 = 4;

/// After this long with nothing to do, the writer hands its page cache back to the
/// allocator (`PRAGMA shrink_memory`): the cache (up to 16 MiB, see `schema`) speeds
/// a burst of commits, but an app idling in the tray should not keep the last
/// burst's pages, or the pages read by the count at start.
const RELEASE_CACHE_WHEN_IDLE_FOR: std::time::Duration = std::time::Duration::from_secs(5);

/// The longest time between two looks for messages past `max_age` (Mailpit's
/// pruning runs every minute too). A shorter `max_age` is looked at ten times per
/// its length, so a message outlives it by a tenth at most.
const EXPIRE_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// How much text the writer indexes at a time, and when it may next do so
/// between commits. The chunk halves when one took longer than
/// [`INDEX_CHUNK_TIME`] and doubles (up to [`INDEX_BATCH`]) when a full one took
/// under half of it, so a chunk of 50 KB messages is smaller than one of 2 KB
/// ones and the commits behind it wait about the same.
pub(super) struct IndexPace {
    pub chunk: u64,
    next_between_commits: std::time::Instant,
}

impl IndexPace {
    pub fn new() -> IndexPace {
        // Small at first: the first chunk's time says how large they can be.
        IndexPace { chunk: 64, next_between_commits: std::time::Instant::now() }
    }

    pub fn may_index_between_commits(&self) -> bool {
        std::time::Instant::now() >= self.next_between_commits
    }

    /// A chunk went into the index in `took`; `full` if it was a whole chunk.
    pub fn indexed(&mut self, full: bool, took: std::time::Duration) {
        if took > INDEX_CHUNK_TIME {
            self.chunk = (self.chunk / 2).max(1);
        } else if full && took < INDEX_CHUNK_TIME / 2 {
            self.chunk = (self.chunk * 2).min(INDEX_BATCH);
        }
        self.next_between_commits = std::time::Instant::now() + took * INDEX_SHARE_SPACING;
    }
}

/// Work for the writer thread.
pub(super) enum Command {
    /// New messages, all stored or none.
    Insert {
        messages: Vec<PreparedMessage>,
        done: oneshot::Sender<Result<Vec<MessageId>, SubmitError>>,
    },
    SetRead {
        target: Condition,
        read: bool,
        done: oneshot::Sender<Result<(), StoreError>>,
    },
    Delete {
        target: DeleteTarget,
        done: oneshot::Sender<Result<(), StoreError>>,
    },
    /// Give each message exactly these (normalised) tags.
    SetTags {
        ids: Vec<MessageId>,
        tags: Vec<String>,
        done: oneshot::Sender<Result<(), StoreError>>,
    },
    /// Move messages to an inbox (IMAP's MOVE); answers those moved.
    Move {
        ids: Vec<MessageId>,
        inbox: String,
        done: oneshot::Sender<Result<Vec<super::Moved>, StoreError>>,
    },
    /// Append lines to a message's simulation effects.
    RecordEffects {
        id: MessageId,
        lines: Vec<String>,
        done: oneshot::Sender<Result<(), StoreError>>,
    },
    /// `found` answers whether the tag existed.
    RenameTag {
        from: String,
        to: String,
        found: oneshot::Sender<Result<bool, StoreError>>,
    },
    DeleteTag {
        name: String,
        found: oneshot::Sender<Result<bool, StoreError>>,
    },
    /// Stop taking commands; those already queued are still written.
    Shutdown,
}

pub(super) enum DeleteTarget {
    /// Everything (announced as `truncate`).
    All,
    Matching(Condition),
}

/// Message counts as of the last commit; the writer keeps them up to date so that
/// nothing has to count a large table.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Totals {
    pub total: u64,
    pub unread: u64,
    /// Sum of raw (uncompressed) sizes, for the size budget.
    pub bytes: u64,
    /// Messages deleted (through the API or by retention) since the store opened.
    pub deleted: u64,
}

/// The counts as of the last commit, for readers.
#[derive(Default)]
pub(super) struct PublishedTotals(Mutex<Totals>);

impl PublishedTotals {
    pub fn stats(&self) -> Stats {
        let counts = *self.0.lock().unwrap_or_else(PoisonError::into_inner);
        Stats::new(counts.total, counts.unread)
    }

    pub fn deleted(&self) -> u64 {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).deleted
    }

    pub(super) fn publish(&self, counts: Totals) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = counts;
    }
}

/// What retention keeps.
#[derive(Debug, Clone, Copy)]
pub(super) struct Retention {
    pub max_messages: u64,
    pub max_bytes: u64,
    /// Delete messages received before this (Unix milliseconds): set only for the
    /// commit that looks for expired messages, since finding them scans the table.
    pub expire_before_ms: Option<i64>,
}

impl Retention {
    pub(super) fn new(config: &StoreConfig) -> Retention {
        Retention { max_messages: config.max_messages, max_bytes: config.max_total_size, expire_before_ms: None }
    }

    /// What the next commit keeps: with `max_age`'s cutoff when a look for expired
    /// messages is due, the next look then scheduled whether this commit succeeds
    /// or not (a failing one must not be retried in a loop).
    pub(super) fn for_next_commit(self, expiry: &mut Option<Expiry>) -> Retention {
        let Some(expiry) = expiry.as_mut().filter(|expiry| expiry.is_due()) else { return self };
        expiry.next = std::time::Instant::now() + expiry.every();
        let max_age_ms = i64::try_from(expiry.max_age.as_millis()).unwrap_or(i64::MAX);
        let now_ms = super::codec::unix_ms(time::OffsetDateTime::now_utc());
        Retention { expire_before_ms: Some(now_ms.saturating_sub(max_age_ms)), ..self }
    }
}

/// When to look for messages past `max_age` next.
#[derive(Debug, Clone, Copy)]
pub(super) struct Expiry {
    pub max_age: std::time::Duration,
    pub next: std::time::Instant,
}

impl Expiry {
    /// Due at once: what expired while no engine ran goes at start. `None` when
    /// messages never expire.
    pub(super) fn new(config: &StoreConfig) -> Option<Expiry> {
        config.max_age.map(|max_age| Expiry { max_age, next: std::time::Instant::now() })
    }

    pub(super) fn is_due(&self) -> bool {
        self.next <= std::time::Instant::now()
    }

    pub(super) fn every(&self) -> std::time::Duration {
        (self.max_age / 10).clamp(std::time::Duration::from_millis(10), EXPIRE_EVERY)
    }
}

/// The result of a committed batch.
struct Committed {
    counts: Totals,
    events: Vec<Event>,
    /// Whether each tag rename or delete found its tag, in batch order.
    tags_found: Vec<bool>,
    /// What each move moved, in batch order.
    moves: Vec<Vec<super::Moved>>,
    /// Inboxes the batch looked up in the database, for [`InboxIds`].
    inboxes_seen: Vec<(String, i64)>,
}

/// Inbox row IDs by name, as committed, so that storing a message costs no
/// lookup of its inbox. Inboxes are never deleted, so a committed ID stays right;
/// one a batch created is remembered only once that batch committed.
#[derive(Default)]
pub(super) struct InboxIds(HashMap<String, i64>);

impl InboxIds {
    pub(super) fn get(&self, name: &str) -> Option<i64> {
        self.0.get(name).copied()
    }

    pub(super) fn remember(&mut self, seen: Vec<(String, i64)>) {
        self.0.extend(seen);
    }
}

pub(super) struct Writer {
    conn: Connection,
    commands: mpsc::Receiver<Command>,
    events: EventSender,
    published: std::sync::Arc<PublishedTotals>,
    counts: Totals,
    retention: Retention,
    /// `None` when messages never expire.
    expiry: Option<Expiry>,
    max_batch: usize,
    inbox_ids: InboxIds,
    /// Messages whose text waits in `fts_pending` (about: deletes may take some).
    unindexed: u64,
    index_pace: IndexPace,
    /// Whether the page cache was released since the last piece of work.
    cache_released: bool,
    checkpointer: Checkpointer,
    /// Whether the disk is full, shared with readers of the store.
    disk: std::sync::Arc<Disk>,
    /// Free space when a write last failed for want of it, and when it was looked at since.
    free_at_failure: Option<u64>,
    disk_checked: std::time::Instant,
}

impl Writer {
    /// Take over the (migrated) connection; counts what is stored once, at start.
    pub fn new(
        conn: Connection,
        commands: mpsc::Receiver<Command>,
        events: EventSender,
        config: &StoreConfig,
        published: std::sync::Arc<PublishedTotals>,
        checkpointer: Checkpointer,
        disk: std::sync::Arc<Disk>,
    ) -> rusqlite::Result<Writer> {
        conn.set_prepared_statement_cache_capacity(32);
        let counts = conn.query_row(
            "SELECT count(*), coalesce(sum(read = 0), 0), coalesce(sum(size), 0) FROM messages",
            [],
            |row| Ok(Totals { total: row.get(0)?, unread: row.get(1)?, bytes: row.get(2)?, deleted: 0 }),
        )?;
        published.publish(counts);
        // Left over by a process that stopped before indexing them.
        let unindexed = conn.query_row("SELECT count(*) FROM fts_pending", [], |row| row.get(0))?;
        Ok(Writer {
            conn,
            commands,
            events,
            published,
            counts,
            retention: Retention::new(config),
            expiry: Expiry::new(config),
            max_batch: config.max_batch.max(1),
            inbox_ids: InboxIds::default(),
            unindexed,
            index_pace: IndexPace::new(),
            cache_released: false,
            checkpointer,
            disk,
            free_at_failure: None,
            disk_checked: std::time::Instant::now(),
        })
    }

    /// The thread's body: runs until `Shutdown` (or until every sender is gone) and
    /// the queue is drained.
    pub fn run(mut self) {
        // A timer is all this runtime is for: waiting for a command, or for the
        // quiet moment in which to index.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a current-thread runtime with a timer always builds");
        loop {
            if self.disk.is_full() && self.disk_checked.elapsed() >= disk::RECHECK_EVERY {
                self.recheck_disk();
            }
            if self.expiry_due() {
                // An empty batch: its commit runs retention, which expires.
                self.apply(Vec::new());
            }
            // On a full disk indexing can only fail: it waits until there is room.
            let indexing = self.unindexed > 0 && !self.disk.is_full();
            let idle_for = if indexing {
                Some(INDEX_WHEN_IDLE_FOR)
            } else if !self.cache_released {
                Some(RELEASE_CACHE_WHEN_IDLE_FOR.min(disk::RECHECK_EVERY))
            } else if self.disk.is_full() {
                Some(disk::RECHECK_EVERY)
            } else {
                None
            };
            let until_expiry =
                self.expiry.map(|expiry| expiry.next.saturating_duration_since(std::time::Instant::now()));
            let first = match idle_for.into_iter().chain(until_expiry).min() {
                None => runtime.block_on(self.commands.recv()),
                Some(wait) => {
                    let commands = &mut self.commands;
                    match runtime.block_on(async { tokio::time::timeout(wait, commands.recv()).await }) {
                        Ok(command) => command,
                        Err(_due) if self.expiry_due() => continue,
                        Err(_idle) if indexing => {
                            self.index_pending();
                            continue;
                        }
                        Err(_idle) => {
                            self.release_cache();
                            continue;
                        }
                    }
                }
            };
            self.cache_released = false;
            let Some(first) = first else { break };
            let batch = take_batch(first, &mut self.commands, self.max_batch);
            self.apply(batch);
            if self.unindexed >= INDEX_BATCH && self.index_pace.may_index_between_commits() && !self.disk.is_full() {
                self.index_pending();
            }
        }
        while self.unindexed > 0 && self.index_pending() {}
    }

    /// Free the page cache; the next commit reads what it needs again.
    fn release_cache(&mut self) {
        if let Err(error) = self.conn.execute_batch("PRAGMA shrink_memory") {
            tracing::debug!(%error, "releasing the writer's page cache failed");
        }
        // glibc keeps freed memory in its per-thread arenas, where the freed cache
        // (and the readers' and request handlers' garbage) would stay resident;
        // trimming returns it to the system. Once per idle period, so cheap.
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: malloc_trim only walks the allocator's own free lists.
        unsafe {
            libc::malloc_trim(0);
        }
        self.cache_released = true;
    }

    /// Move a chunk of messages' text (see [`IndexPace`]) from `fts_pending` into
    /// the index, oldest first; false if that failed (the text stays pending for
    /// next time).
    fn index_pending(&mut self) -> bool {
        let chunk = self.index_pace.chunk;
        let started = std::time::Instant::now();
        let indexed = (|| -> rusqlite::Result<usize> {
            let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let oldest = "SELECT seq FROM fts_pending ORDER BY seq LIMIT ?1";
            let moved = tx
                .prepare_cached(&format!(
                    "INSERT INTO messages_fts (rowid, subject, addresses, body, attachment_names)
                 SELECT seq, subject, addresses, body, attachment_names FROM fts_pending
                 WHERE seq IN ({oldest})"
                ))?
                .execute([chunk])?;
            // REPLACE: text queued again for a message indexed before (an index repaired
            // by hand) replaces the old copy rather than failing every batch.
            tx.prepare_cached(&format!(
                "INSERT OR REPLACE INTO message_text (seq, subject, addresses, body, attachment_names)
                 SELECT seq, subject, addresses, body, attachment_names FROM fts_pending
                 WHERE seq IN ({oldest})"
            ))?
            .execute([chunk])?;
            tx.prepare_cached(&format!("DELETE FROM fts_pending WHERE seq IN ({oldest})"))?.execute([chunk])?;
            tx.commit()?;
            self.checkpointer.nudge();
            Ok(moved)
        })();
        match indexed {
            Ok(moved) => {
                // Fewer than a full chunk means none are left (deletes may have
                // taken some since they were counted).
                self.unindexed = if moved < chunk as usize { 0 } else { self.unindexed.saturating_sub(moved as u64) };
                self.index_pace.indexed(moved as u64 == chunk, started.elapsed());
                true
            }
            Err(error) => {
                // Search still finds pending messages; try again at the next pause.
                tracing::warn!(%error, "indexing new messages for search failed; will retry");
                if error.sqlite_error_code() == Some(ErrorCode::DiskFull) {
                    self.disk_filled();
                }
                false
            }
        }
    }

    fn expiry_due(&self) -> bool {
        self.expiry.is_some_and(|expiry| expiry.is_due())
    }

    fn apply(&mut self, batch: Vec<Command>) {
        let retention = self.retention.for_next_commit(&mut self.expiry);
        match commit(&mut self.conn, self.counts, retention, &self.inbox_ids, &batch) {
            Ok(committed) => self.finish(batch, committed),
            Err(error) if batch.len() > 1 && concerns_one_command(&error) => {
                // One bad command must not fail the others in its group.
                for command in batch {
                    self.apply(vec![command]);
                }
            }
            Err(error) => {
                tracing::error!(%error, commands = batch.len(), "store write failed; nothing in the batch was written");
                if error.sqlite_error_code() == Some(ErrorCode::DiskFull) {
                    self.disk_filled();
                }
                fail(batch, &error);
            }
        }
    }

    /// A write failed for want of space: the disk is full until space is freed
    /// (checked every [`disk::RECHECK_EVERY`]) or a write goes through.
    fn disk_filled(&mut self) {
        self.free_at_failure = self.disk.free_bytes();
        self.disk_checked = std::time::Instant::now();
        self.disk.set_full(true, &self.events);
    }

    /// While the disk is full: room again once space was freed since the failure.
    fn recheck_disk(&mut self) {
        self.disk_checked = std::time::Instant::now();
        if Disk::room_again(self.free_at_failure, self.disk.free_bytes()) {
            self.disk.set_full(false, &self.events);
        }
    }

    fn finish(&mut self, batch: Vec<Command>, committed: Committed) {
        // A write went through: whatever was full has room. (A look for expired
        // messages that found none wrote nothing, and proves nothing.)
        if !batch.is_empty() || !committed.events.is_empty() {
            self.disk.set_full(false, &self.events);
        }
        self.counts = committed.counts;
        self.inbox_ids.remember(committed.inboxes_seen);
        self.published.publish(committed.counts);
        self.checkpointer.nudge();
        // Events first: when a caller's change returns, its events are out.
        for event in committed.events {
            // Sending fails only when nobody listens.
            let _ = self.events.send(event);
        }
        self.unindexed += answer_committed(batch, committed.tags_found, committed.moves);
    }
}

/// `first` and whatever else is queued, up to `max_batch` commands: one
/// transaction's worth. After a `Shutdown` new sends fail; what is queued
/// already is still received.
pub(super) fn take_batch(first: Command, commands: &mut mpsc::Receiver<Command>, max_batch: usize) -> Vec<Command> {
    let mut batch = vec![first];
    while batch.len() < max_batch {
        match commands.try_recv() {
            Ok(command) => batch.push(command),
            Err(_) => break,
        }
    }
    if batch.iter().any(|command| matches!(command, Command::Shutdown)) {
        commands.close();
    }
    batch
}

/// Answer every waiter of a committed batch: the new messages' IDs, whether
/// each tag rename or delete found its tag and what each move moved (both in
/// batch order). How many messages the batch stored.
pub(super) fn answer_committed(batch: Vec<Command>, tags_found: Vec<bool>, moves: Vec<Vec<super::Moved>>) -> u64 {
    let mut tags_found = tags_found.into_iter();
    let mut moves = moves.into_iter();
    let mut stored = 0;
    for command in batch {
        // A waiter that gave up (its client went away) is no error.
        let _ = match command {
            Command::Insert { messages, done } => {
                stored += messages.len() as u64;
                done.send(Ok(messages.into_iter().map(|message| message.summary.id).collect())).map_err(drop)
            }
            Command::SetRead { done, .. }
            | Command::Delete { done, .. }
            | Command::SetTags { done, .. }
            | Command::RecordEffects { done, .. } => done.send(Ok(())).map_err(drop),
            Command::RenameTag { found, .. } | Command::DeleteTag { found, .. } => {
                found.send(Ok(tags_found.next().unwrap_or(false))).map_err(drop)
            }
            Command::Move { done, .. } => done.send(Ok(moves.next().unwrap_or_default())).map_err(drop),
            Command::Shutdown => Ok(()),
        };
    }
    stored
}

/// Apply a batch in one transaction; nothing of it is written unless all of it is.
fn commit(
    conn: &mut Connection,
    mut counts: Totals,
    retention: Retention,
    inbox_ids: &InboxIds,
    batch: &[Command],
) -> rusqlite::Result<Committed> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut events = Vec::new();
    let mut tags_found = Vec::new();
    let mut moves = Vec::new();
    let mut inboxes_seen = Vec::new();
    // Deletes and tag changes can leave tags no message has; they are dropped once,
    // at the end of the batch.
    let mut tags_touched = false;
    for command in batch {
        match command {
            Command::Insert { messages, .. } => {
                for message in messages {
                    let inbox_id = match inbox_ids.get(&message.inbox) {
                        Some(id) => id,
                        None => {
                            let id = inbox_id(&tx, &message.inbox, message.received_ms)?;
                            inboxes_seen.push((message.inbox.clone(), id));
                            id
                        }
                    };
                    let stored_tags = insert(&tx, message, inbox_id)?;
                    counts.total += 1;
                    counts.unread += 1;
                    counts.bytes += message.summary.size;
                    events.push(Event::New(Box::new(MessageSummary { tags: stored_tags, ..message.summary.clone() })));
                }
            }
            Command::SetTags { ids, tags, .. } => {
                let mut changed = Vec::new();
                for id in ids {
                    let found: Option<(i64, String)> = tx
                        .prepare_cached(
                            "SELECT m.seq, i.name FROM messages m JOIN inboxes i ON i.id = m.inbox_id WHERE m.id = ?1",
                        )?
                        .query_row([id.as_str()], |row| Ok((row.get(0)?, row.get(1)?)))
                        .optional()?;
                    if let Some((seq, inbox)) = found {
                        changed.push(TagsChanged { id: id.clone(), tags: tags::replace(&tx, seq, tags)?, inbox });
                    }
                }
                tags_touched = true;
                if changed.len() > MAX_EVENTS_PER_CHANGE {
                    events.push(Event::Prune(()));
                } else {
                    events.extend(changed.into_iter().map(Event::Tagged));
                }
            }
            Command::Move { ids, inbox, .. } => {
                let target = match inbox_ids.get(inbox) {
                    Some(id) => id,
                    None => {
                        let now_ms = super::codec::unix_ms(time::OffsetDateTime::now_utc());
                        let id = inbox_id(&tx, inbox, now_ms)?;
                        inboxes_seen.push((inbox.clone(), id));
                        id
                    }
                };
                let moved = move_to(&tx, ids, target)?;
                if !moved.is_empty() {
                    events.push(Event::Prune(()));
                }
                moves.push(moved);
            }
            Command::RecordEffects { id, lines, .. } => {
                // `$.Effects[#]` appends to the array; an envelope without an outcome
                // gets an empty one to hold the lines.
                let mut append = tx.prepare_cached(
                    r#"UPDATE envelopes SET simulation = json_set(
                         COALESCE(simulation, '{"Rule":"","Action":"","Reply":"","Effects":[]}'), '$.Effects[#]', ?2)
                       WHERE seq = (SELECT seq FROM messages WHERE id = ?1)"#,
                )?;
                let mut recorded = 0;
                for line in lines {
                    recorded += append.execute(params![id.as_str(), line])?;
                }
                if recorded > 0 {
                    let inbox = tx
                        .prepare_cached(
                            "SELECT i.name FROM messages m JOIN inboxes i ON i.id = m.inbox_id WHERE m.id = ?1",
                        )?
                        .query_row([id.as_str()], |row| row.get(0))?;
                    events.push(Event::Effects(EffectsRecorded { id: id.clone(), inbox }));
                }
            }
            Command::RenameTag { from, to, .. } => {
                let found = tags::rename(&tx, from, to)?;
                tags_found.push(found);
                if found {
                    events.push(Event::Prune(()));
                }
            }
            Command::DeleteTag { name, .. } => {
                let found = tags::delete(&tx, name)?;
                tags_found.push(found);
                if found {
                    events.push(Event::Prune(()));
                }
            }
            Command::SetRead { target, read, .. } => {
                let changed = set_read(&tx, target, *read)?;
                let n = changed.len() as u64;
                counts.unread = if *read { counts.unread - n } else { counts.unread + n };
                if changed.len() > MAX_EVENTS_PER_CHANGE {
                    events.push(Event::Prune(()));
                } else {
                    events.extend(
                        changed.into_iter().map(|(id, inbox)| Event::Update(ReadChanged { id, read: *read, inbox })),
                    );
                }
            }
            Command::Delete { target: DeleteTarget::All, .. } => {
                tx.execute("DELETE FROM messages", [])?;
                tags_touched = true;
                counts = Totals { deleted: counts.deleted + counts.total, ..Totals::default() };
                events.push(Event::Truncate(()));
            }
            Command::Delete { target: DeleteTarget::Matching(condition), .. } => {
                let deleted = delete(&tx, condition)?;
                tags_touched |= !deleted.is_empty();
                let ids = forget(&mut counts, deleted);
                if ids.len() > MAX_EVENTS_PER_CHANGE {
                    events.push(Event::Prune(()));
                } else {
                    events.extend(ids.into_iter().map(|(id, inbox)| Event::Delete(Deleted { id, inbox })));
                }
            }
            Command::Shutdown => {}
        }
    }
    if prune(&tx, &mut counts, retention)? > 0 {
        tags_touched = true;
        events.push(Event::Prune(()));
    }
    if tags_touched {
        tags::drop_unused(&tx)?;
    }
    tx.commit()?;
    if !events.is_empty() {
        events.push(Event::Stats(Stats::new(counts.total, counts.unread)));
    }
    Ok(Committed { counts, events, tags_found, moves, inboxes_seen })
}

/// Move the messages `ids` that are stored elsewhere to inbox `target`, each with
/// the messages' counter's next value as its UID there (see store::mailbox).
fn move_to(tx: &Transaction<'_>, ids: &[MessageId], target: i64) -> rusqlite::Result<Vec<super::Moved>> {
    let mut moved = Vec::new();
    for id in ids {
        let elsewhere = tx
            .prepare_cached("SELECT seq FROM messages WHERE id = ?1 AND inbox_id != ?2")?
            .query_row(params![id.as_str(), target], |row| row.get::<_, i64>(0))
            .optional()?;
        let Some(seq) = elsewhere else { continue };
        let uid: i64 = tx
            .prepare_cached("UPDATE sqlite_sequence SET seq = seq + 1 WHERE name = 'messages' RETURNING seq")?
            .query_row([], |row| row.get(0))?;
        tx.prepare_cached("UPDATE messages SET inbox_id = ?1, moved_uid = ?2 WHERE seq = ?3")?
            .execute(params![target, uid, seq])?;
        moved.push(super::Moved { id: id.clone(), uid: super::mailbox::clamp_uid(uid) });
    }
    Ok(moved)
}

/// Store a new message in inbox `inbox_id`; its tags as stored (an existing tag
/// keeps its spelling).
fn insert(tx: &Transaction<'_>, m: &PreparedMessage, inbox_id: i64) -> rusqlite::Result<Vec<String>> {
    let s = &m.summary;
    let seq: i64 = tx
        .prepare_cached(
            "INSERT INTO messages (id, inbox_id, received_ms, message_id, from_addrs, to_addrs, cc_addrs,
                bcc_addrs, reply_to_addrs, subject, date_ms, size, snippet, attachments, inlines, username)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
             RETURNING seq",
        )?
        .query_row(
            params![
                s.id.as_str(),
                inbox_id,
                m.received_ms,
                s.message_id,
                m.addresses.from,
                m.addresses.to,
                m.addresses.cc,
                m.addresses.bcc,
                m.addresses.reply_to,
                s.subject,
                m.date_ms,
                s.size,
                s.snippet,
                s.attachments,
                m.inlines,
                s.username,
            ],
            |row| row.get(0),
        )?;
    tx.prepare_cached("INSERT INTO raw (seq, zstd) VALUES (?1, ?2)")?.execute(params![seq, m.compressed])?;
    let e = &m.envelope;
    tx.prepare_cached(
        "INSERT INTO envelopes (seq, mail_from, rcpt_to, helo, peer, tls, auth_user, transcript, api, simulation)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        seq,
        e.mail_from,
        m.rcpt_json,
        e.helo,
        e.peer,
        e.tls,
        e.auth_user,
        e.transcript,
        m.api_json,
        m.simulation_json
    ])?;
    tx.prepare_cached(
        "INSERT INTO fts_pending (seq, subject, addresses, body, attachment_names) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![seq, s.subject, m.search.addresses, m.search.body, m.search.attachment_names])?;
    if s.tags.is_empty() { Ok(Vec::new()) } else { tags::replace(tx, seq, &s.tags) }
}

/// The inbox's row ID, creating the inbox on first use.
fn inbox_id(tx: &Transaction<'_>, name: &str, now_ms: i64) -> rusqlite::Result<i64> {
    let existing =
        tx.prepare_cached("SELECT id FROM inboxes WHERE name = ?1")?.query_row([name], |row| row.get(0)).optional()?;
    match existing {
        Some(id) => Ok(id),
        None => tx
            .prepare_cached("INSERT INTO inboxes (name, created_ms) VALUES (?1, ?2) RETURNING id")?
            .query_row(params![name, now_ms], |row| row.get(0)),
    }
}

/// The inbox name of the row a RETURNING clause returns.
const RETURNING_INBOX: &str = "(SELECT name FROM inboxes WHERE id = inbox_id)";

/// Set the read flag where it differs; the IDs and inboxes of the messages that changed.
fn set_read(tx: &Transaction<'_>, target: &Condition, read: bool) -> rusqlite::Result<Vec<(MessageId, String)>> {
    let sql = format!(
        "UPDATE messages AS m SET read = ? WHERE m.read = ? AND ({}) RETURNING id, {RETURNING_INBOX}",
        target.sql
    );
    let params = [Value::from(read), Value::from(!read)].into_iter().chain(target.params.iter().cloned());
    let mut statement = tx.prepare(&sql)?;
    statement.query_map(params_from_iter(params), |row| Ok((MessageId::stored(row.get(0)?), row.get(1)?)))?.collect()
}

/// A deleted message: its ID, read flag, raw size and inbox.
type DeletedRow = (String, bool, u64, String);

/// Delete the messages matching `condition` (raw, envelope and index rows follow
/// through foreign keys and a trigger).
fn delete(tx: &Transaction<'_>, condition: &Condition) -> rusqlite::Result<Vec<DeletedRow>> {
    let sql = format!("DELETE FROM messages AS m WHERE {} RETURNING id, read, size, {RETURNING_INBOX}", condition.sql);
    let mut statement = tx.prepare_cached(&sql)?;
    statement
        .query_map(params_from_iter(condition.params.iter()), |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })?
        .collect()
}

/// Take deleted rows off the counts; their IDs and inboxes.
fn forget(counts: &mut Totals, deleted: Vec<DeletedRow>) -> Vec<(MessageId, String)> {
    deleted
        .into_iter()
        .map(|(id, read, size, inbox)| {
            counts.total -= 1;
            counts.unread -= u64::from(!read);
            counts.bytes -= size;
            counts.deleted += 1;
            (MessageId::stored(id), inbox)
        })
        .collect()
}

/// Delete the messages received before `expire_before_ms`, if set, then the oldest
/// until both limits hold; how many went. Walks the oldest rows only as far as
/// needed, so a batch within the limits costs nothing.
fn prune(tx: &Transaction<'_>, counts: &mut Totals, retention: Retention) -> rusqlite::Result<usize> {
    let expired = match retention.expire_before_ms {
        // A scan (received_ms has no index), once a minute at most.
        Some(cutoff) => {
            let older = Condition { sql: "m.received_ms < ?".into(), params: vec![Value::Integer(cutoff)] };
            forget(counts, delete(tx, &older)?).len()
        }
        None => 0,
    };
    Ok(expired + prune_to_limits(tx, counts, retention)?)
}

/// Delete the oldest messages until both limits hold; how many went.
fn prune_to_limits(tx: &Transaction<'_>, counts: &mut Totals, retention: Retention) -> rusqlite::Result<usize> {
    let excess_messages = counts.total.saturating_sub(retention.max_messages);
    let excess_bytes = counts.bytes.saturating_sub(retention.max_bytes);
    if excess_messages == 0 && excess_bytes == 0 {
        return Ok(0);
    }
    let mut newest_to_delete: Option<i64> = None;
    {
        let mut oldest_first = tx.prepare_cached("SELECT seq, size FROM messages ORDER BY seq")?;
        let mut rows = oldest_first.query([])?;
        let (mut messages, mut bytes) = (0u64, 0u64);
        while messages < excess_messages || bytes < excess_bytes {
            let Some(row) = rows.next()? else { break };
            newest_to_delete = Some(row.get(0)?);
            messages += 1;
            bytes += row.get::<_, u64>(1)?;
        }
    }
    let Some(cutoff) = newest_to_delete else { return Ok(0) };
    let oldest = Condition { sql: "m.seq <= ?".into(), params: vec![Value::Integer(cutoff)] };
    let deleted = delete(tx, &oldest)?;
    Ok(forget(counts, deleted).len())
}

/// Errors one command can cause on its own (as opposed to the disk, the file or a
/// lock, which fail every command alike).
fn concerns_one_command(error: &rusqlite::Error) -> bool {
    matches!(error.sqlite_error_code(), Some(ErrorCode::ConstraintViolation | ErrorCode::TooBig))
}

/// Answer every waiter of a batch that was not written.
fn fail(batch: Vec<Command>, error: &rusqlite::Error) {
    let disk_full = error.sqlite_error_code() == Some(ErrorCode::DiskFull);
    answer_failed(
        batch,
        || if disk_full { SubmitError::DiskFull } else { SubmitError::Failed(error.to_string()) },
        || store_error(disk_full, error),
    );
}

/// Answer every waiter of a batch that was not written: new messages with
/// `submit_error`, the other changes with `store_error`.
pub(super) fn answer_failed(
    batch: Vec<Command>,
    submit_error: impl Fn() -> SubmitError,
    store_error: impl Fn() -> StoreError,
) {
    for command in batch {
        let _ = match command {
            Command::Insert { done, .. } => done.send(Err(submit_error())).map_err(drop),
            Command::SetRead { done, .. }
            | Command::Delete { done, .. }
            | Command::SetTags { done, .. }
            | Command::RecordEffects { done, .. } => done.send(Err(store_error())).map_err(drop),
            Command::Move { done, .. } => done.send(Err(store_error())).map_err(drop),
            Command::RenameTag { found, .. } | Command::DeleteTag { found, .. } => {
                found.send(Err(store_error())).map_err(drop)
            }
            Command::Shutdown => Ok(()),
        };
    }
}

fn store_error(disk_full: bool, error: &rusqlite::Error) -> StoreError {
    if disk_full { StoreError::DiskFull } else { StoreError::Database(error.to_string()) }
}

#[cfg(test)]
mod tests {
    use tempfile::TempDir;

    use super::super::{Store, SubmitError};
    use super::{INDEX_BATCH, INDEX_CHUNK_TIME, IndexPace};
    use crate::config::StoreConfig;
    use crate::model::{Envelope, NewMessage, event};

    fn from_user(raw: Vec<u8>, user: &str) -> NewMessage {
        NewMessage {
            raw,
            envelope: Envelope { auth_user: Some(user.into()), ..Envelope::default() },
            received_at: time::OffsetDateTime::now_utc(),
        }
    }

    /// A chunk that took too long halves the next one; a full one that was quick
    /// doubles it, up to the batch; between commits the writer waits four times
    /// what the chunk took.
    #[test]
    fn index_chunks_follow_how_long_the_last_one_took() {
        let mut pace = IndexPace::new();
        let first = pace.chunk;
        pace.indexed(true, INDEX_CHUNK_TIME * 3);
        assert_eq!(pace.chunk, first / 2);
        assert!(!pace.may_index_between_commits());
        pace.indexed(true, INDEX_CHUNK_TIME / 4);
        assert_eq!(pace.chunk, first);
        // A chunk that was not full (nothing more waited) says nothing about size.
        pace.indexed(false, INDEX_CHUNK_TIME / 4);
        assert_eq!(pace.chunk, first);
        for _ in 0..20 {
            pace.indexed(true, std::time::Duration::ZERO);
        }
        assert_eq!(pace.chunk, INDEX_BATCH);
        assert!(pace.may_index_between_commits());
        for _ in 0..20 {
            pace.indexed(true, INDEX_CHUNK_TIME * 2);
        }
        assert_eq!(pace.chunk, 1);
    }

    /// The first message to a new inbox fails with its batch (the disk is
    /// "full"), which takes the inbox's row with it: the writer must not keep the
    /// ID it was given, or the next message to that inbox would point at no row.
    #[tokio::test]
    async fn an_inbox_created_by_a_failed_batch_is_not_remembered() {
        let dir = TempDir::new().unwrap();
        // SQLite reports a database that may not grow (max_page_count) exactly as
        // a full disk.
        let store = Store::open_with(dir.path(), StoreConfig::default(), event::channel(), |conn| {
            let pages: i64 = conn.query_row("PRAGMA page_count", [], |row| row.get(0))?;
            conn.query_row(&format!("PRAGMA max_page_count = {}", pages + 8), [], |_| Ok(()))
        })
        .unwrap();
        // Incompressible, so it needs far more than 8 pages.
        let mut x: u32 = 1;
        let mut big = b"Subject: big\r\n\r\n".to_vec();
        big.extend((0..300_000).map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            b'a' + (x % 26) as u8
        }));
        let result = store.submit(from_user(big, "bob")).await;
        assert!(matches!(result, Err(SubmitError::DiskFull)), "{result:?}");

        let id = store.submit(from_user(b"Subject: small\r\n\r\nhi\r\n".to_vec(), "bob")).await.unwrap();
        store.submit(from_user(b"Subject: again\r\n\r\nhi\r\n".to_vec(), "bob")).await.unwrap();
        assert_eq!(store.summary(&id).unwrap().unwrap().username, "bob");
        let inboxes: Vec<(String, u64)> = store.inboxes().unwrap().into_iter().map(|i| (i.name, i.total)).collect();
        assert_eq!(inboxes, [("bob".into(), 2)]);
        store.close().await;
    }
}
