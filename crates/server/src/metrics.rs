//! Operations: Prometheus metrics at `/metrics` (requests by route and status with latency
//! histograms, scoring runs and their durations, the email queue's depth, emails sent and
//! failed), and the request span every log line of a request carries, with a request id that
//! the answer returns in `X-Request-Id`.
//!
//! Invariants: labels are route patterns (`/api/v1/matches/{id}`), never paths, so neither an
//! id nor a token reaches a metric or the request span, and the number of series is bounded.

use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpResponse, get, web};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};

use crate::state::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

/// Every metric of a process.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    scoring_runs: Counter,
    scoring_seconds: Histogram,
    emails_sent: Counter,
    email_failures: Counter,
    email_queue: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::with_prefix("matchwell");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests answered, by route and status", requests.clone());
        let latency: Family<RouteLabels, Histogram> =
            Family::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register("http_request_duration_seconds", "Time to answer an HTTP request, by route", latency.clone());
        let scoring_runs = Counter::default();
        registry.register("scoring_runs", "Scoring passes this process ran", scoring_runs.clone());
        let scoring_seconds = Histogram::new(exponential_buckets(0.01, 2.0, 14));
        registry.register("scoring_run_duration_seconds", "Time a scoring pass took", scoring_seconds.clone());
        let emails_sent = Counter::default();
        registry.register("emails_sent", "Emails this process handed to the mail server", emails_sent.clone());
        let email_failures = Counter::default();
        registry.register("email_failures", "Attempts to send an email that failed", email_failures.clone());
        let email_queue = Gauge::default();
        registry.register("email_queue_depth", "Emails waiting to be sent (all processes)", email_queue.clone());
        Metrics { registry, requests, latency, scoring_runs, scoring_seconds, emails_sent, email_failures, email_queue }
    }
}

/// Request latencies: 1 ms to about 16 s.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl Metrics {
    /// Counts one scoring pass of `seconds`.
    pub fn scoring_ran(&self, seconds: f64) {
        self.scoring_runs.inc();
        self.scoring_seconds.observe(seconds);
    }

    /// Counts what one round of the mail worker did.
    pub fn emails(&self, sending: mail::Sending) {
        self.emails_sent.inc_by(sending.sent as u64);
        self.email_failures.inc_by(sending.failed as u64);
    }

    fn request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let route = route.to_owned();
        self.requests.get_or_create(&RequestLabels { method: method.to_owned(), route: route.clone(), status }).inc();
        self.latency.get_or_create(&RouteLabels { method: method.to_owned(), route }).observe(seconds);
    }

    /// The text exposition of every metric.
    fn encode(&self, queue_depth: i64) -> Result<String, std::fmt::Error> {
        self.email_queue.set(queue_depth);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// The route pattern a request matched, or `unmatched` (never the path itself).
fn route_of(request: &ServiceRequest) -> String {
    request.match_pattern().unwrap_or_else(|| "unmatched".to_owned())
}

/// Records every request's route, status and latency, and returns its request id.
pub async fn observe(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = route_of(&request);
    let request_id = request.extensions().get::<RequestId>().map(|id| id.to_string());
    let metrics = request.app_data::<web::Data<AppState>>().map(|state| Arc::clone(&state.metrics));
    let mut response = next.call(request).await?;
    if let Some(metrics) = metrics {
        metrics.request(&method, &route, response.status().as_u16(), started.elapsed().as_secs_f64());
    }
    if let Some(id) = request_id.and_then(|id| HeaderValue::from_str(&id).ok()) {
        response.headers_mut().insert(HeaderName::from_static("x-request-id"), id);
    }
    Ok(response)
}

/// The request span: method, route pattern and request id; its status once answered. Unlike
/// the default span, it carries no path or query string (verification and unsubscribe links
/// carry tokens there) and no client address.
#[derive(Debug)]
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request.extensions().get::<RequestId>().map(|id| id.to_string()).unwrap_or_default();
        tracing::info_span!(
            "request",
            request_id = %request_id,
            method = %request.method(),
            route = %route_of(request),
            status = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        if let Ok(response) = outcome {
            span.record("status", response.status().as_u16());
        }
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "Prometheus metrics (text exposition format)", body = String, content_type = "text/plain"))
)]
#[get("/metrics")]
pub async fn prometheus(state: web::Data<AppState>) -> HttpResponse {
    let depth = match state.store.pending_emails().await {
        Ok(n) => i64::try_from(n).unwrap_or(i64::MAX),
        Err(error) => {
            tracing::error!(error = %error, "metrics: failed to read the email queue");
            -1
        }
    };
    match state.metrics.encode(depth) {
        Ok(text) => HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(text),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}
