//! Who is calling: the bearer token of an API request (an OAuth access token or a private-app
//! token, both sent as `Authorization: Bearer …`, see HubSpot's "Authentication methods"),
//! resolved to a portal, then rate limited. [`guard`] is the middleware on every API route;
//! handlers read the resulting [`Ctx`] from the request extensions.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::Hubspot;
use super::errors::HsError;
use crate::oauth::BearerError;

/// How the request authenticated; the rate limits differ (HubSpot "API usage guidelines":
/// public OAuth apps have a per-10-second limit per account and no daily limit, private apps
/// both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    OAuth,
    PrivateApp,
}

/// The authenticated caller of one API request.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Index of the portal in the emulator's state.
    pub portal: usize,
    pub hub_id: u64,
    pub kind: Kind,
}

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

impl Hubspot {
    /// Resolves the request's credentials to a portal, or HubSpot's 401.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Ctx, HsError> {
        let token = bearer(headers).ok_or_else(HsError::invalid_authentication)?;
        let state = self.read();
        if token.starts_with("pat-") {
            let portal = state
                .portals
                .iter()
                .position(|p| p.private_app_token == token)
                .ok_or_else(HsError::invalid_authentication)?;
            return Ok(Ctx {
                portal,
                hub_id: state.portals[portal].id,
                kind: Kind::PrivateApp,
            });
        }
        let now = self.env.clock.now_ms();
        match self.tokens.authenticate(token, now) {
            Ok((grant, _)) => {
                let portal = state
                    .find(&grant.account)
                    .ok_or_else(HsError::invalid_authentication)?;
                Ok(Ctx {
                    portal,
                    hub_id: state.portals[portal].id,
                    kind: Kind::OAuth,
                })
            }
            Err(BearerError::Expired) => {
                let expired_ms = self
                    .tokens
                    .lookup_access(token)
                    .and_then(|(_, a)| a.expires_ms)
                    .unwrap_or(now);
                Err(HsError::expired((now - expired_ms) / 60_000))
            }
            Err(_) => Err(HsError::invalid_authentication()),
        }
    }
}

/// The middleware on every API route: authenticate, apply the rate limits, run the handler
/// and add HubSpot's `X-HubSpot-RateLimit-*` headers to its answer.
pub async fn guard(State(hs): State<Arc<Hubspot>>, mut req: Request, next: Next) -> Response {
    let ctx = match hs.authenticate(req.headers()) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let search = req.method() == Method::POST && req.uri().path().ends_with("/search");
    let headers = {
        let limits = crate::env::lock(&hs.limits).clone();
        let tz = hs.read().portals[ctx.portal].time_zone;
        match hs
            .meter
            .check(&limits, &ctx, tz, search, hs.env.clock.now_ms())
        {
            Ok(h) => h,
            Err(resp) => return *resp,
        }
    };
    req.extensions_mut().insert(ctx);
    let mut resp = next.run(req).await;
    resp.headers_mut().extend(headers);
    resp
}
