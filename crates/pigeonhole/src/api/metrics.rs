//! `GET /metrics`: the engine's Prometheus metrics (`serve --enable-prometheus`),
//! and the HTTP request latencies by route they include.
//!
//! The counters live where the work is done (the SMTP listener's
//! `DeliveryCounters`, the store's commit latency, the webhooks' deliveries); a
//! scrape reads them all, with the store's totals and sizes as they are now, into
//! one `metrics::Exposition`. Served on the HTTP port behind the guard and basic
//! auth like the API (`true`), or alone on a listener of its own
//! ([`listener_router`], behind the guard).
//!
//! A request's route label is axum's matched route template
//! (`/api/v1/message/{ID}`), never the path asked for, and anything no route
//! matched is `other`: the label's values are the router's routes.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::http::header::CONTENT_TYPE;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::registry::Unit;

use super::auth::require_every_inbox;
use super::{ApiState, guard};
use crate::metrics::{CONTENT_TYPE as TEXT_FORMAT, Exposition, LatencyHistogram, Rejection, WebhookOutcome};
use crate::model::Access;

/// Where `/metrics` is served.
pub const PATH: &str = "/metrics";

/// The methods a request is counted under; any other is `other`.
const METHODS: [Method; 7] =
    [Method::GET, Method::HEAD, Method::POST, Method::PUT, Method::DELETE, Method::PATCH, Method::OPTIONS];

/// The route label of a request no route matched.
const UNMATCHED: &str = "other";

/// Request latencies by route template and method.
#[derive(Debug, Default)]
pub struct RequestLatencies {
    /// One entry per route template requested so far (the router's own set, so
    /// bounded); a histogram per method, the last for any other method.
    routes: RwLock<HashMap<String, Arc<[LatencyHistogram; METHODS.len() + 1]>>>,
}

impl RequestLatencies {
    fn observe(&self, route: &str, method: &Method, elapsed: std::time::Duration) {
        let method = METHODS.iter().position(|m| m == method).unwrap_or(METHODS.len());
        let known = self.routes.read().unwrap_or_else(|poisoned| poisoned.into_inner()).get(route).cloned();
        let histograms = match known {
            Some(histograms) => histograms,
            None => self
                .routes
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .entry(route.to_owned())
                .or_default()
                .clone(),
        };
        histograms[method].observe(elapsed);
    }

    /// Every (route, method) requested at least once, in a stable order.
    fn add_to(&self, exposition: &mut Exposition) {
        let routes = self.routes.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut series = Vec::new();
        for (route, histograms) in routes.iter() {
            for (i, histogram) in histograms.iter().enumerate().filter(|(_, h)| h.count() > 0) {
                let method = METHODS.get(i).map_or("other", Method::as_str);
                series.push((vec![("route", route.clone()), ("method", method.to_owned())], histogram));
            }
        }
        series.sort_by(|a, b| a.0.cmp(&b.0));
        exposition.histograms_by(
            "http_request_duration",
            "Time to answer an HTTP request (to its headers), by route template and method",
            series,
        );
    }
}

/// The middleware timing every request under its route template.
pub(super) async fn time_request(
    State(latencies): State<Arc<RequestLatencies>>,
    request: Request,
    next: Next,
) -> Response {
    let route = request.extensions().get::<MatchedPath>().map(|path| path.as_str().to_owned());
    let method = request.method().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    latencies.observe(route.as_deref().unwrap_or(UNMATCHED), &method, started.elapsed());
    response
}

/// The router of a metrics listener of its own: `/metrics` only, behind the guard.
pub fn listener_router(state: ApiState) -> Router {
    Router::new()
        .route(PATH, get(serve))
        .layer(middleware::from_fn_with_state(state.any_host, guard::check))
        .with_state(state)
}

/// The handler: every metric, read now.
pub(super) async fn serve(State(state): State<ApiState>, access: Access) -> Response {
    // Whole-server counts: for those who see every inbox.
    if let Err(refusal) = require_every_inbox(&access) {
        return refusal.into_response();
    }
    let mut exposition = Exposition::default();
    smtp(&state, &mut exposition);
    store(&state, &mut exposition);
    if let Some(latencies) = &state.request_latencies {
        latencies.add_to(&mut exposition);
    }
    exposition.gauge(
        "websocket_clients",
        "Clients connected to the /api/events WebSocket",
        None,
        state.streams.open() as u64,
    );
    if let Some(webhooks) = &state.webhooks {
        let counts = webhooks.counts();
        exposition.counters_by(
            "webhook_deliveries",
            "Provider webhook deliveries finished, by outcome (delivered: a 2xx answer; failed: out of attempts or not worth retrying)",
            "outcome",
            &[
                ("delivered", counts.get(WebhookOutcome::Delivered)),
                ("failed", counts.get(WebhookOutcome::Failed)),
            ],
        );
        exposition.counter(
            "webhook_attempts",
            "Provider webhook POSTs made, retries included",
            None,
            counts.attempts(),
        );
    }
    ([(CONTENT_TYPE, TEXT_FORMAT)], exposition.render()).into_response()
}

fn smtp(state: &ApiState, exposition: &mut Exposition) {
    let counters = &state.smtp;
    let load = |n: &std::sync::atomic::AtomicU64| n.load(Ordering::Relaxed);
    exposition.counter("smtp_sessions", "SMTP sessions started", None, load(&counters.sessions));
    exposition.gauge("smtp_sessions_open", "SMTP sessions running now", None, load(&counters.sessions_open));
    exposition.counter(
        "smtp_messages_accepted",
        "Messages received over SMTP and stored (answered 250)",
        None,
        load(&counters.accepted),
    );
    exposition.counter(
        "smtp_accepted",
        "Bytes of the messages received over SMTP and stored",
        Some(Unit::Bytes),
        load(&counters.accepted_bytes),
    );
    let rejections: Vec<_> = Rejection::ALL.iter().map(|&r| (r.as_str(), counters.rejections.get(r))).collect();
    exposition.counters_by(
        "smtp_rejections",
        "SMTP commands, messages and connections refused, by reason",
        "reason",
        &rejections,
    );
}

fn store(state: &ApiState, exposition: &mut Exposition) {
    let store = &state.store;
    // Totals as of the last commit (no database read), and two file sizes.
    let stats = store.stats();
    let on_disk = database_bytes(store.database_path());
    if let Ok(stats) = stats {
        exposition.gauge("store_messages", "Messages in the store", None, stats.total);
        exposition.gauge("store_unread_messages", "Unread messages in the store", None, stats.unread);
    }
    exposition.gauge(
        "store_database",
        "Size of the database on disk, its write-ahead log included",
        Some(Unit::Bytes),
        on_disk,
    );
    exposition.counter(
        "store_messages_deleted",
        "Messages deleted (by users or retention) since the engine started",
        None,
        store.messages_deleted(),
    );
    exposition.gauge(
        "store_queue_depth",
        "Writes (mostly messages) waiting in the store writer's queue",
        None,
        store.queued() as u64,
    );
    let (in_use, budget) = store.budget_in_use();
    exposition.gauge(
        "store_budget_in_use",
        "Bytes of mail on its way in (being received, prepared or queued) held against the byte budget",
        Some(Unit::Bytes),
        in_use,
    );
    exposition.gauge("store_budget_limit", "The byte budget of mail on its way in", Some(Unit::Bytes), budget);
    exposition.gauge(
        "store_disk_full",
        "1 while the data folder's disk is full (SMTP answers 452)",
        None,
        u64::from(store.disk_full()),
    );
    exposition.histogram(
        "store_commit_duration",
        "Time from a message's turn in the writer's queue to its commit",
        store.commit_latency(),
    );
}

/// The database file and its write-ahead log, in bytes.
fn database_bytes(database: &std::path::Path) -> u64 {
    let mut wal = database.as_os_str().to_owned();
    wal.push("-wal");
    [database.as_os_str(), wal.as_os_str()]
        .iter()
        .filter_map(|path| std::fs::metadata(path).ok())
        .map(|metadata| metadata.len())
        .sum()
}
