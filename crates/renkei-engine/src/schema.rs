//! Schema discovery (issue 7): which objects a connection's CRM has, and each object's fields
//! with their types, required and read-only flags, picklist options and lookups, in one
//! vocabulary for every provider ([`FieldMeta`], [`ObjectMeta`]).
//!
//! A settings screen asks for these on every render, and actions check their inputs against
//! them, so answers are cached per connection in the store (`schema_cache`) and asked of the
//! provider again when the caller says `refresh`, or when the cached answer is older than
//! [`MAX_AGE`]. A CRM admin who adds a field sees it within that time without anyone asking.
//! An object the provider does not know is not cached, so it is found once it is created.
//!
//! **Record pickers** ([`records`]) search live, never from a cache: an admin choosing a deal
//! expects the one created a minute ago. The search selects fields by the object's cached
//! field list, and a relation ("the contacts of this account") is resolved to the lookup field
//! that points at the related object ([`relation_field`]).

use renkei_connectors::Provider;
use renkei_connectors::records::{FieldKind, FieldMeta, FoundRecord, ObjectMeta, RecordQuery};
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

/// The lookup field of an object (described by `fields`) that points at `related`, an object
/// API name: Salesforce `AccountId` on a Contact for `Account`, Zoho `Account_Name` on
/// Contacts for `Accounts`. Where several do, the one named after the object (`AccountId`)
/// wins, then the first. HubSpot relates records by association, not by a field: `None` is
/// the answer there, and the search filters by association instead.
pub fn relation_field(provider: Provider, fields: &[FieldMeta], related: &str) -> Option<String> {
    if provider == Provider::Hubspot {
        return None;
    }
    let candidates: Vec<&FieldMeta> = fields
        .iter()
        .filter(|f| {
            f.kind == FieldKind::Reference
                && f.references.iter().any(|r| r.eq_ignore_ascii_case(related))
        })
        .collect();
    candidates
        .iter()
        .find(|f| f.name == format!("{related}Id"))
        .or(candidates.first())
        .map(|f| f.name.clone())
}

/// Whether [`records`] can relate `object`'s records to `related`'s: always on HubSpot, where
/// any two records may be associated; elsewhere when [`relation_field`] finds a field.
pub fn can_relate(provider: Provider, fields: &[FieldMeta], related: &str) -> bool {
    provider == Provider::Hubspot || relation_field(provider, fields, related).is_some()
}

/// A record picker's live search on the tenant's connection to `provider`. `fields` are the
/// object's fields ([`fields`]); a relation's field is filled in here.
pub async fn records(
    vault: &Vault,
    tenant: &TenantId,
    provider: Provider,
    mut q: RecordQuery,
    fields: &[FieldMeta],
) -> Result<Vec<FoundRecord>, VaultError> {
    if let Some(rel) = &mut q.related
        && rel.field.is_none()
    {
        rel.field = relation_field(provider, fields, &rel.record.object);
    }
    let connectors = vault.connectors();
    let q = &q;
    vault
        .call(&Target::tenant(tenant, provider), |a| async move {
            connectors
                .search_records(provider, a.session(), q, fields)
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
