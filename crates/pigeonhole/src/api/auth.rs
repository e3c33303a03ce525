//! Basic auth in front of the UI, the API and the `/api/events` WebSocket, as Mailpit
//! does it (`serve --ui-auth-file FILE`): a request without the right `Authorization:
//! Basic …` gets 401 with `WWW-Authenticate: Basic realm="Login"`, so a browser asks
//! for a user and password once and sends them with every later request, the
//! WebSocket's included. `/livez` and `/readyz` stay open for health checks. The user a request
//! came with is handed on ([`AuthenticatedUser`]): the send API stores it as the
//! message's `Username`, as Mailpit does.
//!
//! The users come from an htpasswd file ([`crate::login::Users`]).

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::ApiState;
use super::error::ApiError;
use crate::providers::webhooks::SNS_CERTIFICATE_PATH;
use crate::providers::webhooks::sns::SNS_ACTIONS_PATH;

/// The user whose credentials a request carried, once they passed.
#[derive(Clone, Debug)]
pub struct AuthenticatedUser(pub String);

/// The middleware: let the request through with valid credentials (or when no
/// file is configured, or for `/livez` and `/readyz`), else answer 401.
pub async fn check(State(state): State<ApiState>, mut request: Request, next: Next) -> Response {
    let Some(users) = state.auth.clone() else {
        return next.run(request).await;
    };
    // SNS's signing certificate is public, and the apps that fetch it to verify
    // a notification, or visit a SubscribeURL (which carries its own token), do
    // not know the UI's password.
    if matches!(request.uri().path(), "/livez" | "/readyz" | SNS_CERTIFICATE_PATH | SNS_ACTIONS_PATH) {
        return next.run(request).await;
    }
    let Some((user, password)) = basic_credentials(&request) else {
        return unauthorized(request.uri().path());
    };
    let name = user.clone();
    if !users.verify_off_thread(user, password).await {
        return unauthorized(request.uri().path());
    }
    request.extensions_mut().insert(AuthenticatedUser(name));
    next.run(request).await
}

/// User and password of an `Authorization: Basic base64(user:password)` header.
fn basic_credentials(request: &Request) -> Option<(String, String)> {
    let header = request.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(BASE64.decode(encoded.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// 401 with Mailpit's challenge; a JSON error under `/api/` (like every API error),
/// Mailpit's plain text elsewhere.
fn unauthorized(path: &str) -> Response {
    let mut response = if path.starts_with("/api/") {
        ApiError::new(StatusCode::UNAUTHORIZED, "Unauthorized: give the user and password of the --ui-auth-file")
            .into_response()
    } else {
        (StatusCode::UNAUTHORIZED, "Unauthorized.").into_response()
    };
    response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"Login\""));
    response
}
