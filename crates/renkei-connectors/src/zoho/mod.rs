//! Zoho CRM: Zoho Accounts OAuth 2.0 ("server-based applications") across data centres, CRM
//! REST API v8.
//!
//! Docs: https://www.zoho.com/accounts/protocol/oauth/web-server-applications.html (OAuth),
//! https://www.zoho.com/crm/developer/docs/api/v8/multi-dc.html (data centres),
//! https://www.zoho.com/crm/developer/docs/api/v8/get-users.html (users). An account lives in
//! one data centre: the code must be redeemed at the accounts server the redirect names, and
//! the API called at the `api_domain` the token response names — both checked against the
//! known data centres (or the configured templates), never taken on trust. `auth` holds the
//! accounts-server calls; `client` the API calls and error classification; `people` the Leads
//! and Contacts import and write-back; `records` the write-back recipes' writes (people,
//! accounts, activities, field metadata); `wire` Zoho's JSON; `mapping` its conversion.

pub mod auth;
pub mod client;
pub mod mapping;
pub mod people;
pub mod records;
pub mod wire;

/// The CRM API version renkei speaks.
pub const API_VERSION: &str = "v8";
