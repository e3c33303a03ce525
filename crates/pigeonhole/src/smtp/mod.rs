//! The SMTP side: a pure session state machine ([`session`]), the TCP/TLS
//! listener that feeds it ([`listener`]), and the client that sends a captured
//! message on through the user's relay ([`relay`]).
//!
//! The session never touches a socket: bytes go in, replies and [`session::Action`]s
//! come out. That keeps the protocol testable to the byte (including "the same input
//! split anywhere gives the same replies") and leaves all I/O, timeouts and limits on
//! connections to the listener, which follows tokio's mini-redis shape: one accept
//! loop, one task per connection, a semaphore for the connection cap, and an explicit
//! shutdown signal. [`Intake`] lets the user pause the listener (the desktop tray,
//! `PUT /api/v1/intake`) without stopping it. [`Chaos`] holds Mailpit's chaos
//! triggers (`serve --enable-chaos`, `/api/v1/chaos`): SMTP errors the session
//! answers at random, to test how an application copes with a failing server.

pub mod listener;
pub mod relay;
pub mod session;
mod slots;

use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use tokio::sync::watch;

use crate::metrics::RejectionCounts;
use crate::model::{ChaosTriggers, Event, EventSender, IntakeState};

/// What the listener has done since it started (shown by `/api/v1/info` and
/// `/metrics`). Atomics only: each session and message costs a few relaxed adds.
#[derive(Debug, Default)]
pub struct DeliveryCounters {
    /// Messages stored (answered 250).
    pub accepted: AtomicU64,
    /// Their sizes, in bytes.
    pub accepted_bytes: AtomicU64,
    /// Messages the store refused (answered 451, 452 or 421).
    pub rejected: AtomicU64,
    /// Sessions started (connections past the cap and the intake switch).
    pub sessions: AtomicU64,
    /// Sessions running now.
    pub sessions_open: AtomicU64,
    /// Every refusal the listener and its sessions answered, by reason.
    pub rejections: RejectionCounts,
}

/// Whether SMTP takes mail. While paused, new connections get `421` at once and
/// sessions waiting for a command get `421` and are closed (a message already in
/// its DATA is finished first, so nothing acknowledged is lost); clients retry
/// later, as they do for any 421. A watch channel, so waiting sessions wake at once.
/// A change is announced as [`Event::Intake`] to every event subscriber.
#[derive(Debug)]
pub struct Intake {
    paused: watch::Sender<bool>,
    events: EventSender,
}

impl Intake {
    /// Taking mail, until paused.
    pub fn new(events: EventSender) -> Intake {
        Intake { paused: watch::Sender::new(false), events }
    }

    /// Pause or resume; true when that changed anything.
    pub fn set_paused(&self, paused: bool) -> bool {
        let changed = self.paused.send_if_modified(|now| std::mem::replace(now, paused) != paused);
        if changed {
            tracing::info!("smtp intake {}", if paused { "paused" } else { "resumed" });
            let _ = self.events.send(Event::Intake(IntakeState { paused }));
        }
        changed
    }

    pub fn is_paused(&self) -> bool {
        *self.paused.borrow()
    }

    /// For a session: wakes when the state changes.
    pub(crate) fn watch(&self) -> watch::Receiver<bool> {
        self.paused.subscribe()
    }
}

/// The chaos triggers shared by the API (which sets them) and the listener (which
/// hands them to each session). Off unless the engine was started with chaos
/// enabled; then they can be changed at run time, never turned on.
#[derive(Debug, Default)]
pub struct Chaos {
    enabled: bool,
    triggers: Mutex<ChaosTriggers>,
}

impl Chaos {
    /// Chaos off (`None`), or on with these triggers to start with.
    pub fn new(triggers: Option<ChaosTriggers>) -> Chaos {
        Chaos { enabled: triggers.is_some(), triggers: Mutex::new(triggers.unwrap_or_default()) }
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// The current triggers; all off when chaos is not enabled.
    pub fn triggers(&self) -> ChaosTriggers {
        if !self.enabled {
            return ChaosTriggers::default();
        }
        *self.triggers.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Replace the triggers (ignored when chaos is not enabled: the API refuses first).
    pub fn set(&self, triggers: ChaosTriggers) {
        if self.enabled {
            tracing::info!("smtp chaos triggers: {triggers:?}");
            *self.triggers.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = triggers;
        }
    }
}
