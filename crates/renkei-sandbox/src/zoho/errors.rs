//! Zoho CRM's error bodies: `{"code", "details", "message", "status": "error"}` at the top level
//! for request-level errors, and the same object per record inside `{"data": [...]}` for
//! record-level ones. Codes and messages are the ones the v8 OpenAPI `API_Exception` schema
//! enumerates (record.json) and the "Status Codes" doc page
//! (https://www.zoho.com/crm/developer/docs/api/v8/status-codes.html) lists.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A request-level error.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Value,
}

impl ApiError {
    pub fn new(
        status: u16,
        code: &'static str,
        message: impl Into<String>,
        details: Value,
    ) -> Self {
        ApiError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            code,
            message: message.into(),
            details,
        }
    }

    /// No `Authorization` header, or not `Zoho-oauthtoken …`/`Bearer …`.
    pub fn auth_failure() -> Self {
        Self::new(
            401,
            "AUTHENTICATION_FAILURE",
            "Authentication failed",
            json!({}),
        )
    }

    /// An unknown, expired or revoked token, or one of another data centre.
    pub fn invalid_token() -> Self {
        Self::new(401, "INVALID_TOKEN", "invalid oauth token", json!({}))
    }

    pub fn scope_mismatch() -> Self {
        Self::new(
            401,
            "OAUTH_SCOPE_MISMATCH",
            "invalid oauth scope to access this URL",
            json!({}),
        )
    }

    pub fn invalid_url() -> Self {
        Self::new(
            404,
            "INVALID_URL_PATTERN",
            "Please check if the URL trying to access is a correct one",
            json!({}),
        )
    }

    pub fn invalid_method() -> Self {
        Self::new(
            405,
            "INVALID_REQUEST_METHOD",
            "The http request method type is not a valid one",
            json!({}),
        )
    }

    pub fn invalid_module() -> Self {
        Self::new(
            400,
            "INVALID_MODULE",
            "The module name given seems to be invalid",
            json!({"resource_path_index": 0}),
        )
    }

    pub fn param_missing(param: &str) -> Self {
        Self::new(
            400,
            "REQUIRED_PARAM_MISSING",
            "One of the expected parameter is missing",
            json!({"param_name": param}),
        )
    }

    pub fn invalid_param(param: &str, message: &str) -> Self {
        Self::new(400, "INVALID_DATA", message, json!({"param_name": param}))
    }

    pub fn invalid_body(message: &str) -> Self {
        Self::new(400, "INVALID_DATA", message, json!({}))
    }

    pub fn body(&self) -> Value {
        json!({"code": self.code, "details": self.details, "message": self.message, "status": "error"})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, axum::Json(self.body())).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            // Zoho's resource servers announce the OAuth scheme on every 401.
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Zoho-oauthtoken"),
            );
        }
        resp
    }
}

/// A per-record error inside `{"data": [...]}`.
pub fn record_error(code: &str, message: &str, details: Value) -> Value {
    json!({"code": code, "details": details, "message": message, "status": "error"})
}

pub fn mandatory_not_found(api_name: &str, index: usize) -> Value {
    record_error(
        "MANDATORY_NOT_FOUND",
        "required field not found",
        json!({"api_name": api_name, "json_path": format!("$.data[{index}].{api_name}")}),
    )
}

pub fn invalid_data(api_name: &str, index: usize, expected: Option<&str>) -> Value {
    let mut details =
        json!({"api_name": api_name, "json_path": format!("$.data[{index}].{api_name}")});
    if let Some(e) = expected {
        details["expected_data_type"] = json!(e);
    }
    record_error("INVALID_DATA", "invalid data", details)
}
