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
//!   Its Content-Security-Policy allows no scripts at all. `?view=` renders it as
//!   one mail client family shows it ([`client_view`]: `as-sent`, the default,
//!   `gmail`, `outlook`, `outlook-com`, `apple-mail`, `yahoo`, `gmail-android`),
//!   and `X-Pigeonhole-View-Removed` says what that view took out (the JSON of
//!   `GET /api/v1/message/{ID}/view-notes`, percent-encoded). `?dark=` is the dark
//!   mode: `none` (the default), `partial` and `full` ([`dark_mode`]), `prefers`
//!   (the message's `prefers-color-scheme: dark` rules; `1` is its older name).
//!   An unknown view or dark mode is a 400 that lists the valid ones.
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

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HOST, REFERRER_POLICY};
use axum::http::{HeaderMap, HeaderName};
use axum::response::{IntoResponse, Response};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde::Deserialize;

use super::ApiState;
use super::error::{ApiError, ErrorBody, Ext};
use super::message::{MessageQuery, load};
use crate::mail::client_view::{self, ClientView, DarkMode, ViewNotes};
use crate::mail::render::ColorScheme;
use crate::mail::{dark_mode, detail, highlight, render};
use crate::model::Access;

/// How many remote resources the HTML document refers to.
const REMOTE_CONTENT: HeaderName = HeaderName::from_static("x-pigeonhole-remote-content");

/// What was cut from the HTML to render the document, when something was.
const HTML_CUT: HeaderName = HeaderName::from_static("x-pigeonhole-html-cut");

/// What the client view took out: [`ViewNotes`] as JSON, percent-encoded.
const VIEW_REMOVED: HeaderName = HeaderName::from_static("x-pigeonhole-view-removed");

/// What the removal header percent-encodes: controls, non-ASCII (always), and `%`.
const HEADER_UNSAFE: &AsciiSet = &CONTROLS.add(b'%');

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
    /// With `embed=1`: the mail client to render it as.
    view: Option<String>,
}

/// `?view=`: a client view, `as-sent` when absent; anything else a 400 naming them.
fn parse_view(name: Option<&str>) -> Result<ClientView, ApiError> {
    let Some(name) = name else { return Ok(ClientView::AsSent) };
    ClientView::parse(name).ok_or_else(|| {
        let valid: Vec<&str> = ClientView::ALL.iter().map(|view| view.name()).collect();
        ApiError::bad_request(format!("Unknown view {name:?}: use one of {}", valid.join(", ")))
    })
}

/// `?dark=`: a dark mode, `none` when absent; anything else a 400 naming them.
fn parse_dark(name: Option<&str>) -> Result<DarkMode, ApiError> {
    let Some(name) = name else { return Ok(DarkMode::None) };
    DarkMode::parse(name).ok_or_else(|| {
        let valid: Vec<&str> = DarkMode::ALL.iter().map(|mode| mode.name()).collect();
        ApiError::bad_request(format!("Unknown dark mode {name:?}: use one of {} (or 1 for prefers)", valid.join(", ")))
    })
}

/// `/view/{file}`: `{ID}.txt` is [`text`], `{ID}.html` is [`html`]; any other
/// name is not found.
pub async fn show(
    state: State<ApiState>,
    access: Access,
    headers: HeaderMap,
    Ext(Path(file)): Ext<Path<String>>,
    Ext(Query(q)): Ext<Query<MessageQuery>>,
    Ext(Query(view_query)): Ext<Query<ViewQuery>>,
) -> Result<Response, ApiError> {
    let named = |suffix| file.strip_suffix(suffix).filter(|id: &&str| !id.is_empty()).map(str::to_string);
    match (named(".txt"), named(".html")) {
        (Some(id), _) => text(state, access, id, q).await,
        (_, Some(id)) => html(state, access, headers, id, q, view_query).await,
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
pub(super) async fn text(
    State(state): State<ApiState>,
    access: Access,
    id: String,
    q: MessageQuery,
) -> Result<Response, ApiError> {
    let (_, text) = load(&state, &access, id, q.query, |store, id| {
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
        ("view" = Option<String>, Query, description = "With `embed=1`: the mail client to render it as: `as-sent` \
            (default), `gmail`, `outlook`, `outlook-com`, `apple-mail`, `yahoo`, `gmail-android` (an approximation \
            from caniemail's data)"),
        ("dark" = Option<String>, Query, description = "With `embed=1`: the dark mode: `none` (default), `partial` \
            (light backgrounds and dark text flipped), `full` (every colour inverted), `prefers` (the message's \
            `prefers-color-scheme: dark` rules; `1` is the same)"),
        ("highlight" = Option<String>, Query, description = "A CSS selector (a check's `Where.Element`): the first element it matches gets `id=\"pigeonhole-highlight\"` and an outline; a selector that matches nothing leaves the document unchanged"),
    ),
    responses(
        (status = 200, description = "The message's HTML part as a document", body = String, content_type = "text/html",
            headers(("X-Pigeonhole-Remote-Content" = u64, description = "How many remote resources it refers to"),
                ("X-Pigeonhole-Html-Cut" = String, description = "With `embed=1`, when the HTML was too deep or \
                    too large to render whole: what was left out (the document says so at its top too)"),
                ("X-Pigeonhole-View-Removed" = String, description = "With `embed=1`: what the view took out, \
                    the JSON of `/api/v1/message/{ID}/view-notes` (ViewNotes), percent-encoded"))),
        (status = 400, description = "An unknown `view` or `dark`: the message lists the valid ones", body = ErrorBody),
        (status = 404, description = "No such message, or it has no HTML part", body = ErrorBody),
    )
)]
pub(super) async fn html(
    State(state): State<ApiState>,
    access: Access,
    headers: HeaderMap,
    id: String,
    q: MessageQuery,
    view_query: ViewQuery,
) -> Result<Response, ApiError> {
    let view = HtmlView::of(&q, view_query)?;
    // Rendering parses the HTML twice; it runs on the blocking pool with the read.
    let (id, rendered) = load(&state, &access, id, q.query, move |store, id| {
        let Some(raw) = store.raw(id)? else { return Ok(None) };
        Ok(Some((view.render(&raw, id.as_str()), view)))
    })
    .await?;
    let (rendered, view) = rendered;
    view.answer(rendered, headers.get(HOST).and_then(|host| host.to_str().ok()), id.as_str())
}

/// `/view/{key}.html` of a message that is not stored (a posted `.eml` file, for the
/// visual diff's screenshot): the same document from its bytes, its parts under
/// `/api/v1/message/{key}/part/`, answered from the same bytes by the caller.
pub(super) async fn unstored_html(
    raw: std::sync::Arc<Vec<u8>>,
    key: String,
    headers: HeaderMap,
    q: MessageQuery,
    view_query: ViewQuery,
) -> Result<Response, ApiError> {
    let view = HtmlView::of(&q, view_query)?;
    let (rendered, view, key) = tokio::task::spawn_blocking(move || (view.render(&raw, &key), view, key))
        .await
        .map_err(|err| ApiError::internal(format!("rendering the message failed: {err}")))?;
    view.answer(rendered, headers.get(HOST).and_then(|host| host.to_str().ok()), &key)
}

/// One `/view/{ID}.html` request's parameters, read and checked.
struct HtmlView {
    embed: bool,
    remote: bool,
    client_view: ClientView,
    dark: DarkMode,
    highlight: Option<String>,
}

impl HtmlView {
    fn of(q: &MessageQuery, view_query: ViewQuery) -> Result<HtmlView, ApiError> {
        Ok(HtmlView {
            embed: view_query.embed.as_deref() == Some("1"),
            remote: q.remote.as_deref() == Some("1"),
            client_view: parse_view(view_query.view.as_deref())?,
            dark: parse_dark(q.dark.as_deref())?,
            highlight: view_query.highlight,
        })
    }

    /// Message `id`'s document from its bytes, and what its client view took out;
    /// `None` when it has no HTML part.
    fn render(&self, raw: &[u8], id: &str) -> Option<(render::Rendered, Option<ViewNotes>)> {
        let (html, content_ids) = detail::html_body_and_content_ids(raw)?;
        let part_urls: HashMap<String, String> = content_ids
            .into_iter()
            .map(|(content_id, part_id)| (content_id, format!("{}{part_id}", parts_path(id))))
            .collect();
        let (rendered, notes) = if self.embed {
            let client = client_view::apply(self.client_view, &html);
            let scheme = if self.dark == DarkMode::Prefers { ColorScheme::Dark } else { ColorScheme::AsBrowser };
            let rendered = render::html_document(&client.html, part_urls, scheme);
            let document = dark_mode::apply(rendered.document, self.dark);
            (render::Rendered { document, ..rendered }, Some(client.notes))
        } else {
            (render::html_part(&html, part_urls), None)
        };
        let rendered = match &self.highlight {
            Some(selector) => {
                render::Rendered { document: highlight::highlight(rendered.document, selector), ..rendered }
            }
            None => rendered,
        };
        Some((rendered, notes))
    }

    /// The answer for message `id`'s rendered document, under its policy and headers.
    fn answer(
        &self,
        rendered: Option<(render::Rendered, Option<ViewNotes>)>,
        host: Option<&str>,
        id: &str,
    ) -> Result<Response, ApiError> {
        let (rendered, notes) = rendered.ok_or_else(|| ApiError::not_found("Message has no HTML part"))?;
        let policy = match (self.embed, self.remote) {
            (true, false) => BLOCK_REMOTE_POLICY.to_string(),
            (true, true) => ALLOW_REMOTE_POLICY.to_string(),
            (false, false) => part_policy(host, id),
            (false, true) => format!("{SANDBOX}{ALLOW_REMOTE_POLICY}"),
        };
        let cut = rendered.cut.map(|cut| [(HTML_CUT, cut.to_string())]);
        let removed = notes.map(|notes| {
            let json = serde_json::to_string(&notes).unwrap_or_default();
            [(VIEW_REMOVED, utf8_percent_encode(&json, HEADER_UNSAFE).to_string())]
        });
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
            removed,
            rendered.document,
        )
            .into_response())
    }
}

/// What `/view/{ID}.html?embed=1&view=` takes out of a message, for the notes
/// beside the preview (the same as its `X-Pigeonhole-View-Removed`).
#[utoipa::path(
    get,
    path = "/api/v1/message/{ID}/view-notes",
    tag = "message",
    params(
        ("ID" = String, Path, description = "Message ID, or `latest`"),
        ("view" = Option<String>, Query, description = "The client view: `as-sent` (default), `gmail`, `outlook`, \
            `outlook-com`, `apple-mail`, `yahoo`, `gmail-android`"),
    ),
    responses(
        (status = 200, description = "What the view removed", body = ViewNotes),
        (status = 400, description = "An unknown `view`: the message lists the valid ones", body = ErrorBody),
        (status = 404, description = "No such message, or it has no HTML part", body = ErrorBody),
    )
)]
pub async fn notes(
    State(state): State<ApiState>,
    access: Access,
    Ext(Path(id)): Ext<Path<String>>,
    Ext(Query(q)): Ext<Query<MessageQuery>>,
    Ext(Query(view_query)): Ext<Query<ViewQuery>>,
) -> Result<Json<ViewNotes>, ApiError> {
    let client_view = parse_view(view_query.view.as_deref())?;
    let (_, notes) = load(&state, &access, id, q.query, move |store, id| {
        let Some(raw) = store.raw(id)? else { return Ok(None) };
        Ok(Some(detail::html_body_and_content_ids(&raw).map(|(html, _)| client_view::apply(client_view, &html).notes)))
    })
    .await?;
    notes.map(Json).ok_or_else(|| ApiError::not_found("Message has no HTML part"))
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
