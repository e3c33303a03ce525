//! Authentication in front of the UI, the API and the `/api/events` WebSocket: basic
//! auth as Mailpit does it (`serve --ui-auth-file FILE`), and API tokens for CI
//! (`--api-tokens-file FILE`, `Authorization: Bearer <token>`). A request without
//! valid credentials gets 401 with `WWW-Authenticate: Basic realm="Login"`, so a
//! browser asks for a user and password once and sends them with every later
//! request, the WebSocket's included. `/livez` and `/readyz` stay open for health
//! checks. The user or token a request came with is handed on
//! ([`AuthenticatedUser`]): the send API stores it as the message's `Username`, as
//! Mailpit does.
//!
//! Every request that passes carries the [`Access`] of its principal in its
//! extensions (every inbox when no auth is configured): handlers take it as an
//! extractor and keep what they read and change within it
//! ([`super::message::load`] for one message, [`crate::store::SearchQuery::within`]
//! and [`crate::store::Selection::within`] for many).
//!
//! The users come from an htpasswd file ([`crate::login::Users`]), the tokens from
//! [`crate::login::ApiTokens`].

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::ApiState;
use super::error::ApiError;
use crate::model::Access;
use crate::providers::webhooks::SNS_CERTIFICATE_PATH;
use crate::providers::webhooks::sns::SNS_ACTIONS_PATH;

/// The user whose credentials a request carried, once they passed.
#[derive(Clone, Debug)]
pub struct AuthenticatedUser(pub String);

/// The middleware: let the request through with valid credentials, with their
/// [`Access`] (with every inbox when no file is configured; `/livez`, `/readyz` and
/// SNS's public paths without credentials), else answer 401.
pub async fn check(State(state): State<ApiState>, mut request: Request, next: Next) -> Response {
    if state.auth.is_none() && state.tokens.is_none() {
        request.extensions_mut().insert(Access::All);
        return next.run(request).await;
    }
    // SNS's signing certificate is public, and the apps that fetch it to verify
    // a notification, or visit a SubscribeURL (which carries its own token), do
    // not know the UI's password. They read no mail (their handlers take no Access).
    if matches!(request.uri().path(), "/livez" | "/readyz" | SNS_CERTIFICATE_PATH | SNS_ACTIONS_PATH) {
        return next.run(request).await;
    }
    let principal = match credentials(&request) {
        Some(Credentials::Basic(user, password)) => match &state.auth {
            Some(users) => users.verify_off_thread(user.clone(), password).await.map(|access| (user, access)),
            None => None,
        },
        Some(Credentials::Bearer(token)) => state.tokens.as_ref().and_then(|tokens| tokens.verify(&token)),
        None => None,
    };
    let Some((name, access)) = principal else {
        return unauthorized(request.uri().path());
    };
    request.extensions_mut().insert(AuthenticatedUser(name));
    request.extensions_mut().insert(access);
    next.run(request).await
}

/// What an `Authorization` header carries.
enum Credentials {
    /// `Basic base64(user:password)`.
    Basic(String, String),
    /// `Bearer <token>`.
    Bearer(String),
}

fn credentials(request: &Request) -> Option<Credentials> {
    let header = request.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, value) = header.trim().split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(Credentials::Bearer(value.trim().to_owned()));
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(BASE64.decode(value.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some(Credentials::Basic(user.to_string(), password.to_string()))
}

/// The principal's [`Access`], as [`check`] put it in the request. A request that
/// never passed [`check`] is one the engine makes to its own handlers in-process
/// (a screenshot's page loading a message's parts, after the screenshot route
/// checked the message), never one from the network, which always passes it: it
/// gets every inbox.
impl<S: Send + Sync> FromRequestParts<S> for Access {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Access, Self::Rejection> {
        Ok(parts.extensions.get::<Access>().cloned().unwrap_or(Access::All))
    }
}

/// 403 for what reaches every inbox (a server setting, a tag on every message,
/// server-wide webhooks and metrics), asked by a principal limited to some.
pub fn require_every_inbox(access: &Access) -> Result<(), ApiError> {
    match access {
        Access::All => Ok(()),
        Access::Inboxes(_) => Err(ApiError::forbidden(
            "this reaches every inbox, and your user or token is limited to some: ask someone whose line in the \
             auth file or tokens file has no inbox list",
        )),
    }
}

/// 403 when a principal may not see `inbox`, for mail it would put there.
pub fn require_inbox(access: &Access, inbox: &str) -> Result<(), ApiError> {
    if access.allows(inbox) {
        return Ok(());
    }
    Err(ApiError::forbidden(format!(
        "this would put mail in inbox {inbox:?}, which your user or token may not see; send with a user or token \
         whose name is one of its inboxes (the send API files mail under the sender's name)"
    )))
}

/// 401 with Mailpit's challenge; a JSON error under `/api/` (like every API error),
/// Mailpit's plain text elsewhere.
fn unauthorized(path: &str) -> Response {
    let mut response = if path.starts_with("/api/") {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized: give the user and password of the --ui-auth-file, or `Authorization: Bearer <token>` with a \
             token of the --api-tokens-file",
        )
        .into_response()
    } else {
        (StatusCode::UNAUTHORIZED, "Unauthorized.").into_response()
    };
    response.headers_mut().insert(WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"Login\""));
    response
}
