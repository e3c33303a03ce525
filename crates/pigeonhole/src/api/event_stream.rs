//! `GET /api/events`: the WebSocket that pushes store changes to the UI, in
//! Mailpit's frames (`{"Type": "new", "Data": {...}}`).
//!
//! On connect the client gets a `stats` event, then every event the store
//! broadcasts, except that a flood of new mail is coalesced ([`Coalescer`]): each
//! stream announces new messages one by one (`new`, as Mailpit's clients expect)
//! up to a rate ([`NEW_BURST`] at once, [`NEW_PER_SECOND`] after that), and past
//! it sends, every [`COALESCE_EVERY`], the latest `stats` and one `burst` frame
//! for the messages it did not announce, which tells the client to reload; so a
//! flood of 50,000 messages is a few hundred frames, not 50,000. `stats` frames
//! are sent as Mailpit sends them: [`STATS_AFTER`] after the change that called for
//! one, with the store's totals at that moment, so the changes in between share one
//! frame and the last `stats` a client gets always describes the store after the
//! last change (a client that listens for the next `stats` after a delete-all gets
//! `Total: 0`, not the totals a message sent just before left in flight). A client
//! too slow to keep up misses events rather than slowing ingest; it then gets a
//! `prune` event, which tells it to reload. A user or token limited to some inboxes
//! ([`Access`]) never gets an event about a message in another, and its `stats`
//! count its inboxes alone. The server pings
//! every [`PING_EVERY`], reads and discards whatever the client sends, and closes
//! every stream with "going away" when the engine shuts down.
//!
//! Bounded: at most [`MAX_STREAMS`] streams at once (more get 503), and a client
//! that does not take a frame within [`SEND_TIMEOUT`] is dropped.

use std::sync::Arc;
use std::time::Duration;
use std::{iter, mem};

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::http::StatusCode;
use axum::response::Response;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast, watch};
use tokio::time::{Instant, interval_at, sleep_until, timeout};

use super::error::{ApiError, ErrorBody, Ext};
use super::messages::visible_stats;
use super::{ApiState, read};
use crate::model::{Access, Burst, Event, Stats};

/// Event streams open at once.
const MAX_STREAMS: usize = 256;
/// Keeps idle connections (and proxies between) from timing out.
const PING_EVERY: Duration = Duration::from_secs(30);
/// Longest wait for a client to take one frame.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// `new` frames a stream sends at once before it coalesces: a test's or a batch
/// job's handful of messages is announced one by one, however fast it comes.
const NEW_BURST: f64 = 50.0;
/// `new` frames a stream sends per second past [`NEW_BURST`].
const NEW_PER_SECOND: f64 = 20.0;
/// While new mail is coalesced, how often the messages held back are announced.
const COALESCE_EVERY: Duration = Duration::from_millis(500);
/// How long after a change its `stats` frame is sent (Mailpit's delay too).
const STATS_AFTER: Duration = Duration::from_millis(250);

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

    /// Streams open now.
    pub(super) fn open(&self) -> usize {
        MAX_STREAMS - self.slots.available_permits()
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
pub async fn connect(
    State(state): State<ApiState>,
    access: Access,
    Ext(upgrade): Ext<WebSocketUpgrade>,
) -> Result<Response, ApiError> {
    let slot =
        state.streams.slots.clone().try_acquire_owned().map_err(|_| {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "too many event streams open, or shutting down")
        })?;
    // Subscribe before the stats are read, so no change between the two is lost.
    let events = state.events.subscribe();
    let closing = state.streams.closing.subscribe();
    Ok(upgrade.on_upgrade(move |socket| stream(socket, state, access, events, closing, slot)))
}

async fn stream(
    socket: WebSocket,
    state: ApiState,
    access: Access,
    mut events: broadcast::Receiver<Event>,
    mut closing: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
) {
    let (mut sink, mut source) = socket.split();
    let totals = access.clone();
    let first = match read(&state, move |store| visible_stats(store, &totals)).await {
        Ok(stats) => frame(&Event::Stats(stats)),
        Err(_) => going_away("the store is unavailable"), // the cause is logged
    };
    let mut ping = interval_at(Instant::now() + PING_EVERY, PING_EVERY);
    let mut coalescer = Coalescer::new(Instant::now());
    // When the `stats` that changes since the last one call for is due.
    let mut stats_due: Option<Instant> = None;

    if send(&mut sink, first).await {
        'stream: loop {
            let flush_at = coalescer.deadline();
            let stats_at = stats_due;
            let messages: Vec<Message> = tokio::select! {
                event = events.recv() => match event {
                    // A message in an inbox this principal does not see: never sent.
                    Ok(event) if event.inbox().is_some_and(|inbox| !access.allows(inbox)) => continue,
                    Ok(event) => frames(coalescer.offer(event, Instant::now()), &mut stats_due),
                    Err(RecvError::Lagged(_)) => frames(coalescer.offer(Event::Prune(()), Instant::now()), &mut stats_due),
                    Err(RecvError::Closed) => vec![going_away("the event source closed")],
                },
                _ = sleep_until(flush_at.unwrap_or_else(Instant::now)), if flush_at.is_some() => {
                    frames(coalescer.flush(), &mut stats_due)
                }
                _ = sleep_until(stats_at.unwrap_or_else(Instant::now)), if stats_at.is_some() => {
                    stats_due = None;
                    // The totals now, not those the change that called for it saw
                    // (for a limited principal a count over its inboxes, read here:
                    // at most one per STATS_AFTER, and nothing may be awaited in
                    // this arm).
                    visible_stats(&state.store, &access).map(|stats| frame(&Event::Stats(stats))).into_iter().collect()
                }
                _ = ping.tick() => vec![Message::Ping(Default::default())],
                _ = closing.wait_for(|closing| *closing) => vec![going_away("server shutting down")],
                incoming = source.next() => match incoming {
                    // The client closed, or the connection is gone.
                    Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                    // Anything else the client sends is read and dropped.
                    Some(Ok(_)) => continue,
                },
            };
            for message in messages {
                if !send(&mut sink, message).await {
                    break 'stream;
                }
            }
        }
    }
    // Completes the closing handshake when the client started it.
    let _ = timeout(SEND_TIMEOUT, sink.close()).await;
}

/// The frames for `events`, in order, but for `stats`: each is left out and makes
/// one due within [`STATS_AFTER`] (`stats_due`), which then carries the totals as
/// they are when it is sent.
fn frames(events: Vec<Event>, stats_due: &mut Option<Instant>) -> Vec<Message> {
    let mut frames = Vec::with_capacity(events.len());
    for event in events {
        match event {
            Event::Stats(_) => {
                stats_due.get_or_insert_with(|| Instant::now() + STATS_AFTER);
            }
            other => frames.push(frame(&other)),
        }
    }
    frames
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

/// One stream's coalescing of new mail: a token bucket of `new` frames
/// ([`NEW_BURST`], refilled at [`NEW_PER_SECOND`]). A `new` past it is held back
/// (counted, not kept), and so is every later one until the held ones are
/// announced: at [`Coalescer::deadline`] (within [`COALESCE_EVERY`]) by the latest
/// `stats` and a `burst` with their count, or at once before any other event, so
/// that a client sees changes in the order they happened. Pure: the caller gives
/// the time.
pub(super) struct Coalescer {
    tokens: f64,
    refilled: Instant,
    /// `new` events held back since the last announcement.
    held: u64,
    /// The latest totals while messages are held back.
    stats: Option<Stats>,
    flush_at: Option<Instant>,
}

impl Coalescer {
    pub(super) fn new(now: Instant) -> Coalescer {
        Coalescer { tokens: NEW_BURST, refilled: now, held: 0, stats: None, flush_at: None }
    }

    /// What to send now for `event`, in order (often just it; nothing while a
    /// flood is held back).
    pub(super) fn offer(&mut self, event: Event, now: Instant) -> Vec<Event> {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * NEW_PER_SECOND).min(NEW_BURST);
        self.refilled = now;
        match event {
            Event::New(_) if self.held == 0 && self.tokens >= 1.0 => {
                self.tokens -= 1.0;
                vec![event]
            }
            Event::New(_) => {
                self.held += 1;
                self.flush_at.get_or_insert(now + COALESCE_EVERY);
                Vec::new()
            }
            Event::Stats(stats) if self.held > 0 => {
                self.stats = Some(stats);
                Vec::new()
            }
            Event::Stats(_) => vec![event],
            other => self.flush().into_iter().chain(iter::once(other)).collect(),
        }
    }

    /// When the messages held back are due to be announced.
    pub(super) fn deadline(&self) -> Option<Instant> {
        self.flush_at
    }

    /// Announce the messages held back, if any: the latest `stats`, then `burst`.
    pub(super) fn flush(&mut self) -> Vec<Event> {
        self.flush_at = None;
        if self.held == 0 {
            return Vec::new();
        }
        let stats = self.stats.take().map(Event::Stats);
        let burst = Event::Burst(Burst { count: mem::take(&mut self.held) });
        stats.into_iter().chain(iter::once(burst)).collect()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use time::OffsetDateTime;
    use tokio::time::Instant;

    use super::{COALESCE_EVERY, Coalescer, NEW_BURST, NEW_PER_SECOND};
    use crate::model::MessageSummary;
    use crate::model::{Burst, Deleted, Event, MessageId, Stats};

    fn new(n: u64) -> Event {
        Event::New(Box::new(MessageSummary {
            id: MessageId::stored(format!("id{n}")),
            message_id: format!("{n}@test"),
            read: false,
            from: Default::default(),
            to: vec![],
            cc: vec![],
            bcc: vec![],
            reply_to: vec![],
            subject: format!("message {n}"),
            created: OffsetDateTime::UNIX_EPOCH,
            username: String::new(),
            tags: vec![],
            size: 1,
            attachments: 0,
            snippet: String::new(),
            inbox: String::new(),
        }))
    }

    /// Frame types, `new`s by their number and `burst`s by their count.
    fn names(events: &[Event]) -> Vec<String> {
        events
            .iter()
            .map(|event| match event {
                Event::New(summary) => format!("new {}", &summary.message_id[..summary.message_id.len() - 5]),
                Event::Stats(stats) => format!("stats {}", stats.total),
                Event::Burst(Burst { count }) => format!("burst {count}"),
                Event::Delete(deleted) => format!("delete {}", deleted.id),
                other => format!("{other:?}"),
            })
            .collect()
    }

    /// A slow, steady rate (5 a second, over a minute) and a short batch (the
    /// bucket's size) are announced message by message: every `new` and `stats`
    /// goes out at once, in order, and nothing is ever held.
    #[test]
    fn a_normal_rate_gets_every_new_frame() {
        let start = Instant::now();
        let mut coalescer = Coalescer::new(start);
        let mut sent = Vec::new();
        for n in 0..NEW_BURST as u64 {
            sent.extend(coalescer.offer(new(n), start));
            sent.extend(coalescer.offer(Event::Stats(Stats::new(n + 1, n + 1)), start));
        }
        for n in 0..300 {
            let now = start + Duration::from_secs(10) + Duration::from_millis(200 * n);
            sent.extend(coalescer.offer(new(1000 + n), now));
            assert_eq!(coalescer.deadline(), None, "nothing held at 5 a second");
        }
        let news = names(&sent).into_iter().filter(|n| n.starts_with("new ")).count();
        assert_eq!(news, NEW_BURST as usize + 300);
        assert_eq!(names(&sent[..4]), ["new 0", "stats 1", "new 1", "stats 2"]);
        assert!(coalescer.flush().is_empty());
    }

    /// A flood: the bucket's worth of `new` frames, then nothing until the
    /// deadline, then the latest totals and one `burst` for the rest; over a
    /// 10-second flood of 1,000 a second, frames stay within the rate.
    #[test]
    fn a_flood_is_coalesced_into_stats_and_burst() {
        let start = Instant::now();
        let mut coalescer = Coalescer::new(start);
        let mut sent = Vec::new();
        for n in 0..200 {
            sent.extend(coalescer.offer(new(n), start));
        }
        sent.extend(coalescer.offer(Event::Stats(Stats::new(200, 200)), start));
        assert_eq!(sent.len(), NEW_BURST as usize, "the burst's worth, then nothing");
        assert_eq!(coalescer.deadline(), Some(start + COALESCE_EVERY));
        assert_eq!(names(&coalescer.flush()), ["stats 200", &format!("burst {}", 200 - NEW_BURST as u64)]);
        assert_eq!(coalescer.deadline(), None);

        // 1,000 a second for 10 seconds, flushed whenever due: every message is
        // either its own `new` or counted in a `burst`, in few frames.
        let mut coalescer = Coalescer::new(start);
        let (mut frames, mut announced) = (0u64, 0u64);
        for n in 0..10_000u64 {
            let now = start + Duration::from_millis(n);
            if coalescer.deadline().is_some_and(|due| due <= now) {
                let flushed = coalescer.flush();
                frames += flushed.len() as u64;
                announced += flushed.iter().map(|e| if let Event::Burst(b) = e { b.count } else { 0 }).sum::<u64>();
            }
            let out = coalescer.offer(new(n), now);
            frames += out.len() as u64;
            announced += out.len() as u64;
        }
        let flushed = coalescer.flush();
        frames += flushed.len() as u64;
        announced += flushed.iter().map(|e| if let Event::Burst(b) = e { b.count } else { 0 }).sum::<u64>();
        assert_eq!(announced, 10_000, "no message unaccounted for");
        let bound = NEW_BURST + 10.0 * NEW_PER_SECOND + 2.0 * (10.0 / COALESCE_EVERY.as_secs_f64() + 1.0);
        assert!((frames as f64) <= bound, "{frames} frames for 10,000 messages (bound {bound})");
    }

    /// Any other event announces what is held first, so that order is kept:
    /// the client reloads before it applies the delete.
    #[test]
    fn other_events_flush_what_is_held_first() {
        let start = Instant::now();
        let mut coalescer = Coalescer::new(start);
        for n in 0..NEW_BURST as u64 + 3 {
            coalescer.offer(new(n), start);
        }
        coalescer.offer(Event::Stats(Stats::new(53, 53)), start);
        let sent = coalescer
            .offer(Event::Delete(Deleted { id: MessageId::stored("id7".into()), inbox: String::new() }), start);
        assert_eq!(names(&sent), ["stats 53", "burst 3", "delete id7"]);
        assert_eq!(coalescer.deadline(), None);
        // A `prune` (the stream lagged) too; with nothing held, it goes alone.
        assert_eq!(names(&coalescer.offer(Event::Prune(()), start)), ["Prune(())"]);
    }
}
