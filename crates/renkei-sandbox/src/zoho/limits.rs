//! Zoho CRM's API limits ("API Limits", https://www.zoho.com/crm/developer/docs/api/v8/api-limits.html):
//! - credits per org in a rolling 24-hour window, by edition: Free 5,000; Standard 50,000 +
//!   250 per user (max 100,000); Professional 50,000 + 500 per user (max 3,000,000);
//!   Enterprise 50,000 + 1,000 per user (max 5,000,000); Ultimate 50,000 + 2,000 per user.
//!   Most calls cost 1 credit; insert/update/upsert/delete cost 1 per 10 records.
//! - concurrent calls per org and app, by edition: Free 5, Standard 10, Professional 15,
//!   Enterprise 20, Ultimate 25.
//!
//! Past either, Zoho answers 429 with `{"code": "TOO_MANY_REQUESTS", …}`. The emulator keeps
//! the credit window as one fixed 24-hour window per org starting at its first call (a rolling
//! window in Zoho), and reports the remaining credits in `X-RATELIMIT-*` headers.

// A ready vendor response is the natural error of these checks; they run once per request.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::store::Org;
use crate::control::ControlError;
use crate::env::lock;

#[derive(Debug, Clone)]
pub struct Limits {
    pub edition: String,
    /// `None`: by edition and user count.
    pub credits_per_day: Option<u64>,
    /// `None`: by edition.
    pub concurrency_per_org: Option<u32>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            edition: "enterprise".into(),
            credits_per_day: None,
            concurrency_per_org: None,
        }
    }
}

const EDITIONS: &[&str] = &["free", "standard", "professional", "enterprise", "ultimate"];

impl Limits {
    pub fn credits_for(&self, users: usize) -> u64 {
        if let Some(c) = self.credits_per_day {
            return c;
        }
        let u = users as u64;
        match self.edition.as_str() {
            "free" => 5_000,
            "standard" => (50_000 + 250 * u).min(100_000),
            "professional" => (50_000 + 500 * u).min(3_000_000),
            "ultimate" => 50_000 + 2_000 * u,
            _ => (50_000 + 1_000 * u).min(5_000_000),
        }
    }

    pub fn concurrency(&self) -> u32 {
        if let Some(c) = self.concurrency_per_org {
            return c;
        }
        match self.edition.as_str() {
            "free" => 5,
            "standard" => 10,
            "professional" => 15,
            "ultimate" => 25,
            _ => 20,
        }
    }

    pub fn to_json(&self, orgs: &[Org]) -> Value {
        let per_org: serde_json::Map<String, Value> = orgs
            .iter()
            .map(|o| (o.id.to_string(), json!(self.credits_for(o.users.len()))))
            .collect();
        json!({
            "edition": self.edition,
            "credits_per_day": self.credits_per_day,
            "concurrency_per_org": self.concurrency_per_org,
            "effective": {
                "credits_per_day_by_org": per_org,
                "concurrency_per_org": self.concurrency(),
            },
        })
    }

    pub fn merge(&mut self, body: Value) -> Result<(), ControlError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Patch {
            edition: Option<String>,
            #[serde(default, with = "double_option")]
            credits_per_day: Option<Option<u64>>,
            #[serde(default, with = "double_option")]
            concurrency_per_org: Option<Option<u32>>,
        }
        if body.is_null() {
            return Ok(());
        }
        let p: Patch = crate::control::decode(body)?;
        if let Some(e) = p.edition {
            if !EDITIONS.contains(&e.as_str()) {
                return Err(ControlError::invalid(format!(
                    "edition must be one of {EDITIONS:?}"
                )));
            }
            self.edition = e;
        }
        if let Some(c) = p.credits_per_day {
            self.credits_per_day = c;
        }
        if let Some(c) = p.concurrency_per_org {
            self.concurrency_per_org = c;
        }
        Ok(())
    }
}

/// Lets a limit be reset to its edition default with `null`.
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Option::<T>::deserialize(d).map(Some)
    }
}

#[derive(Debug, Default)]
struct OrgUsage {
    window_start_ms: i64,
    used: u64,
    in_flight: u32,
}

/// Credits used and calls in flight, per org.
#[derive(Debug, Default)]
pub struct Usage {
    inner: Mutex<HashMap<u64, OrgUsage>>,
}

/// What a request may do after the limits were consulted.
pub struct Admitted {
    pub limit: u64,
    pub remaining: u64,
    pub reset_ms: i64,
}

/// Frees the concurrency slot when the request is done.
pub struct Slot<'a> {
    usage: &'a Usage,
    org: u64,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Some(u) = lock(&self.usage.inner).get_mut(&self.org) {
            u.in_flight = u.in_flight.saturating_sub(1);
        }
    }
}

const DAY_MS: i64 = 86_400_000;

impl Usage {
    pub fn clear(&self) {
        lock(&self.inner).clear();
    }

    /// Takes a concurrency slot, or answers Zoho's 429.
    pub fn enter(&self, org: u64, max: u32) -> Result<Slot<'_>, Response> {
        let mut inner = lock(&self.inner);
        let u = inner.entry(org).or_default();
        if u.in_flight >= max {
            return Err(too_many_requests(
                1,
                Some(
                    "concurrency limit exceeded for the org; retry after the running calls complete",
                ),
            ));
        }
        u.in_flight += 1;
        Ok(Slot { usage: self, org })
    }

    /// Spends `credits`, or answers Zoho's 429 when the day's credits are used up.
    pub fn spend(
        &self,
        org: u64,
        credits: u64,
        limit: u64,
        now_ms: i64,
    ) -> Result<Admitted, Response> {
        let mut inner = lock(&self.inner);
        let u = inner.entry(org).or_default();
        if u.window_start_ms == 0 || now_ms - u.window_start_ms >= DAY_MS {
            u.window_start_ms = now_ms;
            u.used = 0;
        }
        let reset_ms = u.window_start_ms + DAY_MS;
        if u.used + credits > limit {
            let secs = ((reset_ms - now_ms) / 1000).max(1) as u64;
            let mut resp = too_many_requests(
                secs,
                Some("API credits for the last 24 hours are exhausted for this org"),
            );
            put_headers(&mut resp, limit, 0, reset_ms);
            return Err(resp);
        }
        u.used += credits;
        Ok(Admitted {
            limit,
            remaining: limit - u.used,
            reset_ms,
        })
    }
}

pub fn put_headers(resp: &mut Response, limit: u64, remaining: u64, reset_ms: i64) {
    let h = resp.headers_mut();
    for (name, v) in [
        ("x-ratelimit-limit", limit.to_string()),
        ("x-ratelimit-remaining", remaining.to_string()),
        ("x-ratelimit-reset", reset_ms.to_string()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(name, v);
        }
    }
}

/// Zoho's 429.
pub fn too_many_requests(retry_after: u64, message: Option<&str>) -> Response {
    let mut resp = (
        StatusCode::TOO_MANY_REQUESTS,
        axum::Json(json!({
            "code": "TOO_MANY_REQUESTS",
            "details": {},
            "message": message.unwrap_or("too many requests, please retry after some time"),
            "status": "error",
        })),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
        resp.headers_mut().insert("retry-after", v);
    }
    resp
}
