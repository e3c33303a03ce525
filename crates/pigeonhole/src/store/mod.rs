//! The message store: SQLite in WAL mode, one writer thread, many readers.
//!
//! * Writes — new messages, read flags, deletes, retention — all go through one
//!   writer thread ([`writer`]) fed by a bounded channel. New messages are committed
//!   in groups; [`Store::submit`] answers only after its message's transaction
//!   committed, so the SMTP "250" means "on disk". A full queue answers
//!   [`SubmitError::Busy`] at once (SMTP 451) instead of queueing without bound.
//! * Parsing, summarising and compressing happen on the caller's side
//!   ([`ingest`]), so the writer thread only runs SQL.
//! * Reads use separate read-only connections ([`read`]); WAL lets them run beside
//!   the writer. Search ([`search`]) speaks Mailpit's query syntax.
//! * The file layout — summaries, zstd-compressed raw messages, envelopes, an FTS5
//!   index over decoded text — and its migrations live in [`schema`].
//! * Two costs stay off the path of an SMTP reply: the writer stores a message's
//!   text beside it and moves it into the FTS5 index in large batches when idle
//!   (search also looks at the text not indexed yet), and WAL checkpoints run on
//!   their own thread ([`checkpoint`]).

mod checkpoint;
mod codec;
mod disk;
pub(crate) mod ingest;
mod read;
mod schema;
mod search;
mod tags;
#[cfg(test)]
mod tests;
mod writer;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

use rusqlite::Connection;
use serde::Serialize;
use time::OffsetDateTime;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use crate::config::{StoreConfig, TagRules};
use crate::events::{EventSender, Stats};
use crate::mail::Address;
use crate::smtp::Envelope;

use checkpoint::Checkpointer;
use search::Condition;
use writer::{Command, DeleteTarget, PublishedCounts, Writer};

pub use tags::TagError;

/// The inbox a message lands in when SMTP AUTH named no other.
pub const DEFAULT_INBOX: &str = "default";

/// A message as received, before it is stored.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// The exact bytes received (dot-stuffing undone).
    pub raw: Vec<u8>,
    pub envelope: Envelope,
    pub received_at: OffsetDateTime,
}

/// Whether `id` has the shape of a message ID this store gives out (22
/// alphanumerics): a cheap check of an ID from outside before any lookup.
pub fn is_message_id(id: &str) -> bool {
    codec::message_id_time(id).is_some()
}

/// A list item, in Mailpit's `MessageSummary` shape (key set and order matter).
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct MessageSummary {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "MessageID")]
    pub message_id: String,
    #[serde(rename = "Read")]
    pub read: bool,
    #[serde(rename = "From")]
    pub from: Address,
    #[serde(rename = "To")]
    pub to: Vec<Address>,
    #[serde(rename = "Cc")]
    pub cc: Vec<Address>,
    #[serde(rename = "Bcc")]
    pub bcc: Vec<Address>,
    #[serde(rename = "ReplyTo")]
    pub reply_to: Vec<Address>,
    #[serde(rename = "Subject")]
    pub subject: String,
    /// When the message was received (RFC 3339).
    #[serde(rename = "Created", with = "time::serde::rfc3339")]
    #[cfg_attr(test, ts(type = "string"))]
    pub created: OffsetDateTime,
    /// SMTP AUTH user name ("" if none).
    #[serde(rename = "Username")]
    pub username: String,
    #[serde(rename = "Tags")]
    pub tags: Vec<String>,
    #[serde(rename = "Size")]
    pub size: u64,
    #[serde(rename = "Attachments")]
    pub attachments: u32,
    #[serde(rename = "Snippet")]
    pub snippet: String,
}

/// Mailpit's key set and order for a [`MessagePage`] and a [`MessageSummary`]:
/// clients compare them exactly, so the store's and the API's tests check them.
#[cfg(test)]
pub(crate) const PAGE_KEYS: &[&str] =
    &["total", "unread", "count", "messages_count", "messages_unread", "start", "tags", "messages"];
#[cfg(test)]
pub(crate) const SUMMARY_KEYS: &[&str] = &[
    "ID",
    "MessageID",
    "Read",
    "From",
    "To",
    "Cc",
    "Bcc",
    "ReplyTo",
    "Subject",
    "Created",
    "Username",
    "Tags",
    "Size",
    "Attachments",
    "Snippet",
];

/// A page of summaries, in Mailpit's `MessagesSummary` shape.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct MessagePage {
    pub total: u64,
    pub unread: u64,
    pub count: u64,
    pub messages_count: u64,
    pub messages_unread: u64,
    pub start: u64,
    pub tags: Vec<String>,
    pub messages: Vec<MessageSummary>,
}

/// A point in the store's history, for "the first message stored after this":
/// [`Store::position_now`], [`Store::position_after`], [`Position::received_after`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// After the message stored with this sequence number: exact storage order.
    Stored(i64),
    /// After this millisecond of reception (Unix ms): messages received later.
    ReceivedMs(i64),
    /// Where a message since deleted stood: messages received in its millisecond
    /// or later (those in the same millisecond may have come after it; better
    /// one answered twice than one missed).
    ReceivedSince(i64),
}

impl Position {
    /// After `time` (to the millisecond): the messages received later than it.
    pub fn received_after(time: OffsetDateTime) -> Position {
        Position::ReceivedMs(codec::unix_ms(time))
    }

    /// Whether a message announced by an `Event::New` published after this
    /// position was taken lies after it. Storage order needs no check (the event
    /// comes from a later commit); a time needs the message received later.
    pub fn admits_new(&self, summary: &MessageSummary) -> bool {
        match *self {
            Position::Stored(_) => true,
            Position::ReceivedMs(ms) => codec::unix_ms(summary.created) > ms,
            Position::ReceivedSince(ms) => codec::unix_ms(summary.created) >= ms,
        }
    }
}

/// Which addresses [`Store::search_addresses`] looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressSearch {
    /// The envelope's MAIL FROM and the From header.
    From,
    /// The envelope's RCPT TO (Bcc included) and the To header.
    To,
}

/// Which messages a bulk change applies to.
#[derive(Debug, Clone)]
pub enum Selection {
    Ids(Vec<String>),
    Search(String),
    All,
}

/// Why a message could not be stored; the SMTP listener maps each to a reply.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The writer's queue is full: "451 4.3.0", try again later.
    #[error("the store is busy, try again later")]
    Busy,
    /// The disk is full: "452 4.3.1".
    #[error("the disk holding the data folder is full")]
    DiskFull,
    /// The store is shutting down: "421 4.3.2".
    #[error("the store is shutting down")]
    Closed,
    /// Anything else: "451 4.3.0".
    #[error("could not store the message: {0}")]
    Failed(String),
}

/// Make glibc serve every allocation of 128 KiB or more (message bodies, their
/// parse, SQLite's large records) with its own mapping, given back to the system
/// when freed. By default glibc raises that threshold after the first such free
/// (up to 32 MiB), and then bodies come from its per-thread arenas, where freed
/// ones stay resident: the byte budget bounds the live bodies, and this makes the
/// process's memory follow it (writer-behind scenario: RSS up 350 MB → 229 MB for
/// a 256 MiB budget). Once per process.
fn large_buffers_from_the_system() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        // SAFETY: mallopt only sets a tunable of the allocator; it is called
        // before the store allocates its buffers, once.
        ONCE.call_once(|| unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        });
    }
}

/// A message's share of the store's byte budget (`max_queued_bytes`), held from
/// its first byte received to its commit: the memory of every message on its way
/// in, whether still arriving over SMTP, being parsed or queued for the writer,
/// stays within one budget. Counted in KiB; released when dropped.
pub struct Reservation {
    budget: Arc<Semaphore>,
    total_kib: u32,
    permit: Option<OwnedSemaphorePermit>,
}

impl Reservation {
    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.permit.as_ref().map_or(0, |p| p.num_permits() * 1024)
    }

    /// Hold at least `bytes` (a message larger than the whole budget holds all of
    /// it). `false`, holding what it held, when the budget has not that much free.
    pub fn cover(&mut self, bytes: usize) -> bool {
        let wanted = u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX).min(self.total_kib) as usize;
        let held = self.permit.as_ref().map_or(0, |p| p.num_permits());
        if wanted <= held {
            return true;
        }
        let Ok(more) = self.budget.clone().try_acquire_many_owned((wanted - held) as u32) else {
            return false;
        };
        match &mut self.permit {
            Some(permit) => permit.merge(more),
            None => self.permit = Some(more),
        }
        true
    }

    /// Give back everything held.
    pub fn release(&mut self) {
        self.permit = None;
    }
}

/// Why the store could not open. Each message is one line: what is wrong and how
/// to fix it.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot use the data folder {}: {source}; make it writable or point --data at another folder", path.display())]
    DataDir { path: PathBuf, source: io::Error },
    #[error("cannot open or create {}: make its folder writable or point --data at another folder", path.display())]
    CannotOpen { path: PathBuf },
    #[error("{} is read-only: make it and its folder writable or point --data at another folder", path.display())]
    ReadOnly { path: PathBuf },
    #[error("{} is not a Pigeonhole database (not SQLite, or damaged): move it away or point --data at another folder", path.display())]
    NotADatabase { path: PathBuf },
    #[error("{} is another program's SQLite database (its tables are not Pigeonhole's): move it away or point --data at another folder", path.display())]
    ForeignDatabase { path: PathBuf },
    #[error(
        "{} was written by a newer Pigeonhole (schema version {found}; this one knows up to {known}): \
         upgrade Pigeonhole or point --data at another folder",
        path.display()
    )]
    NewerSchema { path: PathBuf, found: i64, known: usize },
    #[error("{} is locked by another program (another Pigeonhole on the same folder?): stop it or point --data at another folder", path.display())]
    Busy { path: PathBuf },
    #[error("the disk holding {} is full: free some space or point --data at another folder", path.display())]
    DiskFull { path: PathBuf },
    #[error("cannot open the database {}: {detail}; point --data at another folder to start afresh", path.display())]
    Database { path: PathBuf, detail: String },
    #[error("cannot start the store's writer thread: {0}; the system is short of resources, try again")]
    Thread(io::Error),
}

/// Errors of reads and API-driven changes.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(String),
    #[error("the disk holding the data folder is full")]
    DiskFull,
    #[error("the store is shutting down")]
    Closed,
    #[error("stored message {id} cannot be read back: {detail}")]
    Damaged { id: String, detail: String },
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        StoreError::Database(error.to_string())
    }
}

/// Per-inbox counts.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct InboxInfo {
    pub name: String,
    pub total: u64,
    pub unread: u64,
}

/// The database file's name inside the data folder.
pub const DATABASE_FILE: &str = "pigeonhole.db";

/// zstd level for raw messages: level 3 (zstd's default) compresses mail 3–5× at
/// hundreds of MB/s, so compression costs less than the SQL around it.
pub const ZSTD_LEVEL: i32 = 3;

/// Messages larger than this are prepared (parsed, compressed) on the blocking
/// pool rather than on the submitting task, so they do not stall other tasks.
const INLINE_PREPARE_LIMIT: usize = 256 * 1024;

/// Handle to the store; cheap to clone, shareable across threads and tasks.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

struct Shared {
    path: PathBuf,
    commands: mpsc::Sender<Command>,
    writer: Mutex<Option<thread::JoinHandle<()>>>,
    readers: read::Readers,
    counts: Arc<PublishedCounts>,
    /// The byte budget of messages on their way in (being received, prepared or
    /// queued for the writer), in KiB permits: see [`Reservation`].
    queued_kib: Arc<Semaphore>,
    queued_kib_total: u32,
    /// Large messages prepared at once on the blocking pool (one per core), so a
    /// burst of them waits holding only its raw bytes, not its parse as well.
    preparing: Semaphore,
    disk: Arc<disk::Disk>,
    tag_rules: TagRules,
}

impl Store {
    /// Open (or create) `data_dir/pigeonhole.db`, run migrations, start the writer.
    /// Refuses, without writing to it, a file that is not a SQLite database or was
    /// written by a newer Pigeonhole.
    pub fn open(data_dir: &Path, config: StoreConfig, events: EventSender) -> Result<Store, OpenError> {
        Store::open_with(data_dir, config, events, |_| Ok(()))
    }

    /// [`Store::open`], with a last say over the writer's connection (tests use it
    /// to make the disk "full").
    fn open_with(
        data_dir: &Path,
        config: StoreConfig,
        events: EventSender,
        tune_writer: impl FnOnce(&Connection) -> rusqlite::Result<()>,
    ) -> Result<Store, OpenError> {
        large_buffers_from_the_system();
        std::fs::create_dir_all(data_dir).map_err(|source| OpenError::DataDir { path: data_dir.to_owned(), source })?;
        let path = data_dir.join(DATABASE_FILE);
        let database_error = |e: rusqlite::Error| OpenError::Database { path: path.clone(), detail: e.to_string() };
        let conn = schema::open_writer(&path, config.fsync)?;
        tune_writer(&conn).map_err(database_error)?;
        let (commands, queue) = mpsc::channel(config.queue_capacity.max(1));
        let counts = Arc::new(PublishedCounts::default());
        let queued_kib_total = u32::try_from(config.max_queued_bytes / 1024).unwrap_or(u32::MAX).max(1);
        let checkpointer = Checkpointer::start(&path)?;
        let disk = Arc::new(disk::Disk::new(data_dir.to_owned()));
        let writer = Writer::new(conn, queue, events, &config, counts.clone(), checkpointer, disk.clone())
            .map_err(database_error)?;
        let handle = thread::Builder::new()
            .name("pigeonhole-writer".into())
            .spawn(move || writer.run())
            .map_err(OpenError::Thread)?;
        Ok(Store {
            shared: Arc::new(Shared {
                readers: read::Readers::new(path.clone()),
                path,
                commands,
                writer: Mutex::new(Some(handle)),
                counts,
                queued_kib: Arc::new(Semaphore::new(queued_kib_total as usize)),
                queued_kib_total,
                disk,
                preparing: Semaphore::new(thread::available_parallelism().map_or(2, |n| n.get())),
                tag_rules: config.tags,
            }),
        })
    }

    /// Whether the disk holding the data folder is full: a write failed for want
    /// of space (SMTP answers `452 4.3.1`) and no space was freed since.
    pub fn disk_full(&self) -> bool {
        self.shared.disk.is_full()
    }

    /// The data folder.
    pub fn data_dir(&self) -> &Path {
        self.shared.disk.dir()
    }

    /// Where the database file is.
    pub fn database_path(&self) -> &Path {
        &self.shared.path
    }

    /// Store one message; returns its ID once the message is committed.
    ///
    /// Fails at once with [`SubmitError::Busy`] when the writer's queue is full, or
    /// the message does not fit in the byte budget.
    pub async fn submit(&self, message: NewMessage) -> Result<String, SubmitError> {
        self.submit_reserved(message, self.reservation()).await
    }

    /// An empty share of the byte budget, for a message about to be received: the
    /// SMTP listener grows it as the body arrives ([`Reservation::cover`]) and hands
    /// it to [`Store::submit_reserved`], so a body is counted from its first byte
    /// to its commit, and a session that cannot grow it is refused (451) instead of
    /// buffering more.
    pub fn reservation(&self) -> Reservation {
        Reservation { budget: self.shared.queued_kib.clone(), total_kib: self.shared.queued_kib_total, permit: None }
    }

    /// [`Store::submit`] with the budget `reservation` already holds for this
    /// message (grown to the message's size if it holds less). The reservation
    /// is released when the writer has answered.
    pub async fn submit_reserved(
        &self,
        message: NewMessage,
        mut reservation: Reservation,
    ) -> Result<String, SubmitError> {
        // Claim a queue slot and the message's share of the byte budget before
        // doing any work, so overload is refused cheaply. Both are held until the
        // writer answers.
        let slot = self.shared.commands.try_reserve().map_err(|e| match e {
            TrySendError::Full(()) => SubmitError::Busy,
            TrySendError::Closed(()) => SubmitError::Closed,
        })?;
        if !reservation.cover(message.raw.len()) {
            return Err(SubmitError::Busy);
        }
        let prepared = if message.raw.len() > INLINE_PREPARE_LIMIT {
            let _turn = self.shared.preparing.acquire().await.map_err(|_| SubmitError::Closed)?;
            let tag_rules = self.shared.tag_rules.clone();
            tokio::task::spawn_blocking(move || ingest::prepare(message, &tag_rules))
                .await
                .map_err(|e| SubmitError::Failed(format!("preparing the message failed: {e}")))??
        } else {
            ingest::prepare(message, &self.shared.tag_rules)?
        };
        let (done, answer) = oneshot::channel();
        slot.send(Command::Insert { message: Box::new(prepared), done });
        let outcome = answer.await.map_err(|_| SubmitError::Closed)?;
        drop(reservation);
        outcome
    }

    /// Newest first, with Mailpit's page counts.
    pub fn list(&self, start: u64, limit: u64) -> Result<MessagePage, StoreError> {
        let stats = self.shared.counts.stats();
        let (messages, tags) = self.shared.readers.with(|conn| {
            let snapshot = conn.unchecked_transaction()?;
            Ok((read::summaries(&snapshot, &Condition::everything(), start, limit)?, tags::all(&snapshot)?))
        })?;
        Ok(MessagePage::new(&stats, (stats.total, stats.unread), start, messages, tags))
    }

    /// Newest first among the messages matching `query` (Mailpit's search syntax:
    /// free text, `from:`, `to:`, `cc:`, `bcc:`, `reply-to:`, `addressed:`,
    /// `subject:`, `message-id:`, `is:read`, `is:unread`, `has:attachment`,
    /// `has:inline`, `before:`, `after:`, `larger:`, `smaller:`, `inbox:`, `tag:`,
    /// `is:tagged`; `-` or `!` negates). Dates without a time are midnight UTC.
    pub fn search(&self, query: &str, start: u64, limit: u64) -> Result<MessagePage, StoreError> {
        self.page_matching(&Condition::search(query), start, limit)
    }

    /// Newest first among the messages whose envelope or header sender
    /// ([`AddressSearch::From`]) or recipients ([`AddressSearch::To`]) contain
    /// `value`, case-insensitively: MailHog's `from` and `to` searches.
    pub fn search_addresses(
        &self,
        kind: AddressSearch,
        value: &str,
        start: u64,
        limit: u64,
    ) -> Result<MessagePage, StoreError> {
        self.page_matching(&Condition::addresses(kind, value), start, limit)
    }

    fn page_matching(&self, filter: &Condition, start: u64, limit: u64) -> Result<MessagePage, StoreError> {
        let stats = self.shared.counts.stats();
        let (matching, messages, tags) = self.shared.readers.with(|conn| {
            // One snapshot for the counts, the page and the tags.
            let snapshot = conn.unchecked_transaction()?;
            Ok((
                read::count_matching(&snapshot, filter)?,
                read::summaries(&snapshot, filter, start, limit)?,
                tags::all(&snapshot)?,
            ))
        })?;
        Ok(MessagePage::new(&stats, matching, start, messages, tags))
    }

    /// ID of the newest message (matching `query` if given).
    pub fn latest_id(&self, query: Option<&str>) -> Result<Option<String>, StoreError> {
        let filter = query.map_or_else(Condition::everything, Condition::search);
        self.shared.readers.with(|conn| read::latest_id(conn, &filter))
    }

    /// Where the store is now: every message stored so far lies before it.
    pub fn position_now(&self) -> Result<Position, StoreError> {
        Ok(Position::Stored(self.shared.readers.with(read::last_seq)?))
    }

    /// Just after message `id`, in storage order. A message no longer stored
    /// (deleted, pruned) still marks a point: the millisecond it was received,
    /// which its ID encodes. `None` when `id` is not a Pigeonhole message ID.
    pub fn position_after(&self, id: &str) -> Result<Option<Position>, StoreError> {
        let Some(received_ms) = codec::message_id_time(id) else { return Ok(None) };
        let seq = self.shared.readers.with(|conn| read::seq_of(conn, id))?;
        Ok(Some(seq.map_or(Position::ReceivedSince(received_ms), Position::Stored)))
    }

    /// The first (oldest) message stored after `position` that matches `query`
    /// (Mailpit's search syntax, as [`Store::search`]; empty matches all).
    pub fn first_matching_after(&self, query: &str, position: Position) -> Result<Option<MessageSummary>, StoreError> {
        let filter = Condition::after(position).and(Condition::search(query));
        self.shared.readers.with(|conn| read::first_summary(conn, &filter))
    }

    /// Message `id`'s summary if it is stored and matches `query`.
    pub fn summary_if_matching(&self, id: &str, query: &str) -> Result<Option<MessageSummary>, StoreError> {
        let filter = Condition::ids(&[id.to_owned()]).and(Condition::search(query));
        self.shared.readers.with(|conn| read::first_summary(conn, &filter))
    }

    pub fn summary(&self, id: &str) -> Result<Option<MessageSummary>, StoreError> {
        self.shared.readers.with(|conn| read::summary(conn, id))
    }

    /// The exact bytes received.
    pub fn raw(&self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.shared.readers.with(|conn| read::raw(conn, id))
    }

    pub fn envelope(&self, id: &str) -> Result<Option<Envelope>, StoreError> {
        self.shared.readers.with(|conn| read::envelope(conn, id))
    }

    /// Totals as of the last commit.
    pub fn stats(&self) -> Result<Stats, StoreError> {
        Ok(self.shared.counts.stats())
    }

    /// Messages deleted since the store opened, through the API or by retention.
    pub fn messages_deleted(&self) -> u64 {
        self.shared.counts.deleted()
    }

    /// Every inbox with its counts, by name.
    pub fn inboxes(&self) -> Result<Vec<InboxInfo>, StoreError> {
        self.shared.readers.with(read::inboxes)
    }

    /// Mark the selected messages read or unread; returns after the commit.
    pub async fn set_read(&self, selection: Selection, read: bool) -> Result<(), StoreError> {
        let target = match selection {
            Selection::All => Condition::everything(),
            Selection::Ids(ids) => Condition::ids(&ids),
            Selection::Search(query) => Condition::search(&query),
        };
        self.request(|done| Command::SetRead { target, read, done }).await
    }

    /// Delete the selected messages; returns after the commit.
    pub async fn delete(&self, selection: Selection) -> Result<(), StoreError> {
        let target = match selection {
            Selection::All => DeleteTarget::All,
            Selection::Ids(ids) => DeleteTarget::Matching(Condition::ids(&ids)),
            Selection::Search(query) => DeleteTarget::Matching(Condition::search(&query)),
        };
        self.request(|done| Command::Delete { target, done }).await
    }

    /// Every tag in use, in listing order (case-insensitive).
    pub fn tags(&self) -> Result<Vec<String>, StoreError> {
        self.shared.readers.with(|conn| Ok(tags::all(conn)?))
    }

    /// Every tag in use with the number of messages that have it.
    pub fn tag_counts(&self) -> Result<std::collections::BTreeMap<String, u64>, StoreError> {
        self.shared.readers.with(|conn| Ok(tags::counts(conn)?))
    }

    /// Give each of the messages `ids` exactly `tags` (cleaned, as at ingest; none
    /// clears them); IDs of messages not stored are skipped. Announced per message
    /// as an `update` event with its new tags.
    pub async fn set_tags(&self, ids: Vec<String>, names: &[String]) -> Result<(), StoreError> {
        let tags = tags::normalize(names.iter().map(String::as_str), &self.shared.tag_rules);
        self.request(|done| Command::SetTags { ids, tags, done }).await
    }

    /// Rename tag `from` (any case) to `to` (cleaned as at ingest); a name another
    /// tag has merges the two. Announced as `prune` (clients reload).
    pub async fn rename_tag(&self, from: &str, to: &str) -> Result<(), TagError> {
        let cleaned = tags::clean(to, &self.shared.tag_rules);
        if cleaned.is_empty() {
            return Err(TagError::InvalidName(to.to_owned()));
        }
        self.tag_change(from, |from, found| Command::RenameTag { from, to: cleaned, found }).await
    }

    /// Take tag `name` (any case) off every message; the messages stay. Announced
    /// as `prune` (clients reload).
    pub async fn delete_tag(&self, name: &str) -> Result<(), TagError> {
        self.tag_change(name, |name, found| Command::DeleteTag { name, found }).await
    }

    async fn tag_change(
        &self,
        name: &str,
        command: impl FnOnce(String, oneshot::Sender<Result<bool, StoreError>>) -> Command,
    ) -> Result<(), TagError> {
        let (found, answer) = oneshot::channel();
        self.shared.commands.send(command(name.to_owned(), found)).await.map_err(|_| StoreError::Closed)?;
        match answer.await.map_err(|_| StoreError::Closed)?? {
            true => Ok(()),
            false => Err(TagError::NoSuchTag(name.to_owned())),
        }
    }

    /// Queue an API-driven change (waiting for room: these are few and a person is
    /// waiting) and wait for its commit.
    async fn request(
        &self,
        command: impl FnOnce(oneshot::Sender<Result<(), StoreError>>) -> Command,
    ) -> Result<(), StoreError> {
        let (done, answer) = oneshot::channel();
        self.shared.commands.send(command(done)).await.map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Finish queued writes and stop the writer thread. Later submits answer
    /// [`SubmitError::Closed`]; reads keep working. Calling it again does nothing.
    pub async fn close(&self) {
        // Queued behind everything already submitted, so all of that is written.
        let _ = self.shared.commands.send(Command::Shutdown).await;
        let handle = self.shared.writer.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(handle) = handle {
            match tokio::task::spawn_blocking(move || handle.join()).await {
                Ok(Ok(())) => {}
                _ => tracing::error!("the store's writer thread panicked"),
            }
        }
    }
}

impl MessagePage {
    fn new(
        stats: &Stats,
        (matching, matching_unread): (u64, u64),
        start: u64,
        messages: Vec<MessageSummary>,
        tags: Vec<String>,
    ) -> Self {
        MessagePage {
            total: stats.total,
            unread: stats.unread,
            count: messages.len() as u64,
            messages_count: matching,
            messages_unread: matching_unread,
            start,
            tags,
            messages,
        }
    }
}
