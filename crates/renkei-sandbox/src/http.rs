//! Small HTTP helpers shared by the emulators: where the sandbox is reachable ([`BaseUrl`]),
//! lenient JSON bodies for the control API, the one decoder of form bodies and query strings
//! ([`form_pairs`], built on the `form_urlencoded` crate), and formatting.

use axum::extract::{FromRequest, FromRequestParts, OriginalUri, Request};
use axum::http::request::Parts;
use serde_json::Value;

use crate::control::ControlError;

/// Set by [`crate::Sandbox::router`] when the sandbox was given a public URL (behind a proxy);
/// otherwise URLs are built from the request's `Host` header.
#[derive(Debug, Clone)]
pub(crate) struct PublicOrigin(pub(crate) String);

/// The URLs a response must point back to: `origin` is `http://host:port` and `provider` is
/// `{origin}/sandbox/{provider}` for the emulator that is answering.
#[derive(Debug, Clone)]
pub struct BaseUrl {
    pub origin: String,
    pub provider: String,
}

impl BaseUrl {
    /// `{origin}/sandbox/{provider}{path}`; `path` starts with `/`.
    pub fn join(&self, path: &str) -> String {
        format!("{}{}", self.provider, path)
    }

    pub fn for_provider(origin: &str, provider: &str) -> BaseUrl {
        BaseUrl {
            origin: origin.to_owned(),
            provider: format!("{origin}/sandbox/{provider}"),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for BaseUrl {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let origin = match parts.extensions.get::<PublicOrigin>() {
            Some(PublicOrigin(o)) => o.clone(),
            None => {
                let host = parts
                    .headers
                    .get(http::header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .or_else(|| parts.uri.authority().map(|a| a.as_str()))
                    .unwrap_or("127.0.0.1");
                format!("http://{host}")
            }
        };
        // Inside a nested router the URI has lost its prefix; the original keeps it.
        let full = parts
            .extensions
            .get::<OriginalUri>()
            .map(|u| u.0.path().to_owned())
            .unwrap_or_else(|| parts.uri.path().to_owned());
        let provider = full
            .strip_prefix("/sandbox/")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or("");
        Ok(BaseUrl::for_provider(&origin, provider))
    }
}

/// A JSON control body. An empty body is `null`, so `curl -X POST …/reset` works; anything
/// else must be JSON (the content type is not enforced, for the same reason).
pub struct JsonIn(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonIn {
    type Rejection = ControlError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = bytes::Bytes::from_request(req, state)
            .await
            .map_err(|e| ControlError::invalid(e.body_text()))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonIn(Value::Null));
        }
        serde_json::from_slice(&bytes)
            .map(JsonIn)
            .map_err(|e| ControlError::invalid(format!("malformed JSON: {e}")))
    }
}

/// Decodes `application/x-www-form-urlencoded` pairs (`+` as space, percent-escapes), leniently:
/// bad escapes are kept as text, as the vendors' servers do. Query strings use the same
/// encoding, so this decodes those too.
pub fn form_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(bytes).into_owned().collect()
}

/// The parameters of a request that may carry them in the query string, the form body or both
/// (OAuth endpoints: some SDKs send a token refresh as query parameters). Body values come
/// after query values, so a lookup that takes the last match prefers the body.
pub fn query_and_form(query: Option<&str>, body: &[u8]) -> Vec<(String, String)> {
    let mut pairs = form_pairs(query.unwrap_or("").as_bytes());
    pairs.extend(form_pairs(body));
    pairs
}

/// `2026-11-21T09:30:00.123Z`: what the control API and the log use.
pub fn rfc3339(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a query-string value (RFC 3986 unreserved characters pass through).
pub fn encode_query_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Appends `params` to `url` as a query string (after `?` or `&`).
pub fn with_query(url: &str, params: &[(&str, &str)]) -> String {
    let mut out = url.to_owned();
    for (i, (k, v)) in params.iter().enumerate() {
        let sep = if i == 0 && !url.contains('?') {
            '?'
        } else {
            '&'
        };
        out.push(sep);
        out.push_str(&encode_query_value(k));
        out.push('=');
        out.push_str(&encode_query_value(v));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(
            with_query("http://x/cb", &[("code", "a b/c"), ("state", "日")]),
            "http://x/cb?code=a%20b%2Fc&state=%E6%97%A5"
        );
        assert_eq!(
            with_query("http://x/cb?a=1", &[("b", "2")]),
            "http://x/cb?a=1&b=2"
        );
    }

    #[test]
    fn forms_decode_plus_escapes_and_bad_escapes() {
        assert_eq!(
            form_pairs(b"a=x+y%2Fz&b=%E6%97%A5%&c"),
            [
                ("a".to_owned(), "x y/z".to_owned()),
                ("b".to_owned(), "日%".to_owned()),
                ("c".to_owned(), String::new()),
            ]
        );
        let both = query_and_form(Some("k=q"), b"k=b");
        assert_eq!(both.last().map(|(_, v)| v.as_str()), Some("b"));
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape_html("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
