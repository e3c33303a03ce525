//! The message store: a facade ([`Store`]) over a database ([`Backend`]): SQLite
//! ([`sqlite`]), or PostgreSQL shared by several nodes ([`postgres`]).
//!
//! The facade holds what is the same whatever keeps the messages:
//! * the byte budget of messages on their way in ([`budget`]): every byte of a
//!   message being received, prepared or queued is counted from its first byte to
//!   its commit, so overload is refused (SMTP 451) instead of buffered;
//! * parsing, summarising and compressing a message on the caller's side
//!   ([`ingest`]), large ones on the blocking pool, so the database's writer only
//!   stores;
//! * [`Store::submit`] answering only after its message's transaction committed,
//!   so the SMTP "250" means "on disk".
//!
//! The rest of the folder is the SQLite backend: its writer thread ([`writer`]),
//! readers ([`read`]), Mailpit search as SQL ([`search`]), tags ([`tags`]), schema
//! and migrations ([`schema`]), column encodings ([`codec`]), background WAL
//! checkpoints ([`checkpoint`]) and the disk-full state ([`disk`]). Errors are in
//! [`error`]; the question types (positions, selections) in [`query`].

mod backend;
mod budget;
mod checkpoint;
mod codec;
mod disk;
mod error;
pub(crate) mod ingest;
mod mailbox;
mod postgres;
mod query;
mod queue;
mod read;
mod schema;
mod search;
mod sqlite;
mod tags;
#[cfg(test)]
mod tests;
mod writer;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use rusqlite::Connection;
use tokio::sync::Semaphore;

use crate::config::{StoreConfig, TagRules};
use crate::metrics::LatencyHistogram;
use crate::model::{
    Access, Envelope, EventSender, InboxInfo, MessageId, MessagePage, MessageSummary, NewMessage, Stats,
};

pub(crate) use backend::Backend;
pub(crate) use budget::Budget;
pub use budget::Reservation;
pub use error::{OpenError, StoreError, SubmitError};
pub use mailbox::{FLAGGED_TAG, MailboxEntry, MailboxSnapshot, Moved};
pub use query::{AddressSearch, Position, SearchQuery, Selection};
pub use sqlite::DATABASE_FILE;
use sqlite::Sqlite;
pub use tags::TagError;

/// zstd level for raw messages: level 3 (zstd's default) compresses mail 3–5× at
/// hundreds of MB/s, so compression costs less than the SQL around it.
pub const ZSTD_LEVEL: i32 = 3;

/// Messages larger than this are prepared (parsed, compressed) on the blocking
/// pool rather than on the submitting task, so they do not stall other tasks.
const INLINE_PREPARE_LIMIT: usize = 256 * 1024;

/// Handle to the store; cheap to clone, shareable across threads and tasks.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Arc<dyn Backend>,
    /// The byte budget of messages on their way in: see [`Reservation`].
    budget: Budget,
    /// Large messages prepared at once on the blocking pool (one per core), so a
    /// burst of them waits holding only its raw bytes, not its parse as well.
    preparing: Semaphore,
    tag_rules: TagRules,
    /// From a prepared message's turn in the writer's queue to its commit.
    commit_latency: LatencyHistogram,
}

impl Store {
    /// Open (or create) the SQLite store in `data_dir` (`pigeonhole.db`), run
    /// migrations, start its writer. Refuses, without writing to it, a file that is
    /// not a SQLite database or was written by a newer Pigeonhole.
    pub fn open(data_dir: &Path, config: StoreConfig, events: EventSender) -> Result<Store, OpenError> {
        Store::open_with(data_dir, config, events, |_| Ok(()))
    }

    /// Open the store in the PostgreSQL database at `url` (`postgres://…`), shared
    /// with other nodes: migrate it, start the writer, readers and the listener
    /// for other nodes' changes. `data_dir` keeps what is not mail.
    pub fn open_postgres(
        url: &str,
        data_dir: &Path,
        config: StoreConfig,
        events: EventSender,
    ) -> Result<Store, OpenError> {
        budget::large_buffers_from_the_system();
        let postgres = postgres::Postgres::open(url, data_dir, &config, events)?;
        Ok(Store::with_backend(Arc::new(postgres), &config))
    }

    /// [`Store::open`], with a last say over the writer's connection (tests use it
    /// to make the disk "full").
    pub(crate) fn open_with(
        data_dir: &Path,
        config: StoreConfig,
        events: EventSender,
        tune_writer: impl FnOnce(&Connection) -> rusqlite::Result<()>,
    ) -> Result<Store, OpenError> {
        budget::large_buffers_from_the_system();
        let sqlite = Sqlite::open(data_dir, &config, events, tune_writer)?;
        Ok(Store::with_backend(Arc::new(sqlite), &config))
    }

    /// A store over any [`Backend`], with `config`'s byte budget and tag rules.
    pub(crate) fn with_backend(backend: Arc<dyn Backend>, config: &StoreConfig) -> Store {
        Store {
            inner: Arc::new(Inner {
                backend,
                budget: Budget::new(config.max_queued_bytes),
                preparing: Semaphore::new(thread::available_parallelism().map_or(2, |n| n.get())),
                tag_rules: config.tags.clone(),
                commit_latency: LatencyHistogram::default(),
            }),
        }
    }

    /// Whether the disk holding the data folder is full: a write failed for want
    /// of space (SMTP answers `452 4.3.1`) and no space was freed since.
    pub fn disk_full(&self) -> bool {
        self.inner.backend.disk_full()
    }

    /// Whether the database takes writes now: false while a PostgreSQL server is
    /// unreachable (`/readyz` answers 503).
    pub fn ready(&self) -> bool {
        self.inner.backend.ready()
    }

    /// The data folder.
    pub fn data_dir(&self) -> &Path {
        self.inner.backend.data_dir()
    }

    /// Where the database file is.
    pub fn database_path(&self) -> &Path {
        self.inner.backend.database_path()
    }

    /// Store one message; returns its ID once the message is committed.
    ///
    /// Fails at once with [`SubmitError::Busy`] when the writer's queue is full, or
    /// the message does not fit in the byte budget.
    pub async fn submit(&self, message: NewMessage) -> Result<MessageId, SubmitError> {
        self.submit_reserved(message, self.reservation()).await
    }

    /// An empty share of the byte budget, for a message about to be received: the
    /// SMTP listener grows it as the body arrives ([`Reservation::cover`]) and hands
    /// it to [`Store::submit_reserved`], so a body is counted from its first byte
    /// to its commit, and a session that cannot grow it is refused (451) instead of
    /// buffering more.
    pub fn reservation(&self) -> Reservation {
        self.inner.budget.reservation()
    }

    /// [`Store::submit`] with the budget `reservation` already holds for this
    /// message (grown to the message's size if it holds less). The reservation
    /// is released when the backend has answered.
    pub async fn submit_reserved(
        &self,
        message: NewMessage,
        mut reservation: Reservation,
    ) -> Result<MessageId, SubmitError> {
        // Claim a queue slot and the message's share of the byte budget before
        // doing any work, so overload is refused cheaply. Both are held until the
        // backend answers.
        let insert = self.inner.backend.admit()?;
        if !reservation.cover(message.raw.len()) {
            return Err(SubmitError::Busy);
        }
        let prepared = self.prepare(message).await?;
        let queued = Instant::now();
        let outcome = insert(vec![prepared]).await;
        self.inner.commit_latency.observe(queued.elapsed());
        drop(reservation);
        let id = outcome?.pop();
        id.ok_or_else(|| SubmitError::Failed("the store answered no ID for the message".to_string()))
    }

    /// Store several messages all at once or none of them: one transaction, for
    /// a request that is one send in its sender's eyes (a SendGrid request with
    /// several personalizations …). Their IDs in order, once all are committed.
    /// [`SubmitError::Busy`] when together they do not fit in the byte budget.
    pub async fn submit_all(&self, messages: Vec<NewMessage>) -> Result<Vec<MessageId>, SubmitError> {
        let insert = self.inner.backend.admit()?;
        let mut reservation = self.reservation();
        if !reservation.cover(messages.iter().map(|message| message.raw.len()).sum()) {
            return Err(SubmitError::Busy);
        }
        let mut prepared = Vec::with_capacity(messages.len());
        for message in messages {
            prepared.push(self.prepare(message).await?);
        }
        let queued = Instant::now();
        let outcome = insert(prepared).await;
        self.inner.commit_latency.observe(queued.elapsed());
        drop(reservation);
        outcome
    }

    /// A message parsed and compressed for the backend; a large one on the
    /// blocking pool, one per core at a time.
    async fn prepare(&self, message: NewMessage) -> Result<ingest::PreparedMessage, SubmitError> {
        if message.raw.len() <= INLINE_PREPARE_LIMIT {
            return ingest::prepare(message, &self.inner.tag_rules);
        }
        let _turn = self.inner.preparing.acquire().await.map_err(|_| SubmitError::Closed)?;
        let tag_rules = self.inner.tag_rules.clone();
        tokio::task::spawn_blocking(move || ingest::prepare(message, &tag_rules))
            .await
            .map_err(|e| SubmitError::Failed(format!("preparing the message failed: {e}")))?
    }

    /// Newest first, with Mailpit's page counts.
    pub fn list(&self, start: u64, limit: u64) -> Result<MessagePage, StoreError> {
        self.inner.backend.list(start, limit)
    }

    /// Newest first among the messages matching `query` (Mailpit's search syntax:
    /// free text, `from:`, `to:`, `cc:`, `bcc:`, `reply-to:`, `addressed:`,
    /// `subject:`, `message-id:`, `is:read`, `is:unread`, `has:attachment`,
    /// `has:inline`, `before:`, `after:`, `larger:`, `smaller:`, `inbox:`, `tag:`,
    /// `is:tagged`; `-` or `!` negates). Dates are read in UTC; a date without a
    /// time is its midnight.
    pub fn search(&self, query: &str, start: u64, limit: u64) -> Result<MessagePage, StoreError> {
        self.search_in(&SearchQuery::from(query), start, limit)
    }

    /// [`Store::search`], with dates read in the query's time zone, kept within
    /// the query's inboxes (whose totals the page then counts) if it names some.
    pub fn search_in(&self, query: &SearchQuery, start: u64, limit: u64) -> Result<MessagePage, StoreError> {
        self.inner.backend.search(query, start, limit)
    }

    /// Newest first among the messages whose envelope or header sender
    /// ([`AddressSearch::From`]) or recipients ([`AddressSearch::To`]) contain
    /// `value`, case-insensitively: MailHog's `from` and `to` searches.
    pub fn search_addresses(
        &self,
        kind: AddressSearch,
        value: &str,
        access: &Access,
        start: u64,
        limit: u64,
    ) -> Result<MessagePage, StoreError> {
        self.inner.backend.search_addresses(kind, value, access.inboxes().as_deref(), start, limit)
    }

    /// ID of the newest message matching `query` (an empty one matches all).
    pub fn latest_id(&self, query: &SearchQuery) -> Result<Option<MessageId>, StoreError> {
        self.inner.backend.latest_id(query)
    }

    /// Where the store is now: every message stored so far lies before it.
    pub fn position_now(&self) -> Result<Position, StoreError> {
        self.inner.backend.position_now()
    }

    /// Just after message `id`, in storage order. A message no longer stored
    /// (deleted, pruned) still marks a point: the millisecond it was received,
    /// which its ID encodes.
    pub fn position_after(&self, id: &MessageId) -> Result<Position, StoreError> {
        Ok(self.inner.backend.position_of(id)?.unwrap_or(Position::ReceivedSince(id.received_ms())))
    }

    /// The first (oldest) message stored after `position` that matches `query`
    /// (Mailpit's search syntax, as [`Store::search`]; empty matches all).
    pub fn first_matching_after(
        &self,
        query: &SearchQuery,
        position: Position,
    ) -> Result<Option<MessageSummary>, StoreError> {
        self.inner.backend.first_matching_after(query, position)
    }

    /// Message `id`'s summary if it is stored and matches `query`.
    pub fn summary_if_matching(
        &self,
        id: &MessageId,
        query: &SearchQuery,
    ) -> Result<Option<MessageSummary>, StoreError> {
        self.inner.backend.summary_if_matching(id, query)
    }

    pub fn summary(&self, id: &MessageId) -> Result<Option<MessageSummary>, StoreError> {
        self.inner.backend.summary(id)
    }

    /// The exact bytes received.
    pub fn raw(&self, id: &MessageId) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.backend.raw(id)
    }

    pub fn envelope(&self, id: &MessageId) -> Result<Option<Envelope>, StoreError> {
        self.inner.backend.envelope(id)
    }

    /// Totals as of the last commit.
    pub fn stats(&self) -> Result<Stats, StoreError> {
        Ok(self.inner.backend.stats())
    }

    /// Messages deleted since the store opened, through the API or by retention.
    pub fn messages_deleted(&self) -> u64 {
        self.inner.backend.messages_deleted()
    }

    /// How long messages waited in the writer's queue and for their commit.
    pub(crate) fn commit_latency(&self) -> &LatencyHistogram {
        &self.inner.commit_latency
    }

    /// Writes (mostly messages) waiting in the writer's queue.
    pub fn queued(&self) -> usize {
        self.inner.backend.queue().queued()
    }

    /// Bytes of mail on their way in held against the byte budget now, and the
    /// budget (`max_queued_bytes`).
    pub fn budget_in_use(&self) -> (u64, u64) {
        self.inner.budget.in_use()
    }

    /// Every inbox with its counts, by name.
    pub fn inboxes(&self) -> Result<Vec<InboxInfo>, StoreError> {
        self.inner.backend.inboxes()
    }

    /// Inbox `inbox` as IMAP sees it (messages by UID, flags, UIDVALIDITY);
    /// `None` when no message ever went to it.
    pub fn mailbox(&self, inbox: &str) -> Result<Option<MailboxSnapshot>, StoreError> {
        self.inner.backend.mailbox(inbox)
    }

    /// Move the messages `ids` to inbox `inbox` (created if new), each with a new
    /// UID there; those already there or not stored are skipped. Announced as
    /// `prune` (clients reload). The moved ones, after the commit.
    pub async fn move_to(&self, ids: Vec<MessageId>, inbox: &str) -> Result<Vec<Moved>, StoreError> {
        self.inner.backend.queue().move_to(ids, inbox.to_owned()).await
    }

    /// Make inbox `inbox`, empty, unless it exists (IMAP's CREATE): moving no
    /// messages to an inbox makes it, as moving some does.
    pub async fn create_inbox(&self, inbox: &str) -> Result<(), StoreError> {
        self.move_to(Vec::new(), inbox).await.map(drop)
    }

    /// Mark the selected messages read or unread; returns after the commit.
    pub async fn set_read(&self, selection: Selection, read: bool) -> Result<(), StoreError> {
        self.inner.backend.queue().set_read(selection, read).await
    }

    /// Delete the selected messages; returns after the commit.
    pub async fn delete(&self, selection: Selection) -> Result<(), StoreError> {
        self.inner.backend.queue().delete(selection).await
    }

    /// Every tag in use on the messages `access` sees, in listing order
    /// (case-insensitive).
    pub fn tags(&self, access: &Access) -> Result<Vec<String>, StoreError> {
        self.inner.backend.tags(access.inboxes().as_deref())
    }

    /// Every tag in use on the messages `access` sees, with how many of them have it.
    pub fn tag_counts(&self, access: &Access) -> Result<BTreeMap<String, u64>, StoreError> {
        self.inner.backend.tag_counts(access.inboxes().as_deref())
    }

    /// Give each of the messages `ids` exactly `tags` (cleaned, as at ingest; none
    /// clears them); IDs of messages not stored are skipped. Announced per message
    /// as an `update` event with its new tags.
    pub async fn set_tags(&self, ids: Vec<MessageId>, names: &[String]) -> Result<(), StoreError> {
        let tags = tags::normalize(names.iter().map(String::as_str), &self.inner.tag_rules);
        self.inner.backend.queue().set_tags(ids, tags).await
    }

    /// Append `lines` to what message `id`'s simulation outcome says followed its
    /// acceptance (a DSN stored, a forward that failed …), once they happened;
    /// nothing when the message is no longer stored.
    pub async fn record_effects(&self, id: MessageId, lines: Vec<String>) -> Result<(), StoreError> {
        self.inner.backend.queue().record_effects(id, lines).await
    }

    /// Rename tag `from` (any case) to `to` (cleaned as at ingest); a name another
    /// tag has merges the two. Announced as `prune` (clients reload).
    pub async fn rename_tag(&self, from: &str, to: &str) -> Result<(), TagError> {
        let cleaned = tags::clean(to, &self.inner.tag_rules);
        if cleaned.is_empty() {
            return Err(TagError::InvalidName(to.to_owned()));
        }
        match self.inner.backend.queue().rename_tag(from.to_owned(), cleaned).await? {
            true => Ok(()),
            false => Err(TagError::NoSuchTag(from.to_owned())),
        }
    }

    /// Take tag `name` (any case) off every message; the messages stay. Announced
    /// as `prune` (clients reload).
    pub async fn delete_tag(&self, name: &str) -> Result<(), TagError> {
        match self.inner.backend.queue().delete_tag(name.to_owned()).await? {
            true => Ok(()),
            false => Err(TagError::NoSuchTag(name.to_owned())),
        }
    }

    /// Finish queued writes and stop the writer. Later submits answer
    /// [`SubmitError::Closed`]; reads keep working. Calling it again does nothing.
    pub async fn close(&self) {
        self.inner.backend.close().await;
    }
}
