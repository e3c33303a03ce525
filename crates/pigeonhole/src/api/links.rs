//! Ours: `GET /api/v1/message/{ID}/links` and `/codes`, the links and one-time codes
//! found in a message's text and HTML bodies ([`crate::mail::links`]), so a test can
//! follow "the reset link" or type "the code" without a regex of its own. `{ID}` may
//! be `latest` (with `?query=`), as on the other single-message routes. Neither
//! marks the message read.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};

use super::ApiState;
use super::error::{ApiError, Ext};
use super::message::load;
use crate::mail::links::{self, Code, Link};
use crate::mail::view;

#[derive(Deserialize)]
pub struct LinksQuery {
    /// With `latest`: pick the newest message matching this search.
    query: Option<String>,
}

/// `{"Links": [{"URL", "Text"}]}`
#[derive(Serialize)]
pub struct LinksView {
    #[serde(rename = "Links")]
    links: Vec<Link>,
}

/// `{"Codes": [{"Code", "Context"}]}`
#[derive(Serialize)]
pub struct CodesView {
    #[serde(rename = "Codes")]
    codes: Vec<Code>,
}

pub async fn links(
    State(state): State<ApiState>,
    Ext(Path(id)): Ext<Path<String>>,
    Ext(Query(q)): Ext<Query<LinksQuery>>,
) -> Result<Json<LinksView>, ApiError> {
    let (_, links) = load(&state, id, q.query, |store, id| {
        Ok(store.raw(id)?.map(|raw| {
            let (text, html) = view::bodies(&raw);
            links::links(&text, &html)
        }))
    })
    .await?;
    Ok(Json(LinksView { links }))
}

pub async fn codes(
    State(state): State<ApiState>,
    Ext(Path(id)): Ext<Path<String>>,
    Ext(Query(q)): Ext<Query<LinksQuery>>,
) -> Result<Json<CodesView>, ApiError> {
    let (_, codes) = load(&state, id, q.query, |store, id| {
        Ok(store.raw(id)?.map(|raw| {
            let (text, html) = view::bodies(&raw);
            links::codes(&text, &html)
        }))
    })
    .await?;
    Ok(Json(CodesView { codes }))
}
