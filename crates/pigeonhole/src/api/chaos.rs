//! `GET`/`PUT /api/v1/chaos`: Mailpit's chaos triggers, SMTP errors answered at
//! random to MAIL FROM, RCPT TO and AUTH (see [`crate::smtp::Chaos`]). Only when the
//! engine was started with `--enable-chaos`; otherwise both answer 400 with
//! Mailpit's "Chaos is not enabled".

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use serde_json::Value;

use super::ApiState;
use super::auth::require_every_inbox;
use super::error::{ApiError, ErrorBody};
use super::messages::GoObject;
use crate::model::{Access, ChaosTrigger, ChaosTriggers};

/// The chaos triggers.
#[utoipa::path(
    get,
    path = "/api/v1/chaos",
    tag = "server",
    responses(
        (status = 200, description = "The triggers", body = ChaosTriggers),
        (status = 400, description = "Chaos is not enabled (`--enable-chaos`)", body = ErrorBody),
    )
)]
pub async fn show(State(state): State<ApiState>) -> Result<Json<ChaosTriggers>, ApiError> {
    enabled(&state)?;
    Ok(Json(state.chaos.triggers()))
}

/// Body `ChaosTriggers`; a trigger left out is reset (0%, its default code), so `{}`
/// resets them all. Answers the triggers now in force.
#[utoipa::path(
    put,
    path = "/api/v1/chaos",
    tag = "server",
    request_body(content = ChaosTriggers, description = "Any of the triggers; one left out (or a 0 `ErrorCode`) is \
        reset to its default"),
    responses(
        (status = 200, description = "The triggers, changed", body = ChaosTriggers),
        (status = 400, description = "Chaos is not enabled, or a trigger is out of range", body = ErrorBody),
    )
)]
pub async fn set(
    State(state): State<ApiState>,
    access: Access,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ChaosTriggers>, ApiError> {
    require_every_inbox(&access)?;
    enabled(&state)?;
    let body = GoObject::parse(&body?).map_err(ApiError::bad_request)?;
    let defaults = ChaosTriggers::default();
    let triggers = ChaosTriggers {
        sender: trigger(&body, "Sender", defaults.sender)?,
        recipient: trigger(&body, "Recipient", defaults.recipient)?,
        authentication: trigger(&body, "Authentication", defaults.authentication)?,
    };
    state.chaos.set(triggers);
    Ok(Json(state.chaos.triggers()))
}

fn enabled(state: &ApiState) -> Result<(), ApiError> {
    if state.chaos.is_enabled() {
        Ok(())
    } else {
        Err(ApiError::bad_request("Chaos is not enabled").with_note("start Pigeonhole with --enable-chaos"))
    }
}

/// One trigger of the body, `{"ErrorCode": 400..599, "Probability": 0..100}` with
/// keys in any case; a missing code is the trigger's default, as in Mailpit.
fn trigger(body: &GoObject, name: &str, default: ChaosTrigger) -> Result<ChaosTrigger, ApiError> {
    let Some(value) = body.field::<Value>(name).map_err(ApiError::bad_request)? else {
        return Ok(default);
    };
    if !value.is_object() {
        return Err(ApiError::bad_request(format!(
            "{name} must be an object {{\"ErrorCode\": …, \"Probability\": …}}"
        )));
    }
    let fields = GoObject::parse(value.to_string().as_bytes()).map_err(ApiError::bad_request)?;
    let number = |field: &str| -> Result<i64, ApiError> {
        Ok(fields.field::<i64>(field).map_err(|err| ApiError::bad_request(format!("{name}: {err}")))?.unwrap_or(0))
    };
    let (error_code, probability) = (number("ErrorCode")?, number("Probability")?);
    let error_code = if error_code == 0 { i64::from(default.error_code) } else { error_code };
    ChaosTrigger::new(error_code, probability).map_err(ApiError::bad_request)
}
