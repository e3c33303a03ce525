//! Pigeonhole's engine: catch the mail an application sends, keep it, show it.
//!
//! The engine is everything that matters and nothing that needs a display. It runs
//! headless as `pigeonhole serve` and in-process inside the desktop app. What a
//! front end uses:
//!
//! * [`Config`] (every limit, with one default each) and [`Engine::start`], which
//!   wires the rest from it; [`Engine::shutdown`] stops it in order.
//! * [`Engine::store`]: the [`Store`] facade, to read messages and change them
//!   ([`Selection`]) the way the API does.
//! * [`Engine::events`]: what changed ([`model::Event`]), for trays and notifications.
//! * [`archive`]: mail files in and out (`.eml`, a folder, `.zip`, mbox).
//! * [`checks`]: what is wrong with a message, as one report ([`checks::report`]).
//! * [`diff`]: what changed between two messages, part by part ([`diff::compare`]).
//! * [`simulation`]: delivery simulation's report messages (DSN, ARF, auto-reply)
//!   and the effects carried out after a message is accepted.
//! * [`model`]: the types all of the above speak.
//! * [`mcp`]: the MCP server for coding agents; [`mcp::serve_stdio`] is
//!   `pigeonhole mcp` (the engine serves the same server at `/mcp`).
//!
//! Data flows in one direction, each layer importing only from those below it
//! (`model`, `config`, `metrics` → `mail` → `checks` → `diff`, `store` → `login`, `tls`
//! → `smtp`, `pop3`, `imap`, `archive`, `screenshot` → `api` → `mcp` → `engine`):
//!
//! ```text
//! SMTP client ─TCP─> smtp::listener ─bytes─> smtp::session (pure state machine)
//!        complete message + envelope + transcript │
//!                                                 v
//!     store::Store::submit ─> store::ingest (mail::parse, zstd) ─> Backend (SQLite writer)
//!                        committed ─> "250 2.0.0 Ok: queued as <id>"
//!                                                 │
//!                             model::Event (broadcast) ─> WebSocket, wait, tray
//! API/UI ─HTTP─> api ─> Store reads ─> mail (views, links, checks, rendering)
//! ```

mod api;
pub mod archive;
pub mod checks;
pub mod config;
pub mod diff;
mod engine;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
mod imap;
mod login;
pub mod mail;
pub mod mcp;
mod metrics;
pub mod model;
mod pop3;
mod providers;
mod screenshot;
pub mod simulation;
mod smtp;
pub mod store;
mod tls;

/// The wait API's duration syntax (`30s`, `2m`), for clients that size their own timeouts.
pub use api::parse_wait_timeout;
pub use config::Config;
pub use engine::{Engine, StartError};
pub use login::{bearer_headers, new_token};
pub use store::{Selection, Store};
