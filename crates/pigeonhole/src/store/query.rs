//! What callers ask the store for, beyond one message by ID: a point in its history
//! to wait after, a search, an address search, a set of messages to change. A
//! search and a set of messages can be kept within some inboxes (`within`), for a
//! principal limited to them ([`Access`]).

use jiff::tz::TimeZone;
use time::OffsetDateTime;

use super::codec;
use crate::model::{Access, MessageId, MessageSummary};

/// A point in the store's history, for "the first message stored after this":
/// [`Store::position_now`], [`Store::position_after`], [`Position::received_after`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// After the message stored with this sequence number: exact storage order.
    Stored(i64),
    /// After this millisecond of reception (Unix ms): messages received later.
    ReceivedMs(i64),
    /// Where a message since deleted stood: messages received in its millisecond
    /// or later (those in the same millisecond may have come after it; better
    /// one answered twice than one missed).
    ReceivedSince(i64),
}

impl Position {
    /// After `time` (to the millisecond): the messages received later than it.
    pub fn received_after(time: OffsetDateTime) -> Position {
        Position::ReceivedMs(codec::unix_ms(time))
    }

    /// Whether a message announced by an `Event::New` published after this
    /// position was taken lies after it. Storage order needs no check (the event
    /// comes from a later commit); a time needs the message received later.
    pub fn admits_new(&self, summary: &MessageSummary) -> bool {
        match *self {
            Position::Stored(_) => true,
            Position::ReceivedMs(ms) => codec::unix_ms(summary.created) > ms,
            Position::ReceivedSince(ms) => codec::unix_ms(summary.created) >= ms,
        }
    }
}

/// Which addresses [`Store::search_addresses`] looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressSearch {
    /// The envelope's MAIL FROM and the From header.
    From,
    /// The envelope's RCPT TO (Bcc included) and the To header.
    To,
}

/// A search in Mailpit's syntax, with the time zone its `before:` and `after:`
/// dates are read in (UTC unless one is given), and the inboxes it is kept within.
#[derive(Debug, Clone)]
pub struct SearchQuery {
    pub text: String,
    pub zone: TimeZone,
    /// Only messages in these inboxes, and page totals counted over them alone;
    /// `None`: every inbox.
    pub inboxes: Option<Vec<String>>,
}

impl SearchQuery {
    /// `text` with its dates read in the IANA time zone named `zone`
    /// (`Europe/Berlin`; UTC when empty); the error says which name is unknown.
    pub fn in_zone(text: impl Into<String>, zone: &str) -> Result<SearchQuery, String> {
        let zone = match zone.trim() {
            "" => TimeZone::UTC,
            name => TimeZone::get(name).map_err(|_| format!("unknown time zone {name:?}"))?,
        };
        Ok(SearchQuery { text: text.into(), zone, inboxes: None })
    }

    /// This search kept within what `access` may see.
    pub fn within(self, access: &Access) -> SearchQuery {
        SearchQuery { inboxes: access.inboxes(), ..self }
    }
}

impl From<&str> for SearchQuery {
    fn from(text: &str) -> SearchQuery {
        SearchQuery::from(text.to_owned())
    }
}

impl From<String> for SearchQuery {
    fn from(text: String) -> SearchQuery {
        SearchQuery { text, zone: TimeZone::UTC, inboxes: None }
    }
}

/// Which messages a bulk change applies to.
#[derive(Debug, Clone)]
pub enum Selection {
    Ids(Vec<MessageId>),
    Search(SearchQuery),
    All,
    /// Those of the selection in these inboxes (by name).
    Within(Vec<String>, Box<Selection>),
}

impl Selection {
    /// This selection kept within what `access` may see: "all" is then all of
    /// its inboxes, never a foreign message.
    pub fn within(self, access: &Access) -> Selection {
        match access.inboxes() {
            None => self,
            Some(inboxes) => Selection::Within(inboxes, Box::new(self)),
        }
    }
}
