//! Delivery simulation: what Pigeonhole does on purpose with a message it
//! accepted, as a real mail system would.
//!
//! * [`reports`]: the report messages sent back (bounce DSNs, complaint ARF
//!   reports, auto-replies), built from the original (pure).
//! * [`effects`]: carrying out a committed message's effects off the reply
//!   path: reports stored beside it, forwards through the relay.

pub mod effects;
pub mod reports;

/// What follows the acceptance of a message, for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Report the recipient as failed (`5.x.x`) or delayed (`4.x.x`) in a DSN
    /// to the envelope sender; `diagnostic` is the SMTP reply it got.
    Bounce { status: String, diagnostic: String },
    /// The recipient complains: an ARF report of `feedback_type` (`abuse` …).
    Complaint { feedback_type: String },
    /// The recipient answers with `body`, as an out-of-office notice.
    AutoReply { body: String },
    /// The message also goes out through the relay, to the recipient.
    Forward,
}
