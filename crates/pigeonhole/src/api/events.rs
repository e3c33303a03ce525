//! `GET /api/events`: the WebSocket that pushes store changes to the UI, in
//! Mailpit's frames (`{"Type": "new", "Data": {...}}`).
//!
//! On connect the client gets a `stats` event, then every event the store
//! broadcasts. A client too slow to keep up misses events rather than slowing
//! ingest; it then gets a `prune` event, which tells it to reload. The server pings
//! every [`PING_EVERY`], reads and discards whatever the client sends, and closes
//! every stream with "going away" when the engine shuts down.
//!
//! Bounded: at most [`MAX_STREAMS`] streams at once (more get 503), and a client
//! that does not take a frame within [`SEND_TIMEOUT`] is dropped.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::http::StatusCode;
use axum::response::Response;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast, watch};
use tokio::time::{Instant, interval_at, timeout};

use super::error::{ApiError, ErrorBody, Ext};
use super::{ApiState, read};
use crate::events::Event;

/// Event streams open at once.
const MAX_STREAMS: usize = 256;
/// Keeps idle connections (and proxies between) from timing out.
const PING_EVERY: Duration = Duration::from_secs(30);
/// Longest wait for a client to take one frame.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// The streams' shared state: free slots, and the shutdown signal.
#[derive(Clone)]
pub(super) struct Streams {
    slots: Arc<Semaphore>,
    closing: watch::Sender<bool>,
}

impl Streams {
    pub(super) fn new() -> Streams {
        Streams { slots: Arc::new(Semaphore::new(MAX_STREAMS)), closing: watch::Sender::new(false) }
    }

    pub(super) fn close(&self) {
        self.slots.close();
        self.closing.send_replace(true);
    }

    /// Turns true when shutdown starts (`/api/v1/wait` listens too).
    pub(super) fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }
}

/// The live event stream: a WebSocket of [`Event`] frames.
#[utoipa::path(
    get,
    path = "/api/events",
    tag = "events",
    responses(
        (status = 101, description = "Switched to a WebSocket: a `stats` event, then every change as a JSON text \
            frame `{\"Type\": …, \"Data\": …}` (schema `Event`)"),
        (status = 400, description = "Not a WebSocket upgrade request", body = ErrorBody),
        (status = 426, description = "The connection cannot be upgraded", body = ErrorBody),
        (status = 503, description = "Too many streams open, or shutting down", body = ErrorBody),
    )
)]
pub async fn connect(State(state): State<ApiState>, Ext(upgrade): Ext<WebSocketUpgrade>) -> Result<Response, ApiError> {
    let slot =
        state.streams.slots.clone().try_acquire_owned().map_err(|_| {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "too many event streams open, or shutting down")
        })?;
    // Subscribe before the stats are read, so no change between the two is lost.
    let events = state.events.subscribe();
    let closing = state.streams.closing.subscribe();
    Ok(upgrade.on_upgrade(move |socket| stream(socket, state, events, closing, slot)))
}

async fn stream(
    socket: WebSocket,
    state: ApiState,
    mut events: broadcast::Receiver<Event>,
    mut closing: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
) {
    let (mut sink, mut source) = socket.split();
    let first = match read(&state, |store| store.stats()).await {
        Ok(stats) => frame(&Event::Stats(stats)),
        Err(_) => going_away("the store is unavailable"), // the cause is logged
    };
    let mut ping = interval_at(Instant::now() + PING_EVERY, PING_EVERY);

    if send(&mut sink, first).await {
        loop {
            let message = tokio::select! {
                event = events.recv() => match event {
                    Ok(event) => frame(&event),
                    Err(RecvError::Lagged(_)) => frame(&Event::Prune(())),
                    Err(RecvError::Closed) => going_away("the event source closed"),
                },
                _ = ping.tick() => Message::Ping(Default::default()),
                _ = closing.wait_for(|closing| *closing) => going_away("server shutting down"),
                incoming = source.next() => match incoming {
                    // The client closed, or the connection is gone.
                    Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                    // Anything else the client sends is read and dropped.
                    Some(Ok(_)) => continue,
                },
            };
            if !send(&mut sink, message).await {
                break;
            }
        }
    }
    // Completes the closing handshake when the client started it.
    let _ = timeout(SEND_TIMEOUT, sink.close()).await;
}

/// Send one frame. `false` when the stream is over: the frame was a Close, or the
/// client is gone or did not take it in time.
async fn send(sink: &mut SplitSink<WebSocket, Message>, message: Message) -> bool {
    let last = matches!(message, Message::Close(_));
    matches!(timeout(SEND_TIMEOUT, sink.send(message)).await, Ok(Ok(()))) && !last
}

fn frame(event: &Event) -> Message {
    match serde_json::to_string(event) {
        Ok(json) => Message::Text(json.into()),
        Err(err) => {
            tracing::error!("api: cannot serialise an event: {err}");
            going_away("internal error")
        }
    }
}

fn going_away(reason: &str) -> Message {
    Message::Close(Some(CloseFrame { code: close_code::AWAY, reason: reason.into() }))
}
