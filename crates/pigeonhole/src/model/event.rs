//! What changed in the store, broadcast to everyone watching: the `/api/events`
//! WebSocket, `/api/v1/wait`, and the desktop app's tray and notifications.
//!
//! The writer thread publishes an [`Event`] after each commit. Publishing never
//! blocks: a slow subscriber misses events (tokio's broadcast channel reports the
//! gap) rather than holding up ingest. Frames follow Mailpit's event stream:
//! `{"Type": "new", "Data": {...}}`.

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use super::{MessageId, MessageSummary};

/// Events kept for a subscriber that has not read yet; older ones are dropped.
pub const EVENT_BACKLOG: usize = 1024;

/// One change, as sent over `/api/events`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(tag = "Type", content = "Data")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub enum Event {
    /// A message was stored.
    #[serde(rename = "new")]
    New(Box<MessageSummary>),
    /// Totals after a change.
    #[serde(rename = "stats")]
    Stats(Stats),
    /// A message's read status changed.
    #[serde(rename = "update")]
    Update(ReadChanged),
    /// A message's tags were set (Mailpit sends these as `update` too).
    #[serde(rename = "update")]
    Tagged(TagsChanged),
    /// A message was deleted.
    #[serde(rename = "delete")]
    Delete(Deleted),
    /// Every message was deleted.
    #[serde(rename = "truncate")]
    Truncate(()),
    /// Many messages went at once (retention); clients should reload.
    #[serde(rename = "prune")]
    Prune(()),
    /// Ours: SMTP intake was paused or resumed (the SMTP listener's intake switch).
    #[serde(rename = "intake")]
    Intake(IntakeState),
    /// Ours, only on `/api/events`: more messages arrived than the stream
    /// announces one by one (a flood); instead of their `new` frames, this, after
    /// a `stats` with the totals: clients should reload. Never broadcast by the
    /// store; Mailpit's clients ignore a type they do not know.
    #[serde(rename = "burst")]
    Burst(Burst),
    /// Ours: the disk holding the data folder filled up (SMTP answers
    /// `452 4.3.1`), or has room again.
    #[serde(rename = "disk")]
    Disk(DiskState),
    /// Ours: what a delivery simulation did after a message was stored (a DSN
    /// sent back, an auto-reply, a forward …) was added to its envelope, which a
    /// client showing it should read again.
    #[serde(rename = "effects")]
    Effects(EffectsRecorded),
}

/// New messages not announced one by one (the `burst` event).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Burst {
    /// How many `new` frames this stands for.
    #[serde(rename = "Count")]
    pub count: u64,
}

/// Whether the data folder's disk is full (the `disk` event; `GET /api/v1/storage` says it too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct DiskState {
    /// A write failed for want of space, and there is no room yet.
    #[serde(rename = "Full")]
    pub full: bool,
}

/// Whether SMTP takes mail (`GET`/`PUT /api/v1/intake`, the `intake` event).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct IntakeState {
    #[serde(rename = "Paused")]
    pub paused: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Stats {
    pub total: u64,
    pub unread: u64,
    pub version: &'static str,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ReadChanged {
    #[serde(rename = "ID")]
    #[schema(value_type = String)]
    #[cfg_attr(test, ts(type = "string"))]
    pub id: MessageId,
    #[serde(rename = "Read")]
    pub read: bool,
    /// The message's inbox: not on the wire, for the streams that show only some
    /// inboxes ([`crate::model::Access`]).
    #[serde(skip)]
    pub inbox: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct TagsChanged {
    #[serde(rename = "ID")]
    #[schema(value_type = String)]
    #[cfg_attr(test, ts(type = "string"))]
    pub id: MessageId,
    /// The message's tags now (all of them).
    #[serde(rename = "Tags")]
    pub tags: Vec<String>,
    /// The message's inbox: not on the wire, for the streams that show only some
    /// inboxes ([`crate::model::Access`]).
    #[serde(skip)]
    pub inbox: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct EffectsRecorded {
    #[serde(rename = "ID")]
    #[schema(value_type = String)]
    #[cfg_attr(test, ts(type = "string"))]
    pub id: MessageId,
    /// The message's inbox: not on the wire, for the streams that show only some
    /// inboxes ([`crate::model::Access`]).
    #[serde(skip)]
    pub inbox: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Deleted {
    #[serde(rename = "ID")]
    #[schema(value_type = String)]
    #[cfg_attr(test, ts(type = "string"))]
    pub id: MessageId,
    /// The message's inbox: not on the wire, for the streams that show only some
    /// inboxes ([`crate::model::Access`]).
    #[serde(skip)]
    pub inbox: String,
}

pub type EventSender = broadcast::Sender<Event>;

/// A new channel for the engine's events.
pub fn channel() -> EventSender {
    broadcast::channel(EVENT_BACKLOG).0
}

impl Event {
    /// The inbox of the message this event is about; `None` for an event about
    /// the store as a whole (totals, truncate, prune, intake, disk).
    pub fn inbox(&self) -> Option<&str> {
        match self {
            Event::New(summary) => Some(&summary.inbox),
            Event::Update(ReadChanged { inbox, .. })
            | Event::Tagged(TagsChanged { inbox, .. })
            | Event::Delete(Deleted { inbox, .. })
            | Event::Effects(EffectsRecorded { inbox, .. }) => Some(inbox),
            Event::Stats(_)
            | Event::Truncate(())
            | Event::Prune(())
            | Event::Intake(_)
            | Event::Burst(_)
            | Event::Disk(_) => None,
        }
    }
}

impl Stats {
    pub fn new(total: u64, unread: u64) -> Stats {
        Stats { total, unread, version: env!("CARGO_PKG_VERSION") }
    }
}
