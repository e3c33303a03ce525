//! Shared end-to-end harness: runs the real `pigeonhole` binary on free ports with a
//! temp data folder, talks to it over its HTTP API, and speaks raw SMTP to it.
//!
//! server.rs: the process (starting, HTTP requests, signals, running to exit, the
//! client tools); message_bytes.rs: building and comparing message bytes; smtp.rs: the
//! hand-driven SMTP client; postgres.rs: a throwaway PostgreSQL server for the
//! PostgreSQL store. All are re-exported here.
//!
//! Every test file does `mod common;` and uses only some of this (not every part it
//! re-exports), hence the allow.
#![allow(dead_code, unused_imports)]

mod message_bytes;
mod postgres;
mod server;
mod smtp;

use std::time::Duration;

pub use message_bytes::*;
pub use postgres::*;
pub use server::*;
pub use smtp::*;

/// Long enough for a debug build on a busy 2-core CI machine, short enough that a hung
/// server fails the test instead of the whole CI run.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
pub const IO_TIMEOUT: Duration = Duration::from_secs(60);

pub const BIN: &str = env!("CARGO_BIN_EXE_pigeonhole");
