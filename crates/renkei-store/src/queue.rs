//! The durable job queue, in the same database as the state it changes.
//!
//! # Lifecycle
//!
//! ```text
//!            enqueue (inside the caller's transaction)
//!                 │
//!     ┌── blocked ┴► pending ──claim──► running ──► succeeded (pruned later)
//!     │  (key full)    ▲   ▲              │ │
//!     └── promoted ────┘   └──retry/──────┘ └──► dead (out of attempts, or permanent)
//!         when a slot frees    snooze/release/        │
//!                              lease expiry           └── retry by hand ──► pending/blocked
//! ```
//!
//! **Claims** take a batch of due pending jobs in one statement and give each a lease
//! (`lease_until`). PostgreSQL adds `FOR UPDATE SKIP LOCKED` so concurrent claimers in several
//! processes take disjoint batches without waiting on each other; SQLite needs nothing more,
//! because the statement runs under its single writer lock. A claim increments `attempts`,
//! which doubles as the lease token: completing, failing or releasing a job checks
//! `state = 'running' AND attempts = <the claimed attempt>`, so a worker whose lease expired
//! and was re-claimed elsewhere cannot overwrite the newer attempt's result
//! ([`StoreError::LeaseLost`]).
//!
//! **Concurrency keys** limit how many jobs sharing a key are admitted (pending or running)
//! at once. Admission is decided at enqueue and when a job leaves (succeeds or dies), under a
//! lock on the key's `job_keys` row; jobs beyond the limit wait as `blocked` and are promoted
//! one by one, in enqueue order. Because blocked jobs are invisible to claims, the claim query
//! stays a plain index scan however many jobs are waiting behind a busy key. A limit of one
//! gives FIFO: each job starts only after the previous one of its key finished, and a job
//! waiting for its retry holds back those behind it.
//!
//! Times are passed in by the caller (milliseconds since the epoch), never read from the
//! database clock, so tests drive the queue with a fake clock.

use renkei_core::{Millis, TenantId};

use crate::{Backend, DbRow, Store, StoreError, Tx, on_pool, on_tx};

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    /// The payload as JSON text.
    pub payload: String,
    pub payload_version: i64,
    /// Not before this instant.
    pub run_at: Millis,
    pub max_attempts: i64,
    pub concurrency: Option<ConcurrencyKey>,
    pub tenant: Option<TenantId>,
}

/// At most `limit` jobs with this `key` are admitted at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConcurrencyKey {
    pub key: String,
    pub limit: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    Blocked,
    Pending,
    Running,
    Succeeded,
    Dead,
}

impl JobState {
    pub const ALL: [JobState; 5] = [
        JobState::Blocked,
        JobState::Pending,
        JobState::Running,
        JobState::Succeeded,
        JobState::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Blocked => "blocked",
            JobState::Pending => "pending",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// Proof that a worker holds a job: what it must present to record the job's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub job_id: i64,
    pub attempt: i64,
    pub concurrency_key: Option<String>,
}

/// A job handed to a worker by [`Store::claim_jobs`].
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    pub payload_version: i64,
    /// 1 for the first try.
    pub attempt: i64,
    pub max_attempts: i64,
    pub concurrency_key: Option<String>,
    pub tenant: Option<String>,
    pub run_at: Millis,
    pub created_at: Millis,
}

impl ClaimedJob {
    pub fn lease(&self) -> Lease {
        Lease {
            job_id: self.id,
            attempt: self.attempt,
            concurrency_key: self.concurrency_key.clone(),
        }
    }
}

/// A job as stored, for operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecord {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    pub payload_version: i64,
    pub state: JobState,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: Millis,
    pub concurrency_key: Option<String>,
    pub tenant: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<Millis>,
    pub last_error: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub finished_at: Option<Millis>,
}

/// Jobs in one state: how many, and when the oldest was enqueued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateStats {
    pub state: JobState,
    pub count: i64,
    pub oldest_created_at: Option<Millis>,
}

/// What [`Store::reap_expired_leases`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReapReport {
    pub requeued: u64,
    pub dead: u64,
    /// The jobs it put to death (`dead` of them): their handlers never saw that happen, so
    /// whatever mirrors a job's state elsewhere (a delivery's status) is told by the runtime.
    pub dead_jobs: Vec<ReapedJob>,
}

/// A job whose lease expired on its last attempt and which the queue declared dead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReapedJob {
    pub id: i64,
    pub kind: String,
    pub payload: String,
    pub payload_version: i64,
    /// What the job's `last_error` now says.
    pub error: &'static str,
}

const CLAIM_RETURNING: &str = "RETURNING id, kind, payload, payload_version, attempts, max_attempts, concurrency_key, tenant_id, run_at, created_at";

const JOB_COLUMNS: &str = "id, kind, payload, payload_version, state, attempts, max_attempts, run_at, \
     concurrency_key, tenant_id, lease_owner, lease_until, last_error, created_at, updated_at, finished_at";

const LEASE_EXPIRED: &str =
    "lease expired: the worker crashed, hung or lost its database connection";

fn job_from_row(row: &impl DbRow) -> Result<JobRecord, StoreError> {
    let state = row.text("state")?;
    Ok(JobRecord {
        id: row.int("id")?,
        kind: row.text("kind")?,
        payload: row.text("payload")?,
        payload_version: row.int("payload_version")?,
        state: JobState::parse(&state).ok_or_else(|| crate::decode_err("jobs.state", &state))?,
        attempts: row.int("attempts")?,
        max_attempts: row.int("max_attempts")?,
        run_at: Millis(row.int("run_at")?),
        concurrency_key: row.opt_text("concurrency_key")?,
        tenant: row.opt_text("tenant_id")?,
        lease_owner: row.opt_text("lease_owner")?,
        lease_until: row.opt_int("lease_until")?.map(Millis),
        last_error: row.opt_text("last_error")?,
        created_at: Millis(row.int("created_at")?),
        updated_at: Millis(row.int("updated_at")?),
        finished_at: row.opt_int("finished_at")?.map(Millis),
    })
}

fn claimed_from_row(row: &impl DbRow) -> Result<ClaimedJob, StoreError> {
    Ok(ClaimedJob {
        id: row.int("id")?,
        kind: row.text("kind")?,
        payload: row.text("payload")?,
        payload_version: row.int("payload_version")?,
        attempt: row.int("attempts")?,
        max_attempts: row.int("max_attempts")?,
        concurrency_key: row.opt_text("concurrency_key")?,
        tenant: row.opt_text("tenant_id")?,
        run_at: Millis(row.int("run_at")?),
        created_at: Millis(row.int("created_at")?),
    })
}

/// Error messages are stored for operators; keep them bounded.
fn clip(error: &str) -> &str {
    match error.char_indices().nth(2000) {
        Some((i, _)) => &error[..i],
        None => error,
    }
}

impl Store {
    /// Enqueues a job inside the caller's transaction: the job exists if and only if the
    /// transaction commits. Returns the job id.
    pub async fn enqueue(&self, tx: &mut Tx, job: &NewJob, now: Millis) -> Result<i64, StoreError> {
        let state = match &job.concurrency {
            None => JobState::Pending,
            Some(c) => admit(tx, &c.key, c.limit).await?,
        };
        on_tx!(tx, |conn| {
            let row = sqlx::query(
                "INSERT INTO jobs (kind, payload, payload_version, state, attempts, max_attempts, run_at,
                     concurrency_key, tenant_id, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, 0, $5, $6, $7, $8, $9, $9)
                 RETURNING id",
            )
            .bind(&job.kind)
            .bind(&job.payload)
            .bind(job.payload_version)
            .bind(state.as_str())
            .bind(job.max_attempts.max(1))
            .bind(job.run_at.0)
            .bind(job.concurrency.as_ref().map(|c| c.key.as_str()))
            .bind(job.tenant.as_ref().map(TenantId::as_str))
            .bind(now.0)
            .fetch_one(&mut *conn)
            .await?;
            Ok(row.int("id")?)
        })
    }

    /// Enqueues many jobs inside the caller's transaction: those without a concurrency key
    /// in one statement per 100, keyed ones one by one (they need admission under the key's
    /// lock). Returns the ids in input order.
    pub async fn enqueue_many(
        &self,
        tx: &mut Tx,
        jobs: &[NewJob],
        now: Millis,
    ) -> Result<Vec<i64>, StoreError> {
        let mut ids = Vec::with_capacity(jobs.len());
        for chunk in jobs.chunks(100) {
            if chunk.iter().any(|j| j.concurrency.is_some()) {
                for j in chunk {
                    ids.push(self.enqueue(tx, j, now).await?);
                }
                continue;
            }
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let b = 2 + i * 6;
                    let p: Vec<String> = (b..b + 6).map(|n| format!("${n}")).collect();
                    format!(
                        "({}, {}, {}, 'pending', 0, {}, {}, NULL, {}, $1, $1)",
                        p[0], p[1], p[2], p[3], p[4], p[5]
                    )
                })
                .collect();
            let sql = format!(
                "INSERT INTO jobs (kind, payload, payload_version, state, attempts, max_attempts, run_at,
                     concurrency_key, tenant_id, created_at, updated_at)
                 VALUES {}
                 RETURNING id",
                rows.join(", ")
            );
            on_tx!(tx, |conn| {
                let mut q = sqlx::query(&sql)
                    .persistent(crate::cached(chunk.len(), 100))
                    .bind(now.0);
                for j in chunk {
                    q = q
                        .bind(&j.kind)
                        .bind(&j.payload)
                        .bind(j.payload_version)
                        .bind(j.max_attempts.max(1))
                        .bind(j.run_at.0)
                        .bind(j.tenant.as_ref().map(TenantId::as_str));
                }
                let mut chunk_ids = Vec::with_capacity(chunk.len());
                for row in q.fetch_all(&mut *conn).await? {
                    chunk_ids.push(row.int("id")?);
                }
                // Ids of one INSERT are assigned in VALUES order on both backends; RETURNING's
                // order is not promised, so sorting restores it.
                chunk_ids.sort_unstable();
                ids.extend(chunk_ids);
            });
        }
        Ok(ids)
    }

    /// Enqueues a job in a transaction of its own.
    pub async fn enqueue_one(&self, job: &NewJob, now: Millis) -> Result<i64, StoreError> {
        let mut tx = self.begin().await?;
        let id = self.enqueue(&mut tx, job, now).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Leases up to `limit` due jobs to `owner` until `lease_until`, oldest first.
    pub async fn claim_jobs(
        &self,
        owner: &str,
        limit: i64,
        lease_until: Millis,
        now: Millis,
    ) -> Result<Vec<ClaimedJob>, StoreError> {
        // SQLite without ANALYZE statistics plans this on `jobs_by_state` and sorts every
        // pending job (3 ms per claim at 20,000 pending instead of 15 µs), so it is pinned to
        // the partial index made for it. PostgreSQL's planner has statistics and needs no pin.
        let (index, lock) = match self.backend() {
            Backend::Sqlite => ("INDEXED BY jobs_due", ""),
            Backend::Postgres => ("", "FOR UPDATE SKIP LOCKED"),
        };
        let sql = format!(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = $1, lease_until = $2,
                 updated_at = $3
             WHERE id IN (SELECT id FROM jobs {index} WHERE state = 'pending' AND run_at <= $3
                          ORDER BY run_at, id LIMIT $4 {lock})
             {CLAIM_RETURNING}"
        );
        let mut jobs: Vec<ClaimedJob> = on_pool!(self, write, |pool| {
            let rows = sqlx::query(&sql)
                .bind(owner)
                .bind(lease_until.0)
                .bind(now.0)
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(claimed_from_row)
                .collect::<Result<_, _>>()?
        });
        // RETURNING does not promise an order; hand jobs out oldest first.
        jobs.sort_by_key(|j| (j.run_at, j.id));
        Ok(jobs)
    }

    /// Records success. Fails with [`StoreError::LeaseLost`] when the lease is no longer ours.
    pub async fn complete_job(&self, lease: &Lease, now: Millis) -> Result<(), StoreError> {
        if lease.concurrency_key.is_none() {
            // The common case needs no transaction: one guarded statement.
            let done = on_pool!(self, write, |pool| sqlx::query(COMPLETE_SQL)
                .bind(lease.job_id)
                .bind(lease.attempt)
                .bind(now.0)
                .execute(pool)
                .await?
                .rows_affected());
            return if done == 1 {
                Ok(())
            } else {
                Err(lease_lost(lease))
            };
        }
        let mut tx = self.begin().await?;
        self.complete_job_in(&mut tx, lease, now).await?;
        tx.commit().await
    }

    /// Records the success of many jobs without concurrency keys in one statement per 200.
    /// Returns the ids recorded; a lease missing from the result was lost (the job expired
    /// and was claimed again), exactly as [`Store::complete_job`] would have reported.
    pub async fn complete_jobs(
        &self,
        leases: &[Lease],
        now: Millis,
    ) -> Result<Vec<i64>, StoreError> {
        let mut done = Vec::with_capacity(leases.len());
        for chunk in leases.chunks(200) {
            let pairs: Vec<String> = (0..chunk.len())
                .map(|i| format!("(${}, ${})", 2 * i + 2, 2 * i + 3))
                .collect();
            let sql = format!(
                "UPDATE jobs SET state = 'succeeded', finished_at = $1, updated_at = $1, lease_until = NULL,
                     last_error = NULL
                 WHERE state = 'running' AND (id, attempts) IN (VALUES {})
                 RETURNING id",
                pairs.join(", ")
            );
            on_pool!(self, write, |pool| {
                let mut q = sqlx::query(&sql)
                    .persistent(crate::cached(chunk.len(), 200))
                    .bind(now.0);
                for l in chunk {
                    debug_assert!(
                        l.concurrency_key.is_none(),
                        "keyed jobs release a slot on completion"
                    );
                    q = q.bind(l.job_id).bind(l.attempt);
                }
                for row in q.fetch_all(pool).await? {
                    done.push(row.int("id")?);
                }
            });
        }
        Ok(done)
    }

    /// Records success inside the caller's transaction, so a handler whose effect is a database
    /// write can commit that write and its job's completion together (exactly once in effect).
    pub async fn complete_job_in(
        &self,
        tx: &mut Tx,
        lease: &Lease,
        now: Millis,
    ) -> Result<(), StoreError> {
        let done = on_tx!(tx, |conn| sqlx::query(COMPLETE_SQL)
            .bind(lease.job_id)
            .bind(lease.attempt)
            .bind(now.0)
            .execute(&mut *conn)
            .await?
            .rows_affected());
        if done != 1 {
            return Err(lease_lost(lease));
        }
        if let Some(key) = &lease.concurrency_key {
            release_slot(tx, key).await?;
        }
        Ok(())
    }

    /// Asserts, inside `tx`, that the caller still holds `lease`, and keeps it held until `tx`
    /// ends: a handler that commits several effects before its completion (a sync run's pages)
    /// calls this in each effect's transaction, so a worker that lost its lease (its heartbeat
    /// stalled and the reaper gave the job to another) cannot commit beside the new holder.
    /// The row is touched, not only read, so that on PostgreSQL the reaper's update waits for
    /// this transaction instead of slipping in between the check and the commit.
    pub async fn hold_lease(&self, tx: &mut Tx, lease: &Lease) -> Result<(), StoreError> {
        let held = on_tx!(tx, |conn| sqlx::query(
            "UPDATE jobs SET lease_until = lease_until
             WHERE id = $1 AND state = 'running' AND attempts = $2"
        )
        .bind(lease.job_id)
        .bind(lease.attempt)
        .execute(&mut *conn)
        .await?
        .rows_affected());
        if held == 1 {
            Ok(())
        } else {
            Err(lease_lost(lease))
        }
    }

    /// Records a failed attempt. The job runs again at `retry_at` unless it has used all its
    /// attempts, in which case it is dead. Returns the job's new state.
    pub async fn fail_job(
        &self,
        lease: &Lease,
        error: &str,
        retry_at: Millis,
        now: Millis,
    ) -> Result<JobState, StoreError> {
        let mut tx = self.begin().await?;
        let state = on_tx!(tx, |conn| {
            let row = sqlx::query(
                "UPDATE jobs SET
                     state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'pending' END,
                     finished_at = CASE WHEN attempts >= max_attempts THEN $4 ELSE NULL END,
                     run_at = $3, last_error = $5, lease_owner = NULL, lease_until = NULL, updated_at = $4
                 WHERE id = $1 AND state = 'running' AND attempts = $2
                 RETURNING state",
            )
            .bind(lease.job_id)
            .bind(lease.attempt)
            .bind(retry_at.0)
            .bind(now.0)
            .bind(clip(error))
            .fetch_optional(&mut *conn)
            .await?;
            match row {
                Some(r) => r.text("state")?,
                None => return Err(lease_lost(lease)),
            }
        });
        let state = if state == "dead" {
            JobState::Dead
        } else {
            JobState::Pending
        };
        if let (JobState::Dead, Some(key)) = (state, &lease.concurrency_key) {
            release_slot(&mut tx, key).await?;
        }
        tx.commit().await?;
        Ok(state)
    }

    /// Marks a job dead at once: its failure is permanent and retrying cannot help.
    pub async fn kill_job(
        &self,
        lease: &Lease,
        error: &str,
        now: Millis,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let done = on_tx!(tx, |conn| {
            sqlx::query(
            "UPDATE jobs SET state = 'dead', finished_at = $3, last_error = $4, lease_owner = NULL,
                 lease_until = NULL, updated_at = $3
             WHERE id = $1 AND state = 'running' AND attempts = $2",
        )
        .bind(lease.job_id)
        .bind(lease.attempt)
        .bind(now.0)
        .bind(clip(error))
        .execute(&mut *conn)
        .await?
        .rows_affected()
        });
        if done != 1 {
            return Err(lease_lost(lease));
        }
        if let Some(key) = &lease.concurrency_key {
            release_slot(&mut tx, key).await?;
        }
        tx.commit().await
    }

    /// Puts a job back to wait until `until` without counting the attempt: for waits that are
    /// not failures, such as a provider's `Retry-After`. The job keeps its concurrency slot.
    pub async fn snooze_job(
        &self,
        lease: &Lease,
        until: Millis,
        reason: &str,
        now: Millis,
    ) -> Result<(), StoreError> {
        let done = on_pool!(self, write, |pool| {
            sqlx::query(
            "UPDATE jobs SET state = 'pending', attempts = attempts - 1, run_at = $3, last_error = $5,
                 lease_owner = NULL, lease_until = NULL, updated_at = $4
             WHERE id = $1 AND state = 'running' AND attempts = $2",
        )
        .bind(lease.job_id)
        .bind(lease.attempt)
        .bind(until.0)
        .bind(now.0)
        .bind(clip(reason))
        .execute(pool)
        .await?
        .rows_affected()
        });
        if done == 1 {
            Ok(())
        } else {
            Err(lease_lost(lease))
        }
    }

    /// Hands jobs back unfinished (graceful shutdown): they are due again at once and the
    /// interrupted attempt does not count. Returns how many were still ours.
    pub async fn release_jobs(&self, leases: &[Lease], now: Millis) -> Result<u64, StoreError> {
        let mut released = 0;
        for lease in leases {
            released += on_pool!(self, write, |pool| {
                sqlx::query(
                "UPDATE jobs SET state = 'pending', attempts = attempts - 1, lease_owner = NULL,
                     lease_until = NULL, updated_at = $3
                 WHERE id = $1 AND state = 'running' AND attempts = $2",
            )
            .bind(lease.job_id)
            .bind(lease.attempt)
            .bind(now.0)
            .execute(pool)
            .await?
            .rows_affected()
            });
        }
        Ok(released)
    }

    /// Extends the leases of the given jobs held by `owner` (the worker's heartbeat).
    pub async fn extend_leases(
        &self,
        owner: &str,
        leases: &[Lease],
        until: Millis,
    ) -> Result<u64, StoreError> {
        let mut extended = 0;
        for lease in leases {
            extended += on_pool!(self, write, |pool| sqlx::query(
                "UPDATE jobs SET lease_until = $4
                 WHERE id = $1 AND state = 'running' AND attempts = $2 AND lease_owner = $3",
            )
            .bind(lease.job_id)
            .bind(lease.attempt)
            .bind(owner)
            .bind(until.0)
            .execute(pool)
            .await?
            .rows_affected());
        }
        Ok(extended)
    }

    /// Returns jobs whose lease expired to the queue: due at once if they have attempts left,
    /// dead otherwise (a job that kills its worker every time must not loop forever).
    pub async fn reap_expired_leases(&self, now: Millis) -> Result<ReapReport, StoreError> {
        let requeued = on_pool!(self, write, |pool| {
            sqlx::query(
            "UPDATE jobs SET state = 'pending', run_at = $1, last_error = $2, lease_owner = NULL,
                 lease_until = NULL, updated_at = $1
             WHERE state = 'running' AND lease_until < $1 AND attempts < max_attempts",
        )
        .bind(now.0)
        .bind(LEASE_EXPIRED)
        .execute(pool)
        .await?
        .rows_affected()
        });
        let exhausted: Vec<(Lease, ReapedJob)> = on_pool!(self, write, |pool| {
            let rows = sqlx::query(
                "SELECT id, attempts, concurrency_key, kind, payload, payload_version
                 FROM jobs WHERE state = 'running' AND lease_until < $1",
            )
            .bind(now.0)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| {
                    let id = r.int("id")?;
                    Ok::<_, StoreError>((
                        Lease {
                            job_id: id,
                            attempt: r.int("attempts")?,
                            concurrency_key: r.opt_text("concurrency_key")?,
                        },
                        ReapedJob {
                            id,
                            kind: r.text("kind")?,
                            payload: r.text("payload")?,
                            payload_version: r.int("payload_version")?,
                            error: LEASE_EXPIRED,
                        },
                    ))
                })
                .collect::<Result<_, _>>()?
        });
        let mut dead_jobs = Vec::new();
        for (lease, job) in exhausted {
            match self.kill_job(&lease, LEASE_EXPIRED, now).await {
                Ok(()) => dead_jobs.push(job),
                // Another process reaped it first.
                Err(StoreError::LeaseLost { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(ReapReport {
            requeued,
            dead: dead_jobs.len() as u64,
            dead_jobs,
        })
    }

    /// Gives a dead job a fresh set of attempts. `Ok(false)` when the job is not dead.
    pub async fn retry_dead_job(&self, id: i64, now: Millis) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        // Touching the row first locks it (PostgreSQL) and proves it is dead.
        let key = on_tx!(tx, |conn| {
            let row = sqlx::query(
                "UPDATE jobs SET updated_at = $2 WHERE id = $1 AND state = 'dead' RETURNING concurrency_key",
            )
            .bind(id)
            .bind(now.0)
            .fetch_optional(&mut *conn)
            .await?;
            match row {
                Some(r) => r.opt_text("concurrency_key")?,
                None => return Ok(false),
            }
        });
        let state = match &key {
            None => JobState::Pending,
            Some(k) => admit_for_retry(&mut tx, k).await?,
        };
        on_tx!(tx, |conn| {
            sqlx::query(
            "UPDATE jobs SET state = $2, attempts = 0, run_at = $3, finished_at = NULL, lease_owner = NULL,
                 lease_until = NULL, updated_at = $3
             WHERE id = $1",
        )
        .bind(id)
        .bind(state.as_str())
        .bind(now.0)
        .execute(&mut *conn)
        .await?
        .rows_affected()
        });
        tx.commit().await?;
        Ok(true)
    }

    pub async fn get_job(&self, id: i64) -> Result<Option<JobRecord>, StoreError> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
        on_pool!(self, read, |pool| {
            let row = sqlx::query(&sql).bind(id).fetch_optional(pool).await?;
            row.as_ref().map(job_from_row).transpose()
        })
    }

    /// Jobs in a state (all states when `None`), newest first.
    pub async fn list_jobs(
        &self,
        state: Option<JobState>,
        limit: i64,
    ) -> Result<Vec<JobRecord>, StoreError> {
        let sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE ($1 = '' OR state = $1) ORDER BY id DESC LIMIT $2"
        );
        on_pool!(self, read, |pool| {
            let rows = sqlx::query(&sql)
                .bind(state.map_or("", JobState::as_str))
                .bind(limit)
                .fetch_all(pool)
                .await?;
            rows.iter().map(job_from_row).collect()
        })
    }

    /// Count and oldest enqueue time per state; states with no jobs are reported with zero.
    pub async fn queue_stats(&self) -> Result<Vec<StateStats>, StoreError> {
        let found: Vec<(String, i64, Option<i64>)> = on_pool!(self, read, |pool| {
            let rows = sqlx::query(
                "SELECT state, COUNT(*) AS n, MIN(created_at) AS oldest FROM jobs GROUP BY state",
            )
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| Ok::<_, StoreError>((r.text("state")?, r.int("n")?, r.opt_int("oldest")?)))
                .collect::<Result<_, _>>()?
        });
        Ok(JobState::ALL
            .into_iter()
            .map(|state| {
                let hit = found.iter().find(|(s, ..)| s == state.as_str());
                StateStats {
                    state,
                    count: hit.map_or(0, |h| h.1),
                    oldest_created_at: hit.and_then(|h| h.2).map(Millis),
                }
            })
            .collect())
    }

    /// Deletes succeeded jobs finished before `before`, at most `batch` of them, and forgets
    /// idle concurrency keys. Returns how many jobs were deleted.
    pub async fn prune_jobs(&self, before: Millis, batch: i64) -> Result<u64, StoreError> {
        on_pool!(self, write, |pool| {
            let done = sqlx::query(
                "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state = 'succeeded' AND finished_at < $1
                                               ORDER BY finished_at LIMIT $2)",
            )
            .bind(before.0)
            .bind(batch)
            .execute(pool)
            .await?;
            sqlx::query("DELETE FROM job_keys WHERE active = 0")
                .execute(pool)
                .await?;
            Ok(done.rows_affected())
        })
    }
}

// A succeeded job keeps `lease_owner`: which worker ran it is worth knowing afterwards.
const COMPLETE_SQL: &str = "UPDATE jobs SET state = 'succeeded', finished_at = $3, updated_at = $3,
         lease_until = NULL, last_error = NULL
     WHERE id = $1 AND state = 'running' AND attempts = $2";

fn lease_lost(lease: &Lease) -> StoreError {
    StoreError::LeaseLost {
        job_id: lease.job_id,
        attempt: lease.attempt,
    }
}

/// Locks the key's row (creating it) and returns how many of its jobs are admitted. Both the
/// admission of a new job and the release of a slot start with this statement, so on
/// PostgreSQL they serialise on the row lock and never decide from a stale count.
async fn lock_key(tx: &mut Tx, key: &str) -> Result<i64, StoreError> {
    on_tx!(tx, |conn| {
        let row = sqlx::query(
            "INSERT INTO job_keys (key, active) VALUES ($1, 0)
             ON CONFLICT (key) DO UPDATE SET active = job_keys.active
             RETURNING active",
        )
        .bind(key)
        .fetch_one(&mut *conn)
        .await?;
        Ok(row.int("active")?)
    })
}

async fn take_slot(tx: &mut Tx, key: &str) -> Result<(), StoreError> {
    on_tx!(tx, |conn| sqlx::query(
        "UPDATE job_keys SET active = active + 1 WHERE key = $1"
    )
    .bind(key)
    .execute(&mut *conn)
    .await?
    .rows_affected());
    Ok(())
}

/// Decides whether a new job with `key` may be pending now or must wait blocked.
async fn admit(tx: &mut Tx, key: &str, limit: i64) -> Result<JobState, StoreError> {
    let active = lock_key(tx, key).await?;
    if active < limit.max(1) {
        take_slot(tx, key).await?;
        Ok(JobState::Pending)
    } else {
        Ok(JobState::Blocked)
    }
}

/// Admission for a dead job retried by hand. Its kind's limit is not known here, so it is
/// admitted only when the key has nothing admitted (never exceeding any limit), and otherwise
/// waits blocked behind the jobs already queued.
async fn admit_for_retry(tx: &mut Tx, key: &str) -> Result<JobState, StoreError> {
    admit(tx, key, 1).await
}

/// A job holding a slot of `key` left (succeeded or died): hand the slot to the oldest
/// blocked job of the key, or free it.
async fn release_slot(tx: &mut Tx, key: &str) -> Result<(), StoreError> {
    lock_key(tx, key).await?;
    on_tx!(tx, |conn| {
        let promoted = sqlx::query(
            "UPDATE jobs SET state = 'pending'
             WHERE id = (SELECT id FROM jobs WHERE concurrency_key = $1 AND state = 'blocked' ORDER BY id LIMIT 1)
             RETURNING id",
        )
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?;
        if promoted.is_none() {
            sqlx::query("UPDATE job_keys SET active = active - 1 WHERE key = $1 AND active > 0")
                .bind(key)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    })
}
