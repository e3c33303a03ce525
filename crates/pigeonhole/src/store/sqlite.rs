//! The SQLite backend: one file in WAL mode, one writer thread, many readers.
//!
//! * Writes — new messages, read flags, deletes, tags, retention — all go through
//!   one writer thread ([`super::writer`]) fed by a bounded channel; new messages
//!   are committed in groups and each submitter is answered after its group's
//!   COMMIT. A full channel refuses a new message at once ([`Backend::admit`]).
//! * Reads use separate read-only connections ([`super::read`]); WAL lets them
//!   run beside the writer. Search ([`super::search`]) turns Mailpit's query syntax
//!   into SQL.
//! * The file layout and its migrations live in [`super::schema`]; WAL
//!   checkpoints run on their own thread ([`super::checkpoint`]); whether the disk
//!   is full is tracked by [`super::disk`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use rusqlite::Connection;

use super::backend::{Backend, Insert};
use super::checkpoint::Checkpointer;
use super::mailbox::{self, MailboxSnapshot};
use super::query::{AddressSearch, Position, SearchQuery};
use super::queue::Queue;
use super::search::{Condition, Dialect};
use super::writer::{PublishedTotals, Writer};
use super::{OpenError, StoreError, SubmitError, disk, read, schema, tags};
use crate::config::StoreConfig;
use crate::model::{Envelope, EventSender, InboxInfo, MessageId, MessagePage, MessageSummary, Stats};

/// The database file's name inside the data folder.
pub const DATABASE_FILE: &str = "pigeonhole.db";

/// `data_dir/pigeonhole.db`, its writer thread and its readers.
pub(super) struct Sqlite {
    path: PathBuf,
    pub(super) queue: Queue,
    writer: Mutex<Option<thread::JoinHandle<()>>>,
    readers: read::Readers,
    counts: Arc<PublishedTotals>,
    disk: Arc<disk::Disk>,
}

impl Sqlite {
    /// Open (or create) `data_dir/pigeonhole.db`, run migrations, start the writer.
    /// Refuses, without writing to it, a file that is not a SQLite database or was
    /// written by a newer Pigeonhole. `tune_writer` has a last say over the
    /// writer's connection (tests use it to make the disk "full").
    pub(super) fn open(
        data_dir: &Path,
        config: &StoreConfig,
        events: EventSender,
        tune_writer: impl FnOnce(&Connection) -> rusqlite::Result<()>,
    ) -> Result<Sqlite, OpenError> {
        std::fs::create_dir_all(data_dir).map_err(|source| OpenError::DataDir { path: data_dir.to_owned(), source })?;
        let path = data_dir.join(DATABASE_FILE);
        let database_error = |e: rusqlite::Error| OpenError::Database { path: path.clone(), detail: e.to_string() };
        let conn = schema::open_writer(&path, config.fsync)?;
        tune_writer(&conn).map_err(database_error)?;
        let (queue, commands) = Queue::new(config.queue_capacity, Dialect::Sqlite);
        let counts = Arc::new(PublishedTotals::default());
        let checkpointer = Checkpointer::start(&path)?;
        let disk = Arc::new(disk::Disk::new(data_dir.to_owned()));
        let writer = Writer::new(conn, commands, events, config, counts.clone(), checkpointer, disk.clone())
            .map_err(database_error)?;
        let handle = thread::Builder::new()
            .name("pigeonhole-writer".into())
            .spawn(move || writer.run())
            .map_err(OpenError::Thread)?;
        Ok(Sqlite {
            readers: read::Readers::new(path.clone()),
            path,
            queue,
            writer: Mutex::new(Some(handle)),
            counts,
            disk,
        })
    }

    /// A page of the messages matching `filter`; kept `within` some inboxes, the
    /// page's totals and tags are those of these inboxes alone.
    fn page_matching(
        &self,
        filter: &Condition,
        within: Option<&[String]>,
        start: u64,
        limit: u64,
    ) -> Result<MessagePage, StoreError> {
        let stats = self.counts.stats();
        let (totals, matching, messages, tags) = self.readers.with(|conn| {
            // One snapshot for the counts, the page and the tags.
            let snapshot = conn.unchecked_transaction()?;
            let (totals, tags) = match within {
                None => ((stats.total, stats.unread), tags::all(&snapshot)?),
                Some(inboxes) => {
                    let visible = Condition::inboxes(inboxes);
                    (read::count_matching(&snapshot, &visible)?, tags::on_messages(&snapshot, &visible)?)
                }
            };
            let restricted;
            let filter = match within {
                None => filter,
                Some(inboxes) => {
                    restricted = filter.clone().and(Condition::inboxes(inboxes));
                    &restricted
                }
            };
            Ok((
                totals,
                read::count_matching(&snapshot, filter)?,
                read::summaries(&snapshot, filter, start, limit)?,
                tags,
            ))
        })?;
        Ok(MessagePage::new(&Stats::new(totals.0, totals.1), matching, start, messages, tags))
    }
}

impl Backend for Sqlite {
    fn queue(&self) -> &Queue {
        &self.queue
    }

    fn admit(&self) -> Result<Insert, SubmitError> {
        self.queue.admit()
    }

    fn list(&self, start: u64, limit: u64) -> Result<MessagePage, StoreError> {
        let stats = self.counts.stats();
        let (messages, tags) = self.readers.with(|conn| {
            let snapshot = conn.unchecked_transaction()?;
            Ok((read::summaries(&snapshot, &Condition::everything(), start, limit)?, tags::all(&snapshot)?))
        })?;
        Ok(MessagePage::new(&stats, (stats.total, stats.unread), start, messages, tags))
    }

    fn search(&self, query: &SearchQuery, start: u64, limit: u64) -> Result<MessagePage, StoreError> {
        self.page_matching(
            &Condition::search_in(&query.text, &query.zone, Dialect::Sqlite),
            query.inboxes.as_deref(),
            start,
            limit,
        )
    }

    fn search_addresses(
        &self,
        kind: AddressSearch,
        value: &str,
        within: Option<&[String]>,
        start: u64,
        limit: u64,
    ) -> Result<MessagePage, StoreError> {
        self.page_matching(&Condition::addresses(kind, value, Dialect::Sqlite), within, start, limit)
    }

    fn latest_id(&self, query: &SearchQuery) -> Result<Option<MessageId>, StoreError> {
        let filter = Condition::matching(query, Dialect::Sqlite);
        self.readers.with(|conn| read::latest_id(conn, &filter))
    }

    fn position_now(&self) -> Result<Position, StoreError> {
        Ok(Position::Stored(self.readers.with(read::last_seq)?))
    }

    fn position_of(&self, id: &MessageId) -> Result<Option<Position>, StoreError> {
        Ok(self.readers.with(|conn| read::seq_of(conn, id.as_str()))?.map(Position::Stored))
    }

    fn first_matching_after(
        &self,
        query: &SearchQuery,
        position: Position,
    ) -> Result<Option<MessageSummary>, StoreError> {
        let filter = Condition::after(position).and(Condition::matching(query, Dialect::Sqlite));
        self.readers.with(|conn| read::first_summary(conn, &filter))
    }

    fn summary_if_matching(&self, id: &MessageId, query: &SearchQuery) -> Result<Option<MessageSummary>, StoreError> {
        let filter =
            Condition::ids(std::slice::from_ref(id), Dialect::Sqlite).and(Condition::matching(query, Dialect::Sqlite));
        self.readers.with(|conn| read::first_summary(conn, &filter))
    }

    fn summary(&self, id: &MessageId) -> Result<Option<MessageSummary>, StoreError> {
        self.readers.with(|conn| read::summary(conn, id.as_str()))
    }

    fn raw(&self, id: &MessageId) -> Result<Option<Vec<u8>>, StoreError> {
        self.readers.with(|conn| read::raw(conn, id.as_str()))
    }

    fn envelope(&self, id: &MessageId) -> Result<Option<Envelope>, StoreError> {
        self.readers.with(|conn| read::envelope(conn, id.as_str()))
    }

    fn stats(&self) -> Stats {
        self.counts.stats()
    }

    fn messages_deleted(&self) -> u64 {
        self.counts.deleted()
    }

    fn inboxes(&self) -> Result<Vec<InboxInfo>, StoreError> {
        self.readers.with(read::inboxes)
    }

    fn mailbox(&self, inbox: &str) -> Result<Option<MailboxSnapshot>, StoreError> {
        self.readers.with(|conn| mailbox::read(conn, inbox))
    }

    fn tags(&self, within: Option<&[String]>) -> Result<Vec<String>, StoreError> {
        self.readers.with(|conn| match within {
            None => Ok(tags::all(conn)?),
            Some(inboxes) => Ok(tags::on_messages(conn, &Condition::inboxes(inboxes))?),
        })
    }

    fn tag_counts(&self, within: Option<&[String]>) -> Result<BTreeMap<String, u64>, StoreError> {
        self.readers.with(|conn| match within {
            None => Ok(tags::counts(conn)?),
            Some(inboxes) => Ok(tags::counts_on(conn, &Condition::inboxes(inboxes))?),
        })
    }

    fn disk_full(&self) -> bool {
        self.disk.is_full()
    }

    fn data_dir(&self) -> &Path {
        self.disk.dir()
    }

    fn database_path(&self) -> &Path {
        &self.path
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        async move {
            self.queue.shutdown().await;
            let handle = self.writer.lock().unwrap_or_else(PoisonError::into_inner).take();
            if let Some(handle) = handle {
                match tokio::task::spawn_blocking(move || handle.join()).await {
                    Ok(Ok(())) => {}
                    _ => tracing::error!("the store's writer thread panicked"),
                }
            }
        }
        .boxed()
    }
}
