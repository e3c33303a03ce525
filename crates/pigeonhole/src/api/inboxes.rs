//! `GET /api/v1/inboxes` (our extension): every inbox with its total and unread
//! counts, `[{"Name", "Total", "Unread"}]`.

use axum::Json;
use axum::extract::State;

use super::error::ApiError;
use super::{ApiState, read};
use crate::model::{Access, InboxInfo};

/// Every inbox (recipient address) with its counts; those the principal sees.
#[utoipa::path(
    get,
    path = "/api/v1/inboxes",
    tag = "messages",
    responses((status = 200, description = "The inboxes", body = Vec<InboxInfo>))
)]
pub async fn list(State(state): State<ApiState>, access: Access) -> Result<Json<Vec<InboxInfo>>, ApiError> {
    let mut inboxes = read(&state, |store| store.inboxes()).await?;
    inboxes.retain(|inbox| access.allows(&inbox.name));
    Ok(Json(inboxes))
}
