//! API keys: stored as hashes, optionally scoped to one tenant.

use renkei_core::{Millis, TenantId};

use crate::{DbRow, Store, StoreError, decode_err, on_pool};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// The public part of the key (`rk_<id>_…`).
    pub id: String,
    pub name: String,
    /// `None`: the key may act on every tenant (the host app's own key). `Some`: only that one.
    pub tenant: Option<TenantId>,
    pub created_at: Millis,
    pub revoked_at: Option<Millis>,
}

fn from_row(row: &impl DbRow) -> Result<ApiKey, StoreError> {
    let tenant = row
        .opt_text("tenant_id")?
        .map(|t| TenantId::parse(&t).map_err(|e| decode_err("api_keys.tenant_id", e)))
        .transpose()?;
    Ok(ApiKey {
        id: row.text("id")?,
        name: row.text("name")?,
        tenant,
        created_at: Millis(row.int("created_at")?),
        revoked_at: row.opt_int("revoked_at")?.map(Millis),
    })
}

const COLUMNS: &str = "id, name, tenant_id, created_at, revoked_at";

impl Store {
    pub async fn create_api_key(
        &self,
        id: &str,
        name: &str,
        secret_hash: &str,
        tenant: Option<&TenantId>,
        now: Millis,
    ) -> Result<ApiKey, StoreError> {
        let sql = format!(
            "INSERT INTO api_keys (id, name, secret_hash, tenant_id, created_at) VALUES ($1, $2, $3, $4, $5)
             RETURNING {COLUMNS}"
        );
        on_pool!(self, write, |pool| {
            let row = sqlx::query(&sql)
                .bind(id)
                .bind(name)
                .bind(secret_hash)
                .bind(tenant.map(TenantId::as_str))
                .bind(now.0)
                .fetch_one(pool)
                .await?;
            from_row(&row)
        })
    }

    /// The live (not revoked) key with this hash.
    pub async fn authenticate_api_key(
        &self,
        secret_hash: &str,
    ) -> Result<Option<ApiKey>, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM api_keys WHERE secret_hash = $1 AND revoked_at IS NULL");
        on_pool!(self, read, |pool| {
            let row = sqlx::query(&sql)
                .bind(secret_hash)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(from_row).transpose()
        })
    }

    pub async fn list_api_keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM api_keys ORDER BY created_at, id");
        on_pool!(self, read, |pool| {
            let rows = sqlx::query(&sql).fetch_all(pool).await?;
            rows.iter().map(from_row).collect()
        })
    }

    /// Revokes a key by id. `Ok(false)` when no live key has that id.
    pub async fn revoke_api_key(&self, id: &str, now: Millis) -> Result<bool, StoreError> {
        on_pool!(self, write, |pool| {
            let done = sqlx::query(
                "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            )
            .bind(id)
            .bind(now.0)
            .execute(pool)
            .await?;
            Ok(done.rows_affected() > 0)
        })
    }
}
