//! `queue`: throughput of the durable job queue through its whole lifecycle.
//!
//! A producer task enqueues no-op jobs while a worker [`Runtime`] claims and completes them, in
//! one process against a fresh database, so the figure is the queue's own cost: one insert, one
//! claim (shared by a batch of jobs) and one completion per job. By default the producer
//! commits `--enqueue-batch` jobs per transaction (10), as an API request carrying a few
//! events does; `--enqueue-batch 1` gives every job a transaction of its own
//! ([`Store::enqueue_one`]'s cost). With `--prefill` the jobs are all enqueued before the
//! workers start, which separates the enqueue rate from the claim-and-complete rate.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use renkei_core::Millis;
use renkei_engine::jobs::BoxFuture;
use renkei_engine::{Done, JobPayload, Registry, Runtime, Wake, WorkerConfig};
use renkei_store::queue::{JobState, StateStats};
use renkei_store::{Backend, Store};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::db::{BenchDb, backend_name};
use crate::output::{emit, rate, round};

/// Jobs per second the whole lifecycle must sustain on SQLite.
const TARGET_SQLITE: f64 = 5000.0;
/// Jobs per second the whole lifecycle must sustain on PostgreSQL.
const TARGET_POSTGRES: f64 = 2000.0;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Jobs to run.
    #[arg(long, default_value_t = 20_000)]
    jobs: u64,
    /// Jobs in flight at most (the runtime's `concurrency`).
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// Jobs per enqueue transaction.
    #[arg(long, default_value_t = 10)]
    enqueue_batch: u64,
    /// Enqueue every job before starting the workers, instead of concurrently with them.
    #[arg(long)]
    prefill: bool,
    /// A `postgres://` URL to run against PostgreSQL, in a scratch schema created and dropped
    /// by the bench. Without it, a SQLite file in a temporary directory is used.
    #[arg(long)]
    database_url: Option<String>,
    /// Give up (and fail) when the jobs have not all succeeded after this many seconds.
    #[arg(long, default_value_t = 300)]
    timeout_secs: u64,
}

/// The bench's job kind: does nothing but count itself.
#[derive(Debug, Serialize, Deserialize)]
struct Noop {
    n: u64,
}

impl JobPayload for Noop {
    const KIND: &'static str = "bench_noop";
    const VERSION: i64 = 1;
}

/// How many handler runs happened, and a signal when the last expected one did.
struct Progress {
    runs: AtomicU64,
    expected: u64,
    all_ran: Notify,
}

#[derive(Debug, Serialize)]
struct QueueResult {
    bench: &'static str,
    backend: &'static str,
    mode: &'static str,
    workers: usize,
    jobs: u64,
    enqueue_batch: u64,
    /// From the first enqueue to the last enqueue commit.
    enqueue_seconds: f64,
    enqueue_jobs_per_sec: f64,
    /// Concurrent mode: from the first enqueue to the last completion. Prefill mode: from
    /// the start of the workers to the last completion.
    seconds: f64,
    jobs_per_sec: f64,
    target: f64,
    met: bool,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    if args.jobs == 0 || args.workers == 0 || args.enqueue_batch == 0 {
        bail!("--jobs, --workers and --enqueue-batch must be at least 1");
    }
    let db = BenchDb::open(args.database_url.as_deref(), args.workers).await?;
    let result = measure(&db.store, &args).await;
    // The scratch database goes whether or not the bench succeeded.
    db.cleanup().await;
    emit(&result?)
}

async fn measure(store: &Store, args: &Args) -> anyhow::Result<QueueResult> {
    store
        .migrate()
        .await
        .context("migrating the bench database")?;
    let backend = store.backend();
    let progress = Arc::new(Progress {
        runs: AtomicU64::new(0),
        expected: args.jobs,
        all_ran: Notify::new(),
    });
    let config = WorkerConfig {
        concurrency: args.workers,
        poll_interval: Duration::from_millis(5),
        ..WorkerConfig::default()
    };
    let runtime = Runtime::new(store.clone(), registry(progress.clone()), config);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.timeout_secs);
    let mode = if args.prefill {
        "prefill"
    } else {
        "concurrent"
    };
    eprintln!(
        "queue: {} jobs, {} workers, {} per enqueue transaction, {mode}, on {backend:?}",
        args.jobs, args.workers, args.enqueue_batch
    );

    // Each branch yields its outcome without returning early, so the runtime is always shut
    // down before an error is reported.
    let (handle, outcome) = if args.prefill {
        let enqueued = produce(store.clone(), args.jobs, args.enqueue_batch, None).await?;
        eprintln!("queue: enqueued in {enqueued:.2?}; starting the workers");
        let started = Instant::now();
        let handle = runtime.start();
        let done = wait_until_done(store, &progress, deadline).await;
        (handle, done.map(|()| (enqueued, started.elapsed())))
    } else {
        let handle = runtime.start();
        let started = Instant::now();
        let mut producer = tokio::spawn(produce(
            store.clone(),
            args.jobs,
            args.enqueue_batch,
            Some(runtime.wake()),
        ));
        let waiting = wait_until_done(store, &progress, deadline);
        tokio::pin!(waiting);
        // Watch the producer while waiting, so that a failed enqueue ends the bench at once
        // instead of at the timeout.
        let outcome = tokio::select! {
            done = &mut waiting => {
                let total = started.elapsed();
                match producer.await {
                    Ok(enqueued) => enqueued.and_then(|e| done.map(|()| (e, total))),
                    Err(e) => Err(anyhow::Error::new(e).context("the producer task failed")),
                }
            }
            produced = &mut producer => match produced {
                Ok(Ok(enqueued)) => waiting.await.map(|()| (enqueued, started.elapsed())),
                Ok(Err(e)) => Err(e),
                Err(e) => Err(anyhow::Error::new(e).context("the producer task failed")),
            },
        };
        (handle, outcome)
    };
    let report = handle.shutdown().await;
    if report.released > 0 {
        eprintln!(
            "queue: shutdown handed back {} unfinished jobs",
            report.released
        );
    }
    let (enqueue_elapsed, total_elapsed) = outcome?;

    let target = match backend {
        Backend::Sqlite => TARGET_SQLITE,
        Backend::Postgres => TARGET_POSTGRES,
    };
    let jobs_per_sec = rate(args.jobs, total_elapsed);
    Ok(QueueResult {
        bench: "queue",
        backend: backend_name(backend),
        mode,
        workers: args.workers,
        jobs: args.jobs,
        enqueue_batch: args.enqueue_batch,
        enqueue_seconds: round(enqueue_elapsed.as_secs_f64(), 3),
        enqueue_jobs_per_sec: rate(args.jobs, enqueue_elapsed),
        seconds: round(total_elapsed.as_secs_f64(), 3),
        jobs_per_sec,
        target,
        met: jobs_per_sec >= target,
    })
}

fn registry(progress: Arc<Progress>) -> Registry {
    let mut registry = Registry::new();
    registry.register::<Noop, _>(move |_ctx, _job| -> BoxFuture<'_, _> {
        let progress = progress.clone();
        Box::pin(async move {
            let runs = progress.runs.fetch_add(1, Ordering::Relaxed) + 1;
            if runs == progress.expected {
                // `notify_one` stores a permit when nobody waits yet, so the signal is not
                // lost if the last job finishes before the waiter starts waiting.
                progress.all_ran.notify_one();
            }
            Ok(Done::Completed)
        })
    });
    registry
}

/// Enqueues `jobs` no-op jobs, `batch` per transaction, waking the runtime after each commit.
/// Returns how long it took from the first enqueue to the last commit.
async fn produce(
    store: Store,
    jobs: u64,
    batch: u64,
    wake: Option<Wake>,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut n = 0;
    while n < jobs {
        let end = (n + batch).min(jobs);
        let now = Millis::now();
        let mut tx = store.begin().await.context("starting an enqueue")?;
        for i in n..end {
            store
                .enqueue(&mut tx, &Noop { n: i }.to_job(now), now)
                .await
                .context("enqueueing a job")?;
        }
        tx.commit().await.context("committing enqueued jobs")?;
        if let Some(wake) = &wake {
            wake.notify();
        }
        n = end;
    }
    Ok(started.elapsed())
}

/// Returns once the database shows every job succeeded. Handlers finish slightly before the
/// runtime records their completion, so the handler count only tells when to start polling
/// the database; polling throughout would take CPU from the workers being measured.
async fn wait_until_done(
    store: &Store,
    progress: &Progress,
    deadline: tokio::time::Instant,
) -> anyhow::Result<()> {
    if tokio::time::timeout_at(deadline, progress.all_ran.notified())
        .await
        .is_err()
    {
        let stats = store.queue_stats().await?;
        bail!(
            "timed out: {} of {} handlers ran; queue: {}",
            progress.runs.load(Ordering::Relaxed),
            progress.expected,
            describe(&stats)
        );
    }
    loop {
        let stats = store.queue_stats().await?;
        let count = |state| {
            stats
                .iter()
                .find(|s| s.state == state)
                .map_or(0, |s| s.count)
        };
        let succeeded = u64::try_from(count(JobState::Succeeded)).unwrap_or(0);
        if succeeded >= progress.expected {
            return Ok(());
        }
        if count(JobState::Dead) > 0 || tokio::time::Instant::now() >= deadline {
            bail!("jobs did not all succeed: queue: {}", describe(&stats));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn describe(stats: &[StateStats]) -> String {
    stats
        .iter()
        .map(|s| format!("{} {}", s.count, s.state.as_str()))
        .collect::<Vec<_>>()
        .join(", ")
}
