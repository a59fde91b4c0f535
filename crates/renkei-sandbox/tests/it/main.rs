//! The sandbox's integration tests: each emulator served on a real port and driven over HTTP,
//! as renkei's connectors and the vendors' SDKs drive it.

mod common;
mod hubspot;
mod salesforce;
mod support;
mod zoho;
