//! Salesforce: OAuth 2.0 web server flow with PKCE, REST API v62.0 on the org's instance URL.
//!
//! Docs: https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_web_server_flow.htm
//! (OAuth), https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/ (REST).
//! The token response names the org's `instance_url`; it must be a host Salesforce owns (or
//! the configured login server's tree, in the sandbox), or renkei would hand its tokens to
//! whoever wrote the response. `auth` holds the login-server calls; `client` the API calls and
//! error classification; `people` the Lead and Contact import and write-back; `records` the
//! write-back recipes' writes (activities, people, accounts, field updates, describe); `wire`
//! Salesforce's JSON; `mapping` its conversion.

pub mod auth;
pub mod client;
pub mod mapping;
pub mod people;
pub mod records;
pub mod wire;

/// The REST API version renkei speaks (Winter '25).
pub const API_VERSION: &str = "v62.0";
