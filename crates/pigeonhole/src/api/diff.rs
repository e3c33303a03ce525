//! `GET /api/v1/diff?a=ID&b=ID` (ours): what changed between two stored messages,
//! as one [`DiffReport`] ([`crate::diff`]), for the UI's compare view and
//! `pigeonhole diff`. `POST /api/v1/diff?a=ID` compares a stored message with an
//! `.eml` file sent as the body (`Content-Type: message/rfc822`), which is then
//! `b`; `?b=ID` makes the file `a`. IDs may be `latest`. `POST /api/v1/diff` with a
//! JSON body ([`DiffFiles`]: two files, base64) compares two files, neither stored.
//! Nothing is stored and no message is marked read.
//!
//! `ignore=H,…` sets headers aside besides the volatile ones (a name ending in `*`
//! covers a prefix); `volatile=true` compares the volatile ones too. A file's check
//! report reads its envelope from its headers, as an import would store it.
//!
//! `visual=1` adds the visual diff: both messages' screenshots (`width=`, `view=`,
//! `dark=` as the screenshot route takes them, through its cache) compared pixel by
//! pixel ([`crate::diff::visual`]), equal when at most `threshold=` percent changed;
//! they then judge the HTML body in place of its DOM diff ([`DiffReport::verdicts`]).
//! A posted file is rendered from its bytes by the view route's code, never stored
//! ([`screenshot::capture_unstored`]; cached by a hash of the bytes).
//! `GET /api/v1/diff.png` is the difference image of two stored messages. When a
//! side is a file, its screenshot and the difference image are published in the
//! screenshot cache under opaque keys, and the report's URLs name them:
//! `GET /api/v1/diff/capture/{KEY}.png` answers them from the cache only, while
//! they are there (nothing else: the key never reaches the filesystem).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

use super::error::{ApiError, ErrorBody, Ext};
use super::message::load;
use super::{ApiState, screenshot};
use crate::archive::import;
use crate::diff::visual::{self, PixelComparison};
use crate::diff::{self, DiffOptions, DiffReport, Side, VisualDiff};
use crate::model::{Access, Envelope};
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
    #[serde(flatten)]
    visual: VisualQuery,
}

/// The visual diff's parameters, the same on GET and POST.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VisualQuery {
    /// `true` or `1`: compare both messages' screenshots too (the `Visual` section),
    /// which then judge the HTML body: `Equal` needs `Visual.Equal` instead of
    /// `Html.Lines.Equal` (the DOM diff stays in the report with `Html.Counted` false)
    /// and `Structure.EqualApartFromHtml` instead of `Structure.Lines.Equal`; headers,
    /// text and checks count as without it.
    visual: Option<String>,
    /// With `visual`: the window's width in CSS pixels, 200 to 2000 (default 600).
    #[param(value_type = Option<u32>)]
    width: Option<String>,
    /// With `visual`: the mail client's view, as the screenshot route takes it.
    view: Option<String>,
    /// With `visual`: the dark mode, as the screenshot route takes it.
    dark: Option<String>,
    /// With `visual`: the percentage of changed pixels still called equal, 0 to 100
    /// (default 0).
    #[param(value_type = Option<f64>)]
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
        let Some(threshold) = self.visual.threshold.as_deref() else { return Ok(0.0) };
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

/// A message to compare: its label, bytes and envelope, and whether it is stored
/// (its label is then its ID) or a posted file.
struct Loaded {
    label: String,
    raw: Arc<Vec<u8>>,
    envelope: Envelope,
    stored: bool,
}

/// Two `.eml` files to compare, neither stored: `POST /api/v1/diff`'s JSON body.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct DiffFiles {
    pub a: DiffFile,
    pub b: DiffFile,
}

/// One `.eml` file of [`DiffFiles`].
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct DiffFile {
    /// What to call it in the report (its file name).
    pub name: String,
    /// The file's bytes, base64 (the standard alphabet, padded).
    pub eml: String,
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
        VisualQuery,
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
    access: Access,
    Ext(Query(query)): Ext<Query<DiffQuery>>,
) -> Result<Json<DiffReport>, ApiError> {
    let (Some(a), Some(b)) = (query.a.clone(), query.b.clone()) else {
        return Err(ApiError::bad_request(
            "name both messages: ?a=ID&b=ID (an ID or `latest`); to compare with a file, POST it with ?a=ID",
        ));
    };
    let a = stored(&state, &access, a).await?;
    let b = stored(&state, &access, b).await?;
    respond(&state, &query, a, b).await
}

/// The report of `a` against `b`, with the visual diff when `visual=1` asks for it.
async fn respond(state: &ApiState, query: &DiffQuery, a: Loaded, b: Loaded) -> Result<Json<DiffReport>, ApiError> {
    let visual = if yes(query.visual.visual.as_deref()) {
        let threshold = query.threshold()?;
        let screenshots = Screenshots::of(query)?;
        let (a_shot, b_shot) = (screenshots.take(state, &a).await?, screenshots.take(state, &b).await?);
        let found = pixels(a_shot.1, b_shot.1).await?;
        let a = Shot { side: &a, key: a_shot.0 };
        let b = Shot { side: &b, key: b_shot.0 };
        let difference_url = if a.side.stored && b.side.stored {
            format!("/api/v1/diff.png?a={}&b={}&{}", a.side.label, b.side.label, screenshots.query())
        } else {
            // Both sides' keys name the width, view and dark mode too.
            let key = crate::screenshot::key_of(&format!("difference {} {}", a.key, b.key));
            let height = found.a_height.max(found.b_height);
            let png = found.difference_png.clone();
            state.screenshots.publish(key.clone(), Arc::new(Capture { png, height, page_height: height }));
            capture_url(&key)
        };
        Some(screenshots.section(&a, &b, threshold, &found, difference_url))
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
    access: Access,
    Ext(Query(query)): Ext<Query<DiffQuery>>,
) -> Result<Response, ApiError> {
    let (Some(a), Some(b)) = (query.a.clone(), query.b.clone()) else {
        return Err(ApiError::bad_request("name both messages: ?a=ID&b=ID (an ID or `latest`)"));
    };
    let screenshots = Screenshots::of(&query)?;
    let (a, b) = (stored(&state, &access, a).await?, stored(&state, &access, b).await?);
    let (a_shot, b_shot) = (screenshots.take(&state, &a).await?, screenshots.take(&state, &b).await?);
    Ok(screenshot::png(pixels(a_shot.1, b_shot.1).await?.difference_png))
}

/// A posted file's screenshot or a difference image a visual diff's report names
/// (`AUrl`, `BUrl`, `DifferenceUrl`), from the screenshot cache while it is there.
#[utoipa::path(
    get,
    path = "/api/v1/diff/capture/{file}",
    tag = "message",
    params(
        ("file" = String, Path, description = "The key the report's URL names, then `.png`"),
    ),
    responses(
        (status = 200, description = "The PNG", body = String, content_type = "image/png"),
        (status = 404, description = "No such key, or the PNG is no longer cached: compare again", body = ErrorBody),
    )
)]
pub async fn published_capture(
    State(state): State<ApiState>,
    Ext(Path(file)): Ext<Path<String>>,
) -> Result<Response, ApiError> {
    file.strip_suffix(".png")
        .and_then(|key| state.screenshots.published(key))
        .map(|capture| screenshot::png(capture.png.clone()))
        .ok_or_else(|| ApiError::not_found("the screenshot is no longer cached; compare again"))
}

/// Where [`published_capture`] answers the PNG published under `key`.
fn capture_url(key: &str) -> String {
    format!("/api/v1/diff/capture/{key}.png")
}

/// A side of a visual diff and the cache key of its screenshot.
struct Shot<'a> {
    side: &'a Loaded,
    key: String,
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
            width: screenshot::width(query.visual.width.as_deref())?,
            view: given(&query.visual.view),
            dark: given(&query.visual.dark),
        })
    }

    /// A message's screenshot: a stored one's by its ID (not `latest`), a file's
    /// from its bytes. The engine renders one at a time anyway, so a caller takes
    /// both sides' one after the other. With its cache key; a file's is published.
    async fn take(&self, state: &ApiState, side: &Loaded) -> Result<(String, Arc<Capture>), ApiError> {
        let request = Request {
            message_id: &side.label,
            width: self.width,
            view: self.view.as_deref(),
            dark: self.dark.as_deref(),
        };
        if side.stored {
            Ok((crate::screenshot::key(&request), screenshot::capture(state, &request).await?))
        } else {
            screenshot::capture_unstored(state, side.raw.clone(), &request).await
        }
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

    /// The report's section: a stored message's screenshot by its route, a posted
    /// file's by its published key.
    fn section(
        &self,
        a: &Shot<'_>,
        b: &Shot<'_>,
        threshold: f64,
        found: &PixelComparison,
        difference_url: String,
    ) -> VisualDiff {
        let changed_percent = found.changed_percent();
        let query = self.query();
        let url = |shot: &Shot<'_>| {
            if shot.side.stored {
                format!("/api/v1/message/{}/screenshot.png?{query}", shot.side.label)
            } else {
                capture_url(&shot.key)
            }
        };
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
            a_url: url(a),
            b_url: url(b),
            difference_url,
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

/// What changed between a stored message and an `.eml` file, or between two files.
///
/// With `visual`, a file is rendered from its bytes exactly as a stored message's
/// preview, and never stored: its screenshot and the difference image are kept in
/// the screenshot cache for a while, and the report's `AUrl`, `BUrl` and
/// `DifferenceUrl` name them there (`/api/v1/diff/capture/{KEY}.png`).
#[utoipa::path(
    post,
    path = "/api/v1/diff",
    tag = "message",
    params(
        ("a" = Option<String>, Query, description = "With an .eml body: the stored message (ID or `latest`) the file is compared with; the file is `b`"),
        ("b" = Option<String>, Query, description = "With an .eml body, instead of `a`: the stored message is `b` and the file `a`"),
        ("ignore" = Option<String>, Query, description = "Header names to set aside besides the volatile ones, comma separated"),
        ("volatile" = Option<String>, Query, description = "`true` or `1`: compare the volatile headers too"),
        ("name" = Option<String>, Query, description = "With an .eml body: the file's name, to call it by in the report"),
        VisualQuery,
    ),
    request_body(description = "One .eml file's bytes (message/rfc822) compared with the stored message `a` or `b`; or two files as JSON (`DiffFiles`, no `a` or `b`)",
        content((String = "message/rfc822"), (DiffFiles = "application/json"))),
    responses(
        (status = 200, description = "The report", body = DiffReport),
        (status = 400, description = "With an .eml body neither or both of `a` and `b`; with JSON `a` or `b` given; a body that is not mail or not base64; a `width`, `threshold`, `view` or `dark` out of range", body = ErrorBody),
        (status = 404, description = "No such message, or (with `visual`) one has no HTML part", body = ErrorBody),
        (status = 415, description = "Another Content-Type", body = ErrorBody),
        (status = 501, description = "With `visual`: no browser; install Chromium or set --browser", body = ErrorBody),
        (status = 502, description = "With `visual`: the browser would not start, or failed while rendering", body = ErrorBody),
        (status = 503, description = "With `visual`: too many screenshots waiting; try again", body = ErrorBody),
        (status = 504, description = "With `visual`: a page took longer than the timeout to render", body = ErrorBody),
    )
)]
pub async fn compare_file(
    State(state): State<ApiState>,
    access: Access,
    Ext(Query(query)): Ext<Query<DiffQuery>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<DiffReport>, ApiError> {
    let media_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media_type = media_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if media_type == "application/json" {
        if query.a.is_some() || query.b.is_some() {
            return Err(ApiError::bad_request(
                "a JSON body holds both files (A and B): leave out ?a= and ?b=, or POST one file as \
                 message/rfc822 with ?a=ID to compare it with a stored message",
            ));
        }
        let files: DiffFiles = serde_json::from_slice(&body.map_err(ApiError::from)?).map_err(|err| {
            ApiError::bad_request(format!(
                "the body is not two files as JSON ({err}): send {{\"A\": {{\"Name\": \"a.eml\", \"Eml\": \"<base64>\"}}, \
                 \"B\": {{…}}}}"
            ))
        })?;
        let a = posted(&files.a.name, &decoded(&files.a)?)?;
        let b = posted(&files.b.name, &decoded(&files.b)?)?;
        return respond(&state, &query, a, b).await;
    }
    if media_type != "message/rfc822" {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the .eml file's bytes with Content-Type message/rfc822, or two files as application/json",
        ));
    }
    let body = body.map_err(ApiError::from)?;
    let name = query.name.clone().filter(|name| !name.trim().is_empty()).unwrap_or_else(|| "file".to_string());
    let file = posted(&name, &body)?;
    match (query.a.clone(), query.b.clone()) {
        (Some(a), None) => respond(&state, &query, stored(&state, &access, a).await?, file).await,
        (None, Some(b)) => respond(&state, &query, file, stored(&state, &access, b).await?).await,
        _ => Err(ApiError::bad_request(
            "name the stored message once: ?a=ID (the file is then b) or ?b=ID (the file is then a)",
        )),
    }
}

/// A JSON body's file, decoded.
fn decoded(file: &DiffFile) -> Result<Vec<u8>, ApiError> {
    BASE64.decode(file.eml.trim()).map_err(|err| {
        ApiError::bad_request(format!("{}'s Eml is not base64 ({err}): encode the file's bytes", file.name))
    })
}

/// A posted file as a side: one message (not an mbox of several), its envelope
/// from its headers as an import would make it.
fn posted(name: &str, bytes: &[u8]) -> Result<Loaded, ApiError> {
    let mut messages = import::messages_in(bytes).map_err(|err| ApiError::bad_request(err.to_string()))?;
    let (Some(raw), None) = (messages.pop(), messages.first()) else {
        return Err(ApiError::bad_request(
            "the body is an mbox file of several messages: send one message's .eml file",
        ));
    };
    let message = import::new_message(raw);
    Ok(Loaded { label: name.to_string(), raw: Arc::new(message.raw), envelope: message.envelope, stored: false })
}

impl Loaded {
    fn side(&self) -> Side<'_> {
        Side { label: &self.label, raw: &self.raw, envelope: &self.envelope }
    }
}

/// A stored message (`latest` included) with its envelope; 404 when there is none.
async fn stored(state: &ApiState, access: &Access, id: String) -> Result<Loaded, ApiError> {
    let (id, (raw, envelope)) = load(state, access, id, None, |store, id| {
        let Some(raw) = store.raw(id)? else { return Ok(None) };
        Ok(store.envelope(id)?.map(|envelope| (raw, envelope)))
    })
    .await?;
    Ok(Loaded { label: id.to_string(), raw: Arc::new(raw), envelope, stored: true })
}

/// The report, made on the blocking pool: parsing and diffing is CPU work.
async fn report(a: Loaded, b: Loaded, options: DiffOptions) -> Result<Json<DiffReport>, ApiError> {
    tokio::task::spawn_blocking(move || diff::compare(a.side(), b.side(), &options))
        .await
        .map(Json)
        .map_err(|err| ApiError::internal(format!("the diff failed: {err}")))
}
