//! Salesforce REST calls on the org's instance and the classification of its errors.

use http::{HeaderName, HeaderValue};
use url::Url;

use crate::http::{HttpClient, HttpResponse, OutgoingRequest};
use crate::registry::{Endpoints, join};
use crate::{ConnectorError, CrmUser, Provider, Session};

use super::API_VERSION;
use super::mapping;
use super::wire::{ApiError, Organization, QueryPage, User};

const P: Provider = Provider::Salesforce;

/// Reads a non-2xx answer: an array of `{message, errorCode, fields}`
/// (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm).
pub fn classify(resp: &HttpResponse) -> ConnectorError {
    let p = P.as_str();
    let errors: Vec<ApiError> = serde_json::from_slice(&resp.body).unwrap_or_default();
    let first = errors.into_iter().next().unwrap_or_default();
    let code = first.error_code.clone();
    let message = if first.message.is_empty() {
        format!("HTTP {}", resp.status.as_u16())
    } else {
        first.message.clone()
    };
    match (resp.status.as_u16(), code.as_str()) {
        (401, _) => ConnectorError::Unauthorized {
            provider: p,
            message,
        },
        // Salesforce signals the org's daily API limit with 403, not 429, and no Retry-After:
        // the limit is a rolling 24 hours.
        (403, "REQUEST_LIMIT_EXCEEDED") => ConnectorError::RateLimited {
            provider: p,
            retry_after: None,
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
        (400, "DUPLICATE_VALUE" | "DUPLICATES_DETECTED") => ConnectorError::Duplicate {
            provider: p,
            // "duplicate value found: Email__c duplicates value on record with id: 003…"
            existing_id: message
                .rsplit_once("id: ")
                .map(|(_, id)| id.trim().to_owned())
                .unwrap_or_default(),
        },
        (400, _) => ConnectorError::Invalid {
            provider: p,
            code,
            field: first.fields.first().cloned(),
            message,
        },
        (s, _) => ConnectorError::from_status(p, s, code, message),
    }
}

/// The instance URL of a session, checked against the allow-list when it was stored and again
/// here.
pub(crate) fn instance(ep: &Endpoints, s: Session<'_>) -> Result<Url, ConnectorError> {
    let raw = s
        .meta
        .instance_url
        .as_deref()
        .ok_or_else(|| ConnectorError::Protocol {
            provider: P.as_str(),
            message: "the connection has no instance_url".into(),
        })?;
    ep.allowed_url("instance_url", raw)
}

async fn get_json<T: serde::de::DeserializeOwned>(
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

/// Which SOQL resource a query runs on: `query` sees live records, `queryAll` the Recycle Bin
/// too (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_queryall.htm).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryResource {
    Query,
    QueryAll,
}

impl QueryResource {
    pub fn as_str(self) -> &'static str {
        match self {
            QueryResource::Query => "query",
            QueryResource::QueryAll => "queryAll",
        }
    }
}

/// `{instance}/services/data/vXX.X/{query|queryAll}?q=<soql>`.
pub fn query_url(base: &Url, resource: QueryResource, soql: &str) -> Url {
    let mut url = join(
        base,
        &format!("/services/data/{API_VERSION}/{}", resource.as_str()),
    );
    url.query_pairs_mut().append_pair("q", soql);
    url
}

/// The absolute URL of a `nextRecordsUrl`. That URL is relative to the instance's root, not to
/// its path: the instance URL's path prefix is kept (the sandbox's instances live below one).
pub fn next_records_url(base: &Url, next: &str) -> Url {
    let mut u = base.clone();
    let (path, query) = next.split_once('?').unwrap_or((next, ""));
    u.set_path(&format!("{}{}", base.path().trim_end_matches('/'), path));
    u.set_query((!query.is_empty()).then_some(query));
    u
}

/// One page of a SOQL query (its first page, or a `nextRecordsUrl` made absolute), asking for
/// `batch_size` records a page with `Sforce-Query-Options`. The header goes on every page:
/// each request states its own batch size
/// (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/headers_queryoptions.htm).
pub async fn query_page<T: serde::de::DeserializeOwned>(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    url: Url,
    batch_size: usize,
) -> Result<QueryPage<T>, ConnectorError> {
    let options = HeaderValue::from_str(&format!("batchSize={batch_size}")).map_err(|_| {
        ConnectorError::Config(format!("batchSize={batch_size} is not a header value"))
    })?;
    let req = s.paced(
        P,
        OutgoingRequest::get(P.as_str(), url)
            .bearer(s.access_token)
            .header(HeaderName::from_static("sforce-query-options"), options),
    );
    crate::oauth::get_json(http, &ep.allow, req, classify).await
}

/// Runs a SOQL query to the last page, following `nextRecordsUrl` (instance-relative).
pub async fn query_all<T: serde::de::DeserializeOwned>(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    soql: &str,
) -> Result<Vec<T>, ConnectorError> {
    let base = instance(ep, s)?;
    let mut url = query_url(&base, QueryResource::Query, soql);
    let mut out = Vec::new();
    loop {
        let page: QueryPage<T> = get_json(http, ep, s, url).await?;
        out.extend(page.records);
        match page.next_records_url {
            Some(next) if !page.done => url = next_records_url(&base, &next),
            _ => break,
        }
    }
    Ok(out)
}

pub async fn organization_name(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
) -> Result<Option<String>, ConnectorError> {
    let orgs: Vec<Organization> =
        query_all(http, ep, s, "SELECT Name FROM Organization LIMIT 1").await?;
    Ok(orgs.into_iter().next().and_then(|o| o.name))
}

/// The org's active users.
pub async fn list_users(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
) -> Result<Vec<CrmUser>, ConnectorError> {
    let users: Vec<User> = query_all(
        http,
        ep,
        s,
        "SELECT Id, Name, Email, IsActive FROM User WHERE IsActive = true ORDER BY Name",
    )
    .await?;
    Ok(users.into_iter().map(mapping::user).collect())
}
