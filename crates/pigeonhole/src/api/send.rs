//! `POST /api/v1/send`: Mailpit's send API. The JSON body is built into a MIME
//! message ([`crate::providers::draft`]) and stored through [`Store::submit`] with an
//! envelope, like mail over SMTP, so it shows up live (the `new` event).
//!
//! The body is read as Mailpit (Go's `encoding/json`) reads it: keys match
//! case-insensitively (`Filename` and `FileName`), `null` is absent, unknown keys
//! are ignored. `Bcc` takes plain addresses as Mailpit documents them, or
//! `{Email, Name}` like the other lists. The message keeps its `Bcc` header, so the
//! list shows Bcc recipients as it does for Mailpit; `Tags` become an `X-Tags`
//! header, which the store turns into the message's tags.
//!
//! [`Store::submit`]: crate::store::Store::submit

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, State};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use lettre::message::Mailbox;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use super::ApiState;
use super::auth::AuthenticatedUser;
use super::auth::require_inbox;
use super::error::{ApiError, ErrorBody};
use crate::model::Envelope;
use crate::model::{Access, DEFAULT_INBOX};
use crate::model::{MessageId, NewMessage};
use crate::providers::draft::{self, Built, Draft, DraftAttachment};

/// The request body (Mailpit's `SendRequest`).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(test, ts(optional_fields))]
pub struct SendRequest {
    pub from: Option<SendAddress>,
    pub to: Option<Vec<SendAddress>>,
    pub cc: Option<Vec<SendAddress>>,
    pub bcc: Option<Vec<BccRecipient>>,
    pub reply_to: Option<Vec<SendAddress>>,
    pub subject: Option<String>,
    pub text: Option<String>,
    #[serde(rename = "HTML")]
    pub html: Option<String>,
    pub attachments: Option<Vec<SendAttachment>>,
    /// Extra header fields, name → value; they replace fields of the same name.
    pub headers: Option<BTreeMap<String, String>>,
    pub tags: Option<Vec<String>>,
}

/// A mailbox: `Email` is required wherever one is given.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(test, ts(optional_fields))]
pub struct SendAddress {
    pub email: Option<String>,
    pub name: Option<String>,
}

/// A Bcc recipient: a plain address (Mailpit's form) or `{Email, Name}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub enum BccRecipient {
    Address(String),
    Mailbox(SendAddress),
}

/// A file to attach: `Content` and `Filename` are required.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
#[cfg_attr(test, ts(optional_fields))]
pub struct SendAttachment {
    /// The file's bytes, base64.
    pub content: Option<String>,
    pub filename: Option<String>,
    /// Guessed from the file name when missing.
    pub content_type: Option<String>,
    /// Set: the attachment is inline, for `cid:` URLs in the HTML.
    #[serde(rename = "ContentID")]
    pub content_id: Option<String>,
}

/// The answer: the stored message's ID.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SendResponse {
    #[serde(rename = "ID")]
    #[schema(value_type = String)]
    #[cfg_attr(test, ts(type = "string"))]
    pub id: MessageId,
}

/// Every key the request knows, in its canonical spelling (see [`canonical_keys`]).
const KEYS: &[&str] = &[
    "From",
    "To",
    "Cc",
    "Bcc",
    "ReplyTo",
    "Subject",
    "Text",
    "HTML",
    "Attachments",
    "Headers",
    "Tags",
    "Email",
    "Name",
    "Content",
    "Filename",
    "ContentType",
    "ContentID",
];

/// The envelope's HELO name for messages sent through the API.
const HELO: &str = "pigeonhole-api";

/// Mailpit's send API: a message from JSON, stored as if it came over SMTP.
#[utoipa::path(
    post,
    path = "/api/v1/send",
    tag = "send",
    request_body = SendRequest,
    responses(
        (status = 200, description = "Stored", body = SendResponse),
        (status = 400, description = "Not a valid request (no From.Email, no recipient, bad attachment)", body = ErrorBody),
    )
)]
pub async fn send(
    State(state): State<ApiState>,
    access: Access,
    peer: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    user: Option<axum::Extension<AuthenticatedUser>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<SendResponse>, ApiError> {
    // The message lands in the inbox of the sender's name (the default one
    // without one): a principal limited to inboxes may only fill its own.
    let auth_user = user.map(|user| user.0.0);
    require_inbox(&access, auth_user.as_deref().filter(|name| !name.is_empty()).unwrap_or(DEFAULT_INBOX))?;
    let request = parse(&body?)?;
    let Built { raw, mail_from, rcpt_to } = build(request)?;
    let envelope = Envelope {
        mail_from,
        rcpt_to,
        helo: HELO.to_string(),
        peer: peer.map_or_else(|| "api".to_string(), |peer| peer.0.0.to_string()),
        tls: false,
        // The basic-auth user (`--ui-auth-file`), Mailpit's `Username`.
        auth_user,
        transcript: String::new(),
        api: None,
        simulation: None,
    };
    let message = NewMessage { raw, envelope, received_at: OffsetDateTime::now_utc() };
    let id = state.store.submit(message).await?;
    Ok(Json(SendResponse { id }))
}

/// The body as Go would decode it into Mailpit's struct.
fn parse(body: &[u8]) -> Result<SendRequest, ApiError> {
    let mut value: Value =
        serde_json::from_slice(body).map_err(|err| ApiError::bad_request(format!("invalid JSON body: {err}")))?;
    if !value.is_object() {
        return Err(ApiError::bad_request("the request body must be a JSON object"));
    }
    canonical_keys(&mut value);
    serde_json::from_value(value).map_err(|err| ApiError::bad_request(format!("invalid request: {err}")))
}

/// Spell every known key as [`KEYS`] does and drop `null`s, in every object but
/// `Headers` (whose keys are header names, kept as given).
fn canonical_keys(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let entries = std::mem::take(map);
            for (key, mut value) in entries {
                if value.is_null() {
                    continue;
                }
                let key = KEYS.iter().find(|k| k.eq_ignore_ascii_case(&key)).map_or(key, |k| k.to_string());
                if key != "Headers" {
                    canonical_keys(&mut value);
                }
                map.insert(key, value);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(canonical_keys),
        _ => {}
    }
}

/// The message's bytes, its MAIL FROM and its RCPT TOs.
fn build(request: SendRequest) -> Result<Built, ApiError> {
    let from = request.from.unwrap_or_default();
    if from.email.as_deref().is_none_or(|email| email.trim().is_empty()) {
        return Err(ApiError::bad_request("From.Email is required"));
    }
    let bcc_addresses = request.bcc.unwrap_or_default().into_iter().map(|recipient| match recipient {
        BccRecipient::Address(email) => SendAddress { email: Some(email), name: None },
        BccRecipient::Mailbox(address) => address,
    });
    let draft = Draft {
        from: Some(mailbox("From", from)?),
        to: mailboxes("To", request.to.unwrap_or_default())?,
        cc: mailboxes("Cc", request.cc.unwrap_or_default())?,
        bcc: mailboxes("Bcc", bcc_addresses.collect())?,
        reply_to: mailboxes("ReplyTo", request.reply_to.unwrap_or_default())?,
        subject: request.subject.unwrap_or_default(),
        text: request.text,
        html: request.html,
        attachments: attachments(request.attachments.unwrap_or_default())?,
        headers: request
            .headers
            .unwrap_or_default()
            .iter()
            .map(|(name, value)| draft::header(name, value).map_err(ApiError::bad_request))
            .collect::<Result<_, _>>()?,
        added_headers: Vec::new(),
        tags: request.tags.unwrap_or_default(),
        keep_bcc: true,
        return_path: true,
    };
    if draft.to.is_empty() && draft.cc.is_empty() && draft.bcc.is_empty() {
        return Err(ApiError::bad_request("at least one To, Cc or Bcc recipient is required"));
    }
    draft.build().map_err(ApiError::bad_request)
}

fn mailbox(field: &str, address: SendAddress) -> Result<Mailbox, ApiError> {
    draft::mailbox(field, address.email.as_deref().unwrap_or_default(), address.name.as_deref())
        .map_err(ApiError::bad_request)
}

fn mailboxes(field: &str, addresses: Vec<SendAddress>) -> Result<Vec<Mailbox>, ApiError> {
    addresses.into_iter().map(|address| mailbox(field, address)).collect()
}

/// The attachments, decoded; errors name the attachment by its index.
fn attachments(attachments: Vec<SendAttachment>) -> Result<Vec<DraftAttachment>, ApiError> {
    let decode = |(i, attachment): (usize, SendAttachment)| {
        let bad = |what: &str| ApiError::bad_request(format!("Attachments[{i}].{what}"));
        let filename =
            attachment.filename.filter(|f| !f.trim().is_empty()).ok_or_else(|| bad("Filename is required"))?;
        let content = STANDARD
            .decode(attachment.content.unwrap_or_default().trim())
            .map_err(|_| bad("Content is not valid base64"))?;
        let content_type = match attachment.content_type.filter(|t| !t.trim().is_empty()) {
            Some(given) => {
                Some(draft::content_type(&given).ok_or_else(|| bad("ContentType is not a valid media type"))?)
            }
            None => None,
        };
        Ok(DraftAttachment { filename, content, content_type, content_id: attachment.content_id })
    };
    attachments.into_iter().enumerate().map(decode).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::detail;

    fn request(json: Value) -> Result<(Vec<u8>, String, Vec<String>), String> {
        parse(json.to_string().as_bytes())
            .and_then(build)
            .map(|built| (built.raw, built.mail_from, built.rcpt_to))
            .map_err(|err| format!("{err:?}"))
    }

    #[test]
    fn builds_every_field() {
        let (raw, mail_from, rcpt_to) = request(serde_json::json!({
            "from": {"email": "app@example.test", "Name": "App"},
            "To": [{"Email": "ann@example.test", "Name": "Ann Ü"}],
            "Cc": [{"Email": "cc@example.test"}],
            "Bcc": ["hidden@example.test", {"Email": "hidden2@example.test"}],
            "ReplyTo": [{"Email": "reply@example.test"}],
            "Subject": "Grüße",
            "Text": "Hello",
            "HTML": "<p>Hello <img src=\"cid:logo\"></p>",
            "Attachments": [
                {"Content": "iVBORw0KGgo=", "FileName": "logo.png", "ContentID": "logo"},
                {"Content": "JVBERi0xLjQK", "Filename": "a.pdf", "ContentType": "application/pdf"},
            ],
            "Headers": {"X-Campaign": "spring", "message-id": "<fixed@example.test>"},
            "Tags": ["one", " ", "two"],
            "Unknown": null,
        }))
        .unwrap();
        assert_eq!(mail_from, "app@example.test");
        assert_eq!(rcpt_to, ["ann@example.test", "cc@example.test", "hidden@example.test", "hidden2@example.test"]);

        let parsed = crate::mail::summarize(&raw);
        assert_eq!(parsed.subject, "Grüße");
        assert_eq!(parsed.to[0].name, "Ann Ü");
        assert_eq!(parsed.bcc.len(), 2);
        assert_eq!(parsed.message_id, "fixed@example.test");
        let headers = detail::headers(&raw);
        assert_eq!(headers["X-Campaign"], ["spring"]);
        assert_eq!(headers["X-Tags"], ["one, two"]);
        assert_eq!(headers["Reply-To"], ["reply@example.test"]);
        assert_eq!(headers["Return-Path"], ["<app@example.test>"]);

        let tree = detail::part_tree(&raw);
        assert_eq!(tree.content_type, "multipart/mixed");
        let types = |node: &detail::PartNode| node.parts.iter().map(|p| p.content_type.clone()).collect::<Vec<_>>();
        assert_eq!(types(&tree), ["multipart/related", "application/pdf"]);
        assert_eq!(types(&tree.parts[0]), ["multipart/alternative", "image/png"]);
        assert_eq!(types(&tree.parts[0].parts[0]), ["text/plain", "text/html"]);
        let (_, content_ids) = detail::html_body_and_content_ids(&raw).unwrap();
        assert_eq!(content_ids, [("logo".to_string(), "1.2".to_string())]);
        assert_eq!(detail::part(&raw, "2").unwrap().body, b"%PDF-1.4\n");
    }

    #[test]
    fn smallest_message() {
        let (raw, _, rcpt_to) =
            request(serde_json::json!({"From": {"Email": "a@example.test"}, "Bcc": ["b@example.test"]})).unwrap();
        assert_eq!(rcpt_to, ["b@example.test"]);
        assert_eq!(detail::part_tree(&raw).content_type, "text/plain");
    }

    #[test]
    fn says_what_is_wrong() {
        let from = serde_json::json!({"Email": "a@example.test"});
        let to = serde_json::json!([{"Email": "b@example.test"}]);
        for (body, error) in [
            (serde_json::json!({}), "From.Email is required"),
            (serde_json::json!({"From": {"Name": "x"}, "To": to}), "From.Email is required"),
            (
                serde_json::json!({"From": {"Email": "not an address"}, "To": to}),
                "invalid From address: not an address",
            ),
            (serde_json::json!({"From": from, "To": [{"Email": "x@"}]}), "invalid To address: x@"),
            (serde_json::json!({"From": from, "Bcc": ["nope"]}), "invalid Bcc address: nope"),
            (serde_json::json!({"From": from}), "at least one To, Cc or Bcc recipient is required"),
            (serde_json::json!({"From": from, "To": "b@example.test"}), "invalid request"),
            (
                serde_json::json!({"From": from, "To": to, "Attachments": [{"Content": "AA=="}]}),
                "Attachments[0].Filename is required",
            ),
            (
                serde_json::json!({"From": from, "To": to, "Attachments": [{"Filename": "a", "Content": "%%"}]}),
                "Attachments[0].Content is not valid base64",
            ),
            (
                serde_json::json!({"From": from, "To": to, "Attachments": [{"Filename": "a", "ContentType": "nope"}]}),
                "Attachments[0].ContentType is not a valid media type",
            ),
            (serde_json::json!({"From": from, "To": to, "Headers": {"Bad Name": "x"}}), "invalid header name"),
            (serde_json::json!({"From": from, "To": to, "Headers": {"X-A": "a\r\nBcc: x"}}), "line breaks"),
            (serde_json::json!({"From": from, "To": to, "Headers": {"content-type": "text/html"}}), "cannot be set"),
        ] {
            let err = request(body.clone()).unwrap_err();
            assert!(err.contains(error) && err.contains("400"), "{body}: {err}");
        }
        assert!(parse(b"[1]").is_err() && parse(b"{").is_err());
    }
}
