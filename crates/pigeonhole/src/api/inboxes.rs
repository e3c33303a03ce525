//! `GET /api/v1/inboxes` (our extension): every inbox with its total and unread
//! counts, `[{"Name", "Total", "Unread"}]`.

use axum::Json;
use axum::extract::State;

use super::error::ApiError;
use super::{ApiState, read};
use crate::model::InboxInfo;

/// Every inbox (recipient address) with its counts.
#[utoipa::path(
    get,
    path = "/api/v1/inboxes",
    tag = "messages",
    responses((status = 200, description = "The inboxes", body = Vec<InboxInfo>))
)]
pub async fn list(State(state): State<ApiState>) -> Result<Json<Vec<InboxInfo>>, ApiError> {
    Ok(Json(read(&state, |store| store.inboxes()).await?))
}
