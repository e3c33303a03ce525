//! `GET /api/v1/wait?query=…&timeout=30s&after=…` (ours): long-poll until a message
//! matching `query` (Mailpit's search syntax; empty or absent matches any message)
//! is stored after the cursor `after`, then answer its summary — the same JSON as a
//! list item. Nothing within `timeout`: 408 `{"Error": "…"}`.
//!
//! The cursor `after` is either
//! * a message ID: messages stored after that message, in storage order. A message
//!   no longer stored (deleted, pruned) still marks its point: the millisecond it
//!   was received, which its ID encodes (messages received in that millisecond
//!   count, since they may have come after it);
//! * an RFC 3339 time: messages received later than that instant, to the
//!   millisecond;
//! * absent or empty: messages stored after the request arrived.
//!
//! When several match, the first stored is answered, so a client that passes the
//! last answer's `ID` as the next `after` gets every match in turn, whatever pages,
//! retention or deletes do meanwhile.
//!
//! How: subscribe to the store's events first, then look in the store, so nothing
//! stored between the two is missed; then check each `new` event's message against
//! the query. A waiter costs one broadcast receiver while idle; if it falls too far
//! behind the events it looks in the store again. Shutdown answers waiters 503.

use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{Instant, timeout_at};

use super::error::{ApiError, ErrorBody, Ext};
use super::{ApiState, read};
use crate::model::{Access, Event};
use crate::model::{MessageId, MessageSummary};
use crate::store::{Position, SearchQuery};

/// `timeout` when the request gives none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest `timeout` accepted; longer ones are refused with 400.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// What `after` named.
#[derive(Debug, Clone, PartialEq)]
enum Cursor {
    /// Messages stored from now on.
    Now,
    Message(String),
    Time(OffsetDateTime),
}

/// Wait for the next message matching a search (ours).
#[utoipa::path(
    get,
    path = "/api/v1/wait",
    tag = "messages",
    params(
        ("query" = Option<String>, Query, description = "A search in Mailpit's syntax; empty or missing: any message"),
        ("timeout" = Option<String>, Query, description = "How long to wait: `500ms`, `30s`, `2m` or seconds; 30s by \
            default, at most 5m"),
        ("after" = Option<String>, Query, description = "Only messages stored after this message ID or received after \
            this RFC 3339 time; missing: after the request"),
    ),
    responses(
        (status = 200, description = "The first matching message", body = MessageSummary),
        (status = 400, description = "A bad `timeout` or `after`", body = ErrorBody),
        (status = 408, description = "Nothing matched within the timeout", body = ErrorBody),
        (status = 503, description = "The server is shutting down", body = ErrorBody),
    )
)]
pub async fn wait(
    State(state): State<ApiState>,
    access: Access,
    Ext(Query(params)): Ext<Query<Vec<(String, String)>>>,
) -> Result<Json<MessageSummary>, ApiError> {
    let started = Instant::now();
    // Request keys are case-insensitive, as Mailpit's (Go) are.
    let param = |name: &str| params.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim());
    let limit = match param("timeout").filter(|t| !t.is_empty()) {
        None => DEFAULT_TIMEOUT,
        Some(text) => parse_timeout(text).map_err(ApiError::bad_request)?,
    };
    let cursor = parse_cursor(param("after").unwrap_or("")).map_err(ApiError::bad_request)?;
    let query = SearchQuery::from(param("query").unwrap_or("")).within(&access);
    let deadline = started + limit;

    // Subscribe before looking in the store: a message stored in between is then
    // both in the store and among the events, never in neither.
    let mut events = state.events.subscribe();
    let mut closing = state.streams.closing();

    let (position, found) = {
        let (query, cursor) = (query.clone(), cursor.clone());
        read(&state, move |store| {
            let position = match cursor {
                Cursor::Now => return Ok((Some(store.position_now()?), None)),
                Cursor::Time(time) => Position::received_after(time),
                Cursor::Message(id) => match MessageId::parse(&id) {
                    Some(id) => store.position_after(&id)?,
                    None => return Ok((None, None)),
                },
            };
            Ok((Some(position), store.first_matching_after(&query, position)?))
        })
        .await?
    };
    let Some(position) = position else {
        return Err(ApiError::bad_request("after: not a message ID or an RFC 3339 time"));
    };
    if let Some(summary) = found {
        return Ok(Json(summary));
    }

    let any = query.text.trim().is_empty();
    loop {
        let event = tokio::select! {
            event = timeout_at(deadline, events.recv()) => event,
            _ = closing.wait_for(|closing| *closing) => {
                return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "server shutting down"));
            }
        };
        let found = match event {
            Err(_elapsed) => {
                return Err(ApiError::new(
                    StatusCode::REQUEST_TIMEOUT,
                    format!("no message matching the query arrived within {}", show_duration(limit)),
                ));
            }
            Ok(Ok(Event::New(summary))) => {
                if !position.admits_new(&summary)
                    || matches!(&cursor, Cursor::Message(id) if id == summary.id.as_str())
                    || !access.allows(&summary.inbox)
                {
                    None
                } else if any {
                    Some(*summary)
                } else {
                    let query = query.clone();
                    read(&state, move |store| store.summary_if_matching(&summary.id, &query)).await?
                }
            }
            // Deletes, read flags, pruning: nothing new to look at.
            Ok(Ok(_)) => None,
            // Fell behind the events: look in the store for what went by.
            Ok(Err(RecvError::Lagged(_))) => {
                let query = query.clone();
                read(&state, move |store| store.first_matching_after(&query, position)).await?
            }
            Ok(Err(RecvError::Closed)) => {
                return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the store is shutting down"));
            }
        };
        if let Some(summary) = found {
            return Ok(Json(summary));
        }
    }
}

/// `500ms`, `30s`, `2m`, or a plain number of seconds; fractions allowed
/// (`1.5s`). At most [`MAX_TIMEOUT`].
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    let bad = || format!("timeout: {text:?} is not a duration like 500ms, 30s or 2m");
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit.trim() {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "m" => number * 60.0,
        _ => return Err(bad()),
    };
    if !seconds.is_finite() || seconds > MAX_TIMEOUT.as_secs_f64() {
        return Err(format!("timeout: at most {}", show_duration(MAX_TIMEOUT)));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// `after`: an RFC 3339 time, else a message ID (whether it is one of ours is for
/// the store to say); empty is "from now on".
fn parse_cursor(text: &str) -> Result<Cursor, String> {
    if text.is_empty() {
        return Ok(Cursor::Now);
    }
    if let Ok(time) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(Cursor::Time(time));
    }
    if text.bytes().all(|c| c.is_ascii_alphanumeric()) {
        return Ok(Cursor::Message(text.to_owned()));
    }
    Err("after: not a message ID or an RFC 3339 time".to_owned())
}

/// `30s`, `1.5s`, `250ms`, `5m`.
fn show_duration(duration: Duration) -> String {
    let ms = duration.as_millis();
    if ms > 0 && ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else if ms > 0 && ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else if ms >= 1000 {
        format!("{}s", duration.as_secs_f64())
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use axum::body::{Body, to_bytes};
    use axum::http::Request;
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;
    use crate::api::tests::Api;
    use crate::config::StoreConfig;
    use crate::model::Envelope;
    use crate::model::NewMessage;
    use crate::model::event;
    use crate::model::message::SUMMARY_KEYS;
    use crate::store::Store;

    /// A plain message with this subject, stored through the API tests' harness.
    async fn submit(api: &Api, subject: &str) -> String {
        let raw = format!("From: a@example.com\r\nTo: b@example.com\r\nSubject: {subject}\r\n\r\nhi\r\n");
        api.submit(raw.as_bytes(), None).await
    }

    /// Start `GET uri` on its own task; returns once it is waiting for events.
    async fn start(api: &Api, uri: &str) -> tokio::task::JoinHandle<(StatusCode, Value)> {
        let receivers = api.state.events.receiver_count();
        let request = Request::get(uri).header("host", "127.0.0.1:8025").body(Body::empty()).unwrap();
        let router = api.router.clone();
        let waiter = tokio::spawn(async move {
            let response = router.oneshot(request).await.unwrap();
            let status = response.status();
            let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
            (status, serde_json::from_slice(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}")))
        });
        let subscribed = Instant::now() + Duration::from_secs(5);
        while api.state.events.receiver_count() == receivers && !waiter.is_finished() {
            assert!(Instant::now() < subscribed, "the waiter never subscribed");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // Let it look in the store and reach its event loop.
        tokio::time::sleep(Duration::from_millis(20)).await;
        waiter
    }

    async fn get(api: &Api, uri: &str) -> (StatusCode, Value) {
        start(api, uri).await.await.unwrap()
    }

    fn error(answer: &(StatusCode, Value), status: StatusCode) -> String {
        assert_eq!(answer.0, status, "{}", answer.1);
        assert_eq!(answer.1.as_object().unwrap().keys().collect::<Vec<_>>(), ["Error"]);
        answer.1["Error"].as_str().unwrap().to_owned()
    }

    #[tokio::test]
    async fn a_waiter_gets_the_next_matching_message() {
        let api = Api::new().await;
        submit(&api, "already here").await;
        let waiter = start(&api, "/api/v1/wait?query=subject:wanted&timeout=5s").await;
        submit(&api, "something else").await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "a message that does not match must not wake the waiter");
        let id = submit(&api, "the wanted one").await;
        let (status, summary) = waiter.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{summary}");
        assert_eq!(summary["ID"], id.as_str());
        assert_eq!(summary["Subject"], "the wanted one");
        let mut keys: Vec<&str> = summary.as_object().unwrap().keys().map(String::as_str).collect();
        let mut want = SUMMARY_KEYS.to_vec();
        keys.sort_unstable();
        want.sort_unstable();
        assert_eq!(keys, want, "the list item's keys");
        let listed = api.state.store.list(0, 1).unwrap().messages.remove(0);
        assert_eq!(summary, serde_json::to_value(listed).unwrap(), "the same summary as the list's");

        // No query: the next message of any kind; keys are case-insensitive.
        let waiter = start(&api, "/api/v1/wait?TIMEOUT=5s").await;
        let id = submit(&api, "anything").await;
        let (status, summary) = waiter.await.unwrap();
        assert_eq!((status, summary["ID"].as_str()), (StatusCode::OK, Some(id.as_str())));
    }

    #[tokio::test]
    async fn a_match_after_the_cursor_answers_at_once() {
        let api = Api::new().await;
        let first = submit(&api, "one").await;
        let second = submit(&api, "two").await;
        let third = submit(&api, "three").await;

        // The first match after the cursor, oldest first.
        let (status, summary) = get(&api, &format!("/api/v1/wait?after={first}&timeout=0")).await;
        assert_eq!((status, summary["ID"].as_str()), (StatusCode::OK, Some(second.as_str())));
        let (_, summary) = get(&api, &format!("/api/v1/wait?after={first}&query=subject:three&timeout=0")).await;
        assert_eq!(summary["ID"], third.as_str());
        // A time: messages received later than it.
        let (_, summary) = get(&api, "/api/v1/wait?after=2000-01-01T00:00:00Z&timeout=0").await;
        assert_eq!(summary["ID"], first.as_str());
        let (_, summary) =
            get(&api, "/api/v1/wait?after=2000-01-01T01:00:00%2B01:00&query=-subject:one&timeout=0").await;
        assert_eq!(summary["ID"], second.as_str());
        error(&get(&api, "/api/v1/wait?after=2999-01-01T00:00:00Z&timeout=0").await, StatusCode::REQUEST_TIMEOUT);

        // Nothing after the newest: it waits, and takes the next one.
        let waiter = start(&api, &format!("/api/v1/wait?after={third}&timeout=5s")).await;
        let fourth = submit(&api, "four").await;
        assert_eq!(waiter.await.unwrap().1["ID"], fourth.as_str());

        // A cursor whose message was deleted still counts, by the time in its ID
        // (even when the next message arrived in the same millisecond).
        api.state.store.delete(crate::store::Selection::Ids(vec![MessageId::parse(&first).unwrap()])).await.unwrap();
        let (status, summary) = get(&api, &format!("/api/v1/wait?after={first}&timeout=0")).await;
        assert_eq!((status, summary["ID"].as_str()), (StatusCode::OK, Some(second.as_str())));
    }

    #[tokio::test]
    async fn timeout_is_408_and_bad_parameters_400() {
        let api = Api::new().await;
        submit(&api, "old").await;
        let started = Instant::now();
        let answer = get(&api, "/api/v1/wait?timeout=200ms").await;
        assert_eq!(error(&answer, StatusCode::REQUEST_TIMEOUT), "no message matching the query arrived within 200ms");
        assert!(started.elapsed() >= Duration::from_millis(200), "{:?}", started.elapsed());
        // A message that came before the request does not count.
        error(&get(&api, "/api/v1/wait?timeout=0").await, StatusCode::REQUEST_TIMEOUT);

        for (uri, message) in [
            ("/api/v1/wait?timeout=soon", "timeout: \"soon\" is not a duration like 500ms, 30s or 2m"),
            ("/api/v1/wait?timeout=10m", "timeout: at most 5m"),
            ("/api/v1/wait?after=../x", "after: not a message ID or an RFC 3339 time"),
            ("/api/v1/wait?after=abc", "after: not a message ID or an RFC 3339 time"),
        ] {
            assert_eq!(error(&get(&api, uri).await, StatusCode::BAD_REQUEST), message, "{uri}");
        }
    }

    #[tokio::test]
    async fn a_waiter_that_falls_behind_the_events_looks_in_the_store() {
        let api = Api::new().await;
        let waiter = start(&api, "/api/v1/wait?query=subject:missed&timeout=5s").await;
        // A message stored without its event reaching the waiter (a second store
        // on the same file, with events of its own), then more events than the
        // waiter keeps: it lags, and finds the message in the store.
        let other = Store::open(api.dir.path(), StoreConfig::default(), event::channel()).unwrap();
        let raw = b"From: a@example.com\r\nSubject: missed\r\n\r\nhi\r\n".to_vec();
        let envelope = Envelope::default();
        let id = other.submit(NewMessage { raw, envelope, received_at: OffsetDateTime::now_utc() }).await.unwrap();
        other.close().await;
        for _ in 0..=event::EVENT_BACKLOG {
            api.state.events.send(Event::Stats(crate::model::Stats::new(0, 0))).unwrap();
        }
        let (status, summary) = waiter.await.unwrap();
        assert_eq!((status, summary["ID"].as_str()), (StatusCode::OK, Some(id.as_str())));
    }

    #[tokio::test]
    async fn shutdown_answers_waiters_503() {
        let api = Api::new().await;
        let waiter = start(&api, "/api/v1/wait?timeout=5m").await;
        api.state.close_streams();
        let answer = tokio::time::timeout(Duration::from_secs(5), waiter).await.unwrap().unwrap();
        assert_eq!(error(&answer, StatusCode::SERVICE_UNAVAILABLE), "server shutting down");
    }

    #[test]
    fn timeouts() {
        assert_eq!(parse_timeout("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_timeout("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_timeout("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_timeout("7"), Ok(Duration::from_secs(7)));
        assert_eq!(parse_timeout("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_timeout("0"), Ok(Duration::ZERO));
        assert_eq!(parse_timeout("5m"), Ok(MAX_TIMEOUT));
        assert_eq!(parse_timeout("301s"), Err("timeout: at most 5m".to_owned()));
        for bad in ["soon", "-1s", "1h", "s", "1..2s", "1e3", "ms"] {
            assert!(parse_timeout(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cursors() {
        assert_eq!(parse_cursor(""), Ok(Cursor::Now));
        assert_eq!(parse_cursor("1bC2x"), Ok(Cursor::Message("1bC2x".into())));
        assert_eq!(
            parse_cursor("2025-07-01T10:20:30.5+02:00"),
            Ok(Cursor::Time(time::macros::datetime!(2025-07-01 08:20:30.5 UTC)))
        );
        assert!(parse_cursor("yesterday at noon").is_err());
        assert!(parse_cursor("../x").is_err());
    }

    #[test]
    fn durations_read_back() {
        assert_eq!(show_duration(Duration::from_secs(30)), "30s");
        assert_eq!(show_duration(Duration::from_secs(120)), "2m");
        assert_eq!(show_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(show_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(show_duration(Duration::ZERO), "0ms");
    }
}
