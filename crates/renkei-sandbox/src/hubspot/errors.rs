//! HubSpot's error bodies, and the JSON body extractor that answers malformed input in them.
//!
//! The CRM v3 APIs answer errors as `{"status": "error", "message", "correlationId",
//! "category", ...}` (the `Error` schema of every CRM OpenAPI file in
//! HubSpot-public-api-spec-collection: `category`, `correlationId` and `message` are required;
//! `context`, `errors`, `subCategory` and `links` optional). The OAuth v1 endpoints answer
//! `{"status": "BAD_REFRESH_TOKEN", "message": ...}` instead, see [`super::oauth`].

use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// A random UUID v4, HubSpot's `correlationId` format.
pub fn uuid() -> String {
    let mut b = [0u8; 16];
    for x in b.iter_mut() {
        *x = fastrand::u8(..);
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// An error answer in HubSpot's shape.
#[derive(Debug)]
pub struct HsError {
    pub status: StatusCode,
    pub body: Map<String, Value>,
}

impl HsError {
    pub fn new(status: StatusCode, category: &str, message: impl Into<String>) -> HsError {
        let mut body = Map::new();
        body.insert("status".into(), json!("error"));
        body.insert("message".into(), json!(message.into()));
        body.insert("correlationId".into(), json!(uuid()));
        body.insert("category".into(), json!(category));
        HsError { status, body }
    }

    pub fn validation(message: impl Into<String>) -> HsError {
        HsError::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message)
    }

    pub fn not_found(message: impl Into<String>) -> HsError {
        HsError::new(StatusCode::NOT_FOUND, "OBJECT_NOT_FOUND", message)
    }

    pub fn with(mut self, key: &str, value: Value) -> HsError {
        self.body.insert(key.into(), value);
        self
    }

    /// The 401 for a request without usable credentials (HubSpot's wording for a missing or
    /// unknown bearer token).
    pub fn invalid_authentication() -> HsError {
        HsError::new(
            StatusCode::UNAUTHORIZED,
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        )
    }

    /// The 401 for an expired OAuth access token (category `EXPIRED_AUTHENTICATION`).
    pub fn expired(minutes_ago: i64) -> HsError {
        HsError::new(
            StatusCode::UNAUTHORIZED,
            "EXPIRED_AUTHENTICATION",
            format!("The OAuth token used to make this call expired {minutes_ago} minute(s) ago."),
        )
    }
}

impl IntoResponse for HsError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(Value::Object(self.body))).into_response()
    }
}

/// A JSON request body. Malformed JSON is answered as HubSpot does: 400 `VALIDATION_ERROR`
/// with "Invalid input JSON on line L, column C: ...".
pub struct HsJson(pub Value);

impl<S: Send + Sync> FromRequest<S> for HsJson {
    type Rejection = HsError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = bytes::Bytes::from_request(req, state)
            .await
            .map_err(|e| HsError::validation(e.body_text()))?;
        serde_json::from_slice(&bytes).map(HsJson).map_err(|e| {
            HsError::validation(format!(
                "Invalid input JSON on line {}, column {}: {}",
                e.line(),
                e.column(),
                e
            ))
        })
    }
}

/// Decodes a body into `T`, answering field errors as HubSpot's "Invalid input JSON".
pub fn decode<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, HsError> {
    serde_json::from_value(v)
        .map_err(|e| HsError::validation(format!("Invalid input JSON on line 1, column 1: {e}")))
}
