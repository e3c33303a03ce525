//! Webhooks over HTTP (ours, see [`crate::providers::webhooks`]):
//! `GET`/`PUT /api/v1/webhooks` (a URL per provider, the message webhooks, the
//! retry policy, the keys apps verify with), `GET /api/v1/webhooks/log` (deliveries and their attempts),
//! `GET /api/v1/webhooks/sns-certificate.pem` (SNS's `SigningCertURL`),
//! `GET /api/v1/webhooks/sns` (SNS's `SubscribeURL` and `UnsubscribeURL`) and
//! `POST /api/v1/message/{ID}/events` (an event on request).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::require_every_inbox;
use super::error::{ApiError, ErrorBody, Ext};
use super::message::{MessageQuery, load};
use super::{ApiState, read};
use crate::model::{Access, MessageId};
use crate::providers::webhooks::sns::SnsAction;
use crate::providers::webhooks::{Delivery, Detail, EventKind, SmtpStatus, Webhooks, WebhooksError, WebhooksView};

/// The webhook settings: each provider's endpoint and verification key, the
/// message webhooks and their signing secret, and the retry policy.
#[utoipa::path(
    get,
    path = "/api/v1/webhooks",
    tag = "webhooks",
    responses((status = 200, description = "The settings", body = WebhooksView))
)]
pub async fn show(State(state): State<ApiState>, access: Access) -> Result<Json<WebhooksView>, ApiError> {
    // The signing keys, and message webhooks that watch every inbox.
    require_every_inbox(&access)?;
    Ok(Json(webhooks(&state)?.view()))
}

/// Change endpoints (the providers listed; the others stay) and, if given, the
/// message webhooks (the list replaces the saved ones) and the retry policy.
/// Saved in `webhooks.json` before the answer.
#[utoipa::path(
    put,
    path = "/api/v1/webhooks",
    tag = "webhooks",
    request_body = WebhooksView,
    responses(
        (status = 200, description = "The settings, changed", body = WebhooksView),
        (status = 400, description = "An unknown provider, a URL that is not http(s), a key that cannot be set, a message webhook ID used twice", body = ErrorBody),
    )
)]
pub async fn set(
    State(state): State<ApiState>,
    access: Access,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<WebhooksView>, ApiError> {
    require_every_inbox(&access)?;
    let change: WebhooksView =
        serde_json::from_slice(&body?).map_err(|err| ApiError::bad_request(format!("invalid JSON body: {err}")))?;
    let webhooks = webhooks(&state)?.clone();
    // Saving writes a file and may make SNS's RSA key: off the async threads.
    let view = tokio::task::spawn_blocking(move || webhooks.update(change)).await.map_err(ApiError::internal)?;
    view.map(Json).map_err(|err| match err {
        WebhooksError::Invalid(message) => ApiError::bad_request(message),
        err @ WebhooksError::Settings { .. } => ApiError::internal(err),
    })
}

#[derive(Deserialize)]
pub(super) struct LogQuery {
    message: Option<String>,
    webhook: Option<String>,
}

/// The latest webhook deliveries (at most 1,000), newest first, each with its
/// attempts.
#[utoipa::path(
    get,
    path = "/api/v1/webhooks/log",
    tag = "webhooks",
    params(
        ("message" = Option<String>, Query, description = "Only this message's deliveries (its ID)"),
        ("webhook" = Option<String>, Query, description = "Only this message webhook's deliveries (its ID)"),
    ),
    responses(
        (status = 200, description = "The deliveries", body = Vec<Delivery>),
        (status = 400, description = "Not a message ID", body = ErrorBody),
    )
)]
pub async fn log(
    State(state): State<ApiState>,
    access: Access,
    Ext(Query(query)): Ext<Query<LogQuery>>,
) -> Result<Json<Vec<Delivery>>, ApiError> {
    require_every_inbox(&access)?;
    let message = match query.message {
        Some(id) => Some(MessageId::parse(&id).ok_or_else(|| ApiError::bad_request("not a message ID"))?),
        None => None,
    };
    Ok(Json(webhooks(&state)?.log(message.as_ref(), query.webhook.as_deref())))
}

/// The certificate SNS notifications are signed with (their `SigningCertURL`).
#[utoipa::path(
    get,
    path = "/api/v1/webhooks/sns-certificate.pem",
    tag = "webhooks",
    responses((status = 200, description = "The certificate", body = String, content_type = "application/x-pem-file"))
)]
pub async fn sns_certificate(State(state): State<ApiState>) -> Result<impl IntoResponse, ApiError> {
    let webhooks = webhooks(&state)?.clone();
    let pem = tokio::task::spawn_blocking(move || webhooks.sns_certificate())
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok(([(CONTENT_TYPE, "application/x-pem-file")], pem))
}

/// SNS's `SubscribeURL` (`Action=ConfirmSubscription`) and `UnsubscribeURL`
/// (`Action=Unsubscribe`) for the SES endpoint, answered in SNS's XML: an SES
/// endpoint gets no events until it has visited the `SubscribeURL` of the
/// `SubscriptionConfirmation` posted to it when it was saved.
#[utoipa::path(
    get,
    path = "/api/v1/webhooks/sns",
    tag = "webhooks",
    params(SnsAction),
    responses(
        (status = 200, description = "Confirmed (`ConfirmSubscriptionResponse`) or ended (`UnsubscribeResponse`)", body = String, content_type = "text/xml"),
        (status = 400, description = "An unknown action, or a token that is not the subscription's (SNS's `ErrorResponse`)", body = String, content_type = "text/xml"),
        (status = 404, description = "No such subscription (SNS's `ErrorResponse`)", body = String, content_type = "text/xml"),
    )
)]
pub async fn sns_action(
    State(state): State<ApiState>,
    Ext(Query(action)): Ext<Query<SnsAction>>,
) -> Result<impl IntoResponse, ApiError> {
    let webhooks = webhooks(&state)?.clone();
    // A change is saved to webhooks.json before the answer: off the async threads.
    let (status, xml) = tokio::task::spawn_blocking(move || webhooks.sns_action(&action))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    Ok((status, [(CONTENT_TYPE, "text/xml")], xml))
}

/// The body of `POST /api/v1/message/{ID}/events`.
#[derive(Deserialize, ToSchema)]
pub(super) struct EventRequest {
    /// `open`, `click`, `bounce` (550 5.1.1), `deferral` (451 4.7.1) or
    /// `complaint`.
    #[serde(rename = "Event")]
    event: String,
    /// The link clicked (for `click`).
    #[serde(rename = "URL", default)]
    url: Option<String>,
}

/// Post the provider's open, click, bounce, deferral or complaint event for a
/// message sent through its API, one per envelope recipient, to the provider's
/// webhook (what the app's handler would get from the provider).
#[utoipa::path(
    post,
    path = "/api/v1/message/{ID}/events",
    tag = "webhooks",
    request_body = EventRequest,
    responses(
        (status = 202, description = "Queued for delivery", body = String, content_type = "text/plain", example = "ok"),
        (status = 400, description = "An unknown event, a click without a URL, or a message not sent through a provider API", body = ErrorBody),
    )
)]
pub async fn emit(
    State(state): State<ApiState>,
    access: Access,
    Ext(Path(id)): Ext<Path<String>>,
    Ext(Query(q)): Ext<Query<MessageQuery>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, &'static str), ApiError> {
    let request: EventRequest =
        serde_json::from_slice(&body?).map_err(|err| ApiError::bad_request(format!("invalid JSON body: {err}")))?;
    let (kind, detail) = match (request.event.as_str(), request.url) {
        ("open", _) => (EventKind::Opened, Detail::None),
        ("click", Some(url)) if !url.is_empty() => (EventKind::Clicked, Detail::Url(url)),
        ("click", _) => return Err(ApiError::bad_request("a click event needs the URL clicked")),
        ("bounce", _) => (EventKind::Bounced, Detail::Status(SmtpStatus::usual(EventKind::Bounced))),
        ("deferral", _) => (EventKind::Deferred, Detail::Status(SmtpStatus::usual(EventKind::Deferred))),
        ("complaint", _) => (EventKind::Complained, Detail::None),
        (other, _) => {
            return Err(ApiError::bad_request(format!(
                "Event must be open, click, bounce, deferral or complaint, not {other:?}"
            )));
        }
    };
    let (id, envelope) = load(&state, &access, id, q.query, |store, id| store.envelope(id)).await?;
    if envelope.api.is_none() {
        return Err(ApiError::bad_request(
            "the message was not sent through a provider API, so it has no provider events",
        ));
    }
    let summary_id = id.clone();
    let summary = read(&state, move |store| store.summary(&summary_id))
        .await?
        .ok_or_else(|| ApiError::not_found("Message not found"))?;
    let webhooks = webhooks(&state)?;
    for recipient in &envelope.rcpt_to {
        webhooks.message_event(kind, &id, &envelope, &summary, recipient, detail.clone());
    }
    Ok((StatusCode::ACCEPTED, "ok"))
}

fn webhooks(state: &ApiState) -> Result<&Webhooks, ApiError> {
    state.webhooks.as_ref().ok_or_else(|| ApiError::bad_request("webhooks are not running in this server"))
}
