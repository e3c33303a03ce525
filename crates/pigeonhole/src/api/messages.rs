//! The mailbox as a whole: `GET /api/v1/messages` (list), `GET /api/v1/search`,
//! `PUT /api/v1/messages` (read status), `DELETE /api/v1/messages` and
//! `DELETE /api/v1/search`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::error::{ApiError, Ext};
use super::{ApiState, read};
use crate::store::{MessagePage, Selection};

/// Page size when `limit` is missing, zero or not a number (Mailpit's default).
const DEFAULT_LIMIT: u64 = 50;
/// Largest page served, whatever `limit` asks: one answer stays a few MB at most.
const MAX_LIMIT: u64 = 10_000;

/// `start`, `limit` and `query`, read as leniently as Mailpit reads them: a value
/// that is not a number falls back to its default instead of failing the request.
#[derive(Deserialize)]
pub struct PageQuery {
    start: Option<String>,
    limit: Option<String>,
    query: Option<String>,
}

impl PageQuery {
    fn start(&self) -> u64 {
        self.start.as_deref().and_then(|s| s.trim().parse().ok()).unwrap_or(0)
    }

    fn limit(&self) -> u64 {
        match self.limit.as_deref().and_then(|s| s.trim().parse::<u64>().ok()) {
            Some(0) | None => DEFAULT_LIMIT,
            Some(limit) => limit.min(MAX_LIMIT),
        }
    }
}

pub async fn list(
    State(state): State<ApiState>,
    Ext(Query(page)): Ext<Query<PageQuery>>,
) -> Result<Json<MessagePage>, ApiError> {
    let (start, limit) = (page.start(), page.limit());
    Ok(Json(read(&state, move |store| store.list(start, limit)).await?))
}

pub async fn search(
    State(state): State<ApiState>,
    Ext(Query(page)): Ext<Query<PageQuery>>,
) -> Result<Json<MessagePage>, ApiError> {
    let (start, limit) = (page.start(), page.limit());
    let query = page.query.as_deref().unwrap_or("").trim().to_string();
    if query.is_empty() {
        return Err(ApiError::bad_request("Error: no search query"));
    }
    Ok(Json(read(&state, move |store| store.search(&query, start, limit)).await?))
}

/// `DELETE /api/v1/search?query=`: delete every message matching the query. An
/// empty query is refused as on `GET`, so it can never mean "everything".
pub async fn delete_search(
    State(state): State<ApiState>,
    Ext(Query(page)): Ext<Query<PageQuery>>,
) -> Result<&'static str, ApiError> {
    let query = page.query.as_deref().unwrap_or("").trim().to_string();
    if query.is_empty() {
        return Err(ApiError::bad_request("Error: no search query"));
    }
    state.store.delete(Selection::Search(query)).await?;
    Ok("ok")
}

/// Body `{"IDs": [...], "Read": bool, "Search": "..."}`: IDs or Search, not both;
/// neither means every message.
pub async fn set_read(
    State(state): State<ApiState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<&'static str, ApiError> {
    let body = GoObject::parse(&body?).map_err(ApiError::bad_request)?;
    let mark_read: bool = body.field("Read").map_err(ApiError::bad_request)?.unwrap_or(false);
    let ids: Vec<String> = body.field("IDs").map_err(ApiError::bad_request)?.unwrap_or_default();
    let search: String = body.field("Search").map_err(ApiError::bad_request)?.unwrap_or_default();
    let search = search.trim();

    let selection = match (ids.is_empty(), search.is_empty()) {
        (false, false) => {
            return Err(ApiError::bad_request("You may specify either IDs or a search query, not both"));
        }
        (false, true) => Selection::Ids(ids),
        (true, false) => Selection::Search(search.to_string()),
        (true, true) => Selection::All,
    };
    state.store.set_read(selection, mark_read).await?;
    Ok("ok")
}

/// Body `{"IDs": [...]}`. Like Mailpit, a missing, empty or undecodable body
/// deletes every message (some clients send form data and rely on that).
pub async fn delete(
    State(state): State<ApiState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<&'static str, ApiError> {
    let ids: Vec<String> =
        GoObject::parse(&body?).ok().and_then(|body| body.field("IDs").ok().flatten()).unwrap_or_default();
    let selection = if ids.is_empty() { Selection::All } else { Selection::Ids(ids) };
    state.store.delete(selection).await?;
    Ok("ok")
}

/// A JSON request body read the way Go's `encoding/json` fills a struct, which is
/// what Mailpit's clients were written against: keys match field names
/// case-insensitively (`IDs`, `ids`, `Ids`), unknown keys are ignored, and anything
/// after the first JSON value is ignored.
pub(super) struct GoObject(Map<String, Value>);

impl GoObject {
    pub(super) fn parse(body: &[u8]) -> Result<GoObject, String> {
        let first = serde_json::Deserializer::from_slice(body).into_iter::<Value>().next();
        match first {
            Some(Ok(Value::Object(map))) => Ok(GoObject(map)),
            Some(Ok(Value::Null)) => Ok(GoObject(Map::new())),
            Some(Ok(_)) => Err("the request body must be a JSON object".to_string()),
            Some(Err(err)) => Err(format!("invalid JSON body: {err}")),
            None => Err("a JSON request body is required".to_string()),
        }
    }

    /// The value of field `name`; `None` when absent or `null`.
    pub(super) fn field<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, String> {
        let Some(value) = self.0.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, v)| v) else {
            return Ok(None);
        };
        serde_json::from_value(value.clone()).map_err(|err| format!("invalid {name}: {err}"))
    }
}
