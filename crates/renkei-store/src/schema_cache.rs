//! The schema cache: a provider's answer about a connection's objects and fields, kept as
//! renkei's own JSON so that settings screens and actions do not describe the CRM on every
//! use. What the JSON holds and when it is stale is the engine's business
//! (`renkei_engine::schema`); this module only stores it.

use renkei_core::Millis;

use crate::{DbRow, Store, StoreError, on_pool};

/// One cached answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedSchema {
    pub body: String,
    pub fetched_at: Millis,
}

impl Store {
    /// The answer cached under `key` for `connection_id`, if any.
    pub async fn get_schema_cache(
        &self,
        connection_id: i64,
        key: &str,
    ) -> Result<Option<CachedSchema>, StoreError> {
        on_pool!(self, read, |pool| {
            let row = sqlx::query(
                "SELECT body, fetched_at FROM schema_cache
                 WHERE connection_id = $1 AND cache_key = $2",
            )
            .bind(connection_id)
            .bind(key)
            .fetch_optional(pool)
            .await?;
            row.map(|r| {
                Ok(CachedSchema {
                    body: r.text("body")?,
                    fetched_at: Millis(r.int("fetched_at")?),
                })
            })
            .transpose()
        })
    }

    /// Caches `body` under `key` for `connection_id`, replacing an older answer.
    pub async fn put_schema_cache(
        &self,
        connection_id: i64,
        key: &str,
        body: &str,
        now: Millis,
    ) -> Result<(), StoreError> {
        on_pool!(self, write, |pool| {
            sqlx::query(
                "INSERT INTO schema_cache (connection_id, cache_key, body, fetched_at)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (connection_id, cache_key)
                 DO UPDATE SET body = excluded.body, fetched_at = excluded.fetched_at",
            )
            .bind(connection_id)
            .bind(key)
            .bind(body)
            .bind(now.0)
            .execute(pool)
            .await?;
            Ok(())
        })
    }
}
