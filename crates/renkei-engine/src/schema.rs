//! Schema discovery (issue 7): which objects a connection's CRM has, and each object's fields
//! with their types, required and read-only flags, picklist options and lookups, in one
//! vocabulary for every provider ([`FieldMeta`], [`ObjectMeta`]).
//!
//! A settings screen asks for these on every render, and actions check their inputs against
//! them, so answers are cached per connection in the store (`schema_cache`) and asked of the
//! provider again when the caller says `refresh`, or when the cached answer is older than
//! [`MAX_AGE`]. A CRM admin who adds a field sees it within that time without anyone asking.
//! An object the provider does not know is not cached, so it is found once it is created.

use renkei_connectors::Provider;
use renkei_connectors::records::{FieldMeta, ObjectMeta};
use renkei_core::{Millis, TenantId};
use renkei_store::connections::ConnectionKey;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::vault::{Target, Vault, VaultError};

/// How long a cached answer is used without asking the provider: an hour.
pub const MAX_AGE: Millis = Millis(3_600_000);

/// An answer, and whether it came from the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Described<T> {
    pub items: Vec<T>,
    /// When the provider gave it.
    pub fetched_at: Millis,
    /// True when it was read from the cache rather than asked now.
    pub cached: bool,
}

/// The objects of the tenant's connection to `provider`.
pub async fn objects(
    vault: &Vault,
    tenant: &TenantId,
    provider: Provider,
    refresh: bool,
) -> Result<Described<ObjectMeta>, VaultError> {
    let connectors = vault.connectors();
    cached(
        vault,
        tenant,
        provider,
        "objects".to_owned(),
        refresh,
        |t| async move {
            vault
                .call(&t, |a| async move {
                    connectors.list_objects(provider, a.session()).await
                })
                .await
        },
    )
    .await
}

/// The fields of `object` (its API name, as [`objects`] gives it) on the tenant's connection
/// to `provider`.
pub async fn fields(
    vault: &Vault,
    tenant: &TenantId,
    provider: Provider,
    object: &str,
    refresh: bool,
) -> Result<Described<FieldMeta>, VaultError> {
    let connectors = vault.connectors();
    let key = format!("fields:{object}");
    cached(vault, tenant, provider, key, refresh, |t| async move {
        vault
            .call(&t, |a| async move {
                connectors
                    .describe_fields(provider, a.session(), object)
                    .await
            })
            .await
    })
    .await
}

/// The cached answer under `key`, unless `refresh` or stale; else `ask`'s, cached.
async fn cached<T, F, Fut>(
    vault: &Vault,
    tenant: &TenantId,
    provider: Provider,
    key: String,
    refresh: bool,
    ask: F,
) -> Result<Described<T>, VaultError>
where
    T: Serialize + DeserializeOwned,
    F: FnOnce(Target) -> Fut,
    Fut: Future<Output = Result<Vec<T>, VaultError>>,
{
    let store = vault.store();
    let conn = store
        .get_connection(ConnectionKey {
            tenant,
            provider: provider.as_str(),
            member: None,
        })
        .await?
        .ok_or_else(|| VaultError::NotConnected {
            provider: provider.as_str().to_owned(),
        })?;
    let now = vault.clock().now();
    if !refresh && let Some(c) = store.get_schema_cache(conn.id, &key).await? {
        // A body this release cannot read (written by another version) is asked again.
        if now.0 - c.fetched_at.0 < MAX_AGE.0
            && let Ok(items) = serde_json::from_str::<Vec<T>>(&c.body)
        {
            return Ok(Described {
                items,
                fetched_at: c.fetched_at,
                cached: true,
            });
        }
    }
    let items = ask(Target::tenant(tenant, provider)).await?;
    let body = serde_json::to_string(&items).unwrap_or_default();
    store.put_schema_cache(conn.id, &key, &body, now).await?;
    Ok(Described {
        items,
        fetched_at: now,
        cached: false,
    })
}
