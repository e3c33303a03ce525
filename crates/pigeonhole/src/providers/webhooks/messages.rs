//! Message webhooks: each new message, as its summary (the JSON Mailpit's
//! `--webhook-url` posts, so Mailpit's receivers keep working), to every message
//! webhook whose filter it passes, signed per Standard Webhooks (`webhook-id`,
//! `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256>` under the
//! message signing secret).
//!
//! [`watch`] follows the store's events: for each `new` one it asks the store
//! whether the message matches each filtered webhook (the search `/api/v1/wait`
//! uses) and puts a [`MessageJob`] on the message queue without waiting; the
//! queue's worker (in [`super::delivery`]) starts at most `--webhook-limit`
//! deliveries a second. A full queue drops new jobs, so a dead receiver costs a
//! bounded queue and a bounded number of connections, never ingest's time or
//! memory without bound.

use std::sync::Arc;

use time::OffsetDateTime;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{broadcast, watch};

use super::delivery::{self, Delivery, DeliveryState, Job, Prepared};
use super::keys::Keys;
use super::payload::Outgoing;
use super::{Shared, Webhooks};
use crate::model::{Event, MessageId, MessageSummary};
use crate::store::{SearchQuery, Store};

/// New messages' deliveries waiting for their turn; beyond this many, new ones
/// are dropped.
pub(super) const QUEUE: usize = 1_000;

/// A new message for one message webhook.
pub(super) struct MessageJob {
    /// The webhook's ID.
    pub webhook: String,
    /// Shared by the jobs of every webhook the message goes to.
    pub summary: Arc<MessageSummary>,
}

/// Queue each new message for the message webhooks it passes the filter of,
/// until told to stop.
pub(super) async fn watch(
    webhooks: Webhooks,
    store: Store,
    mut events: broadcast::Receiver<Event>,
    mut stop: watch::Receiver<bool>,
) {
    // Jobs dropped since the queue filled: one warning when it fills, one when
    // it has room again, not one per message.
    let mut dropped = 0u64;
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            () = delivery::stopped(&mut stop) => break,
        };
        let summary = match event {
            Ok(Event::New(summary)) => Arc::new(*summary),
            Ok(_) => continue,
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!("message webhooks: {missed} new messages came too fast to be queued; not posted");
                continue;
            }
            Err(RecvError::Closed) => break,
        };
        for webhook in webhooks.shared.message_webhooks_on() {
            if let Some(filter) = webhook.filter()
                && !matches(&store, &summary.id, filter).await
            {
                continue;
            }
            let job = Job::Message(MessageJob { webhook: webhook.id, summary: summary.clone() });
            match webhooks.messages.try_send(job) {
                Ok(()) if dropped > 0 => {
                    tracing::info!("message webhooks: the queue has room again ({dropped} deliveries dropped)");
                    dropped = 0;
                }
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    if dropped == 0 {
                        tracing::warn!(
                            "message webhook queue full ({QUEUE}): new messages are not posted until it has room"
                        );
                    }
                    dropped += 1;
                }
                Err(TrySendError::Closed(_)) => return,
            }
        }
    }
}

/// Whether message `id` is stored and matches `filter`.
async fn matches(store: &Store, id: &MessageId, filter: String) -> bool {
    let (store, id) = (store.clone(), id.clone());
    match tokio::task::spawn_blocking(move || store.summary_if_matching(&id, &SearchQuery::from(filter))).await {
        Ok(Ok(found)) => found.is_some(),
        Ok(Err(err)) => {
            tracing::warn!("message webhooks: cannot search: {err}");
            false
        }
        Err(err) => {
            tracing::warn!("message webhooks: cannot search: {err}");
            false
        }
    }
}

/// The delivery of `job`, if its webhook is still on.
pub(super) fn prepare(shared: &Shared, job: MessageJob) -> Option<Prepared> {
    let (webhook, retries, keys) = {
        let settings = shared.settings.lock().expect("webhook settings lock");
        let webhook = shared.message_webhooks_in(&settings).find(|w| w.id == job.webhook)?;
        (webhook, settings.retries, settings.keys.clone())
    };
    let outgoing = request(&job.summary, &keys);
    let record = Delivery {
        id: 0,
        message: job.summary.id.clone(),
        provider: String::new(),
        webhook: Some(webhook.id),
        event: "new".into(),
        recipient: String::new(),
        url: webhook.url,
        state: DeliveryState::Pending,
        payload: outgoing.as_ref().map(|o| String::from_utf8_lossy(&o.body).into_owned()).unwrap_or_default(),
        attempts: Vec::new(),
    };
    Some(Prepared { record, headers: webhook.headers, outgoing, retries })
}

/// The request for a new message: its summary as JSON (every field from the mail
/// a JSON string through serde), signed per Standard Webhooks. The ID is the
/// message's, so a receiver can tell a retry from a new message.
pub(super) fn request(summary: &MessageSummary, keys: &Keys) -> Result<Outgoing, String> {
    let body = serde_json::to_vec(summary).map_err(|err| err.to_string())?;
    let id = format!("msg_{}", summary.id.as_str());
    let timestamp = OffsetDateTime::now_utc().unix_timestamp().to_string();
    let signature = keys.message_signature(&id, &timestamp, &body)?;
    Ok(Outgoing {
        body,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("webhook-id".into(), id),
            ("webhook-timestamp".into(), timestamp),
            ("webhook-signature".into(), signature),
        ],
    })
}

#[cfg(test)]
mod tests;
