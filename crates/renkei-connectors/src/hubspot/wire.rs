//! HubSpot's JSON, as far as renkei reads it.

use serde::Deserialize;

/// `POST /oauth/v1/token`. HubSpot answers `hub_id`, `user_id` and `scopes` too on newer
/// apps; we read them when present and ask the token-info endpoint otherwise.
#[derive(Debug, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub expires_in: Option<i64>,
    #[serde(default)]
    pub hub_id: Option<u64>,
    #[serde(default)]
    pub user_id: Option<u64>,
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
}

/// `GET /oauth/v1/access-tokens/{token}`.
#[derive(Debug, Deserialize)]
pub struct AccessTokenInfo {
    pub hub_id: u64,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub hub_domain: Option<String>,
    #[serde(default)]
    pub user_id: Option<u64>,
}

/// The error body of the OAuth endpoints (`{"status": "BAD_REFRESH_TOKEN", "message"}`) and of
/// the CRM APIs (`{"status": "error", "category": "…", "message"}`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ErrorBody {
    pub status: String,
    pub message: String,
    pub category: Option<String>,
    #[serde(rename = "subCategory")]
    pub sub_category: Option<String>,
    pub errors: Vec<ErrorDetail>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ErrorDetail {
    pub message: String,
    pub code: Option<String>,
    pub context: Option<serde_json::Value>,
}

/// `GET /crm/v3/owners`.
#[derive(Debug, Deserialize)]
pub struct OwnersPage {
    pub results: Vec<Owner>,
    #[serde(default)]
    pub paging: Option<Paging>,
}

#[derive(Debug, Deserialize)]
pub struct Owner {
    pub id: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default, rename = "firstName")]
    pub first_name: Option<String>,
    #[serde(default, rename = "lastName")]
    pub last_name: Option<String>,
    #[serde(default)]
    pub archived: bool,
}

#[derive(Debug, Deserialize)]
pub struct Paging {
    pub next: Option<PagingNext>,
}

#[derive(Debug, Deserialize)]
pub struct PagingNext {
    pub after: String,
}
