//! The per-emulator environment: a controllable clock, the request log and the fault injector.
//!
//! Every emulator owns one [`Env`]. The middleware in [`crate::control`] consults it on every
//! vendor request (not on `_control` or `_ui` requests): it may answer with an injected fault,
//! delay the request, or drop the connection after the vendor handler ran, and it logs what was
//! answered. The clock is what the emulator uses for token expiry and record timestamps, so a
//! test can expire a token by advancing it instead of sleeping.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Wall-clock time plus an offset that only moves forward, by `_control/clock`.
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    /// Milliseconds since the Unix epoch, as the emulator sees them.
    pub fn now_ms(&self) -> i64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        real + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Seconds since the Unix epoch.
    pub fn now_secs(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }

    /// The current instant as a `jiff` timestamp, for formatting in the vendor's style.
    pub fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::from_millisecond(self.now_ms()).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }

    pub fn advance_secs(&self, secs: i64) {
        self.offset_ms
            .fetch_add(secs.saturating_mul(1000), Ordering::Relaxed);
    }

    pub fn offset_secs(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed) / 1000
    }

    pub fn reset(&self) {
        self.offset_ms.store(0, Ordering::Relaxed);
    }
}

/// One answered vendor request.
#[derive(Debug, Clone, Serialize)]
pub struct LoggedRequest {
    /// Increases by one per logged request; `?since=` pages on it.
    pub seq: u64,
    pub method: String,
    /// The path below `/sandbox/{provider}`, e.g. `/crm/v3/objects/contacts`.
    pub path: String,
    pub query: Option<String>,
    pub status: u16,
    /// RFC 3339, by the emulator's clock.
    pub time: String,
    pub duration_ms: f64,
    /// Set when a fault answered or shaped this request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<FaultKind>,
}

/// The most recent requests, bounded so that a long benchmark cannot grow it without limit.
#[derive(Debug)]
pub struct RequestLog {
    inner: Mutex<LogInner>,
}

#[derive(Debug, Default)]
struct LogInner {
    next_seq: u64,
    entries: VecDeque<LoggedRequest>,
}

/// How many requests the log keeps; older ones are dropped first.
pub const REQUEST_LOG_CAPACITY: usize = 100_000;

impl Default for RequestLog {
    fn default() -> Self {
        RequestLog {
            inner: Mutex::new(LogInner {
                next_seq: 1,
                entries: VecDeque::new(),
            }),
        }
    }
}

impl RequestLog {
    pub fn push(&self, mut entry: LoggedRequest) {
        let mut inner = lock(&self.inner);
        entry.seq = inner.next_seq;
        inner.next_seq += 1;
        if inner.entries.len() == REQUEST_LOG_CAPACITY {
            inner.entries.pop_front();
        }
        inner.entries.push_back(entry);
    }

    /// Entries with `seq > since`, oldest first, optionally only those whose path starts with
    /// `path_prefix` and whose method equals `method`.
    pub fn list(
        &self,
        since: u64,
        path_prefix: Option<&str>,
        method: Option<&str>,
        limit: usize,
    ) -> Vec<LoggedRequest> {
        let inner = lock(&self.inner);
        inner
            .entries
            .iter()
            .filter(|e| e.seq > since)
            .filter(|e| path_prefix.is_none_or(|p| e.path.starts_with(p)))
            .filter(|e| method.is_none_or(|m| e.method.eq_ignore_ascii_case(m)))
            .take(limit)
            .cloned()
            .collect()
    }

    pub fn clear(&self) {
        lock(&self.inner).entries.clear();
    }
}

/// What an injected fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// The vendor's 429 (or Salesforce's 403 `REQUEST_LIMIT_EXCEEDED`) with its headers and body.
    RateLimit,
    /// A 5xx (`status`, default 503) in the vendor's error shape.
    ServerError,
    /// Waits `delay_ms` before the vendor handles the request.
    Slow,
    /// The vendor handles the request (its effect is kept), then the connection is dropped
    /// before the response is complete: the client cannot know whether the write happened.
    DropAfter,
    /// Expires the presented access token now (its grant and refresh token stay good) and
    /// answers the vendor's 401 for an expired token: the client must refresh, as when a
    /// token dies of age.
    ExpiredToken,
    /// Revokes the presented token's whole grant (access and refresh token), then answers as
    /// the vendor does for a revoked token.
    RevokedToken,
}

/// A fault rule as posted to `_control/faults`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    pub kind: FaultKind,
    /// Applies to the next `count` matching requests. Either this or `fraction`; neither means 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// Applies to this fraction (0.0–1.0) of matching requests until removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fraction: Option<f64>,
    /// Only requests whose path (below `/sandbox/{provider}`) starts with this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    /// Only requests with this method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// For `server_error`: the status (500–599). Default 503.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// For `slow`: the delay. Default 2000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// For `rate_limit`: the seconds announced in `Retry-After` (or the vendor's equivalent).
    /// Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u64>,
}

impl FaultSpec {
    pub fn validate(&self) -> Result<(), String> {
        if self.count.is_some() && self.fraction.is_some() {
            return Err("give either count or fraction, not both".into());
        }
        if let Some(f) = self.fraction
            && !(0.0..=1.0).contains(&f)
        {
            return Err("fraction must be between 0 and 1".into());
        }
        if let Some(s) = self.status
            && !(500..=599).contains(&s)
        {
            return Err("status must be a 5xx code".into());
        }
        if self.count == Some(0) {
            return Err("count must be at least 1".into());
        }
        Ok(())
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.path_prefix
            .as_deref()
            .is_none_or(|p| path.starts_with(p))
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
    }
}

/// An installed fault with its remaining budget.
#[derive(Debug, Clone, Serialize)]
pub struct Fault {
    pub id: u64,
    #[serde(flatten)]
    pub spec: FaultSpec,
    /// Requests still to be hit when the rule was given a count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u64>,
    /// How many requests this rule has hit so far.
    pub hits: u64,
}

/// The installed fault rules. The first rule that matches a request and fires is used.
#[derive(Debug)]
pub struct Faults {
    inner: Mutex<FaultsInner>,
}

#[derive(Debug)]
struct FaultsInner {
    next_id: u64,
    rules: Vec<Fault>,
    rng: fastrand::Rng,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            inner: Mutex::new(FaultsInner {
                next_id: 1,
                rules: Vec::new(),
                // Fractions are drawn from a fixed seed so that a test run is repeatable.
                rng: fastrand::Rng::with_seed(0x5eed),
            }),
        }
    }
}

impl Faults {
    pub fn add(&self, spec: FaultSpec) -> Fault {
        let mut inner = lock(&self.inner);
        let id = inner.next_id;
        inner.next_id += 1;
        let remaining = match (spec.count, spec.fraction) {
            (Some(n), _) => Some(n),
            (None, None) => Some(1),
            (None, Some(_)) => None,
        };
        let fault = Fault {
            id,
            spec,
            remaining,
            hits: 0,
        };
        inner.rules.push(fault.clone());
        fault
    }

    pub fn list(&self) -> Vec<Fault> {
        lock(&self.inner).rules.clone()
    }

    pub fn clear(&self) {
        lock(&self.inner).rules.clear();
    }

    /// The fault to apply to this request, if any, spending one unit of its budget.
    pub fn take(&self, method: &str, path: &str) -> Option<FaultSpec> {
        let mut inner = lock(&self.inner);
        let FaultsInner { rules, rng, .. } = &mut *inner;
        let mut fired = None;
        for (i, rule) in rules.iter_mut().enumerate() {
            if !rule.spec.matches(method, path) {
                continue;
            }
            let fires = match rule.spec.fraction {
                Some(f) if rule.remaining.is_none() => rng.f64() < f,
                _ => true,
            };
            if fires {
                rule.hits += 1;
                if let Some(r) = rule.remaining.as_mut() {
                    *r -= 1;
                }
                fired = Some(i);
                break;
            }
        }
        let i = fired?;
        let spec = rules[i].spec.clone();
        if rules[i].remaining == Some(0) {
            rules.remove(i);
        }
        Some(spec)
    }
}

/// Everything an emulator shares with the common control layer.
#[derive(Debug, Default)]
pub struct Env {
    pub clock: Clock,
    pub log: RequestLog,
    pub faults: Faults,
}

impl Env {
    /// Back to a fresh start: no clock offset, no faults, an empty log.
    pub fn reset(&self) {
        self.clock.reset();
        self.faults.clear();
        self.log.clear();
    }
}

/// Locks a mutex, recovering from poisoning: the emulator's state stays usable after a handler
/// panicked, which matters more in a test double than the half-done write that caused it.
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: FaultKind) -> FaultSpec {
        FaultSpec {
            kind,
            count: None,
            fraction: None,
            path_prefix: None,
            method: None,
            status: None,
            delay_ms: None,
            retry_after_seconds: None,
        }
    }

    #[test]
    fn a_counted_fault_fires_that_many_times_then_disappears() {
        let faults = Faults::default();
        faults.add(FaultSpec {
            count: Some(2),
            path_prefix: Some("/crm".into()),
            ..spec(FaultKind::RateLimit)
        });
        assert!(faults.take("GET", "/oauth/v1/token").is_none());
        assert!(faults.take("GET", "/crm/v3/objects/contacts").is_some());
        assert!(faults.take("POST", "/crm/v3/objects/contacts").is_some());
        assert!(faults.take("GET", "/crm/v3/objects/contacts").is_none());
        assert!(faults.list().is_empty());
    }

    #[test]
    fn a_fraction_fires_about_that_often() {
        let faults = Faults::default();
        faults.add(FaultSpec {
            fraction: Some(0.25),
            ..spec(FaultKind::ServerError)
        });
        let hits = (0..4000)
            .filter(|_| faults.take("GET", "/x").is_some())
            .count();
        assert!((800..1200).contains(&hits), "{hits}");
        assert_eq!(faults.list()[0].hits as usize, hits);
    }

    #[test]
    fn the_clock_moves_forward_by_the_offset() {
        let clock = Clock::default();
        let before = clock.now_secs();
        clock.advance_secs(3600);
        assert!(clock.now_secs() - before >= 3600);
        clock.reset();
        assert!(clock.now_secs() - before < 5);
    }

    #[test]
    fn the_log_filters_and_pages() {
        let log = RequestLog::default();
        for (m, p) in [("GET", "/a"), ("POST", "/a/b"), ("GET", "/c")] {
            log.push(LoggedRequest {
                seq: 0,
                method: m.into(),
                path: p.into(),
                query: None,
                status: 200,
                time: String::new(),
                duration_ms: 0.0,
                fault: None,
            });
        }
        assert_eq!(log.list(0, Some("/a"), None, 10).len(), 2);
        assert_eq!(log.list(0, None, Some("get"), 10).len(), 2);
        let after_first = log.list(1, None, None, 10);
        assert_eq!(after_first[0].seq, 2);
    }
}
