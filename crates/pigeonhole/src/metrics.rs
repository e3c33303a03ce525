//! Prometheus metrics: the lock-free counters the layers above keep, and the text
//! exposition `GET /metrics` answers (`serve --enable-prometheus`).
//!
//! This module is at the bottom of the engine, beside `model`: the SMTP listener,
//! the store, the API and the webhooks each own the counters of what they do
//! (plain atomics, always counted: a message costs a few relaxed adds, never a
//! lock), and `api::metrics` reads them all at scrape time into an [`Exposition`],
//! which encodes them with `prometheus-client`. Nothing here imports upwards.
//!
//! Cardinality is bounded by construction: a label value is one of a fixed set
//! ([`Rejection`], the router's route templates, [`WebhookOutcome`]), never text
//! from a message or a request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};

/// The `Content-Type` of the Prometheus text format (0.0.4), which `promtool`
/// and every Prometheus version read.
pub use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Upper bounds (seconds) of the latency histograms' buckets: from a fast commit
/// or API read (1 ms) to a writer stalled behind a checkpoint (10 s).
const LATENCY_BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// A latency histogram with fixed buckets, kept in atomics so that observing is
/// lock-free (prometheus-client's own histogram takes a mutex per observation).
#[derive(Debug, Default)]
pub struct LatencyHistogram {
    /// Observations per bucket (not cumulative); the last one is `+Inf`.
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
}

impl LatencyHistogram {
    pub fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let bucket = LATENCY_BUCKETS.iter().position(|&bound| seconds <= bound).unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|n| n.load(Ordering::Relaxed)).sum()
    }

    fn snapshot(&self) -> HistogramSnapshot {
        let bounds = LATENCY_BUCKETS.iter().copied().chain([f64::INFINITY]);
        let buckets = bounds.zip(&self.buckets).map(|(bound, n)| (bound, n.load(Ordering::Relaxed))).collect();
        HistogramSnapshot { sum: self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9, buckets }
    }
}

/// A [`LatencyHistogram`] as read at one scrape: its sum and each bucket's own
/// count (the encoder makes them cumulative), `+Inf` last.
#[derive(Debug)]
struct HistogramSnapshot {
    sum: f64,
    buckets: Vec<(f64, u64)>,
}

impl EncodeMetric for HistogramSnapshot {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        // The count is the buckets' total, so the two agree within a scrape even
        // while observations land.
        let count = self.buckets.iter().map(|&(_, n)| n).sum();
        encoder.encode_histogram::<NoLabelSet>(self.sum, count, &self.buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

/// Why the SMTP listener refused something: the one label of
/// `pigeonhole_smtp_rejections_total`. A fixed set, so the label cannot grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// A message over the size limit (552), or announced as one in MAIL's SIZE.
    Size,
    /// More recipients than the limit (452).
    Recipients,
    /// The writer's queue or the byte budget of mail on its way in is full (451).
    Busy,
    /// The data folder's disk is full (452).
    DiskFull,
    /// Storing failed otherwise (451).
    Failed,
    /// Intake is paused (421).
    Paused,
    /// The connection cap: a connection refused or an idle session evicted (421).
    Connections,
    /// A chaos trigger fired.
    Chaos,
    /// A simulation rule refused or dropped a recipient or message.
    Simulation,
    /// A command the client got wrong (500-504, and 421 after too many).
    Protocol,
    /// The session idled past its command timeout or outlived its maximum (421).
    Timeout,
    /// The server is shutting down (421).
    Shutdown,
}

impl Rejection {
    pub const ALL: [Rejection; 12] = [
        Rejection::Size,
        Rejection::Recipients,
        Rejection::Busy,
        Rejection::DiskFull,
        Rejection::Failed,
        Rejection::Paused,
        Rejection::Connections,
        Rejection::Chaos,
        Rejection::Simulation,
        Rejection::Protocol,
        Rejection::Timeout,
        Rejection::Shutdown,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Rejection::Size => "size",
            Rejection::Recipients => "recipients",
            Rejection::Busy => "busy",
            Rejection::DiskFull => "disk_full",
            Rejection::Failed => "failed",
            Rejection::Paused => "paused",
            Rejection::Connections => "connections",
            Rejection::Chaos => "chaos",
            Rejection::Simulation => "simulation",
            Rejection::Protocol => "protocol",
            Rejection::Timeout => "timeout",
            Rejection::Shutdown => "shutdown",
        }
    }
}

/// A count per [`Rejection`].
#[derive(Debug, Default)]
pub struct RejectionCounts([AtomicU64; Rejection::ALL.len()]);

impl RejectionCounts {
    pub fn add(&self, reason: Rejection) {
        self.0[reason as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self, reason: Rejection) -> u64 {
        self.0[reason as usize].load(Ordering::Relaxed)
    }
}

/// How a webhook delivery ended: the label of `pigeonhole_webhook_deliveries_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// The receiver answered 2xx.
    Delivered,
    /// Out of attempts, or an answer not worth retrying.
    Failed,
}

/// Webhook deliveries by [`WebhookOutcome`], and the attempts they took.
#[derive(Debug, Default)]
pub struct WebhookCounts {
    delivered: AtomicU64,
    failed: AtomicU64,
    attempts: AtomicU64,
}

impl WebhookCounts {
    pub fn attempted(&self) {
        self.attempts.fetch_add(1, Ordering::Relaxed);
    }

    pub fn attempts(&self) -> u64 {
        self.attempts.load(Ordering::Relaxed)
    }

    pub fn get(&self, outcome: WebhookOutcome) -> u64 {
        match outcome {
            WebhookOutcome::Delivered => &self.delivered,
            WebhookOutcome::Failed => &self.failed,
        }
        .load(Ordering::Relaxed)
    }

    pub fn finished(&self, outcome: WebhookOutcome) {
        match outcome {
            WebhookOutcome::Delivered => &self.delivered,
            WebhookOutcome::Failed => &self.failed,
        }
        .fetch_add(1, Ordering::Relaxed);
    }
}

/// The labels of one series: each key with its value, from a fixed set.
pub type Labels = Vec<(&'static str, String)>;

/// A metric per set of labels, encoded as one family.
#[derive(Debug)]
struct Labelled<M> {
    series: Vec<(Labels, M)>,
    metric_type: MetricType,
}

impl<M: EncodeMetric> EncodeMetric for Labelled<M> {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (labels, metric) in &self.series {
            metric.encode(encoder.encode_family(labels)?)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        self.metric_type
    }
}

/// One scrape's answer: the values read now, each with its name and help, in the
/// Prometheus text format. Names get the `pigeonhole_` prefix, counters `_total`,
/// and a unit its suffix (`_bytes`, `_seconds`).
pub struct Exposition {
    registry: Registry,
}

impl Default for Exposition {
    fn default() -> Exposition {
        Exposition { registry: Registry::with_prefix("pigeonhole") }
    }
}

impl Exposition {
    pub fn counter(&mut self, name: &str, help: &str, unit: Option<Unit>, value: u64) {
        self.register(name, help, unit, ConstCounter::new(value));
    }

    pub fn gauge(&mut self, name: &str, help: &str, unit: Option<Unit>, value: u64) {
        self.register(name, help, unit, ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX)));
    }

    /// A counter per value of the label `key`.
    pub fn counters_by(&mut self, name: &str, help: &str, key: &'static str, values: &[(&'static str, u64)]) {
        let series = values.iter().map(|&(value, n)| (vec![(key, value.to_owned())], ConstCounter::new(n))).collect();
        self.register(name, help, None, Labelled { series, metric_type: MetricType::Counter });
    }

    pub fn histogram(&mut self, name: &str, help: &str, histogram: &LatencyHistogram) {
        let histogram = histogram.snapshot();
        self.register(name, help, Some(Unit::Seconds), histogram);
    }

    /// A latency histogram per set of labels; none at all without a series.
    pub fn histograms_by(&mut self, name: &str, help: &str, series: Vec<(Labels, &LatencyHistogram)>) {
        if series.is_empty() {
            return;
        }
        let series = series.into_iter().map(|(labels, histogram)| (labels, histogram.snapshot())).collect();
        self.register(name, help, Some(Unit::Seconds), Labelled { series, metric_type: MetricType::Histogram });
    }

    fn register(
        &mut self,
        name: &str,
        help: &str,
        unit: Option<Unit>,
        metric: impl prometheus_client::registry::Metric,
    ) {
        match unit {
            Some(unit) => self.registry.register_with_unit(name, help, unit, metric),
            None => self.registry.register(name, help, metric),
        }
    }

    /// The text Prometheus scrapes.
    pub fn render(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}
