//! Single bodies for the UI and integration tests. `{ID}` may be `latest` (with
//! `?query=`), as on the `/api/v1/message/{ID}` routes.
//!
//! * `GET /view/{ID}.txt`: the text part as plain text.
//! * `GET /view/{ID}.html`: the HTML part as a sanitized standalone document
//!   ([`crate::mail::render`]) for the UI's sandboxed frame. Its
//!   Content-Security-Policy allows no scripts at all, and no remote images, sheets
//!   or fonts unless `?remote=1`; `X-Pigeonhole-Remote-Content` says how many remote
//!   resources the document refers to (the UI asks with `HEAD` to offer loading them).
//!   `?dark=1` renders it as a mail client in dark mode shows it.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::HeaderName;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY};
use axum::response::{IntoResponse, Response};

use super::ApiState;
use super::error::{ApiError, Ext};
use super::message::{MessageQuery, load};
use crate::mail::render::ColorScheme;
use crate::mail::{render, view};

/// How many remote resources the HTML document refers to.
const REMOTE_CONTENT: HeaderName = HeaderName::from_static("x-pigeonhole-remote-content");

/// The HTML document's policy: images and fonts from our own parts or `data:`,
/// inline styles; nothing else (no scripts, no remote loads, no forms).
const BLOCK_REMOTE_POLICY: &str = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; \
     font-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'";

/// With `?remote=1`: remote images, sheets and fonts too; still no scripts.
const ALLOW_REMOTE_POLICY: &str = "default-src 'none'; img-src * data:; style-src * 'unsafe-inline'; \
     font-src * data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'";

/// `/view/{file}`: `{ID}.txt` is the text part, `{ID}.html` the HTML part; any
/// other name is not found.
pub async fn show(
    State(state): State<ApiState>,
    Ext(Path(file)): Ext<Path<String>>,
    Ext(Query(q)): Ext<Query<MessageQuery>>,
) -> Result<Response, ApiError> {
    let named = |suffix| file.strip_suffix(suffix).filter(|id: &&str| !id.is_empty()).map(str::to_string);
    if let Some(id) = named(".txt") {
        let (_, text) = load(&state, id, q.query, |store, id| {
            let (Some(summary), Some(raw)) = (store.summary(id)?, store.raw(id)?) else {
                return Ok(None);
            };
            Ok(Some(view::message(&summary, &raw).text))
        })
        .await?;
        // Like Mailpit: a message without text answers 200 with an empty body
        // (clients such as mailpit-api treat any other status as an error).
        return Ok(([(CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response());
    }
    let Some(id) = named(".html") else {
        return Err(ApiError::not_found("Not found"));
    };

    let scheme = if q.dark.as_deref() == Some("1") { ColorScheme::Dark } else { ColorScheme::AsBrowser };
    // Rendering parses the HTML twice; it runs on the blocking pool with the read.
    let (_, rendered) = load(&state, id, q.query, move |store, id| {
        let Some(raw) = store.raw(id)? else { return Ok(None) };
        Ok(Some(view::html_body_and_content_ids(&raw).map(|(html, content_ids)| {
            let part_urls: HashMap<String, String> = content_ids
                .into_iter()
                .map(|(content_id, part_id)| (content_id, format!("/api/v1/message/{id}/part/{part_id}")))
                .collect();
            render::html_document(&html, part_urls, scheme)
        })))
    })
    .await?;
    let rendered = rendered.ok_or_else(|| ApiError::not_found("Message has no HTML part"))?;
    let policy = if q.remote.as_deref() == Some("1") { ALLOW_REMOTE_POLICY } else { BLOCK_REMOTE_POLICY };
    Ok((
        [
            (CONTENT_TYPE, "text/html; charset=utf-8".to_string()),
            (CONTENT_SECURITY_POLICY, policy.to_string()),
            (REMOTE_CONTENT, rendered.remote_resources.to_string()),
            (REFERRER_POLICY, "no-referrer".to_string()),
            // The same URL answers differently with `?remote=`, and the message may go.
            (CACHE_CONTROL, "no-store".to_string()),
        ],
        rendered.document,
    )
        .into_response())
}
