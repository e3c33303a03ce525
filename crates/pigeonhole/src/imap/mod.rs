//! The IMAP server (`--imap`): every Pigeonhole inbox is a mailbox (`INBOX` is
//! the default inbox), so a mail client can read what the engine caught.
//!
//! * [`session`]: one connection's protocol, sans I/O, over imap-next's framing
//!   and imap-codec's types: login, the mailbox and message commands, IDLE.
//! * [`selected`]: the selected mailbox as the client was told it (sequence
//!   numbers, UIDs, session flags) and the untagged updates that follow changes.
//! * [`fetch`]: ENVELOPE, BODYSTRUCTURE and `BODY[section]` from the raw message.
//! * [`search`]: SEARCH keys over the selected mailbox and the store's search.
//! * [`listener`]: the accept loop, the connection cap, TLS (STARTTLS or
//!   implicit), timeouts, and IDLE's wait on the store's event broadcast.
//!
//! UIDs come from the store (store::mailbox): stable across restarts, ascending,
//! never reused. `\Seen` is the read status and `\Flagged` the `flagged` tag, both
//! ways; `\Deleted` and EXPUNGE delete.

pub(crate) mod fetch;
pub(crate) mod listener;
pub(crate) mod search;
pub(crate) mod selected;
pub(crate) mod session;

use std::sync::Arc;

use imap_next::imap_types::core::QuotedChar;
use imap_next::imap_types::mailbox::Mailbox;
use tokio_rustls::TlsAcceptor;

use crate::config::ImapConfig;
use crate::login::{LoginThrottle, Users};
use crate::model::{DEFAULT_INBOX, EventSender};
use crate::store::Store;

/// What every IMAP session shares.
pub struct ImapSetup {
    pub config: ImapConfig,
    pub store: Store,
    /// The store's event broadcast, which IDLE waits on.
    pub events: EventSender,
    /// Who may log in; `None`: anyone (the engine allows that on loopback only).
    pub users: Option<Arc<Users>>,
    pub throttle: LoginThrottle,
    /// For STARTTLS (or implicit TLS); `None` leaves STARTTLS unoffered.
    pub tls: Option<TlsAcceptor>,
}

/// The hierarchy delimiter LIST and NAMESPACE announce (provider inboxes'
/// names hold `:`, never `/`).
pub fn delimiter() -> QuotedChar {
    QuotedChar::unvalidated('/')
}

/// The store's inbox a mailbox name means: `INBOX` (any case) is the default.
pub fn inbox_name(mailbox: &Mailbox<'_>) -> String {
    match mailbox {
        Mailbox::Inbox => DEFAULT_INBOX.to_owned(),
        Mailbox::Other(other) => String::from_utf8_lossy(other.inner().as_ref()).into_owned(),
    }
}

/// The mailbox name of inbox `inbox`; `None` for a name IMAP cannot carry or
/// one that would read as `INBOX` (an inbox named "inbox" in another case).
pub fn imap_name(inbox: &str) -> Option<Mailbox<'static>> {
    if inbox == DEFAULT_INBOX {
        return Some(Mailbox::Inbox);
    }
    Mailbox::try_from(inbox.to_owned()).ok().filter(|mailbox| !matches!(mailbox, Mailbox::Inbox))
}
