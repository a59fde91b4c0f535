//! Zoho CRM API calls and the classification of its errors.

use std::time::SystemTime;

use http::HeaderValue;
use url::Url;

use crate::http::{HttpClient, HttpResponse, OutgoingRequest, retry_after};
use crate::registry::{Endpoints, join};
use crate::{ConnectorError, CrmUser, Provider, Session};

use super::API_VERSION;
use super::mapping;
use super::wire::{ApiError, Org, OrgResponse, User, UsersResponse, WriteResponse};

const P: Provider = Provider::ZohoCrm;

/// Reads a non-2xx answer (https://www.zoho.com/crm/developer/docs/api/v8/status-codes.html).
/// A request-level error is the body itself; when every record of a write failed, Zoho answers
/// 400 with the per-record errors in `data`, and the first one is read.
pub fn classify(resp: &HttpResponse) -> ConnectorError {
    let e: ApiError = serde_json::from_slice(&resp.body).unwrap_or_default();
    let e = if e.code.is_empty() {
        serde_json::from_slice::<WriteResponse>(&resp.body)
            .ok()
            .and_then(|w| w.data.into_iter().find(|r| r.status == "error"))
            .map(|r| ApiError {
                code: r.code,
                message: r.message,
                details: r.details,
            })
            .unwrap_or(e)
    } else {
        e
    };
    classify_error(resp.status.as_u16(), &resp.headers, e)
}

/// Classifies one of Zoho's error objects answered with `status`. A per-record error inside a
/// 200, 202 or 207 is classified as the 400 Zoho answers when the same record fails alone.
pub fn classify_error(status: u16, headers: &http::HeaderMap, e: ApiError) -> ConnectorError {
    let p = P.as_str();
    let code = e.code.clone();
    let message = if e.message.is_empty() {
        format!("HTTP {status}")
    } else {
        e.message.clone()
    };
    let detail = |k: &str| e.details.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let status = if (200..300).contains(&status) {
        400
    } else {
        status
    };
    match (status, code.as_str()) {
        (401, "OAUTH_SCOPE_MISMATCH" | "NO_PERMISSION") => ConnectorError::Forbidden {
            provider: p,
            code,
            message,
        },
        (401, _) => ConnectorError::Unauthorized {
            provider: p,
            message,
        },
        (403, _) => ConnectorError::Forbidden {
            provider: p,
            code,
            message,
        },
        (404, _) => ConnectorError::NotFound {
            provider: p,
            what: message,
        },
        (429, _) => ConnectorError::RateLimited {
            provider: p,
            retry_after: retry_after(headers, SystemTime::now()),
        },
        // v8 names the holder in `details.duplicate_record.id`; older versions in `details.id`.
        (_, "DUPLICATE_DATA") => ConnectorError::Duplicate {
            provider: p,
            existing_id: e
                .details
                .get("duplicate_record")
                .and_then(|d| d.get("id"))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .or_else(|| detail("id"))
                .unwrap_or_default(),
        },
        // The culprit is a field (`api_name`), a query parameter (`param_name`) or a header
        // (`header_name`).
        (400, _) => ConnectorError::Invalid {
            provider: p,
            field: detail("api_name")
                .or_else(|| detail("param_name"))
                .or_else(|| detail("header_name")),
            code,
            message,
        },
        (s, _) => ConnectorError::from_status(p, s, code, message),
    }
}

pub(crate) fn api_base(ep: &Endpoints, s: Session<'_>) -> Result<Url, ConnectorError> {
    let raw = s
        .meta
        .api_domain
        .as_deref()
        .ok_or_else(|| ConnectorError::Protocol {
            provider: P.as_str(),
            message: "the connection has no api_domain".into(),
        })?;
    let url = ep.allowed_url("api_domain", raw)?;
    Ok(join(&url, &format!("/crm/{API_VERSION}")))
}

/// Sends a CRM API request with the session's token (`Authorization: Zoho-oauthtoken …`,
/// https://www.zoho.com/crm/developer/docs/api/v8/oauth-overview.html), paced by its budget.
/// Answers whatever the status.
pub async fn send(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    req: OutgoingRequest,
) -> Result<HttpResponse, ConnectorError> {
    let mut auth = HeaderValue::from_str(&format!("Zoho-oauthtoken {}", s.access_token.expose()))
        .map_err(|_| ConnectorError::Protocol {
        provider: P.as_str(),
        message: "the access token is not a valid header value".into(),
    })?;
    auth.set_sensitive(true);
    let req = s.paced(P, req.header(http::header::AUTHORIZATION, auth));
    http.send(&ep.allow, req).await
}

/// GETs a CRM resource. `None` for 204 (Zoho's "nothing here").
async fn get_json<T: serde::de::DeserializeOwned>(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    url: Url,
) -> Result<Option<T>, ConnectorError> {
    let resp = send(http, ep, s, OutgoingRequest::get(P.as_str(), url)).await?;
    if resp.status.as_u16() == 204 {
        return Ok(None);
    }
    if !resp.status.is_success() {
        return Err(classify(&resp));
    }
    resp.json(P.as_str()).map(Some)
}

pub async fn org(http: &HttpClient, ep: &Endpoints, s: Session<'_>) -> Result<Org, ConnectorError> {
    let url = join(&api_base(ep, s)?, "/org");
    let r: Option<OrgResponse> = get_json(http, ep, s, url).await?;
    r.and_then(|r| r.org.into_iter().next())
        .ok_or_else(|| ConnectorError::Protocol {
            provider: P.as_str(),
            message: "GET /org answered no organisation".into(),
        })
}

pub async fn current_user(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
) -> Result<Option<User>, ConnectorError> {
    let mut url = join(&api_base(ep, s)?, "/users");
    url.query_pairs_mut().append_pair("type", "CurrentUser");
    let r: Option<UsersResponse> = get_json(http, ep, s, url).await?;
    Ok(r.and_then(|r| r.users.into_iter().next()))
}

/// Every active user, page by page (`per_page` ≤ 200).
pub async fn list_users(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
) -> Result<Vec<CrmUser>, ConnectorError> {
    let base = api_base(ep, s)?;
    let mut out = Vec::new();
    for page in 1.. {
        let mut url = join(&base, "/users");
        url.query_pairs_mut()
            .append_pair("type", "ActiveUsers")
            .append_pair("page", &page.to_string())
            .append_pair("per_page", "200");
        let Some(r): Option<UsersResponse> = get_json(http, ep, s, url).await? else {
            break;
        };
        out.extend(r.users.into_iter().map(mapping::user));
        if !r.info.is_some_and(|i| i.more_records) {
            break;
        }
    }
    Ok(out)
}
