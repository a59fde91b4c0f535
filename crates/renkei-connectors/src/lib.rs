//! renkei's connectors: everything that speaks to a provider, and nothing else.
//!
//! This crate owns the registry of providers ([`registry`]), the one HTTP client they all use
//! ([`http`]), the OAuth pieces they share ([`oauth`]), the shape of stored credentials
//! ([`credentials`]), and one module per provider with the same files in each (`auth`,
//! `client`, `wire`, `mapping`). It knows nothing of the database or of renkei's HTTP API:
//! callers hand it credentials and typed requests and get typed results or a classified
//! [`ConnectorError`] back. The token lifecycle (when to refresh, locking, persistence) is the
//! engine's; this crate only performs the calls.

pub mod credentials;
pub mod error;
pub mod http;
pub mod registry;

pub use error::ConnectorError;
pub use registry::{Provider, ProvidersConfig, Registry};
