//! The message's check report, `GET /api/v1/message/{ID}/checks` ([`crate::checks`]:
//! everything Pigeonhole can tell about what is wrong with it, scored), and
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
use crate::checks::{self, Extras};
use crate::mail::detail;
use crate::mail::htmlcheck::{self, HtmlCheck};
use crate::mail::linkcheck::{self, LinkCheck};
use crate::mail::spamassassin::{self, SpamCheck};
use crate::model::{Access, CheckReport};

#[derive(Deserialize)]
pub struct ChecksQuery {
    /// `true` or `1`: also check every link's status (network; `links.broken`).
    links: Option<String>,
}

/// The message's check report: score, counts, and every check with its severity,
/// what was found, how to fix it and where. DKIM, SPF and DMARC are verified with
/// the keys and records of `--dkim-keys`, and DNS only with `--dns-lookups`.
/// SpamAssassin's verdict is part of it when enabled; the links' statuses with
/// `?links=true`.
#[utoipa::path(
    get,
    path = "/api/v1/message/{ID}/checks",
    tag = "message",
    params(
        ("ID" = String, Path, description = "The message's ID, or `latest`"),
        ("links" = Option<String>, Query, description = "`true` or `1`: check every link's status too (SSRF-guarded as the link check)"),
    ),
    responses(
        (status = 200, description = "The report", body = CheckReport),
        (status = 404, description = "No such message", body = ErrorBody),
    )
)]
pub async fn checks(
    State(state): State<ApiState>,
    access: Access,
    Ext(Path(id)): Ext<Path<String>>,
    Ext(Query(q)): Ext<Query<MessageQuery>>,
    Ext(Query(options)): Ext<Query<ChecksQuery>>,
) -> Result<Json<CheckReport>, ApiError> {
    let check_links = is_on(options.links.as_deref());
    // The links are read with the message, on the blocking pool: finding them parses the HTML.
    let (_, (raw, envelope, urls)) = load(&state, &access, id, q.query, move |store, id| {
        let Some(raw) = store.raw(id)? else { return Ok(None) };
        let urls = check_links.then(|| message_urls(&raw));
        Ok(store.envelope(id)?.map(|envelope| (raw, envelope, urls)))
    })
    .await?;
    let mut extras = Extras::default();
    if let Some(urls) = urls {
        extras.link_statuses = Some(linkcheck::check(urls, false, state.allow_local_link_check).await);
    }
    if let Some(address) = state.spamassassin.clone() {
        extras.spam = Some(spamassassin::check(&address, &raw).await);
    }
    if let Some(verifier) = &state.authentication {
        extras.auth = Some(verifier.verify(&raw, &envelope).await);
    }
    // Parsing and walking the message is CPU work: on the blocking pool.
    let report = tokio::task::spawn_blocking(move || checks::report(&raw, &envelope, &extras))
        .await
        .map_err(|err| ApiError::internal(format!("the check report failed: {err}")))?;
    Ok(Json(report))
}

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
    access: Access,
    Ext(Path(id)): Ext<Path<String>>,
    Ext(Query(q)): Ext<Query<MessageQuery>>,
) -> Result<Json<HtmlCheck>, ApiError> {
    // Parsing and matching some 300 features is CPU work: on the blocking pool.
    let (_, report) = load(&state, &access, id, q.query, |store, id| {
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
    access: Access,
    Ext(Path(id)): Ext<Path<String>>,
    Ext(Query(q)): Ext<Query<MessageQuery>>,
    Ext(Query(options)): Ext<Query<LinkCheckQuery>>,
) -> Result<Json<LinkCheck>, ApiError> {
    let (_, urls) =
        load(&state, &access, id, q.query, |store, id| Ok(store.raw(id)?.map(|raw| message_urls(&raw)))).await?;
    Ok(Json(linkcheck::check(urls, is_on(options.follow.as_deref()), state.allow_local_link_check).await))
}

/// The http(s) URLs of a message's bodies, as the link check asks them.
fn message_urls(raw: &[u8]) -> Vec<String> {
    let (text, html) = detail::bodies(raw);
    linkcheck::urls(&text, &html)
}

/// A query flag as Mailpit reads it: `true` or `1`.
fn is_on(flag: Option<&str>) -> bool {
    matches!(flag, Some("true" | "1"))
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
    access: Access,
    Ext(Path(id)): Ext<Path<String>>,
    Ext(Query(q)): Ext<Query<MessageQuery>>,
) -> Result<Json<SpamCheck>, ApiError> {
    let Some(address) = state.spamassassin.clone() else {
        return Err(ApiError::not_found("SpamAssassin is not enabled")
            .with_note("start Pigeonhole with --enable-spamassassin <host:port>"));
    };
    let (_, raw) = load(&state, &access, id, q.query, |store, id| store.raw(id)).await?;
    Ok(Json(spamassassin::check(&address, &raw).await))
}
