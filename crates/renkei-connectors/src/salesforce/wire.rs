//! Salesforce's JSON, as far as renkei reads it.

use serde::Deserialize;

/// The token endpoint's answer. There is no `expires_in`: a session lasts until the org's
/// timeout after its last use.
#[derive(Debug, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub instance_url: Option<String>,
    /// The identity URL, `…/id/{orgId}/{userId}`.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub issued_at: Option<String>,
    #[serde(default)]
    pub signature: Option<String>,
}

/// `{"error": "invalid_grant", "error_description": "expired access/refresh token"}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OAuthError {
    pub error: String,
    pub error_description: String,
}

/// One element of the REST API's error array.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ApiError {
    pub message: String,
    #[serde(rename = "errorCode")]
    pub error_code: String,
    pub fields: Vec<String>,
}

/// The identity service's answer.
#[derive(Debug, Deserialize)]
pub struct Identity {
    pub user_id: String,
    pub organization_id: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

/// A SOQL query page.
#[derive(Debug, Deserialize)]
pub struct QueryPage<T> {
    pub done: bool,
    #[serde(default, rename = "nextRecordsUrl")]
    pub next_records_url: Option<String>,
    pub records: Vec<T>,
}

#[derive(Debug, Deserialize)]
pub struct User {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Name", default)]
    pub name: Option<String>,
    #[serde(rename = "Email", default)]
    pub email: Option<String>,
    #[serde(rename = "IsActive", default)]
    pub is_active: bool,
}

#[derive(Debug, Deserialize)]
pub struct Organization {
    #[serde(rename = "Name", default)]
    pub name: Option<String>,
}
