//! `POST /api/v1/message/{ID}/release`, body `{"To": ["a@example.com"]}`: send a
//! captured message on through the SMTP server the user configured
//! ([`RelayConfig`](crate::config::RelayConfig), `serve --smtp-relay-host …`), as
//! Mailpit's release does. [`crate::smtp::relay`] applies Mailpit's rules and
//! does the sending; its refusals are answered 400 in its words.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use utoipa::ToSchema;

use super::ApiState;
use super::error::{ApiError, ErrorBody, Ext};
use super::message::{MessageQuery, load};
use super::messages::GoObject;
use crate::model::Access;
use crate::smtp::relay::Outgoing;

/// The body.
#[derive(ToSchema)]
pub(super) struct ReleaseParams {
    /// The recipients to send it to (its own are not used).
    #[schema(rename = "To")]
    to: Vec<String>,
}

/// Send a message on through the configured SMTP relay.
#[utoipa::path(
    post,
    path = "/api/v1/message/{ID}/release",
    tag = "send",
    request_body = ReleaseParams,
    responses(
        (status = 200, description = "Sent", body = String, content_type = "text/plain", example = "ok"),
        (status = 400, description = "Release is off, a recipient is not allowed, or the relay refused", body = ErrorBody),
    )
)]
pub async fn release(
    State(state): State<ApiState>,
    access: Access,
    Ext(Path(id)): Ext<Path<String>>,
    Ext(Query(q)): Ext<Query<MessageQuery>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<&'static str, ApiError> {
    let Some(relay) = state.relay.clone() else {
        return Err(ApiError::bad_request("Message relay is not enabled")
            .with_note("start Pigeonhole with --smtp-relay-host to release messages"));
    };
    let (_, raw) = load(&state, &access, id, q.query, |store, id| store.raw(id)).await?;
    let body = GoObject::parse(&body?).map_err(ApiError::bad_request)?;
    let params = ReleaseParams { to: body.param("To")?.unwrap_or_default() };
    let outgoing = Outgoing::prepare(&relay, &raw, &params.to).map_err(ApiError::bad_request)?;
    tokio::task::spawn_blocking(move || outgoing.send(&relay))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::bad_request)?;
    Ok("ok")
}
