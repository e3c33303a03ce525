//! Serves the web UI: the files of `ui/dist/`, embedded in the binary at build time
//! (`build.rs` builds them with Vite when stale), so one file serves everything.
//!
//! Any GET that no API route takes lands here: a file of the UI by its path, or,
//! for any other path outside `/api/` and `/view/`, the UI's `index.html` (the UI
//! keeps its state in the URL's hash, but a reload on a deep link should still
//! work). Vite names assets by content hash, so they are cached for a year;
//! `index.html` is always revalidated.

use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use super::error::ApiError;

#[derive(RustEmbed)]
#[folder = "../../ui/dist/"]
struct Assets;

/// The UI's own policy: only our origin, no inline scripts, no plugins, and no
/// framing by other sites. Message HTML is never part of this document: it is shown
/// through `/view/{ID}.html` in a sandboxed frame under a stricter policy.
const UI_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data: blob:; connect-src 'self'; frame-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'self'";

/// The fallback handler: a UI file, the UI's `index.html`, or a JSON 404/405.
pub async fn serve(method: Method, uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    if path.starts_with("api/") || path.starts_with("view/") || path == "api" {
        return ApiError::not_found("Not found").into_response();
    }
    if method != Method::GET && method != Method::HEAD {
        return ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed").into_response();
    }
    match Assets::get(path).filter(|_| !path.is_empty()) {
        Some(file) => file_response(path, file, "public, max-age=31536000, immutable"),
        None => match Assets::get("index.html") {
            Some(index) => file_response("index.html", index, "no-cache"),
            None => ApiError::not_found("The web UI is not built into this binary").into_response(),
        },
    }
}

fn file_response(path: &str, file: rust_embed::EmbeddedFile, cache: &'static str) -> Response {
    let mime = file.metadata.mimetype().to_owned();
    let mut response = (StatusCode::OK, file.data).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_str(&mime).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    if path.ends_with(".html") {
        headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(UI_POLICY));
    }
    response
}
