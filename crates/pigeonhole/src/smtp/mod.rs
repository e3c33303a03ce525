//! The SMTP side: a pure session state machine ([`session`]) and the TCP/TLS
//! listener that feeds it ([`listener`]).
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
pub mod session;
mod slots;
pub mod tls;

pub use slots::raise_open_file_limit;

use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

use serde::Serialize;
use tokio::sync::watch;

use crate::events::{Event, EventSender, IntakeState};

/// Who sent a message and how: everything SMTP knew besides the bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Envelope {
    /// MAIL FROM address (empty for the null sender `<>`).
    pub mail_from: String,
    /// RCPT TO addresses, in order (Bcc recipients show up only here).
    pub rcpt_to: Vec<String>,
    /// The EHLO/HELO name the client gave.
    pub helo: String,
    /// The client's address, `ip:port`.
    pub peer: String,
    /// Whether the message came over STARTTLS.
    pub tls: bool,
    /// The SMTP AUTH user name, if the client authenticated.
    pub auth_user: Option<String>,
    /// The session's commands and replies up to this message (never the body,
    /// never a password), one `C: ` or `S: ` line each.
    pub transcript: String,
}

/// What the listener has done since it started (shown by `/api/v1/info`).
#[derive(Debug, Default)]
pub struct Counters {
    /// Messages stored (answered 250).
    pub accepted: AtomicU64,
    /// Their sizes, in bytes.
    pub accepted_bytes: AtomicU64,
    /// Messages the store refused (answered 451, 452 or 421).
    pub rejected: AtomicU64,
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

/// Mailpit's `ChaosTriggers`: which SMTP step fails, with which code, how often.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ChaosTriggers {
    /// Fails MAIL FROM.
    pub sender: ChaosTrigger,
    /// Fails RCPT TO.
    pub recipient: ChaosTrigger,
    /// Fails AUTH.
    pub authentication: ChaosTrigger,
}

/// One trigger: answer `ErrorCode` (400–599), with a `Probability` percent chance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ChaosTrigger {
    #[schema(minimum = 400, maximum = 599)]
    pub error_code: u16,
    #[schema(maximum = 100)]
    pub probability: u8,
}

impl ChaosTrigger {
    /// A trigger, checked as Mailpit checks it (and refused in its words).
    pub fn new(error_code: i64, probability: i64) -> Result<ChaosTrigger, &'static str> {
        if !(400..=599).contains(&error_code) {
            return Err("error code must be between 400 and 599");
        }
        if !(0..=100).contains(&probability) {
            return Err("probability must be between 0 and 100");
        }
        Ok(ChaosTrigger { error_code: error_code as u16, probability: probability as u8 })
    }

    /// Whether the trigger fires for `draw`, a random number in 0..100.
    pub fn fires(self, draw: u8) -> bool {
        draw < self.probability
    }
}

impl ChaosTriggers {
    /// Mailpit's `--chaos-triggers` syntax: `<trigger>:<code>:<probability>`, comma
    /// separated (`Sender:451:50,Recipient:451:50`); triggers not named stay off.
    pub fn parse(spec: &str) -> Result<ChaosTriggers, String> {
        let mut triggers = ChaosTriggers::default();
        for item in spec.split(',').map(str::trim).filter(|item| !item.is_empty()) {
            let fields: Vec<&str> = item.split(':').collect();
            let [name, code, probability] = fields[..] else {
                return Err(format!("{item:?} is not <trigger>:<error-code>:<probability>, e.g. Sender:451:50"));
            };
            let number =
                |text: &str| text.trim().parse::<i64>().map_err(|_| format!("{text:?} in {item:?} is not a number"));
            let trigger =
                ChaosTrigger::new(number(code)?, number(probability)?).map_err(|err| format!("{item}: {err}"))?;
            match name.trim().to_ascii_lowercase().as_str() {
                "sender" => triggers.sender = trigger,
                "recipient" | "recipients" => triggers.recipient = trigger,
                "auth" | "authentication" => triggers.authentication = trigger,
                _ => return Err(format!("unknown trigger {name:?}: use Sender, Recipient or Authentication")),
            }
        }
        Ok(triggers)
    }
}

impl Default for ChaosTriggers {
    /// Mailpit's defaults: every trigger off, with the codes it uses when none is given.
    fn default() -> Self {
        ChaosTriggers {
            sender: ChaosTrigger { error_code: 451, probability: 0 },
            recipient: ChaosTrigger { error_code: 451, probability: 0 },
            authentication: ChaosTrigger { error_code: 535, probability: 0 },
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chaos_triggers_in_mailpits_flag_syntax() {
        let triggers = ChaosTriggers::parse("Sender:452:50,recipients:550:100").unwrap();
        assert_eq!(triggers.sender, ChaosTrigger { error_code: 452, probability: 50 });
        assert_eq!(triggers.recipient, ChaosTrigger { error_code: 550, probability: 100 });
        assert_eq!(triggers.authentication, ChaosTriggers::default().authentication);
        assert!(ChaosTriggers::parse("Sender:451").unwrap_err().contains("<trigger>:<error-code>:<probability>"));
        assert!(ChaosTriggers::parse("Sender:200:5").unwrap_err().contains("error code must be between 400 and 599"));
        assert!(ChaosTriggers::parse("Sender:451:101").unwrap_err().contains("probability must be between 0 and 100"));
        assert!(ChaosTriggers::parse("Helo:451:5").unwrap_err().contains("use Sender, Recipient or Authentication"));
    }
}
