//! Messages as lists show them, in Mailpit's JSON shapes: a summary per message, a
//! page of them, the inboxes, the addresses.

use serde::Serialize;
use time::OffsetDateTime;

use super::{MessageId, Stats};

/// The inbox a message lands in when SMTP AUTH named no other.
pub const DEFAULT_INBOX: &str = "default";

/// A mailbox, as Mailpit shows it: `{"Name": "", "Address": ""}`; `Name` is `""`
/// when absent, never missing.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Address {
    pub name: String,
    pub address: String,
}

/// A list item, in Mailpit's `MessageSummary` shape (key set and order matter).
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct MessageSummary {
    #[serde(rename = "ID")]
    #[schema(value_type = String)]
    #[cfg_attr(test, ts(type = "string"))]
    pub id: MessageId,
    #[serde(rename = "MessageID")]
    pub message_id: String,
    #[serde(rename = "Read")]
    pub read: bool,
    #[serde(rename = "From")]
    pub from: Address,
    #[serde(rename = "To")]
    pub to: Vec<Address>,
    #[serde(rename = "Cc")]
    pub cc: Vec<Address>,
    #[serde(rename = "Bcc")]
    pub bcc: Vec<Address>,
    #[serde(rename = "ReplyTo")]
    pub reply_to: Vec<Address>,
    #[serde(rename = "Subject")]
    pub subject: String,
    /// When the message was received (RFC 3339).
    #[serde(rename = "Created", with = "time::serde::rfc3339")]
    #[cfg_attr(test, ts(type = "string"))]
    pub created: OffsetDateTime,
    /// SMTP AUTH user name ("" if none).
    #[serde(rename = "Username")]
    pub username: String,
    #[serde(rename = "Tags")]
    pub tags: Vec<String>,
    #[serde(rename = "Size")]
    pub size: u64,
    #[serde(rename = "Attachments")]
    pub attachments: u32,
    #[serde(rename = "Snippet")]
    pub snippet: String,
    /// The inbox it is in: not on the wire (Mailpit's shape has no such key), for
    /// deciding who may see it ([`crate::model::Access`]).
    #[serde(skip)]
    #[schema(ignore)]
    pub inbox: String,
}

/// Mailpit's key set and order for a [`MessagePage`] and a [`MessageSummary`]:
/// clients compare them exactly, so the store's and the API's tests check them.
#[cfg(test)]
pub(crate) const PAGE_KEYS: &[&str] =
    &["total", "unread", "count", "messages_count", "messages_unread", "start", "tags", "messages"];
#[cfg(test)]
pub(crate) const SUMMARY_KEYS: &[&str] = &[
    "ID",
    "MessageID",
    "Read",
    "From",
    "To",
    "Cc",
    "Bcc",
    "ReplyTo",
    "Subject",
    "Created",
    "Username",
    "Tags",
    "Size",
    "Attachments",
    "Snippet",
];

/// A page of summaries, in Mailpit's `MessagesSummary` shape.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct MessagePage {
    pub total: u64,
    pub unread: u64,
    pub count: u64,
    pub messages_count: u64,
    pub messages_unread: u64,
    pub start: u64,
    pub tags: Vec<String>,
    pub messages: Vec<MessageSummary>,
}

/// Per-inbox counts.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct InboxInfo {
    pub name: String,
    pub total: u64,
    pub unread: u64,
}

impl MessagePage {
    pub(crate) fn new(
        stats: &Stats,
        (matching, matching_unread): (u64, u64),
        start: u64,
        messages: Vec<MessageSummary>,
        tags: Vec<String>,
    ) -> Self {
        MessagePage {
            total: stats.total,
            unread: stats.unread,
            count: messages.len() as u64,
            messages_count: matching,
            messages_unread: matching_unread,
            start,
            tags,
            messages,
        }
    }
}
