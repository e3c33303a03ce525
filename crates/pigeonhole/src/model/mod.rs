//! The engine's shared vocabulary: the types every layer passes to the next and the
//! API sends out, at the bottom of the crate so that nothing here imports upwards.
//!
//! Each type carries its wire form in one place: serde for the JSON (Mailpit's key
//! names and order), utoipa for the OpenAPI document, and ts-rs (test builds only)
//! for the UI's generated TypeScript (`ui/src/api/types.ts`).
//!
//! * [`access`]: which inboxes a user or API token may see.
//! * [`envelope`]: a message as handed over by SMTP, the send API, a provider API or
//!   an import, with what delivery simulation did with it.
//! * [`message`]: summaries, pages, inboxes, addresses — what lists show.
//! * [`message_id`]: the public ID of a stored message, made and checked.
//! * [`event`]: what changed in the store, broadcast after each commit.
//! * [`chaos`]: Mailpit's SMTP chaos triggers as values.
//! * [`check`]: a message's check report (`/checks`, `pigeonhole check`).
//!
//! Layers, bottom up: `model` and `config` → `mail` → `checks`, `store` → `smtp`, `archive`
//! → `api` → `engine` → the CLI and the desktop app.

pub mod access;
pub mod chaos;
pub mod check;
pub mod envelope;
pub mod event;
pub mod message;
pub mod message_id;

pub use access::Access;
pub use chaos::{ChaosTrigger, ChaosTriggers};
pub use check::{Category, Check, CheckReport, CheckSummary, Location, Severity};
pub use envelope::{ApiRequest, Envelope, NewMessage, SimulationOutcome};
pub use event::{
    Burst, Deleted, DiskState, EffectsRecorded, Event, EventSender, IntakeState, ReadChanged, Stats, TagsChanged,
};
pub use message::{Address, DEFAULT_INBOX, InboxInfo, MessagePage, MessageSummary};
pub use message_id::MessageId;
