//! Pigeonhole's engine: catch the mail an application sends, keep it, show it.
//!
//! The engine is everything that matters and nothing that needs a display. It runs
//! headless as `pigeonhole serve` and in-process inside the desktop app. The one
//! entry point is [`Engine::start`].
//!
//! Data flows in one direction:
//!
//! ```text
//! SMTP client ─TCP─> smtp::listener ─bytes─> smtp::Session (pure state machine)
//!        complete message + envelope + transcript │
//!                                                 v
//!                 store::Store::submit ─> mail::summarize ─> store writer thread
//!                        committed ─> "250 2.0.0 Ok: queued as <id>"
//!                                                 │
//!                                   events (broadcast) ─> WebSocket
//! API/UI ─HTTP─> api ─> store readers (WAL, read-only) ─> mail views
//! ```
//!
//! * [`smtp`]: the SMTP session state machine and the listener around it.
//! * [`store`]: SQLite schema, the single writer, readers, search, retention.
//! * [`mail`]: MIME parsing into summaries and the views the API serves.
//! * [`api`]: the HTTP + WebSocket API (Mailpit v1 shapes).
//! * [`archive`]: messages written out as files (.eml, a folder, .zip, mbox).
//! * [`events`]: what changed, broadcast to WebSocket clients.
//! * `fuzzing` (tests and the `fuzzing` feature only): the fuzz targets' logic.

pub mod api;
pub mod archive;
pub mod config;
pub mod engine;
pub mod events;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod mail;
pub mod smtp;
pub mod store;

pub use config::Config;
pub use engine::{Engine, StartError};
