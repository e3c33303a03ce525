//! `GET`/`PUT /api/v1/intake` (ours): whether SMTP takes mail. Pausing makes the
//! listener answer 421 (see [`crate::smtp::Intake`]); the desktop tray and the UI
//! both pause and resume through this, and learn of changes from the `intake` event.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;

use super::ApiState;
use super::error::ApiError;
use super::messages::GoObject;
use crate::events::IntakeState;

pub async fn show(State(state): State<ApiState>) -> Json<IntakeState> {
    Json(IntakeState { paused: state.intake.is_paused() })
}

/// Body `{"Paused": true|false}`; answers the new state.
pub async fn set(
    State(state): State<ApiState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<IntakeState>, ApiError> {
    let paused = GoObject::parse(&body?)
        .and_then(|body| body.field::<bool>("Paused"))
        .map_err(|err| ApiError::new(StatusCode::BAD_REQUEST, err))?
        .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "Paused (true or false) is required"))?;
    state.intake.set_paused(paused);
    Ok(Json(IntakeState { paused }))
}
