//! Mail files in and out: stored messages written out as files ([`export`]: one
//! `.eml`, a folder, a `.zip`, an mbox), and mail files read in as messages to
//! store ([`import`]: one `.eml` or an mbox). The desktop app's "Save as .eml",
//! "Export…" and files opened with the app use it; the HTTP API's
//! `POST /api/v1/import` too, and its `POST /api/v1/export` streams the same mbox
//! entries ([`crate::mail::mbox`]).
//!
//! File names come from the message's date and subject, never as a path: every
//! character that could make a path, a hidden file or a reserved Windows name is
//! replaced, so a hostile subject (`../../.bashrc`, `CON`, NUL) writes inside the
//! chosen folder and nowhere else. An existing file is never overwritten in a
//! folder export: the name gets ` (2)`, ` (3)`, …. Single files (`.eml`, `.zip`,
//! mbox) are written to a temporary file beside the target and renamed into place,
//! so a failed export leaves no half-written file under the chosen name.

pub mod export;
pub mod import;

pub use export::{ArchiveError, Format, eml_file_name, matching, write, write_eml};
pub use import::{ImportError, StoreAllError, store_all};
