//! A message as SMTP (or the send API, or an import) handed it over: the bytes
//! and everything the session knew besides them.

use serde::{Deserialize, Serialize};
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
    /// Set when the message came through an email provider's HTTP API (SendGrid,
    /// Postmark …) instead of SMTP.
    pub api: Option<ApiRequest>,
    /// What delivery simulation did with the message (a rule or a simulator
    /// address); `None` when nothing applied and it was simply accepted.
    pub simulation: Option<SimulationOutcome>,
}

/// The HTTP request a message came in, for mail sent through a provider's API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ApiRequest {
    /// The provider whose API took it: `sendgrid`, `postmark`, `mailgun`, `ses` or
    /// `resend`.
    pub provider: String,
    /// The ID the provider's answer gave the app for this message (what its
    /// events and webhooks refer to).
    pub provider_message_id: String,
    /// The request as received: request line, headers with credentials masked,
    /// body (long bodies cut).
    pub request: String,
}

/// Which simulation rule applied to a message and what the sender got back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SimulationOutcome {
    /// The rule that matched: a simulator address (`bounce@simulator.test`) or a
    /// rule from the rules file, by name.
    pub rule: String,
    /// Its action: `accept`, `reject`, `defer`, `tarpit`, `disconnect`, `bounce`,
    /// `complaint`, `auto-reply` or `forward`.
    pub action: String,
    /// What the sender was answered (an SMTP reply, or the HTTP status and body).
    pub reply: String,
    /// What followed the answer, one line each (a DSN delivered to the sender's
    /// inbox, a forward through the relay …).
    pub effects: Vec<String>,
}

/// A message as received, before it is stored.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// The exact bytes received (dot-stuffing undone).
    pub raw: Vec<u8>,
    pub envelope: Envelope,
    pub received_at: OffsetDateTime,
}
