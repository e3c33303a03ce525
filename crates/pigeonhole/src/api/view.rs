//! Single bodies for UI and integration tests: `GET /view/{ID}.txt`, the message's
//! text part as plain text. `{ID}` may be `latest` (with `?query=`), as on the
//! `/api/v1/message/{ID}` routes. (`/view/{ID}.html` is not served yet.)

use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};

use super::ApiState;
use super::error::{ApiError, Ext};
use super::message::{MessageQuery, load};
use crate::mail::view;

/// `/view/{file}`: `{ID}.txt` is the text part; any other name is not found.
pub async fn show(
    State(state): State<ApiState>,
    Ext(Path(file)): Ext<Path<String>>,
    Ext(Query(q)): Ext<Query<MessageQuery>>,
) -> Result<Response, ApiError> {
    let Some(id) = file.strip_suffix(".txt").filter(|id| !id.is_empty()) else {
        return Err(ApiError::not_found("Not found"));
    };
    let (_, text) = load(&state, id.to_string(), q.query, |store, id| {
        let (Some(summary), Some(raw)) = (store.summary(id)?, store.raw(id)?) else {
            return Ok(None);
        };
        Ok(Some(view::message(&summary, &raw).text))
    })
    .await?;
    // Like Mailpit: a message without text answers 200 with an empty body (clients
    // such as mailpit-api treat any other status as an error).
    Ok(([(CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}
