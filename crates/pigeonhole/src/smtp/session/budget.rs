//! What a session holds in memory for the message it receives, counted against a
//! byte budget the listener hands in (the store's `Reservation`), and refusing the
//! message when that budget is spent (the rest is read and dropped, then answered
//! 451 4.3.0).
//!
//! The budget is a trait so that the session stays free of the store: it only
//! asks for bytes and gives them back.

use super::{Session, State};
use crate::metrics::Rejection;

/// A share of a byte budget that the message a session receives is held against.
pub trait BodyBudget {
    /// Hold at least `bytes`; `false`, holding what it held, when the budget has
    /// not that much free.
    fn cover(&mut self, bytes: usize) -> bool;
    /// Give back everything held.
    fn release(&mut self);
}

/// What [`Session::cover_body`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyCover {
    /// No message is being kept: the budget holds nothing.
    Nothing,
    /// The budget covers the message so far and what the next read may add.
    Covered,
    /// The budget is spent: the message is dropped as it comes and will be
    /// answered 451, and the budget holds nothing.
    Refused,
}

impl Session {
    /// Hold `budget` to what this session's message may take by the end of the
    /// next read (of at most `read_size` bytes, into a buffer of that size), or
    /// refuse the message when it does not fit; outside a message, release it.
    ///
    /// A refused message is dropped as it comes and answered `451 4.3.0` (try
    /// again later) at its end (between BDAT chunks: at the end of the next
    /// chunk). Nothing is lost: the client keeps the message and retries.
    pub fn cover_body(&mut self, budget: &mut impl BodyBudget, read_size: usize) -> BodyCover {
        if !self.keeps_body() {
            budget.release();
            return BodyCover::Nothing;
        }
        // The memory the next read may take before it is read: a read's worth
        // more, or the body's buffer doubled when that does not fit; and the
        // buffers of the read and of the input, so that a thousand sessions
        // receiving at once stay within the budget too.
        let (len, capacity) = (self.body.len(), self.body.capacity());
        let body =
            if len + 2 * read_size > capacity { capacity.saturating_mul(2).max(len + 2 * read_size) } else { capacity };
        if budget.cover(body + read_size + self.input.capacity().max(read_size)) {
            return BodyCover::Covered;
        }
        self.refused_body = true;
        self.body = Vec::new();
        budget.release();
        BodyCover::Refused
    }

    /// True while the session keeps the bytes of a message it is receiving (not
    /// when it drops them: too big, refused, or a skipped BDAT chunk), including
    /// the chunks so far between two BDAT commands.
    pub(super) fn keeps_body(&self) -> bool {
        match self.state {
            State::Data { oversize, .. } => !oversize && !self.refused_body,
            State::Bdat { .. } => !self.refused_body,
            State::Command => !self.body.is_empty(),
            _ => false,
        }
    }

    /// Bytes held for the client: input not yet consumed, and the message so far
    /// (the fuzz target checks both against the limits).
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn held(&self) -> (usize, usize) {
        (self.input.len() - self.consumed, self.body.len())
    }

    /// The end of a message [`Session::cover_body`] refused.
    pub(super) fn body_refused(&mut self) {
        self.state = State::Command;
        self.reply(451, [4, 3, 0], "Too much mail on its way in, try again later");
        self.rejected(Rejection::Busy);
        self.reset_transaction();
    }
}
