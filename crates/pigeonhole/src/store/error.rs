//! The store's errors, each mapped to what its caller answers: an SMTP reply
//! ([`SubmitError`]), a start-up message ([`OpenError`]), an HTTP status
//! ([`StoreError`]).

use std::io;
use std::path::PathBuf;

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
    #[error(
        "cannot use the PostgreSQL database {url}: {detail}; check that it runs, that the URL is right and that its \
         user may create tables and the pg_trgm and citext extensions"
    )]
    Postgres { url: String, detail: String },
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

impl From<postgres::Error> for StoreError {
    fn from(error: postgres::Error) -> Self {
        StoreError::Database(error.to_string())
    }
}
