//! The worker runtime against a real store.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use renkei_core::Millis;
use renkei_engine::jobs::BoxFuture;
use renkei_engine::{
    Clock, Done, JobError, JobPayload, ManualClock, Registry, Runtime, WorkerConfig,
};
use renkei_store::queue::{ConcurrencyKey, JobState, NewJob};
use renkei_store::testing::TestDb;
use serde::{Deserialize, Serialize};

/// A test job whose behaviour is scripted by its payload.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Step {
    n: i64,
    /// Fail this many times before succeeding.
    #[serde(default)]
    fail_times: i64,
    #[serde(default)]
    retry_after_ms: Option<u64>,
    #[serde(default)]
    sleep_ms: u64,
    #[serde(default)]
    key: Option<(String, i64)>,
    #[serde(default)]
    panic: bool,
}

impl JobPayload for Step {
    const KIND: &'static str = "step";
    const VERSION: i64 = 1;
    const MAX_ATTEMPTS: i64 = 3;

    fn concurrency(&self) -> Option<ConcurrencyKey> {
        self.key
            .clone()
            .map(|(key, limit)| ConcurrencyKey { key, limit })
    }
}

fn step(n: i64) -> Step {
    Step {
        n,
        fail_times: 0,
        retry_after_ms: None,
        sleep_ms: 0,
        key: None,
        panic: false,
    }
}

#[derive(Default)]
struct Log {
    order: Mutex<Vec<i64>>,
    in_flight: Mutex<HashMap<String, i64>>,
    max_in_flight: Mutex<HashMap<String, i64>>,
    runs: AtomicUsize,
}

fn registry(log: Arc<Log>) -> Registry {
    let mut r = Registry::new();
    r.register::<Step, _>(move |ctx, s| -> BoxFuture<'_, _> {
        let log = log.clone();
        Box::pin(async move {
            log.runs.fetch_add(1, Ordering::SeqCst);
            if s.panic && ctx.job.attempt == 1 {
                panic!("scripted panic");
            }
            let key = s.key.as_ref().map(|k| k.0.clone()).unwrap_or_default();
            {
                let mut m = log.in_flight.lock().unwrap();
                let c = m.entry(key.clone()).or_default();
                *c += 1;
                let mut max = log.max_in_flight.lock().unwrap();
                let mx = max.entry(key.clone()).or_default();
                *mx = (*mx).max(*c);
            }
            tokio::time::sleep(Duration::from_millis(s.sleep_ms)).await;
            *log.in_flight.lock().unwrap().get_mut(&key).unwrap() -= 1;
            if ctx.job.attempt <= s.fail_times {
                return Err(JobError::Retry {
                    error: format!("scripted failure {}", ctx.job.attempt),
                    after: s.retry_after_ms.map(Duration::from_millis),
                });
            }
            log.order.lock().unwrap().push(s.n);
            Ok(Done::Completed)
        })
    });
    r
}

fn fast_config() -> WorkerConfig {
    WorkerConfig {
        concurrency: 8,
        poll_interval: Duration::from_millis(20),
        lease: Duration::from_millis(1_500),
        reap_interval: Duration::from_millis(100),
        backoff_base: Duration::from_millis(1_000),
        grace: Duration::from_millis(300),
        ..WorkerConfig::default()
    }
}

async fn enqueue(db: &TestDb, s: &Step, now: Millis) -> i64 {
    db.store.enqueue_one(&s.to_job(now), now).await.unwrap()
}

async fn wait_until<F: AsyncFnMut() -> bool>(what: &str, mut f: F) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !f().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn retries_honour_not_before_and_backoff_then_die() {
    let db = TestDb::new().await;
    let log = Arc::new(Log::default());
    let clock = ManualClock::at(1_000_000);
    let rt = Runtime::with_clock(
        db.store.clone(),
        registry(log.clone()),
        fast_config(),
        Arc::new(clock.clone()),
    );

    // A handler-set not-before (a provider's Retry-After) wins over the backoff.
    let a = enqueue(
        &db,
        &Step {
            fail_times: 1,
            retry_after_ms: Some(5_000),
            ..step(1)
        },
        clock.now(),
    )
    .await;
    assert_eq!(rt.run_until_idle().await.unwrap(), 1);
    let rec = db.store.get_job(a).await.unwrap().unwrap();
    assert_eq!(
        (rec.state, rec.run_at),
        (JobState::Pending, Millis(1_005_000))
    );
    assert_eq!(rec.last_error.as_deref(), Some("scripted failure 1"));
    clock.advance_ms(4_999);
    assert_eq!(rt.run_until_idle().await.unwrap(), 0, "not before its time");
    clock.advance_ms(1);
    assert_eq!(rt.run_until_idle().await.unwrap(), 1);
    assert_eq!(
        db.store.get_job(a).await.unwrap().unwrap().state,
        JobState::Succeeded
    );

    // Without one, exponential backoff with jitter: attempt n waits between half and all of
    // base * 2^(n-1).
    let b = enqueue(
        &db,
        &Step {
            fail_times: 10,
            ..step(2)
        },
        clock.now(),
    )
    .await;
    for attempt in 1..=3 {
        let before = clock.now();
        assert_eq!(rt.run_until_idle().await.unwrap(), 1);
        let rec = db.store.get_job(b).await.unwrap().unwrap();
        if attempt < 3 {
            let nominal = 1_000 * (1 << (attempt - 1));
            let wait = rec.run_at.0 - before.0;
            assert!(
                (nominal / 2..=nominal).contains(&wait),
                "attempt {attempt}: waited {wait} ms"
            );
            clock.advance_ms(wait);
        } else {
            assert_eq!(rec.state, JobState::Dead, "dead after MAX_ATTEMPTS");
            assert_eq!(rec.attempts, 3);
        }
    }
    // Retried by hand, it gets fresh attempts.
    assert!(db.store.retry_dead_job(b, clock.now()).await.unwrap());
    assert_eq!(rt.run_until_idle().await.unwrap(), 1);
    assert_eq!(db.store.get_job(b).await.unwrap().unwrap().attempts, 1);
    db.cleanup().await;
}

#[tokio::test]
async fn a_panicking_handler_is_retried_not_lost() {
    let db = TestDb::new().await;
    let log = Arc::new(Log::default());
    let clock = ManualClock::at(0);
    let rt = Runtime::with_clock(
        db.store.clone(),
        registry(log.clone()),
        fast_config(),
        Arc::new(clock.clone()),
    );
    let id = enqueue(
        &db,
        &Step {
            panic: true,
            ..step(1)
        },
        clock.now(),
    )
    .await;
    rt.run_until_idle().await.unwrap();
    let rec = db.store.get_job(id).await.unwrap().unwrap();
    assert_eq!(rec.state, JobState::Pending);
    assert!(
        rec.last_error
            .unwrap()
            .contains("handler panicked: scripted panic")
    );
    clock.advance_ms(10_000);
    rt.run_until_idle().await.unwrap();
    assert_eq!(
        db.store.get_job(id).await.unwrap().unwrap().state,
        JobState::Succeeded
    );
    db.cleanup().await;
}

/// Version 2 of a payload that renamed a field; version 1 jobs queued before the upgrade
/// must still run.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Greet {
    recipient: String,
}

#[derive(Deserialize)]
struct GreetV1 {
    to: String,
}

impl JobPayload for Greet {
    const KIND: &'static str = "greet";
    const VERSION: i64 = 2;

    fn decode(version: i64, json: &str) -> Result<Self, renkei_engine::jobs::DecodeError> {
        use renkei_engine::jobs::DecodeError;
        let bad = |e: serde_json::Error| DecodeError::Invalid(e.to_string());
        match version {
            1 => serde_json::from_str::<GreetV1>(json)
                .map(|v| Greet { recipient: v.to })
                .map_err(bad),
            2 => serde_json::from_str(json).map_err(bad),
            v => Err(DecodeError::UnknownVersion {
                version: v,
                newest: Self::VERSION,
            }),
        }
    }
}

#[tokio::test]
async fn payload_versions_upgrade_and_unknown_ones_wait() {
    let db = TestDb::new().await;
    let seen: Arc<Mutex<Vec<String>>> = Default::default();
    let mut r = Registry::new();
    let s2 = seen.clone();
    r.register::<Greet, _>(move |_ctx, g| -> BoxFuture<'_, _> {
        let seen = s2.clone();
        Box::pin(async move {
            seen.lock().unwrap().push(g.recipient);
            Ok(Done::Completed)
        })
    });
    let clock = ManualClock::at(0);
    let rt = Runtime::with_clock(db.store.clone(), r, fast_config(), Arc::new(clock.clone()));
    let raw = |version: i64, payload: &str, kind: &str| NewJob {
        kind: kind.into(),
        payload: payload.into(),
        payload_version: version,
        run_at: Millis(0),
        max_attempts: 3,
        concurrency: None,
        tenant: None,
    };
    let v1 = db
        .store
        .enqueue_one(&raw(1, r#"{"to":"old"}"#, "greet"), Millis(0))
        .await
        .unwrap();
    let v2 = db
        .store
        .enqueue_one(
            &Greet {
                recipient: "new".into(),
            }
            .to_job(Millis(0)),
            Millis(0),
        )
        .await
        .unwrap();
    let v3 = db
        .store
        .enqueue_one(&raw(3, r#"{"x":1}"#, "greet"), Millis(0))
        .await
        .unwrap();
    let unknown = db
        .store
        .enqueue_one(&raw(1, "{}", "from_the_future"), Millis(0))
        .await
        .unwrap();
    let broken = db
        .store
        .enqueue_one(&raw(2, r#"{"recipient":5}"#, "greet"), Millis(0))
        .await
        .unwrap();
    rt.run_until_idle().await.unwrap();
    assert_eq!(*seen.lock().unwrap(), ["old", "new"]);
    for id in [v1, v2] {
        assert_eq!(
            db.store.get_job(id).await.unwrap().unwrap().state,
            JobState::Succeeded
        );
    }
    for id in [v3, unknown] {
        let rec = db.store.get_job(id).await.unwrap().unwrap();
        assert_eq!(
            (rec.state, rec.attempts),
            (JobState::Pending, 0),
            "a newer release's job waits, spending nothing"
        );
        assert_eq!(rec.run_at, Millis(60_000));
    }
    let rec = db.store.get_job(broken).await.unwrap().unwrap();
    assert_eq!(
        rec.state,
        JobState::Dead,
        "a payload that cannot decode will never decode"
    );
    assert!(rec.last_error.unwrap().contains("payload does not decode"));
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn started_runtime_respects_key_limits_and_fifo() {
    let db = TestDb::new().await;
    let log = Arc::new(Log::default());
    let rt = Runtime::new(db.store.clone(), registry(log.clone()), fast_config());
    let now = Millis::now();
    for n in 0..12 {
        enqueue(
            &db,
            &Step {
                sleep_ms: 15,
                key: Some(("conn:a".into(), 2)),
                ..step(n)
            },
            now,
        )
        .await;
    }
    for n in 100..106 {
        let fail_times = if n == 101 { 1 } else { 0 };
        enqueue(
            &db,
            &Step {
                sleep_ms: 5,
                fail_times,
                retry_after_ms: Some(50),
                key: Some(("record:x".into(), 1)),
                ..step(n)
            },
            now,
        )
        .await;
    }
    for n in 200..210 {
        enqueue(
            &db,
            &Step {
                sleep_ms: 10,
                ..step(n)
            },
            now,
        )
        .await;
    }
    let handle = rt.start();
    rt.wake().notify();
    wait_until("all jobs to finish", async || {
        log.order.lock().unwrap().len() == 28
    })
    .await;
    handle.shutdown().await;
    let max = log.max_in_flight.lock().unwrap().clone();
    assert!(max["conn:a"] <= 2, "conn:a had {} in flight", max["conn:a"]);
    assert_eq!(max["record:x"], 1);
    assert!(max[""] > 1, "unkeyed jobs run in parallel");
    let fifo: Vec<i64> = log
        .order
        .lock()
        .unwrap()
        .iter()
        .copied()
        .filter(|n| (100..200).contains(n))
        .collect();
    assert_eq!(
        fifo,
        [100, 101, 102, 103, 104, 105],
        "FIFO within a key, even across a retry"
    );
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_short_jobs_and_hands_back_long_ones() {
    let db = TestDb::new().await;
    let log = Arc::new(Log::default());
    let rt = Runtime::new(db.store.clone(), registry(log.clone()), fast_config());
    let now = Millis::now();
    let short = enqueue(
        &db,
        &Step {
            sleep_ms: 100,
            ..step(1)
        },
        now,
    )
    .await;
    let long = enqueue(
        &db,
        &Step {
            sleep_ms: 30_000,
            ..step(2)
        },
        now,
    )
    .await;
    let handle = rt.start();
    wait_until("both jobs to start", async || {
        log.runs.load(Ordering::SeqCst) == 2
    })
    .await;
    let report = handle.shutdown().await;
    assert_eq!(report.released, 1);
    assert_eq!(
        db.store.get_job(short).await.unwrap().unwrap().state,
        JobState::Succeeded
    );
    let rec = db.store.get_job(long).await.unwrap().unwrap();
    assert_eq!(
        (rec.state, rec.attempts),
        (JobState::Pending, 0),
        "the interrupted attempt does not count"
    );
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_workers_jobs_run_again_after_the_lease() {
    let db = TestDb::new().await;
    let log = Arc::new(Log::default());
    let now = Millis::now();
    let id = enqueue(&db, &step(7), now).await;
    // A worker claims the job and dies: nobody heartbeats or completes it.
    let claimed = db
        .store
        .claim_jobs("dead-worker", 1, now.plus_ms(300), now)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let rt = Runtime::new(db.store.clone(), registry(log.clone()), fast_config());
    let handle = rt.start();
    wait_until("the job to run elsewhere", async || {
        log.order.lock().unwrap().contains(&7)
    })
    .await;
    handle.shutdown().await;
    let rec = db.store.get_job(id).await.unwrap().unwrap();
    assert_eq!((rec.state, rec.attempts), (JobState::Succeeded, 2));
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_keep_long_jobs_leased() {
    let db = TestDb::new().await;
    let log = Arc::new(Log::default());
    let config = WorkerConfig {
        lease: Duration::from_millis(300),
        ..fast_config()
    };
    let rt = Runtime::new(db.store.clone(), registry(log.clone()), config);
    let id = enqueue(
        &db,
        &Step {
            sleep_ms: 1_200,
            ..step(1)
        },
        Millis::now(),
    )
    .await;
    let handle = rt.start();
    wait_until("the long job to finish", async || {
        log.order.lock().unwrap().len() == 1
    })
    .await;
    handle.shutdown().await;
    let rec = db.store.get_job(id).await.unwrap().unwrap();
    assert_eq!(
        (rec.state, rec.attempts),
        (JobState::Succeeded, 1),
        "never re-leased while running"
    );
    assert_eq!(log.runs.load(Ordering::SeqCst), 1);
    db.cleanup().await;
}

/// Jobs of kind `doomed` never run to the end here; their `on_abandoned` notes their `n`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Doomed {
    n: i64,
}

static ABANDONED: Mutex<Vec<(i64, String)>> = Mutex::new(Vec::new());

impl JobPayload for Doomed {
    const KIND: &'static str = "doomed";
    const VERSION: i64 = 1;
    const MAX_ATTEMPTS: i64 = 2;

    fn on_abandoned<'a>(
        &'a self,
        _store: &'a renkei_store::Store,
        error: &'a str,
        _now: Millis,
    ) -> BoxFuture<'a, Result<(), renkei_store::StoreError>> {
        ABANDONED.lock().unwrap().push((self.n, error.to_owned()));
        Box::pin(async { Ok(()) })
    }
}

/// A job whose every attempt's lease expired (its worker died each time) is declared dead by
/// the runtime's reaper, which tells the payload, once, so that what mirrors the job (a
/// delivery) does not stay "under way" forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reaper_tells_a_payload_its_job_died() {
    let db = TestDb::new().await;
    let s = &db.store;
    let t0 = Millis::now().plus_ms(-60_000);
    let id = s
        .enqueue_one(&Doomed { n: 41 }.to_job(t0), t0)
        .await
        .unwrap();
    // Two attempts, each claimed by a worker that dies: the first comes back, the second's
    // lease runs out on the last attempt.
    assert_eq!(
        s.claim_jobs("dead", 1, t0.plus_ms(1), t0)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.reap_expired_leases(t0.plus_ms(2)).await.unwrap().requeued,
        1
    );
    assert_eq!(
        s.claim_jobs("dead", 1, t0.plus_ms(4), t0.plus_ms(3))
            .await
            .unwrap()
            .len(),
        1
    );
    let mut r = Registry::new();
    r.register::<Doomed, _>(|_ctx, _d| -> BoxFuture<'_, _> {
        Box::pin(async { panic!("a dead job never runs") })
    });
    let handle = Runtime::new(s.clone(), r, fast_config()).start();
    wait_until("the reaper to tell the payload", async || {
        ABANDONED.lock().unwrap().iter().any(|(n, _)| *n == 41)
    })
    .await;
    handle.shutdown().await;
    let told: Vec<_> = ABANDONED
        .lock()
        .unwrap()
        .iter()
        .filter(|(n, _)| *n == 41)
        .cloned()
        .collect();
    assert_eq!(told.len(), 1, "told once: {told:?}");
    assert!(told[0].1.starts_with("lease expired"), "{told:?}");
    assert_eq!(s.get_job(id).await.unwrap().unwrap().state, JobState::Dead);
    db.cleanup().await;
}
