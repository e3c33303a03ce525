//! Tags (Mailpit's `/api/v1/tags`): `GET` lists the tags in use, `PUT` sets the
//! tags of some messages, `PUT /api/v1/tags/{Tag}` renames a tag and `DELETE
//! /api/v1/tags/{Tag}` takes it off every message. The store does the writes on its
//! writer thread and announces them (`update` per message, or `prune`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use utoipa::ToSchema;

use super::auth::require_every_inbox;
use super::error::{ApiError, ErrorBody, Ext};
use super::message::visible;
use super::messages::GoObject;
use super::messages::parse_ids;
use super::{ApiState, read};
use crate::model::Access;
use crate::store::TagError;

/// `GET /api/v1/tags`: every tag in use, as a JSON array.
#[utoipa::path(
    get,
    path = "/api/v1/tags",
    tag = "tags",
    responses((status = 200, description = "The tags, sorted", body = Vec<String>))
)]
pub async fn list(State(state): State<ApiState>, access: Access) -> Result<Json<Vec<String>>, ApiError> {
    Ok(Json(read(&state, move |store| store.tags(&access)).await?))
}

/// `PUT /api/v1/tags`'s body.
#[derive(ToSchema)]
#[schema(rename_all = "PascalCase")]
pub(super) struct SetTagsParams {
    #[schema(rename = "IDs")]
    ids: Option<Vec<String>>,
    /// The messages' tags from now on (empty: none).
    tags: Option<Vec<String>>,
}

/// `PUT /api/v1/tags`, body `{"IDs": [...], "Tags": [...]}`: those messages get
/// exactly these tags (an empty or missing `Tags` clears them).
#[utoipa::path(
    put,
    path = "/api/v1/tags",
    tag = "tags",
    request_body = SetTagsParams,
    responses(
        (status = 200, description = "Done", body = String, content_type = "text/plain", example = "ok"),
        (status = 400, description = "Not a JSON object, or a tag name is invalid", body = ErrorBody),
    )
)]
pub async fn set(
    State(state): State<ApiState>,
    access: Access,
    body: Result<Bytes, BytesRejection>,
) -> Result<&'static str, ApiError> {
    let body = GoObject::parse(&body?).map_err(ApiError::bad_request)?;
    let params = SetTagsParams { ids: body.param("IDs")?, tags: body.param("Tags")? };
    let (ids, tags) = (params.ids.unwrap_or_default(), params.tags.unwrap_or_default());
    // IDs of messages the principal does not see are skipped, as unknown ones are.
    let ids = read(&state, move |store| {
        let mut seen = Vec::new();
        for id in parse_ids(&ids) {
            if visible(store, &access, &id)? {
                seen.push(id);
            }
        }
        Ok(seen)
    })
    .await?;
    if !ids.is_empty() {
        state.store.set_tags(ids, &tags).await?;
    }
    Ok("ok")
}

/// `PUT /api/v1/tags/{Tag}`'s body.
#[derive(ToSchema)]
pub(super) struct RenameTagParams {
    /// The tag's new name.
    #[schema(rename = "Name")]
    name: Option<String>,
}

/// `PUT /api/v1/tags/{Tag}`, body `{"Name": "new name"}`.
#[utoipa::path(
    put,
    path = "/api/v1/tags/{Tag}",
    tag = "tags",
    params(("Tag" = String, Path, description = "The tag")),
    request_body = RenameTagParams,
    responses(
        (status = 200, description = "Done", body = String, content_type = "text/plain", example = "ok"),
        (status = 400, description = "Not a JSON object, or the new name is invalid", body = ErrorBody),
        (status = 404, description = "No such tag", body = ErrorBody),
    )
)]
pub async fn rename(
    State(state): State<ApiState>,
    access: Access,
    Ext(Path(tag)): Ext<Path<String>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<&'static str, ApiError> {
    require_every_inbox(&access)?;
    let body = GoObject::parse(&body?).map_err(ApiError::bad_request)?;
    let params = RenameTagParams { name: body.param("Name")? };
    state.store.rename_tag(&tag, &params.name.unwrap_or_default()).await?;
    Ok("ok")
}

/// `DELETE /api/v1/tags/{Tag}`: the tag goes, the messages stay.
#[utoipa::path(
    delete,
    path = "/api/v1/tags/{Tag}",
    tag = "tags",
    params(("Tag" = String, Path, description = "The tag")),
    responses(
        (status = 200, description = "Done", body = String, content_type = "text/plain", example = "ok"),
        (status = 404, description = "No such tag", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<ApiState>,
    access: Access,
    Ext(Path(tag)): Ext<Path<String>>,
) -> Result<&'static str, ApiError> {
    require_every_inbox(&access)?;
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
