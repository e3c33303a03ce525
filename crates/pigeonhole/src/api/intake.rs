//! `GET`/`PUT /api/v1/intake` (ours): the SMTP intake — where it listens and whether
//! it takes mail — and where mail clients read it (POP3, IMAP). Pausing makes the listener answer 421 (see
//! [`crate::smtp::Intake`]); the desktop tray and the UI both pause and resume
//! through this, and learn of changes from the `intake` event. The UI shows the
//! address in its first-run help (it is here, not in Mailpit's `/api/v1/webui`,
//! whose key set Mailpit's clients check exactly).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::ApiState;
use super::auth::require_every_inbox;
use super::error::{ApiError, ErrorBody};
use super::messages::GoObject;
use crate::model::Access;

/// The answer to both methods.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct IntakeView {
    #[serde(rename = "Paused")]
    pub paused: bool,
    /// Where SMTP listens (`ip:port`; `""` when the API runs without a listener).
    #[serde(rename = "SMTPAddress")]
    pub smtp_address: String,
    /// Where POP3 listens (`""` when it is off): the first-run help gives a mail
    /// client's account settings for it.
    #[serde(rename = "POP3Address")]
    pub pop3_address: String,
    /// Where IMAP listens (`""` when it is off), and whether with TLS from the
    /// first byte (`--imap-tls-implicit`) rather than STARTTLS.
    #[serde(rename = "IMAPAddress")]
    pub imap_address: String,
    #[serde(rename = "IMAPImplicitTLS")]
    pub imap_implicit_tls: bool,
}

impl IntakeView {
    fn of(state: &ApiState) -> IntakeView {
        let address = |address: Option<std::net::SocketAddr>| address.map(|a| a.to_string()).unwrap_or_default();
        IntakeView {
            paused: state.intake.is_paused(),
            smtp_address: address(state.smtp_address),
            pop3_address: address(state.pop3_address),
            imap_address: address(state.imap_address.map(|(addr, _)| addr)),
            imap_implicit_tls: state.imap_address.is_some_and(|(_, implicit)| implicit),
        }
    }
}

/// Where SMTP listens and whether it takes mail.
#[utoipa::path(
    get,
    path = "/api/v1/intake",
    tag = "server",
    responses((status = 200, description = "The intake", body = IntakeView))
)]
pub async fn show(State(state): State<ApiState>) -> Json<IntakeView> {
    Json(IntakeView::of(&state))
}

/// The `PUT` body.
#[derive(ToSchema)]
pub(super) struct IntakeParams {
    /// `true`: SMTP answers 421 until resumed.
    #[schema(rename = "Paused")]
    paused: bool,
}

/// Body `{"Paused": true|false}`; answers the new state.
#[utoipa::path(
    put,
    path = "/api/v1/intake",
    tag = "server",
    request_body = IntakeParams,
    responses(
        (status = 200, description = "The intake, changed", body = IntakeView),
        (status = 400, description = "No `Paused`, or not a boolean", body = ErrorBody),
    )
)]
pub async fn set(
    State(state): State<ApiState>,
    access: Access,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<IntakeView>, ApiError> {
    require_every_inbox(&access)?;
    let params = IntakeParams {
        paused: GoObject::parse(&body?)
            .and_then(|body| body.field::<bool>("Paused"))
            .map_err(|err| ApiError::new(StatusCode::BAD_REQUEST, err))?
            .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "Paused (true or false) is required"))?,
    };
    state.intake.set_paused(params.paused);
    Ok(Json(IntakeView::of(&state)))
}
