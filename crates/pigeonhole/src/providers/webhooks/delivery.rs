//! Taking jobs (provider events, new messages for a message webhook) off a queue
//! and POSTing them: each delivery runs as its own task (a slow receiver holds up
//! only its own deliveries), at most [`CONCURRENT`] at once per queue, tries again
//! on a 5xx, 408, 429, timeout or connection error after the policy's growing
//! delays, and records every attempt in the [`DeliveryLog`] (the last
//! [`LOG_SIZE`] deliveries).
//!
//! Redirects are not followed: a 3xx is recorded as the answer, so requests never
//! go anywhere but the URL the user set. Each request has a connect timeout
//! ([`CONNECT_TIMEOUT`], or the policy's timeout if shorter) and a total one (the
//! policy's `TimeoutMillis`).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use time::OffsetDateTime;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;

use super::messages::{self, MessageJob};
use super::payload::{self, Outgoing};
use super::settings::Retries;
use super::sns::{self, NotificationContext, Subscription};
use super::{Provider, ProviderEvent, Shared};
use crate::metrics::WebhookOutcome;
use crate::model::MessageId;

/// Deliveries kept in the log.
pub(super) const LOG_SIZE: usize = 1_000;

/// Deliveries in flight at once.
const CONCURRENT: usize = 32;

/// A response body is kept up to this many bytes.
const SNIPPET: usize = 512;

/// The longest wait for a receiver to accept the connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What a worker delivers.
pub(super) enum Job {
    Provider(Box<ProviderEvent>),
    Message(MessageJob),
    /// SNS's `SubscriptionConfirmation` to the SES endpoint.
    SnsConfirmation(Subscription),
}

/// One provider event's or new message's delivery to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Delivery {
    /// Numbers deliveries since the start.
    #[serde(rename = "ID")]
    pub id: u64,
    /// The stored message it is about; `""` for SNS's subscription confirmation.
    #[serde(rename = "MessageID")]
    #[schema(value_type = String)]
    #[cfg_attr(test, ts(type = "string"))]
    pub message: MessageId,
    /// The provider whose event it is; `""` for a message webhook's delivery.
    pub provider: String,
    /// The message webhook's ID; absent for a provider event.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub webhook: Option<String>,
    /// `delivered`, `bounced`, `deferred`, `complained`, `opened` or `clicked`;
    /// `new` for a message webhook's delivery; `subscription-confirmation` for
    /// SNS's, to the SES endpoint.
    pub event: String,
    /// The recipient a provider event is about; `""` for a message webhook's.
    pub recipient: String,
    #[serde(rename = "URL")]
    pub url: String,
    pub state: DeliveryState,
    /// The request body sent.
    pub payload: String,
    pub attempts: Vec<Attempt>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub enum DeliveryState {
    /// Being tried, or waiting to be tried again.
    Pending,
    /// A 2xx answer.
    Delivered,
    /// Out of attempts, an answer not worth retrying, or a request that could not
    /// be made.
    Failed,
}

/// One POST.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "PascalCase")]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Attempt {
    /// When it was sent (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String)]
    #[cfg_attr(test, ts(type = "string"))]
    pub time: OffsetDateTime,
    /// The HTTP status; `null` when there was no answer.
    pub status: Option<u16>,
    /// The start of the answer's body.
    pub response: String,
    /// Why there was no answer (timeout, connection refused …).
    pub error: Option<String>,
    pub duration_millis: u64,
}

/// The last [`LOG_SIZE`] deliveries, oldest first.
#[derive(Default)]
pub(super) struct DeliveryLog {
    deliveries: VecDeque<Delivery>,
    next_id: u64,
}

impl DeliveryLog {
    fn add(&mut self, mut delivery: Delivery) -> u64 {
        self.next_id += 1;
        delivery.id = self.next_id;
        if self.deliveries.len() == LOG_SIZE {
            self.deliveries.pop_front();
        }
        self.deliveries.push_back(delivery);
        self.next_id
    }

    fn update(&mut self, id: u64, change: impl FnOnce(&mut Delivery)) {
        if let Some(delivery) = self.deliveries.iter_mut().rev().find(|d| d.id == id) {
            change(delivery);
        }
    }

    /// Newest first: all, or those of one message, or of one message webhook.
    pub(super) fn list(&self, message: Option<&MessageId>, webhook: Option<&str>) -> Vec<Delivery> {
        self.deliveries
            .iter()
            .rev()
            .filter(|d| message.is_none_or(|m| &d.message == m))
            .filter(|d| webhook.is_none_or(|w| d.webhook.as_deref() == Some(w)))
            .cloned()
            .collect()
    }
}

/// The worker: deliver each queued job until told to stop, then abandon those
/// in flight. With a `pace`, deliveries start at most once per `pace`; jobs
/// wait in the queue meanwhile (and, the queue full, new ones are dropped).
pub(super) async fn run(
    shared: Arc<Shared>,
    mut jobs: mpsc::Receiver<Job>,
    mut stop: watch::Receiver<bool>,
    pace: Option<Duration>,
) {
    let client = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(concat!("Pigeonhole/", env!("CARGO_PKG_VERSION"), " (webhooks)"))
        .build()
    {
        Ok(client) => client,
        Err(err) => {
            tracing::error!("webhooks are off: cannot make an HTTP client: {err}");
            return;
        }
    };
    let slots = Arc::new(Semaphore::new(CONCURRENT));
    let mut pacer = pace.map(|pace| {
        let mut interval = tokio::time::interval(pace);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        interval
    });
    // The same signal, for the waits for a turn and a slot inside the loop's select.
    let mut stopping = stop.clone();
    let mut deliveries = JoinSet::new();
    loop {
        tokio::select! {
            job = jobs.recv() => {
                let Some(job) = job else { break };
                if let Some(pacer) = pacer.as_mut() {
                    tokio::select! {
                        _ = pacer.tick() => {}
                        () = stopped(&mut stopping) => break,
                    }
                }
                // At the cap, wait for a slot here: the queue fills and the
                // newest jobs are dropped rather than held in tasks without bound.
                let slot = tokio::select! {
                    slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
                    () = stopped(&mut stopping) => break,
                };
                let (shared, client) = (shared.clone(), client.clone());
                deliveries.spawn(async move {
                    deliver(&shared, &client, job).await;
                    drop(slot);
                });
            }
            () = stopped(&mut stop) => break,
            Some(_) = deliveries.join_next(), if !deliveries.is_empty() => {}
        }
    }
    deliveries.abort_all();
}

/// Until `stop` says stop (or its sender is gone).
pub(super) async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard wait_for answers is not Send: dropped here, not held in a select.
    let _ = stop.wait_for(|&stop| stop).await.map(drop);
}

/// A delivery ready to be tried: its log entry (attempts to come), where it goes,
/// and the request or why it could not be made.
pub(super) struct Prepared {
    pub record: Delivery,
    pub headers: BTreeMap<String, String>,
    pub outgoing: Result<Outgoing, String>,
    pub retries: Retries,
}

/// Deliver one job, if its webhook is on.
async fn deliver(shared: &Shared, client: &reqwest::Client, job: Job) {
    let prepared = match job {
        Job::Provider(event) => provider_event(shared, *event),
        Job::Message(job) => messages::prepare(shared, job),
        Job::SnsConfirmation(subscription) => sns_confirmation(shared, subscription),
    };
    let Some(Prepared { record, headers, outgoing, retries }) = prepared else { return };
    let url = record.url.clone();
    let id = shared.log.lock().expect("webhook log lock").add(record);
    let update = |change: &dyn Fn(&mut Delivery)| shared.log.lock().expect("webhook log lock").update(id, change);
    let outgoing = match outgoing {
        Ok(outgoing) => outgoing,
        Err(err) => {
            tracing::warn!("webhook to {url}: cannot make the request: {err}");
            update(&|d| {
                d.state = DeliveryState::Failed;
                d.attempts.push(Attempt {
                    time: OffsetDateTime::now_utc(),
                    status: None,
                    response: String::new(),
                    error: Some(err.clone()),
                    duration_millis: 0,
                });
            });
            shared.counts.finished(WebhookOutcome::Failed);
            return;
        }
    };
    for attempt in 1..=retries.attempts {
        let (record, again) = post(client, &url, &headers, &outgoing, retries.timeout()).await;
        shared.counts.attempted();
        let delivered = record.status.is_some_and(|s| (200..300).contains(&s));
        let last = delivered || !again || attempt == retries.attempts;
        update(&|d| {
            d.attempts.push(record.clone());
            if delivered {
                d.state = DeliveryState::Delivered;
            } else if last {
                d.state = DeliveryState::Failed;
            }
        });
        if last {
            shared.counts.finished(if delivered { WebhookOutcome::Delivered } else { WebhookOutcome::Failed });
            if !delivered {
                tracing::warn!("webhook to {url} failed after {attempt} attempt(s)");
            }
            return;
        }
        tokio::time::sleep(retries.delay_after(attempt)).await;
    }
}

/// A provider event's delivery, if its provider's endpoint is on.
fn provider_event(shared: &Shared, event: ProviderEvent) -> Option<Prepared> {
    // One look at the settings: the endpoint, the policy, and what signs the request.
    let (webhook, retries, subscription, keys) = {
        let settings = shared.settings.lock().expect("webhook settings lock");
        let webhook = settings.endpoint(event.provider)?.clone();
        let subscription = settings.sns_subscription.clone().filter(|s| s.delivers_to(&webhook.url));
        let keys = (event.provider != Provider::Ses).then(|| settings.keys.clone());
        (webhook, settings.retries, subscription, keys)
    };
    let (keys, sns) = match (keys, subscription) {
        (Some(keys), _) => (Ok(keys), NotificationContext::default()),
        // SES: SNS's keys (made on first use), and only under a confirmed subscription.
        (None, Some(subscription)) => {
            (shared.sns_keys().map_err(|e| e.to_string()), NotificationContext::new(&shared.sns, &subscription))
        }
        (None, None) => (Err(sns::not_subscribed(&webhook.url)), NotificationContext::default()),
    };
    let outgoing = keys.and_then(|keys| payload::request(&event, &keys, &sns));
    let record = Delivery {
        id: 0,
        message: event.message.clone(),
        provider: event.provider.name().into(),
        webhook: None,
        event: event.kind.name().into(),
        recipient: event.recipient.clone(),
        url: webhook.url,
        state: DeliveryState::Pending,
        payload: outgoing.as_ref().map(|o| String::from_utf8_lossy(&o.body).into_owned()).unwrap_or_default(),
        attempts: Vec::new(),
    };
    Some(Prepared { record, headers: webhook.headers, outgoing, retries })
}

/// SNS's confirmation request for `subscription`, to the SES endpoint it is for
/// (when that is still the endpoint): in the log with no message and the event
/// `subscription-confirmation`.
fn sns_confirmation(shared: &Shared, subscription: Subscription) -> Option<Prepared> {
    let (headers, retries) = {
        let settings = shared.settings.lock().expect("webhook settings lock");
        let endpoint = settings.endpoint(Provider::Ses).filter(|w| w.url == subscription.url)?;
        (endpoint.headers.clone(), settings.retries)
    };
    let outgoing = shared
        .sns_keys()
        .map_err(|e| e.to_string())
        .and_then(|keys| sns::confirmation(&subscription, &keys, &shared.sns));
    let record = Delivery {
        id: 0,
        message: MessageId::stored(String::new()),
        provider: Provider::Ses.name().into(),
        webhook: None,
        event: "subscription-confirmation".into(),
        recipient: String::new(),
        url: subscription.url,
        state: DeliveryState::Pending,
        payload: outgoing.as_ref().map(|o| String::from_utf8_lossy(&o.body).into_owned()).unwrap_or_default(),
        attempts: Vec::new(),
    };
    Some(Prepared { record, headers, outgoing, retries })
}

/// One POST: what happened, and whether it is worth trying again.
async fn post(
    client: &reqwest::Client,
    url: &str,
    headers: &BTreeMap<String, String>,
    outgoing: &Outgoing,
    timeout: Duration,
) -> (Attempt, bool) {
    let time = OffsetDateTime::now_utc();
    let started = Instant::now();
    let mut request = client.post(url).timeout(timeout).body(outgoing.body.clone());
    for (name, value) in outgoing.headers.iter().map(|(name, value)| (name, value)).chain(headers) {
        request = request.header(name, value);
    }
    let answer = async {
        let response = request.send().await?;
        let status = response.status().as_u16();
        let location = response.headers().get("location").and_then(|l| l.to_str().ok()).map(str::to_owned);
        let body = response.bytes().await.unwrap_or_default();
        let mut snippet = String::from_utf8_lossy(&body[..body.len().min(SNIPPET)]).into_owned();
        if let Some(location) = location {
            snippet = format!("redirect to {location} not followed; {snippet}");
        }
        Ok::<_, reqwest::Error>((status, snippet))
    }
    .await;
    let duration_millis = started.elapsed().as_millis() as u64;
    match answer {
        Ok((status, response)) => {
            let again = status >= 500 || status == 408 || status == 429;
            (Attempt { time, status: Some(status), response, error: None, duration_millis }, again)
        }
        Err(err) => {
            let error = if err.is_timeout() { format!("no answer within {timeout:?}") } else { error_chain(&err) };
            (Attempt { time, status: None, response: String::new(), error: Some(error), duration_millis }, true)
        }
    }
}

/// An error with its causes, `a: b: c` (reqwest's own text hides the cause).
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}
