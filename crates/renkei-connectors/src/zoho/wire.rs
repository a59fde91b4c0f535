//! Zoho's JSON, as far as renkei reads it.

use serde::Deserialize;

/// The token endpoint's answer. Errors come back with HTTP 200 as `{"error": "invalid_code"}`,
/// so every field is optional and `error` is checked first.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TokenResponse {
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub api_domain: Option<String>,
    pub expires_in: Option<i64>,
    pub scope: Option<String>,
    pub error: Option<String>,
}

/// The CRM API's error body: `{"code", "details", "message", "status": "error"}`, alone or
/// inside `data[]` for per-record results.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ApiError {
    pub code: String,
    pub message: String,
    pub details: serde_json::Value,
}

#[derive(Debug, Deserialize)]
pub struct OrgResponse {
    pub org: Vec<Org>,
}

#[derive(Debug, Deserialize)]
pub struct Org {
    pub id: String,
    #[serde(default)]
    pub company_name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct UsersResponse {
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default)]
    pub info: Option<Info>,
}

#[derive(Debug, Deserialize)]
pub struct User {
    pub id: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub full_name: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Info {
    #[serde(default)]
    pub more_records: bool,
}
