//! What a session holds in memory for the message it receives, for the listener
//! to count against the store's byte budget, and refusing the message when that
//! budget is spent (the rest is read and dropped, then answered 451 4.3.0).

use super::{Session, State};

impl Session {
    /// True while the session keeps the bytes of a message it is receiving (not
    /// when it drops them: too big, refused, or a skipped BDAT chunk), including
    /// the chunks so far between two BDAT commands.
    pub fn keeps_body(&self) -> bool {
        match self.state {
            State::Data { oversize, .. } => !oversize && !self.refused_body,
            State::Bdat { .. } => !self.refused_body,
            State::Command => !self.body.is_empty(),
            _ => false,
        }
    }

    /// The message received so far: its length and the memory it holds (the
    /// listener counts the latter against the store's byte budget).
    pub fn body_held(&self) -> (usize, usize) {
        (self.body.len(), self.body.capacity())
    }

    /// Memory held for input not yet consumed (its buffer's capacity).
    pub fn input_held(&self) -> usize {
        self.input.capacity()
    }

    /// The message being received does not fit in memory now (the store's byte
    /// budget is spent): drop what it has, read the rest of it without keeping
    /// any, and answer it `451 4.3.0` (try again later) at its end (between BDAT
    /// chunks: at the end of the next chunk). Nothing is lost: the client keeps
    /// the message and retries. Outside a body, nothing.
    pub fn refuse_body(&mut self) {
        if matches!(self.state, State::Data { .. } | State::Bdat { .. })
            || (matches!(self.state, State::Command) && !self.body.is_empty())
        {
            self.refused_body = true;
            self.body = Vec::new();
        }
    }

    /// Bytes held for the client: input not yet consumed, and the message so far
    /// (the fuzz target checks both against the limits).
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn held(&self) -> (usize, usize) {
        (self.input.len() - self.consumed, self.body.len())
    }

    /// The end of a message [`Session::refuse_body`] dropped.
    pub(super) fn body_refused(&mut self) {
        self.state = State::Command;
        self.reply(451, [4, 3, 0], "Too much mail on its way in, try again later");
        self.reset_transaction();
    }
}
