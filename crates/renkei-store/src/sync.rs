//! Sync runs (import passes), their checkpoints, and the per-object cursors of incremental sync.
//!
//! A run's `plan` (JSON, owned by the engine) lists its steps; `step` and `cursor` say where
//! it stands. The engine writes them with [`Store::save_sync_checkpoint`] in the transaction
//! that stores a page, so after a crash the run resumes at the first page not committed. A
//! page is stored either into `people` or, when the provider's pages are small, staged with
//! the run ([`Store::stage_sync_pages`]) until enough have gathered for one merge
//! ([`Store::merge_staged_pages`]). At most one run per connection is queued or running (a
//! partial unique index); [`Store::create_sync_run`] answers the active run instead of a
//! second one.

use renkei_core::{Millis, TenantId};

use crate::people::{PageGroup, PageItem, PageOutcome};
use crate::{DbRow, Store, StoreError, Tx, decode_err, on_pool, on_tx};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRun {
    pub id: i64,
    pub tenant_id: TenantId,
    pub connection_id: i64,
    pub provider: String,
    /// `initial` or `incremental`.
    pub kind: String,
    /// `api`, `cli`, `schedule`, `webhook`.
    pub started_by: String,
    /// `queued`, `running`, `paused`, `succeeded`, `failed`, `cancelled`.
    pub status: String,
    pub plan: String,
    pub step: i64,
    pub cursor: Option<String>,
    pub progress: String,
    pub error_code: Option<String>,
    pub error: Option<String>,
    pub created_at: Millis,
    pub started_at: Option<Millis>,
    pub finished_at: Option<Millis>,
    pub updated_at: Millis,
}

impl SyncRun {
    pub fn is_active(&self) -> bool {
        matches!(self.status.as_str(), "queued" | "running")
    }
}

pub struct NewSyncRun<'a> {
    pub tenant: &'a TenantId,
    pub connection_id: i64,
    pub provider: &'a str,
    pub kind: &'a str,
    pub started_by: &'a str,
    pub plan: &'a str,
    pub progress: &'a str,
}

/// Where incremental sync of one object goes on from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncCursor {
    pub changed_since: Millis,
    pub deleted_since: Millis,
}

const COLUMNS: &str = "id, tenant_id, connection_id, provider, kind, started_by, status, plan, \
    step, cursor, progress, error_code, error, created_at, started_at, finished_at, updated_at";

fn run_from_row(row: &impl DbRow) -> Result<SyncRun, StoreError> {
    Ok(SyncRun {
        id: row.int("id")?,
        tenant_id: TenantId::parse(&row.text("tenant_id")?)
            .map_err(|e| decode_err("sync_runs.tenant_id", e))?,
        connection_id: row.int("connection_id")?,
        provider: row.text("provider")?,
        kind: row.text("kind")?,
        started_by: row.text("started_by")?,
        status: row.text("status")?,
        plan: row.text("plan")?,
        step: row.int("step")?,
        cursor: row.opt_text("cursor")?,
        progress: row.text("progress")?,
        error_code: row.opt_text("error_code")?,
        error: row.opt_text("error")?,
        created_at: Millis(row.int("created_at")?),
        started_at: row.opt_int("started_at")?.map(Millis),
        finished_at: row.opt_int("finished_at")?.map(Millis),
        updated_at: Millis(row.int("updated_at")?),
    })
}

/// What [`Store::create_sync_run`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    New(i64),
    /// A run of the connection was already queued or running.
    Active(i64),
}

impl Store {
    /// Creates a queued run in `tx`, unless the connection has an active one.
    pub async fn create_sync_run(
        &self,
        tx: &mut Tx,
        run: &NewSyncRun<'_>,
        now: Millis,
    ) -> Result<Created, StoreError> {
        let active: Option<i64> = on_tx!(tx, |conn| {
            sqlx::query_scalar(
                "SELECT id FROM sync_runs
                 WHERE connection_id = $1 AND status IN ('queued', 'running')",
            )
            .bind(run.connection_id)
            .fetch_optional(conn)
            .await?
        });
        if let Some(id) = active {
            return Ok(Created::Active(id));
        }
        // The partial unique index still guards a race with another process; its violation
        // surfaces as an error and the caller's transaction rolls back.
        let id: i64 = on_tx!(tx, |conn| {
            sqlx::query_scalar(
                "INSERT INTO sync_runs (tenant_id, connection_id, provider, kind, started_by,
                     status, plan, step, cursor, progress, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, 'queued', $6, 0, NULL, $7, $8, $8)
                 RETURNING id",
            )
            .bind(run.tenant.as_str())
            .bind(run.connection_id)
            .bind(run.provider)
            .bind(run.kind)
            .bind(run.started_by)
            .bind(run.plan)
            .bind(run.progress)
            .bind(now.0)
            .fetch_one(conn)
            .await?
        });
        Ok(Created::New(id))
    }

    pub async fn get_sync_run(&self, id: i64) -> Result<Option<SyncRun>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM sync_runs WHERE id = $1");
        on_pool!(self, write, |pool| {
            sqlx::query(&sql)
                .bind(id)
                .fetch_optional(pool)
                .await?
                .map(|r| run_from_row(&r))
                .transpose()
        })
    }

    /// A tenant's run by id (tenant-checked, for the API).
    pub async fn get_tenant_sync_run(
        &self,
        tenant: &TenantId,
        id: i64,
    ) -> Result<Option<SyncRun>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM sync_runs WHERE tenant_id = $1 AND id = $2");
        on_pool!(self, read, |pool| {
            sqlx::query(&sql)
                .bind(tenant.as_str())
                .bind(id)
                .fetch_optional(pool)
                .await?
                .map(|r| run_from_row(&r))
                .transpose()
        })
    }

    /// A connection's runs, newest first.
    pub async fn list_sync_runs(
        &self,
        connection_id: i64,
        limit: i64,
    ) -> Result<Vec<SyncRun>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM sync_runs WHERE connection_id = $1 ORDER BY id DESC LIMIT $2"
        );
        on_pool!(self, read, |pool| {
            sqlx::query(&sql)
                .bind(connection_id)
                .bind(limit.max(0))
                .fetch_all(pool)
                .await?
                .iter()
                .map(run_from_row)
                .collect()
        })
    }

    /// Records a run's position and progress (in the page's transaction).
    pub async fn save_sync_checkpoint(
        &self,
        tx: &mut Tx,
        id: i64,
        step: i64,
        cursor: Option<&str>,
        progress: &str,
        now: Millis,
    ) -> Result<(), StoreError> {
        on_tx!(tx, |conn| {
            sqlx::query(
                "UPDATE sync_runs SET step = $2, cursor = $3, progress = $4, updated_at = $5,
                     status = 'running', started_at = COALESCE(started_at, $5)
                 WHERE id = $1",
            )
            .bind(id)
            .bind(step)
            .bind(cursor)
            .bind(progress)
            .bind(now.0)
            .execute(conn)
            .await?
            .rows_affected()
        });
        Ok(())
    }

    /// Ends a run with `status` (`succeeded`, `failed`, `cancelled`).
    pub async fn finish_sync_run(
        &self,
        tx: &mut Tx,
        id: i64,
        status: &str,
        progress: &str,
        error: Option<(&str, &str)>,
        now: Millis,
    ) -> Result<(), StoreError> {
        on_tx!(tx, |conn| {
            sqlx::query(
                "UPDATE sync_runs SET status = $2, progress = $3, error_code = $4, error = $5,
                     finished_at = $6, updated_at = $6, started_at = COALESCE(started_at, $6)
                 WHERE id = $1",
            )
            .bind(id)
            .bind(status)
            .bind(progress)
            .bind(error.map(|e| e.0))
            .bind(error.map(|e| e.1))
            .bind(now.0)
            .execute(conn)
            .await?
            .rows_affected()
        });
        Ok(())
    }

    pub async fn get_sync_cursor(
        &self,
        connection_id: i64,
        object: &str,
    ) -> Result<Option<SyncCursor>, StoreError> {
        on_pool!(self, write, |pool| {
            let row: Option<(i64, i64)> = sqlx::query_as(
                "SELECT changed_since, deleted_since FROM sync_cursors
                 WHERE connection_id = $1 AND object = $2",
            )
            .bind(connection_id)
            .bind(object)
            .fetch_optional(pool)
            .await?;
            Ok(row.map(|(c, d)| SyncCursor {
                changed_since: Millis(c),
                deleted_since: Millis(d),
            }))
        })
    }

    pub async fn set_sync_cursor(
        &self,
        tx: &mut Tx,
        connection_id: i64,
        object: &str,
        cursor: SyncCursor,
        now: Millis,
    ) -> Result<(), StoreError> {
        on_tx!(tx, |conn| {
            sqlx::query(
                "INSERT INTO sync_cursors (connection_id, object, changed_since, deleted_since,
                     updated_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (connection_id, object) DO UPDATE SET
                     changed_since = excluded.changed_since,
                     deleted_since = excluded.deleted_since,
                     updated_at = excluded.updated_at",
            )
            .bind(connection_id)
            .bind(object)
            .bind(cursor.changed_since.0)
            .bind(cursor.deleted_since.0)
            .bind(now.0)
            .execute(conn)
            .await?
            .rows_affected()
        });
        Ok(())
    }

    /// When the scheduler should next start an incremental run of the connection.
    pub async fn set_next_sync_at(
        &self,
        tx: &mut Tx,
        connection_id: i64,
        at: Option<Millis>,
    ) -> Result<(), StoreError> {
        on_tx!(tx, |conn| {
            sqlx::query("UPDATE connections SET next_sync_at = $2 WHERE id = $1")
                .bind(connection_id)
                .bind(at.map(|m| m.0))
                .execute(conn)
                .await?
                .rows_affected()
        });
        Ok(())
    }

    /// Active tenant-level connections whose next sync is due, oldest first. A connection that
    /// never synced (no time set) is due at once: connecting starts the first import.
    pub async fn due_syncs(&self, now: Millis, limit: i64) -> Result<Vec<i64>, StoreError> {
        on_pool!(self, read, |pool| {
            Ok(sqlx::query_scalar(
                "SELECT id FROM connections
                 WHERE (next_sync_at IS NULL OR next_sync_at <= $1) AND status = 'active'
                   AND member_id = ''
                 ORDER BY COALESCE(next_sync_at, 0), id LIMIT $2",
            )
            .bind(now.0)
            .bind(limit.max(0))
            .fetch_all(pool)
            .await?)
        })
    }

    /// Stages pages of run `id` (each the JSON of its items, see [`stage_json`]), numbered
    /// from `first_seq`, in the transaction of the checkpoint that names the page after them.
    ///
    /// Why: SQLite commits a transaction by writing every database page it changed, and a
    /// page of people changes a leaf of each matching index per person, in no order. Twenty
    /// 100-person HubSpot commits write many of the same leaves twenty times over, where one
    /// 2,000-person commit writes each once; commits were 16 % of an import's samples
    /// (docs/benchmarks.md, "People import"). Staged, a page is one row appended to this
    /// table; [`Store::merge_staged_pages`] or the engine's own merge later applies some 2,000
    /// people in one transaction.
    pub async fn stage_sync_pages(
        &self,
        tx: &mut Tx,
        id: i64,
        first_seq: i64,
        pages: &[String],
    ) -> Result<(), StoreError> {
        for (seq, json) in (first_seq..).zip(pages) {
            on_tx!(tx, |conn| {
                sqlx::query("INSERT INTO sync_run_pages (run_id, seq, items) VALUES ($1, $2, $3)")
                    .bind(id)
                    .bind(seq)
                    .bind(json)
                    .execute(conn)
                    .await?
                    .rows_affected()
            });
        }
        Ok(())
    }

    /// The pages staged by run `id` and not merged yet, as one group, and the number the next
    /// staged page takes.
    pub async fn staged_sync_pages(&self, id: i64) -> Result<(PageGroup, i64), StoreError> {
        let rows: Vec<(i64, String)> = on_pool!(self, write, |pool| {
            sqlx::query_as("SELECT seq, items FROM sync_run_pages WHERE run_id = $1 ORDER BY seq")
                .bind(id)
                .fetch_all(pool)
                .await?
        });
        group_pages(rows)
    }

    /// Applies the pages staged by run `id` to `tenant`'s `provider` people and removes them,
    /// in `tx`.
    pub async fn merge_staged_pages(
        &self,
        tx: &mut Tx,
        tenant: &TenantId,
        provider: &str,
        id: i64,
        now: Millis,
    ) -> Result<PageOutcome, StoreError> {
        let rows: Vec<(i64, String)> = on_tx!(tx, |conn| {
            sqlx::query_as("SELECT seq, items FROM sync_run_pages WHERE run_id = $1 ORDER BY seq")
                .bind(id)
                .fetch_all(conn)
                .await?
        });
        if rows.is_empty() {
            return Ok(PageOutcome::default());
        }
        let (mut group, _) = group_pages(rows)?;
        let out = self
            .apply_people(tx, tenant, provider, &group.take(), now)
            .await?;
        self.clear_staged_pages(tx, id).await?;
        Ok(out)
    }

    /// Removes the pages staged by run `id`, in the transaction that merges them.
    pub async fn clear_staged_pages(&self, tx: &mut Tx, id: i64) -> Result<(), StoreError> {
        on_tx!(tx, |conn| {
            sqlx::query("DELETE FROM sync_run_pages WHERE run_id = $1")
                .bind(id)
                .execute(conn)
                .await?
                .rows_affected()
        });
        Ok(())
    }
}

/// Staged rows, in order, as one group and the next page's number.
fn group_pages(rows: Vec<(i64, String)>) -> Result<(PageGroup, i64), StoreError> {
    let mut group = PageGroup::default();
    let mut next = 0;
    for (seq, json) in rows {
        let items: Vec<PageItem> =
            serde_json::from_str(&json).map_err(|e| decode_err("sync_run_pages.items", e))?;
        group.push(items);
        next = seq + 1;
    }
    Ok((group, next))
}

/// A page as [`Store::stage_sync_pages`] stores it.
pub fn stage_json(items: &[PageItem]) -> Result<String, StoreError> {
    serde_json::to_string(items).map_err(|e| decode_err("staged page", e))
}
