//! Bearer API keys on `/v1`.
//!
//! The middleware looks the key's hash up and stores the [`ApiKey`] in the request's
//! extensions; handlers then call [`Caller::tenant`] to turn a path segment into a
//! [`TenantId`] the key may act on. A key scoped to one tenant gets 403 on any other.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use renkei_core::TenantId;
use renkei_core::api_key::{hash_token, looks_like_key};
use renkei_store::api_keys::ApiKey;

use crate::app::AppState;
use crate::error::ApiError;

pub async fn require_key(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some(header) = req.headers().get(AUTHORIZATION) else {
        return ApiError::unauthorized(
            "missing Authorization header; expected 'Authorization: Bearer <api key>'",
        )
        .into_response();
    };
    let token = header.to_str().ok().and_then(|h| {
        let (scheme, rest) = h.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
    });
    let Some(token) = token else {
        return ApiError::unauthorized("Authorization header must be 'Bearer <api key>'")
            .into_response();
    };
    if !looks_like_key(token) {
        return ApiError::unauthorized("the API key is not a renkei key (rk_…)").into_response();
    }
    match state.store.authenticate_api_key(&hash_token(token)).await {
        Ok(Some(key)) => {
            req.extensions_mut().insert(Caller(key));
            next.run(req).await
        }
        Ok(None) => ApiError::unauthorized("the API key is unknown or revoked").into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller(pub ApiKey);

impl Caller {
    /// Validates a tenant path segment and checks the key may act on it.
    pub fn tenant(&self, raw: &str) -> Result<TenantId, ApiError> {
        let tenant = TenantId::parse(raw).map_err(|e| {
            ApiError::bad_request("invalid_tenant_id", e.to_string())
                .with_details(serde_json::json!({"tenant": raw}))
        })?;
        match &self.0.tenant {
            Some(only) if only != &tenant => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden_tenant",
                format!("this API key is limited to tenant {only}"),
            )),
            _ => Ok(tenant),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| ApiError::unauthorized("missing Authorization header"))
    }
}
