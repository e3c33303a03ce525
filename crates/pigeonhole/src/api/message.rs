//! One message: `GET /api/v1/message/{ID}` (full view; marks it read unless another
//! site's page asked, see [`marks_read`]) and its
//! `/raw`, `/headers`, `/part/{PartID}` (any leaf part, bodies included),
//! `/part/{PartID}/thumb` (a 180×120 JPEG, [`crate::mail::thumb`]), and our
//! extensions `/parts` (the MIME tree) and `/envelope`.
//!
//! `{ID}` may be `latest`: the newest message, or the newest matching `?query=`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

use super::error::{ApiError, ErrorBody, Ext};
use super::{ApiState, read};
use crate::mail::detail::{self, MessageView, PartNode};
use crate::mail::thumb;
use crate::model::{Access, Envelope, MessageId};
use crate::store::{SearchQuery, Selection, Store, StoreError};

/// The `PartID` path parameter, as documented.
const PART_ID: &str = "The part's IMAP section number, as `PartID` in the message's JSON";

#[derive(Deserialize)]
pub struct MessageQuery {
    /// With `latest`: pick the newest message matching this search.
    pub(super) query: Option<String>,
    /// On `/raw`: `1` asks for a download.
    dl: Option<String>,
    /// On `/view/{ID}.html`: `1` lets remote images, sheets and fonts load.
    pub(super) remote: Option<String>,
    /// On `/view/{ID}.html`: `1` previews it as a mail client in dark mode would.
    pub(super) dark: Option<String>,
}

/// Resolve `id` (`latest` included: the newest `access` sees) and read
/// `load(store, id)` for it, in one trip to the blocking pool. Not the shape of an
/// ID, no such message, a message in an inbox `access` does not see, or `load`
/// found nothing: the same 404, so a foreign message is indistinguishable from a
/// missing one. Every route about one message goes through here.
pub(super) async fn load<T, F>(
    state: &ApiState,
    access: &Access,
    id: String,
    query: Option<String>,
    load: F,
) -> Result<(MessageId, T), ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Store, &MessageId) -> Result<Option<T>, StoreError> + Send + 'static,
{
    let access = access.clone();
    let found = read(state, move |store| {
        let id = if id == "latest" {
            let query = SearchQuery::from(query.unwrap_or_default().trim()).within(&access);
            match store.latest_id(&query)? {
                Some(id) => id,
                None => return Ok(None),
            }
        } else {
            match MessageId::parse(&id) {
                Some(id) if visible(store, &access, &id)? => id,
                _ => return Ok(None),
            }
        };
        Ok(load(store, &id)?.map(|value| (id, value)))
    })
    .await?;
    found.ok_or_else(|| ApiError::not_found("Message not found"))
}

/// Whether message `id` is stored in an inbox `access` sees.
pub(super) fn visible(store: &Store, access: &Access, id: &MessageId) -> Result<bool, StoreError> {
    match access {
        Access::All => Ok(true),
        Access::Inboxes(_) => Ok(store.summary(id)?.is_some_and(|summary| access.allows(&summary.inbox))),
    }
}

/// Whether a request for a message may mark it read. Mailpit's GET does, which lets
/// any web page flip the flag blindly with an `<img>` (no `Origin` on a GET, and an
/// answer it cannot read but need not). Browsers say where a request comes from in
/// `Sec-Fetch-Site`: only `same-origin` (the UI's own page, in a browser or the
/// desktop window) and `none` (the user opened the URL: typed, bookmarked) mark it;
/// `cross-site` and `same-site` (another port of this machine, `127.0.0.1:3000`
/// say: the app under development, or anything else served locally) read it as it
/// is. A request without the header is not a browser's, or a browser's that sends
/// none (older than 2023): curl and the API clients mark it read, as in Mailpit.
fn marks_read(headers: &HeaderMap) -> bool {
    match headers.get("sec-fetch-site").map(|v| v.as_bytes().to_ascii_lowercase()) {
        None => true,
        Some(site) => site == b"same-origin" || site == b"none",
    }
}

/// One message in full; opening it marks it read, unless another site asked (see
/// `Sec-Fetch-Site`).
#[utoipa::path(
    get,
    path = "/api/v1/message/{ID}",
    tag = "message",
    responses(
        (status = 200, description = "The message", body = MessageView),
    )
)]
pub async fn show(
    State(state): State<ApiState>,
    access: Access,
    headers: HeaderMap,
    Ext(Path(id)): Ext<Path<String>>,
    Ext(Query(q)): Ext<Query<MessageQuery>>,
) -> Result<Json<MessageView>, ApiError> {
    let (id, (view, was_read)) = load(&state, &access, id, q.query, |store, id| {
        let (Some(summary), Some(raw)) = (store.summary(id)?, store.raw(id)?) else {
            return Ok(None);
        };
        Ok(Some((detail::message(&summary, &raw), summary.read)))
    })
    .await?;
    // Opening a message marks it read, as in Mailpit; skip the write when it is.
    if !was_read && marks_read(&headers) {
        state.store.set_read(Selection::Ids(vec![id]), true).await?;
    }
    Ok(Json(view))
}

/// The exact stored bytes.
#[utoipa::path(
    get,
    path = "/api/v1/message/{ID}/raw",
    tag = "message",
    params(
        ("dl" = Option<String>, Query, description = "`1`: as a download (`Content-Disposition: attachment`)"),
    ),
    responses(
        (status = 200, description = "The message source", body = String, content_type = "text/plain"),
    )
)]
pub async fn raw(
    State(state): State<ApiState>,
    access: Access,
    Ext(Path(id)): Ext<Path<String>>,
    Ext(Query(q)): Ext<Query<MessageQuery>>,
) -> Result<Response, ApiError> {
    let (id, raw) = load(&state, &access, id, q.query, |store, id| store.raw(id)).await?;
    let content_type = [(CONTENT_TYPE, "text/plain; charset=utf-8".to_string())];
    Ok(if q.dl.as_deref() == Some("1") {
        // IDs are the store's own alphanumeric IDs, safe inside the quotes.
        let disposition = [(CONTENT_DISPOSITION, format!("attachment; filename=\"{id}.eml\""))];
        (content_type, disposition, raw).into_response()
    } else {
        (content_type, raw).into_response()
    })
}

/// The header fields, by canonical name, decoded.
#[utoipa::path(
    get,
    path = "/api/v1/message/{ID}/headers",
    tag = "message",
    responses(
        (status = 200, description = "Header name → values, in order", body = BTreeMap<String, Vec<String>>),
    )
)]
pub async fn headers(
    State(state): State<ApiState>,
    access: Access,
    Ext(Path(id)): Ext<Path<String>>,
    Ext(Query(q)): Ext<Query<MessageQuery>>,
) -> Result<Json<BTreeMap<String, Vec<String>>>, ApiError> {
    let (_, headers) =
        load(&state, &access, id, q.query, |store, id| Ok(store.raw(id)?.map(|raw| detail::headers(&raw)))).await?;
    Ok(Json(headers))
}

/// The whole MIME tree, for the UI's Parts tab.
#[utoipa::path(
    get,
    path = "/api/v1/message/{ID}/parts",
    tag = "message",
    responses(
        (status = 200, description = "The root of the MIME tree", body = PartNode),
    )
)]
pub async fn parts(
    State(state): State<ApiState>,
    access: Access,
    Ext(Path(id)): Ext<Path<String>>,
    Ext(Query(q)): Ext<Query<MessageQuery>>,
) -> Result<Json<PartNode>, ApiError> {
    let (_, tree) =
        load(&state, &access, id, q.query, |store, id| Ok(store.raw(id)?.map(|raw| detail::part_tree(&raw)))).await?;
    Ok(Json(tree))
}

/// One MIME part's decoded bytes under its own Content-Type.
#[utoipa::path(
    get,
    path = "/api/v1/message/{ID}/part/{PartID}",
    tag = "message",
    params(
        ("PartID" = String, Path, description = PART_ID),
    ),
    responses(
        (status = 200, description = "The part's decoded bytes under its own Content-Type (HTML and XML as \
            `application/octet-stream`)", body = String, content_type = "*/*"),
        (status = 404, description = "No such message or part", body = ErrorBody),
    )
)]
pub async fn part(
    State(state): State<ApiState>,
    access: Access,
    Ext(Path((id, part_id))): Ext<Path<(String, String)>>,
    Ext(Query(q)): Ext<Query<MessageQuery>>,
) -> Result<Response, ApiError> {
    let (_, part) =
        load(&state, &access, id, q.query, move |store, id| Ok(store.raw(id)?.map(|raw| detail::part(&raw, &part_id))))
            .await?;
    part_answer(part)
}

/// One part's answer, or 404 when the message has no such part: also how a message
/// that is not stored (a posted file's screenshot) serves its parts.
pub(super) fn part_answer(part: Option<detail::Part>) -> Result<Response, ApiError> {
    let part = part.ok_or_else(|| ApiError::not_found("Part not found"))?;

    // Types a browser would run as a document are only ever downloaded (as Mailpit
    // does); everything served here is sandboxed besides.
    let media_type = part.content_type.split(';').next().unwrap_or("").trim();
    let (content_type, disposition) = match media_type {
        "text/html" | "text/xml" | "application/xhtml+xml" | "image/svg+xml" | "application/xml" | "text/xsl" => {
            ("application/octet-stream".to_string(), "attachment")
        }
        _ => (part.content_type, "inline"),
    };
    Ok((
        [
            (CONTENT_TYPE, content_type),
            (CONTENT_DISPOSITION, content_disposition(disposition, &part.file_name)),
            (CONTENT_SECURITY_POLICY, "sandbox; default-src 'none'".to_string()),
        ],
        part.body,
    )
        .into_response())
}

/// A 180×120 JPEG of an image part (blank for anything else), made on the blocking
/// pool: decoding and scaling are CPU work.
#[utoipa::path(
    get,
    path = "/api/v1/message/{ID}/part/{PartID}/thumb",
    tag = "message",
    params(
        ("PartID" = String, Path, description = PART_ID),
    ),
    responses(
        (status = 200, description = "A 180×120 JPEG", body = String, content_type = "image/jpeg"),
        (status = 404, description = "No such message or part", body = ErrorBody),
    )
)]
pub async fn thumb(
    State(state): State<ApiState>,
    access: Access,
    Ext(Path((id, part_id))): Ext<Path<(String, String)>>,
    Ext(Query(q)): Ext<Query<MessageQuery>>,
) -> Result<Response, ApiError> {
    let (_, jpeg) = load(&state, &access, id, q.query, move |store, id| {
        Ok(store
            .raw(id)?
            .map(|raw| detail::part(&raw, &part_id).map(|part| thumb::thumbnail(&part.content_type, &part.body))))
    })
    .await?;
    let jpeg = jpeg.ok_or_else(|| ApiError::not_found("Part not found"))?;
    Ok(([(CONTENT_TYPE, "image/jpeg")], jpeg).into_response())
}

/// The SMTP envelope (MAIL FROM, RCPT TO, HELO, peer, TLS, AUTH user, transcript).
#[utoipa::path(
    get,
    path = "/api/v1/message/{ID}/envelope",
    tag = "message",
    responses(
        (status = 200, description = "The envelope", body = Envelope),
    )
)]
pub async fn envelope(
    State(state): State<ApiState>,
    access: Access,
    Ext(Path(id)): Ext<Path<String>>,
    Ext(Query(q)): Ext<Query<MessageQuery>>,
) -> Result<Json<Envelope>, ApiError> {
    let (_, envelope) = load(&state, &access, id, q.query, |store, id| store.envelope(id)).await?;
    Ok(Json(envelope))
}

/// `inline; filename="…"; filename*=UTF-8''…` (RFC 6266): an ASCII stand-in for old
/// clients, the exact name for the rest.
fn content_disposition(disposition: &str, file_name: &str) -> String {
    if file_name.is_empty() {
        return disposition.to_string();
    }
    let ascii: String = file_name
        .chars()
        .map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' })
        .collect();
    let exact = utf8_percent_encode(file_name, NON_ALPHANUMERIC);
    format!("{disposition}; filename=\"{ascii}\"; filename*=UTF-8''{exact}")
}

#[cfg(test)]
mod tests {
    use super::content_disposition;

    #[test]
    fn dispositions() {
        assert_eq!(content_disposition("inline", ""), "inline");
        assert_eq!(
            content_disposition("attachment", "r\u{e9}sum\u{e9} \"1\".pdf"),
            "attachment; filename=\"r_sum_ _1_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%221%22%2Epdf"
        );
    }
}
