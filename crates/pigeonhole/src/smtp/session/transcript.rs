//! The session's transcript: the commands and replies kept for a message's
//! envelope (never a body, never a credential), capped so a long session stays small.

use std::borrow::Cow;

/// Longest line kept in the transcript; longer ones are cut.
const TRANSCRIPT_LINE_MAX: usize = 512;
/// Most bytes of transcript kept for the part before MAIL and for each transaction.
const TRANSCRIPT_PART_MAX: usize = 16 * 1024;

/// The session's commands and replies, kept for the envelope: the part before the
/// first MAIL (greeting, EHLO, STARTTLS, AUTH) and the current transaction, each
/// capped, so a long session stays small.
#[derive(Default)]
pub(super) struct Transcript {
    preamble: String,
    transaction: String,
    in_transaction: bool,
}

impl Transcript {
    pub(super) fn client(&mut self, line: &[u8]) {
        self.push("C: ", line);
    }

    pub(super) fn server(&mut self, line: &[u8]) {
        self.push("S: ", line);
    }

    /// A MAIL command starts a new transaction part (even if it is then refused).
    pub(super) fn start_transaction(&mut self) {
        self.transaction.clear();
        self.in_transaction = true;
    }

    pub(super) fn end_transaction(&mut self) {
        if self.in_transaction {
            self.in_transaction = false;
            self.transaction.clear();
        }
    }

    pub(super) fn text(&self) -> String {
        format!("{}{}", self.preamble, self.transaction)
    }

    fn push(&mut self, prefix: &str, line: &[u8]) {
        let part = if self.in_transaction { &mut self.transaction } else { &mut self.preamble };
        if part.len() >= TRANSCRIPT_PART_MAX {
            return;
        }
        let line = line.trim_ascii_end();
        let text: Cow<'_, str> = String::from_utf8_lossy(&line[..line.len().min(TRANSCRIPT_LINE_MAX)]);
        part.push_str(prefix);
        part.push_str(&text);
        if line.len() > TRANSCRIPT_LINE_MAX {
            part.push('…');
        }
        part.push('\n');
        if part.len() >= TRANSCRIPT_PART_MAX {
            part.push_str("(transcript truncated)\n");
        }
    }
}
