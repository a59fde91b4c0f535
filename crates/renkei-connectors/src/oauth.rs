//! The OAuth 2.0 pieces every provider shares: PKCE, random values, the authorize URL, and the
//! token-endpoint call.
//!
//! We do not use the `oauth2` crate here: each provider bends the token response its own way
//! (Zoho answers errors with HTTP 200, Salesforce has no `expires_in` and signs its response,
//! HubSpot adds `hub_id` and its own error body), every call must go through our
//! [`HttpClient`] for the allow-list and rate budgets, and what remains generic is a form POST
//! and an S256 hash, a few lines each.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use renkei_core::{Millis, Secret};
use sha2::{Digest, Sha256};
use url::Url;

use crate::ConnectorError;
use crate::http::{AllowList, HttpClient, HttpResponse, OutgoingRequest};
use crate::registry::{Lifetime, OAuthClient, Provider};

/// `n` random bytes from the operating system, base64url without padding.
pub fn random_token(n: usize) -> String {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).expect("the operating system's random number generator failed");
    URL_SAFE_NO_PAD.encode(buf)
}

/// A PKCE verifier (RFC 7636 §4.1: 43–128 characters of the unreserved set; 32 random bytes
/// give 43) and its S256 challenge.
pub struct Pkce {
    pub verifier: Secret<String>,
    pub challenge: String,
}

impl Pkce {
    pub fn generate() -> Self {
        let verifier = random_token(32);
        let challenge = s256(&verifier);
        Self {
            verifier: Secret::new(verifier),
            challenge,
        }
    }
}

/// The S256 challenge of a verifier.
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// What goes into an authorize URL.
pub struct AuthorizeParams<'a> {
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub state: &'a str,
    pub scopes: &'a [String],
    pub pkce_challenge: Option<&'a str>,
}

/// The standard query of an authorization-code request, plus the provider's `extra` pairs.
pub fn authorize_url(
    base: &Url,
    p: &AuthorizeParams<'_>,
    separator: &str,
    extra: &[(&str, &str)],
) -> Url {
    let mut url = base.clone();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", p.client_id)
            .append_pair("redirect_uri", p.redirect_uri)
            .append_pair("scope", &p.scopes.join(separator))
            .append_pair("state", p.state);
        if let Some(c) = p.pkce_challenge {
            q.append_pair("code_challenge", c)
                .append_pair("code_challenge_method", "S256");
        }
        for (k, v) in extra {
            q.append_pair(k, v);
        }
    }
    url
}

/// The authorize URL of `ep` for `req`, with the provider's scopes and separator and its
/// `extra` parameters.
pub fn provider_authorize_url(
    ep: &crate::registry::Endpoints,
    base: &Url,
    req: &crate::AuthorizeRequest<'_>,
    extra: &[(&str, &str)],
) -> Url {
    authorize_url(
        base,
        &AuthorizeParams {
            client_id: &req.client.client_id,
            redirect_uri: req.redirect_uri,
            state: req.state,
            scopes: &ep.scopes,
            pkce_challenge: req.pkce_challenge,
        },
        ep.provider.info().scope_separator,
        extra,
    )
}

/// Sends a request and reads a 2xx answer as JSON; any other status goes to `classify`.
pub async fn get_json<T: serde::de::DeserializeOwned>(
    http: &HttpClient,
    allow: &AllowList,
    req: OutgoingRequest,
    classify: fn(&HttpResponse) -> ConnectorError,
) -> Result<T, ConnectorError> {
    let provider = req.provider;
    let resp = http.send(allow, req).await?;
    if !resp.status.is_success() {
        return Err(classify(&resp));
    }
    resp.json(provider)
}

/// The form of an authorization-code exchange.
pub fn code_form(
    client: &OAuthClient,
    code: &str,
    redirect_uri: &str,
    verifier: Option<&Secret<String>>,
) -> Vec<(String, String)> {
    let mut f = vec![
        ("grant_type".to_owned(), "authorization_code".to_owned()),
        ("client_id".to_owned(), client.client_id.clone()),
        (
            "client_secret".to_owned(),
            client.client_secret.expose().clone(),
        ),
        ("redirect_uri".to_owned(), redirect_uri.to_owned()),
        ("code".to_owned(), code.to_owned()),
    ];
    if let Some(v) = verifier {
        f.push(("code_verifier".to_owned(), v.expose().clone()));
    }
    f
}

/// The form of a refresh.
pub fn refresh_form(client: &OAuthClient, refresh_token: &Secret<String>) -> Vec<(String, String)> {
    vec![
        ("grant_type".to_owned(), "refresh_token".to_owned()),
        ("client_id".to_owned(), client.client_id.clone()),
        (
            "client_secret".to_owned(),
            client.client_secret.expose().clone(),
        ),
        ("refresh_token".to_owned(), refresh_token.expose().clone()),
    ]
}

/// POSTs a token-endpoint form. Token requests are not idempotent (a code works once; a
/// rotating refresh token too), so the client retries them only when they were never sent.
pub async fn post_token_form(
    http: &HttpClient,
    allow: &AllowList,
    provider: Provider,
    url: Url,
    form: Vec<(String, String)>,
) -> Result<HttpResponse, ConnectorError> {
    let req = OutgoingRequest::post(provider.as_str(), url)
        .form(form)
        .idempotent(false);
    http.send(allow, req).await
}

/// When an access token issued at `now` stops working.
pub fn expiry(provider: Provider, now: Millis, expires_in: Option<i64>) -> Option<Millis> {
    match (provider.info().lifetime, expires_in) {
        (_, Some(secs)) if secs > 0 => Some(Millis(now.0 + secs * 1000)),
        (Lifetime::Assumed(d), _) => Some(Millis(now.0 + d.as_millis() as i64)),
        (Lifetime::FromResponse, _) => None,
    }
}

/// Splits a scope string on spaces and commas (HubSpot and Salesforce use spaces, Zoho
/// commas).
pub fn split_scopes(s: &str) -> Vec<String> {
    s.split([' ', ','])
        .filter(|x| !x.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_matches_rfc7636_appendix_b() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn verifier_has_rfc_length() {
        let p = Pkce::generate();
        assert_eq!(p.verifier.expose().len(), 43);
    }

    #[test]
    fn authorize_url_encodes_everything() {
        let u = authorize_url(
            &Url::parse("https://example.com/auth?x=1").unwrap(),
            &AuthorizeParams {
                client_id: "id",
                redirect_uri: "https://r.example/cb?a=b",
                state: "s t",
                scopes: &["a".into(), "b".into()],
                pkce_challenge: Some("c"),
            },
            ",",
            &[("access_type", "offline")],
        );
        assert_eq!(
            u.as_str(),
            "https://example.com/auth?x=1&response_type=code&client_id=id&redirect_uri=https%3A%2F%2Fr.example%2Fcb%3Fa%3Db&scope=a%2Cb&state=s+t&code_challenge=c&code_challenge_method=S256&access_type=offline"
        );
    }
}
