//! Links: which CRM record a host-app thing was written to, per connection.
//!
//! A recipe that finds or creates a record for a host-app customer, room, booking, meeting,
//! call or phone number saves a link (`customer:42` → `Lead 00Q…`), so that the next event
//! about the same thing goes straight to the same record instead of searching again, and a
//! person created for an unknown caller is not created twice. A link is overwritten when a
//! recipe learns a better record (the linked one was deleted at the provider).

use renkei_core::{Millis, TenantId};

use crate::{DbRow, Store, StoreError, decode_err, on_pool};

/// A link's target: the provider's object name and record id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub object: String,
    pub remote_id: String,
}

impl Store {
    /// The record `key` is linked to on `connection_id`.
    pub async fn get_link(
        &self,
        connection_id: i64,
        key: &str,
    ) -> Result<Option<Link>, StoreError> {
        on_pool!(self, write, |pool| {
            let row = sqlx::query(
                "SELECT object, remote_id FROM links WHERE connection_id = $1 AND link_key = $2",
            )
            .bind(connection_id)
            .bind(key)
            .fetch_optional(pool)
            .await?;
            row.map(|r| {
                Ok(Link {
                    object: r.text("object")?,
                    remote_id: r.text("remote_id")?,
                })
            })
            .transpose()
        })
    }

    /// Links `key` to `link` on `connection_id`, replacing an older link.
    pub async fn put_link(
        &self,
        tenant: &TenantId,
        connection_id: i64,
        key: &str,
        link: &Link,
        now: Millis,
    ) -> Result<(), StoreError> {
        if key.is_empty() || link.remote_id.is_empty() {
            return Err(decode_err("links.link_key", "empty link key or record id"));
        }
        on_pool!(self, write, |pool| {
            sqlx::query(
                "INSERT INTO links (connection_id, link_key, tenant_id, object, remote_id,
                     created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $6)
                 ON CONFLICT (connection_id, link_key) DO UPDATE
                     SET object = excluded.object, remote_id = excluded.remote_id,
                         updated_at = excluded.updated_at",
            )
            .bind(connection_id)
            .bind(key)
            .bind(tenant.as_str())
            .bind(&link.object)
            .bind(&link.remote_id)
            .bind(now.0)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Forgets `key` on `connection_id` (its record is gone at the provider).
    pub async fn delete_link(&self, connection_id: i64, key: &str) -> Result<(), StoreError> {
        on_pool!(self, write, |pool| {
            sqlx::query("DELETE FROM links WHERE connection_id = $1 AND link_key = $2")
                .bind(connection_id)
                .bind(key)
                .execute(pool)
                .await?;
            Ok(())
        })
    }
}
