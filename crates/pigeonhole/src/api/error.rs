//! The API's one error type, and the extractor wrapper that routes axum's own
//! rejections (bad query strings, bad paths, failed WebSocket upgrades) through it.
//!
//! Every error leaves as `{"Error": "<message>"}` with its status. Mailpit answers
//! most errors in plain text, but its clients only look at the status; JSON keeps one
//! shape for the UI and never carries internals: store failures are logged here and
//! answered with a generic message.

use std::fmt::Display;

use axum::Json;
use axum::extract::FromRequestParts;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::store::{StoreError, SubmitError};

/// Why a request failed, as the client is told.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    /// Seconds for a `Retry-After` header: when trying again later will work.
    retry_after: Option<u32>,
}

/// Every error's body.
#[derive(Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub(super) struct ErrorBody<'a> {
    #[serde(rename = "Error")]
    error: &'a str,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError { status, message: message.into(), retry_after: None }
    }

    /// The same error, saying (`Retry-After`) when to try again.
    pub fn retry_after(self, seconds: u32) -> ApiError {
        ApiError { retry_after: Some(seconds), ..self }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, message)
    }

    /// The same error, with `note` after its message (`message; note`).
    pub fn with_note(self, note: impl Display) -> ApiError {
        ApiError { message: format!("{}; {note}", self.message), ..self }
    }

    /// A failure on our side. The cause goes to the log, not to the client.
    pub fn internal(cause: impl Display) -> ApiError {
        tracing::error!("api: {cause}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error, see the server log")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let retry_after = self.retry_after.map(|seconds| [(axum::http::header::RETRY_AFTER, seconds.to_string())]);
        (self.status, retry_after, Json(ErrorBody { error: &self.message })).into_response()
    }
}

impl From<StoreError> for ApiError {
    /// Conditions the user can act on are said; anything else is internal.
    fn from(err: StoreError) -> ApiError {
        match err {
            StoreError::DiskFull => ApiError::new(StatusCode::INSUFFICIENT_STORAGE, err.to_string()),
            StoreError::Closed => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, err.to_string()),
            StoreError::Database(_) | StoreError::Damaged { .. } => ApiError::internal(err),
        }
    }
}

impl From<SubmitError> for ApiError {
    /// A message the store could not take (the send API): overload and shutdown are
    /// worth retrying, so they are said; anything else is internal.
    fn from(err: SubmitError) -> ApiError {
        match err {
            SubmitError::Busy | SubmitError::Closed => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, err.to_string()),
            SubmitError::DiskFull => ApiError::new(StatusCode::INSUFFICIENT_STORAGE, err.to_string()),
            SubmitError::Failed(_) => ApiError::internal(err),
        }
    }
}

impl From<BytesRejection> for ApiError {
    /// Mostly 413 (over the body limit); the status axum chose is kept.
    fn from(rejection: BytesRejection) -> ApiError {
        let message = rejection.body_text();
        ApiError::new(rejection.status(), message)
    }
}

/// Wraps an axum extractor (`Ext<Query<T>>`, `Ext<Path<T>>`, …) so that its
/// rejection is an [`ApiError`] with the status axum chose, not a plain-text body.
pub struct Ext<E>(pub E);

impl<S, E> FromRequestParts<S> for Ext<E>
where
    S: Send + Sync,
    E: FromRequestParts<S>,
    E::Rejection: Display,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match E::from_request_parts(parts, state).await {
            Ok(value) => Ok(Ext(value)),
            Err(rejection) => {
                let message = rejection.to_string();
                Err(ApiError::new(rejection.into_response().status(), message))
            }
        }
    }
}
