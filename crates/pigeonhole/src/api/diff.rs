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
//!
//! `visual=1` (GET only: only stored messages can be screenshot) adds the visual
//! diff: both messages' screenshots (`width=`, `view=`, `dark=` as the screenshot
//! route takes them, through its cache) compared pixel by pixel
//! ([`crate::diff::visual`]), equal when at most `threshold=` percent changed.
//! `GET /api/v1/diff.png` is the difference image itself.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

use super::error::{ApiError, ErrorBody, Ext};
use super::message::load;
use super::{ApiState, screenshot};
use crate::archive::import;
use crate::diff::visual::{self, PixelComparison};
use crate::diff::{self, DiffOptions, DiffReport, Side, VisualDiff};
use crate::model::Envelope;
use crate::screenshot::{Capture, Request};

/// What a query value escapes in the URLs the report gives: all but RFC 3986's
/// unreserved characters, so `as-sent` stays readable.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

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
    /// `true` or `1`: compare the screenshots too.
    visual: Option<String>,
    width: Option<String>,
    view: Option<String>,
    dark: Option<String>,
    /// The percentage of changed pixels still called equal.
    threshold: Option<String>,
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
        DiffOptions { ignore_headers, include_volatile: yes(self.volatile.as_deref()) }
    }

    /// The `threshold=` parameter: a percentage, 0 when absent.
    fn threshold(&self) -> Result<f64, ApiError> {
        let Some(threshold) = self.threshold.as_deref() else { return Ok(0.0) };
        threshold.trim().parse().ok().filter(|p: &f64| (0.0..=100.0).contains(p)).ok_or_else(|| {
            ApiError::bad_request(format!(
                "threshold {threshold:?} is not a percentage from 0 to 100 (`0.5` for half a percent); \
                 leave it out to call only identical screenshots equal"
            ))
        })
    }
}

/// A flag parameter: `true` or `1`.
fn yes(flag: Option<&str>) -> bool {
    matches!(flag.map(str::trim), Some("true" | "1"))
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
        ("visual" = Option<String>, Query, description = "`true` or `1`: compare both messages' screenshots too (the `Visual` section); `Equal` then also needs `Visual.Equal`"),
        ("width" = Option<u32>, Query, description = "With `visual`: the window's width in CSS pixels, 200 to 2000 (default 600)"),
        ("view" = Option<String>, Query, description = "With `visual`: the mail client's view, as the screenshot route takes it"),
        ("dark" = Option<String>, Query, description = "With `visual`: the dark mode, as the screenshot route takes it"),
        ("threshold" = Option<f64>, Query, description = "With `visual`: the percentage of changed pixels still called equal, 0 to 100 (default 0)"),
    ),
    responses(
        (status = 200, description = "The report", body = DiffReport),
        (status = 400, description = "`a` or `b` missing, or a `width`, `threshold`, `view` or `dark` out of range", body = ErrorBody),
        (status = 404, description = "No such message, or (with `visual`) one has no HTML part", body = ErrorBody),
        (status = 501, description = "With `visual`: no browser; install Chromium or set --browser", body = ErrorBody),
        (status = 502, description = "With `visual`: the browser would not start, or failed while rendering", body = ErrorBody),
        (status = 503, description = "With `visual`: too many screenshots waiting; try again", body = ErrorBody),
        (status = 504, description = "With `visual`: a page took longer than the timeout to render", body = ErrorBody),
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
    let visual = if yes(query.visual.as_deref()) {
        let threshold = query.threshold()?;
        let screenshots = Screenshots::of(&query)?;
        let (a_png, b_png) = screenshots.take(&state, &a.label, &b.label).await?;
        let found = pixels(a_png, b_png).await?;
        Some(screenshots.section(&a.label, &b.label, threshold, &found))
    } else {
        None
    };
    let report = report(a, b, query.options()).await?;
    Ok(match visual {
        Some(visual) => Json(report.0.with_visual(visual)),
        None => report,
    })
}

/// The difference image of two stored messages' screenshots: B's greyed, the
/// changed pixels in magenta, the size of both together.
#[utoipa::path(
    get,
    path = "/api/v1/diff.png",
    tag = "message",
    params(
        ("a" = String, Query, description = "The first message's ID, or `latest`"),
        ("b" = String, Query, description = "The second message's ID, or `latest`"),
        ("width" = Option<u32>, Query, description = "The window's width in CSS pixels, 200 to 2000 (default 600)"),
        ("view" = Option<String>, Query, description = "The mail client's view, as the screenshot route takes it"),
        ("dark" = Option<String>, Query, description = "The dark mode, as the screenshot route takes it"),
    ),
    responses(
        (status = 200, description = "The difference image", body = String, content_type = "image/png"),
        (status = 400, description = "`a` or `b` missing, or a `width`, `view` or `dark` out of range", body = ErrorBody),
        (status = 404, description = "No such message, or one has no HTML part", body = ErrorBody),
        (status = 501, description = "No browser: install Chromium or set --browser", body = ErrorBody),
        (status = 502, description = "The browser would not start, or failed while rendering", body = ErrorBody),
        (status = 503, description = "Too many screenshots waiting; try again", body = ErrorBody),
        (status = 504, description = "A page took longer than the timeout to render", body = ErrorBody),
    )
)]
pub async fn difference_image(
    State(state): State<ApiState>,
    Ext(Query(query)): Ext<Query<DiffQuery>>,
) -> Result<Response, ApiError> {
    let (Some(a), Some(b)) = (query.a.clone(), query.b.clone()) else {
        return Err(ApiError::bad_request("name both messages: ?a=ID&b=ID (an ID or `latest`)"));
    };
    let screenshots = Screenshots::of(&query)?;
    let (a, ()) = load(&state, a, None, |_, _| Ok(Some(()))).await?;
    let (b, ()) = load(&state, b, None, |_, _| Ok(Some(()))).await?;
    let (a_png, b_png) = screenshots.take(&state, a.as_str(), b.as_str()).await?;
    Ok(screenshot::png(pixels(a_png, b_png).await?.difference_png))
}

/// Which screenshots the visual diff compares.
struct Screenshots {
    width: u32,
    view: Option<String>,
    dark: Option<String>,
}

impl Screenshots {
    fn of(query: &DiffQuery) -> Result<Screenshots, ApiError> {
        let given =
            |value: &Option<String>| value.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
        Ok(Screenshots {
            width: screenshot::width(query.width.as_deref())?,
            view: given(&query.view),
            dark: given(&query.dark),
        })
    }

    /// Both messages' screenshots (IDs, not `latest`), one after the other: the
    /// engine renders one at a time anyway.
    async fn take(&self, state: &ApiState, a: &str, b: &str) -> Result<(Arc<Capture>, Arc<Capture>), ApiError> {
        let request = |message_id| Request {
            message_id,
            width: self.width,
            view: self.view.as_deref(),
            dark: self.dark.as_deref(),
        };
        let a = screenshot::capture(state, &request(a)).await?;
        let b = screenshot::capture(state, &request(b)).await?;
        Ok((a, b))
    }

    /// The query string naming these screenshots, after `a` and `b` or an ID.
    fn query(&self) -> String {
        let mut query = format!("width={}", self.width);
        for (name, value) in [("view", &self.view), ("dark", &self.dark)] {
            if let Some(value) = value {
                query.push_str(&format!("&{name}={}", utf8_percent_encode(value, QUERY_VALUE)));
            }
        }
        query
    }

    fn section(&self, a: &str, b: &str, threshold: f64, found: &PixelComparison) -> VisualDiff {
        let changed_percent = found.changed_percent();
        let query = self.query();
        VisualDiff {
            width: self.width,
            view: self.view.clone().unwrap_or_else(|| "as-sent".to_string()),
            dark: self.dark.clone().unwrap_or_else(|| "none".to_string()),
            threshold,
            a_width: found.a_width,
            a_height: found.a_height,
            b_width: found.b_width,
            b_height: found.b_height,
            changed_pixels: found.changed_pixels,
            total_pixels: found.total_pixels,
            changed_percent,
            equal: changed_percent <= threshold,
            a_url: format!("/api/v1/message/{a}/screenshot.png?{query}"),
            b_url: format!("/api/v1/message/{b}/screenshot.png?{query}"),
            difference_url: format!("/api/v1/diff.png?a={a}&b={b}&{query}"),
        }
    }
}

/// The pixel comparison, on the blocking pool: decoding and encoding PNGs is CPU work.
async fn pixels(a: Arc<Capture>, b: Arc<Capture>) -> Result<PixelComparison, ApiError> {
    tokio::task::spawn_blocking(move || visual::compare(&a.png, &b.png))
        .await
        .map_err(|err| ApiError::internal(format!("the visual diff failed: {err}")))?
        .map_err(|err| ApiError::internal(format!("a screenshot could not be decoded: {err}")))
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
        (status = 400, description = "Neither or both of `a` and `b`, the body is not mail, or `visual` (only stored messages can be screenshot: import the file first)", body = ErrorBody),
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
    if yes(query.visual.as_deref()) {
        return Err(ApiError::bad_request(
            "only stored messages can be screenshot: import the file first (POST it to /api/v1/import, or Import… \
             in the UI), then compare the two IDs with GET /api/v1/diff?a=ID&b=ID&visual=1",
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
