//! Delivery simulation: what Pigeonhole does on purpose with a message it
//! accepted, as a real mail system would.
//!
//! * [`reports`]: the report messages sent back (bounce DSNs, complaint ARF
//!   reports, auto-replies), built from the original (pure).

pub mod reports;
