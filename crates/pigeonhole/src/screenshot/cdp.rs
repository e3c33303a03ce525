//! The Chrome DevTools Protocol over `--remote-debugging-pipe`: JSON messages, each
//! ended by a NUL byte, written to the browser's fd 3 and read from its fd 4.
//!
//! A pipe rather than `--remote-debugging-port`: the browser that renders hostile
//! mail then listens on no socket at all, so nothing on the machine (nor a web page
//! guessing the port) can drive it. The few commands a screenshot needs are sent as
//! plain JSON; answers are matched to calls by `id`, and everything without an `id`
//! is an event, passed on in order.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::pipe;
use tokio::sync::{mpsc, oneshot};

/// Calls waiting for their answer, by `id`; `None` once the pipe has closed, so a
/// call made after that fails at once instead of waiting for ever.
type Pending = Arc<Mutex<Option<HashMap<u64, oneshot::Sender<Result<Value, CdpError>>>>>>;

/// Why a call got no result.
#[derive(Debug, thiserror::Error)]
pub enum CdpError {
    /// The pipe closed: the browser exited or crashed.
    #[error("the browser closed its DevTools pipe (it exited or crashed)")]
    Closed,
    /// The browser answered with an error.
    #[error("{method} failed: {message}")]
    Command { method: String, message: String },
}

/// An event: `method`, the target session it came from, and its `params`.
#[derive(Debug)]
pub struct Event {
    pub method: String,
    pub session: Option<String>,
    pub params: Value,
}

/// One browser's DevTools connection.
pub struct Connection {
    to_browser: tokio::sync::Mutex<pipe::Sender>,
    pending: Pending,
    next_id: AtomicU64,
}

impl Connection {
    /// Speak CDP over these pipe ends (ours of the browser's fd 3 and fd 4). Events
    /// arrive on the receiver, which ends when the browser does.
    pub fn start(
        to_browser: OwnedFd,
        from_browser: OwnedFd,
    ) -> std::io::Result<(Connection, mpsc::UnboundedReceiver<Event>)> {
        let to_browser = pipe::Sender::from_owned_fd(to_browser)?;
        let from_browser = pipe::Receiver::from_owned_fd(from_browser)?;
        let pending = Arc::new(Mutex::new(Some(HashMap::new())));
        let (events_tx, events) = mpsc::unbounded_channel();
        tokio::spawn(read_messages(from_browser, pending.clone(), events_tx));
        let connection =
            Connection { to_browser: tokio::sync::Mutex::new(to_browser), pending, next_id: AtomicU64::new(1) };
        Ok((connection, events))
    }

    /// Call `method` on the browser (`session` `None`) or on one attached target.
    pub async fn call(&self, session: Option<&str>, method: &str, params: Value) -> Result<Value, CdpError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = Value::from(session);
        }
        let mut bytes = serde_json::to_vec(&message).expect("a JSON value serializes");
        bytes.push(0);
        let (answer_tx, answer) = oneshot::channel();
        match self.pending.lock().expect("pending calls").as_mut() {
            Some(pending) => pending.insert(id, answer_tx),
            None => return Err(CdpError::Closed),
        };
        if self.to_browser.lock().await.write_all(&bytes).await.is_err() {
            return Err(CdpError::Closed);
        }
        match answer.await {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(CdpError::Command { message, .. })) => {
                Err(CdpError::Command { method: method.to_string(), message })
            }
            Ok(Err(CdpError::Closed)) | Err(_) => Err(CdpError::Closed),
        }
    }
}

/// Read NUL-ended messages until the pipe closes: answers to their callers, events
/// to `events`. Once it closes, every call still waiting fails.
async fn read_messages(from_browser: pipe::Receiver, pending: Pending, events: mpsc::UnboundedSender<Event>) {
    let mut reader = BufReader::new(from_browser);
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        match reader.read_until(0, &mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if buffer.last() == Some(&0) {
            buffer.pop();
        }
        let Ok(mut message) = serde_json::from_slice::<Value>(&buffer) else {
            tracing::warn!("screenshot: the browser sent a message that is not JSON");
            continue;
        };
        match message.get("id").and_then(Value::as_u64) {
            Some(id) => {
                let caller = pending.lock().expect("pending calls").as_mut().and_then(|pending| pending.remove(&id));
                let Some(caller) = caller else { continue };
                let answer = match message.get("error") {
                    Some(error) => Err(CdpError::Command {
                        method: String::new(),
                        message: error["message"].as_str().unwrap_or("unknown error").to_string(),
                    }),
                    None => Ok(message["result"].take()),
                };
                let _ = caller.send(answer);
            }
            None => {
                let event = Event {
                    method: message["method"].as_str().unwrap_or_default().to_string(),
                    session: message["sessionId"].as_str().map(str::to_string),
                    params: message["params"].take(),
                };
                // Nobody listening (the browser is being dropped) is not an error.
                let _ = events.send(event);
            }
        }
    }
    // Dropping the callers' senders fails their calls with `Closed`.
    pending.lock().expect("pending calls").take();
}
