//! A message as SMTP (or the send API, or an import) handed it over: the bytes
//! and everything the session knew besides them.

use serde::Serialize;
use time::OffsetDateTime;

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

/// A message as received, before it is stored.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// The exact bytes received (dot-stuffing undone).
    pub raw: Vec<u8>,
    pub envelope: Envelope,
    pub received_at: OffsetDateTime,
}
