//! The HTTP + WebSocket API (axum), in Mailpit's v1 shapes so existing Mailpit
//! clients work unchanged; our additions (`/envelope`, `/parts`, `/inboxes`, …)
//! follow the same style.
//!
//! * [`messages`]: the mailbox as a whole — list, search, read status, delete
//!   (all, by ID or by search).
//! * [`message`]: one message — full view, raw source, headers, parts (one, or the
//!   whole MIME tree), image thumbnails, envelope.
//! * [`screenshot`]: `/api/v1/message/{ID}/screenshot.png`, the HTML preview as a
//!   PNG from a headless browser ([`crate::screenshot`]) (ours).
//! * [`links`]: the links and one-time codes in a message (ours).
//! * [`checks`]: Mailpit's html-check (caniemail), link-check and sa-check
//!   (SpamAssassin) of a message.
//! * [`diff`]: `/api/v1/diff`, what changed between two messages, or a message
//!   and a posted `.eml` file (ours).
//! * [`send`]: `POST /api/v1/send`, Mailpit's send API, stored like SMTP mail.
//! * [`export`]: `POST /api/v1/export`, messages as one mboxrd file (ours).
//! * [`import`]: `POST /api/v1/import`, an `.eml` or mbox file into the store (ours).
//! * [`tags`]: `/api/v1/tags`, list, set, rename and delete tags.
//! * [`inboxes`]: per-inbox counts.
//! * [`intake`]: pause and resume SMTP intake (ours).
//! * [`chaos`]: `/api/v1/chaos`, Mailpit's SMTP chaos triggers.
//! * [`release`]: `POST /api/v1/message/{ID}/release`, relay a message through
//!   the configured SMTP server.
//! * [`rules`]: `/api/v1/rules`, the delivery simulation's rules file and the
//!   simulator addresses (ours).
//! * [`info`]: `/api/v1/info` (counts, database, runtime) and `/api/v1/webui`.
//! * [`view`]: `/view/{ID}.txt` and `/view/{ID}.html`, the text part alone and the
//!   HTML part as a sanitized document for the UI's sandboxed frame.
//! * [`mailhog`]: MailHog's `/api/v2/messages`, `/api/v2/search` and v1 single-message
//!   routes, for MailHog's clients.
//! * [`webhooks`]: `/api/v1/webhooks` (provider webhook endpoints), its delivery
//!   `/log`, SNS's signing certificate, and `POST /api/v1/message/{ID}/events`
//!   (an open or a click on request) (ours).
//! * [`wait`]: `/api/v1/wait`, long-poll for the next matching message (ours).
//! * [`metrics`]: `/metrics`, Prometheus metrics (`--enable-prometheus`), and the
//!   request latencies by route they include.
//! * [`event_stream`]: the `/api/events` WebSocket.
//! * [`ui`]: the web UI, embedded in the binary, for every other GET.
//! * [`guard`]: Host and Origin checks in front of everything.
//! * [`auth`]: basic auth (`--ui-auth-file`) and API tokens (`--api-tokens-file`),
//!   resolving each request's [`crate::model::Access`], in front of everything but `/livez` and `/readyz`
//!   and the provider APIs ([`crate::providers`], merged into [`router`]), which
//!   check their provider's own credential.
//! * [`error`]: the one error type; every error is JSON `{"Error": "…"}`.
//! * [`openapi`]: `/api/v1/openapi.json`, the OpenAPI document of all of the above,
//!   made from the handlers and types; [`routes`] adds each route to the router and
//!   the document together.
//! * `ts_types` (tests only): `ui/src/api/types.ts`, the TypeScript declarations
//!   of all the JSON above, rendered from these types and checked to be current.
//!
//! The engine binds the listener and serves [`router`]; store reads are synchronous
//! SQLite calls, so handlers run them on the blocking pool ([`read`]).

mod auth;
mod chaos;
mod checks;
mod diff;
mod error;
mod event_stream;
mod export;
mod guard;
mod import;
mod inboxes;
mod info;
mod intake;
mod links;
mod mailhog;
mod message;
mod messages;
mod metrics;
mod openapi;
mod release;
mod rules;
mod screenshot;
mod send;
mod tags;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod ts_types;
mod ui;
mod view;
mod wait;
mod webhooks;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::DefaultBodyLimit;
use axum::http::HeaderValue;
use axum::routing::get;
use axum::{Router, middleware};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::{HttpLimits, RelayConfig, ScreenshotConfig};
use crate::login::{ApiTokens, Users};
use crate::mail::authentication::Verifier;
use crate::model::EventSender;
use crate::providers::templates::Templates;
use crate::providers::webhooks::Webhooks;
use crate::providers::{self, ProviderKeys, ProviderState};
use crate::screenshot::Screenshots;
use crate::simulation::effects::EffectsHandle;
use crate::simulation::{RULES_FILE, Simulation};
use crate::smtp;
use crate::store::{Store, StoreError};

pub use error::ApiError;
use event_stream::Streams;
/// `/metrics` alone, for a listener of its own (`--enable-prometheus ADDR`).
pub use metrics::listener_router as metrics_router;
/// The UI page's Content-Security-Policy with extra frame sources (the desktop's
/// isolation frame); `None` when one is not a plain CSP token.
pub use ui::policy as ui_policy;
/// The wait API's duration syntax, for clients that size their own timeouts.
pub use wait::parse_timeout as parse_wait_timeout;

/// What every handler needs. Cheap to clone.
#[derive(Clone)]
pub struct ApiState {
    pub store: Store,
    pub events: EventSender,
    streams: Streams,
    /// When the engine started (for `/api/v1/info`'s uptime).
    started: Instant,
    /// The SMTP listener's counts (for `/api/v1/info`).
    smtp: Arc<smtp::DeliveryCounters>,
    /// Where the SMTP listener is bound, once known (for `/api/v1/intake`, so the UI
    /// can tell users where to point their app).
    smtp_address: Option<SocketAddr>,
    pop3_address: Option<SocketAddr>,
    /// IMAP's address and whether it takes TLS from the first byte.
    imap_address: Option<(SocketAddr, bool)>,
    /// Whether SMTP takes mail (`/api/v1/intake`); shared with the listener.
    intake: Arc<smtp::Intake>,
    /// The SMTP chaos triggers (`/api/v1/chaos`); shared with the listener.
    chaos: Arc<smtp::Chaos>,
    /// Where released messages go; `None`: release is off.
    relay: Option<Arc<RelayConfig>>,
    /// The delivery simulation (`/api/v1/rules`); shared with the listener.
    simulation: Arc<Simulation>,
    /// Where `PUT /api/v1/rules` saves the rules.
    rules_file: Arc<Path>,
    /// Who may use the UI and API; `None` (and no `tokens`): anyone who reaches it.
    auth: Option<Arc<Users>>,
    /// The API tokens (`--api-tokens-file`); `None`: bearer tokens are not taken.
    tokens: Option<Arc<ApiTokens>>,
    /// HTTP is bound off loopback: the guard takes any Host name (see [`guard`]).
    any_host: bool,
    /// The link check may reach this machine and its networks.
    allow_local_link_check: bool,
    /// The spamd (`host:port`) the SpamAssassin check asks; `None`: the check is off.
    spamassassin: Option<Arc<str>>,
    /// Verifies DKIM, SPF and DMARC for the check report; `None`: those checks are
    /// left out.
    authentication: Option<Arc<Verifier>>,
    /// Largest request body accepted; bigger ones get 413.
    max_body: usize,
    /// The UI page's Content-Security-Policy ([`ui::policy`]).
    ui_policy: HeaderValue,
    /// What the provider APIs' routes get.
    providers: ProviderState,
    /// Provider event webhooks; `None`: the webhook routes answer 400.
    webhooks: Option<Webhooks>,
    /// Requests are timed by route for `/metrics`; `None`: metrics are off.
    request_latencies: Option<Arc<metrics::RequestLatencies>>,
    /// `/metrics` is served on this router (`--enable-prometheus true`).
    metrics_route: bool,
    /// Takes `/api/v1/message/{ID}/screenshot.png` in a headless browser.
    screenshots: Arc<Screenshots>,
}

impl ApiState {
    /// The API over `store`, announcing `events`, with the SMTP listener's counts and
    /// intake switch; the rest off until set with the `with_…` methods.
    pub fn new(
        store: Store,
        events: EventSender,
        smtp: Arc<smtp::DeliveryCounters>,
        intake: Arc<smtp::Intake>,
    ) -> ApiState {
        let simulation = Arc::new(Simulation::new("", Box::new(Instant::now)).expect("no rules are valid rules"));
        ApiState {
            rules_file: Arc::from(store.data_dir().join(RULES_FILE).as_path()),
            providers: ProviderState::new(store.clone(), simulation.clone()),
            store,
            events,
            streams: Streams::new(),
            started: Instant::now(),
            smtp,
            smtp_address: None,
            pop3_address: None,
            imap_address: None,
            intake,
            chaos: Arc::new(smtp::Chaos::new(None)),
            relay: None,
            simulation,
            auth: None,
            tokens: None,
            any_host: false,
            allow_local_link_check: false,
            spamassassin: None,
            authentication: None,
            max_body: HttpLimits::default().max_body,
            ui_policy: ui::policy(&[]).expect("the UI's own policy is a valid header"),
            webhooks: None,
            request_latencies: None,
            metrics_route: false,
            screenshots: Arc::new(Screenshots::new(ScreenshotConfig::default())),
        }
    }

    /// Take screenshots with this browser and these limits.
    pub fn with_screenshots(self, config: ScreenshotConfig) -> ApiState {
        ApiState { screenshots: Arc::new(Screenshots::new(config)), ..self }
    }

    /// Refuse request bodies over `max_body` bytes with 413, and give the UI's page
    /// this policy ([`ui_policy`], with the configured frame sources).
    pub fn with_http_limits(self, max_body: usize, ui_policy: HeaderValue) -> ApiState {
        ApiState { max_body, ui_policy, ..self }
    }

    /// Let `/api/v1/chaos` set these triggers (the listener's, when chaos is enabled).
    pub fn with_chaos(self, chaos: Arc<smtp::Chaos>) -> ApiState {
        ApiState { chaos, ..self }
    }

    /// Turn release on, through this relay.
    pub fn with_relay(self, relay: Option<RelayConfig>) -> ApiState {
        ApiState { relay: relay.map(Arc::new), ..self }
    }

    /// Judge (SMTP's and the provider APIs' recipients alike) and edit by this
    /// simulation, saving its rules to `rules_file`.
    pub fn with_simulation(self, simulation: Arc<Simulation>, rules_file: &Path) -> ApiState {
        let providers = self.providers.clone().with_simulation(simulation.clone());
        ApiState { simulation, providers, rules_file: Arc::from(rules_file), ..self }
    }

    /// Require these credentials for everything but `/livez` and `/readyz`.
    pub fn with_auth(self, auth: Option<Users>) -> ApiState {
        ApiState { auth: auth.map(Arc::new), ..self }
    }

    /// Take these API tokens (`Authorization: Bearer`) too; with them, a request
    /// needs credentials even without a users file.
    pub fn with_tokens(self, tokens: Option<ApiTokens>) -> ApiState {
        ApiState { tokens: tokens.map(Arc::new), ..self }
    }

    /// Carry out the provider APIs' simulated effects through this handle (the
    /// engine's, shared with the SMTP listener).
    pub fn with_effects(self, effects: EffectsHandle) -> ApiState {
        ApiState { providers: self.providers.clone().with_effects(effects), ..self }
    }

    /// Let the provider APIs take only these keys (`--provider-keys`).
    pub fn with_provider_keys(self, keys: ProviderKeys) -> ApiState {
        ApiState { providers: self.providers.clone().with_keys(keys), ..self }
    }

    /// Render the providers' templated sends from these templates.
    pub fn with_provider_templates(self, templates: Templates) -> ApiState {
        ApiState { providers: self.providers.clone().with_templates(templates), ..self }
    }

    /// Say that HTTP listens on `address`, or on a Unix socket: off loopback, the
    /// guard takes any Host name, since clients use the machine's own names; on a
    /// socket too, since a browser cannot reach one, and what forwards to it (a
    /// reverse proxy) passes its own public name.
    pub fn with_http_address(self, address: SocketAddr, unix_socket: bool) -> ApiState {
        ApiState { any_host: unix_socket || !address.ip().is_loopback(), ..self }
    }

    /// Let the link check reach loopback, private and link-local addresses.
    pub fn with_local_link_check(self, allow: bool) -> ApiState {
        ApiState { allow_local_link_check: allow, ..self }
    }

    /// Turn the SpamAssassin check on, asking the spamd at this `host:port`.
    pub fn with_spamassassin(self, address: Option<String>) -> ApiState {
        ApiState { spamassassin: address.map(Arc::from), ..self }
    }

    /// Verify messages' DKIM, SPF and DMARC with this verifier in the check report.
    pub fn with_authentication(self, verifier: Verifier) -> ApiState {
        ApiState { authentication: Some(Arc::new(verifier)), ..self }
    }

    /// Post provider events through these webhooks.
    pub fn with_webhooks(self, webhooks: Webhooks) -> ApiState {
        let providers = self.providers.clone().with_webhooks(webhooks.clone());
        ApiState { webhooks: Some(webhooks), providers, ..self }
    }

    /// Time requests for Prometheus metrics, served on this router (`on_http`) or
    /// by [`metrics_router`] on a listener of its own.
    pub fn with_metrics(self, on_http: bool) -> ApiState {
        ApiState { request_latencies: Some(Arc::default()), metrics_route: on_http, ..self }
    }

    /// Tell the UI where the POP3 listener is (`POP3Address` in `/api/v1/intake`).
    pub fn with_pop3_address(self, address: Option<SocketAddr>) -> ApiState {
        ApiState { pop3_address: address, ..self }
    }

    /// Tell the UI where the IMAP listener is and whether its TLS is implicit
    /// (`IMAPAddress`, `IMAPImplicitTLS` in `/api/v1/intake`).
    pub fn with_imap_address(self, address: Option<(SocketAddr, bool)>) -> ApiState {
        ApiState { imap_address: address, ..self }
    }

    /// Tell the UI where the SMTP listener is (`SMTPAddress` in `/api/v1/intake`).
    pub fn with_smtp_address(self, address: SocketAddr) -> ApiState {
        ApiState { smtp_address: Some(address), ..self }
    }

    /// Close every open `/api/events` WebSocket (with "going away") and refuse new
    /// ones; answer every waiting `/api/v1/wait` 503. Call it when shutdown starts:
    /// axum's graceful shutdown stops waiting for a connection once it is upgraded,
    /// so the streams need their own signal (and waiters would hold it up).
    pub fn close_streams(&self) {
        self.streams.close();
    }
}

/// The whole API, as the tests call it. The engine serves the same with `/mcp`
/// mounted beside the handlers ([`crate::mcp::api_router`]), through
/// `axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())`
/// (the send APIs record the client's address when it is there).
#[cfg(test)]
pub fn router(state: ApiState) -> Router {
    guarded(state.clone(), handlers(state))
}

/// The API's routes and the UI without the basic auth and the guard in front of
/// them: what `/mcp` calls in-process, from behind both. `/metrics` is among them
/// when it is served on the HTTP port.
pub fn handlers(state: ApiState) -> Router {
    let (mut routes, _) = routes().split_for_parts();
    if state.metrics_route {
        routes = routes.route(metrics::PATH, get(metrics::serve));
    }
    routes
        .fallback(ui::serve)
        .method_not_allowed_fallback(|| async {
            ApiError::new(axum::http::StatusCode::METHOD_NOT_ALLOWED, "Method not allowed")
        })
        .layer(DefaultBodyLimit::max(state.max_body))
        .with_state(state)
}

/// `inner` (the [`handlers`], and what is mounted beside them) behind basic auth,
/// then the provider APIs merged in. The provider APIs come after the basic auth
/// and the body limit, so neither applies to them (each has its provider's limit),
/// and before the guard, which stands in front of everything.
pub fn guarded(state: ApiState, inner: Router) -> Router {
    let router = inner
        .layer(middleware::from_fn_with_state(state.clone(), auth::check))
        .merge(providers::router(state.providers.clone()))
        .layer(middleware::from_fn_with_state(state.any_host, guard::check));
    // Outermost but for tracing, so the guard's and auth's refusals are timed too.
    let router = match &state.request_latencies {
        Some(latencies) => router.layer(middleware::from_fn_with_state(latencies.clone(), metrics::time_request)),
        None => router,
    };
    router.layer(TraceLayer::new_for_http())
}

/// Every route, each registered with its OpenAPI entry ([`openapi`]); handlers
/// sharing a path share one `routes!`.
fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        // One route, two documented paths (`/view/{ID}.html` and `.txt`, in
        // [`openapi::ApiDoc`]): the router cannot match a suffix after a parameter.
        .route("/view/{file}", get(view::show))
        // The UI's page at `/` is a route, not only the fallback: SES's query API
        // takes POST / (merged in from the provider routes) and shares the path.
        .route("/", get(ui::serve))
        .routes(routes!(info::livez))
        .routes(routes!(info::readyz))
        .routes(routes!(messages::list, messages::set_read, messages::delete))
        .routes(routes!(info::info))
        .routes(routes!(info::webui))
        .routes(routes!(info::storage))
        .routes(routes!(messages::search, messages::delete_search))
        .routes(routes!(message::show))
        .routes(routes!(message::raw))
        .routes(routes!(message::headers))
        .routes(routes!(message::parts))
        .routes(routes!(message::part))
        .routes(routes!(message::thumb))
        .routes(routes!(screenshot::screenshot))
        .routes(routes!(message::envelope))
        .routes(routes!(links::links))
        .routes(routes!(links::codes))
        .routes(routes!(checks::checks))
        .routes(routes!(checks::html_check))
        .routes(routes!(view::notes))
        .routes(routes!(checks::link_check))
        .routes(routes!(checks::spamassassin_check))
        .routes(routes!(diff::compare, diff::compare_file))
        .routes(routes!(diff::difference_image))
        .routes(routes!(diff::published_capture))
        .routes(routes!(send::send))
        .routes(routes!(export::export))
        .routes(routes!(import::import))
        .routes(routes!(tags::list, tags::set))
        .routes(routes!(tags::rename, tags::delete))
        .routes(routes!(inboxes::list))
        .routes(routes!(intake::show, intake::set))
        .routes(routes!(chaos::show, chaos::set))
        .routes(routes!(release::release))
        .routes(routes!(rules::show, rules::set))
        .routes(routes!(wait::wait))
        .routes(routes!(webhooks::show, webhooks::set))
        .routes(routes!(webhooks::log))
        .routes(routes!(webhooks::sns_certificate))
        .routes(routes!(webhooks::sns_action))
        .routes(routes!(webhooks::emit))
        .routes(routes!(event_stream::connect))
        .routes(routes!(mailhog::list))
        .routes(routes!(mailhog::search))
        .routes(routes!(mailhog::show, mailhog::delete))
        .routes(routes!(mailhog::release))
        .routes(routes!(openapi::document))
}

/// Run a synchronous store read on the blocking pool.
async fn read<T, F>(state: &ApiState, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
{
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || f(&store)).await.map_err(ApiError::internal)?.map_err(ApiError::from)
}
