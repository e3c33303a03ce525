//! Tags (Mailpit's `/api/v1/tags`): `GET` lists the tags in use, `PUT` sets the
//! tags of some messages, `PUT /api/v1/tags/{Tag}` renames a tag and `DELETE
//! /api/v1/tags/{Tag}` takes it off every message. The store does the writes on its
//! writer thread and announces them (`update` per message, or `prune`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::error::{ApiError, Ext};
use super::messages::GoObject;
use super::{ApiState, read};
use crate::store::TagError;

/// `GET /api/v1/tags`: every tag in use, as a JSON array.
pub async fn list(State(state): State<ApiState>) -> Result<Json<Vec<String>>, ApiError> {
    Ok(Json(read(&state, |store| store.tags()).await?))
}

/// `PUT /api/v1/tags`, body `{"IDs": [...], "Tags": [...]}`: those messages get
/// exactly these tags (an empty or missing `Tags` clears them).
pub async fn set(State(state): State<ApiState>, body: Result<Bytes, BytesRejection>) -> Result<&'static str, ApiError> {
    let body = GoObject::parse(&body?).map_err(ApiError::bad_request)?;
    let ids: Vec<String> = body.field("IDs").map_err(ApiError::bad_request)?.unwrap_or_default();
    let tags: Vec<String> = body.field("Tags").map_err(ApiError::bad_request)?.unwrap_or_default();
    if !ids.is_empty() {
        state.store.set_tags(ids, &tags).await?;
    }
    Ok("ok")
}

/// `PUT /api/v1/tags/{Tag}`, body `{"Name": "new name"}`.
pub async fn rename(
    State(state): State<ApiState>,
    Ext(Path(tag)): Ext<Path<String>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<&'static str, ApiError> {
    let body = GoObject::parse(&body?).map_err(ApiError::bad_request)?;
    let name: String = body.field("Name").map_err(ApiError::bad_request)?.unwrap_or_default();
    state.store.rename_tag(&tag, &name).await?;
    Ok("ok")
}

/// `DELETE /api/v1/tags/{Tag}`: the tag goes, the messages stay.
pub async fn delete(
    State(state): State<ApiState>,
    Ext(Path(tag)): Ext<Path<String>>,
) -> Result<&'static str, ApiError> {
    state.store.delete_tag(&tag).await?;
    Ok("ok")
}

impl From<TagError> for ApiError {
    fn from(error: TagError) -> ApiError {
        match error {
            TagError::NoSuchTag(_) => ApiError::new(StatusCode::NOT_FOUND, error.to_string()),
            TagError::InvalidName(_) => ApiError::bad_request(error.to_string()),
            TagError::Store(error) => error.into(),
        }
    }
}
