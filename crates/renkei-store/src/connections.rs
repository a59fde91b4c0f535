//! Connections and their credentials, sealed with the [`Keyring`] before they touch the disk.
//!
//! The connect flows and the token lifecycle that fill this table belong to the connections
//! issue; what lives here now is the storage contract they build on: one row per (tenant,
//! provider, member), credentials encrypted with AES-256-GCM under an AAD naming that row, and
//! the id of the key that sealed them so rotation can find rows still under an old key.

use renkei_core::{Keyring, MemberId, Millis, Secret, TenantId};

use crate::{DbRow, Store, StoreError, on_pool};

/// A stored connection with its credentials opened.
#[derive(Debug, Clone)]
pub struct ConnectionCredentials {
    pub id: i64,
    pub status: String,
    pub account_id: Option<String>,
    pub key_id: String,
    pub credentials: Secret<Vec<u8>>,
    pub updated_at: Millis,
}

/// The additional authenticated data binding a ciphertext to its row.
fn aad(tenant: &TenantId, provider: &str, member: Option<&MemberId>) -> String {
    format!(
        "connection:{tenant}:{provider}:{}",
        member.map_or("", MemberId::as_str)
    )
}

impl Store {
    /// Creates or replaces the credentials of a connection; returns its id.
    #[allow(clippy::too_many_arguments)]
    pub async fn put_connection_credentials(
        &self,
        keyring: &Keyring,
        tenant: &TenantId,
        provider: &str,
        member: Option<&MemberId>,
        account_id: Option<&str>,
        credentials: &Secret<Vec<u8>>,
        now: Millis,
    ) -> Result<i64, StoreError> {
        let sealed = keyring.encrypt(credentials.expose(), &aad(tenant, provider, member))?;
        on_pool!(self, write, |pool| {
            let row = sqlx::query(
                "INSERT INTO connections (tenant_id, member_id, provider, status, account_id, credentials,
                     key_id, settings, created_at, updated_at)
                 VALUES ($1, $2, $3, 'active', $4, $5, $6, '{}', $7, $7)
                 ON CONFLICT (tenant_id, provider, member_id) DO UPDATE SET
                     credentials = excluded.credentials, key_id = excluded.key_id,
                     account_id = excluded.account_id, status = 'active', updated_at = excluded.updated_at
                 RETURNING id",
            )
            .bind(tenant.as_str())
            .bind(member.map_or("", MemberId::as_str))
            .bind(provider)
            .bind(account_id)
            .bind(&sealed)
            .bind(keyring.primary_key_id())
            .bind(now.0)
            .fetch_one(pool)
            .await?;
            Ok(row.int("id")?)
        })
    }

    pub async fn get_connection_credentials(
        &self,
        keyring: &Keyring,
        tenant: &TenantId,
        provider: &str,
        member: Option<&MemberId>,
    ) -> Result<Option<ConnectionCredentials>, StoreError> {
        let row = on_pool!(self, read, |pool| {
            let row = sqlx::query(
                "SELECT id, status, account_id, credentials, key_id, updated_at FROM connections
                 WHERE tenant_id = $1 AND provider = $2 AND member_id = $3",
            )
            .bind(tenant.as_str())
            .bind(provider)
            .bind(member.map_or("", MemberId::as_str))
            .fetch_optional(pool)
            .await?;
            match row {
                None => None,
                Some(r) => Some((
                    r.int("id")?,
                    r.text("status")?,
                    r.opt_text("account_id")?,
                    r.bytes("credentials")?,
                    r.text("key_id")?,
                    r.int("updated_at")?,
                )),
            }
        });
        let Some((id, status, account_id, sealed, key_id, updated_at)) = row else {
            return Ok(None);
        };
        let plain = keyring.decrypt(&sealed, &aad(tenant, provider, member))?;
        Ok(Some(ConnectionCredentials {
            id,
            status,
            account_id,
            key_id,
            credentials: Secret::new(plain),
            updated_at: Millis(updated_at),
        }))
    }
}
