//! renkei's vocabulary: the types every other crate speaks in.
//!
//! This crate owns identifiers ([`TenantId`], [`MemberId`], [`EventId`]), the host-app event
//! envelope and its typed data ([`event`]), credentials wrappers ([`Secret`]) and the
//! [`Keyring`] that encrypts them at rest, timestamps ([`Millis`]), and the [`matching`] keys
//! that decide whether a host-app customer and a CRM record are the same (phones in E.164,
//! emails and free-mail domains, company names without legal forms, people's names), and the
//! [`template`] language of recipe settings. It does
//! no IO: no files, no network, no database (the free-mail list is compiled in). Everything
//! here is deterministic and unit-tested, which is why the validation rules of the public API
//! live here and not in the server.

pub mod api_key;
pub mod email;
pub mod event;
pub mod ids;
pub mod keyring;
pub mod matching;
pub mod secret;
pub mod template;
pub mod time;

pub use email::EmailAddress;
pub use ids::{EventId, IdError, MemberId, ProviderName, TenantId};
pub use keyring::{Keyring, KeyringError};
pub use matching::company::{company_key, normalize_text};
pub use matching::email::{FREE_MAIL_SOURCE, FreeMailDomains, company_domain};
pub use matching::name::{
    NameOrder, display_name, name_key, name_order, name_order_with_hint, split_name,
};
pub use matching::phone::{E164, PhoneError, PhoneNumber, Region, normalize_phone};
pub use secret::Secret;
pub use time::Millis;
