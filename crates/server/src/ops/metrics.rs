//! Prometheus metrics, served at `/metrics` in the text exposition format.
//!
//! Each service has its own registry (no global state), so several services in one process (as in
//! tests) count separately. Route labels are route templates, never raw paths, so the number of
//! series stays bounded.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use partner_center_model::RegistrationEnding;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// The service's metrics.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    queue_depth: IntGauge,
    orders: IntGaugeVec,
    registration_duration: HistogramVec,
    replays: IntCounterVec,
    faults: IntCounterVec,
    throttled: IntCounterVec,
    /// The request counter and latency histogram of each route, method and status seen, resolved
    /// once: `with_label_values` hashes the labels and takes a lock on every call. Keyed by the
    /// route's template, hashed with foldhash (a fraction of std's SipHash for a short string; the
    /// keys are the service's own templates).
    resolved: Arc<RwLock<HashMap<String, Vec<Resolved>, foldhash::fast::RandomState>>>,
}

/// One route's request metrics for a method and a status.
#[derive(Debug)]
struct Resolved {
    method: &'static str,
    status: &'static str,
    count: IntCounter,
    latency: Histogram,
}

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const REGISTRATION_BUCKETS: &[f64] = &[0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0];

impl Metrics {
    /// A fresh registry with every metric at zero.
    ///
    /// # Panics
    ///
    /// Never: the metric definitions are constant and valid.
    #[must_use]
    pub fn new() -> Self {
        let registry =
            Registry::new_custom(Some("partner_center".to_owned()), None).expect("a valid prefix");
        let requests = IntCounterVec::new(
            Opts::new(
                "requests_total",
                "Requests answered, by route, method and status.",
            ),
            &["route", "method", "status"],
        )
        .expect("valid");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "request_duration_seconds",
                "Time to answer a request, by route and method.",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["route", "method"],
        )
        .expect("valid");
        let queue_depth = IntGauge::new(
            "registration_queue_depth",
            "Registrations accepted and not yet completed.",
        )
        .expect("valid");
        let orders = IntGaugeVec::new(
            Opts::new(
                "orders",
                "Orders, by status (pending, completed, cancelled).",
            ),
            &["status"],
        )
        .expect("valid");
        let registration_duration = HistogramVec::new(
            HistogramOpts::new(
                "registration_duration_seconds",
                "Time from accepting a registration to completing it, by outcome.",
            )
            .buckets(REGISTRATION_BUCKETS.to_vec()),
            &["outcome"],
        )
        .expect("valid");
        let replays = IntCounterVec::new(
            Opts::new(
                "idempotent_replays_total",
                "Repeated MS-RequestIds answered with the first request's outcome, by route.",
            ),
            &["route"],
        )
        .expect("valid");
        let faults = IntCounterVec::new(
            Opts::new(
                "faults_injected_total",
                "Faults injected into requests, by route and effect.",
            ),
            &["route", "effect"],
        )
        .expect("valid");
        let throttled = IntCounterVec::new(
            Opts::new(
                "throttled_requests_total",
                "Requests refused with 429, by route.",
            ),
            &["route"],
        )
        .expect("valid");
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(queue_depth.clone()),
            Box::new(orders.clone()),
            Box::new(registration_duration.clone()),
            Box::new(replays.clone()),
            Box::new(faults.clone()),
            Box::new(throttled.clone()),
        ] {
            registry.register(collector).expect("unique metric names");
        }
        Self {
            registry,
            requests,
            latency,
            queue_depth,
            orders,
            registration_duration,
            replays,
            faults,
            throttled,
            resolved: Arc::default(),
        }
    }

    /// A request answered. Methods other than the standard ones count as `other`, so that no
    /// request can add series without bound.
    pub fn request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let method = method_label(method);
        let status = status_label(status);
        let counted = self.resolved.read().is_ok_and(|resolved| {
            resolved
                .get(route)
                .and_then(|of| of.iter().find(|r| r.method == method && r.status == status))
                .map(|r| {
                    r.count.inc();
                    r.latency.observe(seconds);
                })
                .is_some()
        });
        if counted {
            return;
        }
        let count = self.requests.with_label_values(&[route, method, status]);
        let latency = self.latency.with_label_values(&[route, method]);
        count.inc();
        latency.observe(seconds);
        if let Ok(mut resolved) = self.resolved.write() {
            resolved
                .entry(route.to_owned())
                .or_default()
                .push(Resolved {
                    method,
                    status,
                    count,
                    latency,
                });
        }
    }

    /// A repeat answered with the first request's outcome.
    pub fn replay(&self, route: &str) {
        self.replays.with_label_values(&[route]).inc();
    }

    /// A fault injected.
    pub fn fault(&self, route: &str, effect: &str) {
        self.faults.with_label_values(&[route, effect]).inc();
    }

    /// A request throttled.
    pub fn throttled(&self, route: &str) {
        self.throttled.with_label_values(&[route]).inc();
    }

    /// A registration completed (or failed) after `seconds`.
    pub fn registration_completed(&self, ending: RegistrationEnding, seconds: f64) {
        let outcome = match ending {
            RegistrationEnding::Failed => "failed",
            RegistrationEnding::Registered => "registered",
        };
        self.registration_duration
            .with_label_values(&[outcome])
            .observe(seconds);
    }

    /// The text exposition of every metric, with the queue depth and the orders in each status
    /// as given (a status not given counts 0).
    #[must_use]
    pub fn render(&self, queue_depth: u64, orders: &[(&str, u64)]) -> String {
        self.queue_depth
            .set(i64::try_from(queue_depth).unwrap_or(i64::MAX));
        for status in ["pending", "completed", "cancelled"] {
            let count = orders
                .iter()
                .find(|(s, _)| *s == status)
                .map_or(0, |(_, n)| *n);
            self.orders
                .with_label_values(&[status])
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
        let mut buffer = Vec::new();
        if let Err(err) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::error!(error = %err, "cannot encode metrics");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Status labels from a fixed set, without allocating.
fn method_label(method: &str) -> &'static str {
    const STANDARD: [&str; 9] = [
        "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "CONNECT",
    ];
    STANDARD
        .into_iter()
        .find(|m| *m == method)
        .unwrap_or("other")
}

fn status_label(status: u16) -> &'static str {
    match status {
        200 => "200",
        201 => "201",
        202 => "202",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        406 => "406",
        409 => "409",
        413 => "413",
        415 => "415",
        429 => "429",
        500 => "500",
        503 => "503",
        _ if status < 300 => "2xx",
        _ if status < 400 => "3xx",
        _ if status < 500 => "4xx",
        _ => "5xx",
    }
}

/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
