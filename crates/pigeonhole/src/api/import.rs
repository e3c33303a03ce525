//! `POST /api/v1/import` (ours): mail files into the store, for the UI's Import…
//! and drag and drop. The body is the file's bytes, sent as `Content-Type:
//! message/rfc822` (an `.eml` message) or `application/mbox`; the answer is
//! `{"IDs": […]}`, the stored messages in the file's order.
//!
//! [`archive::import`] splits the file (its first line tells an mbox from a single
//! message, so a mislabelled file still imports) and makes each message's envelope
//! from its headers. Each message goes through [`Store::submit`] like SMTP mail, one
//! after the other, so they keep the file's order and show up live.
//!
//! Any other content type gets 415. Besides telling a client what to send, this
//! keeps cross-site pages out when the Origin check cannot (a browser that sends no
//! Origin): an HTML form can only send form or `text/plain` bodies, and a script
//! sending another type needs a CORS preflight, which this API never grants.
//!
//! The body is capped at the engine's `http.max_body` like every request's (413, said in words a
//! person importing a big mbox can act on).
//!
//! [`archive::import`]: crate::archive::import
//! [`Store::submit`]: crate::store::Store::submit

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;

use super::ApiState;
use super::auth::require_inbox;
use super::error::{ApiError, ErrorBody};
use crate::archive::import;
use crate::model::MessageId;
use crate::model::{Access, DEFAULT_INBOX};

/// The media types a mail file may be sent as.
const TYPES: [&str; 2] = ["message/rfc822", "application/mbox"];

/// The answer: the stored messages' IDs, in the file's order.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ImportResponse {
    #[serde(rename = "IDs")]
    #[schema(value_type = Vec<String>)]
    #[cfg_attr(test, ts(type = "Array<string>"))]
    pub ids: Vec<MessageId>,
}

/// An `.eml` message or an mbox file into the store.
#[utoipa::path(
    post,
    path = "/api/v1/import",
    tag = "send",
    request_body(
        description = "The file's bytes",
        content((String = "message/rfc822"), (String = "application/mbox")),
    ),
    responses(
        (status = 200, description = "Stored", body = ImportResponse),
        (status = 400, description = "Not mail", body = ErrorBody),
        (status = 415, description = "Another Content-Type", body = ErrorBody),
    )
)]
pub async fn import(
    State(state): State<ApiState>,
    access: Access,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ImportResponse>, ApiError> {
    // Imported mail goes to the default inbox.
    require_inbox(&access, DEFAULT_INBOX)?;
    let media_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media_type = media_type.split(';').next().unwrap_or("").trim();
    if !TYPES.iter().any(|t| t.eq_ignore_ascii_case(media_type)) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the file's bytes with Content-Type message/rfc822 (an .eml message) or application/mbox",
        ));
    }
    let body = body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the file is larger than {} MiB, the most one import takes: split it into smaller files",
                state.max_body >> 20
            ),
        ),
        _ => ApiError::from(rejection),
    })?;
    let ids = import::store_all(&state.store, &body).await.map_err(|err| match err {
        import::StoreAllError::NotMail(err) => ApiError::bad_request(err.to_string()),
        import::StoreAllError::Submit { stored, count, source } => match import::imported_before(stored, count) {
            // Importing the file again would store these twice: say so.
            Some(note) => ApiError::from(source).with_note(note),
            None => ApiError::from(source),
        },
    })?;
    Ok(Json(ImportResponse { ids }))
}
