//! Email providers' HTTP send APIs (SendGrid, Postmark, Mailgun, Amazon SES,
//! Resend), so an app that sends through a provider's SDK can point its base URL
//! at Pigeonhole: each request is read as the provider documents it, built into a
//! real MIME message, and answered in the provider's own success and error shapes.
//!
//! What every provider shares lives here: [`Provider`], the [`ProviderState`] its
//! handlers get, [`Call`] (one admitted request: its credential checked against
//! the [`ProviderKeys`], the inbox it names, the request as recorded for the
//! envelope, and the submit into the store), [`Refusal`] (the failures every
//! provider answers, each in its own shape) and [`ProviderError`] (that shape).
//! One module per provider reads its request and writes its answers:
//!
//! * [`draft`]: a message as a send API describes it, built into MIME (also
//!   Mailpit's `POST /api/v1/send`).
//! * `keys`: `--provider-keys FILE`, the keys a provider takes and the inboxes
//!   they map to.
//! * `recording`: the request as the envelope keeps it, secrets masked.
//! * `sendgrid`: `POST /v3/mail/send`.
//! * `postmark`: `POST /email`, `POST /email/batch`, `/email/withTemplate`,
//!   `/email/batchWithTemplates`.
//! * `resend`: `POST /emails`, `POST /emails/batch`.
//! * `mailgun`: `POST /v3/{domain}/messages`, `POST /v3/{domain}/messages.mime`.
//! * `ses`: Amazon SES v2 `POST /v2/email/outbound-emails` and the v1 query API
//!   `POST /`, signed with SigV4 (`ses::sigv4`).
//! * [`templates`]: stored templates (SendGrid's dynamic templates, SES's)
//!   rendered into a templated send (`--provider-templates DIR`).
//! * [`webhooks`]: the providers' event webhooks (delivered, bounced, opened …)
//!   posted to the app in each provider's format, signed as each provider signs.
//!
//! [`router`] is merged into the API's router behind its guard (Host, Origin,
//! no form bodies), but outside the UI's basic auth and body cap: a provider
//! route checks its provider's credential header instead, which a cross-site page
//! cannot send, and reads its body under its provider's limit.

pub mod draft;
mod keys;
mod mailgun;
mod postmark;
mod recording;
mod resend;
mod sendgrid;
mod ses;
pub mod templates;
pub mod webhooks;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures_util::StreamExt as _;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::model::{ApiRequest, Envelope, MessageId, NewMessage, SimulationOutcome};
use crate::simulation::effects::{Committed, EffectsHandle};
use crate::simulation::{Effect, Judgement, Reply, Sending, Simulation, Triggered, Verdict};
use crate::store::{Store, SubmitError};
use draft::Built;
pub use keys::ProviderKeys;
use templates::Templates;
use webhooks::{Detail, EventKind, RecipientEvent, Webhooks};

/// An email provider whose send API Pigeonhole stands in for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    SendGrid,
    Postmark,
    Mailgun,
    Ses,
    Resend,
}

impl Provider {
    pub const ALL: [Provider; 5] =
        [Provider::SendGrid, Provider::Postmark, Provider::Mailgun, Provider::Ses, Provider::Resend];

    /// The provider named so in `ApiRequest.provider`, the keys file …
    pub fn from_name(name: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|provider| provider.name() == name)
    }

    /// The provider's name in inbox names, `ApiRequest.provider` and the keys file.
    pub fn name(self) -> &'static str {
        match self {
            Provider::SendGrid => "sendgrid",
            Provider::Postmark => "postmark",
            Provider::Mailgun => "mailgun",
            Provider::Ses => "ses",
            Provider::Resend => "resend",
        }
    }

    /// The status line of the provider's answer to a send it took, as the
    /// envelope's simulation outcome records it.
    fn accepted(self) -> &'static str {
        match self {
            Provider::SendGrid => "202 Accepted",
            Provider::Postmark | Provider::Mailgun | Provider::Ses | Provider::Resend => "200 OK",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the provider handlers need. Cheap to clone.
#[derive(Clone)]
pub struct ProviderState {
    store: Store,
    keys: Arc<ProviderKeys>,
    /// The delivery simulation each recipient of a send is judged by, as over SMTP.
    simulation: Arc<Simulation>,
    /// Where a committed message's simulated effects (bounce, complaint …) go;
    /// `None`: they are recorded but not carried out.
    effects: Option<EffectsHandle>,
    /// Where the provider's events about what it stored are posted (`delivered`).
    webhooks: Option<Webhooks>,
    /// Copies of the provider's stored templates, rendered into a templated send.
    templates: Arc<Templates>,
}

impl ProviderState {
    /// Provider APIs over `store`, taking any credential, judging recipients by
    /// `simulation`.
    pub fn new(store: Store, simulation: Arc<Simulation>) -> ProviderState {
        ProviderState {
            store,
            keys: Arc::new(ProviderKeys::default()),
            simulation,
            effects: None,
            webhooks: None,
            templates: Arc::default(),
        }
    }

    /// Carry out simulated effects through this handle (the engine's, shared with
    /// SMTP).
    pub fn with_effects(self, effects: EffectsHandle) -> ProviderState {
        ProviderState { effects: Some(effects), ..self }
    }

    /// Post the providers' events through these webhooks.
    pub fn with_webhooks(self, webhooks: Webhooks) -> ProviderState {
        ProviderState { webhooks: Some(webhooks), ..self }
    }

    /// Judge recipients by this simulation (the engine's, shared with SMTP).
    pub fn with_simulation(self, simulation: Arc<Simulation>) -> ProviderState {
        ProviderState { simulation, ..self }
    }

    /// Take only these keys from the providers they list.
    pub fn with_keys(self, keys: ProviderKeys) -> ProviderState {
        ProviderState { keys: Arc::new(keys), ..self }
    }

    /// Render templated sends from these templates.
    pub fn with_templates(self, templates: Templates) -> ProviderState {
        ProviderState { templates: Arc::new(templates), ..self }
    }
}

/// Every provider route. Each reads its body through [`Call::admit`], under its
/// provider's request size limit.
pub fn router<S: Clone + Send + Sync + 'static>(state: ProviderState) -> Router<S> {
    Router::new()
        .route("/v3/mail/send", post(sendgrid::send))
        .route("/email", post(postmark::email))
        .route("/email/batch", post(postmark::batch))
        .route("/email/withTemplate", post(postmark::email_with_template))
        .route("/email/batchWithTemplates", post(postmark::batch_with_templates))
        .route("/emails", post(resend::send))
        .route("/emails/batch", post(resend::batch))
        .route("/v3/{domain}/messages", post(mailgun::messages))
        .route("/v3/{domain}/messages.mime", post(mailgun::messages_mime))
        .route("/v2/email/outbound-emails", post(ses::outbound_emails))
        // GET / is the UI's (the API router's own route for `/`, which this one
        // joins): only POST is SES's.
        .route("/", post(ses::query_api))
        .with_state(state)
}

/// Whether a form body (which a cross-site HTML form can post) may go to `path`:
/// only to a route whose provider takes forms (Mailgun's messages, SES's query
/// API at `/`), and only with that provider's credential header, which a form
/// cannot set (a browser sends cached Basic credentials on its own, so Mailgun's
/// must name its `api` user; SigV4 no browser sends).
pub fn takes_signed_form(path: &str, headers: &HeaderMap) -> bool {
    let authorization = headers.get(AUTHORIZATION).and_then(|value| value.to_str().ok()).unwrap_or_default();
    let segments: Vec<&str> = path.split('/').collect();
    match segments[..] {
        ["", ""] => authorization.starts_with("AWS4-HMAC-SHA256 "),
        ["", "v3", domain, "messages" | "messages.mime"] if !domain.is_empty() => mailgun::is_api_credential(headers),
        _ => false,
    }
}

/// The credential a request carried: the secret as sent, and the part of it that
/// says which key it is without giving it away (SendGrid's `SG.<id>`, an AWS
/// access key ID, a Mailgun domain …), which names the inbox.
#[derive(Debug, Clone)]
pub struct Credential {
    pub secret: String,
    pub name: String,
}

impl Credential {
    /// A secret with a known non-secret part.
    pub fn named(secret: &str, name: String) -> Credential {
        Credential { secret: secret.to_string(), name }
    }

    /// A secret not in its provider's form (a placeholder an app uses in
    /// development, say): named `key-` and the start of its SHA-256, which tells
    /// keys apart without showing one.
    pub fn fingerprinted(secret: &str) -> Credential {
        let digest = Sha256::digest(secret);
        let name = format!("key-{}", digest[..4].iter().map(|b| format!("{b:02x}")).collect::<String>());
        Credential { secret: secret.to_string(), name }
    }
}

/// The token of an `Authorization: Bearer <token>` header, if the request has one.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// A failure every provider answers, each in its own shape and words.
#[derive(Debug)]
pub enum Refusal {
    /// The provider's credential header is missing or not in its form.
    MissingCredential,
    /// Keys are configured for the provider (`--provider-keys`) and this is none
    /// of them.
    UnknownCredential,
    /// The body could not be read: over the route's limit (413), or cut off.
    Body { status: StatusCode, reason: String },
    /// The store did not take the message.
    Store(SubmitError),
    /// A delivery simulation rule refused a recipient (a 5xx reply is permanent,
    /// a 4xx one, such as greylisting, temporary): nothing of the message is
    /// stored.
    Simulated { recipient: String, reply: Reply },
    /// A simulation rule drops the connection: the request fails, nothing stored.
    Dropped,
}

impl Refusal {
    /// The HTTP status the failure has at every provider: overload is 429, which
    /// SDKs retry; a full disk or shutdown 503; a broken store 500; a simulated
    /// permanent refusal 422, a temporary one or a dropped connection 503.
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::MissingCredential => StatusCode::UNAUTHORIZED,
            Refusal::UnknownCredential => StatusCode::FORBIDDEN,
            Refusal::Body { status, .. } => *status,
            Refusal::Store(SubmitError::Busy) => StatusCode::TOO_MANY_REQUESTS,
            Refusal::Store(SubmitError::DiskFull | SubmitError::Closed) => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::Store(SubmitError::Failed(_)) => StatusCode::INTERNAL_SERVER_ERROR,
            Refusal::Simulated { reply, .. } if reply.code >= 500 => StatusCode::UNPROCESSABLE_ENTITY,
            Refusal::Simulated { .. } | Refusal::Dropped => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl fmt::Display for Refusal {
    /// Pigeonhole's words for it; providers with documented texts use theirs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::MissingCredential => f.write_str("the request has no credential header"),
            Refusal::UnknownCredential => f.write_str("the key is not one of those in --provider-keys"),
            Refusal::Body { reason, .. } => f.write_str(reason),
            // The cause of a failed store is for the log, not the client.
            Refusal::Store(SubmitError::Failed(_)) => f.write_str("internal error, see Pigeonhole's log"),
            Refusal::Store(err) => write!(f, "{err}"),
            Refusal::Simulated { recipient, reply } => write!(f, "{recipient}: {reply}"),
            Refusal::Dropped => f.write_str("the connection was dropped (delivery simulation)"),
        }
    }
}

/// Bytes past a route's limit that are read and dropped before its 413; past
/// these, the 413 is answered at once.
const DRAIN_MAX: usize = 64 * 1024 * 1024;

/// A request body of at most `limit` bytes (a provider's own request limit).
/// Past it, the rest is read and dropped, up to [`DRAIN_MAX`] more, before the
/// 413: SDKs send the whole body before they read the answer, so one that was
/// answered early would see a broken pipe instead of the provider's error.
async fn read_body(body: Body, limit: usize) -> Result<Vec<u8>, Refusal> {
    let too_large = || Refusal::Body {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        reason: format!("the request body is over the limit of {limit} bytes"),
    };
    let (mut kept, mut seen) = (Vec::new(), 0usize);
    let mut chunks = body.into_data_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|err| Refusal::Body { status: StatusCode::BAD_REQUEST, reason: err.to_string() })?;
        seen += chunk.len();
        if seen <= limit {
            kept.extend_from_slice(&chunk);
        } else if seen > limit + DRAIN_MAX {
            return Err(too_large());
        } else {
            kept = Vec::new();
        }
    }
    if seen > limit {
        return Err(too_large());
    }
    Ok(kept)
}

/// An answer in a provider's error shape: its status and its body; or, for a
/// dropped connection, no answer at all.
#[derive(Debug)]
pub struct ProviderError {
    pub status: StatusCode,
    content_type: &'static str,
    body: String,
    /// Whether the connection is closed instead of answered (see [`dropped_connection`]).
    drops_connection: bool,
}

impl ProviderError {
    /// A JSON error body.
    pub fn json(status: StatusCode, body: serde_json::Value) -> ProviderError {
        ProviderError { status, content_type: "application/json", body: body.to_string(), drops_connection: false }
    }

    /// A body that is not JSON, e.g. Mailgun's plain `Forbidden`.
    pub fn text(status: StatusCode, content_type: &'static str, body: &str) -> ProviderError {
        ProviderError { status, content_type, body: body.to_string(), drops_connection: false }
    }

    /// No answer: the connection is closed, as [`Refusal::Dropped`] asks at every
    /// provider alike. Its status is the refusal's, for whoever reads it in Rust.
    pub fn dropped() -> ProviderError {
        ProviderError {
            status: Refusal::Dropped.status(),
            content_type: "text/plain",
            body: String::new(),
            drops_connection: true,
        }
    }

    /// The body as sent.
    #[cfg(test)]
    pub fn body(&self) -> &str {
        &self.body
    }
}

impl IntoResponse for ProviderError {
    fn into_response(self) -> Response {
        if self.drops_connection {
            return dropped_connection();
        }
        (self.status, [(CONTENT_TYPE, HeaderValue::from_static(self.content_type))], self.body).into_response()
    }
}

/// A response that never reaches the client: its body fails before its first
/// byte. hyper writes a response's head together with the body's first frame,
/// so on that failure it closes the connection with nothing written, and the
/// app's HTTP client sees what a network failure shows it (a connection closed
/// or reset with no answer), which is what a `disconnect` rule simulates.
pub fn dropped_connection() -> Response {
    let failing = futures_util::stream::once(async {
        Err::<axum::body::Bytes, _>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "the connection is dropped (delivery simulation)",
        ))
    });
    Response::new(Body::from_stream(failing))
}

/// What the simulation decided for an API send that goes ahead.
struct Simulated {
    /// What to record in the envelope (the first rule that matched).
    outcome: Option<SimulationOutcome>,
    /// How long to hold the answer (the longest tarpit).
    delay: Option<Duration>,
    /// The effects to carry out once the message is committed.
    triggered: Vec<Triggered>,
}

/// One request to a provider route, admitted: whose it is, where its mail goes and
/// what it said.
#[derive(Debug)]
pub struct Call {
    provider: Provider,
    inbox: String,
    peer: String,
    request: String,
}

impl Call {
    /// Check the request's credential (`None`: its provider's header is missing)
    /// against the keys, then read its body (at most `limit` bytes, the
    /// provider's own request limit: see [`read_body`]) and record the request.
    pub async fn admit(
        state: &ProviderState,
        provider: Provider,
        parts: &Parts,
        body: Body,
        limit: usize,
        credential: Option<Credential>,
    ) -> Result<(Call, Vec<u8>), Refusal> {
        let credential = credential.ok_or(Refusal::MissingCredential)?;
        let inbox = state.keys.inbox(provider, &credential).ok_or(Refusal::UnknownCredential)?;
        let body = read_body(body, limit).await?;
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(|| format!("{provider}-api"), |peer| peer.0.to_string());
        let call = Call { provider, inbox, peer, request: recording::request(parts, &body) };
        Ok((call, body))
    }

    /// Judge the message's recipients by the delivery simulation, then store it
    /// under the ID the provider's answer gives the app, with what the simulation
    /// did in its envelope. Answers after the message is committed; a tarpit rule
    /// holds the answer first.
    pub async fn submit(
        &self,
        state: &ProviderState,
        message: Built,
        provider_message_id: &str,
    ) -> Result<MessageId, Refusal> {
        let send = self.prepare(state, message, provider_message_id)?;
        if let Some(delay) = send.delay {
            tokio::time::sleep(delay).await;
        }
        let id = state.store.submit(send.message).await.map_err(|err| self.store_failed(err))?;
        send.after.run(state, &id);
        Ok(id)
    }

    /// [`Call::submit`] for the messages of one request that the app sees as one
    /// send (SendGrid's personalizations, Mailgun's batch, Resend's strict batch),
    /// each with the ID the provider's answer gives it: every recipient of every
    /// message judged first, then all stored in one transaction or none, so a
    /// refusal or a store failure leaves nothing stored behind the error.
    pub async fn submit_all(
        &self,
        state: &ProviderState,
        messages: Vec<(Built, String)>,
    ) -> Result<Vec<MessageId>, Refusal> {
        let sends = messages
            .into_iter()
            .map(|(message, provider_message_id)| self.prepare(state, message, &provider_message_id))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(delay) = sends.iter().filter_map(|send| send.delay).max() {
            tokio::time::sleep(delay).await;
        }
        let (messages, afters): (Vec<_>, Vec<_>) = sends.into_iter().map(|send| (send.message, send.after)).unzip();
        let ids = state.store.submit_all(messages).await.map_err(|err| self.store_failed(err))?;
        for (after, id) in afters.into_iter().zip(&ids) {
            after.run(state, id);
        }
        Ok(ids)
    }

    /// The store's refusal, its cause logged when it is a failure.
    fn store_failed(&self, err: SubmitError) -> Refusal {
        if let SubmitError::Failed(cause) = &err {
            tracing::error!("{} api: {cause}", self.provider);
        }
        Refusal::Store(err)
    }

    /// The message judged and made ready to store: its envelope says which
    /// provider took it, under which ID, and what the simulation did.
    fn prepare(&self, state: &ProviderState, message: Built, provider_message_id: &str) -> Result<JudgedSend, Refusal> {
        let Simulated { outcome: simulation, delay, triggered } = self.simulate(state, &message)?;
        let envelope = Envelope {
            mail_from: message.mail_from,
            rcpt_to: message.rcpt_to,
            helo: format!("{}-api", self.provider),
            peer: self.peer.clone(),
            tls: false,
            auth_user: Some(self.inbox.clone()),
            transcript: String::new(),
            api: Some(ApiRequest {
                provider: self.provider.name().to_string(),
                provider_message_id: provider_message_id.to_string(),
                request: self.request.clone(),
            }),
            simulation,
        };
        let received_at = OffsetDateTime::now_utc();
        // Every recipient but those it bounces for is `delivered`, as the provider
        // would report (a complaint comes after its delivery); made only when the
        // provider has a webhook endpoint, which is rare on this path.
        let delivered = state.webhooks.as_ref().filter(|webhooks| webhooks.posts_for(self.provider)).map(|_| {
            let events: Vec<RecipientEvent> = envelope
                .rcpt_to
                .iter()
                .filter(|recipient| {
                    !triggered.iter().any(|t| &t.recipient == *recipient && matches!(t.effect, Effect::Bounce { .. }))
                })
                .map(|recipient| (EventKind::Delivered, recipient.clone(), Detail::None))
                .collect();
            (envelope.clone(), events)
        });
        // Only a message with effects keeps a copy for after its commit.
        let original = (!triggered.is_empty()).then(|| (Arc::<[u8]>::from(message.raw.as_slice()), envelope.clone()));
        let message = NewMessage { raw: message.raw, envelope, received_at };
        Ok(JudgedSend { message, delay, after: AfterCommit { delivered, original, triggered, received_at } })
    }
    /// Every recipient judged at once (an API send knows the whole message from
    /// the start): a drop or a refusal of any one refuses the message; otherwise
    /// what to record, from the first rule that matched, and the longest tarpit.
    fn simulate(&self, state: &ProviderState, message: &Built) -> Result<Simulated, Refusal> {
        // Greylisting knows a client by its address, whatever port it retries from.
        let client = self.peer.parse::<SocketAddr>().map_or_else(|_| self.peer.clone(), |peer| peer.ip().to_string());
        let judged: Vec<(&String, Judgement)> = message
            .rcpt_to
            .iter()
            .filter_map(|recipient| {
                let sending = Sending {
                    client: &client,
                    mail_from: &message.mail_from,
                    recipient,
                    inbox: &self.inbox,
                    provider: Some(self.provider.name()),
                    message: Some(&message.raw),
                };
                state.simulation.judge(&sending).map(|judgement| (recipient, judgement))
            })
            .collect();
        let (mut delay, mut effects) = (None, Vec::new());
        for (recipient, judgement) in &judged {
            match &judgement.verdict {
                Verdict::Disconnect => return Err(Refusal::Dropped),
                Verdict::Refuse(reply) => {
                    return Err(Refusal::Simulated { recipient: recipient.to_string(), reply: reply.clone() });
                }
                Verdict::Tarpit(held) => delay = delay.max(Some(*held)),
                Verdict::Effect(effect) => {
                    effects.push(Triggered { recipient: recipient.to_string(), effect: effect.clone() })
                }
                Verdict::Accept => {}
            }
        }
        let outcome = judged.first().map(|(_, judgement)| {
            let reply = match delay {
                Some(held) => format!("{} (held {} ms)", self.provider.accepted(), held.as_millis()),
                None => self.provider.accepted().to_string(),
            };
            judgement.outcome(reply)
        });
        Ok(Simulated { outcome, delay, triggered: effects })
    }
}

/// A provider's message judged and ready to store.
struct JudgedSend {
    message: NewMessage,
    /// How long a tarpit holds the answer.
    delay: Option<Duration>,
    after: AfterCommit,
}

/// What follows a provider's message once it is committed.
struct AfterCommit {
    /// The envelope and the `delivered` events, when the provider has a webhook.
    delivered: Option<(Envelope, Vec<RecipientEvent>)>,
    /// The message's bytes and envelope, kept when it has effects to carry out.
    original: Option<(Arc<[u8]>, Envelope)>,
    triggered: Vec<Triggered>,
    received_at: OffsetDateTime,
}

impl AfterCommit {
    /// Tell the webhooks and start the effects of message `id`, now committed.
    fn run(self, state: &ProviderState, id: &MessageId) {
        if let (Some(webhooks), Some((envelope, events))) = (&state.webhooks, self.delivered) {
            webhooks.after_commit(&state.store, id.clone(), envelope, events);
        }
        if let (Some(effects), Some((raw, envelope))) = (&state.effects, self.original) {
            // A full queue drops the effects (and logs it): the answer never waits for them.
            let committed = Committed { id: id.clone(), raw, envelope, received_at: self.received_at };
            let _ = effects.after_commit(committed, self.triggered);
        }
    }
}
