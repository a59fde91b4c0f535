//! Crashes and several processes: nothing lost, nothing done twice.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use renkei_core::{Millis, TenantId};
use renkei_store::queue::JobState;
use renkei_store::testing::TestDb;

use crate::support::{call, create_key, eventually, serve};

async fn assert_every_job_ran_once(db: &TestDb, expected: usize) -> HashSet<String> {
    let jobs = db.store.list_jobs(None, 100_000).await.unwrap();
    assert_eq!(jobs.len(), expected, "one routing job per event");
    let mut owners = HashSet::new();
    for j in &jobs {
        assert_eq!(
            (j.state, j.attempts),
            (JobState::Succeeded, 1),
            "job {} ran more than once or failed: {j:?}",
            j.id
        );
        owners.extend(j.lease_owner.clone());
    }
    owners
}

/// How many jobs have succeeded.
async fn succeeded_jobs(db: &TestDb) -> usize {
    let stats = db.store.queue_stats().await.unwrap();
    stats
        .iter()
        .find(|s| s.state == JobState::Succeeded)
        .map_or(0, |s| s.count as usize)
}

/// The crash test: post 2,000 events, SIGKILL `renkei serve` while routing jobs are in
/// flight, restart it, have the client resend what was not acknowledged, and find every event
/// stored once and routed exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_run_loses_nothing_and_doubles_nothing() {
    const N: usize = 2_000;
    let db = TestDb::new().await;
    let key = create_key(&db).await;
    // One worker and a short lease: routing lags behind intake, so jobs are queued and in
    // flight when the process dies, and the restarted process reclaims them quickly.
    let args = ["--worker-concurrency", "1", "--worker-lease-seconds", "2"];
    let server = serve(&db, &args).await;
    let http = reqwest::Client::new();
    let r = http
        .put(server.url("/v1/tenants/acme"))
        .bearer_auth(&key)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    let acked = Arc::new(std::sync::Mutex::new(HashSet::new()));
    let posted = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for c in 0..8 {
        let (http, key, acked, posted) = (http.clone(), key.clone(), acked.clone(), posted.clone());
        let url = server.url("/v1/tenants/acme/events");
        clients.push(tokio::spawn(async move {
            for i in (c..N).step_by(8) {
                let id = format!("e{i}");
                match http
                    .post(&url)
                    .bearer_auth(&key)
                    .json(&call(&id))
                    .send()
                    .await
                {
                    Ok(r) if r.status() == 202 => {
                        acked.lock().unwrap().insert(id);
                        posted.fetch_add(1, Ordering::SeqCst);
                    }
                    // The server died mid-request: the client will resend after the restart.
                    _ => return,
                }
            }
        }));
    }
    eventually("half the events to be acknowledged", 60, async || {
        posted.load(Ordering::SeqCst) >= N / 2
    })
    .await;
    server.kill().await;
    for c in clients {
        let _ = c.await;
    }
    let acked = acked.lock().unwrap().clone();
    let acme = TenantId::parse("acme").unwrap();
    let at_kill = db.store.routing_stats(&acme).await.unwrap();
    assert!(
        at_kill.total as usize >= acked.len(),
        "every acknowledged event was stored before the kill"
    );
    assert!(
        at_kill.pending > 0,
        "the kill must happen with routing work outstanding: {at_kill:?}"
    );

    let server = serve(&db, &args).await;
    // The client resends everything it has no acknowledgement for.
    let missing: Vec<serde_json::Value> = (0..N)
        .map(|i| format!("e{i}"))
        .filter(|id| !acked.contains(id))
        .map(|id| call(&id))
        .collect();
    for chunk in missing.chunks(250) {
        let r = http
            .post(server.url("/v1/tenants/acme/events"))
            .bearer_auth(&key)
            .json(&chunk)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
    }
    eventually("every event to be routed", 120, async || {
        db.store.routing_stats(&acme).await.unwrap().routed as usize == N
    })
    .await;
    // An event is often routed by an earlier job of its tenant (routing is in order), and its
    // own job then completes later with nothing to do: wait for the jobs too.
    eventually("every routing job to finish", 120, async || {
        succeeded_jobs(&db).await == N
    })
    .await;
    let stats = db.store.routing_stats(&acme).await.unwrap();
    assert_eq!(
        (stats.total as usize, stats.routed_more_than_once),
        (N, 0),
        "{stats:?}"
    );
    let status = server.terminate().await;
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
    // A job whose worker was killed mid-run ran twice as a job, but its effect committed once;
    // every other job ran exactly once.
    let jobs = db.store.list_jobs(None, 100_000).await.unwrap();
    assert_eq!(jobs.len(), N);
    assert!(
        jobs.iter().all(|j| j.state == JobState::Succeeded),
        "no job left pending, running or dead"
    );
    eprintln!(
        "crash test: {} acknowledged before the kill, {} pending at the kill",
        acked.len(),
        at_kill.pending
    );
    db.cleanup().await;
}

/// Two `renkei serve --role worker` processes on one database share 5,000 jobs: each job runs
/// exactly once, and both processes do some of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_worker_processes_share_the_queue_exactly_once() {
    const N: usize = 5_000;
    let db = TestDb::new().await;
    let acme = TenantId::parse("acme").unwrap();
    db.store
        .put_tenant(&acme, "", "JP", "ja", "Asia/Tokyo", Millis::now())
        .await
        .unwrap();
    let ids: Vec<String> = (0..N).map(|i| format!("w{i}")).collect();
    for chunk in ids.chunks(500) {
        let items: Vec<_> = chunk.iter().map(|id| call(id)).collect();
        let events = renkei_core::event::parse_batch(serde_json::Value::Array(items)).unwrap();
        renkei_engine::intake::accept_events(&db.store, &acme, &events, Millis::now())
            .await
            .unwrap();
    }
    let args = ["--role", "worker", "--worker-concurrency", "8"];
    let (a, b) = (serve(&db, &args).await, serve(&db, &args).await);
    eventually("all jobs to run", 180, async || {
        db.store.routing_stats(&acme).await.unwrap().routed as usize == N
            && succeeded_jobs(&db).await == N
    })
    .await;
    assert!(a.terminate().await.success());
    assert!(b.terminate().await.success());
    let stats = db.store.routing_stats(&acme).await.unwrap();
    assert_eq!(stats.routed_more_than_once, 0, "{stats:?}");
    let owners = assert_every_job_ran_once(&db, N).await;
    assert_eq!(owners.len(), 2, "both processes took jobs: {owners:?}");
    db.cleanup().await;
}
