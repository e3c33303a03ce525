//! `GET /api/v1/message/{ID}/screenshot.png` (ours): the HTML preview as a PNG,
//! rendered by a headless browser ([`crate::screenshot`]). The document is exactly
//! what `/view/{ID}.html?embed=1` answers (with `view=` and `dark=` passed on as
//! given), fetched in-process from the same handlers, as are the message's own
//! parts it shows; the browser has no network, so remote content never loads.
//! [`capture_unstored`] does the same for a message that is not stored (the visual
//! diff of a posted `.eml` file): the view and part code over its bytes.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::error::{ApiError, ErrorBody, Ext};
use super::message::{MessageQuery, load};
use super::view::ViewQuery;
use super::{ApiState, message, view};
use crate::mail::detail;
use crate::model::Access;
use crate::screenshot::{Capture, Request, ScreenshotError};

/// Said when the page was taller than the cap and the screenshot stops there.
const SCREENSHOT_CUT: HeaderName = HeaderName::from_static("x-pigeonhole-screenshot-cut");

/// How long a request refused for a full queue is told to wait (`Retry-After`):
/// about as long as the renders ahead of it take to drain a few places.
const BUSY_RETRY_SECONDS: u32 = 2;

/// The window's width when none is asked for: a typical mail client's column.
const DEFAULT_WIDTH: u32 = 600;
const WIDTHS: std::ops::RangeInclusive<u32> = 200..=2000;

#[derive(Deserialize)]
pub struct ScreenshotQuery {
    /// With `latest`: the newest message matching this search.
    query: Option<String>,
    width: Option<String>,
    view: Option<String>,
    dark: Option<String>,
}

/// A PNG of the message's HTML as the preview shows it, the whole page tall (up to
/// a cap). The first one starts the browser (about a second); the same message
/// and parameters again are answered from a cache.
#[utoipa::path(
    get,
    path = "/api/v1/message/{ID}/screenshot.png",
    tag = "message",
    params(
        ("width" = Option<u32>, Query, description = "The window's width in CSS pixels, 200 to 2000 (default 600); one pixel of the PNG each"),
        ("view" = Option<String>, Query, description = "Passed on to `/view/{ID}.html?embed=1` as given (a mail client's view), which validates it"),
        ("dark" = Option<String>, Query, description = "Passed on to `/view/{ID}.html?embed=1` as given (a dark mode), which validates it"),
    ),
    responses(
        (status = 200, description = "The screenshot. Remote images, sheets and fonts never load: the browser has no network", body = String, content_type = "image/png",
            headers(("X-Pigeonhole-Screenshot-Cut" = String, description = "When the page is taller than the cap (16,384 px by default): how tall it is and where the PNG stops"))),
        (status = 400, description = "A width outside 200..=2000, or a `view` or `dark` the view route refuses", body = ErrorBody),
        (status = 404, description = "No such message, or it has no HTML part", body = ErrorBody),
        (status = 501, description = "No browser: install Chromium or set --browser", body = ErrorBody),
        (status = 502, description = "The browser would not start, or failed while rendering", body = ErrorBody),
        (status = 503, description = "Too many screenshots waiting; try again after `Retry-After` seconds", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds to wait before asking again"))),
        (status = 504, description = "The page took longer than the timeout (10 s by default) to render", body = ErrorBody),
    )
)]
pub async fn screenshot(
    State(state): State<ApiState>,
    access: Access,
    Ext(Path(id)): Ext<Path<String>>,
    Ext(Query(q)): Ext<Query<ScreenshotQuery>>,
) -> Result<Response, ApiError> {
    let width = width(q.width.as_deref())?;
    // `latest` resolved first: the document's part URLs and the cache name the ID.
    let (id, ()) = load(&state, &access, id, q.query, |_, _| Ok(Some(()))).await?;
    let request = Request { message_id: id.as_str(), width, view: q.view.as_deref(), dark: q.dark.as_deref() };
    let capture = match state.screenshots.take(&pages(&state), &request).await {
        Ok(capture) => capture,
        Err(ScreenshotError::Document(answer)) => return Ok(passed_on(answer)),
        Err(err) => return Err(refused(&err)),
    };
    let cut = (capture.page_height > capture.height).then(|| {
        [(
            SCREENSHOT_CUT,
            format!("the page is {} px tall; the screenshot stops at {} px", capture.page_height, capture.height),
        )]
    });
    Ok((cut, png(capture.png.clone())).into_response())
}

/// A PNG answer, shown by browsers as an image and nothing else.
pub(super) fn png(bytes: Vec<u8>) -> Response {
    (
        [
            (CONTENT_TYPE, "image/png"),
            (CONTENT_SECURITY_POLICY, "sandbox; default-src 'none'"),
            // The message may be deleted; the engine keeps its own cache.
            (CACHE_CONTROL, "no-store"),
        ],
        bytes,
    )
        .into_response()
}

/// The `width=` parameter: [`DEFAULT_WIDTH`] when absent, 400 outside [`WIDTHS`].
pub(super) fn width(width: Option<&str>) -> Result<u32, ApiError> {
    match width {
        None => Ok(DEFAULT_WIDTH),
        Some(width) => width.parse().ok().filter(|width| WIDTHS.contains(width)).ok_or_else(|| {
            ApiError::bad_request(format!(
                "width {width:?} is not a number of pixels from {} to {}; leave it out for {DEFAULT_WIDTH}",
                WIDTHS.start(),
                WIDTHS.end()
            ))
        }),
    }
}

/// The screenshot of a stored message (an ID, not `latest`), as an API error when
/// there is none: the view route's refusal keeps its status and message.
pub(super) async fn capture(state: &ApiState, request: &Request<'_>) -> Result<Arc<Capture>, ApiError> {
    as_api_error(state.screenshots.take(&pages(state), request).await)
}

/// The screenshot of a message that is not stored (a posted `.eml` file), from its
/// bytes: the same view and part code as a stored message's, answered from `raw`
/// instead of the store. `request.message_id` is ignored: the page is named by a
/// hash of the bytes, which also keys the screenshot cache. The screenshot is
/// published there ([`crate::screenshot::Screenshots::publish`]) under the key
/// returned with it, for the report's URL.
pub(super) async fn capture_unstored(
    state: &ApiState,
    raw: Arc<Vec<u8>>,
    request: &Request<'_>,
) -> Result<(String, Arc<Capture>), ApiError> {
    let name = unstored_key(&raw);
    let request = Request { message_id: &name, ..*request };
    let capture = as_api_error(state.screenshots.take(&unstored_pages(raw, name.clone()), &request).await)?;
    let key = crate::screenshot::key(&request);
    state.screenshots.publish(key.clone(), capture.clone());
    Ok((key, capture))
}

/// A message's name for its page and part URLs, from its bytes: letters and digits,
/// like an ID, and never one (an ID is 22 characters).
fn unstored_key(raw: &[u8]) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(raw);
    let hex: String = digest.iter().take(16).map(|byte| format!("{byte:02x}")).collect();
    format!("file{hex}")
}

fn as_api_error(taken: Result<Arc<Capture>, ScreenshotError>) -> Result<Arc<Capture>, ApiError> {
    match taken {
        Ok(capture) => Ok(capture),
        Err(ScreenshotError::Document(answer)) => {
            let message = serde_json::from_slice::<serde_json::Value>(&answer.body)
                .ok()
                .and_then(|body| body["Error"].as_str().map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&answer.body).trim().to_string());
            Err(ApiError::new(answer.status, message))
        }
        Err(err) => Err(refused(&err)),
    }
}

/// Why there is no screenshot, as the client is told; a full queue says when to
/// try again.
fn refused(err: &ScreenshotError) -> ApiError {
    let refusal = ApiError::new(status(err), err.to_string());
    match err {
        ScreenshotError::Busy(_) => refusal.retry_after(BUSY_RETRY_SECONDS),
        _ => refusal,
    }
}

/// What the browser may load, answered in-process: the preview's document and the
/// message's parts, by the API's own handlers (and nothing else of the API).
fn pages(state: &ApiState) -> Router {
    Router::new()
        .route("/view/{file}", get(view::show))
        .route("/api/v1/message/{id}/part/{part}", get(message::part))
        .with_state(state.clone())
}

/// What the browser may load for a message that is not stored, named `key`: its
/// document (`/view/{key}.html`) and its parts, from its bytes, by the view and part
/// routes' own code.
fn unstored_pages(raw: Arc<Vec<u8>>, key: String) -> Router {
    let document = {
        let (raw, key) = (raw.clone(), key.clone());
        move |headers: HeaderMap,
              Ext(Path(file)): Ext<Path<String>>,
              Ext(Query(q)): Ext<Query<MessageQuery>>,
              Ext(Query(view_query)): Ext<Query<ViewQuery>>| {
            let (raw, key) = (raw.clone(), key.clone());
            async move {
                if file != format!("{key}.html") {
                    return Err(ApiError::not_found("Not found"));
                }
                view::unstored_html(raw, key, headers, q, view_query).await
            }
        }
    };
    let part = move |Ext(Path((id, part_id))): Ext<Path<(String, String)>>| {
        let (raw, named) = (raw.clone(), id == key);
        async move {
            if !named {
                return Err(ApiError::not_found("Part not found"));
            }
            let part = tokio::task::spawn_blocking(move || detail::part(&raw, &part_id))
                .await
                .map_err(|err| ApiError::internal(format!("reading the part failed: {err}")))?;
            message::part_answer(part)
        }
    };
    Router::new().route("/view/{file}", get(document)).route("/api/v1/message/{id}/part/{part}", get(part))
}

/// The view route's own error answer, as it gave it.
fn passed_on(answer: crate::screenshot::Answer) -> Response {
    let content_type = answer.headers.iter().find(|(name, _)| name == "content-type").map(|(_, value)| value.clone());
    let mut response = (answer.status, answer.body).into_response();
    if let Some(content_type) = content_type.and_then(|value| value.parse().ok()) {
        response.headers_mut().insert(CONTENT_TYPE, content_type);
    }
    response
}

fn status(err: &ScreenshotError) -> StatusCode {
    match err {
        ScreenshotError::NoBrowser(_) => StatusCode::NOT_IMPLEMENTED,
        ScreenshotError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
        ScreenshotError::TimedOut(_) => StatusCode::GATEWAY_TIMEOUT,
        ScreenshotError::Launch(..) | ScreenshotError::Browser(_) => StatusCode::BAD_GATEWAY,
        ScreenshotError::Document(answer) => answer.status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_says_when_to_try_again_and_other_refusals_do_not() {
        let busy = refused(&ScreenshotError::Busy(64)).into_response();
        assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(busy.headers()[axum::http::header::RETRY_AFTER], BUSY_RETRY_SECONDS.to_string().as_str());
        let timed_out = refused(&ScreenshotError::TimedOut(std::time::Duration::from_secs(10))).into_response();
        assert_eq!(timed_out.status(), StatusCode::GATEWAY_TIMEOUT);
        assert!(!timed_out.headers().contains_key(axum::http::header::RETRY_AFTER));
    }
}
