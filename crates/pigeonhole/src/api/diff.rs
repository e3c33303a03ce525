//! `GET /api/v1/diff?a=ID&b=ID` (ours): what changed between two stored messages,
//! as one [`DiffReport`] ([`crate::diff`]), for the UI's compare view and
//! `pigeonhole diff`. `POST /api/v1/diff?a=ID` compares a stored message with an
//! `.eml` file sent as the body (`Content-Type: message/rfc822`), which is then
//! `b`; `?b=ID` makes the file `a`. IDs may be `latest`. Nothing is stored and no
//! message is marked read.
//!
//! `ignore=H,…` sets headers aside besides the volatile ones (a name ending in `*`
//! covers a prefix); `volatile=true` compares the volatile ones too. A file's check
//! report reads its envelope from its headers, as an import would store it.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;

use super::ApiState;
use super::error::{ApiError, ErrorBody, Ext};
use super::message::load;
use crate::archive::import;
use crate::diff::{self, DiffOptions, DiffReport, Side};
use crate::model::Envelope;

#[derive(Deserialize)]
pub struct DiffQuery {
    /// A message's ID, or `latest`.
    a: Option<String>,
    /// A message's ID, or `latest`.
    b: Option<String>,
    /// Header names to set aside, comma separated.
    ignore: Option<String>,
    /// `true` or `1`: compare the volatile headers too.
    volatile: Option<String>,
    /// POST: the posted file's name, to call it by in the report.
    name: Option<String>,
}

impl DiffQuery {
    fn options(&self) -> DiffOptions {
        let ignore_headers = self
            .ignore
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_string)
            .collect();
        let include_volatile = matches!(self.volatile.as_deref().map(str::trim), Some("true" | "1"));
        DiffOptions { ignore_headers, include_volatile }
    }
}

/// A message to compare: its label, bytes and envelope.
struct Loaded {
    label: String,
    raw: Vec<u8>,
    envelope: Envelope,
}

/// What changed from message `a` to message `b`.
#[utoipa::path(
    get,
    path = "/api/v1/diff",
    tag = "message",
    params(
        ("a" = String, Query, description = "The first message's ID, or `latest`"),
        ("b" = String, Query, description = "The second message's ID, or `latest`"),
        ("ignore" = Option<String>, Query, description = "Header names to set aside besides the volatile ones, comma separated (`X-Campaign,X-Trace-*`)"),
        ("volatile" = Option<String>, Query, description = "`true` or `1`: compare the volatile headers (Date, Message-ID, Received, …) too"),
    ),
    responses(
        (status = 200, description = "The report", body = DiffReport),
        (status = 400, description = "`a` or `b` missing", body = ErrorBody),
        (status = 404, description = "No such message", body = ErrorBody),
    )
)]
pub async fn compare(
    State(state): State<ApiState>,
    Ext(Query(query)): Ext<Query<DiffQuery>>,
) -> Result<Json<DiffReport>, ApiError> {
    let (Some(a), Some(b)) = (query.a.clone(), query.b.clone()) else {
        return Err(ApiError::bad_request(
            "name both messages: ?a=ID&b=ID (an ID or `latest`); to compare with a file, POST it with ?a=ID",
        ));
    };
    let a = stored(&state, a).await?;
    let b = stored(&state, b).await?;
    report(a, b, query.options()).await
}

/// What changed between a stored message and an `.eml` file.
#[utoipa::path(
    post,
    path = "/api/v1/diff",
    tag = "message",
    params(
        ("a" = Option<String>, Query, description = "The stored message (ID or `latest`) the file is compared with; the file is `b`"),
        ("b" = Option<String>, Query, description = "Instead of `a`: the stored message is `b` and the file `a`"),
        ("ignore" = Option<String>, Query, description = "Header names to set aside besides the volatile ones, comma separated"),
        ("volatile" = Option<String>, Query, description = "`true` or `1`: compare the volatile headers too"),
        ("name" = Option<String>, Query, description = "The file's name, to call it by in the report"),
    ),
    request_body(description = "The .eml file's bytes", content((String = "message/rfc822"))),
    responses(
        (status = 200, description = "The report", body = DiffReport),
        (status = 400, description = "Neither or both of `a` and `b`, or the body is not mail", body = ErrorBody),
        (status = 404, description = "No such message", body = ErrorBody),
        (status = 415, description = "Another Content-Type", body = ErrorBody),
    )
)]
pub async fn compare_file(
    State(state): State<ApiState>,
    Ext(Query(query)): Ext<Query<DiffQuery>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<DiffReport>, ApiError> {
    let media_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !media_type.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("message/rfc822") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the .eml file's bytes with Content-Type message/rfc822",
        ));
    }
    let body = body.map_err(ApiError::from)?;
    let mut messages = import::messages_in(&body).map_err(|err| ApiError::bad_request(err.to_string()))?;
    let (Some(raw), None) = (messages.pop(), messages.first()) else {
        return Err(ApiError::bad_request(
            "the body is an mbox file of several messages: send one message's .eml file",
        ));
    };
    let message = import::new_message(raw);
    let file = Loaded {
        label: query.name.clone().filter(|name| !name.trim().is_empty()).unwrap_or_else(|| "file".to_string()),
        raw: message.raw,
        envelope: message.envelope,
    };
    let options = query.options();
    match (query.a, query.b) {
        (Some(a), None) => report(stored(&state, a).await?, file, options).await,
        (None, Some(b)) => report(file, stored(&state, b).await?, options).await,
        _ => Err(ApiError::bad_request(
            "name the stored message once: ?a=ID (the file is then b) or ?b=ID (the file is then a)",
        )),
    }
}

impl Loaded {
    fn side(&self) -> Side<'_> {
        Side { label: &self.label, raw: &self.raw, envelope: &self.envelope }
    }
}

/// A stored message (`latest` included) with its envelope; 404 when there is none.
async fn stored(state: &ApiState, id: String) -> Result<Loaded, ApiError> {
    let (id, (raw, envelope)) = load(state, id, None, |store, id| {
        let Some(raw) = store.raw(id)? else { return Ok(None) };
        Ok(store.envelope(id)?.map(|envelope| (raw, envelope)))
    })
    .await?;
    Ok(Loaded { label: id.to_string(), raw, envelope })
}

/// The report, made on the blocking pool: parsing and diffing is CPU work.
async fn report(a: Loaded, b: Loaded, options: DiffOptions) -> Result<Json<DiffReport>, ApiError> {
    tokio::task::spawn_blocking(move || diff::compare(a.side(), b.side(), &options))
        .await
        .map(Json)
        .map_err(|err| ApiError::internal(format!("the diff failed: {err}")))
}
