//! renkei's engine: what happens to accepted work.
//!
//! - [`jobs`]: the typed, versioned payloads of every job kind and the [`Registry`] that maps
//!   a stored job to its handler;
//! - [`worker`]: the [`Runtime`] that claims jobs from the store's queue, runs them with
//!   bounded concurrency, heartbeats their leases, retries with backoff, and shuts down
//!   gracefully;
//! - [`intake`]: storing host-app events together with their routing jobs (the transactional
//!   outbox);
//! - [`routing`]: the routing job, which decides which connections an event writes to;
//! - [`clock`]: the source of "now", replaceable in tests.
//!
//! The engine knows the store and the core vocabulary; it knows nothing of HTTP.

pub mod actions;
pub mod clock;
pub mod connect;
pub mod deliver;
pub mod directory;
pub mod health;
pub mod intake;
pub mod jobs;
pub mod people;
pub mod recipes;
pub mod routing;
pub mod schema;
pub mod settings;
pub mod sync;
pub mod vault;
pub mod worker;
pub mod writeback;

pub use clock::{Clock, ManualClock, SystemClock};
pub use jobs::{Done, JobContext, JobError, JobPayload, Registry};
pub use worker::{Runtime, Wake, WorkerConfig};

/// The registry of every job kind this version of renkei runs.
pub fn registry() -> Registry {
    let mut r = Registry::new();
    routing::register(&mut r);
    r
}
