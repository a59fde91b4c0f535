//! The one HTTP client every connector uses.
//!
//! It owns what must be the same for every provider: timeouts, gzip, the user agent, the
//! allow-list of hosts a provider may be reached at ([`AllowList`]), the classification of
//! network failures into [`ConnectorError`]s, retries where they are safe, and the pacing of
//! calls against each connection's rate budget ([`Budget`]). Provider modules build an
//! [`OutgoingRequest`], get an [`HttpResponse`] back whatever its status, and read the
//! provider's own error body.
//!
//! **Retries.** [`HttpClient::send`] tries again, at most [`HttpConfig::max_retries`] times,
//! only when repeating cannot do harm twice:
//! - the connection could not be opened (the request never left), whatever the method;
//! - 429, whatever the method: the provider refused without processing. The wait is its
//!   `Retry-After` ([`retry_after`]), else the end of the exhausted window its rate-limit
//!   headers name, else a backoff;
//! - 502, 503, 504, a timeout or a broken connection after sending, only when the request is
//!   [`OutgoingRequest::idempotent`].
//!
//! No single wait is longer than [`HttpConfig::max_retry_wait`]: when the provider asks for
//! more, the answer (a 429 typically) goes back to the caller at once, whose job layer snoozes.
//!
//! **Rate budgets.** A request may name a [`Budget`] (one per connection, "hubspot:42"). Calls
//! on the same budget share a `governor` limiter (across clones of the client), and the
//! rate-limit headers each answer carries (HubSpot's `X-HubSpot-RateLimit-*`, Zoho's
//! `X-RATELIMIT-*`, Salesforce's `Sforce-Limit-Info`) are remembered per budget: once a window
//! is used up, later calls on the budget wait for it to end, or fail at once with
//! [`ConnectorError::RateLimited`] when that is further away than `max_retry_wait`.
//! [`HttpClient::budget_state`] shows what was last seen, daily quotas included. The limiter's
//! own pacing is not bounded by `max_retry_wait`: callers queue behind each other at the
//! budget's rate, which is the point of it. [`HttpConfig::pacing`] turns the limiter off (and
//! only the limiter: the provider's own answers, its windows and 429s, are still obeyed) for a
//! provider whose limits are lifted, as the benchmarks lift the emulators'.
//!
//! **Metrics.** `renkei_provider_requests_total{provider, status}` counts attempts by HTTP
//! status, or `timeout`, `transport`, `not_allowed` (refused by the allow-list) and
//! `rate_limited` (refused locally by an exhausted budget, never sent);
//! `renkei_provider_request_seconds{provider}` times the attempts that were sent.
//!
//! Logs name the method, host and path of a call (`[redacted]` when the path holds a token,
//! see [`OutgoingRequest::redact_path`]), never its query (Zoho and Salesforce put tokens in
//! query strings) nor a header or body.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use governor::{DefaultDirectRateLimiter, Jitter, Quota, RateLimiter};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use renkei_core::Secret;
use url::Url;

use crate::ConnectorError;

/// Settings of the client, with production defaults.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// The whole request, from connecting to the last body byte.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub user_agent: String,
    /// How many times one [`HttpClient::send`] may try again after its first attempt.
    pub max_retries: u32,
    /// The longest the client sleeps at once, for a `Retry-After`, an exhausted rate window or
    /// a backoff. A provider asking for longer gets its answer returned to the caller instead.
    pub max_retry_wait: Duration,
    /// The first backoff when the provider gave no hint; it doubles on each retry, with jitter.
    pub retry_base_delay: Duration,
    /// Whether calls on a [`Budget`] wait for its limiter, i.e. go no faster than the rate
    /// renkei assumes of the provider (`Provider::info().rate`). On by default and in
    /// production. Off, renkei sends as fast as it can and relies on the provider's answers
    /// alone (rate-limit headers, `Retry-After`, 429s, all still obeyed): only for a provider
    /// whose limits are lifted, such as the emulators in `renkei-bench import`, which measures
    /// renkei's own throughput that way (issue 5: "with rate limits lifted").
    pub pacing: bool,
    /// The deployment's own pace per provider account, by provider name, replacing
    /// `Provider::info().rate` (`[providers.salesforce] rate = …`): for an org whose admin has
    /// given renkei a share of its API calls, or a gateway in front of the provider.
    pub rates: HashMap<&'static str, RateLimit>,
}

/// At most `requests` calls in any window of `per_seconds` seconds, per provider account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub requests: NonZeroU32,
    pub per_seconds: NonZeroU32,
}

impl RateLimit {
    /// The share of the limit renkei actually uses. The limiter lets calls go at an even pace,
    /// but a call's latency varies, so two calls sent one interval apart may arrive closer; a
    /// provider counting a rolling window would then see a window with one call too many. Five
    /// percent of headroom (and no burst) keeps every window under the limit.
    const SHARE: f64 = 0.95;

    /// The limiter's quota: one call per interval, no burst beyond one.
    fn quota(self) -> Quota {
        let calls = (f64::from(self.requests.get()) * Self::SHARE).max(1.0);
        let interval = Duration::from_secs_f64(f64::from(self.per_seconds.get()) / calls);
        Quota::with_period(interval.max(Duration::from_micros(1)))
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            user_agent: format!("renkei/{}", env!("CARGO_PKG_VERSION")),
            max_retries: 2,
            max_retry_wait: Duration::from_secs(10),
            retry_base_delay: Duration::from_millis(200),
            pacing: true,
            rates: HashMap::new(),
        }
    }
}

/// Where a provider may be reached. A URL is allowed when it starts with one of the
/// `prefixes` (scheme, host, port and path prefix, compared after parsing), or when it is
/// `https` on the default port on a host ending with one of the `https_host_suffixes`
/// (".my.salesforce.com"). A URL with userinfo is never allowed.
#[derive(Debug, Clone, Default)]
pub struct AllowList {
    prefixes: Vec<Url>,
    https_host_suffixes: Vec<String>,
}

impl AllowList {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_prefix(mut self, prefix: Url) -> Self {
        self.prefixes.push(prefix);
        self
    }

    pub fn with_https_host_suffix(mut self, suffix: impl Into<String>) -> Self {
        self.https_host_suffixes
            .push(suffix.into().to_ascii_lowercase());
        self
    }

    pub fn allows(&self, url: &Url) -> bool {
        if !url.username().is_empty() || url.password().is_some() {
            return false;
        }
        // Provider hosts reached by suffix (instance URLs from token responses) never name a
        // port; one that does is not the provider's front door.
        if url.scheme() == "https"
            && url.port().is_none()
            && let Some(host) = url.host_str()
        {
            let host = host.to_ascii_lowercase();
            if self
                .https_host_suffixes
                .iter()
                .any(|s| host.ends_with(s.as_str()) && host.len() > s.len())
            {
                return true;
            }
        }
        self.prefixes.iter().any(|p| {
            p.scheme() == url.scheme()
                && p.host_str().map(str::to_ascii_lowercase)
                    == url.host_str().map(str::to_ascii_lowercase)
                && p.port_or_known_default() == url.port_or_known_default()
                && url.path().starts_with(p.path())
        })
    }
}

/// A body to send.
#[derive(Debug, Clone)]
pub enum Body {
    Json(serde_json::Value),
    /// `application/x-www-form-urlencoded`. Values may be secrets (tokens, client secrets), so
    /// this body is never logged.
    Form(Vec<(String, String)>),
}

/// The rate budget a call spends from: one per connection, because providers limit per
/// account or org. Calls with the same `key` share one limiter of `per_second` calls a second
/// with bursts of `burst`, and the provider's rate-limit headers are remembered under `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    /// Names the connection, e.g. `"hubspot:42"`.
    pub key: String,
    pub per_second: NonZeroU32,
    pub burst: NonZeroU32,
}

impl Budget {
    pub fn new(key: impl Into<String>, per_second: NonZeroU32, burst: NonZeroU32) -> Self {
        Self {
            key: key.into(),
            per_second,
            burst,
        }
    }
}

/// One call to make.
#[derive(Debug, Clone)]
pub struct OutgoingRequest {
    /// The provider the call belongs to, for errors, logs and metrics.
    pub provider: &'static str,
    pub method: Method,
    pub url: Url,
    pub headers: HeaderMap,
    pub bearer: Option<Secret<String>>,
    pub body: Option<Body>,
    /// Whether repeating the request after it may have reached the provider is harmless
    /// (reads, and writes the provider deduplicates).
    pub idempotent: bool,
    /// The path carries a secret (HubSpot's token-info and revoke calls put the token in
    /// it): logs show `[redacted]` instead.
    pub redact_path: bool,
    /// The connection's rate budget; `None` for calls outside any connection (token
    /// exchanges during a consent).
    pub budget: Option<Budget>,
    /// When the caller stops waiting (an action's deadline): a wait for a rate window, a
    /// `Retry-After` or a backoff that would end after it is not waited for, and the answer
    /// in hand (or [`ConnectorError::RateLimited`] with the wait) is returned at once.
    pub deadline: Option<Instant>,
}

impl OutgoingRequest {
    pub fn new(provider: &'static str, method: Method, url: Url) -> Self {
        let idempotent = method == Method::GET || method == Method::HEAD;
        Self {
            provider,
            method,
            url,
            headers: HeaderMap::new(),
            bearer: None,
            body: None,
            idempotent,
            redact_path: false,
            budget: None,
            deadline: None,
        }
    }

    pub fn get(provider: &'static str, url: Url) -> Self {
        Self::new(provider, Method::GET, url)
    }

    pub fn post(provider: &'static str, url: Url) -> Self {
        Self::new(provider, Method::POST, url)
    }

    pub fn bearer(mut self, token: &Secret<String>) -> Self {
        self.bearer = Some(token.clone());
        self
    }

    pub fn json(mut self, body: serde_json::Value) -> Self {
        self.body = Some(Body::Json(body));
        self
    }

    pub fn form(mut self, pairs: Vec<(String, String)>) -> Self {
        self.body = Some(Body::Form(pairs));
        self
    }

    pub fn header(mut self, name: http::HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    pub fn idempotent(mut self, yes: bool) -> Self {
        self.idempotent = yes;
        self
    }

    pub fn redact_path(mut self) -> Self {
        self.redact_path = true;
        self
    }

    /// The path as logs may show it.
    pub fn log_path(&self) -> &str {
        if self.redact_path {
            "[redacted]"
        } else {
            self.url.path()
        }
    }

    pub fn budget(mut self, budget: Budget) -> Self {
        self.budget = Some(budget);
        self
    }

    pub fn deadline(mut self, deadline: Option<Instant>) -> Self {
        self.deadline = deadline;
        self
    }

    /// Whether waiting `wait` from now would end after the deadline.
    fn past_deadline(&self, wait: Duration) -> bool {
        self.deadline
            .is_some_and(|d| Instant::now().checked_add(wait).is_none_or(|end| end > d))
    }
}

/// An answer, whatever its status.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl HttpResponse {
    /// The body parsed as JSON into `T`; a failure is a [`ConnectorError::Protocol`] naming
    /// the path of the offending value.
    pub fn json<T: serde::de::DeserializeOwned>(
        &self,
        provider: &'static str,
    ) -> Result<T, ConnectorError> {
        serde_json::from_slice(&self.body).map_err(|e| ConnectorError::Protocol {
            provider,
            message: format!("HTTP {}: {e}", self.status.as_u16()),
        })
    }

    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// How long a `Retry-After` header (RFC 9110 §10.2.3) asks to wait from `now`: delta-seconds
/// or an HTTP-date in any of its three forms (IMF-fixdate, RFC 850, asctime). A date in the
/// past is a wait of zero; an absent or unreadable header is `None`.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Digits beyond u64 are still "a very long time", not garbage.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = http_date(value)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Parses an HTTP-date. RFC 9110 asks recipients to accept the two obsolete forms too.
fn http_date(value: &str) -> Option<SystemTime> {
    // IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT", is a subset of RFC 2822.
    if let Ok(z) = jiff::fmt::rfc2822::parse(value) {
        return Some(SystemTime::from(z.timestamp()));
    }
    // RFC 850, "Sunday, 06-Nov-94 08:49:37 GMT", and asctime, "Sun Nov  6 08:49:37 1994",
    // both in UTC. asctime pads the day with a space; collapsing runs of spaces lets one
    // pattern read both paddings.
    let collapsed = value.split_whitespace().collect::<Vec<_>>().join(" ");
    for pattern in ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"] {
        if let Ok(tm) = jiff::fmt::strtime::parse(pattern, &collapsed)
            && let Ok(dt) = tm.to_datetime()
            && let Ok(z) = dt.to_zoned(jiff::tz::TimeZone::UTC)
        {
            return Some(SystemTime::from(z.timestamp()));
        }
    }
    None
}

/// Which of a provider's rate windows a [`QuotaWindow`] describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaKind {
    /// HubSpot's rolling window of `X-HubSpot-RateLimit-Interval-Milliseconds` (ten seconds).
    Interval(Duration),
    /// HubSpot's per-second limit of private apps.
    Secondly,
    /// The daily allowance: HubSpot private apps, Zoho's credits, Salesforce's API requests.
    Daily,
}

impl QuotaKind {
    fn same_window(self, other: QuotaKind) -> bool {
        std::mem::discriminant(&self) == std::mem::discriminant(&other)
    }
}

/// One rate window as a provider last reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaWindow {
    pub kind: QuotaKind,
    /// The window's size in calls (or Zoho credits), when the provider said.
    pub limit: Option<u64>,
    pub remaining: u64,
    /// When the window ends at the latest, when known. A rolling window (HubSpot's ten
    /// seconds) is given its full length from the observation, an upper bound.
    pub resets_at: Option<SystemTime>,
    pub observed_at: SystemTime,
}

impl QuotaWindow {
    pub fn used(&self) -> Option<u64> {
        self.limit.map(|l| l.saturating_sub(self.remaining))
    }

    pub fn is_exhausted(&self) -> bool {
        self.remaining == 0
    }

    /// How long from `now` calls must wait for this window, if it is used up. A window whose
    /// end is unknown (HubSpot's and Salesforce's days) is tried again after
    /// [`UNKNOWN_RESET_PROBE`]: the provider's next answer tells whether it has reopened.
    pub fn wait_from(&self, now: SystemTime) -> Option<Duration> {
        if !self.is_exhausted() {
            return None;
        }
        Some(match self.resets_at {
            Some(at) => at.duration_since(now).unwrap_or(Duration::ZERO),
            None => UNKNOWN_RESET_PROBE
                .saturating_sub(now.duration_since(self.observed_at).unwrap_or_default()),
        })
    }
}

/// How long an exhausted window with no stated end keeps calls back before one is let through
/// to ask the provider again.
pub const UNKNOWN_RESET_PROBE: Duration = Duration::from_secs(15 * 60);

/// A day: no daily window ends later than this after it was observed, whatever a header says.
const DAY: Duration = Duration::from_secs(86_400);

/// The rate windows that `headers` report, whichever provider sent them: HubSpot's
/// `X-HubSpot-RateLimit-*`, Zoho's `X-RATELIMIT-*` and Salesforce's `Sforce-Limit-Info`.
/// Unreadable values are skipped, never an error: these headers are advice.
pub fn rate_limit_windows(headers: &HeaderMap, now: SystemTime) -> Vec<QuotaWindow> {
    let num = |name: &str| -> Option<u64> { headers.get(name)?.to_str().ok()?.trim().parse().ok() };
    // Additions are checked: the operands come from the provider.
    let after = |d: Duration| now.checked_add(d.min(DAY));
    let window = |kind, limit, remaining, resets_at| QuotaWindow {
        kind,
        limit,
        remaining,
        resets_at,
        observed_at: now,
    };
    let mut out = Vec::new();

    // HubSpot. The ten-second window is rolling, so its end is at most one interval away.
    if let Some(remaining) = num("x-hubspot-ratelimit-remaining") {
        let interval = Duration::from_millis(
            num("x-hubspot-ratelimit-interval-milliseconds").unwrap_or(10_000),
        );
        out.push(window(
            QuotaKind::Interval(interval),
            num("x-hubspot-ratelimit-max"),
            remaining,
            after(interval),
        ));
    }
    if let Some(remaining) = num("x-hubspot-ratelimit-secondly-remaining") {
        out.push(window(
            QuotaKind::Secondly,
            num("x-hubspot-ratelimit-secondly"),
            remaining,
            after(Duration::from_secs(1)),
        ));
    }
    // The day ends at midnight in the account's time zone, which the headers do not name.
    if let Some(remaining) = num("x-hubspot-ratelimit-daily-remaining") {
        out.push(window(
            QuotaKind::Daily,
            num("x-hubspot-ratelimit-daily"),
            remaining,
            None,
        ));
    }

    // Zoho: credits over 24 hours. `X-RATELIMIT-RESET` is read as an instant in epoch
    // milliseconds, which is what the sandbox sends, or epoch seconds; a small number is taken
    // as seconds from now. Whatever it says, a daily window ends within a day.
    if let Some(remaining) = num("x-ratelimit-remaining") {
        let resets_at = num("x-ratelimit-reset").and_then(|r| {
            let at = if r >= 1_000_000_000_000 {
                SystemTime::UNIX_EPOCH.checked_add(Duration::from_millis(r))?
            } else if r >= 1_000_000_000 {
                SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(r))?
            } else {
                after(Duration::from_secs(r))?
            };
            Some(at.min(after(DAY)?))
        });
        out.push(window(
            QuotaKind::Daily,
            num("x-ratelimit-limit"),
            remaining,
            resets_at,
        ));
    }

    // Salesforce: "api-usage=25/15000", possibly beside "per-app-api-usage=…" entries. The
    // window is a rolling 24 hours, so its end is unknown.
    if let Some(info) = headers
        .get("sforce-limit-info")
        .and_then(|v| v.to_str().ok())
        && let Some((used, max)) = info
            .split(',')
            .filter_map(|part| part.trim().strip_prefix("api-usage="))
            .find_map(|usage| {
                let (used, max) = usage.split_once('/')?;
                Some((
                    used.trim().parse::<u64>().ok()?,
                    max.trim().parse::<u64>().ok()?,
                ))
            })
    {
        out.push(window(
            QuotaKind::Daily,
            Some(max),
            max.saturating_sub(used),
            None,
        ));
    }
    out
}

/// The rate windows an answer reports. A HubSpot 429 names the limit it hit in its body's
/// `policyName`, which its headers alone do not tell (a private app's ten-second 429 may still
/// carry a daily count of zero), so for such an answer only the named window is kept, and
/// counted as used up.
fn answer_windows(resp: &HttpResponse, now: SystemTime) -> Vec<QuotaWindow> {
    let mut windows = rate_limit_windows(&resp.headers, now);
    if resp.status != StatusCode::TOO_MANY_REQUESTS {
        return windows;
    }
    let Some(policy) = hubspot_policy(&resp.body) else {
        return windows;
    };
    windows.retain(|w| w.kind.same_window(policy));
    match windows.first_mut() {
        Some(w) => w.remaining = 0,
        None => windows.push(QuotaWindow {
            kind: policy,
            limit: None,
            remaining: 0,
            resets_at: match policy {
                QuotaKind::Interval(d) => now.checked_add(d),
                QuotaKind::Secondly => now.checked_add(Duration::from_secs(1)),
                QuotaKind::Daily => None,
            },
            observed_at: now,
        }),
    }
    windows
}

/// The window a HubSpot 429 body names: `{"errorType": "RATE_LIMIT", "policyName": …}`.
fn hubspot_policy(body: &[u8]) -> Option<QuotaKind> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct RateLimitBody {
        error_type: Option<String>,
        policy_name: Option<String>,
    }
    let b: RateLimitBody = serde_json::from_slice(body).ok()?;
    if b.error_type.as_deref() != Some("RATE_LIMIT") {
        return None;
    }
    match b.policy_name?.as_str() {
        "TEN_SECONDLY_ROLLING" => Some(QuotaKind::Interval(Duration::from_secs(10))),
        "SECONDLY" => Some(QuotaKind::Secondly),
        "DAILY" => Some(QuotaKind::Daily),
        _ => None,
    }
}

/// What the client last saw of one budget, for the engine to show quota use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetState {
    pub provider: &'static str,
    /// The latest report of each window the provider has mentioned.
    pub windows: Vec<QuotaWindow>,
    /// Until when calls on this budget are held back (an exhausted window or a 429's
    /// `Retry-After`), if that is still ahead.
    pub blocked_until: Option<SystemTime>,
}

impl BudgetState {
    /// The window of `kind`'s sort; `QuotaKind::Interval` matches whatever its length.
    pub fn window(&self, kind: QuotaKind) -> Option<&QuotaWindow> {
        self.windows.iter().find(|w| w.kind.same_window(kind))
    }

    pub fn daily(&self) -> Option<&QuotaWindow> {
        self.window(QuotaKind::Daily)
    }
}

struct BudgetEntry {
    quota: Quota,
    limiter: Arc<DefaultDirectRateLimiter>,
    provider: &'static str,
    windows: Vec<QuotaWindow>,
    /// Held back until then; both clocks, one to wait on and one to show.
    blocked_until: Option<(Instant, SystemTime)>,
}

/// The budgets of every connection this client (and its clones) has called for.
#[derive(Default)]
struct Budgets {
    map: Mutex<HashMap<String, BudgetEntry>>,
}

impl std::fmt::Debug for Budgets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Budgets").finish_non_exhaustive()
    }
}

impl Budgets {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, BudgetEntry>> {
        // Poisoning is ignored: a holder that panicked leaves at worst a stale window or hold,
        // which the next answer or the clock replaces.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The budget's limiter, created on first use and replaced when the connection's quota
    /// changed.
    /// `rate`, when the deployment set one for the provider, replaces the budget's own pace.
    fn limiter(
        &self,
        budget: &Budget,
        provider: &'static str,
        rate: Option<RateLimit>,
    ) -> Arc<DefaultDirectRateLimiter> {
        let quota = match rate {
            Some(r) => r.quota(),
            None => Quota::per_second(budget.per_second).allow_burst(budget.burst),
        };
        let fresh = || Arc::new(RateLimiter::direct(quota));
        let mut map = self.lock();
        let entry = map
            .entry(budget.key.clone())
            .or_insert_with(|| BudgetEntry {
                quota,
                limiter: fresh(),
                provider,
                windows: Vec::new(),
                blocked_until: None,
            });
        if entry.quota != quota {
            entry.quota = quota;
            entry.limiter = fresh();
        }
        entry.limiter.clone()
    }

    /// How long calls on `key` must still wait, if they must.
    fn blocked_for(&self, key: &str) -> Option<Duration> {
        let mut map = self.lock();
        let entry = map.get_mut(key)?;
        let (until, _) = entry.blocked_until?;
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            entry.blocked_until = None;
            return None;
        }
        Some(left)
    }

    /// Remembers the windows an answer reported, and holds the budget back for `block`.
    fn record(&self, key: &str, windows: Vec<QuotaWindow>, block: Option<Duration>) {
        let mut map = self.lock();
        let Some(entry) = map.get_mut(key) else {
            return;
        };
        for w in windows {
            match entry
                .windows
                .iter_mut()
                .find(|old| old.kind.same_window(w.kind))
            {
                Some(old) => *old = w,
                None => entry.windows.push(w),
            }
        }
        // A `Retry-After` may ask for any length; no hold outlasts a day, and the caller is
        // told to come back long before that anyway.
        if let Some(block) = block.filter(|b| !b.is_zero()).map(|b| b.min(DAY))
            && let Some(until) = Instant::now().checked_add(block)
            && let Some(at) = SystemTime::now().checked_add(block)
            && entry.blocked_until.is_none_or(|(old, _)| old < until)
        {
            entry.blocked_until = Some((until, at));
        }
    }

    fn state(&self, key: &str) -> Option<BudgetState> {
        let map = self.lock();
        let entry = map.get(key)?;
        let now = Instant::now();
        Some(BudgetState {
            provider: entry.provider,
            windows: entry.windows.clone(),
            blocked_until: entry
                .blocked_until
                .filter(|(until, _)| *until > now)
                .map(|(_, at)| at),
        })
    }
}

/// The client. Cheap to clone; clones share connections and rate budgets.
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    config: HttpConfig,
    budgets: Arc<Budgets>,
}

/// What one attempt came to.
type Attempt = Result<HttpResponse, ConnectorError>;

/// One attempt and what is known of it, for logs, metrics, budgets and the retry decision.
struct Outcome {
    result: Attempt,
    /// The rate windows its answer reported.
    windows: Vec<QuotaWindow>,
    /// When it ended.
    at: SystemTime,
    elapsed: Duration,
    /// Counting from 1.
    attempt: u32,
}

impl HttpClient {
    pub fn new(config: HttpConfig) -> Result<Self, ConnectorError> {
        let inner = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(config.user_agent.clone())
            .gzip(true)
            // A redirect could carry a bearer token to a host the allow-list never saw.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ConnectorError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            inner,
            config,
            budgets: Arc::default(),
        })
    }

    /// What the provider last reported of the budget named `key`, or `None` if no call has
    /// used it yet.
    pub fn budget_state(&self, key: &str) -> Option<BudgetState> {
        self.budgets.state(key)
    }

    /// Sends `req` if `allow` permits its URL, and returns the provider's answer whatever its
    /// status. Network failures come back classified. Retries happen inside, where safe (see
    /// the module's documentation); the last answer or error is returned when they run out.
    pub async fn send(
        &self,
        allow: &AllowList,
        req: OutgoingRequest,
    ) -> Result<HttpResponse, ConnectorError> {
        if !allow.allows(&req.url) {
            count(req.provider, "not_allowed");
            let url = if req.redact_path {
                let mut u = req.url.clone();
                u.set_path("/[redacted]");
                without_query(&u)
            } else {
                without_query(&req.url)
            };
            return Err(ConnectorError::HostNotAllowed {
                provider: req.provider,
                url,
            });
        }
        let host = req.url.host_str().unwrap_or_default().to_owned();
        // The budget's entry is made even when pacing is off: it is where the provider's
        // answered windows are remembered.
        let limiter = req
            .budget
            .as_ref()
            .map(|b| {
                self.budgets.limiter(
                    b,
                    req.provider,
                    self.config.rates.get(req.provider).copied(),
                )
            })
            .filter(|_| self.config.pacing);
        let attempts = self.config.max_retries.saturating_add(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            if let Some(budget) = &req.budget
                && let Some(wait) = self.budgets.blocked_for(&budget.key)
            {
                if wait > self.config.max_retry_wait || req.past_deadline(wait) {
                    count(req.provider, "rate_limited");
                    tracing::debug!(
                        provider = req.provider,
                        budget = %budget.key,
                        wait_ms = wait.as_millis() as u64,
                        "rate budget exhausted; not sending"
                    );
                    return Err(ConnectorError::RateLimited {
                        provider: req.provider,
                        retry_after: Some(wait),
                    });
                }
                tokio::time::sleep(wait).await;
            }
            if let Some(limiter) = &limiter {
                // A little jitter spreads callers that were waiting for the same instant.
                limiter
                    .until_ready_with_jitter(Jitter::up_to(Duration::from_millis(10)))
                    .await;
            }

            let started = Instant::now();
            let result = self.attempt(&req, &host).await;
            let elapsed = started.elapsed();
            let at = SystemTime::now();
            let outcome = Outcome {
                windows: match &result {
                    Ok(resp) => answer_windows(resp, at),
                    Err(_) => Vec::new(),
                },
                result,
                at,
                elapsed,
                attempt,
            };
            self.observe(&req, &host, &outcome);

            let decision = self.retry_decision(&req, &outcome);
            let result = outcome.result;
            let Some((reason, wait)) = decision else {
                return result;
            };
            if attempt >= attempts {
                tracing::warn!(
                    provider = req.provider,
                    method = %req.method,
                    host = %host,
                    path = req.log_path(),
                    attempts = attempt,
                    reason,
                    "giving up on provider call: retries exhausted"
                );
                return result;
            }
            if wait > self.config.max_retry_wait || req.past_deadline(wait) {
                tracing::warn!(
                    provider = req.provider,
                    method = %req.method,
                    host = %host,
                    path = req.log_path(),
                    attempts = attempt,
                    reason,
                    wait_ms = wait.as_millis() as u64,
                    "giving up on provider call: asked to wait longer than allowed"
                );
                return result;
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// One try, on the wire.
    async fn attempt(&self, req: &OutgoingRequest, host: &str) -> Attempt {
        let mut builder = self
            .inner
            .request(req.method.clone(), req.url.clone())
            .headers(req.headers.clone());
        if let Some(token) = &req.bearer {
            builder = builder.bearer_auth(token.expose());
        }
        match &req.body {
            Some(Body::Json(v)) => builder = builder.json(v),
            Some(Body::Form(pairs)) => {
                let encoded = form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(pairs.iter())
                    .finish();
                builder = builder
                    .header(
                        http::header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded",
                    )
                    .body(encoded);
            }
            None => {}
        }
        let result = async {
            let resp = builder.send().await?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = resp.bytes().await?;
            Ok::<_, reqwest::Error>(HttpResponse {
                status,
                headers,
                body,
            })
        }
        .await;
        result.map_err(|e| self.classify(host, &e))
    }

    /// Logs, counts and times one attempt, and remembers the rate windows its answer reported.
    fn observe(&self, req: &OutgoingRequest, host: &str, outcome: &Outcome) {
        let Outcome {
            result,
            windows,
            at: now,
            elapsed,
            attempt,
        } = outcome;
        let ms = elapsed.as_millis() as u64;
        match result {
            Ok(resp) => {
                count(req.provider, resp.status.as_u16().to_string());
                tracing::debug!(
                    provider = req.provider,
                    method = %req.method,
                    host = %host,
                    path = req.log_path(),
                    status = resp.status.as_u16(),
                    ms,
                    attempt,
                    "provider call"
                );
                if let Some(budget) = &req.budget {
                    let mut block = windows.iter().filter_map(|w| w.wait_from(*now)).max();
                    if resp.status == StatusCode::TOO_MANY_REQUESTS {
                        block = block.max(retry_after(&resp.headers, *now));
                    }
                    self.budgets.record(&budget.key, windows.clone(), block);
                }
            }
            Err(e) => {
                let status = match e {
                    ConnectorError::Timeout { .. } => "timeout",
                    _ => "transport",
                };
                count(req.provider, status);
                tracing::debug!(
                    provider = req.provider,
                    method = %req.method,
                    host = %host,
                    path = req.log_path(),
                    status,
                    error = %e,
                    ms,
                    attempt,
                    "provider call failed"
                );
            }
        }
        metrics::histogram!("renkei_provider_request_seconds", "provider" => req.provider)
            .record(elapsed.as_secs_f64());
    }

    /// Whether to try again, why, and after how long; `None` when the outcome is final.
    fn retry_decision(
        &self,
        req: &OutgoingRequest,
        outcome: &Outcome,
    ) -> Option<(&'static str, Duration)> {
        let now = outcome.at;
        let backoff = || self.backoff(outcome.attempt);
        match &outcome.result {
            Ok(resp) if resp.status == StatusCode::TOO_MANY_REQUESTS => {
                // The provider refused without processing: safe for any method. Its own
                // estimate first, then the window it says is used up.
                let hinted = retry_after(&resp.headers, now).or_else(|| {
                    outcome
                        .windows
                        .iter()
                        .filter_map(|w| w.wait_from(now))
                        .max()
                });
                Some(("rate_limited", hinted.unwrap_or_else(backoff)))
            }
            Ok(resp)
                if req.idempotent
                    && matches!(
                        resp.status,
                        StatusCode::BAD_GATEWAY
                            | StatusCode::SERVICE_UNAVAILABLE
                            | StatusCode::GATEWAY_TIMEOUT
                    ) =>
            {
                let hinted = retry_after(&resp.headers, now);
                Some(("unavailable", hinted.unwrap_or_else(backoff)))
            }
            Ok(_) => None,
            Err(ConnectorError::Transport { sent: false, .. }) => {
                Some(("connect_failed", backoff()))
            }
            Err(ConnectorError::Transport { sent: true, .. }) if req.idempotent => {
                Some(("transport", backoff()))
            }
            Err(ConnectorError::Timeout { .. }) if req.idempotent => Some(("timeout", backoff())),
            Err(_) => None,
        }
    }

    /// Exponential backoff from `retry_base_delay`, capped at `max_retry_wait`, with "equal
    /// jitter": half fixed, half random, so that failed callers do not return together.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .config
            .retry_base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let capped = exp.min(self.config.max_retry_wait);
        let half = capped / 2;
        let jitter_ms = fastrand::u64(0..=half.as_millis() as u64);
        half + Duration::from_millis(jitter_ms)
    }

    fn classify(&self, host: &str, e: &reqwest::Error) -> ConnectorError {
        // The message is built from the error's causes, not from its `Display`, which names
        // the URL with its query, where a token may be.
        let mut message = String::new();
        let mut cause = std::error::Error::source(e);
        while let Some(c) = cause {
            if !message.is_empty() {
                message.push_str(": ");
            }
            message.push_str(&c.to_string());
            cause = c.source();
        }
        // A connection that could not be opened, even for want of time, carried nothing: it
        // is a transport failure with `sent: false`, which makes any request safe to repeat.
        if e.is_connect() {
            if message.is_empty() {
                message = "connection failed".into();
            }
            return ConnectorError::Transport {
                host: host.to_owned(),
                message,
                sent: false,
            };
        }
        if e.is_timeout() {
            return ConnectorError::Timeout {
                host: host.to_owned(),
                seconds: self.config.timeout.as_secs(),
            };
        }
        if message.is_empty() {
            message = "request failed".into();
        }
        ConnectorError::Transport {
            host: host.to_owned(),
            message,
            sent: true,
        }
    }
}

fn count(provider: &'static str, status: impl Into<metrics::SharedString>) {
    metrics::counter!(
        "renkei_provider_requests_total",
        "provider" => provider,
        "status" => status.into()
    )
    .increment(1);
}

/// The URL with its query removed, for messages.
pub fn without_query(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}
