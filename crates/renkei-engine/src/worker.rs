//! The worker [`Runtime`]: claims jobs, runs them, records their outcomes.
//!
//! One runtime runs per `renkei` process with the worker role. It claims jobs in batches sized
//! to its free capacity (never more than `concurrency` in flight), runs each in its own task
//! under a timeout, and records the outcome with the lease it was given, so a result arriving
//! after the lease was lost is discarded instead of overwriting a newer attempt. A heartbeat
//! extends the leases of running jobs; a reaper returns jobs whose worker died to the queue
//! and prunes old succeeded jobs. Shutdown stops claiming, waits up to a grace period for
//! running jobs, then aborts the rest and hands them back without spending their attempt.
//!
//! Between claims the runtime sleeps for the poll interval, or less when [`Wake`] is
//! signalled: the API signals it after committing new jobs, so work accepted by this process
//! starts at once, while jobs enqueued by other processes are found by polling.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::FutureExt as _;
use renkei_core::Millis;
use renkei_store::queue::{ClaimedJob, JobState, Lease};
use renkei_store::{Store, StoreError};
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinSet;

use crate::clock::{Clock, SystemClock};
use crate::jobs::{Done, JobContext, JobError, Registry};

/// Tuning of a worker runtime. Every field is a setting of `renkei serve`.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Jobs in flight at most.
    pub concurrency: usize,
    /// Jobs claimed per round trip at most.
    pub claim_batch: usize,
    /// How long to sleep when the queue is empty (other processes' jobs are found this way).
    pub poll_interval: Duration,
    /// How long a claim is valid without a heartbeat. A crashed worker's jobs run again after
    /// at most this long.
    pub lease: Duration,
    /// A job running longer than this is abandoned and retried.
    pub job_timeout: Duration,
    /// How long shutdown waits for running jobs.
    pub grace: Duration,
    /// First retry delay; doubles per attempt up to `backoff_cap`, with jitter.
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// How often expired leases are reaped and old jobs pruned.
    pub reap_interval: Duration,
    /// How long succeeded jobs are kept.
    pub retention: Duration,
    /// This worker's name in leases, for operators.
    pub owner: String,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            concurrency: 16,
            claim_batch: 32,
            poll_interval: Duration::from_millis(500),
            lease: Duration::from_secs(60),
            job_timeout: Duration::from_secs(300),
            grace: Duration::from_secs(20),
            backoff_base: Duration::from_secs(2),
            backoff_cap: Duration::from_secs(3600),
            reap_interval: Duration::from_secs(5),
            retention: Duration::from_secs(3600),
            owner: default_owner(),
        }
    }
}

/// `host:pid:random`, so leases say where a job runs and two processes never share a name.
pub fn default_owner() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "renkei".into());
    format!("{host}:{}:{:04x}", std::process::id(), fastrand::u16(..))
}

/// The delay before retry number `attempt` (1-based): exponential with "equal jitter" — half
/// the delay is fixed, half random — so retries of many jobs that failed together spread out
/// while each still waits at least half its nominal delay.
pub fn backoff(config: &WorkerConfig, attempt: i64) -> Duration {
    let exp = u32::try_from(attempt.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let nominal = config
        .backoff_base
        .saturating_mul(1u32 << exp.min(30))
        .min(config.backoff_cap);
    let half = nominal / 2;
    half + half.mul_f64(fastrand::f64())
}

/// Signals a runtime that new jobs were committed.
#[derive(Debug, Clone, Default)]
pub struct Wake(Arc<Notify>);

impl Wake {
    pub fn notify(&self) {
        self.0.notify_one();
    }
}

struct Inner {
    store: Store,
    registry: Registry,
    config: WorkerConfig,
    clock: Arc<dyn Clock>,
    wake: Wake,
    in_flight: Mutex<HashMap<i64, Lease>>,
    /// While the claim loop runs: where successes of unkeyed jobs go to be recorded in
    /// batches (see [`acknowledge`]). `None` in `run_until_idle`, which records each at once.
    acks: Mutex<Option<mpsc::UnboundedSender<Ack>>>,
}

/// A success waiting to be recorded.
struct Ack {
    lease: Lease,
    kind: String,
}

/// A worker runtime, before it is started.
pub struct Runtime {
    inner: Arc<Inner>,
}

/// What shutdown did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ShutdownReport {
    /// Jobs that were still running when the grace period ended and were handed back.
    pub released: u64,
}

/// A started runtime.
pub struct RuntimeHandle {
    stop: watch::Sender<bool>,
    main: tokio::task::JoinHandle<ShutdownReport>,
    helpers: Vec<tokio::task::JoinHandle<()>>,
}

impl RuntimeHandle {
    /// Stops claiming, lets running jobs finish within the grace period, hands back the rest.
    pub async fn shutdown(self) -> ShutdownReport {
        let _ = self.stop.send(true);
        for h in self.helpers {
            let _ = h.await;
        }
        self.main.await.unwrap_or_default()
    }
}

impl Runtime {
    pub fn new(store: Store, registry: Registry, config: WorkerConfig) -> Self {
        Self::with_clock(store, registry, config, Arc::new(SystemClock))
    }

    pub fn with_clock(
        store: Store,
        registry: Registry,
        config: WorkerConfig,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let inner = Inner {
            store,
            registry,
            config,
            clock,
            wake: Wake::default(),
            in_flight: Mutex::new(HashMap::new()),
            acks: Mutex::new(None),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The signal to give after committing jobs this runtime should start at once.
    pub fn wake(&self) -> Wake {
        self.inner.wake.clone()
    }

    /// Starts the claim loop, the heartbeat and the reaper on the current Tokio runtime.
    pub fn start(&self) -> RuntimeHandle {
        let (stop, rx) = watch::channel(false);
        let main = tokio::spawn(claim_loop(self.inner.clone(), rx.clone()));
        let helpers = vec![
            tokio::spawn(heartbeat(self.inner.clone(), rx.clone())),
            tokio::spawn(reaper(self.inner.clone(), rx)),
        ];
        tracing::info!(owner = %self.inner.config.owner, concurrency = self.inner.config.concurrency,
            kinds = ?self.inner.registry.kinds(), "worker started");
        RuntimeHandle {
            stop,
            main,
            helpers,
        }
    }

    /// Claims and runs jobs until none is due, in the calling task. For tests and one-shot
    /// commands; returns how many jobs ran.
    pub async fn run_until_idle(&self) -> Result<usize, StoreError> {
        let inner = &self.inner;
        let mut ran = 0;
        loop {
            let now = inner.clock.now();
            let jobs = inner
                .store
                .claim_jobs(
                    &inner.config.owner,
                    batch_size(&inner.config, inner.config.concurrency),
                    lease_end(inner, now),
                    now,
                )
                .await?;
            if jobs.is_empty() {
                return Ok(ran);
            }
            ran += jobs.len();
            for j in &jobs {
                inner
                    .in_flight
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(j.id, j.lease());
            }
            futures_util::future::join_all(jobs.into_iter().map(|j| execute(inner.clone(), j)))
                .await;
        }
    }
}

fn batch_size(config: &WorkerConfig, free: usize) -> i64 {
    i64::try_from(free.min(config.claim_batch).max(1)).unwrap_or(1)
}

fn lease_end(inner: &Inner, now: Millis) -> Millis {
    now.plus_ms(i64::try_from(inner.config.lease.as_millis()).unwrap_or(i64::MAX / 4))
}

async fn claim_loop(inner: Arc<Inner>, mut stop: watch::Receiver<bool>) -> ShutdownReport {
    let mut tasks: JoinSet<()> = JoinSet::new();
    let (ack_tx, ack_rx) = mpsc::unbounded_channel();
    *lock(&inner.acks) = Some(ack_tx);
    let acker = tokio::spawn(acknowledge(inner.clone(), ack_rx));
    loop {
        while let Some(done) = tasks.try_join_next() {
            log_join(done);
        }
        if *stop.borrow() {
            break;
        }
        let free = inner.config.concurrency.saturating_sub(tasks.len());
        if free == 0 {
            tokio::select! {
                done = tasks.join_next() => { if let Some(d) = done { log_join(d) } }
                _ = stop.changed() => {}
            }
            continue;
        }
        let now = inner.clock.now();
        match inner
            .store
            .claim_jobs(
                &inner.config.owner,
                batch_size(&inner.config, free),
                lease_end(&inner, now),
                now,
            )
            .await
        {
            Ok(jobs) if !jobs.is_empty() => {
                for job in jobs {
                    inner
                        .in_flight
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(job.id, job.lease());
                    tasks.spawn(execute(inner.clone(), job));
                }
            }
            Ok(_) => {
                tokio::select! {
                    _ = tokio::time::sleep(inner.config.poll_interval) => {}
                    _ = inner.wake.0.notified() => {}
                    _ = stop.changed() => {}
                    Some(done) = tasks.join_next(), if !tasks.is_empty() => log_join(done),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "claiming jobs failed; retrying in a second");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.changed() => {}
                }
            }
        }
    }

    // Graceful shutdown: no more claims; running jobs get the grace period.
    let deadline = tokio::time::Instant::now() + inner.config.grace;
    while !tasks.is_empty() {
        tokio::select! {
            done = tasks.join_next() => { if let Some(d) = done { log_join(d) } }
            _ = tokio::time::sleep_until(deadline) => break,
        }
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    // Every finished job has sent its ack; closing the channel lets the acknowledger record
    // the last batch and stop, before the unfinished jobs are handed back.
    lock(&inner.acks).take();
    let _ = acker.await;
    let leftover: Vec<Lease> = inner
        .in_flight
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .drain()
        .map(|(_, l)| l)
        .collect();
    let mut report = ShutdownReport::default();
    if !leftover.is_empty() {
        match inner.store.release_jobs(&leftover, inner.clock.now()).await {
            Ok(n) => report.released = n,
            Err(e) => tracing::warn!(error = %e, jobs = leftover.len(),
                "could not hand back unfinished jobs; they run again when their leases expire"),
        }
    }
    tracing::info!(released = report.released, "worker stopped");
    report
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Records successes in batches: it waits for one, then takes every other success already
/// queued and writes them all with one statement. Under load this turns a write per job into a
/// write per batch (SQLite has one writer connection, so writes are the queue's currency);
/// when idle, a batch is a single job and nothing waits. A success not yet recorded when the
/// process dies is like a crash just before completion: the lease expires and the job runs
/// again, which at-least-once delivery already allows.
async fn acknowledge(inner: Arc<Inner>, mut rx: mpsc::UnboundedReceiver<Ack>) {
    let mut batch = Vec::new();
    while rx.recv_many(&mut batch, 512).await > 0 {
        let leases: Vec<Lease> = batch.iter().map(|a| a.lease.clone()).collect();
        let recorded = inner.store.complete_jobs(&leases, inner.clock.now()).await;
        let done: std::collections::HashSet<i64> = match &recorded {
            Ok(ids) => ids.iter().copied().collect(),
            Err(e) => {
                tracing::warn!(error = %e, jobs = batch.len(),
                    "could not record job successes; they run again when their leases expire");
                Default::default()
            }
        };
        let mut in_flight = lock(&inner.in_flight);
        for ack in batch.drain(..) {
            let outcome = match (&recorded, done.contains(&ack.lease.job_id)) {
                (Ok(_), true) => "succeeded",
                (Ok(_), false) => "lease_lost",
                (Err(_), _) => "unrecorded",
            };
            metrics::counter!("renkei_jobs_total", "kind" => ack.kind, "outcome" => outcome)
                .increment(1);
            in_flight.remove(&ack.lease.job_id);
        }
    }
}

fn log_join(done: Result<(), tokio::task::JoinError>) {
    if done.is_err_and(|e| e.is_panic()) {
        tracing::error!("a job task panicked outside its handler");
    }
}

async fn heartbeat(inner: Arc<Inner>, mut stop: watch::Receiver<bool>) {
    let every = (inner.config.lease / 3).max(Duration::from_millis(50));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        let leases: Vec<Lease> = inner
            .in_flight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        if leases.is_empty() {
            continue;
        }
        let until = lease_end(&inner, inner.clock.now());
        if let Err(e) = inner
            .store
            .extend_leases(&inner.config.owner, &leases, until)
            .await
        {
            tracing::warn!(error = %e, jobs = leases.len(), "could not extend job leases");
        }
    }
}

async fn reaper(inner: Arc<Inner>, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(inner.config.reap_interval) => {}
            _ = stop.changed() => return,
        }
        let now = inner.clock.now();
        match inner.store.reap_expired_leases(now).await {
            Ok(r) if r.requeued + r.dead > 0 => {
                tracing::warn!(
                    requeued = r.requeued,
                    dead = r.dead,
                    "reaped jobs whose lease expired"
                );
                metrics::counter!("renkei_jobs_lease_expired_total").increment(r.requeued + r.dead);
                // The dead jobs' handlers never ran to the end, so what mirrors them (a
                // delivery's status) still says they are under way; their payloads record the
                // death. A crash between the reap and this leaves it unsaid, a window of one
                // statement against every attempt of the job having crashed already.
                for job in &r.dead_jobs {
                    let Some(h) = inner.registry.get(&job.kind) else {
                        continue;
                    };
                    if let Err(e) = h.abandoned(&inner.store, job, now).await {
                        tracing::warn!(error = %e, job = job.id, kind = %job.kind,
                            "could not record a reaped job's death");
                    }
                }
                inner.wake.notify();
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "reaping expired leases failed"),
        }
        let before = now.plus_ms(-i64::try_from(inner.config.retention.as_millis()).unwrap_or(0));
        if let Err(e) = inner.store.prune_jobs(before, 10_000).await {
            tracing::warn!(error = %e, "pruning finished jobs failed");
        }
        // Actions' idempotency keys count for a day; older records are only weight.
        let expired = now.plus_ms(-crate::actions::IDEMPOTENCY_WINDOW.0);
        if let Err(e) = inner.store.prune_action_requests(expired).await {
            tracing::warn!(error = %e, "pruning expired action idempotency keys failed");
        }
    }
}

/// Runs one claimed job and records its outcome.
async fn execute(inner: Arc<Inner>, job: ClaimedJob) {
    let lease = job.lease();
    let started = Instant::now();
    let result = match inner.registry.get(&job.kind) {
        None => Err(JobError::Snooze {
            reason: format!(
                "job kind {:?} is unknown to this release (queued by a newer one?)",
                job.kind
            ),
            until: inner.clock.now().plus_ms(60_000),
        }),
        Some(handler) => {
            let ctx = JobContext {
                store: &inner.store,
                job: &job,
                clock: &*inner.clock,
            };
            let run = AssertUnwindSafe(handler.run(ctx)).catch_unwind();
            match tokio::time::timeout(inner.config.job_timeout, run).await {
                Err(_) => Err(JobError::retry(format!(
                    "timed out after {:?}",
                    inner.config.job_timeout
                ))),
                Ok(Err(panic)) => {
                    let msg = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    Err(JobError::retry(format!("handler panicked: {msg}")))
                }
                Ok(Ok(r)) => r,
            }
        }
    };
    let now = inner.clock.now();
    let store = &inner.store;
    let retry_at = |after: Option<Duration>| {
        let d = after.unwrap_or_else(|| backoff(&inner.config, lease.attempt));
        now.plus_ms(i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4))
    };
    let recorded: Result<&'static str, StoreError> = match result {
        Ok(Done::Completed) if lease.concurrency_key.is_none() => {
            let acks = lock(&inner.acks).clone();
            if let Some(acks) = acks {
                metrics::histogram!("renkei_job_duration_seconds", "kind" => job.kind.clone())
                    .record(started.elapsed().as_secs_f64());
                match acks.send(Ack {
                    lease: lease.clone(),
                    kind: job.kind.clone(),
                }) {
                    // The acknowledger records it, counts it and forgets the lease.
                    Ok(()) => return,
                    Err(_) => store.complete_job(&lease, now).await.map(|()| "succeeded"),
                }
            } else {
                store.complete_job(&lease, now).await.map(|()| "succeeded")
            }
        }
        Ok(Done::Completed) => store.complete_job(&lease, now).await.map(|()| "succeeded"),
        Ok(Done::CompletedInTx) => Ok("succeeded"),
        Err(JobError::Snooze { reason, until }) => store
            .snooze_job(&lease, until, &reason, now)
            .await
            .map(|()| "snoozed"),
        Err(JobError::Permanent(error)) => {
            tracing::warn!(job = job.id, kind = %job.kind, error = %error, "job failed permanently");
            store.kill_job(&lease, &error, now).await.map(|()| "dead")
        }
        Err(JobError::Store(StoreError::LeaseLost { .. })) => Err(StoreError::LeaseLost {
            job_id: job.id,
            attempt: job.attempt,
        }),
        Err(e) => {
            let after = match &e {
                JobError::Retry { after, .. } => *after,
                _ => None,
            };
            let error = e.to_string();
            store.fail_job(&lease, &error, retry_at(after), now).await.map(|st| {
                if st == JobState::Dead {
                    tracing::warn!(job = job.id, kind = %job.kind, attempts = job.attempt, error = %error, "job is dead");
                    "dead"
                } else {
                    tracing::debug!(job = job.id, kind = %job.kind, attempt = job.attempt, error = %error, "job will retry");
                    "retried"
                }
            })
        }
    };
    let outcome = match recorded {
        Ok(o) => o,
        Err(StoreError::LeaseLost { .. }) => {
            tracing::info!(job = job.id, kind = %job.kind, "lease lost before the outcome was recorded; the newer attempt wins");
            "lease_lost"
        }
        Err(e) => {
            tracing::warn!(job = job.id, kind = %job.kind, error = %e,
                "could not record the job's outcome; it runs again when its lease expires");
            "unrecorded"
        }
    };
    metrics::counter!("renkei_jobs_total", "kind" => job.kind.clone(), "outcome" => outcome)
        .increment(1);
    metrics::histogram!("renkei_job_duration_seconds", "kind" => job.kind.clone())
        .record(started.elapsed().as_secs_f64());
    inner
        .in_flight
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&job.id);
}
