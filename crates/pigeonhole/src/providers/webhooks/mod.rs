//! Outgoing webhooks. Provider event webhooks: for mail that came through a
//! provider's API, the events that provider would post to the app (delivered,
//! bounced, deferred, complained, opened, clicked), in its own payload format and
//! signing scheme, to the URL the user set for it. Message webhooks: every new
//! message (or those an inbox or a search picks) as Mailpit's `--webhook-url`
//! posts it, signed per Standard Webhooks. Both share the settings file, the
//! retry policy, the delivery worker and its log.
//!
//! * [`settings`]: `webhooks.json`, the URL per provider, the message webhooks and
//!   the retry policy, and the API's view of them.
//! * [`keys`]: the signing keys (made once, kept in `webhooks.json`) and the
//!   signatures: SendGrid's ECDSA, Mailgun's HMAC, Standard Webhooks' HMAC (Svix's
//!   for Resend, ours for message webhooks), SNS's RSA.
//! * [`payload`]: each provider's documented payload and headers for an event.
//! * [`sns`]: SNS's subscription handshake for the SES endpoint (the
//!   `SubscriptionConfirmation`, its `SubscribeURL` and `UnsubscribeURL`).
//! * [`messages`]: which new messages go to which message webhook, and their
//!   request.
//! * [`delivery`]: the worker that POSTs with retries (one per queue), and the log
//!   of deliveries that `GET /api/v1/webhooks/log` shows.
//!
//! Ingest never waits on a receiver: [`Webhooks::emit`] puts the event on a bounded
//! queue and returns; when the queue is full the event is dropped and logged so.
//! New messages reach the message webhooks from the store's event broadcast, on
//! a queue of their own, so a flood of mail never crowds out provider events.
//! Provider handlers call [`Webhooks::after_commit`] after a commit (the
//! `delivered` events), simulation's effects tell [`observer`] (bounces,
//! complaints), and `POST /api/v1/message/{ID}/events` calls
//! [`Webhooks::message_event`] for opens, clicks and the rest on request.

pub(crate) mod delivery;
mod keys;
mod messages;
mod payload;
pub(crate) mod settings;
pub mod sns;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::{broadcast, mpsc, watch};

pub use delivery::Delivery;
pub use settings::{MessageWebhook, Webhook, WebhooksView};

pub use super::Provider;
use crate::config::MessageWebhookConfig;
use crate::metrics::WebhookCounts;
use crate::model::{ApiRequest, Envelope, Event, MessageId, MessageSummary};
use crate::store::Store;
use delivery::{DeliveryLog, Job};
use settings::Settings;
use sns::{SnsAction, SnsAnswer, SnsUrls, Subscription};

/// Events waiting for the worker; beyond this many, new ones are dropped.
const QUEUE: usize = 10_000;

/// The path of SNS's signing certificate on our HTTP port (`SigningCertURL`).
pub const SNS_CERTIFICATE_PATH: &str = "/api/v1/webhooks/sns-certificate.pem";

/// An event of a committed message for one recipient: what [`Webhooks::after_commit`]
/// takes.
pub type RecipientEvent = (EventKind, String, Detail);

/// What happened to a message, in provider-neutral words; [`payload`] names it
/// in each provider's vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Delivered,
    /// Permanent failure (a hard bounce).
    Bounced,
    /// Temporary failure, to be retried (a soft bounce, greylisting).
    Deferred,
    Complained,
    Opened,
    Clicked,
}

impl EventKind {
    /// The neutral name, as the delivery log shows it.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Delivered => "delivered",
            EventKind::Bounced => "bounced",
            EventKind::Deferred => "deferred",
            EventKind::Complained => "complained",
            EventKind::Opened => "opened",
            EventKind::Clicked => "clicked",
        }
    }
}

/// An SMTP answer: what a bounce or a deferral event reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpStatus {
    /// `550`
    pub code: u16,
    /// `5.1.1`
    pub enhanced: String,
    /// The reply's text, e.g. `user unknown`.
    pub text: String,
}

impl SmtpStatus {
    /// The usual answer for a deferral (451 4.7.1) or a bounce (550 5.1.1).
    pub fn usual(kind: EventKind) -> SmtpStatus {
        let (code, enhanced, text) = match kind {
            EventKind::Deferred => (451, "4.7.1", "Please try again later"),
            _ => (550, "5.1.1", "The email account does not exist"),
        };
        SmtpStatus { code, enhanced: enhanced.into(), text: text.into() }
    }
}

impl SmtpStatus {
    /// The answer a DSN reports: its enhanced `status` (`5.1.1`) and its
    /// diagnostic, with or without a reply code in front (`550 5.1.1 user unknown`).
    fn from_dsn(status: &str, diagnostic: &str) -> SmtpStatus {
        let mut words = diagnostic.trim().splitn(2, ' ');
        let (code, text) = match words.next().and_then(|word| word.parse::<u16>().ok()) {
            Some(code) => {
                let rest = words.next().unwrap_or_default().trim_start();
                (code, rest.strip_prefix(status).unwrap_or(rest).trim_start())
            }
            None => (if status.starts_with('4') { 451 } else { 550 }, diagnostic.trim()),
        };
        SmtpStatus { code, enhanced: status.to_string(), text: text.to_string() }
    }
}

/// What an event says besides its kind.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Detail {
    #[default]
    None,
    /// The answer a bounce or deferral got.
    Status(SmtpStatus),
    /// The link a click followed.
    Url(String),
}

/// The message an event is about, as the payloads describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailFacts {
    /// The envelope sender (MAIL FROM).
    pub sender: String,
    /// The From header's address.
    pub from: String,
    /// Every envelope recipient.
    pub to: Vec<String>,
    pub subject: String,
    /// The Message-ID header, without angle brackets.
    pub message_id: String,
    pub tags: Vec<String>,
    /// When it was accepted.
    pub sent_at: OffsetDateTime,
}

/// One event for one recipient of one API-sent message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderEvent {
    pub kind: EventKind,
    pub provider: Provider,
    /// Our ID of the stored message.
    pub message: MessageId,
    /// How it came in: the provider's message ID is what the payloads refer to.
    pub api: ApiRequest,
    pub recipient: String,
    pub mail: MailFacts,
    pub detail: Detail,
    pub at: OffsetDateTime,
}

impl ProviderEvent {
    /// The event for a stored message, or `None` when it did not come through a
    /// provider API we post events for.
    pub fn new(
        kind: EventKind,
        message: &MessageId,
        envelope: &Envelope,
        summary: &MessageSummary,
        recipient: &str,
        detail: Detail,
    ) -> Option<ProviderEvent> {
        let api = envelope.api.clone()?;
        let provider = Provider::from_name(&api.provider)?;
        let mail = MailFacts {
            sender: envelope.mail_from.clone(),
            from: summary.from.address.clone(),
            to: envelope.rcpt_to.clone(),
            subject: summary.subject.clone(),
            message_id: summary.message_id.trim_start_matches('<').trim_end_matches('>').to_string(),
            tags: summary.tags.clone(),
            sent_at: summary.created,
        };
        Some(ProviderEvent {
            kind,
            provider,
            message: message.clone(),
            api,
            recipient: recipient.to_string(),
            mail,
            detail,
            at: OffsetDateTime::now_utc(),
        })
    }
}

/// Why the webhooks could not start or a change could not be made.
#[derive(Debug, thiserror::Error)]
pub enum WebhooksError {
    #[error("cannot use the webhook settings {path}: {reason}; fix or delete the file")]
    Settings { path: PathBuf, reason: String },
    #[error("{0}")]
    Invalid(String),
}

/// The handle: cheap to clone; the worker runs until [`Webhooks::shutdown`].
#[derive(Clone)]
pub struct Webhooks {
    shared: Arc<Shared>,
    /// Provider events.
    queue: mpsc::Sender<Job>,
    /// New messages for the message webhooks.
    messages: mpsc::Sender<Job>,
    stop: Arc<watch::Sender<bool>>,
}

/// What the handle and the worker share.
struct Shared {
    /// `webhooks.json`.
    path: PathBuf,
    settings: Mutex<Settings>,
    log: Mutex<DeliveryLog>,
    /// Where SNS's certificate is served (`SigningCertURL`) and its subscriptions
    /// are confirmed and ended.
    sns: SnsUrls,
    /// `--webhook-url`'s message webhooks.
    command_line: Vec<MessageWebhook>,
    /// `--webhook-limit`.
    message_limit: u32,
    /// Deliveries by outcome and their attempts (for `/metrics`).
    counts: WebhookCounts,
}

impl Webhooks {
    /// Read (or make) `data_dir/webhooks.json` and start the delivery workers.
    /// `http_base` is our own HTTP address as a URL (`http://127.0.0.1:8025`), for
    /// SNS's `SigningCertURL`, `SubscribeURL` and `UnsubscribeURL`; `messages` the
    /// command line's message webhooks.
    /// New messages reach the message webhooks once [`Webhooks::watch`] is called.
    pub fn start(data_dir: &Path, http_base: &str, messages: &MessageWebhookConfig) -> Result<Webhooks, WebhooksError> {
        let mut command_line = Vec::new();
        for (n, url) in messages.urls.iter().enumerate() {
            if url.is_empty() {
                continue;
            }
            check_url(url).map_err(|err| WebhooksError::Invalid(format!("--webhook-url: {err}")))?;
            command_line.push(MessageWebhook {
                id: format!("cli-{}", n + 1),
                url: url.clone(),
                enabled: true,
                command_line: true,
                ..MessageWebhook::default()
            });
        }
        let path = data_dir.join("webhooks.json");
        let fail = |reason: String| WebhooksError::Settings { path: path.clone(), reason };
        let mut settings = Settings::load(&path).map_err(fail)?;
        for provider in Provider::ALL {
            if !settings.webhooks.iter().any(|w| w.provider == provider.name()) {
                settings.webhooks.push(Webhook { provider: provider.name().into(), ..Webhook::default() });
            }
        }
        if settings.keys.fill().map_err(fail)? {
            settings.save(&path).map_err(|e| fail(e.to_string()))?;
        }
        let shared = Arc::new(Shared {
            path,
            settings: Mutex::new(settings),
            log: Mutex::new(DeliveryLog::default()),
            sns: SnsUrls {
                certificate: format!("{}{SNS_CERTIFICATE_PATH}", http_base.trim_end_matches('/')),
                actions: format!("{}{}", http_base.trim_end_matches('/'), sns::SNS_ACTIONS_PATH),
            },
            command_line,
            message_limit: messages.limit,
            counts: WebhookCounts::default(),
        });
        let (queue, events) = mpsc::channel(QUEUE);
        let (messages, new_messages) = mpsc::channel(messages::QUEUE);
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(delivery::run(shared.clone(), events, stopped.clone(), None));
        let pace = (shared.message_limit > 0).then(|| Duration::from_secs(1) / shared.message_limit);
        tokio::spawn(delivery::run(shared.clone(), new_messages, stopped, pace));
        Ok(Webhooks { shared, queue, messages, stop: Arc::new(stop) })
    }

    /// Post the new messages `events` announces to the message webhooks they
    /// pass the filter of (matched against `store`), until shutdown.
    pub fn watch(&self, store: Store, events: broadcast::Receiver<Event>) {
        tokio::spawn(messages::watch(self.clone(), store, events, self.stop.subscribe()));
    }

    /// Queue `event` for delivery; never waits. A full queue drops it (logged).
    pub fn emit(&self, event: ProviderEvent) {
        if let Err(mpsc::error::TrySendError::Full(Job::Provider(event))) =
            self.queue.try_send(Job::Provider(Box::new(event)))
        {
            tracing::warn!(
                "webhook queue full: dropped the {} event for message {}",
                event.kind.name(),
                event.message.as_str()
            );
        }
    }

    /// Whether `provider` has an endpoint set and enabled.
    pub fn posts_for(&self, provider: Provider) -> bool {
        self.shared.settings.lock().expect("webhook settings lock").endpoint(provider).is_some()
    }

    /// Events for a message just committed, one `(kind, recipient, detail)` each:
    /// nothing unless it came through a provider API whose endpoint is set. The
    /// payloads need its summary, which is read from `store` on a task of its own,
    /// so the caller (a provider's answer, the effects task) never waits for it.
    pub fn after_commit(&self, store: &Store, message: MessageId, envelope: Envelope, events: Vec<RecipientEvent>) {
        let Some(provider) = envelope.api.as_ref().and_then(|api| Provider::from_name(&api.provider)) else {
            return;
        };
        if events.is_empty() || !self.posts_for(provider) {
            return;
        }
        let (webhooks, store) = (self.clone(), store.clone());
        tokio::spawn(async move {
            let id = message.clone();
            let summary = match tokio::task::spawn_blocking(move || store.summary(&id)).await {
                Ok(Ok(Some(summary))) => summary,
                Ok(Ok(None)) => return,
                Ok(Err(err)) => return tracing::warn!("webhooks: cannot read message {message}: {err}"),
                Err(err) => return tracing::warn!("webhooks: cannot read message {message}: {err}"),
            };
            for (kind, recipient, detail) in events {
                webhooks.message_event(kind, &message, &envelope, &summary, &recipient, detail);
            }
        });
    }

    /// `kind` happened to `message` for `recipient`; nothing when the message did
    /// not come through a provider API.
    pub fn message_event(
        &self,
        kind: EventKind,
        message: &MessageId,
        envelope: &Envelope,
        summary: &MessageSummary,
        recipient: &str,
        detail: Detail,
    ) {
        if let Some(event) = ProviderEvent::new(kind, message, envelope, summary, recipient, detail) {
            self.emit(event);
        }
    }

    /// The settings as the API shows them.
    pub fn view(&self) -> WebhooksView {
        let settings = self.shared.settings.lock().expect("webhook settings lock");
        self.shared.view(&settings)
    }

    /// Apply a PUT: the listed providers' endpoints (and Mailgun's or Resend's
    /// key, when given), the message webhooks and the retry policy if given;
    /// saved before it answers.
    pub fn update(&self, change: WebhooksView) -> Result<WebhooksView, WebhooksError> {
        let mut settings = self.shared.settings.lock().expect("webhook settings lock");
        let mut next = settings.clone();
        let ses_listed = change.webhooks.iter().any(|w| w.provider == Provider::Ses.name());
        for mut entry in change.webhooks {
            let provider = Provider::from_name(&entry.provider)
                .ok_or_else(|| WebhooksError::Invalid(format!("unknown provider {:?}", entry.provider)))?;
            check_url(&entry.url)?;
            if let Some(key) = entry.verification_key.take() {
                set_key(&mut next, provider, key, &self.shared)?;
            }
            let slot = next.webhooks.iter_mut().find(|w| w.provider == provider.name()).expect("every provider");
            *slot = Webhook { provider: provider.name().into(), subscription_confirmed: None, ..entry };
        }
        if let Some(message_webhooks) = change.message_webhooks {
            next.message_webhooks = saved_message_webhooks(message_webhooks)?;
        }
        if let Some(retries) = change.retries {
            if retries.attempts == 0 || retries.timeout_millis == 0 {
                return Err(WebhooksError::Invalid("Attempts and TimeoutMillis must be at least 1".into()));
            }
            next.retries = retries;
        }
        // SNS asks a new endpoint to confirm its subscription, and asks again
        // each time it is saved until it has.
        let confirm = match next.endpoint(Provider::Ses).map(|w| w.url.clone()) {
            Some(url) if ses_listed => {
                next.keys.fill_sns(&self.shared.sns.certificate).map_err(WebhooksError::Invalid)?;
                match &next.sns_subscription {
                    Some(current) if current.url == url && current.confirmed => None,
                    Some(current) if current.url == url => Some(current.clone()),
                    _ => Some(Subscription::new(&url).map_err(WebhooksError::Invalid)?),
                }
            }
            _ => None,
        };
        if let Some(subscription) = &confirm {
            next.sns_subscription = Some(subscription.clone());
        }
        next.save(&self.shared.path)
            .map_err(|e| WebhooksError::Settings { path: self.shared.path.clone(), reason: e.to_string() })?;
        *settings = next;
        let view = self.shared.view(&settings);
        drop(settings);
        if let Some(subscription) = confirm
            && self.queue.try_send(Job::SnsConfirmation(subscription)).is_err()
        {
            tracing::warn!("webhook queue full: dropped SNS's SubscriptionConfirmation; save the SES webhook again");
        }
        Ok(view)
    }

    /// `GET /api/v1/webhooks/sns`: confirm or end SNS's subscription of the SES
    /// endpoint (saved before it answers), answered as SNS answers.
    pub fn sns_action(&self, action: &SnsAction) -> Result<SnsAnswer, WebhooksError> {
        let mut settings = self.shared.settings.lock().expect("webhook settings lock");
        let mut subscription = settings.sns_subscription.clone();
        let answer = sns::act(&mut subscription, action);
        if subscription != settings.sns_subscription {
            let mut next = settings.clone();
            next.sns_subscription = subscription;
            next.save(&self.shared.path)
                .map_err(|e| WebhooksError::Settings { path: self.shared.path.clone(), reason: e.to_string() })?;
            *settings = next;
        }
        Ok(answer)
    }

    /// The deliveries, newest first: all, or those of one message, or of one
    /// message webhook.
    pub fn log(&self, message: Option<&MessageId>, webhook: Option<&str>) -> Vec<Delivery> {
        self.shared.log.lock().expect("webhook log lock").list(message, webhook)
    }

    /// Deliveries finished by outcome, and every attempt made.
    pub(crate) fn counts(&self) -> &WebhookCounts {
        &self.shared.counts
    }

    /// SNS's signing certificate (PEM), made on first use.
    pub fn sns_certificate(&self) -> Result<String, WebhooksError> {
        self.shared.sns_keys().map(|keys| keys.sns_certificate)
    }

    /// Stop the worker; deliveries in flight are abandoned.
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
    }
}

impl Shared {
    fn view(&self, settings: &Settings) -> WebhooksView {
        let webhooks = Provider::ALL
            .into_iter()
            .filter_map(|provider| {
                let webhook = settings.webhooks.iter().find(|w| w.provider == provider.name())?.clone();
                let verification_key = match provider {
                    Provider::SendGrid => Some(settings.keys.sendgrid_public_key()),
                    Provider::Postmark => None,
                    Provider::Mailgun => Some(settings.keys.mailgun_signing_key.clone()),
                    Provider::Ses => Some(self.sns.certificate.clone()),
                    Provider::Resend => Some(settings.keys.resend_signing_secret.clone()),
                };
                let subscription_confirmed = (provider == Provider::Ses)
                    .then(|| settings.sns_subscription.as_ref().is_some_and(|s| s.delivers_to(&webhook.url)));
                Some(Webhook { verification_key, subscription_confirmed, ..webhook })
            })
            .collect();
        WebhooksView {
            webhooks,
            retries: Some(settings.retries),
            message_webhooks: Some(self.command_line.iter().chain(&settings.message_webhooks).cloned().collect()),
            message_signing_secret: Some(settings.keys.message_signing_secret.clone()),
            message_limit: Some(self.message_limit),
        }
    }

    /// The message webhooks that are on, `--webhook-url`'s first.
    fn message_webhooks_on(&self) -> Vec<MessageWebhook> {
        let settings = self.settings.lock().expect("webhook settings lock");
        self.message_webhooks_in(&settings).collect()
    }

    /// The message webhooks that are on, given the settings.
    fn message_webhooks_in<'a>(&'a self, settings: &'a Settings) -> impl Iterator<Item = MessageWebhook> + 'a {
        self.command_line.iter().chain(&settings.message_webhooks).filter(|w| w.enabled && !w.url.is_empty()).cloned()
    }

    /// The keys with SNS's made (and saved) if they were missing.
    fn sns_keys(&self) -> Result<keys::Keys, WebhooksError> {
        let mut settings = self.settings.lock().expect("webhook settings lock");
        if settings.keys.fill_sns(&self.sns.certificate).map_err(WebhooksError::Invalid)? {
            settings
                .save(&self.path)
                .map_err(|e| WebhooksError::Settings { path: self.path.clone(), reason: e.to_string() })?;
        }
        Ok(settings.keys.clone())
    }
}

/// An endpoint URL: empty (none), or http(s) with a host.
fn check_url(url: &str) -> Result<(), WebhooksError> {
    if url.is_empty() {
        return Ok(());
    }
    match reqwest::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some() => Ok(()),
        _ => Err(WebhooksError::Invalid(format!("{url:?} is not an http(s) URL"))),
    }
}

/// The message webhooks a PUT lists, as saved: those of the command line left
/// out, each URL checked, an ID made for each new one.
fn saved_message_webhooks(listed: Vec<MessageWebhook>) -> Result<Vec<MessageWebhook>, WebhooksError> {
    let rng = ring::rand::SystemRandom::new();
    let mut saved: Vec<MessageWebhook> = Vec::new();
    for mut webhook in listed.into_iter().filter(|w| !w.command_line) {
        if webhook.url.is_empty() {
            return Err(WebhooksError::Invalid("a message webhook needs a URL".into()));
        }
        check_url(&webhook.url)?;
        if webhook.id.is_empty() {
            webhook.id = keys::hex(&keys::random::<6>(&rng).map_err(WebhooksError::Invalid)?);
        }
        if webhook.id.starts_with("cli-") || saved.iter().any(|w| w.id == webhook.id) {
            return Err(WebhooksError::Invalid(format!("message webhook ID {:?} is taken", webhook.id)));
        }
        saved.push(webhook);
    }
    Ok(saved)
}

/// Set the verification key a PUT gave: Mailgun's and Resend's may be chosen;
/// the others are Pigeonhole's own (a public key, a URL) and must stay as shown.
fn set_key(settings: &mut Settings, provider: Provider, key: String, shared: &Shared) -> Result<(), WebhooksError> {
    match provider {
        Provider::Mailgun if !key.is_empty() => settings.keys.mailgun_signing_key = key,
        Provider::Resend if keys::is_svix_secret(&key) => settings.keys.resend_signing_secret = key,
        Provider::Resend => {
            return Err(WebhooksError::Invalid("Resend's signing secret is whsec_ followed by base64".into()));
        }
        _ => {
            let current = shared.view(settings).webhooks.into_iter().find(|w| w.provider == provider.name());
            if current.and_then(|w| w.verification_key) != Some(key) {
                return Err(WebhooksError::Invalid(format!(
                    "{}'s verification key is Pigeonhole's own and cannot be set",
                    provider.name()
                )));
            }
        }
    }
    Ok(())
}

/// What simulation's effects report, turned into provider events: a bounce is
/// that recipient's `bounced` event (with the DSN's status), a complaint its
/// `complained` event; auto-replies and forwards are not provider events.
pub fn observer(webhooks: Webhooks, store: Store) -> crate::simulation::effects::Observer {
    use crate::simulation::Effect;
    Arc::new(move |committed, outcome| {
        let event = match &outcome.triggered.effect {
            Effect::Bounce { status, diagnostic } => {
                let status = SmtpStatus::from_dsn(status, diagnostic);
                let kind = if status.code < 500 { EventKind::Deferred } else { EventKind::Bounced };
                (kind, Detail::Status(status))
            }
            Effect::Complaint { .. } => (EventKind::Complained, Detail::None),
            Effect::AutoReply { .. } | Effect::Forward => return,
        };
        let events = vec![(event.0, outcome.triggered.recipient.clone(), event.1)];
        webhooks.after_commit(&store, committed.id.clone(), committed.envelope.clone(), events);
    })
}
