//! HubSpot: OAuth 2.0 apps (tenant-level and per-user), CRM v3.
//!
//! Docs: https://developers.hubspot.com/docs/api/oauth-quickstart-guide (OAuth),
//! https://developers.hubspot.com/docs/api/crm/owners (owners),
//! https://developers.hubspot.com/docs/api/crm/contacts and
//! https://developers.hubspot.com/docs/api/crm/search (people),
//! https://developers.hubspot.com/docs/api/webhooks (webhooks),
//! https://developers.hubspot.com/docs/api/usage-details (rate limits). `auth` holds the token
//! endpoint and the token-info call that names the portal; `client` the API calls and the
//! classification of HubSpot's error bodies; `people` the contacts a sync imports and writes
//! back; `records` the write-back recipes' writes (activities, contacts and companies created,
//! associations, field metadata); `webhooks` the verification and reading of HubSpot's webhook deliveries; `wire`
//! HubSpot's JSON; `mapping` its conversion.

pub mod auth;
pub mod client;
pub mod mapping;
pub mod people;
pub mod records;
pub mod webhooks;
pub mod wire;
