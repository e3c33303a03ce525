//! Mailpit's message checks: `GET /api/v1/message/{ID}/html-check` (which e-mail
//! clients support the HTML and CSS the message uses, [`crate::mail::htmlcheck`])
//! and `GET /api/v1/message/{ID}/link-check?follow=true` (the HTTP status of each
//! of its links, [`crate::mail::linkcheck`]) and `GET /api/v1/message/{ID}/sa-check`
//! (its SpamAssassin score, [`crate::mail::spamassassin`], when enabled). `{ID}` may
//! be `latest` (with `?query=`). None marks the message read.
//!
//! The link check is always on, as in Mailpit; links to this machine and its
//! networks are answered "refused: …" per link unless the engine runs with
//! `--allow-local-link-check`.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;

use super::ApiState;
use super::error::{ApiError, ErrorBody, Ext};
use super::message::{MessageQuery, load};
use crate::mail::detail;
use crate::mail::htmlcheck::{self, HtmlCheck};
use crate::mail::linkcheck::{self, LinkCheck};
use crate::mail::spamassassin::{self, SpamCheck};

/// Mailpit's HTML check: how well mail clients support the HTML and CSS used.
#[utoipa::path(
    get,
    path = "/api/v1/message/{ID}/html-check",
    tag = "message",
    responses(
        (status = 200, description = "The report", body = HtmlCheck),
        (status = 400, description = "The message has no HTML part", body = ErrorBody),
    )
)]
pub async fn html_check(
    State(state): State<ApiState>,
    Ext(Path(id)): Ext<Path<String>>,
    Ext(Query(q)): Ext<Query<MessageQuery>>,
) -> Result<Json<HtmlCheck>, ApiError> {
    // Parsing and matching some 300 features is CPU work: on the blocking pool.
    let (_, report) = load(&state, id, q.query, |store, id| {
        Ok(store.raw(id)?.map(|raw| {
            let (_, html) = detail::bodies(&raw);
            (!html.trim().is_empty()).then(|| htmlcheck::check(&html))
        }))
    })
    .await?;
    // Mailpit's words and status.
    report.map(Json).ok_or_else(|| ApiError::bad_request("message does not contain HTML"))
}

#[derive(Deserialize)]
pub struct LinkCheckQuery {
    /// `true` or `1`: follow redirects.
    follow: Option<String>,
}

/// Mailpit's link check: the status of every link in the message.
#[utoipa::path(
    get,
    path = "/api/v1/message/{ID}/link-check",
    tag = "message",
    params(("follow" = Option<String>, Query, description = "`true` or `1`: follow redirects")),
    responses((status = 200, description = "The report", body = LinkCheck))
)]
pub async fn link_check(
    State(state): State<ApiState>,
    Ext(Path(id)): Ext<Path<String>>,
    Ext(Query(q)): Ext<Query<MessageQuery>>,
    Ext(Query(options)): Ext<Query<LinkCheckQuery>>,
) -> Result<Json<LinkCheck>, ApiError> {
    let (_, urls) = load(&state, id, q.query, |store, id| {
        Ok(store.raw(id)?.map(|raw| {
            let (text, html) = detail::bodies(&raw);
            linkcheck::urls(&text, &html)
        }))
    })
    .await?;
    let follow = matches!(options.follow.as_deref(), Some("true" | "1"));
    Ok(Json(linkcheck::check(urls, follow, state.allow_local_link_check).await))
}

/// Mailpit's SpamAssassin check: the message's score and matched rules, from the
/// spamd given with `--enable-spamassassin`. Off, the route answers 404, as
/// Mailpit's (not registered then) does.
#[utoipa::path(
    get,
    path = "/api/v1/message/{ID}/sa-check",
    tag = "message",
    responses(
        (status = 200, description = "The result; `Error` says why there is none (spamd unreachable or failing)", body = SpamCheck),
        (status = 404, description = "No such message, or SpamAssassin is not enabled", body = ErrorBody),
    )
)]
pub async fn spamassassin_check(
    State(state): State<ApiState>,
    Ext(Path(id)): Ext<Path<String>>,
    Ext(Query(q)): Ext<Query<MessageQuery>>,
) -> Result<Json<SpamCheck>, ApiError> {
    let Some(address) = state.spamassassin.clone() else {
        return Err(ApiError::not_found("SpamAssassin is not enabled")
            .with_note("start Pigeonhole with --enable-spamassassin <host:port>"));
    };
    let (_, raw) = load(&state, id, q.query, |store, id| store.raw(id)).await?;
    Ok(Json(spamassassin::check(&address, &raw).await))
}
