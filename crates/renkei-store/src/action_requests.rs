//! The idempotency records of actions: per tenant and idempotency key, the fingerprint of the
//! first request and, once it is known, its answer. The engine (`renkei_engine::actions`)
//! decides what an answer is and how long a key counts; this module makes claiming a key
//! race-safe: of two requests inserting the same key at once, exactly one claims it.

use renkei_core::{Millis, TenantId};

use crate::{DbRow, Store, StoreError, on_pool};

/// What [`Store::claim_action`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionClaim {
    /// The key is this request's: run the action, then [`Store::finish_action`] (or
    /// [`Store::release_action`] when nothing was written).
    Claimed { started_at: Millis },
    /// An earlier request holds the key.
    Held {
        action: String,
        fingerprint: String,
        /// Its answer; `None` while it is still running.
        answer: Option<String>,
    },
}

impl Store {
    /// Claims `key` for a request, unless a request that still counts holds it. A row started
    /// before `expired_before` (a day ago) no longer counts, nor does an unanswered one started
    /// before `abandoned_before` (its process died mid-action): either is taken over with a
    /// conditional update, so that of two takers only one wins.
    #[allow(clippy::too_many_arguments)]
    pub async fn claim_action(
        &self,
        tenant: &TenantId,
        key: &str,
        action: &str,
        fingerprint: &str,
        now: Millis,
        expired_before: Millis,
        abandoned_before: Millis,
    ) -> Result<ActionClaim, StoreError> {
        // A few rounds at most: each lost race means another request changed the row, and the
        // next read sees what it did.
        for _ in 0..4 {
            let inserted = on_pool!(self, write, |pool| {
                sqlx::query(
                    "INSERT INTO action_requests
                         (tenant_id, idempotency_key, action, fingerprint, started_at)
                     VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (tenant_id, idempotency_key) DO NOTHING",
                )
                .bind(tenant.as_str())
                .bind(key)
                .bind(action)
                .bind(fingerprint)
                .bind(now.0)
                .execute(pool)
                .await?
                .rows_affected()
            });
            if inserted == 1 {
                return Ok(ActionClaim::Claimed { started_at: now });
            }
            let row = on_pool!(self, write, |pool| {
                let row = sqlx::query(
                    "SELECT action, fingerprint, answer, started_at FROM action_requests
                     WHERE tenant_id = $1 AND idempotency_key = $2",
                )
                .bind(tenant.as_str())
                .bind(key)
                .fetch_optional(pool)
                .await?;
                row.map(|r| {
                    Ok::<_, StoreError>((
                        r.text("action")?,
                        r.text("fingerprint")?,
                        r.opt_text("answer")?,
                        r.int("started_at")?,
                    ))
                })
                .transpose()?
            });
            let Some((held_action, held_fingerprint, answer, started_at)) = row else {
                // Deleted between the insert and the read (a released claim): try again.
                continue;
            };
            let expired = started_at < expired_before.0;
            let abandoned = answer.is_none() && started_at < abandoned_before.0;
            if !expired && !abandoned {
                return Ok(ActionClaim::Held {
                    action: held_action,
                    fingerprint: held_fingerprint,
                    answer,
                });
            }
            let taken = on_pool!(self, write, |pool| {
                sqlx::query(
                    "UPDATE action_requests
                     SET action = $3, fingerprint = $4, answer = NULL, started_at = $5,
                         finished_at = NULL
                     WHERE tenant_id = $1 AND idempotency_key = $2 AND started_at = $6",
                )
                .bind(tenant.as_str())
                .bind(key)
                .bind(action)
                .bind(fingerprint)
                .bind(now.0)
                .bind(started_at)
                .execute(pool)
                .await?
                .rows_affected()
            });
            if taken == 1 {
                return Ok(ActionClaim::Claimed { started_at: now });
            }
        }
        Err(StoreError::Conflict(format!(
            "the idempotency key {key:?} keeps changing hands"
        )))
    }

    /// The stored answer under `key`: `None` when no request holds the key (it was released),
    /// `Some(None)` while the holder is still running.
    pub async fn action_answer(
        &self,
        tenant: &TenantId,
        key: &str,
    ) -> Result<Option<Option<String>>, StoreError> {
        on_pool!(self, read, |pool| {
            let row = sqlx::query(
                "SELECT answer FROM action_requests WHERE tenant_id = $1 AND idempotency_key = $2",
            )
            .bind(tenant.as_str())
            .bind(key)
            .fetch_optional(pool)
            .await?;
            row.map(|r| r.opt_text("answer"))
                .transpose()
                .map_err(StoreError::from)
        })
    }

    /// Records the answer of the request that claimed `key` at `started_at`.
    pub async fn finish_action(
        &self,
        tenant: &TenantId,
        key: &str,
        started_at: Millis,
        answer: &str,
        now: Millis,
    ) -> Result<(), StoreError> {
        on_pool!(self, write, |pool| {
            sqlx::query(
                "UPDATE action_requests SET answer = $4, finished_at = $5
                 WHERE tenant_id = $1 AND idempotency_key = $2 AND started_at = $3",
            )
            .bind(tenant.as_str())
            .bind(key)
            .bind(started_at.0)
            .bind(answer)
            .bind(now.0)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Gives `key` up after a request that wrote nothing (the CRM refused it before any
    /// write, or was not reached), so that the same request may be sent again.
    pub async fn release_action(
        &self,
        tenant: &TenantId,
        key: &str,
        started_at: Millis,
    ) -> Result<(), StoreError> {
        on_pool!(self, write, |pool| {
            sqlx::query(
                "DELETE FROM action_requests
                 WHERE tenant_id = $1 AND idempotency_key = $2 AND started_at = $3",
            )
            .bind(tenant.as_str())
            .bind(key)
            .bind(started_at.0)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Deletes idempotency records started before `before`; returns how many.
    pub async fn prune_action_requests(&self, before: Millis) -> Result<u64, StoreError> {
        on_pool!(self, write, |pool| {
            let done = sqlx::query("DELETE FROM action_requests WHERE started_at < $1")
                .bind(before.0)
                .execute(pool)
                .await?;
            Ok(done.rows_affected())
        })
    }
}
