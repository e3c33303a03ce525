//! `POST /api/v1/export` (ours): messages as one mboxrd file, for mail clients and
//! archives. Body `{"IDs": […]}` (in that order) or `{"Search": "query"}` (every
//! match, oldest first; an empty query matches every message).
//!
//! Each message is an mboxrd entry ([`mbox::entry`]): a `From <MAIL FROM> <asctime>`
//! separator line, its exact stored bytes quoted, and an empty line. The file is
//! streamed: one message is read from the store at a time, so an export of any size
//! holds little memory.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::messages::GoObject;
use super::{ApiState, read};
use crate::archive;
use crate::mail::mbox;
use crate::model::{Access, MessageId};
use crate::store::{SearchQuery, Store, StoreError};

/// Messages read ahead of a slow client.
const READ_AHEAD: usize = 4;

/// The body: IDs or a search.
#[derive(ToSchema)]
pub(super) struct ExportParams {
    /// These messages, in this order.
    #[schema(rename = "IDs")]
    ids: Option<Vec<String>>,
    /// Every message matching this search, oldest first (`""`: every message).
    #[schema(rename = "Search")]
    search: Option<String>,
}

/// Messages as one mboxrd file.
#[utoipa::path(
    post,
    path = "/api/v1/export",
    tag = "send",
    request_body = ExportParams,
    responses(
        (status = 200, description = "The mbox file, streamed", body = String, content_type = "application/mbox"),
        (status = 400, description = "Neither or both of IDs and Search", body = ErrorBody),
        (status = 404, description = "One of the IDs is not stored", body = ErrorBody),
    )
)]
pub async fn export(
    State(state): State<ApiState>,
    access: Access,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = GoObject::parse(&body?).map_err(ApiError::bad_request)?;
    let params = ExportParams { ids: body.param("IDs")?, search: body.param("Search")? };
    let ids = params.ids.unwrap_or_default();

    let ids = match (ids.is_empty(), params.search) {
        (false, None) => {
            let found = read(&state, move |store| {
                let mut stored = Vec::with_capacity(ids.len());
                for id in ids {
                    match MessageId::parse(&id) {
                        Some(parsed) if store.summary(&parsed)?.is_some_and(|s| access.allows(&s.inbox)) => {
                            stored.push(parsed)
                        }
                        _ => return Ok(Err(id)),
                    }
                }
                Ok(Ok(stored))
            });
            found.await?.map_err(|id| ApiError::not_found(format!("Message not found: {id}")))?
        }
        (true, Some(search)) => {
            read(&state, move |store| archive::matching(store, SearchQuery::from(search.trim()).within(&access)))
                .await?
        }
        _ => return Err(ApiError::bad_request("give either IDs or a Search query")),
    };

    let (chunks, mut received) = mpsc::channel::<Result<Vec<u8>, std::io::Error>>(READ_AHEAD);
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || {
        for id in ids {
            let chunk = match entry(&store, &id) {
                Ok(Some(bytes)) => Ok(bytes),
                // Deleted since the export started.
                Ok(None) => continue,
                Err(err) => {
                    tracing::error!("export: reading message {id} failed: {err}");
                    // An error ends the body early, so the client sees a broken download.
                    Err(std::io::Error::other(err.to_string()))
                }
            };
            let failed = chunk.is_err();
            if chunks.blocking_send(chunk).is_err() || failed {
                // The client went away, or the file cannot be completed.
                break;
            }
        }
    });
    let stream = futures_util::stream::poll_fn(move |cx| received.poll_recv(cx));
    Ok((
        [(CONTENT_TYPE, "application/mbox"), (CONTENT_DISPOSITION, "attachment; filename=\"pigeonhole-export.mbox\"")],
        Body::from_stream(stream),
    )
        .into_response())
}

/// Message `id`'s mboxrd entry, or `None` when it is gone.
fn entry(store: &Store, id: &MessageId) -> Result<Option<Vec<u8>>, StoreError> {
    let (Some(raw), Some(envelope), Some(summary)) = (store.raw(id)?, store.envelope(id)?, store.summary(id)?) else {
        return Ok(None);
    };
    Ok(Some(mbox::entry(&envelope.mail_from, summary.created, &raw)))
}
