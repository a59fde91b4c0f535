//! HubSpot's rate limits ("API usage guidelines", developers.hubspot.com/docs/api/usage-details)
//! and their headers.
//!
//! - Public apps using OAuth: 110 requests per 10 seconds per installed account; no daily limit,
//!   so OAuth answers carry no `X-HubSpot-RateLimit-Daily*` headers (HubSpot changelog "Rate
//!   limit headers will now appear for OAuth authenticated calls").
//! - Private apps: a per-10-second burst limit (100 for Free/Starter, 190 for Professional and
//!   Enterprise) and a daily limit per account (250,000 / 625,000 / 1,000,000); the day runs
//!   midnight to midnight in the account's time zone. The defaults here are Professional's.
//! - The CRM search endpoints: 5 requests per second per account. Their answers carry no
//!   rate-limit headers (observed by HubSpot users: search answers only have the correlation id).
//!
//! A 429 answers `{"status": "error", "message": "You have reached your ten_secondly_rolling
//! limit.", "errorType": "RATE_LIMIT", "correlationId", "policyName": "TEN_SECONDLY_ROLLING"}`
//! (`DAILY`, `SECONDLY` for the other policies).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::auth::{Ctx, Kind};
use super::errors::uuid;
use crate::control::ControlError;
use crate::env::lock;

#[derive(Debug, Clone)]
pub struct Limits {
    /// Off: no request is refused (the headers are still sent).
    pub enabled: bool,
    pub oauth_ten_second_max: u32,
    pub private_app_ten_second_max: u32,
    pub private_app_daily_max: u64,
    pub search_per_second: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            enabled: true,
            oauth_ten_second_max: 110,
            private_app_ten_second_max: 190,
            private_app_daily_max: 625_000,
            search_per_second: 5,
        }
    }
}

impl Limits {
    pub fn json(&self) -> Value {
        json!({
            "enabled": self.enabled,
            "oauth_ten_second_max": self.oauth_ten_second_max,
            "private_app_ten_second_max": self.private_app_ten_second_max,
            "private_app_daily_max": self.private_app_daily_max,
            "search_per_second": self.search_per_second,
        })
    }

    /// Merges the given fields; unknown fields and bad values are refused.
    pub fn merge(&mut self, body: Value) -> Result<(), ControlError> {
        let Value::Object(map) = body else {
            return Err(ControlError::invalid("limits must be a JSON object"));
        };
        for (k, v) in map {
            let bad = || ControlError::invalid(format!("invalid value for {k}: {v}"));
            let positive = |v: &Value| v.as_u64().filter(|n| *n > 0);
            match k.as_str() {
                "enabled" => self.enabled = v.as_bool().ok_or_else(bad)?,
                "oauth_ten_second_max" => {
                    self.oauth_ten_second_max = positive(&v)
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or_else(bad)?
                }
                "private_app_ten_second_max" => {
                    self.private_app_ten_second_max = positive(&v)
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or_else(bad)?
                }
                "private_app_daily_max" => {
                    self.private_app_daily_max = positive(&v).ok_or_else(bad)?
                }
                "search_per_second" => {
                    self.search_per_second = positive(&v)
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or_else(bad)?
                }
                other => {
                    return Err(ControlError::invalid(format!(
                        "unknown field `{other}`; expected one of enabled, oauth_ten_second_max, private_app_ten_second_max, private_app_daily_max, search_per_second"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// The limit a refused request hit.
#[derive(Debug, Clone, Copy)]
pub enum Policy {
    TenSecondly,
    Daily,
    Secondly,
}

/// HubSpot's 429. `interval_ms` goes into `X-HubSpot-RateLimit-Interval-Milliseconds`.
pub fn too_many(policy: Policy, max: u32, interval_ms: u64, daily: Option<u64>) -> Response {
    let (message, name) = match policy {
        Policy::TenSecondly => (
            "You have reached your ten_secondly_rolling limit.",
            "TEN_SECONDLY_ROLLING",
        ),
        Policy::Daily => ("You have reached your daily limit.", "DAILY"),
        Policy::Secondly => ("You have reached your secondly limit.", "SECONDLY"),
    };
    let body = json!({
        "status": "error",
        "message": message,
        "errorType": "RATE_LIMIT",
        "correlationId": uuid(),
        "policyName": name,
        "requestId": uuid(),
    });
    let mut resp = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    let h = resp.headers_mut();
    if !matches!(policy, Policy::Secondly) {
        put(h, "x-hubspot-ratelimit-interval-milliseconds", interval_ms);
        put(h, "x-hubspot-ratelimit-max", max as u64);
        put(h, "x-hubspot-ratelimit-remaining", 0);
    }
    if let Some(d) = daily {
        put(h, "x-hubspot-ratelimit-daily", d);
        put(h, "x-hubspot-ratelimit-daily-remaining", 0);
    }
    resp
}

fn put(h: &mut HeaderMap, name: &'static str, v: u64) {
    h.insert(HeaderName::from_static(name), HeaderValue::from(v));
}

#[derive(Default)]
struct MeterInner {
    /// Request times in the last 10 seconds, per (portal, kind).
    windows: HashMap<(usize, Kind), VecDeque<i64>>,
    /// Search request times in the last second, per portal.
    search: HashMap<usize, VecDeque<i64>>,
    /// (day number in the portal's time zone, requests that day), per portal's private app.
    daily: HashMap<usize, (i64, u64)>,
}

/// Counts requests against the limits.
#[derive(Default)]
pub struct Meter {
    inner: Mutex<MeterInner>,
}

const TEN_SECONDS: i64 = 10_000;

fn day_of(now_ms: i64, tz: &str) -> i64 {
    let ts = jiff::Timestamp::from_millisecond(now_ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    match jiff::tz::TimeZone::get(tz) {
        Ok(zone) => {
            let d = ts.to_zoned(zone).date();
            i64::from(d.year()) * 400 + i64::from(d.day_of_year())
        }
        Err(_) => now_ms.div_euclid(86_400_000),
    }
}

impl Meter {
    pub fn clear(&self) {
        *lock(&self.inner) = MeterInner::default();
    }

    /// Counts one request. Answers the headers to add, or the 429 to send instead.
    pub fn check(
        &self,
        limits: &Limits,
        ctx: &Ctx,
        tz: &str,
        search: bool,
        now_ms: i64,
    ) -> Result<HeaderMap, Box<Response>> {
        let mut inner = lock(&self.inner);
        let max = match ctx.kind {
            Kind::OAuth => limits.oauth_ten_second_max,
            Kind::PrivateApp => limits.private_app_ten_second_max,
        };
        let daily_max = (ctx.kind == Kind::PrivateApp).then_some(limits.private_app_daily_max);

        if search {
            let s = inner.search.entry(ctx.portal).or_default();
            while s.front().is_some_and(|t| now_ms - t >= 1000) {
                s.pop_front();
            }
            if limits.enabled && s.len() >= limits.search_per_second as usize {
                return Err(Box::new(too_many(
                    Policy::Secondly,
                    max,
                    TEN_SECONDS as u64,
                    None,
                )));
            }
            s.push_back(now_ms);
        }

        let today = day_of(now_ms, tz);
        let used_today = match inner.daily.get(&ctx.portal) {
            Some((d, n)) if *d == today => *n,
            _ => 0,
        };
        if let Some(dm) = daily_max
            && limits.enabled
            && used_today >= dm
        {
            return Err(Box::new(too_many(
                Policy::Daily,
                max,
                TEN_SECONDS as u64,
                Some(dm),
            )));
        }

        let w = inner.windows.entry((ctx.portal, ctx.kind)).or_default();
        while w.front().is_some_and(|t| now_ms - t >= TEN_SECONDS) {
            w.pop_front();
        }
        if limits.enabled && w.len() >= max as usize {
            return Err(Box::new(too_many(
                Policy::TenSecondly,
                max,
                TEN_SECONDS as u64,
                daily_max,
            )));
        }
        w.push_back(now_ms);
        let in_window = w.len() as u64;
        let in_second = w.iter().filter(|t| now_ms - **t < 1000).count() as u64;
        if ctx.kind == Kind::PrivateApp {
            inner.daily.insert(ctx.portal, (today, used_today + 1));
        }

        let mut h = HeaderMap::new();
        if search {
            return Ok(h);
        }
        put(
            &mut h,
            "x-hubspot-ratelimit-interval-milliseconds",
            TEN_SECONDS as u64,
        );
        put(&mut h, "x-hubspot-ratelimit-max", max as u64);
        put(
            &mut h,
            "x-hubspot-ratelimit-remaining",
            (max as u64).saturating_sub(in_window),
        );
        if let Some(dm) = daily_max {
            let secondly = (max as u64).div_ceil(10);
            put(&mut h, "x-hubspot-ratelimit-daily", dm);
            put(
                &mut h,
                "x-hubspot-ratelimit-daily-remaining",
                dm.saturating_sub(used_today + 1),
            );
            put(&mut h, "x-hubspot-ratelimit-secondly", secondly);
            put(
                &mut h,
                "x-hubspot-ratelimit-secondly-remaining",
                secondly.saturating_sub(in_second),
            );
        }
        Ok(h)
    }
}
