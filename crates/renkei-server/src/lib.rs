//! renkei's HTTP API and the assembly of a running process.
//!
//! - [`config`]: the configuration (file, environment, flags) and the secret key;
//! - [`app`]: starting and stopping a process of any role: store, migrations, workers, HTTP;
//! - [`routes`]: the axum handlers, grouped by resource, each documented for [`openapi`];
//! - [`error`] and [`extract`]: the one error body of PRODUCT.md 5.1 and the extractors that
//!   turn every malformed request into it (never a 500, never axum's plain-text rejections);
//! - [`auth`]: bearer API keys; [`telemetry`]: Prometheus metrics and request ids.

pub mod app;
pub mod auth;
pub mod config;
pub mod error;
pub mod extract;
pub mod openapi;
pub mod pages;
pub mod routes;
pub mod telemetry;

pub use app::{Mount, RunningApp, start, start_with};
pub use config::{Config, Role};
pub use error::ApiError;
