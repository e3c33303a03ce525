//! The seam between the store's facade ([`super::Store`]) and the database behind
//! it: everything the SMTP listener, the API and the archive ask of storage, as one
//! trait, implemented by SQLite ([`super::sqlite::Sqlite`]) and PostgreSQL
//! ([`super::postgres::Postgres`]); a backend is handed to
//! [`super::Store::with_backend`], and nothing above the store changes.
//!
//! What stays in the facade, the same for every backend: the byte budget of
//! messages on their way in, parsing and compressing a message before it is
//! stored ([`super::ingest`]), the cleaning of tag names, and turning a
//! [`Selection`] into what to change.
//!
//! Reads are synchronous (the API runs them on the blocking pool); writes are
//! futures that finish once the change is committed, so "250" and an API answer
//! both mean "on disk".

use std::collections::BTreeMap;
use std::path::Path;

use futures_util::future::BoxFuture;

use super::ingest::PreparedMessage;
use super::mailbox::MailboxSnapshot;
use super::query::{AddressSearch, Position, SearchQuery};
use super::queue::Queue;
use super::{StoreError, SubmitError};
use crate::model::{Envelope, InboxInfo, MessageId, MessagePage, MessageSummary, Stats};

/// Stores messages the facade admitted and prepared, all of them or none (one
/// transaction); answers their IDs after the commit.
pub(crate) type Insert =
    Box<dyn FnOnce(Vec<PreparedMessage>) -> BoxFuture<'static, Result<Vec<MessageId>, SubmitError>> + Send>;

/// A place messages are kept: what [`super::Store`] needs of a database.
pub(crate) trait Backend: Send + Sync {
    /// Room for one more insert (of one message or several), claimed before the message is prepared so
    /// that overload is refused cheaply: [`SubmitError::Busy`] when the write
    /// queue is full, [`SubmitError::Closed`] after [`Backend::close`].
    fn admit(&self) -> Result<Insert, SubmitError>;

    /// Newest first, with Mailpit's page counts.
    fn list(&self, start: u64, limit: u64) -> Result<MessagePage, StoreError>;
    /// Newest first among the messages matching a Mailpit search query.
    fn search(&self, query: &SearchQuery, start: u64, limit: u64) -> Result<MessagePage, StoreError>;
    /// Newest first among the messages with `value` in their senders or recipients.
    fn search_addresses(
        &self,
        kind: AddressSearch,
        value: &str,
        within: Option<&[String]>,
        start: u64,
        limit: u64,
    ) -> Result<MessagePage, StoreError>;
    /// ID of the newest message matching `query`.
    fn latest_id(&self, query: &SearchQuery) -> Result<Option<MessageId>, StoreError>;
    /// Where the store is now: every message stored so far lies before it.
    fn position_now(&self) -> Result<Position, StoreError>;
    /// Just after message `id` in storage order; `None` when it is not stored.
    fn position_of(&self, id: &MessageId) -> Result<Option<Position>, StoreError>;
    /// The oldest message stored after `position` that matches `query`.
    fn first_matching_after(
        &self,
        query: &SearchQuery,
        position: Position,
    ) -> Result<Option<MessageSummary>, StoreError>;
    /// Message `id`'s summary if it is stored and matches `query`.
    fn summary_if_matching(&self, id: &MessageId, query: &SearchQuery) -> Result<Option<MessageSummary>, StoreError>;
    fn summary(&self, id: &MessageId) -> Result<Option<MessageSummary>, StoreError>;
    /// The exact bytes received.
    fn raw(&self, id: &MessageId) -> Result<Option<Vec<u8>>, StoreError>;
    fn envelope(&self, id: &MessageId) -> Result<Option<Envelope>, StoreError>;
    /// Totals as of the last commit.
    fn stats(&self) -> Stats;
    /// Messages deleted since the store opened.
    fn messages_deleted(&self) -> u64;
    /// Every inbox with its counts, by name.
    fn inboxes(&self) -> Result<Vec<InboxInfo>, StoreError>;
    /// Inbox `inbox` as IMAP sees it; `None` when no message ever went to it.
    fn mailbox(&self, inbox: &str) -> Result<Option<MailboxSnapshot>, StoreError>;
    /// Every tag in use (on messages in these inboxes, when given), in listing order.
    fn tags(&self, within: Option<&[String]>) -> Result<Vec<String>, StoreError>;
    /// Every tag in use (on messages in these inboxes, when given) with the number
    /// of those messages that have it.
    fn tag_counts(&self, within: Option<&[String]>) -> Result<BTreeMap<String, u64>, StoreError>;

    /// The queue of this backend's writer: the API's changes (read flags,
    /// deletes, tags, moves, effects, tag renames) are put on it as commands,
    /// answered after their commit, the same way for every backend.
    fn queue(&self) -> &Queue;

    /// Whether the database takes writes now (`/readyz`): false while a database
    /// server is unreachable. A local file always does.
    fn ready(&self) -> bool {
        true
    }

    /// Whether the disk holding the data is full (no space was freed since a
    /// write failed for want of it).
    fn disk_full(&self) -> bool;
    /// The folder the data lives in.
    fn data_dir(&self) -> &Path;
    /// The database's file (what `/api/v1/info` shows as the database).
    fn database_path(&self) -> &Path;
    /// Finish queued writes and stop writing; reads keep working.
    fn close(&self) -> BoxFuture<'_, ()>;
}
