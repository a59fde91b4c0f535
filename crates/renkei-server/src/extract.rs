//! Extractors that answer malformed requests with [`ApiError`]s.

use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON body. Unlike `axum::Json` it reports the path of a wrong field
/// (`serde_path_to_error`), and its rejections use our error body: 415 without a JSON content
/// type, 413 over the body limit, 400 for malformed JSON, 422 for a well-formed body of the
/// wrong shape.
pub struct JsonBody<T>(pub T);

/// The raw JSON value of a body, for endpoints that validate it themselves.
pub struct JsonValue(pub serde_json::Value);

async fn read_json<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    let ct = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !(mime == "application/json"
        || (mime.starts_with("application/") && mime.ends_with("+json")))
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "expected Content-Type: application/json, got {:?}",
                if ct.is_empty() { "(none)" } else { ct }
            ),
        ));
    }
    Bytes::from_request(req, state)
        .await
        .map_err(|e: BytesRejection| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "request body is larger than the configured limit",
                )
            } else {
                ApiError::bad_request(
                    "unreadable_body",
                    format!("could not read the request body: {e}"),
                )
            }
        })
}

fn malformed(e: &serde_json::Error) -> ApiError {
    ApiError::bad_request(
        "malformed_json",
        format!("request body is not valid JSON: {e}"),
    )
    .with_details(serde_json::json!({"line": e.line(), "column": e.column()}))
}

impl<S: Send + Sync> FromRequest<S> for JsonValue {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = read_json(req, state).await?;
        serde_json::from_slice(&bytes)
            .map(JsonValue)
            .map_err(|e| malformed(&e))
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let JsonValue(value) = JsonValue::from_request(req, state).await?;
        serde_path_to_error::deserialize(value)
            .map(JsonBody)
            .map_err(|e| {
                let path = e.path().to_string();
                let path = if path == "." { String::new() } else { path };
                let msg = e.into_inner().to_string();
                ApiError::unprocessable(
                    "invalid_field",
                    if path.is_empty() {
                        msg.clone()
                    } else {
                        format!("{path}: {msg}")
                    },
                )
                .with_details(serde_json::json!({"path": path}))
            })
    }
}

/// Path parameters, with a 400 in our format when they do not decode.
pub struct PathParams<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for PathParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| PathParams(p.0))
            .map_err(|e| ApiError::bad_request("invalid_path", e.body_text()))
    }
}

/// Query parameters, with a 400 in our format when they do not decode.
pub struct QueryParams<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| QueryParams(q.0))
            .map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))
    }
}
