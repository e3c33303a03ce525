//! WAL checkpoints off the writer's path.
//!
//! In WAL mode every commit appends pages to the `-wal` file; a checkpoint copies
//! them back into the database and fsyncs it. SQLite's automatic checkpoint runs
//! inside the commit that crosses the threshold, so one SMTP client in a thousand
//! would wait for a copy and an fsync. Instead the writer nudges this thread after
//! its commits, and the thread checkpoints (PASSIVE: never blocking the writer or
//! readers) at most every [`CHECKPOINT_EVERY`]. The writer keeps SQLite's own
//! checkpoint only as a high-water safety net.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::thread;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

use super::OpenError;

/// Checkpoint at most this often while commits keep coming.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Handle to the checkpoint thread; dropping it stops the thread.
pub(super) struct Checkpointer {
    nudge: Option<SyncSender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Checkpointer {
    /// Start the thread, with its own connection to the (existing) database.
    pub fn start(path: &Path) -> Result<Checkpointer, OpenError> {
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                .and_then(|conn| conn.busy_timeout(Duration::from_secs(5)).map(|()| conn))
                .map_err(|e| OpenError::Database { path: path.to_owned(), detail: e.to_string() })?;
        let (nudge, nudged) = mpsc::sync_channel(1);
        let thread = thread::Builder::new()
            .name("pigeonhole-checkpoint".into())
            .spawn(move || run(conn, nudged))
            .map_err(OpenError::Thread)?;
        Ok(Checkpointer { nudge: Some(nudge), thread: Some(thread) })
    }

    /// Commits happened. Never blocks; nudges coalesce.
    pub fn nudge(&self) {
        if let Some(nudge) = &self.nudge {
            let _ = nudge.try_send(());
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.nudge.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(conn: Connection, nudged: mpsc::Receiver<()>) {
    let mut last = Instant::now();
    while nudged.recv().is_ok() {
        // Let commits gather until the next checkpoint is due.
        loop {
            let due = CHECKPOINT_EVERY.saturating_sub(last.elapsed());
            match nudged.recv_timeout(due) {
                Ok(()) if !due.is_zero() => continue,
                Ok(()) | Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
        if let Err(error) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            // The writer's safety net still checkpoints; say why this one could not.
            tracing::debug!(%error, "background checkpoint failed");
        }
        last = Instant::now();
    }
}
