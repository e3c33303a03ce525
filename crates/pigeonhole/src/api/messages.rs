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
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody, Ext};
use super::{ApiState, read};
use crate::model::{Access, MessageId, MessagePage, Stats};
use crate::store::{SearchQuery, Selection, Store, StoreError};

/// The parameters of the list and the search, as documented (a query of only
/// spaces is refused like a missing one).
const QUERY: &str = "The search, in Mailpit's syntax";
const START: &str = "How many messages to skip (newest first); 0 by default";
const LIMIT: &str = "How many to answer; 50 when missing or 0, at most 10000";
const TZ: &str = "The IANA time zone (`Europe/Berlin`) that `before:` and `after:` dates without an offset \
                  are read in; UTC when missing. An unknown zone is a 400";

/// Page size when `limit` is missing, zero or not a number (Mailpit's default).
const DEFAULT_LIMIT: u64 = 50;
/// Largest page served, whatever `limit` asks: one answer stays a few MB at most.
const MAX_LIMIT: u64 = 10_000;

/// `start`, `limit`, `query` and `tz`, read as leniently as Mailpit reads them: a
/// value that is not a number falls back to its default instead of failing the
/// request.
#[derive(Deserialize)]
pub struct PageQuery {
    start: Option<String>,
    limit: Option<String>,
    query: Option<String>,
    tz: Option<String>,
}

impl PageQuery {
    fn start(&self) -> u64 {
        self.start.as_deref().and_then(|s| s.trim().parse().ok()).unwrap_or(0)
    }

    /// The search query, with the time zone its dates are read in; an empty query
    /// or an unknown zone is a 400.
    fn search(&self) -> Result<SearchQuery, ApiError> {
        let query = self.query.as_deref().unwrap_or("").trim();
        if query.is_empty() {
            return Err(ApiError::bad_request("Error: no search query"));
        }
        self.zoned(query)
    }

    /// `text` with its dates read in the `tz` parameter's time zone; an unknown
    /// zone is a 400.
    fn zoned(&self, text: &str) -> Result<SearchQuery, ApiError> {
        SearchQuery::in_zone(text, self.tz.as_deref().unwrap_or("")).map_err(ApiError::bad_request)
    }

    fn limit(&self) -> u64 {
        match self.limit.as_deref().and_then(|s| s.trim().parse::<u64>().ok()) {
            Some(0) | None => DEFAULT_LIMIT,
            Some(limit) => limit.min(MAX_LIMIT),
        }
    }
}

/// The messages, newest first, a page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/messages",
    tag = "messages",
    params(("start" = Option<u64>, Query, description = START), ("limit" = Option<u64>, Query, description = LIMIT)),
    responses((status = 200, description = "A page of summaries", body = MessagePage))
)]
pub async fn list(
    State(state): State<ApiState>,
    access: Access,
    Ext(Query(page)): Ext<Query<PageQuery>>,
) -> Result<Json<MessagePage>, ApiError> {
    let (start, limit) = (page.start(), page.limit());
    Ok(Json(read(&state, move |store| list_page(store, &access, start, limit)).await?))
}

/// The totals `access` may see: the store's, or those of its inboxes alone.
pub(super) fn visible_stats(store: &Store, access: &Access) -> Result<Stats, StoreError> {
    match access {
        Access::All => store.stats(),
        Access::Inboxes(_) => {
            let page = store.search_in(&SearchQuery::from("").within(access), 0, 0)?;
            Ok(Stats::new(page.total, page.unread))
        }
    }
}

/// The newest messages `access` sees, with the totals of its inboxes.
pub(super) fn list_page(store: &Store, access: &Access, start: u64, limit: u64) -> Result<MessagePage, StoreError> {
    match access {
        Access::All => store.list(start, limit),
        Access::Inboxes(_) => store.search_in(&SearchQuery::from("").within(access), start, limit),
    }
}

/// The messages matching a search (Mailpit's syntax), newest first.
#[utoipa::path(
    get,
    path = "/api/v1/search",
    tag = "messages",
    params(
        ("query" = String, Query, description = QUERY, pattern = r"\S"),
        ("start" = Option<u64>, Query, description = START),
        ("limit" = Option<u64>, Query, description = LIMIT),
        ("tz" = Option<String>, Query, description = TZ),
    ),
    responses(
        (status = 200, description = "A page of matching summaries", body = MessagePage),
        (status = 400, description = "No search query, or an unknown time zone", body = ErrorBody),
    )
)]
pub async fn search(
    State(state): State<ApiState>,
    access: Access,
    Ext(Query(page)): Ext<Query<PageQuery>>,
) -> Result<Json<MessagePage>, ApiError> {
    let (start, limit) = (page.start(), page.limit());
    let query = page.search()?.within(&access);
    Ok(Json(read(&state, move |store| store.search_in(&query, start, limit)).await?))
}

/// `DELETE /api/v1/search?query=`: delete every message matching the query. An
/// empty query is refused as on `GET`, so it can never mean "everything".
#[utoipa::path(
    delete,
    path = "/api/v1/search",
    tag = "messages",
    params(
        ("query" = String, Query, description = QUERY, pattern = r"\S"),
        ("tz" = Option<String>, Query, description = TZ),
    ),
    responses(
        (status = 200, description = "Deleted", body = String, content_type = "text/plain", example = "ok"),
        (status = 400, description = "No search query, or an unknown time zone", body = ErrorBody),
    )
)]
pub async fn delete_search(
    State(state): State<ApiState>,
    access: Access,
    Ext(Query(page)): Ext<Query<PageQuery>>,
) -> Result<&'static str, ApiError> {
    state.store.delete(Selection::Search(page.search()?).within(&access)).await?;
    Ok("ok")
}

/// `PUT /api/v1/messages`'s body: IDs or Search, not both; neither means every
/// message. Keys are matched case-insensitively, as everywhere ([`GoObject`]).
#[derive(ToSchema)]
#[schema(rename_all = "PascalCase")]
pub(super) struct SetReadParams {
    #[schema(rename = "IDs")]
    ids: Option<Vec<String>>,
    /// `true`: mark read; `false` (or missing): mark unread.
    read: Option<bool>,
    /// Every message matching this search (Mailpit's syntax).
    search: Option<String>,
}

/// Mark messages read or unread.
#[utoipa::path(
    put,
    path = "/api/v1/messages",
    tag = "messages",
    params(("tz" = Option<String>, Query, description = TZ)),
    request_body = SetReadParams,
    responses(
        (status = 200, description = "Done", body = String, content_type = "text/plain", example = "ok"),
        (status = 400, description = "Not a JSON object, both IDs and Search, or an unknown time zone", body = ErrorBody),
    )
)]
pub async fn set_read(
    State(state): State<ApiState>,
    access: Access,
    Ext(Query(page)): Ext<Query<PageQuery>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<&'static str, ApiError> {
    let body = GoObject::parse(&body?).map_err(ApiError::bad_request)?;
    let params = SetReadParams { ids: body.param("IDs")?, read: body.param("Read")?, search: body.param("Search")? };
    let (mark_read, ids) = (params.read.unwrap_or(false), params.ids.unwrap_or_default());
    let search = params.search.unwrap_or_default();
    let search = search.trim();

    let selection = match (ids.is_empty(), search.is_empty()) {
        (false, false) => {
            return Err(ApiError::bad_request("You may specify either IDs or a search query, not both"));
        }
        (false, true) => Selection::Ids(parse_ids(&ids)),
        (true, false) => Selection::Search(page.zoned(search)?),
        (true, true) => Selection::All,
    };
    state.store.set_read(selection.within(&access), mark_read).await?;
    Ok("ok")
}

/// `DELETE /api/v1/messages`'s body.
#[derive(ToSchema)]
pub(super) struct Ids {
    /// The messages' IDs.
    #[schema(rename = "IDs")]
    ids: Option<Vec<String>>,
}

/// Delete some messages, or all. Like Mailpit, a missing, empty or undecodable
/// body deletes every message (some clients send form data and rely on that).
#[utoipa::path(
    delete,
    path = "/api/v1/messages",
    tag = "messages",
    request_body(content = Option<Ids>, description = "No IDs (or no body): every message"),
    responses((status = 200, description = "Deleted", body = String, content_type = "text/plain", example = "ok"))
)]
pub async fn delete(
    State(state): State<ApiState>,
    access: Access,
    body: Result<Bytes, BytesRejection>,
) -> Result<&'static str, ApiError> {
    let ids = Ids { ids: GoObject::parse(&body?).ok().and_then(|body| body.field("IDs").ok().flatten()) };
    let ids = ids.ids.unwrap_or_default();
    let selection = if ids.is_empty() { Selection::All } else { Selection::Ids(parse_ids(&ids)) };
    state.store.delete(selection.within(&access)).await?;
    Ok("ok")
}

/// The IDs of a request body that have the shape of one; the others name no
/// message, so leaving them out selects the same messages.
pub(super) fn parse_ids(ids: &[String]) -> Vec<MessageId> {
    ids.iter().filter_map(|id| MessageId::parse(id)).collect()
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

    /// [`GoObject::field`], a bad value refused with 400.
    pub(super) fn param<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, ApiError> {
        self.field(name).map_err(ApiError::bad_request)
    }
}
