//! Salesforce's error shapes.
//!
//! The REST API answers errors as a JSON array of `{"message", "errorCode", "fields"}` objects
//! ("Status Codes and Error Responses", REST API Developer Guide); a session error carries no
//! `fields`. Inside sObject Collections results the same error is spelled
//! `{"statusCode", "message", "fields"}` ("sObject Collections", REST API Developer Guide). OAuth
//! endpoints answer `{"error", "error_description"}` instead ("OAuth 2.0 Web Server Flow",
//! Salesforce Help).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One REST API error.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    /// `None` leaves the `fields` key out (session errors have none).
    pub fields: Option<Vec<String>>,
    /// Extra keys on the error object (`duplicateResult`).
    pub extra: Option<(&'static str, Value)>,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            fields: Some(Vec::new()),
            extra: None,
        }
    }

    pub fn with_fields(mut self, fields: &[&str]) -> Self {
        self.fields = Some(fields.iter().map(|s| (*s).to_owned()).collect());
        self
    }

    pub fn without_fields(mut self) -> Self {
        self.fields = None;
        self
    }

    /// 401 for a missing, expired, revoked or foreign token.
    pub fn session() -> Self {
        ApiError::new(401, "INVALID_SESSION_ID", "Session expired or invalid").without_fields()
    }

    pub fn not_found() -> Self {
        ApiError::new(404, "NOT_FOUND", "The requested resource does not exist").without_fields()
    }

    pub fn json_parse(message: impl Into<String>) -> Self {
        ApiError::new(400, "JSON_PARSER_ERROR", message).without_fields()
    }

    pub fn malformed_query(message: impl Into<String>) -> Self {
        ApiError::new(400, "MALFORMED_QUERY", message).without_fields()
    }

    pub fn method_not_allowed(method: &str, allowed: &str) -> Self {
        ApiError::new(
            405,
            "METHOD_NOT_ALLOWED",
            format!("HTTP Method '{method}' not allowed. Allowed are {allowed}"),
        )
        .without_fields()
    }

    /// The object inside the REST error array.
    pub fn rest_item(&self) -> Value {
        let mut o = serde_json::Map::new();
        if let Some((k, v)) = &self.extra {
            o.insert((*k).to_owned(), v.clone());
        }
        o.insert("message".into(), json!(self.message));
        o.insert("errorCode".into(), json!(self.code));
        if let Some(f) = &self.fields {
            o.insert("fields".into(), json!(f));
        }
        Value::Object(o)
    }

    /// The REST body: an array of one error.
    pub fn body(&self) -> Value {
        json!([self.rest_item()])
    }

    /// The error as sObject Collections and composite record results spell it.
    pub fn collection_item(&self) -> Value {
        json!({
            "statusCode": self.code,
            "message": self.message,
            "fields": self.fields.clone().unwrap_or_default(),
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        (status, axum::Json(self.body())).into_response()
    }
}

/// An OAuth error body (`{"error", "error_description"}`), status 400 unless given.
pub fn oauth_error(status: u16, error: &str, description: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}
