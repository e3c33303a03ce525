//! The part of MailHog's API that MailHog clients still in use read (cypress-mailhog
//! and the like), so test suites written for MailHog run against Pigeonhole:
//! `GET /api/v2/messages`, `GET /api/v2/search`, and MailHog's v1 routes for one
//! message, `GET`/`DELETE /api/v1/messages/{ID}` and `POST
//! /api/v1/messages/{ID}/release`.
//!
//! MailHog's v1 `DELETE /api/v1/messages` (delete all) is Mailpit's route too and
//! does the same; Mailpit's answer wins there (`ok` instead of an empty body). The
//! npm `mailhog` client's `deleteAll` parses that answer as JSON, so its promise
//! rejects after everything was deleted; nothing in the request tells it from
//! Mailpit's clients, which read the `ok`.
//!
//! Release goes through the relay the user configured (`--smtp-relay-host`), under
//! Mailpit's rules, never to an SMTP server a request names: MailHog's body names
//! one (`Host`, `Port`), which must then be that relay. MailHog's `GET /api/v1/messages` (a bare array) is
//! not served: Mailpit's list owns that path, and no MailHog client we know reads
//! it. Jim, MailHog's chaos monkey, is not offered: `GET /api/v2/jim` answers 404,
//! which MailHog clients read as "Jim is off".
//!
//! Searches follow MailHog's for `from` and `to`; `containing` is Mailpit's free
//! text (see [`search`]).
//!
//! A message is shown in MailHog's `Message` shape, built from the stored bytes the
//! way MailHog builds it: header values as written (unfolded, not decoded), the body
//! undecoded, multipart bodies split at their boundaries. IDs are ours, so the IDs
//! from here work with the Mailpit routes and the other way round.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody, Ext};
use super::message::load;
use super::messages::{GoObject, list_page};
use super::{ApiState, read};
use crate::model::{Access, Envelope, MessageId, MessagePage, MessageSummary};
use crate::smtp::relay::Outgoing;
use crate::store::{AddressSearch, SearchQuery, Selection, Store, StoreError};

/// Page size when `limit` is missing, not a number or not positive (MailHog's).
const DEFAULT_LIMIT: u64 = 50;
/// MailHog serves at most this many messages per page, whatever `limit` asks.
const MAX_LIMIT: u64 = 250;

/// `start`, `limit`, and for search `kind` and `query`.
#[derive(Deserialize)]
pub struct MailhogQuery {
    start: Option<String>,
    limit: Option<String>,
    kind: Option<String>,
    query: Option<String>,
}

impl MailhogQuery {
    /// MailHog's paging: anything but a positive number is the default.
    fn page(&self) -> (u64, u64) {
        let positive = |value: &Option<String>| value.as_deref().and_then(|v| v.parse::<u64>().ok()).filter(|&n| n > 0);
        (positive(&self.start).unwrap_or(0), positive(&self.limit).map_or(DEFAULT_LIMIT, |n| n.min(MAX_LIMIT)))
    }
}

/// MailHog's list and search answer.
#[derive(Serialize, ToSchema)]
#[schema(as = MailHogMessages)]
struct Messages {
    total: u64,
    count: u64,
    start: u64,
    items: Vec<Message>,
}

/// MailHog's `Message` (mailhog/data): key names and nesting are what its clients read.
#[derive(Serialize, ToSchema)]
#[schema(as = MailHogMessage)]
#[serde(rename_all = "PascalCase")]
struct Message {
    #[serde(rename = "ID")]
    #[schema(value_type = String)]
    id: MessageId,
    /// The SMTP envelope's sender.
    from: Path,
    /// The SMTP envelope's recipients (Bcc included).
    to: Vec<Path>,
    content: Content,
    #[serde(with = "time::serde::rfc3339")]
    created: OffsetDateTime,
    /// The parts of a multipart message; `null` otherwise.
    #[serde(rename = "MIME")]
    mime: Option<MimeBody>,
    raw: SmtpMessage,
}

/// An SMTP path split at its `@` (and source route, if any).
#[derive(Serialize, ToSchema)]
#[schema(as = MailHogPath)]
#[serde(rename_all = "PascalCase")]
struct Path {
    relays: Option<Vec<String>>,
    mailbox: String,
    domain: String,
    params: String,
}

/// Headers and body of a message or of one MIME part.
#[derive(Serialize, ToSchema)]
#[schema(as = MailHogContent)]
#[serde(rename_all = "PascalCase")]
struct Content {
    headers: BTreeMap<String, Vec<String>>,
    body: String,
    size: usize,
    #[serde(rename = "MIME")]
    mime: Option<MimeBody>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = MailHogMimeBody)]
#[serde(rename_all = "PascalCase")]
struct MimeBody {
    #[schema(no_recursion)]
    parts: Vec<Content>,
}

/// What SMTP carried.
#[derive(Serialize, ToSchema)]
#[schema(as = MailHogSmtpMessage)]
#[serde(rename_all = "PascalCase")]
struct SmtpMessage {
    from: String,
    to: Vec<String>,
    data: String,
    helo: String,
}

/// `GET /api/v2/messages?start&limit`: newest first.
#[utoipa::path(
    get,
    path = "/api/v2/messages",
    tag = "mailhog",
    params(
        ("start" = Option<u64>, Query, description = "How many messages to skip, newest first"),
        ("limit" = Option<u64>, Query, description = "How many to answer; 50 by default, at most 250"),
    ),
    responses((status = 200, description = "A page of messages", body = Messages, content_type = "text/json"))
)]
pub async fn list(
    State(state): State<ApiState>,
    access: Access,
    Ext(Query(q)): Ext<Query<MailhogQuery>>,
) -> Result<Response, ApiError> {
    let (start, limit) = q.page();
    let messages =
        read(&state, move |store| messages(store, list_page(store, &access, start, limit)?, |page| page.total)).await?;
    Ok(json(&messages))
}

/// What `/api/v2/search` looks for.
enum Search {
    Addresses(AddressSearch),
    Containing,
}

/// `GET /api/v2/search?kind=from|to|containing&query=`: MailHog's three searches,
/// case-insensitive. `from` and `to` match part of the envelope's sender or
/// recipients (Bcc included) or of the From or To header, as in MailHog;
/// `containing` is Mailpit's free text (words and word prefixes of the subject,
/// addresses, body and attachment names) where MailHog matches any part of the body
/// or of any header.
#[utoipa::path(
    get,
    path = "/api/v2/search",
    tag = "mailhog",
    params(
        ("kind" = String, Query, description = "What to search", pattern = "^(from|to|containing)$"),
        ("query" = String, Query, description = "The text to look for", pattern = r"\S"),
        ("start" = Option<u64>, Query, description = "How many messages to skip, newest first"),
        ("limit" = Option<u64>, Query, description = "How many to answer; 50 by default, at most 250"),
    ),
    responses(
        (status = 200, description = "A page of matching messages", body = Messages, content_type = "text/json"),
        (status = 400, description = "No `kind` or no `query`", body = ErrorBody),
    )
)]
pub async fn search(
    State(state): State<ApiState>,
    access: Access,
    Ext(Query(q)): Ext<Query<MailhogQuery>>,
) -> Result<Response, ApiError> {
    let (start, limit) = q.page();
    let search = match q.kind.as_deref() {
        Some("from") => Search::Addresses(AddressSearch::From),
        Some("to") => Search::Addresses(AddressSearch::To),
        Some("containing") => Search::Containing,
        _ => {
            return Err(ApiError::bad_request(
                "kind must be from, to or containing, e.g. ?kind=to&query=bob@example.com",
            ));
        }
    };
    let query = q.query.unwrap_or_default();
    if query.trim().is_empty() {
        return Err(ApiError::bad_request("no search query: add ?query= with the text to look for"));
    }
    let messages = read(&state, move |store| {
        let page = match search {
            Search::Addresses(kind) => store.search_addresses(kind, &query, &access, start, limit)?,
            // Quoted, the whole query is one phrase; quotes inside it would end it.
            Search::Containing => {
                let phrase = SearchQuery::from(format!("\"{}\"", query.replace('"', " "))).within(&access);
                store.search_in(&phrase, start, limit)?
            }
        };
        messages(store, page, |page| page.messages_count)
    })
    .await?;
    Ok(json(&messages))
}

/// `GET /api/v1/messages/{ID}`: one message in MailHog's shape.
#[utoipa::path(
    get,
    path = "/api/v1/messages/{ID}",
    tag = "mailhog",
    params(("ID" = String, Path, description = "The message's ID")),
    responses(
        (status = 200, description = "The message", body = Message, content_type = "text/json"),
        (status = 404, description = "No such message", body = ErrorBody),
    )
)]
pub async fn show(
    State(state): State<ApiState>,
    access: Access,
    Ext(UrlPath(id)): Ext<UrlPath<String>>,
) -> Result<Response, ApiError> {
    let found = read(&state, move |store| {
        let Some(id) = MessageId::parse(&id) else { return Ok(None) };
        match store.summary(&id)? {
            Some(summary) if access.allows(&summary.inbox) => message(store, &summary),
            _ => Ok(None),
        }
    })
    .await?;
    Ok(json(&found.ok_or_else(|| ApiError::not_found("Message not found"))?))
}

/// `DELETE /api/v1/messages/{ID}`: 200 with an empty body, as MailHog answers.
#[utoipa::path(
    delete,
    path = "/api/v1/messages/{ID}",
    tag = "mailhog",
    params(("ID" = String, Path, description = "The message's ID")),
    responses((status = 200, description = "Deleted (or was not there)"))
)]
pub async fn delete(
    State(state): State<ApiState>,
    access: Access,
    Ext(UrlPath(id)): Ext<UrlPath<String>>,
) -> Result<(), ApiError> {
    // An ID that has not the shape of one names no message: nothing to delete.
    if let Some(id) = MessageId::parse(&id) {
        state.store.delete(Selection::Ids(vec![id]).within(&access)).await?;
    }
    Ok(())
}

/// MailHog's release body (its `ReleaseConfig`); keys match case-insensitively.
#[derive(ToSchema)]
#[schema(as = MailHogRelease)]
pub(super) struct ReleaseConfig {
    /// The one recipient.
    #[schema(rename = "Email")]
    email: String,
    /// The SMTP server to send through: if given, the configured relay's host.
    #[schema(rename = "Host")]
    host: Option<String>,
    /// Its port (a number or a string): if given, the configured relay's port.
    #[schema(rename = "Port", value_type = Option<String>)]
    port: Option<serde_json::Value>,
}

/// `POST /api/v1/messages/{ID}/release`: MailHog's release, through the configured
/// relay to `Email`; 200 with an empty body, as MailHog answers.
#[utoipa::path(
    post,
    path = "/api/v1/messages/{ID}/release",
    tag = "mailhog",
    params(("ID" = String, Path, description = "The message's ID")),
    request_body = ReleaseConfig,
    responses(
        (status = 200, description = "Sent"),
        (status = 400, description = "Release is off, the server named is not the relay, the recipient is not \
            allowed, or the relay refused", body = ErrorBody),
        (status = 404, description = "No such message", body = ErrorBody),
    )
)]
pub async fn release(
    State(state): State<ApiState>,
    access: Access,
    Ext(UrlPath(id)): Ext<UrlPath<String>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(), ApiError> {
    let Some(relay) = state.relay.clone() else {
        return Err(ApiError::bad_request("Message relay is not enabled")
            .with_note("start Pigeonhole with --smtp-relay-host to release messages"));
    };
    let body = GoObject::parse(&body?).map_err(ApiError::bad_request)?;
    let config = ReleaseConfig {
        email: body.param::<String>("Email")?.unwrap_or_default(),
        host: body.param("Host")?,
        port: body.param("Port")?,
    };
    let port = config.port.as_ref().map(|port| match port {
        serde_json::Value::String(text) => text.trim().parse::<u16>().ok(),
        other => other.as_u64().and_then(|n| u16::try_from(n).ok()),
    });
    if config.host.as_deref().is_some_and(|host| !host.eq_ignore_ascii_case(&relay.host))
        || port.is_some_and(|port| port != Some(relay.port))
    {
        return Err(ApiError::bad_request(format!(
            "messages are released only through the configured relay {}:{}",
            relay.host, relay.port
        ))
        .with_note("leave out Host and Port, or name the server given with --smtp-relay-host"));
    }
    if config.email.trim().is_empty() {
        return Err(ApiError::bad_request("no recipient: the body's Email is required"));
    }
    let (_, raw) = load(&state, &access, id, None, |store, id| store.raw(id)).await?;
    let outgoing = Outgoing::prepare(&relay, &raw, &[config.email]).map_err(ApiError::bad_request)?;
    tokio::task::spawn_blocking(move || outgoing.send(&relay))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::bad_request)?;
    Ok(())
}

/// MailHog answers its lists as `text/json`; cypress-mailhog parses a string body itself.
fn json<T: Serialize>(value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => ([(CONTENT_TYPE, "text/json")], body).into_response(),
        Err(err) => ApiError::internal(err).into_response(),
    }
}

/// A page of summaries as MailHog messages; `total` picks the count MailHog calls
/// total (all messages for the list, the matches for a search).
fn messages(store: &Store, page: MessagePage, total: impl Fn(&MessagePage) -> u64) -> Result<Messages, StoreError> {
    let mut items = Vec::with_capacity(page.messages.len());
    for summary in &page.messages {
        // One deleted between the page's read and this one is left out.
        items.extend(message(store, summary)?);
    }
    Ok(Messages { total: total(&page), count: items.len() as u64, start: page.start, items })
}

fn message(store: &Store, summary: &MessageSummary) -> Result<Option<Message>, StoreError> {
    let Some(raw) = store.raw(&summary.id)? else { return Ok(None) };
    let envelope = store.envelope(&summary.id)?.unwrap_or_default();
    Ok(Some(build(summary.id.clone(), summary.created, &raw, envelope)))
}

/// A stored message in MailHog's shape.
fn build(id: MessageId, created: OffsetDateTime, raw: &[u8], envelope: Envelope) -> Message {
    let data = String::from_utf8_lossy(raw).into_owned();
    let mut content = content(&data);
    let mime = content.mime.take();
    Message {
        id,
        from: path(&envelope.mail_from),
        to: envelope.rcpt_to.iter().map(|to| path(to)).collect(),
        content,
        created,
        mime,
        raw: SmtpMessage { from: envelope.mail_from, to: envelope.rcpt_to, data, helo: envelope.helo },
    }
}

/// MailHog's `PathFromString`: `relay,relay:mailbox@domain`.
fn path(path: &str) -> Path {
    let (relays, address) = match path.split_once(':') {
        Some((relays, address)) => (Some(relays.split(',').map(String::from).collect()), address),
        None => (None, path),
    };
    let (mailbox, domain) = address.split_once('@').unwrap_or((address, ""));
    Path { relays, mailbox: mailbox.to_string(), domain: domain.to_string(), params: String::new() }
}

/// MailHog's `ContentFromString`: headers up to the first empty line (folded lines
/// joined, values as written), the rest as the body, and a multipart body's parts.
/// Unlike MailHog, a repeated header keeps all its values, and LF-only lines (an
/// imported file) are read too.
fn content(data: &str) -> Content {
    let separator = [data.find("\r\n\r\n").map(|at| (at, 4)), data.find("\n\n").map(|at| (at, 2))]
        .into_iter()
        .flatten()
        .min_by_key(|&(at, _)| at);
    let Some((at, length)) = separator else {
        return Content { headers: BTreeMap::new(), body: data.to_string(), size: data.len(), mime: None };
    };
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut last: Option<String> = None;
    for line in data[..at].lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(value) = last.as_ref().and_then(|name| headers.get_mut(name)?.last_mut()) {
                value.push_str(line);
            }
        } else if let Some((name, value)) = line.split_once(": ") {
            headers.entry(name.to_string()).or_default().push(value.to_string());
            last = Some(name.to_string());
        }
    }
    let body = data[at + length..].to_string();
    let mime = multipart_boundary(&headers).map(|boundary| MimeBody { parts: parts(&body, &boundary) });
    Content { headers, body, size: data.len(), mime }
}

/// The boundary of a `multipart/*` Content-Type.
fn multipart_boundary(headers: &BTreeMap<String, Vec<String>>) -> Option<String> {
    let (_, values) = headers.iter().find(|(name, _)| name.eq_ignore_ascii_case("content-type"))?;
    let mut params = values.first()?.split(';');
    if !params.next()?.trim().to_ascii_lowercase().starts_with("multipart/") {
        return None;
    }
    params.find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim().eq_ignore_ascii_case("boundary").then(|| value.trim().trim_matches('"').to_string())
    })
}

/// MailHog's `ParseMIMEBody`: the pieces between `--boundary` lines (the preamble
/// and what follows the closing boundary dropped), each trimmed of line breaks.
fn parts(body: &str, boundary: &str) -> Vec<Content> {
    let pieces: Vec<&str> = body.split(&format!("--{boundary}")).collect();
    if pieces.len() < 2 {
        return Vec::new();
    }
    pieces[1..pieces.len() - 1]
        .iter()
        .filter(|piece| !piece.is_empty())
        .map(|piece| content(piece.trim_matches(['\r', '\n'])))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_like_mailhog() {
        let p = path("bob@example.com");
        assert_eq!((p.relays, p.mailbox.as_str(), p.domain.as_str()), (None, "bob", "example.com"));
        let p = path("@relay1,@relay2:bob@example.com");
        assert_eq!(p.relays, Some(vec!["@relay1".to_string(), "@relay2".to_string()]));
        assert_eq!((p.mailbox.as_str(), p.domain.as_str()), ("bob", "example.com"));
        let p = path("");
        assert_eq!((p.mailbox.as_str(), p.domain.as_str()), ("", ""));
    }

    #[test]
    fn headers_unfold_and_keep_every_value() {
        let c = content("Subject: a long\r\n subject\r\nReceived: one\r\nReceived: two\r\n\r\nbody\r\n");
        assert_eq!(c.headers["Subject"], ["a long subject"]);
        assert_eq!(c.headers["Received"], ["one", "two"]);
        assert_eq!(c.body, "body\r\n");
        assert!(c.mime.is_none());
        let c = content("no header block at all");
        assert!(c.headers.is_empty());
        assert_eq!(c.body, "no header block at all");
    }

    #[test]
    fn multipart_bodies_split_at_boundaries() {
        let data = "Content-Type: multipart/mixed;\r\n boundary=\"outer\"\r\n\r\npreamble\r\n--outer\r\n\
                    Content-Type: multipart/alternative; boundary=inner\r\n\r\n--inner\r\n\
                    Content-Type: text/plain\r\n\r\nhello\r\n--inner--\r\n\r\n--outer\r\n\
                    Content-Disposition: attachment; filename=\"a.txt\"\r\n\r\nfile\r\n--outer--\r\n";
        let c = content(data);
        let parts = c.mime.unwrap().parts;
        assert_eq!(parts.len(), 2);
        let inner = parts[0].mime.as_ref().unwrap();
        assert_eq!(inner.parts.len(), 1);
        assert_eq!(inner.parts[0].body, "hello");
        assert_eq!(parts[1].headers["Content-Disposition"], ["attachment; filename=\"a.txt\""]);
        assert_eq!(parts[1].body, "file");
        assert_eq!(
            parts[1].size,
            parts[1].body.len() + "Content-Disposition: attachment; filename=\"a.txt\"\r\n\r\n".len()
        );
    }
}
