//! The PostgreSQL backend: several nodes (`pigeonhole serve --store postgres://…`)
//! share one database.
//!
//! The sync `postgres` client runs only on threads this backend owns (it blocks
//! on its own runtime, which panics inside tokio's): one writer thread
//! ([`writer`]: group commits, totals, retention, the NOTIFY of each commit), a
//! fixed pool of reader threads ([`read`]: a sync read sends a closure and waits
//! for its answer) and one listener thread ([`events`]: other nodes' commits as
//! local events). Each holds its own connection ([`connection`]: 2 s to connect,
//! 5 s per statement, keepalives, prepared statements cached, made again with
//! back-off when lost). The schema and its migrations are in [`schema`]; search is
//! `store::search` in its PostgreSQL dialect.

mod connection;
mod events;
mod read;
mod schema;
mod writer;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use super::backend::{Backend, Insert};
use super::mailbox::MailboxSnapshot;
use super::query::{AddressSearch, Position, SearchQuery};
use super::queue::Queue;
use super::search::{Condition, Dialect};
use super::writer::PublishedTotals;
use super::{OpenError, StoreError, SubmitError};
use crate::config::StoreConfig;
use crate::model::{Envelope, EventSender, InboxInfo, MessageId, MessagePage, MessageSummary, Stats};
use connection::{Link, Session};

/// Reader threads (each with a connection).
const READERS: usize = 4;

const DIALECT: Dialect = Dialect::Postgres;

/// The schema version a migrated database records.
#[cfg(test)]
pub(super) fn schema_version() -> usize {
    schema::latest_version()
}

pub(super) struct Postgres {
    /// The URL without its password, as `/api/v1/info` shows the database.
    name: PathBuf,
    data_dir: PathBuf,
    queue: Queue,
    writer: Mutex<Option<thread::JoinHandle<()>>>,
    readers: read::Readers,
    counts: Arc<PublishedTotals>,
    /// Whether the writer's connection works.
    up: Arc<AtomicBool>,
    stop_listening: Arc<AtomicBool>,
}

impl Postgres {
    /// Connect to `url`, bring its schema up to date and start the threads.
    /// `data_dir` still holds what is not mail (screenshots' cache …).
    pub(super) fn open(
        url: &str,
        data_dir: &Path,
        config: &StoreConfig,
        events: EventSender,
    ) -> Result<Postgres, OpenError> {
        let settings = connection::settings(url)
            .map_err(|e| OpenError::Postgres { url: "the --store URL".into(), detail: e.to_string() })?;
        let name = connection::display_name(&settings);
        let failed = |detail: String| OpenError::Postgres { url: name.clone(), detail };
        let node: Arc<str> = uuid::Uuid::new_v4().simple().to_string().into();
        let mut session = Session::open(&settings).map_err(|e| failed(e.to_string()))?;
        schema::migrate(&mut session.client, &node).map_err(|e| failed(e.to_string()))?;
        // Listening before the totals are read: a change after them is heard.
        let listening = events::listen(&settings).map_err(|e| failed(e.to_string()))?;
        let counts = Arc::new(PublishedTotals::default());
        let totals = writer::totals(&mut session.client, &mut session.statements).map_err(|e| failed(e.to_string()))?;
        counts.publish(totals);
        let (queue, commands) = Queue::new(config.queue_capacity, DIALECT);
        let up = Arc::new(AtomicBool::new(true));
        let writer = writer::Writer::new(
            Link::with_session(settings.clone(), session),
            commands,
            events.clone(),
            config,
            counts.clone(),
            node.clone(),
            up.clone(),
        );
        let handle = thread::Builder::new()
            .name("pigeonhole-pg-writer".into())
            .spawn(move || writer.run())
            .map_err(OpenError::Thread)?;
        let stop_listening = Arc::new(AtomicBool::new(false));
        events::start(settings.clone(), listening, node, events, counts.clone(), stop_listening.clone())
            .map_err(OpenError::Thread)?;
        Ok(Postgres {
            name: PathBuf::from(name),
            data_dir: data_dir.to_owned(),
            queue,
            writer: Mutex::new(Some(handle)),
            readers: read::Readers::start(&settings, READERS).map_err(OpenError::Thread)?,
            counts,
            up,
            stop_listening,
        })
    }

    /// A page of the messages matching `filter`; kept `within` some inboxes, the
    /// page's totals and tags are those of these inboxes alone.
    fn page_matching(
        &self,
        filter: Condition,
        within: Option<&[String]>,
        start: u64,
        limit: u64,
    ) -> Result<MessagePage, StoreError> {
        let stats = self.counts.stats();
        let visible = within.map(Condition::inboxes);
        let page =
            self.readers.with(move |session| read::page(session, &filter, visible.as_ref(), start, limit, true))?;
        let (total, unread) = page.totals.unwrap_or((stats.total, stats.unread));
        let matching = page.counts.unwrap_or((total, unread));
        Ok(MessagePage::new(&Stats::new(total, unread), matching, start, page.messages, page.tags))
    }

    fn first(&self, filter: Condition, newest: bool) -> Result<Option<MessageSummary>, StoreError> {
        self.readers.with(move |session| read::first_summary(session, &filter, newest))
    }
}

impl Drop for Postgres {
    /// The listener stops with the store (the writer and readers end when their
    /// queues close).
    fn drop(&mut self) {
        self.stop_listening.store(true, Ordering::Relaxed);
    }
}

impl Backend for Postgres {
    fn queue(&self) -> &Queue {
        &self.queue
    }

    fn admit(&self) -> Result<Insert, SubmitError> {
        if !self.up.load(Ordering::Relaxed) {
            return Err(SubmitError::Failed(format!(
                "the PostgreSQL database {} is unreachable; mail is taken again once it is back",
                self.name.display()
            )));
        }
        self.queue.admit()
    }

    fn list(&self, start: u64, limit: u64) -> Result<MessagePage, StoreError> {
        let stats = self.counts.stats();
        let page = self
            .readers
            .with(move |session| read::page(session, &Condition::everything(), None, start, limit, false))?;
        Ok(MessagePage::new(&stats, (stats.total, stats.unread), start, page.messages, page.tags))
    }

    fn search(&self, query: &SearchQuery, start: u64, limit: u64) -> Result<MessagePage, StoreError> {
        self.page_matching(
            Condition::search_in(&query.text, &query.zone, DIALECT),
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
        self.page_matching(Condition::addresses(kind, value, DIALECT), within, start, limit)
    }

    fn latest_id(&self, query: &SearchQuery) -> Result<Option<MessageId>, StoreError> {
        Ok(self.first(Condition::matching(query, DIALECT), true)?.map(|summary| summary.id))
    }

    fn position_now(&self) -> Result<Position, StoreError> {
        Ok(Position::Stored(self.readers.with(read::last_seq)?))
    }

    fn position_of(&self, id: &MessageId) -> Result<Option<Position>, StoreError> {
        let id = id.as_str().to_owned();
        Ok(self.readers.with(move |session| read::seq_of(session, &id))?.map(Position::Stored))
    }

    fn first_matching_after(
        &self,
        query: &SearchQuery,
        position: Position,
    ) -> Result<Option<MessageSummary>, StoreError> {
        self.first(Condition::after(position).and(Condition::matching(query, DIALECT)), false)
    }

    fn summary_if_matching(&self, id: &MessageId, query: &SearchQuery) -> Result<Option<MessageSummary>, StoreError> {
        self.first(Condition::ids(std::slice::from_ref(id), DIALECT).and(Condition::matching(query, DIALECT)), false)
    }

    fn summary(&self, id: &MessageId) -> Result<Option<MessageSummary>, StoreError> {
        self.first(Condition::ids(std::slice::from_ref(id), DIALECT), false)
    }

    fn raw(&self, id: &MessageId) -> Result<Option<Vec<u8>>, StoreError> {
        let id = id.as_str().to_owned();
        self.readers.with(move |session| read::raw(session, &id))
    }

    fn envelope(&self, id: &MessageId) -> Result<Option<Envelope>, StoreError> {
        let id = id.as_str().to_owned();
        self.readers.with(move |session| read::envelope(session, &id))
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
        let inbox = inbox.to_owned();
        self.readers.with(move |session| read::mailbox(session, &inbox))
    }

    fn tags(&self, within: Option<&[String]>) -> Result<Vec<String>, StoreError> {
        let visible = within.map(Condition::inboxes);
        self.readers.with(move |session| {
            let Session { client, statements } = session;
            match &visible {
                None => read::all_tags(client, statements),
                Some(visible) => read::tags_on(client, statements, visible),
            }
        })
    }

    fn tag_counts(&self, within: Option<&[String]>) -> Result<BTreeMap<String, u64>, StoreError> {
        let visible = within.map_or_else(Condition::everything, Condition::inboxes);
        self.readers.with(move |session| read::tag_counts(session, &visible))
    }

    fn ready(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// PostgreSQL's disk is the server's; a write it refuses for want of space
    /// fails like any other (451).
    fn disk_full(&self) -> bool {
        false
    }

    fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    fn database_path(&self) -> &Path {
        &self.name
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        async move {
            self.queue.shutdown().await;
            let handle = self.writer.lock().unwrap_or_else(PoisonError::into_inner).take();
            if let Some(handle) = handle {
                match tokio::task::spawn_blocking(move || handle.join()).await {
                    Ok(Ok(())) => {}
                    _ => tracing::error!("the store's PostgreSQL writer thread panicked"),
                }
            }
            self.stop_listening.store(true, Ordering::Relaxed);
        }
        .boxed()
    }
}
