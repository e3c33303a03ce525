//! Serves the web UI: the files of `ui/dist/`, embedded in the binary at build time
//! (`build.rs` builds them with Vite when stale), so one file serves everything.
//!
//! Any GET that no API route takes lands here: a file of the UI by its path, or,
//! for any other path outside `/api/` and `/view/`, the UI's `index.html` (the UI
//! keeps its state in the URL's hash, but a reload on a deep link should still
//! work). Vite names assets by content hash, so they are cached for a year;
//! `index.html` is always revalidated.

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_FRAME_OPTIONS};
use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use super::ApiState;
use super::error::ApiError;

#[derive(RustEmbed)]
#[folder = "../../ui/dist/"]
struct Assets;

/// The UI's own policy: only our origin, no inline or evaluated scripts, no
/// plugins, no `<base>`, no form posts, and no framing by anyone. Message HTML is
/// never part of this document: it is shown through `/view/{ID}.html` in a sandboxed
/// frame (`frame-src 'self'`) under a stricter policy of its own.
///
/// - `style-src 'unsafe-inline'`: Svelte sets `style` attributes (the splitter's
///   widths, the virtual list's offsets); styles cannot run script.
/// - `img-src data: blob:`: icons and thumbnails drawn in the page.
/// - `worker-src 'self'`: pdf.js's worker, a file of the bundle (`PdfPreview.svelte`).
/// - `connect-src 'self'`: the API and the `/api/events` WebSocket (CSP 3: `'self'`
///   matches `ws:` of the same host and port; Chromium and WebKit do so, and the
///   browser and desktop tests prove it). `ipc: http://ipc.localhost` is the
///   desktop window's Tauri IPC (a fetch to `ipc://localhost/<command>` on Linux and
///   macOS, `http://ipc.localhost` on Windows); a browser has no such scheme, and
///   what the page may call there is the capability's business
///   (`capabilities/default.json`).
const UI_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data: blob:; connect-src 'self' ipc: http://ipc.localhost; worker-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; frame-src 'self'";

/// [`UI_POLICY`] with more `frame-src` sources (CSP source expressions; a scheme
/// needs its colon: `isolation-1234:`), the desktop app's Tauri isolation frame;
/// `None` when one is not a plain token, so nothing can be smuggled into the header.
pub fn policy(frame_sources: &[String]) -> Option<HeaderValue> {
    let plain = |s: &String| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:/*".contains(&b));
    if !frame_sources.iter().all(plain) {
        return None;
    }
    HeaderValue::from_str(
        &[UI_POLICY].into_iter().chain(frame_sources.iter().map(String::as_str)).collect::<Vec<_>>().join(" "),
    )
    .ok()
}

/// The fallback handler: a UI file, the UI's `index.html`, or a JSON 404/405.
pub async fn serve(State(state): State<ApiState>, method: Method, uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    if path.starts_with("api/") || path.starts_with("view/") || path == "api" {
        return ApiError::not_found("Not found").into_response();
    }
    if method != Method::GET && method != Method::HEAD {
        return ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed").into_response();
    }
    match Assets::get(path).filter(|_| !path.is_empty()) {
        Some(file) => file_response(path, file, "public, max-age=31536000, immutable", &state.ui_policy),
        None => match Assets::get("index.html") {
            Some(index) => file_response("index.html", index, "no-cache", &state.ui_policy),
            None => ApiError::not_found("The web UI is not built into this binary").into_response(),
        },
    }
}

fn file_response(path: &str, file: rust_embed::EmbeddedFile, cache: &'static str, policy: &HeaderValue) -> Response {
    let mime = file.metadata.mimetype().to_owned();
    let mut response = (StatusCode::OK, file.data).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_str(&mime).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    if path.ends_with(".html") {
        // The document itself: its policy, never framed (clickjacking; the older
        // header for browsers without `frame-ancestors`), and no Referer sent from it.
        // `X-Content-Type-Options: nosniff` is on every answer (`guard.rs`).
        headers.insert(CONTENT_SECURITY_POLICY, policy.clone());
        headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    }
    response
}
