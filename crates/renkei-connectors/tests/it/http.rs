//! The HTTP client against small local servers: allow-list, retries and their limits,
//! `Retry-After`, providers' rate-limit headers, per-connection budgets, gzip, and what errors,
//! logs and metrics may show.
//!
//! Servers count the requests they receive, so retries are asserted by counts, not by timing.
//! The few timing assertions are loose lower bounds (a wait that must have happened).

use std::future::Future;
use std::io::Write as _;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use renkei_connectors::ConnectorError;
use renkei_connectors::http::{
    AllowList, Budget, HttpClient, HttpConfig, OutgoingRequest, QuotaKind, UNKNOWN_RESET_PROBE,
    rate_limit_windows, retry_after,
};
use url::Url;

const PROVIDER: &str = "test";

/// A server that answers every request with `answer(n)`, `n` counting from 0, and the count.
async fn scripted(
    answer: impl Fn(usize) -> Response + Clone + Send + Sync + 'static,
) -> (Url, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let router = Router::new().fallback(move || {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        let answer = answer.clone();
        async move { answer(n) }
    });
    (serve(router).await, hits)
}

async fn serve(router: Router) -> Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Url::parse(&format!("http://{addr}/")).expect("url")
}

/// A port nothing listens on: bound, then released.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Production settings, but quick backoffs so retried tests stay fast.
fn config() -> HttpConfig {
    HttpConfig {
        retry_base_delay: Duration::from_millis(10),
        ..HttpConfig::default()
    }
}

fn client(config: HttpConfig) -> HttpClient {
    HttpClient::new(config).expect("client")
}

fn allow(base: &Url) -> AllowList {
    AllowList::new().with_prefix(base.clone())
}

fn url(base: &Url, path: &str) -> Url {
    base.join(path).expect("join")
}

fn status(code: u16) -> Response {
    StatusCode::from_u16(code).expect("status").into_response()
}

fn with_headers(code: u16, headers: &[(&'static str, String)]) -> Response {
    let mut resp = status(code);
    for (name, value) in headers {
        resp.headers_mut()
            .insert(*name, HeaderValue::from_str(value).expect("header value"));
    }
    resp
}

fn budget(key: &str, per_second: u32, burst: u32) -> Budget {
    Budget::new(
        key,
        NonZeroU32::new(per_second).expect("nonzero"),
        NonZeroU32::new(burst).expect("nonzero"),
    )
}

fn hits(h: &Arc<AtomicUsize>) -> usize {
    h.load(Ordering::SeqCst)
}

/// What a future did, seen from outside: its output, the metrics it recorded (Prometheus text)
/// and the log lines this crate wrote at debug level.
struct Observed<T> {
    out: T,
    metrics: String,
    logs: String,
}

#[derive(Clone, Default)]
struct LogBuf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `make()` on a single-threaded runtime with a local metrics recorder and a local
/// tracing subscriber, both of which only see this thread.
fn observed<F: Future>(make: impl FnOnce() -> F) -> Observed<F::Output> {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let buf = LogBuf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("renkei_connectors=debug")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let out = tracing::subscriber::with_default(subscriber, || {
        metrics::with_local_recorder(&recorder, || rt.block_on(make()))
    });
    let logs = String::from_utf8_lossy(&buf.0.lock().unwrap_or_else(|e| e.into_inner())).into();
    Observed {
        out,
        metrics: handle.render(),
        logs,
    }
}

/// The value of `renkei_provider_requests_total` for `status`, if recorded.
fn requests_counted(metrics: &str, status: &str) -> Option<u64> {
    let label = format!("status=\"{status}\"");
    metrics
        .lines()
        .find(|l| l.starts_with("renkei_provider_requests_total{") && l.contains(&label))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn allow_list_refuses_other_prefixes_suffix_lookalikes_userinfo_and_ports() {
    let (base, hits_) = scripted(|_| status(200)).await;
    let port = base.port().expect("port");
    let api = url(&base, "/api/");
    let list = AllowList::new()
        .with_prefix(api.clone())
        .with_https_host_suffix(".my.salesforce.com");
    let ok = |s: &str| list.allows(&Url::parse(s).expect("url"));

    // Prefix: scheme, host, port and path prefix must all match.
    assert!(ok(&format!("http://127.0.0.1:{port}/api/contacts?x=1")));
    assert!(!ok(&format!("http://127.0.0.1:{port}/other")));
    assert!(!ok(&format!("https://127.0.0.1:{port}/api/contacts")));
    assert!(!ok(&format!("http://localhost:{port}/api/contacts")));
    assert!(!ok(&format!("http://127.0.0.1:{}/api/contacts", port ^ 1)));
    assert!(!ok("http://127.0.0.1/api/contacts"));

    // HTTPS host suffix: a real subdomain, on the default port.
    assert!(ok("https://acme.my.salesforce.com/services/data"));
    assert!(ok("https://ACME.My.Salesforce.com/services/data"));
    assert!(!ok("http://acme.my.salesforce.com/services/data"));
    assert!(!ok("https://my.salesforce.com/services/data"));
    assert!(!ok("https://evilmy.salesforce.com/"));
    assert!(!ok("https://acme.my.salesforce.com.evil.example/"));
    assert!(!ok("https://acme.my.salesforce.com:8443/services/data"));

    // Userinfo is refused on either rule: it changes who is talked to in some parsers.
    assert!(!ok("https://user:pw@acme.my.salesforce.com/services/data"));
    assert!(!ok(&format!("http://user@127.0.0.1:{port}/api/contacts")));

    // The client refuses before any byte leaves, without naming the query.
    let err = client(config())
        .send(
            &list,
            OutgoingRequest::get(PROVIDER, url(&base, "/elsewhere?access_token=SECRET123")),
        )
        .await
        .expect_err("refused");
    assert!(
        matches!(err, ConnectorError::HostNotAllowed { .. }),
        "{err:?}"
    );
    assert!(!err.to_string().contains("SECRET123"), "{err}");
    assert_eq!(hits(&hits_), 0);
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after_even_for_a_post() {
    let (base, hits_) = scripted(|n| match n {
        0 => with_headers(429, &[("retry-after", "1".into())]),
        _ => status(201),
    })
    .await;
    let started = Instant::now();
    let resp = client(config())
        .send(
            &allow(&base),
            OutgoingRequest::post(PROVIDER, url(&base, "/contacts"))
                .json(serde_json::json!({"email": "a@example.com"})),
        )
        .await
        .expect("answer");
    assert_eq!(resp.status, StatusCode::CREATED);
    assert_eq!(hits(&hits_), 2);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "waited {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_429_asking_for_longer_than_allowed_comes_back_at_once_and_holds_the_budget() {
    let (base, hits_) = scripted(|_| with_headers(429, &[("retry-after", "3600".into())])).await;
    let http = client(config());
    let started = Instant::now();
    let resp = http
        .send(
            &allow(&base),
            OutgoingRequest::get(PROVIDER, url(&base, "/contacts")).budget(budget("t:1", 100, 100)),
        )
        .await
        .expect("answer");
    assert_eq!(resp.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(hits(&hits_), 1);
    assert!(started.elapsed() < Duration::from_secs(2));

    // Later calls on the same budget fail fast without reaching the provider, and carry the
    // wait for the job layer's snooze.
    let err = http
        .send(
            &allow(&base),
            OutgoingRequest::get(PROVIDER, url(&base, "/contacts")).budget(budget("t:1", 100, 100)),
        )
        .await
        .expect_err("held back");
    let wait = err.retry_after().expect("retry_after");
    assert!(matches!(err, ConnectorError::RateLimited { .. }), "{err:?}");
    assert!(wait > Duration::from_secs(3500), "{wait:?}");
    assert_eq!(hits(&hits_), 1);
    let state = http.budget_state("t:1").expect("state");
    assert!(state.blocked_until.is_some());

    // Another connection's budget is not held back.
    http.send(
        &allow(&base),
        OutgoingRequest::get(PROVIDER, url(&base, "/contacts")).budget(budget("t:2", 100, 100)),
    )
    .await
    .expect("answer");
    assert_eq!(hits(&hits_), 2);
}

#[tokio::test]
async fn a_503_is_retried_for_a_get_but_not_for_a_post() {
    let (base, hits_) = scripted(|n| if n < 2 { status(503) } else { status(200) }).await;
    let http = client(config());
    let resp = http
        .send(
            &allow(&base),
            OutgoingRequest::get(PROVIDER, url(&base, "/x")),
        )
        .await
        .expect("answer");
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(hits(&hits_), 3);

    let (base, hits_) = scripted(|_| status(503)).await;
    let resp = http
        .send(
            &allow(&base),
            OutgoingRequest::get(PROVIDER, url(&base, "/x")),
        )
        .await
        .expect("answer");
    assert_eq!(
        resp.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "the last answer"
    );
    assert_eq!(hits(&hits_), 3, "one try and max_retries = 2");

    let (base, hits_) = scripted(|_| status(503)).await;
    let resp = http
        .send(
            &allow(&base),
            OutgoingRequest::post(PROVIDER, url(&base, "/x")),
        )
        .await
        .expect("answer");
    assert_eq!(resp.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        hits(&hits_),
        1,
        "a write that may have happened is not repeated"
    );

    // Unless the caller declares it idempotent.
    let (base, hits_) = scripted(|_| status(502)).await;
    http.send(
        &allow(&base),
        OutgoingRequest::post(PROVIDER, url(&base, "/x")).idempotent(true),
    )
    .await
    .expect("answer");
    assert_eq!(hits(&hits_), 3);
}

#[test]
fn a_refused_connection_is_retried_even_for_a_post_and_was_never_sent() {
    let base = Url::parse(&format!("http://127.0.0.1:{}/", closed_port())).expect("url");
    let seen = observed(|| async {
        client(config())
            .send(
                &allow(&base),
                OutgoingRequest::post(PROVIDER, url(&base, "/contacts"))
                    .form(vec![("refresh_token".into(), "RT-SECRET".into())]),
            )
            .await
    });
    let err = seen.out.expect_err("refused");
    assert!(
        matches!(err, ConnectorError::Transport { sent: false, .. }),
        "{err:?}"
    );
    assert!(!err.may_have_been_sent());
    assert!(err.is_retryable());
    assert_eq!(
        requests_counted(&seen.metrics, "transport"),
        Some(3),
        "{}",
        seen.metrics
    );
    assert!(seen.logs.contains("giving up"), "{}", seen.logs);
    assert!(!seen.logs.contains("RT-SECRET"));
}

#[tokio::test]
async fn a_timeout_is_classified_may_have_been_sent_and_is_retried_only_when_idempotent() {
    let hits_ = Arc::new(AtomicUsize::new(0));
    let counter = hits_.clone();
    let router = Router::new().fallback(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "late"
        }
    });
    let base = serve(router).await;
    let http = client(HttpConfig {
        timeout: Duration::from_millis(200),
        max_retries: 1,
        ..config()
    });

    let err = http
        .send(
            &allow(&base),
            OutgoingRequest::post(PROVIDER, url(&base, "/x")),
        )
        .await
        .expect_err("timeout");
    assert!(matches!(err, ConnectorError::Timeout { .. }), "{err:?}");
    assert!(err.may_have_been_sent());
    assert_eq!(hits(&hits_), 1);

    let err = http
        .send(
            &allow(&base),
            OutgoingRequest::get(PROVIDER, url(&base, "/x")),
        )
        .await
        .expect_err("timeout");
    assert!(matches!(err, ConnectorError::Timeout { .. }), "{err:?}");
    assert_eq!(hits(&hits_), 3, "the GET was tried twice");
}

#[test]
fn retry_after_reads_seconds_and_the_three_http_date_forms() {
    // 1994-11-06T08:49:37Z, RFC 9110's example instant.
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
    let read = |v: &str| {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_str(v).expect("value"));
        retry_after(&h, now)
    };
    let ten = Some(Duration::from_secs(10));
    assert_eq!(read("120"), Some(Duration::from_secs(120)));
    assert_eq!(read(" 0 "), Some(Duration::ZERO));
    assert_eq!(read("Sun, 06 Nov 1994 08:49:47 GMT"), ten, "IMF-fixdate");
    assert_eq!(read("Sunday, 06-Nov-94 08:49:47 GMT"), ten, "RFC 850");
    assert_eq!(read("Sun Nov  6 08:49:47 1994"), ten, "asctime");
    assert_eq!(
        read("Sun, 06 Nov 1994 08:00:00 GMT"),
        Some(Duration::ZERO),
        "a date in the past"
    );
    assert_eq!(
        read("99999999999999999999999"),
        Some(Duration::from_secs(u64::MAX))
    );
    assert_eq!(read("-5"), None);
    assert_eq!(read("soon"), None);
    assert_eq!(read(""), None);
    assert_eq!(retry_after(&HeaderMap::new(), now), None);
}

#[tokio::test]
async fn an_http_date_retry_after_is_honoured_on_the_wire() {
    let (base, hits_) = scripted(|n| match n {
        0 => {
            let at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(1);
            let date = jiff::fmt::rfc2822::DateTimePrinter::new()
                .timestamp_to_rfc9110_string(&at)
                .expect("date");
            with_headers(429, &[("retry-after", date)])
        }
        _ => status(200),
    })
    .await;
    let resp = client(config())
        .send(
            &allow(&base),
            OutgoingRequest::get(PROVIDER, url(&base, "/x")),
        )
        .await
        .expect("answer");
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(hits(&hits_), 2);
}

fn hubspot_headers(remaining: u64, interval_ms: u64) -> Vec<(&'static str, String)> {
    vec![
        ("x-hubspot-ratelimit-max", "110".into()),
        ("x-hubspot-ratelimit-remaining", remaining.to_string()),
        (
            "x-hubspot-ratelimit-interval-milliseconds",
            interval_ms.to_string(),
        ),
    ]
}

#[tokio::test]
async fn hubspot_exhausted_interval_holds_the_next_call_on_the_same_budget() {
    let (base, hits_) = scripted(|_| with_headers(200, &hubspot_headers(0, 400))).await;
    let http = client(config());
    let call = |key: &str| {
        OutgoingRequest::get("hubspot", url(&base, "/crm/v3/objects/contacts"))
            .budget(budget(key, 100, 100))
    };
    http.send(&allow(&base), call("hubspot:1"))
        .await
        .expect("first");

    let state = http.budget_state("hubspot:1").expect("state");
    assert_eq!(state.provider, "hubspot");
    let w = state
        .window(QuotaKind::Interval(Duration::ZERO))
        .expect("interval window");
    assert_eq!(w.kind, QuotaKind::Interval(Duration::from_millis(400)));
    assert_eq!((w.limit, w.remaining, w.used()), (Some(110), 0, Some(110)));
    assert!(state.blocked_until.is_some());

    // Another connection goes at once.
    let started = Instant::now();
    http.send(&allow(&base), call("hubspot:2"))
        .await
        .expect("other");
    assert!(started.elapsed() < Duration::from_millis(300));

    // The same connection waits for the window, through a clone of the client too.
    let started = Instant::now();
    http.clone()
        .send(&allow(&base), call("hubspot:1"))
        .await
        .expect("second");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(hits(&hits_), 3);

    // When the window is further away than the client may sleep, it fails fast instead.
    let impatient = client(HttpConfig {
        max_retry_wait: Duration::from_millis(100),
        ..config()
    });
    impatient
        .send(&allow(&base), call("hubspot:1"))
        .await
        .expect("first");
    let err = impatient
        .send(&allow(&base), call("hubspot:1"))
        .await
        .expect_err("held back");
    assert!(matches!(err, ConnectorError::RateLimited { .. }), "{err:?}");
    assert!(err.retry_after().expect("wait") <= Duration::from_millis(400));
    assert_eq!(hits(&hits_), 4);
}

#[tokio::test]
async fn hubspot_exhausted_daily_quota_fails_fast_and_is_shown() {
    let (base, hits_) = scripted(|_| {
        let mut h = hubspot_headers(150, 10_000);
        h.push(("x-hubspot-ratelimit-daily", "625000".into()));
        h.push(("x-hubspot-ratelimit-daily-remaining", "0".into()));
        h.push(("x-hubspot-ratelimit-secondly", "19".into()));
        h.push(("x-hubspot-ratelimit-secondly-remaining", "18".into()));
        with_headers(200, &h)
    })
    .await;
    let http = client(config());
    let call = || {
        OutgoingRequest::get("hubspot", url(&base, "/crm/v3/objects/contacts")).budget(budget(
            "hubspot:7",
            100,
            100,
        ))
    };
    http.send(&allow(&base), call()).await.expect("first");
    let started = Instant::now();
    let err = http
        .send(&allow(&base), call())
        .await
        .expect_err("held back");
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(matches!(err, ConnectorError::RateLimited { .. }), "{err:?}");
    let wait = err.retry_after().expect("wait");
    assert!(
        wait > Duration::from_secs(60) && wait <= UNKNOWN_RESET_PROBE,
        "{wait:?}"
    );
    assert_eq!(hits(&hits_), 1);

    let state = http.budget_state("hubspot:7").expect("state");
    let daily = state.daily().expect("daily");
    assert_eq!((daily.limit, daily.remaining), (Some(625_000), 0));
    let secondly = state.window(QuotaKind::Secondly).expect("secondly");
    assert_eq!((secondly.limit, secondly.remaining), (Some(19), 18));
    assert!(http.budget_state("hubspot:8").is_none());
}

/// HubSpot's 429 as the sandbox sends it for a private app: every window at zero, the body
/// naming the one that was hit.
fn hubspot_429(policy: &str, interval_ms: u64) -> Response {
    let mut resp = (
        StatusCode::TOO_MANY_REQUESTS,
        axum::Json(serde_json::json!({
            "status": "error",
            "message": "You have reached your limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": "00000000-0000-0000-0000-000000000000",
            "policyName": policy,
        })),
    )
        .into_response();
    let mut h = hubspot_headers(0, interval_ms);
    h.push(("x-hubspot-ratelimit-daily", "625000".into()));
    h.push(("x-hubspot-ratelimit-daily-remaining", "0".into()));
    for (name, value) in h {
        resp.headers_mut()
            .insert(name, HeaderValue::from_str(&value).expect("value"));
    }
    resp
}

#[tokio::test]
async fn a_hubspot_429_waits_for_the_window_its_policy_names() {
    // The ten-second window: wait for it and try again, whatever the daily header says.
    let (base, hits_) = scripted(|n| match n {
        0 => hubspot_429("TEN_SECONDLY_ROLLING", 300),
        _ => status(200),
    })
    .await;
    let http = client(config());
    let call = || {
        OutgoingRequest::post("hubspot", url(&base, "/crm/v3/objects/contacts")).budget(budget(
            "hubspot:11",
            100,
            100,
        ))
    };
    let started = Instant::now();
    let resp = http.send(&allow(&base), call()).await.expect("answer");
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(hits(&hits_), 2);
    assert!(started.elapsed() >= Duration::from_millis(250));

    // The second-long window carries no headers at all; the policy alone says to wait 1 s.
    let (base, hits_) = scripted(|n| match n {
        0 => (
            StatusCode::TOO_MANY_REQUESTS,
            axum::Json(serde_json::json!({"errorType": "RATE_LIMIT", "policyName": "SECONDLY"})),
        )
            .into_response(),
        _ => status(200),
    })
    .await;
    let started = Instant::now();
    let resp = http
        .send(
            &allow(&base),
            OutgoingRequest::get("hubspot", url(&base, "/crm/v3/objects/contacts/search")),
        )
        .await
        .expect("answer");
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(hits(&hits_), 2);
    assert!(started.elapsed() >= Duration::from_millis(900));

    // The day: the 429 goes back to the caller at once, and the budget is held.
    let (base, hits_) = scripted(|_| hubspot_429("DAILY", 10_000)).await;
    let call = || {
        OutgoingRequest::get("hubspot", url(&base, "/crm/v3/objects/contacts")).budget(budget(
            "hubspot:12",
            100,
            100,
        ))
    };
    let resp = http.send(&allow(&base), call()).await.expect("answer");
    assert_eq!(resp.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(hits(&hits_), 1);
    let state = http.budget_state("hubspot:12").expect("state");
    assert_eq!(state.daily().map(|d| d.remaining), Some(0));
    let err = http
        .send(&allow(&base), call())
        .await
        .expect_err("held back");
    assert!(matches!(err, ConnectorError::RateLimited { .. }), "{err:?}");
    assert_eq!(hits(&hits_), 1);
}

#[tokio::test]
async fn zoho_exhausted_credits_wait_for_the_reset_instant() {
    let (base, hits_) = scripted(|_| {
        let reset = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .expect("clock")
            + Duration::from_millis(400);
        with_headers(
            200,
            &[
                ("x-ratelimit-limit", "5000".into()),
                ("x-ratelimit-remaining", "0".into()),
                ("x-ratelimit-reset", reset.as_millis().to_string()),
            ],
        )
    })
    .await;
    let http = client(config());
    let call = || {
        OutgoingRequest::get("zoho", url(&base, "/crm/v8/Leads")).budget(budget("zoho:3", 100, 100))
    };
    http.send(&allow(&base), call()).await.expect("first");
    let daily = http
        .budget_state("zoho:3")
        .and_then(|s| s.daily().cloned())
        .expect("daily");
    assert_eq!((daily.limit, daily.remaining), (Some(5000), 0));
    assert!(daily.resets_at.is_some());

    let started = Instant::now();
    http.send(&allow(&base), call()).await.expect("second");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(hits(&hits_), 2);
}

#[tokio::test]
async fn salesforce_daily_usage_is_shown_and_exhaustion_fails_fast() {
    let (base, hits_) = scripted(|n| {
        let used = if n == 0 { 25 } else { 15_000 };
        with_headers(
            200,
            &[(
                "sforce-limit-info",
                format!("api-usage={used}/15000, per-app-api-usage=3/250(appName=renkei)"),
            )],
        )
    })
    .await;
    let http = client(config());
    let call = || {
        OutgoingRequest::get("salesforce", url(&base, "/services/data/v62.0/limits"))
            .budget(budget("salesforce:9", 100, 100))
    };
    http.send(&allow(&base), call()).await.expect("first");
    let daily = http
        .budget_state("salesforce:9")
        .and_then(|s| s.daily().cloned())
        .expect("daily");
    assert_eq!(
        (daily.used(), daily.limit, daily.remaining),
        (Some(25), Some(15_000), 14_975)
    );

    http.send(&allow(&base), call()).await.expect("second");
    let err = http
        .send(&allow(&base), call())
        .await
        .expect_err("held back");
    assert!(matches!(err, ConnectorError::RateLimited { .. }), "{err:?}");
    assert_eq!(hits(&hits_), 2);
}

#[test]
fn rate_limit_headers_are_read_leniently() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let headers = |pairs: &[(&'static str, &str)]| {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).expect("value"));
        }
        h
    };
    // Nothing to read.
    assert!(rate_limit_windows(&HeaderMap::new(), now).is_empty());
    // Garbage is skipped, not an error.
    assert!(
        rate_limit_windows(
            &headers(&[
                ("x-hubspot-ratelimit-remaining", "lots"),
                ("sforce-limit-info", "api-usage=abc"),
                ("x-ratelimit-remaining", "-1"),
            ]),
            now,
        )
        .is_empty()
    );
    // Zoho's reset in epoch milliseconds, in epoch seconds, or in seconds from now; never
    // more than a day away.
    for (reset, expected) in [
        ("1700000060000", 60),
        ("1700000060", 60),
        ("60", 60),
        ("1800000000000", 86_400),
    ] {
        let w = rate_limit_windows(
            &headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", reset)]),
            now,
        );
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].kind, QuotaKind::Daily);
        assert_eq!(
            w[0].wait_from(now),
            Some(Duration::from_secs(expected)),
            "reset {reset}"
        );
    }
    // A window with room asks for no wait.
    let w = rate_limit_windows(&headers(&[("x-ratelimit-remaining", "12")]), now);
    assert_eq!(w[0].wait_from(now), None);
}

#[tokio::test]
async fn a_budget_spaces_calls_across_clones_of_the_client() {
    let (base, hits_) = scripted(|_| status(200)).await;
    let http = client(config());
    let other = http.clone();
    let started = Instant::now();
    for i in 0..6 {
        let c = if i % 2 == 0 { &http } else { &other };
        c.send(
            &allow(&base),
            OutgoingRequest::get(PROVIDER, url(&base, "/x")).budget(budget("t:5", 5, 1)),
        )
        .await
        .expect("answer");
    }
    let elapsed = started.elapsed();
    assert_eq!(hits(&hits_), 6);
    // One at once, then one every 200 ms.
    assert!(elapsed >= Duration::from_millis(900), "took {elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
}

/// With pacing off (benchmarks against emulators whose limits are lifted), calls on a budget
/// go at once, but a window the provider reports used up still holds the next call.
#[tokio::test]
async fn without_pacing_calls_go_at_once_yet_the_providers_windows_hold() {
    let (base, hits_) = scripted(|_| status(200)).await;
    let unpaced = client(HttpConfig {
        pacing: false,
        ..config()
    });
    let started = Instant::now();
    for _ in 0..6 {
        unpaced
            .send(
                &allow(&base),
                OutgoingRequest::get(PROVIDER, url(&base, "/x")).budget(budget("t:5", 5, 1)),
            )
            .await
            .expect("answer");
    }
    let elapsed = started.elapsed();
    assert_eq!(hits(&hits_), 6);
    // Paced, the same six calls take a second (see the test above).
    assert!(elapsed < Duration::from_millis(500), "took {elapsed:?}");

    let (base, hits_) = scripted(|_| with_headers(200, &hubspot_headers(0, 400))).await;
    let unpaced = client(HttpConfig {
        pacing: false,
        ..config()
    });
    let call = || {
        OutgoingRequest::get("hubspot", url(&base, "/crm/v3/objects/contacts")).budget(budget(
            "hubspot:1",
            100,
            100,
        ))
    };
    unpaced.send(&allow(&base), call()).await.expect("first");
    let started = Instant::now();
    unpaced.send(&allow(&base), call()).await.expect("second");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(hits(&hits_), 2);
}

#[tokio::test]
async fn gzip_answers_are_decoded() {
    let body = serde_json::json!({"results": [{"id": "1", "name": "山田 太郎"}]});
    let plain = serde_json::to_vec(&body).expect("json");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&plain).expect("gzip");
    let compressed = gz.finish().expect("gzip");
    let asked = Arc::new(Mutex::new(None::<String>));
    let seen = asked.clone();
    let router = Router::new().fallback(move |headers: HeaderMap| {
        *seen.lock().unwrap_or_else(|e| e.into_inner()) = headers
            .get("accept-encoding")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let compressed = compressed.clone();
        async move {
            (
                [
                    ("content-encoding", "gzip"),
                    ("content-type", "application/json"),
                ],
                compressed,
            )
        }
    });
    let base = serve(router).await;
    let resp = client(config())
        .send(
            &allow(&base),
            OutgoingRequest::get(PROVIDER, url(&base, "/x")),
        )
        .await
        .expect("answer");
    assert_eq!(
        resp.json::<serde_json::Value>(PROVIDER).expect("json"),
        body
    );
    let asked = asked.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert!(asked.is_some_and(|v| v.contains("gzip")));
}

#[test]
fn errors_logs_and_metrics_never_show_the_query_or_a_redacted_path() {
    let base = Url::parse(&format!("http://127.0.0.1:{}/", closed_port())).expect("url");
    let seen = observed(|| async {
        let http = client(HttpConfig {
            max_retries: 0,
            ..config()
        });
        let unreachable = http
            .send(
                &allow(&base),
                OutgoingRequest::get(PROVIDER, url(&base, "/oauth/v2/token?token=SECRET123")),
            )
            .await
            .expect_err("closed port");
        let refused = http
            .send(
                &AllowList::new(),
                OutgoingRequest::get(PROVIDER, url(&base, "/x?token=SECRET123")),
            )
            .await
            .expect_err("not allowed");
        // A path that holds a token is not shown either.
        let secret_path = http
            .send(
                &allow(&base),
                OutgoingRequest::get(PROVIDER, url(&base, "/oauth/v1/refresh-tokens/SECRET123"))
                    .redact_path(),
            )
            .await
            .expect_err("closed port");
        let secret_path_refused = http
            .send(
                &AllowList::new(),
                OutgoingRequest::get(PROVIDER, url(&base, "/oauth/v1/refresh-tokens/SECRET123"))
                    .redact_path(),
            )
            .await
            .expect_err("not allowed");
        (unreachable, refused, secret_path, secret_path_refused)
    });
    let (unreachable, refused, secret_path, secret_path_refused) = seen.out;
    for err in [&unreachable, &refused, &secret_path, &secret_path_refused] {
        assert!(!err.to_string().contains("SECRET123"), "{err}");
        assert!(!format!("{err:?}").contains("SECRET123"), "{err:?}");
    }
    assert!(
        seen.logs.contains("/oauth/v2/token"),
        "the path is logged: {}",
        seen.logs
    );
    assert!(seen.logs.contains("[redacted]"), "{}", seen.logs);
    assert!(!seen.logs.contains("SECRET123"), "{}", seen.logs);
    assert!(!seen.metrics.contains("SECRET123"));
    assert_eq!(requests_counted(&seen.metrics, "transport"), Some(2));
    assert_eq!(requests_counted(&seen.metrics, "not_allowed"), Some(2));
}

#[test]
fn metrics_count_attempts_by_status() {
    let seen = observed(|| async {
        let (base, _) = scripted(|n| if n == 0 { status(503) } else { status(200) }).await;
        client(config())
            .send(
                &allow(&base),
                OutgoingRequest::get(PROVIDER, url(&base, "/x")),
            )
            .await
    });
    assert_eq!(seen.out.expect("answer").status, StatusCode::OK);
    assert_eq!(
        requests_counted(&seen.metrics, "503"),
        Some(1),
        "{}",
        seen.metrics
    );
    assert_eq!(requests_counted(&seen.metrics, "200"), Some(1));
    assert!(
        seen.metrics
            .contains("renkei_provider_request_seconds_count{provider=\"test\"} 2"),
        "{}",
        seen.metrics
    );
    assert_eq!(
        seen.logs.matches("provider call").count(),
        2,
        "{}",
        seen.logs
    );
}
