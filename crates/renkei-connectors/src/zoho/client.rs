//! Zoho CRM API calls and the classification of its errors.

use std::time::SystemTime;

use http::HeaderValue;
use url::Url;

use crate::http::{HttpClient, HttpResponse, OutgoingRequest, retry_after};
use crate::registry::{Endpoints, join};
use crate::{ConnectorError, CrmUser, Provider, Session};

use super::API_VERSION;
use super::mapping;
use super::wire::{ApiError, Org, OrgResponse, User, UsersResponse};

const P: Provider = Provider::ZohoCrm;

/// Reads a non-2xx answer (https://www.zoho.com/crm/developer/docs/api/v8/status-codes.html).
pub fn classify(resp: &HttpResponse) -> ConnectorError {
    let p = P.as_str();
    let e: ApiError = serde_json::from_slice(&resp.body).unwrap_or_default();
    let code = e.code.clone();
    let message = if e.message.is_empty() {
        format!("HTTP {}", resp.status.as_u16())
    } else {
        e.message.clone()
    };
    let detail = |k: &str| e.details.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    match (resp.status.as_u16(), code.as_str()) {
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
            retry_after: retry_after(&resp.headers, SystemTime::now()),
        },
        (_, "DUPLICATE_DATA") => ConnectorError::Duplicate {
            provider: p,
            existing_id: detail("id").unwrap_or_default(),
        },
        (400, _) => ConnectorError::Invalid {
            provider: p,
            field: detail("api_name"),
            code,
            message,
        },
        (s, _) => ConnectorError::from_status(p, s, code, message),
    }
}

fn api_base(ep: &Endpoints, s: Session<'_>) -> Result<Url, ConnectorError> {
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

/// GETs a CRM resource. `None` for 204 (Zoho's "nothing here").
async fn get_json<T: serde::de::DeserializeOwned>(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    url: Url,
) -> Result<Option<T>, ConnectorError> {
    let mut auth = HeaderValue::from_str(&format!("Zoho-oauthtoken {}", s.access_token.expose()))
        .map_err(|_| ConnectorError::Protocol {
        provider: P.as_str(),
        message: "the access token is not a valid header value".into(),
    })?;
    auth.set_sensitive(true);
    let req = s.paced(
        P,
        OutgoingRequest::get(P.as_str(), url).header(http::header::AUTHORIZATION, auth),
    );
    let resp = http.send(&ep.allow, req).await?;
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
