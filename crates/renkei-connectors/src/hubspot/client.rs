//! HubSpot API calls and the classification of HubSpot's errors.

use std::num::NonZeroU32;
use std::sync::LazyLock;
use std::time::{Duration, SystemTime};

use governor::{DefaultKeyedRateLimiter, Jitter, Quota};
use http::Method;
use url::Url;

use crate::http::{HttpClient, HttpResponse, OutgoingRequest, retry_after};
use crate::registry::{Endpoints, join};
use crate::{ConnectorError, CrmUser, Provider, Session};

use super::mapping;
use super::wire::{ErrorBody, OwnersPage};

const P: Provider = Provider::Hubspot;

/// Reads a non-2xx answer. HubSpot's bodies: https://developers.hubspot.com/docs/api/error-handling
pub fn classify(resp: &HttpResponse) -> ConnectorError {
    let p = P.as_str();
    let body: ErrorBody = serde_json::from_slice(&resp.body).unwrap_or_default();
    let code = body
        .category
        .clone()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| body.status.clone());
    let message = if body.message.is_empty() {
        format!("HTTP {}", resp.status.as_u16())
    } else {
        body.message.clone()
    };
    match resp.status.as_u16() {
        401 => ConnectorError::Unauthorized {
            provider: p,
            message,
        },
        403 => ConnectorError::Forbidden {
            provider: p,
            code,
            message,
        },
        404 => ConnectorError::NotFound {
            provider: p,
            what: message,
        },
        // "Contact already exists. Existing ID: 1234"
        409 => match message.rsplit_once("Existing ID: ") {
            Some((_, id)) => ConnectorError::Duplicate {
                provider: p,
                existing_id: id.trim().to_owned(),
            },
            None => ConnectorError::Permanent {
                provider: p,
                status: 409,
                code,
                message,
            },
        },
        429 => ConnectorError::RateLimited {
            provider: p,
            retry_after: retry_after(&resp.headers, SystemTime::now()).or_else(|| {
                resp.header_str("x-hubspot-ratelimit-interval-milliseconds")
                    .and_then(|v| v.parse::<u64>().ok())
                    .map(std::time::Duration::from_millis)
            }),
        },
        400 | 422 => ConnectorError::Invalid {
            provider: p,
            code,
            field: body
                .errors
                .first()
                .and_then(|e| e.context.as_ref())
                .and_then(|c| c.get("propertyName"))
                .and_then(|v| v.as_array())
                .and_then(|a| a.first())
                .and_then(|v| v.as_str())
                .map(str::to_owned),
            message,
        },
        s => ConnectorError::from_status(p, s, code, message),
    }
}

pub(crate) async fn get_json<T: serde::de::DeserializeOwned>(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    url: Url,
) -> Result<T, ConnectorError> {
    let req = s.paced(
        P,
        OutgoingRequest::get(P.as_str(), url).bearer(s.access_token),
    );
    crate::oauth::get_json(http, &ep.allow, req, classify).await
}

/// A paced, authenticated request with a JSON body. `idempotent` says whether the HTTP client
/// may repeat it after it may have reached HubSpot.
fn json_request(
    s: Session<'_>,
    method: Method,
    url: Url,
    body: serde_json::Value,
    idempotent: bool,
) -> OutgoingRequest {
    s.paced(
        P,
        OutgoingRequest::new(P.as_str(), method, url)
            .bearer(s.access_token)
            .json(body)
            .idempotent(idempotent),
    )
}

/// Sends `body` with `method` (a write, or a search or batch read, which are reads sent as a
/// POST) and reads a 2xx answer as JSON.
pub(crate) async fn send_json<T: serde::de::DeserializeOwned>(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    method: Method,
    url: Url,
    body: serde_json::Value,
    idempotent: bool,
) -> Result<T, ConnectorError> {
    let req = json_request(s, method, url, body, idempotent);
    crate::oauth::get_json(http, &ep.allow, req, classify).await
}

/// Like [`send_json`] for an answer whose body renkei does not read (a PATCH answers the
/// record, which the caller already knows).
pub(crate) async fn send_ignoring_body(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    method: Method,
    url: Url,
    body: serde_json::Value,
    idempotent: bool,
) -> Result<(), ConnectorError> {
    let resp = http
        .send(&ep.allow, json_request(s, method, url, body, idempotent))
        .await?;
    if resp.status.is_success() {
        Ok(())
    } else {
        Err(classify(&resp))
    }
}

/// The CRM search endpoints allow 5 requests per second per account, apart from (and on top
/// of) the general limit that the session's budget paces
/// (https://developers.hubspot.com/docs/api/crm/search, "Limitations"). Their answers carry no
/// rate-limit headers, so the HTTP client's budgets cannot learn this window; searches wait
/// here first, per budget key, at 4 a second without bursts, which keeps any one-second
/// window at 5 or fewer.
///
/// The limiter is per process, like HubSpot's limit is per account whatever the client: two
/// `HttpClient`s in one process share it.
static SEARCH_PACE: LazyLock<DefaultKeyedRateLimiter<String>> = LazyLock::new(|| {
    let per_second = NonZeroU32::new(4).unwrap_or(NonZeroU32::MIN);
    DefaultKeyedRateLimiter::keyed(Quota::per_second(per_second).allow_burst(NonZeroU32::MIN))
});

/// Waits for the session's turn at the search endpoints. One-off sessions (no budget) are not
/// paced, as [`Session::paced`] does not pace them either.
pub(crate) async fn pace_search(s: Session<'_>) {
    let Some(key) = s.budget else {
        return;
    };
    SEARCH_PACE
        .until_key_ready_with_jitter(&key.to_owned(), Jitter::up_to(Duration::from_millis(10)))
        .await;
    // One entry per account ever searched; drop the idle ones now and then so a long-running
    // process with many tenants does not keep them all.
    if SEARCH_PACE.len() > 1024 {
        SEARCH_PACE.retain_recent();
    }
}

/// Every owner, following `paging.next.after` to the end (`limit` 500 is the documented
/// maximum).
pub async fn list_users(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
) -> Result<Vec<CrmUser>, ConnectorError> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut url = join(&ep.api, "/crm/v3/owners");
        url.query_pairs_mut().append_pair("limit", "500");
        if let Some(a) = &after {
            url.query_pairs_mut().append_pair("after", a);
        }
        let page: OwnersPage = get_json(http, ep, s, url).await?;
        out.extend(page.results.into_iter().map(mapping::owner));
        match page.paging.and_then(|p| p.next) {
            Some(n) if Some(&n.after) != after.as_ref() => after = Some(n.after),
            _ => break,
        }
    }
    Ok(out)
}
