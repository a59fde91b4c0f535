//! Events as the host app posted them, and the record of their routing.
//!
//! An event is stored once per `(tenant, id)`: the id is the host app's idempotency key, so a
//! second post of the same id is reported as a duplicate and stores nothing. Routing (which
//! connections an event causes writes to) is recorded on the event row by the routing job, in
//! the same transaction that completes that job.

use renkei_core::{EventId, MemberId, Millis, TenantId};
use serde_json::Value;

use crate::{DbRow, Store, StoreError, Tx, decode_err, on_pool, on_tx};

/// An event ready to store: validated and in canonical form.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub tenant: &'a TenantId,
    pub id: &'a EventId,
    pub event_type: &'a str,
    pub occurred_at: Millis,
    pub member: Option<&'a MemberId>,
    /// The canonical JSON of the event's data.
    pub data: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoutingStatus {
    /// Not routed yet: its routing job is queued or running.
    Pending,
    Routed,
}

impl RoutingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RoutingStatus::Pending => "pending",
            RoutingStatus::Routed => "routed",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub seq: i64,
    pub tenant: TenantId,
    pub id: EventId,
    pub event_type: String,
    pub occurred_at: Millis,
    pub member: Option<MemberId>,
    pub data: Value,
    pub received_at: Millis,
    pub routing_status: RoutingStatus,
    pub routing_note: Option<String>,
    pub routed_at: Option<Millis>,
    /// How many times a routing job ran to completion for this event. Exactly one for every
    /// routed event; anything else is a bug in the queue's exactly-once-in-effect guarantee.
    pub routing_runs: i64,
}

/// Counts over a tenant's events, for operators and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RoutingStats {
    pub total: i64,
    pub pending: i64,
    pub routed: i64,
    /// Routed events whose routing ran more than once (should always be zero).
    pub routed_more_than_once: i64,
}

/// The first key of the routing advisory lock on PostgreSQL ([`Store::lock_routing`]): "rk".
const ROUTING_LOCK_CLASS: i32 = 0x726b;

const COLUMNS: &str = "seq, tenant_id, id, type, occurred_at, member_id, data, received_at, \
                       routing_status, routing_note, routed_at, routing_runs";

fn from_row(row: &impl DbRow) -> Result<StoredEvent, StoreError> {
    let data = row.text("data")?;
    Ok(StoredEvent {
        seq: row.int("seq")?,
        tenant: TenantId::parse(&row.text("tenant_id")?)
            .map_err(|e| decode_err("events.tenant_id", e))?,
        id: EventId::parse(&row.text("id")?).map_err(|e| decode_err("events.id", e))?,
        event_type: row.text("type")?,
        occurred_at: Millis(row.int("occurred_at")?),
        member: row
            .opt_text("member_id")?
            .map(|m| MemberId::parse(&m).map_err(|e| decode_err("events.member_id", e)))
            .transpose()?,
        data: serde_json::from_str(&data).map_err(|e| decode_err("events.data", e))?,
        received_at: Millis(row.int("received_at")?),
        routing_status: match row.text("routing_status")?.as_str() {
            "pending" => RoutingStatus::Pending,
            "routed" => RoutingStatus::Routed,
            other => return Err(decode_err("events.routing_status", other)),
        },
        routing_note: row.opt_text("routing_note")?,
        routed_at: row.opt_int("routed_at")?.map(Millis),
        routing_runs: row.int("routing_runs")?,
    })
}

impl Store {
    /// Stores many events, of one tenant or several, in one statement per 100, skipping ids
    /// their tenant already has. Returns, in input order, each event's sequence number, or
    /// `None` for a duplicate. The same (tenant, id) must not appear twice in `events`.
    pub async fn insert_events(
        &self,
        tx: &mut Tx,
        events: &[NewEvent<'_>],
        now: Millis,
    ) -> Result<Vec<Option<i64>>, StoreError> {
        let mut seqs: std::collections::HashMap<(String, String), i64> = Default::default();
        for chunk in events.chunks(100) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let p: Vec<String> = (2 + i * 6..8 + i * 6).map(|n| format!("${n}")).collect();
                    format!("({}, $1, 'pending', 0)", p.join(", "))
                })
                .collect();
            let sql = format!(
                "INSERT INTO events (tenant_id, id, type, occurred_at, member_id, data, received_at,
                     routing_status, routing_runs)
                 VALUES {}
                 ON CONFLICT (tenant_id, id) DO NOTHING
                 RETURNING seq, tenant_id, id",
                rows.join(", ")
            );
            on_tx!(tx, |conn| {
                let mut q = sqlx::query(&sql)
                    .persistent(crate::cached(chunk.len(), 100))
                    .bind(now.0);
                for e in chunk {
                    q = q
                        .bind(e.tenant.as_str())
                        .bind(e.id.as_str())
                        .bind(e.event_type)
                        .bind(e.occurred_at.0)
                        .bind(e.member.map(MemberId::as_str))
                        .bind(&e.data);
                }
                for row in q.fetch_all(&mut *conn).await? {
                    seqs.insert((row.text("tenant_id")?, row.text("id")?), row.int("seq")?);
                }
            });
        }
        Ok(events
            .iter()
            .map(|e| {
                seqs.get(&(e.tenant.as_str().to_owned(), e.id.as_str().to_owned()))
                    .copied()
            })
            .collect())
    }

    pub async fn get_event(
        &self,
        tenant: &TenantId,
        id: &EventId,
    ) -> Result<Option<StoredEvent>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM events WHERE tenant_id = $1 AND id = $2");
        on_pool!(self, read, |pool| {
            let row = sqlx::query(&sql)
                .bind(tenant.as_str())
                .bind(id.as_str())
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(from_row).transpose()
        })
    }

    /// Records that an event was routed, inside the transaction that completes its routing
    /// job. Returns the event's type, or `None` when the tenant has no such event.
    pub async fn mark_event_routed(
        &self,
        tx: &mut Tx,
        tenant: &TenantId,
        seq: i64,
        note: &str,
        now: Millis,
    ) -> Result<Option<String>, StoreError> {
        on_tx!(tx, |conn| {
            let row = sqlx::query(
                "UPDATE events SET routing_status = 'routed', routing_note = $3,
                     routed_at = COALESCE(routed_at, $4), routing_runs = routing_runs + 1
                 WHERE tenant_id = $1 AND seq = $2
                 RETURNING type",
            )
            .bind(tenant.as_str())
            .bind(seq)
            .bind(note)
            .bind(now.0)
            .fetch_optional(&mut *conn)
            .await?;
            row.map(|r| r.text("type"))
                .transpose()
                .map_err(StoreError::from)
        })
    }

    /// One event by its sequence number.
    pub async fn get_event_by_seq(
        &self,
        tenant: &TenantId,
        seq: i64,
    ) -> Result<Option<StoredEvent>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM events WHERE tenant_id = $1 AND seq = $2");
        on_pool!(self, write, |pool| {
            let row = sqlx::query(&sql)
                .bind(tenant.as_str())
                .bind(seq)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(from_row).transpose()
        })
    }

    /// Takes the tenant's routing turn until `tx` ends, so that routing jobs of one tenant
    /// route one at a time, in whatever processes they run.
    ///
    /// PostgreSQL takes a transaction-scoped advisory lock on the tenant (the two-key form,
    /// whose key space does not overlap the one-key form sqlx's migrator uses). SQLite needs
    /// nothing: [`Store::begin`] starts with `BEGIN IMMEDIATE`, which already holds the only
    /// write lock.
    pub async fn lock_routing(&self, tx: &mut Tx, tenant: &TenantId) -> Result<(), StoreError> {
        if let crate::TxInner::Postgres(t) = &mut tx.inner {
            sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
                .bind(ROUTING_LOCK_CLASS)
                .bind(tenant.as_str())
                .execute(&mut **t)
                .await?;
        }
        Ok(())
    }

    /// The tenant's events still pending routing whose sequence number is at most `through`,
    /// oldest first, at most `limit`, read in `tx` (after [`Store::lock_routing`], so no other
    /// routing job is changing them).
    pub async fn pending_events_through(
        &self,
        tx: &mut Tx,
        tenant: &TenantId,
        through: i64,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM events
             WHERE tenant_id = $1 AND routing_status = 'pending' AND seq <= $2
             ORDER BY seq LIMIT $3"
        );
        on_tx!(tx, |conn| {
            let rows = sqlx::query(&sql)
                .bind(tenant.as_str())
                .bind(through)
                .bind(limit)
                .fetch_all(&mut *conn)
                .await?;
            rows.iter().map(from_row).collect()
        })
    }

    pub async fn routing_stats(&self, tenant: &TenantId) -> Result<RoutingStats, StoreError> {
        on_pool!(self, read, |pool| {
            let row = sqlx::query(
                "SELECT COUNT(*) AS total,
                     COALESCE(SUM(CASE WHEN routing_status = 'pending' THEN 1 ELSE 0 END), 0) AS pending,
                     COALESCE(SUM(CASE WHEN routing_status = 'routed' THEN 1 ELSE 0 END), 0) AS routed,
                     COALESCE(SUM(CASE WHEN routing_runs > 1 THEN 1 ELSE 0 END), 0) AS more
                 FROM events WHERE tenant_id = $1",
            )
            .bind(tenant.as_str())
            .fetch_one(pool)
            .await?;
            Ok(RoutingStats {
                total: row.int("total")?,
                pending: row.int("pending")?,
                routed: row.int("routed")?,
                routed_more_than_once: row.int("more")?,
            })
        })
    }
}
