//! Ours: `GET /api/v1/message/{ID}/links` and `/codes`, the links and one-time codes
//! found in a message's text and HTML bodies ([`crate::mail::links`]), so a test can
//! follow "the reset link" or type "the code" without a regex of its own. `{ID}` may
//! be `latest` (with `?query=`), as on the other single-message routes. Neither
//! marks the message read. Both lists are capped ([`links::MAX_LINKS`],
//! [`links::MAX_CODES`]): the first ones are listed.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Serialize;

use super::ApiState;
use super::error::{ApiError, Ext};
use super::message::{MessageQuery, load};
use crate::mail::detail;
use crate::mail::links::{self, Code, Link};
use crate::model::Access;

/// `{"Links": [{"URL", "Text"}]}`
#[derive(Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct LinksView {
    #[serde(rename = "Links")]
    links: Vec<Link>,
}

/// `{"Codes": [{"Code", "Context"}]}`
#[derive(Serialize, utoipa::ToSchema)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct CodesView {
    #[serde(rename = "Codes")]
    codes: Vec<Code>,
}

/// The links in the message's text and HTML bodies (ours).
#[utoipa::path(
    get,
    path = "/api/v1/message/{ID}/links",
    tag = "message",
    responses((status = 200, description = "The links, in order of appearance (the first 1,000)", body = LinksView))
)]
pub async fn links(
    State(state): State<ApiState>,
    access: Access,
    Ext(Path(id)): Ext<Path<String>>,
    Ext(Query(q)): Ext<Query<MessageQuery>>,
) -> Result<Json<LinksView>, ApiError> {
    let links = from_bodies(&state, &access, id, q.query, links::links).await?;
    Ok(Json(LinksView { links }))
}

/// The one-time codes (verification codes and the like) in the message (ours).
#[utoipa::path(
    get,
    path = "/api/v1/message/{ID}/codes",
    tag = "message",
    responses((status = 200, description = "The codes found (the first 100)", body = CodesView))
)]
pub async fn codes(
    State(state): State<ApiState>,
    access: Access,
    Ext(Path(id)): Ext<Path<String>>,
    Ext(Query(q)): Ext<Query<MessageQuery>>,
) -> Result<Json<CodesView>, ApiError> {
    let codes = from_bodies(&state, &access, id, q.query, links::codes).await?;
    Ok(Json(CodesView { codes }))
}

/// `find` over the text and HTML bodies of message `id` (or `latest`).
async fn from_bodies<T: Send + 'static>(
    state: &ApiState,
    access: &Access,
    id: String,
    query: Option<String>,
    find: fn(&str, &str) -> T,
) -> Result<T, ApiError> {
    let (_, found) = load(state, access, id, query, move |store, id| {
        Ok(store.raw(id)?.map(|raw| {
            let (text, html) = detail::bodies(&raw);
            find(&text, &html)
        }))
    })
    .await?;
    Ok(found)
}
