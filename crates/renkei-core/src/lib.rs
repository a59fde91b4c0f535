//! renkei's vocabulary: the types every other crate speaks in.
//!
//! This crate owns identifiers ([`TenantId`], [`MemberId`], [`EventId`]), the host-app event
//! envelope and its typed data ([`event`]), credentials wrappers ([`Secret`]) and the
//! [`Keyring`] that encrypts them at rest, and timestamps ([`Millis`]). It does no IO: no
//! files, no network, no database. Everything here is deterministic and unit-tested, which is
//! why the validation rules of the public API live here and not in the server.

pub mod api_key;
pub mod email;
pub mod event;
pub mod ids;
pub mod keyring;
pub mod secret;
pub mod time;

pub use email::EmailAddress;
pub use ids::{EventId, IdError, MemberId, ProviderName, TenantId};
pub use keyring::{Keyring, KeyringError};
pub use secret::Secret;
pub use time::Millis;
