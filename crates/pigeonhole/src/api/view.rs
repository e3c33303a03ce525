//! Single bodies for the UI and integration tests. `{ID}` may be `latest` (with
//! `?query=`), as on the `/api/v1/message/{ID}` routes.
//!
//! * `GET /view/{ID}.txt`: the text part as plain text.
//! * `GET /view/{ID}.html`: as Mailpit, the HTML part as sent, with only its `cid:`
//!   URLs made the API's part URLs ([`render::html_part`]). It is served under a
//!   policy that keeps it harmless even opened in a browser tab of its own: a CSP
//!   `sandbox` (no scripts, no same-origin), nothing loads but the message's own
//!   parts (and `data:`) and inline styles.
//! * `GET /view/{ID}.html?embed=1`: Mailpit's embeddable document; ours is the
//!   sanitized standalone document ([`render::html_document`]) the UI shows in its
//!   sandboxed frame, every link with `target="_blank" rel="noreferrer noopener"`.
//!   Its Content-Security-Policy allows no scripts at all. `?dark=1` renders it as
//!   a mail client in dark mode shows it.
//!
//! * `?highlight=<CSS selector>`: the first element it matches marked and outlined
//!   ([`highlight::highlight`]), for the UI's Checks tab (loaded at `#pigeonhole-highlight`).
//!
//! Both: no remote images, sheets or fonts unless `?remote=1`, and
//! `X-Pigeonhole-Remote-Content` says how many remote resources the HTML refers to
//! (the UI asks with `HEAD` to offer loading them).
//!
//! The sanitized document of HTML too deep or too large to render whole
//! ([`crate::mail::html_bounds`]) carries a note at its top saying what was left
//! out, and `X-Pigeonhole-Html-Cut` says the same.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HOST, REFERRER_POLICY};
use axum::http::{HeaderMap, HeaderName};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::ApiState;
use super::error::{ApiError, ErrorBody, Ext};
use super::message::{MessageQuery, load};
use crate::mail::render::ColorScheme;
use crate::mail::{detail, highlight, render};

/// How many remote resources the HTML document refers to.
const REMOTE_CONTENT: HeaderName = HeaderName::from_static("x-pigeonhole-remote-content");

/// What was cut from the HTML to render the document, when something was.
const HTML_CUT: HeaderName = HeaderName::from_static("x-pigeonhole-html-cut");

/// The HTML document's policy: images and fonts from our own parts or `data:`,
/// inline styles; nothing else (no scripts, no remote loads, no forms).
const BLOCK_REMOTE_POLICY: &str = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; \
     font-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'";

/// With `?remote=1`: remote images, sheets and fonts too; still no scripts.
const ALLOW_REMOTE_POLICY: &str = "default-src 'none'; img-src * data:; style-src * 'unsafe-inline'; \
     font-src * data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'";

/// The HTML part as sent ([`part_policy`]) is, besides the above, a sandbox: an
/// opaque origin where no script runs, no form is sent and no window opens. (CSP
/// sandboxing works on a top-level page as well as in a frame.)
const SANDBOX: &str = "sandbox; ";

/// What `/view/{ID}.html` takes besides [`MessageQuery`].
#[derive(Deserialize)]
pub struct ViewQuery {
    /// `1`: Mailpit's embeddable document, for us the sanitized one.
    embed: Option<String>,
    /// A CSS selector: the element it names is marked.
    highlight: Option<String>,
}

/// `/view/{file}`: `{ID}.txt` is [`text`], `{ID}.html` is [`html`]; any other
/// name is not found.
pub async fn show(
    state: State<ApiState>,
    headers: HeaderMap,
    Ext(Path(file)): Ext<Path<String>>,
    Ext(Query(q)): Ext<Query<MessageQuery>>,
    Ext(Query(view_query)): Ext<Query<ViewQuery>>,
) -> Result<Response, ApiError> {
    let named = |suffix| file.strip_suffix(suffix).filter(|id: &&str| !id.is_empty()).map(str::to_string);
    match (named(".txt"), named(".html")) {
        (Some(id), _) => text(state, id, q).await,
        (_, Some(id)) => html(state, headers, id, q, view_query).await,
        _ => Err(ApiError::not_found("Not found")),
    }
}

#[utoipa::path(
    get,
    path = "/view/{ID}.txt",
    tag = "message",
    responses(
        (status = 200, description = "The message's text part", body = String, content_type = "text/plain"),
    )
)]
pub(super) async fn text(State(state): State<ApiState>, id: String, q: MessageQuery) -> Result<Response, ApiError> {
    let (_, text) = load(&state, id, q.query, |store, id| {
        let (Some(summary), Some(raw)) = (store.summary(id)?, store.raw(id)?) else {
            return Ok(None);
        };
        Ok(Some(detail::message(&summary, &raw).text))
    })
    .await?;
    Ok(([(CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

#[utoipa::path(
    get,
    path = "/view/{ID}.html",
    tag = "message",
    params(
        ("embed" = Option<String>, Query, description = "`1`: the sanitized document the UI shows in its frame"),
        ("remote" = Option<String>, Query, description = "`1`: let remote images, style sheets and fonts load"),
        ("dark" = Option<String>, Query, description = "With `embed=1`: as a mail client in dark mode shows it"),
        ("highlight" = Option<String>, Query, description = "A CSS selector (a check's `Where.Element`): the first element it matches gets `id=\"pigeonhole-highlight\"` and an outline; a selector that matches nothing leaves the document unchanged"),
    ),
    responses(
        (status = 200, description = "The message's HTML part as a document", body = String, content_type = "text/html",
            headers(("X-Pigeonhole-Remote-Content" = u64, description = "How many remote resources it refers to"),
                ("X-Pigeonhole-Html-Cut" = String, description = "With `embed=1`, when the HTML was too deep or \
                    too large to render whole: what was left out (the document says so at its top too)"))),
        (status = 404, description = "No such message, or it has no HTML part", body = ErrorBody),
    )
)]
pub(super) async fn html(
    State(state): State<ApiState>,
    headers: HeaderMap,
    id: String,
    q: MessageQuery,
    view_query: ViewQuery,
) -> Result<Response, ApiError> {
    let embed = view_query.embed.as_deref() == Some("1");
    let scheme = if q.dark.as_deref() == Some("1") { ColorScheme::Dark } else { ColorScheme::AsBrowser };
    // Rendering parses the HTML twice; it runs on the blocking pool with the read.
    let (id, rendered) = load(&state, id, q.query, move |store, id| {
        let Some(raw) = store.raw(id)? else { return Ok(None) };
        Ok(Some(detail::html_body_and_content_ids(&raw).map(|(html, content_ids)| {
            let part_urls: HashMap<String, String> = content_ids
                .into_iter()
                .map(|(content_id, part_id)| (content_id, format!("{}{part_id}", parts_path(id.as_str()))))
                .collect();
            let rendered = if embed {
                render::html_document(&html, part_urls, scheme)
            } else {
                render::html_part(&html, part_urls)
            };
            match &view_query.highlight {
                Some(selector) => {
                    render::Rendered { document: highlight::highlight(rendered.document, selector), ..rendered }
                }
                None => rendered,
            }
        })))
    })
    .await?;
    let rendered = rendered.ok_or_else(|| ApiError::not_found("Message has no HTML part"))?;
    let remote = q.remote.as_deref() == Some("1");
    let policy = match (embed, remote) {
        (true, false) => BLOCK_REMOTE_POLICY.to_string(),
        (true, true) => ALLOW_REMOTE_POLICY.to_string(),
        (false, false) => part_policy(headers.get(HOST).and_then(|host| host.to_str().ok()), id.as_str()),
        (false, true) => format!("{SANDBOX}{ALLOW_REMOTE_POLICY}"),
    };
    let cut = rendered.cut.map(|cut| [(HTML_CUT, cut.to_string())]);
    Ok((
        [
            (CONTENT_TYPE, "text/html; charset=utf-8".to_string()),
            (CONTENT_SECURITY_POLICY, policy),
            (REMOTE_CONTENT, rendered.remote_resources.to_string()),
            (REFERRER_POLICY, "no-referrer".to_string()),
            // The same URL answers differently with `?remote=`, and the message may go.
            (CACHE_CONTROL, "no-store".to_string()),
        ],
        cut,
        rendered.document,
    )
        .into_response())
}

/// Where message `id`'s parts are served: `/api/v1/message/{id}/part/`.
fn parts_path(id: &str) -> String {
    format!("/api/v1/message/{id}/part/")
}

/// The policy for the HTML part as sent, with remote content blocked: a sandbox,
/// images and fonts only from message `id`'s own part URLs (or `data:`), inline
/// styles, nothing else. Unlike the sanitized document's `'self'`, this keeps an
/// image of the message from reaching any other URL of the API (say, marking
/// messages read). The part URLs are named by the request's `Host` (scheme-less,
/// so the page's own scheme); a `Host` that cannot be written into a policy as it
/// is (absent, an IPv6 address, stray characters) leaves `data:` alone.
pub(super) fn part_policy(host: Option<&str>, id: &str) -> String {
    let is_host_name =
        |name: &str| !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    let is_plain_host = |host: &str| match host.split_once(':') {
        Some((name, port)) => is_host_name(name) && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()),
        None => is_host_name(host),
    };
    let parts = match host {
        Some(host) if is_plain_host(host) && id.bytes().all(|b| b.is_ascii_alphanumeric()) => {
            format!("{host}{} ", parts_path(id))
        }
        _ => String::new(),
    };
    format!(
        "{SANDBOX}default-src 'none'; img-src {parts}data:; style-src 'unsafe-inline'; font-src {parts}data:; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
    )
}
