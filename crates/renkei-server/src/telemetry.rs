//! Prometheus metrics and request ids.
//!
//! The recorder is process-global (that is how the `metrics` facade works), so it is installed
//! once and shared by every app started in the process, tests included. Queue gauges are read
//! from the database at scrape time rather than tracked in memory, because other processes
//! change the queue too.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use renkei_core::Millis;
use tower_http::request_id::{MakeRequestId, RequestId};

use crate::app::AppState;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's Prometheus handle, installing the recorder on first use.
pub fn prometheus() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let buckets = [
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ];
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("seconds".into()), &buckets)
                .map(|b| b.build_recorder())
                .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
            let handle = recorder.handle();
            // Fails only if another recorder was installed first, e.g. by an embedding program;
            // then our metrics go there and this handle renders nothing, which is acceptable.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Counts requests by method, route template and status, and times them.
pub async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let start = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!("renkei_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("renkei_http_request_duration_seconds", "method" => method, "route" => route)
        .record(start.elapsed().as_secs_f64());
    resp
}

/// `GET /metrics`.
pub async fn render(State(state): State<AppState>) -> Response {
    match state.store.queue_stats().await {
        Ok(stats) => {
            let now = Millis::now();
            for s in stats {
                let st = s.state.as_str();
                metrics::gauge!("renkei_queue_jobs", "state" => st).set(s.count as f64);
                let age = s
                    .oldest_created_at
                    .map_or(0.0, |t| ((now.0 - t.0).max(0) as f64) / 1000.0);
                metrics::gauge!("renkei_queue_oldest_age_seconds", "state" => st).set(age);
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not read queue stats for /metrics"),
    }
    let mut resp = (StatusCode::OK, prometheus().render()).into_response();
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    resp
}

/// Request ids: `req_` and 16 random hex digits, unless the client sent its own
/// `x-request-id`, which is kept.
#[derive(Clone, Copy, Default)]
pub struct MakeId;

impl MakeRequestId for MakeId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let id = format!("req_{:016x}", fastrand::u64(..));
        HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
}
