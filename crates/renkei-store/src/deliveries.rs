//! Deliveries: the write-back audit trail. One row per (event, connection, step) that routing
//! decided, with its status, attempts, the provider's last HTTP status, the remote records
//! written so far and the last error or the reason it was skipped or is waiting.
//!
//! A delivery's `remote_ids` object doubles as the progress of a recipe that writes several
//! records (a person, then an account, then the activity): each write is saved under its own
//! name as soon as it lands, so a retry continues where the last attempt stopped instead of
//! writing again. Statuses move `pending` → `succeeded` | `failed` | `dead` | `skipped`; a
//! retry (`POST …/deliveries/{id}/retry`) moves a finished delivery back to `pending`.

use renkei_core::{EventId, MemberId, Millis, TenantId};
use serde_json::{Map, Value};

use crate::{DbRow, Store, StoreError, Tx, decode_err, on_pool, on_tx};

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    /// Waiting for its job (first run, a retry, a rate limit or a re-authorisation).
    Pending,
    Succeeded,
    /// The provider refused the input, or the write cannot be done as configured; retrying
    /// the same input cannot help.
    Failed,
    /// Transient failures used up every attempt.
    Dead,
    /// Nothing was written, on purpose; `reason` says why.
    Skipped,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 5] = [
        DeliveryStatus::Pending,
        DeliveryStatus::Succeeded,
        DeliveryStatus::Failed,
        DeliveryStatus::Dead,
        DeliveryStatus::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Dead => "dead",
            DeliveryStatus::Skipped => "skipped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Whether the delivery's job has finished with it.
    pub fn is_final(self) -> bool {
        self != DeliveryStatus::Pending
    }
}

/// A delivery to record at routing time.
#[derive(Debug, Clone)]
pub struct NewDelivery<'a> {
    pub tenant: &'a TenantId,
    pub event_seq: i64,
    pub connection_id: i64,
    pub step: &'a str,
    pub subject: Option<&'a str>,
    pub record_key: Option<&'a str>,
    pub member: Option<&'a MemberId>,
    /// `Some` records the delivery as already `skipped` with this reason.
    pub skipped: Option<&'a str>,
}

/// A delivery, with its event's id and type and its connection's provider.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: i64,
    pub tenant: TenantId,
    pub event_seq: i64,
    pub event_id: EventId,
    pub event_type: String,
    pub connection_id: i64,
    /// `None` once the connection was deleted.
    pub provider: Option<String>,
    pub member: Option<MemberId>,
    pub step: String,
    pub subject: Option<String>,
    pub record_key: Option<String>,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub provider_status: Option<i64>,
    /// The records written, by name (`{"activity": {"object": "Task", "id": "00T…"}}`).
    pub remote_ids: Map<String, Value>,
    pub error: Option<String>,
    pub reason: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// The outcome of one attempt, as [`Store::record_delivery_attempt`] records it.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    pub status: DeliveryStatus,
    pub provider_status: Option<i64>,
    pub error: Option<&'a str>,
    pub reason: Option<&'a str>,
}

/// Which deliveries to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub status: Option<DeliveryStatus>,
    pub event_seq: Option<i64>,
    /// Only deliveries with an id below this one (the cursor of the previous page).
    pub before_id: Option<i64>,
    pub limit: i64,
}

const SELECT: &str =
    "SELECT d.id, d.tenant_id, d.event_seq, e.id AS event_id, e.type AS event_type,
        d.connection_id, c.provider, d.member_id, d.step, d.subject, d.record_key, d.status,
        d.attempts, d.provider_status, d.remote_ids, d.error, d.reason, d.created_at, d.updated_at
    FROM deliveries d
    JOIN events e ON e.seq = d.event_seq
    LEFT JOIN connections c ON c.id = d.connection_id";

fn from_row(r: &impl DbRow) -> Result<Delivery, StoreError> {
    let status = r.text("status")?;
    Ok(Delivery {
        id: r.int("id")?,
        tenant: TenantId::parse(&r.text("tenant_id")?)
            .map_err(|e| decode_err("deliveries.tenant_id", e))?,
        event_seq: r.int("event_seq")?,
        event_id: EventId::parse(&r.text("event_id")?).map_err(|e| decode_err("events.id", e))?,
        event_type: r.text("event_type")?,
        connection_id: r.int("connection_id")?,
        provider: r.opt_text("provider")?,
        member: r
            .opt_text("member_id")?
            .map(|m| MemberId::parse(&m).map_err(|e| decode_err("deliveries.member_id", e)))
            .transpose()?,
        step: r.text("step")?,
        subject: r.opt_text("subject")?,
        record_key: r.opt_text("record_key")?,
        status: DeliveryStatus::parse(&status)
            .ok_or_else(|| decode_err("deliveries.status", status))?,
        attempts: r.int("attempts")?,
        provider_status: r.opt_int("provider_status")?,
        remote_ids: match r.opt_text("remote_ids")? {
            Some(s) => match serde_json::from_str::<Value>(&s)
                .map_err(|e| decode_err("deliveries.remote_ids", e))?
            {
                Value::Object(m) => m,
                // Rows written before remote_ids held an object (a single record) keep it
                // under one name rather than failing to read.
                other => Map::from_iter([("record".to_owned(), other)]),
            },
            None => Map::new(),
        },
        error: r.opt_text("error")?,
        reason: r.opt_text("reason")?,
        created_at: Millis(r.int("created_at")?),
        updated_at: Millis(r.int("updated_at")?),
    })
}

impl Store {
    /// Records a delivery in `tx` (pending, or skipped with its reason); `None` when the
    /// (event, connection, step) already has one (a routing job that ran twice).
    pub async fn insert_delivery(
        &self,
        tx: &mut Tx,
        d: &NewDelivery<'_>,
        now: Millis,
    ) -> Result<Option<i64>, StoreError> {
        let status = match d.skipped {
            Some(_) => DeliveryStatus::Skipped,
            None => DeliveryStatus::Pending,
        };
        on_tx!(tx, |conn| {
            Ok(sqlx::query_scalar(
                "INSERT INTO deliveries (tenant_id, event_seq, connection_id, step, status,
                     attempts, created_at, updated_at, subject, record_key, member_id, reason)
                 VALUES ($1, $2, $3, $4, $5, 0, $6, $6, $7, $8, $9, $10)
                 ON CONFLICT (event_seq, connection_id, step) DO NOTHING
                 RETURNING id",
            )
            .bind(d.tenant.as_str())
            .bind(d.event_seq)
            .bind(d.connection_id)
            .bind(d.step)
            .bind(status.as_str())
            .bind(now.0)
            .bind(d.subject)
            .bind(d.record_key)
            .bind(d.member.map(MemberId::as_str))
            .bind(d.skipped)
            .fetch_optional(&mut *conn)
            .await?)
        })
    }

    /// Records an attempt: its status (`pending` while it will be retried), the provider's
    /// HTTP status, the error or the reason. The remote ids are saved separately, as they
    /// land ([`Store::save_delivery_remote`]).
    pub async fn record_delivery_attempt(
        &self,
        id: i64,
        a: Attempt<'_>,
        now: Millis,
    ) -> Result<(), StoreError> {
        on_pool!(self, write, |pool| {
            sqlx::query(
                "UPDATE deliveries SET status = $2, attempts = attempts + 1,
                     provider_status = COALESCE($3, provider_status), error = $4, reason = $5,
                     updated_at = $6
                 WHERE id = $1",
            )
            .bind(id)
            .bind(a.status.as_str())
            .bind(a.provider_status)
            .bind(a.error)
            .bind(a.reason)
            .bind(now.0)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Says why a pending delivery is waiting (a re-authorisation, a rate limit) without
    /// counting an attempt; `None` clears it.
    pub async fn set_delivery_reason(
        &self,
        id: i64,
        reason: Option<&str>,
        now: Millis,
    ) -> Result<(), StoreError> {
        on_pool!(self, write, |pool| {
            sqlx::query(
                "UPDATE deliveries SET reason = $2, updated_at = $3
                 WHERE id = $1 AND status = 'pending'",
            )
            .bind(id)
            .bind(reason)
            .bind(now.0)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Saves the remote ids written so far (the whole object), right after a write landed.
    pub async fn save_delivery_remote(
        &self,
        id: i64,
        remote_ids: &Map<String, Value>,
        now: Millis,
    ) -> Result<(), StoreError> {
        let json = Value::Object(remote_ids.clone()).to_string();
        on_pool!(self, write, |pool| {
            sqlx::query("UPDATE deliveries SET remote_ids = $2, updated_at = $3 WHERE id = $1")
                .bind(id)
                .bind(&json)
                .bind(now.0)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// One delivery of `tenant`.
    pub async fn get_delivery(
        &self,
        tenant: &TenantId,
        id: i64,
    ) -> Result<Option<Delivery>, StoreError> {
        let sql = format!("{SELECT} WHERE d.tenant_id = $1 AND d.id = $2");
        on_pool!(self, write, |pool| {
            let row = sqlx::query(&sql)
                .bind(tenant.as_str())
                .bind(id)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(from_row).transpose()
        })
    }

    /// The deliveries an event caused, oldest first.
    pub async fn list_event_deliveries(
        &self,
        tenant: &TenantId,
        seq: i64,
    ) -> Result<Vec<Delivery>, StoreError> {
        let sql = format!("{SELECT} WHERE d.tenant_id = $1 AND d.event_seq = $2 ORDER BY d.id");
        on_pool!(self, read, |pool| {
            let rows = sqlx::query(&sql)
                .bind(tenant.as_str())
                .bind(seq)
                .fetch_all(pool)
                .await?;
            rows.iter().map(from_row).collect()
        })
    }

    /// A page of `tenant`'s deliveries, newest first.
    pub async fn list_deliveries(
        &self,
        tenant: &TenantId,
        f: &DeliveryFilter,
    ) -> Result<Vec<Delivery>, StoreError> {
        // Absent filters bind NULL and match everything, so one statement serves every
        // combination on both backends.
        let sql = format!(
            "{SELECT} WHERE d.tenant_id = $1
                 AND ($2 IS NULL OR d.status = $2)
                 AND ($3 IS NULL OR d.event_seq = $3)
                 AND ($4 IS NULL OR d.id < $4)
             ORDER BY d.id DESC LIMIT $5"
        );
        let status = f.status.map(DeliveryStatus::as_str);
        on_pool!(self, read, |pool| {
            let rows = sqlx::query(&sql)
                .bind(tenant.as_str())
                .bind(status)
                .bind(f.event_seq)
                .bind(f.before_id)
                .bind(f.limit)
                .fetch_all(pool)
                .await?;
            rows.iter().map(from_row).collect()
        })
    }

    /// Counts of `tenant`'s deliveries per status.
    pub async fn delivery_counts(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<(DeliveryStatus, i64)>, StoreError> {
        on_pool!(self, read, |pool| {
            let rows = sqlx::query(
                "SELECT status, COUNT(*) AS n FROM deliveries WHERE tenant_id = $1
                 GROUP BY status ORDER BY status",
            )
            .bind(tenant.as_str())
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    let s = r.text("status")?;
                    Ok((
                        DeliveryStatus::parse(&s)
                            .ok_or_else(|| decode_err("deliveries.status", s))?,
                        r.int("n")?,
                    ))
                })
                .collect()
        })
    }

    /// Moves a finished delivery back to `pending` in `tx` (its job is enqueued by the
    /// caller in the same transaction). `false` when it is not of `tenant` or still pending.
    pub async fn reopen_delivery(
        &self,
        tx: &mut Tx,
        tenant: &TenantId,
        id: i64,
        now: Millis,
    ) -> Result<bool, StoreError> {
        on_tx!(tx, |conn| {
            let done = sqlx::query(
                "UPDATE deliveries SET status = 'pending', error = NULL, reason = NULL,
                     updated_at = $3
                 WHERE tenant_id = $1 AND id = $2 AND status <> 'pending'",
            )
            .bind(tenant.as_str())
            .bind(id)
            .bind(now.0)
            .execute(&mut *conn)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// The deliveries of `connection` about `subject` (`call:…`) at `step`, oldest first.
    pub async fn deliveries_about(
        &self,
        connection_id: i64,
        subject: &str,
        step: &str,
    ) -> Result<Vec<Delivery>, StoreError> {
        let sql = format!(
            "{SELECT} WHERE d.connection_id = $1 AND d.subject = $2 AND d.step = $3 ORDER BY d.id"
        );
        on_pool!(self, write, |pool| {
            let rows = sqlx::query(&sql)
                .bind(connection_id)
                .bind(subject)
                .bind(step)
                .fetch_all(pool)
                .await?;
            rows.iter().map(from_row).collect()
        })
    }

    /// Members of `tenant` with deliveries skipped for `reason_code` (the text before the
    /// first colon of `reason`) by the connection `connection_id`, with how many.
    pub async fn skipped_members(
        &self,
        tenant: &TenantId,
        connection_id: i64,
        reason_code: &str,
    ) -> Result<Vec<(MemberId, i64)>, StoreError> {
        // A prefix comparison rather than LIKE, whose `_` would match any character of a code.
        let prefix = format!("{reason_code}:");
        // The length is ours, not user text: formatted in, so PostgreSQL sees an integer
        // literal where `substr` wants one.
        let sql = format!(
            "SELECT member_id, COUNT(*) AS n FROM deliveries
             WHERE tenant_id = $1 AND connection_id = $2 AND status = 'skipped'
                 AND substr(reason, 1, {}) = $3 AND member_id IS NOT NULL
             GROUP BY member_id ORDER BY member_id",
            prefix.chars().count()
        );
        on_pool!(self, read, |pool| {
            let rows = sqlx::query(&sql)
                .bind(tenant.as_str())
                .bind(connection_id)
                .bind(&prefix)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| {
                    let m = r.text("member_id")?;
                    Ok((
                        MemberId::parse(&m).map_err(|e| decode_err("deliveries.member_id", e))?,
                        r.int("n")?,
                    ))
                })
                .collect()
        })
    }
}
