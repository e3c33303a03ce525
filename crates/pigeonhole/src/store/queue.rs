//! The queue in front of a writer thread, the same for every backend that has
//! one (SQLite's [`super::writer`], PostgreSQL's): a new message claims its slot
//! before it is prepared and is refused at once when the queue is full; the
//! API's changes wait for room (they are few and a person is waiting). Every
//! answer comes after the change's commit.

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};

use super::backend::Insert;
use super::mailbox::Moved;
use super::query::Selection;
use super::search::{Condition, Dialect};
use super::writer::{Command, DeleteTarget};
use super::{StoreError, SubmitError};
use crate::model::MessageId;

pub(crate) struct Queue {
    commands: mpsc::Sender<Command>,
    /// The SQL the writer runs selections in.
    dialect: Dialect,
}

impl Queue {
    /// A queue of `capacity` commands (at least one) and the writer's end of it.
    pub(super) fn new(capacity: usize, dialect: Dialect) -> (Queue, mpsc::Receiver<Command>) {
        let (commands, queue) = mpsc::channel(capacity.max(1));
        (Queue { commands, dialect }, queue)
    }

    /// Room for one more insert, or [`SubmitError::Busy`] at once.
    pub fn admit(&self) -> Result<Insert, SubmitError> {
        let slot = self.commands.clone().try_reserve_owned().map_err(|e| match e {
            TrySendError::Full(_) => SubmitError::Busy,
            TrySendError::Closed(_) => SubmitError::Closed,
        })?;
        Ok(Box::new(move |prepared| {
            let (done, answer) = oneshot::channel();
            slot.send(Command::Insert { messages: prepared, done });
            async move { answer.await.map_err(|_| SubmitError::Closed)? }.boxed()
        }))
    }

    /// Commands waiting.
    pub fn queued(&self) -> usize {
        self.commands.max_capacity() - self.commands.capacity()
    }

    /// Room left.
    #[cfg(test)]
    pub fn free_slots(&self) -> usize {
        self.commands.capacity()
    }

    pub fn set_read(&self, selection: Selection, read: bool) -> BoxFuture<'_, Result<(), StoreError>> {
        let target = Condition::selected(selection, self.dialect);
        self.request(|done| Command::SetRead { target, read, done })
    }

    pub fn delete(&self, selection: Selection) -> BoxFuture<'_, Result<(), StoreError>> {
        let target = match selection {
            Selection::All => DeleteTarget::All,
            other => DeleteTarget::Matching(Condition::selected(other, self.dialect)),
        };
        self.request(|done| Command::Delete { target, done })
    }

    pub fn set_tags(&self, ids: Vec<MessageId>, tags: Vec<String>) -> BoxFuture<'_, Result<(), StoreError>> {
        self.request(|done| Command::SetTags { ids, tags, done })
    }

    pub fn move_to(&self, ids: Vec<MessageId>, inbox: String) -> BoxFuture<'_, Result<Vec<Moved>, StoreError>> {
        self.request(|done| Command::Move { ids, inbox, done })
    }

    pub fn record_effects(&self, id: MessageId, lines: Vec<String>) -> BoxFuture<'_, Result<(), StoreError>> {
        self.request(|done| Command::RecordEffects { id, lines, done })
    }

    pub fn rename_tag(&self, from: String, to: String) -> BoxFuture<'_, Result<bool, StoreError>> {
        self.request(|found| Command::RenameTag { from, to, found })
    }

    pub fn delete_tag(&self, name: String) -> BoxFuture<'_, Result<bool, StoreError>> {
        self.request(|found| Command::DeleteTag { name, found })
    }

    /// Queued behind everything already submitted, so all of that is written
    /// before the writer stops.
    pub async fn shutdown(&self) {
        let _ = self.commands.send(Command::Shutdown).await;
    }

    /// Queue a change, waiting for room, and wait for its commit.
    fn request<T: Send + 'static>(
        &self,
        command: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Command,
    ) -> BoxFuture<'_, Result<T, StoreError>> {
        let (done, answer) = oneshot::channel();
        let command = command(done);
        async move {
            self.commands.send(command).await.map_err(|_| StoreError::Closed)?;
            answer.await.map_err(|_| StoreError::Closed)?
        }
        .boxed()
    }
}
