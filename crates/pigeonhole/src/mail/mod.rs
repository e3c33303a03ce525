//! MIME messages: parse raw bytes (mail-parser) into what the store indexes and what
//! the API shows.
//!
//! * [`parse`]: the summary and search text the store keeps for every message.
//! * [`detail`]: the full message, headers and parts the API shows.
//! * [`links`]: the links and one-time codes in a message's bodies.
//! * [`html_bounds`]: the limits on nesting depth and size every HTML parse
//!   below works within, so hostile HTML stays cheap.
//! * [`render`]: the HTML body as a safe standalone document for the UI's frame.
//! * [`calendar`]: a calendar invitation part read for the UI's event card.
//! * [`client_view`]: the HTML as one mail client family would show it ("Render
//!   as"), from caniemail's data, and what it took out.
//! * [`dark_mode`]: the rendered document's colours rewritten as clients' partial
//!   and full dark modes do.
//! * [`highlight`]: one element of that document marked, for the Checks tab's jumps.
//! * [`mbox`]: the mbox format, written by export and read by import ([`crate::archive`]).
//! * [`thumb`]: 180×120 JPEG thumbnails of image attachments.
//! * [`htmlcheck`]: which HTML and CSS features a message uses, and which e-mail
//!   clients support them (caniemail data).
//! * [`linkcheck`]: the HTTP status of every link in a message, never reaching
//!   local addresses unless allowed.
//! * [`spamassassin`]: a message's SpamAssassin score and rules, from the spamd the
//!   user configured.
//! * [`authentication`]: a message's DKIM signatures, SPF and DMARC verified, from
//!   the user's records file and, only when enabled, DNS.

pub mod authentication;
pub mod calendar;
pub mod client_view;
#[cfg(test)]
pub(crate) mod corpus;
pub mod dark_mode;
pub mod detail;
pub mod highlight;
pub mod html_bounds;
pub mod htmlcheck;
pub mod linkcheck;
pub mod links;
pub mod mbox;
pub mod parse;
pub mod render;
pub mod spamassassin;
pub mod thumb;

pub use parse::{ParsedSummary, SearchText, summarize};
