//! The job queue's guarantees, driven with explicit times.

use std::collections::HashMap;
use std::sync::Arc;

use renkei_core::Millis;
use renkei_store::queue::{ConcurrencyKey, JobState, NewJob};
use renkei_store::testing::TestDb;
use renkei_store::{Store, StoreError};

fn job(n: i64) -> NewJob {
    NewJob {
        kind: "test".into(),
        payload: format!("{{\"n\":{n}}}"),
        payload_version: 1,
        run_at: Millis(0),
        max_attempts: 3,
        concurrency: None,
        tenant: None,
    }
}

fn keyed(n: i64, key: &str, limit: i64) -> NewJob {
    NewJob {
        concurrency: Some(ConcurrencyKey {
            key: key.into(),
            limit,
        }),
        ..job(n)
    }
}

fn n_of(payload: &str) -> i64 {
    serde_json::from_str::<serde_json::Value>(payload).unwrap()["n"]
        .as_i64()
        .unwrap()
}

async fn state(s: &Store, id: i64) -> JobState {
    s.get_job(id).await.unwrap().unwrap().state
}

#[tokio::test]
async fn claims_due_jobs_oldest_first_in_batches() {
    let db = TestDb::new().await;
    let s = &db.store;
    for n in 0..5 {
        s.enqueue_one(&job(n), Millis(0)).await.unwrap();
    }
    s.enqueue_one(
        &NewJob {
            run_at: Millis(500),
            ..job(99)
        },
        Millis(0),
    )
    .await
    .unwrap();
    let first = s
        .claim_jobs("w", 3, Millis(10_000), Millis(100))
        .await
        .unwrap();
    assert_eq!(
        first.iter().map(|j| n_of(&j.payload)).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    assert!(first.iter().all(|j| j.attempt == 1));
    let rest = s
        .claim_jobs("w", 10, Millis(10_000), Millis(100))
        .await
        .unwrap();
    assert_eq!(rest.len(), 2, "the job due at 500 is not claimable at 100");
    let later = s
        .claim_jobs("w", 10, Millis(10_000), Millis(500))
        .await
        .unwrap();
    assert_eq!(
        later.iter().map(|j| n_of(&j.payload)).collect::<Vec<_>>(),
        [99]
    );
    for j in first.iter().chain(&rest).chain(&later) {
        s.complete_job(&j.lease(), Millis(600)).await.unwrap();
        assert_eq!(state(s, j.id).await, JobState::Succeeded);
    }
    assert!(
        s.claim_jobs("w", 10, Millis(10_000), Millis(10_000))
            .await
            .unwrap()
            .is_empty()
    );
    db.cleanup().await;
}

#[tokio::test]
async fn enqueue_joins_the_callers_transaction() {
    let db = TestDb::new().await;
    let s = &db.store;
    let mut tx = s.begin().await.unwrap();
    let id = s.enqueue(&mut tx, &job(1), Millis(0)).await.unwrap();
    tx.rollback().await.unwrap();
    assert!(s.get_job(id).await.unwrap().is_none());
    let mut tx = s.begin().await.unwrap();
    let id = s.enqueue(&mut tx, &job(1), Millis(0)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(state(s, id).await, JobState::Pending);
    db.cleanup().await;
}

#[tokio::test]
async fn expired_lease_redelivers_and_fences_the_old_worker() {
    let db = TestDb::new().await;
    let s = &db.store;
    let id = s.enqueue_one(&job(1), Millis(0)).await.unwrap();
    let a = s
        .claim_jobs("a", 1, Millis(1_000), Millis(0))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        s.reap_expired_leases(Millis(999)).await.unwrap().requeued,
        0
    );
    assert!(
        s.claim_jobs("b", 1, Millis(5_000), Millis(999))
            .await
            .unwrap()
            .is_empty(),
        "leased job is not claimable"
    );
    assert_eq!(
        s.reap_expired_leases(Millis(1_001)).await.unwrap().requeued,
        1
    );
    let b = s
        .claim_jobs("b", 1, Millis(5_000), Millis(1_001))
        .await
        .unwrap()
        .remove(0);
    assert_eq!((b.id, b.attempt), (id, 2));
    // The first worker wakes up and tries to commit an effect, then its result: refused.
    let mut tx = s.begin().await.unwrap();
    assert!(matches!(
        s.hold_lease(&mut tx, &a.lease()).await,
        Err(StoreError::LeaseLost { .. })
    ));
    tx.rollback().await.unwrap();
    let mut tx = s.begin().await.unwrap();
    s.hold_lease(&mut tx, &b.lease()).await.unwrap();
    tx.commit().await.unwrap();
    assert!(matches!(
        s.complete_job(&a.lease(), Millis(1_100)).await,
        Err(StoreError::LeaseLost { .. })
    ));
    assert!(matches!(
        s.fail_job(&a.lease(), "x", Millis(0), Millis(1_100)).await,
        Err(StoreError::LeaseLost { .. })
    ));
    s.complete_job(&b.lease(), Millis(1_200)).await.unwrap();
    let rec = s.get_job(id).await.unwrap().unwrap();
    assert_eq!((rec.state, rec.attempts), (JobState::Succeeded, 2));
    db.cleanup().await;
}

#[tokio::test]
async fn heartbeats_keep_a_lease_alive() {
    let db = TestDb::new().await;
    let s = &db.store;
    s.enqueue_one(&job(1), Millis(0)).await.unwrap();
    let a = s
        .claim_jobs("a", 1, Millis(1_000), Millis(0))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        s.extend_leases("a", &[a.lease()], Millis(3_000))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        s.extend_leases("b", &[a.lease()], Millis(9_000))
            .await
            .unwrap(),
        0,
        "only the owner extends"
    );
    assert_eq!(
        s.reap_expired_leases(Millis(2_000)).await.unwrap().requeued,
        0
    );
    s.complete_job(&a.lease(), Millis(2_500)).await.unwrap();
    db.cleanup().await;
}

#[tokio::test]
async fn failures_retry_at_the_given_time_then_die_and_can_be_retried_by_hand() {
    let db = TestDb::new().await;
    let s = &db.store;
    let id = s.enqueue_one(&job(1), Millis(0)).await.unwrap();
    let mut now = 0;
    for attempt in 1..=3 {
        let j = s
            .claim_jobs("w", 1, Millis(now + 1_000), Millis(now))
            .await
            .unwrap()
            .remove(0);
        assert_eq!(j.attempt, attempt);
        let st = s
            .fail_job(
                &j.lease(),
                &format!("boom {attempt}"),
                Millis(now + 100),
                Millis(now),
            )
            .await
            .unwrap();
        if attempt < 3 {
            assert_eq!(st, JobState::Pending);
            assert!(
                s.claim_jobs("w", 1, Millis(now + 1_000), Millis(now + 99))
                    .await
                    .unwrap()
                    .is_empty(),
                "not before retry_at"
            );
            now += 100;
        } else {
            assert_eq!(st, JobState::Dead);
        }
    }
    let rec = s.get_job(id).await.unwrap().unwrap();
    assert_eq!(
        (rec.state, rec.last_error.as_deref()),
        (JobState::Dead, Some("boom 3"))
    );
    assert!(rec.finished_at.is_some());
    assert!(
        s.claim_jobs("w", 1, Millis(1_000_000), Millis(999_999))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.list_jobs(Some(JobState::Dead), 10).await.unwrap()[0].id,
        id
    );

    assert!(s.retry_dead_job(id, Millis(1_000)).await.unwrap());
    assert!(
        !s.retry_dead_job(id, Millis(1_000)).await.unwrap(),
        "only dead jobs are retried"
    );
    let j = s
        .claim_jobs("w", 1, Millis(3_000), Millis(1_000))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        j.attempt, 1,
        "a manual retry starts a fresh set of attempts"
    );
    s.complete_job(&j.lease(), Millis(1_001)).await.unwrap();
    db.cleanup().await;
}

#[tokio::test]
async fn kill_snooze_and_release() {
    let db = TestDb::new().await;
    let s = &db.store;
    let a = s.enqueue_one(&job(1), Millis(0)).await.unwrap();
    let b = s.enqueue_one(&job(2), Millis(0)).await.unwrap();
    let c = s.enqueue_one(&job(3), Millis(0)).await.unwrap();
    let jobs = s
        .claim_jobs("w", 3, Millis(1_000), Millis(0))
        .await
        .unwrap();
    s.kill_job(&jobs[0].lease(), "invalid input: field x", Millis(1))
        .await
        .unwrap();
    assert_eq!(state(s, a).await, JobState::Dead);

    s.snooze_job(&jobs[1].lease(), Millis(5_000), "rate limited", Millis(1))
        .await
        .unwrap();
    let rec = s.get_job(b).await.unwrap().unwrap();
    assert_eq!(
        (rec.state, rec.attempts, rec.run_at),
        (JobState::Pending, 0, Millis(5_000))
    );

    assert_eq!(
        s.release_jobs(&[jobs[2].lease()], Millis(2)).await.unwrap(),
        1
    );
    let rec = s.get_job(c).await.unwrap().unwrap();
    assert_eq!((rec.state, rec.attempts), (JobState::Pending, 0));
    let again = s
        .claim_jobs("w", 5, Millis(9_000), Millis(3))
        .await
        .unwrap();
    assert_eq!(again.iter().map(|j| j.id).collect::<Vec<_>>(), [c]);
    db.cleanup().await;
}

#[tokio::test]
async fn exhausted_jobs_with_expired_leases_die() {
    let db = TestDb::new().await;
    let s = &db.store;
    let id = s
        .enqueue_one(
            &NewJob {
                max_attempts: 1,
                ..keyed(1, "k", 1)
            },
            Millis(0),
        )
        .await
        .unwrap();
    let next = s.enqueue_one(&keyed(2, "k", 1), Millis(0)).await.unwrap();
    assert_eq!(state(s, next).await, JobState::Blocked);
    s.claim_jobs("w", 1, Millis(100), Millis(0)).await.unwrap();
    let report = s.reap_expired_leases(Millis(101)).await.unwrap();
    assert_eq!((report.requeued, report.dead), (0, 1));
    let job = keyed(1, "k", 1);
    assert_eq!(
        report
            .dead_jobs
            .iter()
            .map(|j| (j.id, j.kind.as_str(), j.payload.as_str(), j.payload_version))
            .collect::<Vec<_>>(),
        [(
            id,
            job.kind.as_str(),
            job.payload.as_str(),
            job.payload_version
        )],
        "the report names the job it killed, for the runtime to tell its handler"
    );
    assert!(report.dead_jobs[0].error.starts_with("lease expired"));
    assert_eq!(state(s, id).await, JobState::Dead);
    assert_eq!(
        state(s, next).await,
        JobState::Pending,
        "a dead job frees its key's slot"
    );
    db.cleanup().await;
}

#[tokio::test]
async fn concurrency_key_admits_at_most_the_limit() {
    let db = TestDb::new().await;
    let s = &db.store;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(
            s.enqueue_one(&keyed(n, "conn:1", 2), Millis(0))
                .await
                .unwrap(),
        );
    }
    let other = s
        .enqueue_one(&keyed(100, "conn:2", 2), Millis(0))
        .await
        .unwrap();
    let states = futures_util::future::join_all(ids.iter().map(|&id| state(s, id))).await;
    assert_eq!(
        states,
        [
            JobState::Pending,
            JobState::Pending,
            JobState::Blocked,
            JobState::Blocked,
            JobState::Blocked
        ]
    );
    assert_eq!(
        state(s, other).await,
        JobState::Pending,
        "keys are independent"
    );

    let claimed = s
        .claim_jobs("w", 10, Millis(1_000), Millis(0))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 3);
    assert!(
        s.claim_jobs("w", 10, Millis(1_000), Millis(0))
            .await
            .unwrap()
            .is_empty(),
        "the key is full"
    );
    let first = claimed.iter().find(|j| j.id == ids[0]).unwrap();
    s.complete_job(&first.lease(), Millis(1)).await.unwrap();
    let promoted = s
        .claim_jobs("w", 10, Millis(1_000), Millis(1))
        .await
        .unwrap();
    assert_eq!(
        promoted.iter().map(|j| j.id).collect::<Vec<_>>(),
        [ids[2]],
        "the oldest blocked job moves up"
    );
    db.cleanup().await;
}

#[tokio::test]
async fn limit_one_is_fifo_even_across_retries() {
    let db = TestDb::new().await;
    let s = &db.store;
    for n in 0..4 {
        s.enqueue_one(&keyed(n, "record:Lead/1", 1), Millis(0))
            .await
            .unwrap();
    }
    let mut order = Vec::new();
    let mut now = 0;
    let mut failed_once = false;
    while order.len() < 4 {
        now += 10;
        let jobs = s
            .claim_jobs("w", 10, Millis(now + 1_000), Millis(now))
            .await
            .unwrap();
        assert!(jobs.len() <= 1, "limit 1 admits one job at a time");
        let Some(j) = jobs.into_iter().next() else {
            continue;
        };
        let n = n_of(&j.payload);
        if n == 1 && !failed_once {
            failed_once = true;
            // Job 1 fails and waits 50 ms: job 2 must not overtake it.
            s.fail_job(&j.lease(), "transient", Millis(now + 50), Millis(now))
                .await
                .unwrap();
            continue;
        }
        order.push(n);
        s.complete_job(&j.lease(), Millis(now)).await.unwrap();
    }
    assert_eq!(order, [0, 1, 2, 3]);
    db.cleanup().await;
}

#[tokio::test]
async fn stats_and_pruning() {
    let db = TestDb::new().await;
    let s = &db.store;
    for n in 0..3 {
        s.enqueue_one(&job(n), Millis(10 + n)).await.unwrap();
    }
    let j = s
        .claim_jobs("w", 1, Millis(1_000), Millis(100))
        .await
        .unwrap()
        .remove(0);
    s.complete_job(&j.lease(), Millis(200)).await.unwrap();
    let stats = s.queue_stats().await.unwrap();
    let get = |st: JobState| stats.iter().find(|x| x.state == st).unwrap();
    assert_eq!(
        (
            get(JobState::Pending).count,
            get(JobState::Pending).oldest_created_at
        ),
        (2, Some(Millis(11)))
    );
    assert_eq!(get(JobState::Succeeded).count, 1);
    assert_eq!(get(JobState::Dead).count, 0);
    assert_eq!(
        s.prune_jobs(Millis(200), 100).await.unwrap(),
        0,
        "finished at 200 is not before 200"
    );
    assert_eq!(s.prune_jobs(Millis(201), 100).await.unwrap(), 1);
    assert!(s.get_job(j.id).await.unwrap().is_none());
    db.cleanup().await;
}

/// Several claimers at once (several processes' worth on PostgreSQL): every job is handed out
/// exactly once, and keyed jobs never exceed their limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claimers_never_share_a_job_or_exceed_a_key() {
    let db = TestDb::new().await;
    let s = db.store.clone();
    const N: i64 = 600;
    for n in 0..N {
        let j = if n % 3 == 0 {
            keyed(n, &format!("k{}", n % 4), 2)
        } else {
            job(n)
        };
        s.enqueue_one(&j, Millis(0)).await.unwrap();
    }
    let in_flight: Arc<std::sync::Mutex<HashMap<String, i64>>> = Default::default();
    let mut tasks = Vec::new();
    for w in 0..6 {
        let s = s.clone();
        let in_flight = in_flight.clone();
        tasks.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut idle = 0;
            while idle < 20 {
                let jobs = s
                    .claim_jobs(&format!("w{w}"), 7, Millis(i64::MAX / 2), Millis(1))
                    .await
                    .unwrap();
                if jobs.is_empty() {
                    idle += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    continue;
                }
                idle = 0;
                for j in &jobs {
                    if let Some(k) = &j.concurrency_key {
                        let mut m = in_flight.lock().unwrap();
                        let c = m.entry(k.clone()).or_default();
                        *c += 1;
                        assert!(*c <= 2, "key {k} has {c} jobs in flight");
                    }
                }
                for j in jobs {
                    if let Some(k) = &j.concurrency_key {
                        *in_flight.lock().unwrap().get_mut(k).unwrap() -= 1;
                    }
                    s.complete_job(&j.lease(), Millis(2)).await.unwrap();
                    seen.push(n_of(&j.payload));
                }
            }
            seen
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    assert_eq!(all, (0..N).collect::<Vec<_>>(), "every job exactly once");
    db.cleanup().await;
}

#[tokio::test]
async fn batch_completion_records_only_leases_still_held() {
    let db = TestDb::new().await;
    let s = &db.store;
    for n in 0..5 {
        s.enqueue_one(&job(n), Millis(0)).await.unwrap();
    }
    let jobs = s
        .claim_jobs("w", 5, Millis(1_000), Millis(0))
        .await
        .unwrap();
    // Job 0's lease expires and another worker takes it: its old lease must not count.
    s.reap_expired_leases(Millis(1_001)).await.unwrap();
    let again = s
        .claim_jobs("w2", 1, Millis(9_000), Millis(1_001))
        .await
        .unwrap();
    assert_eq!(again[0].id, jobs[0].id);
    let leases: Vec<_> = jobs.iter().map(|j| j.lease()).collect();
    let mut done = s.complete_jobs(&leases, Millis(1_002)).await.unwrap();
    done.sort();
    assert!(
        done.is_empty(),
        "all five leases expired at 1,001: {done:?}"
    );
    let fresh = s
        .claim_jobs("w3", 5, Millis(9_000), Millis(1_003))
        .await
        .unwrap();
    assert_eq!(fresh.len(), 4);
    let mut leases: Vec<_> = fresh.iter().map(|j| j.lease()).collect();
    leases.push(jobs[0].lease());
    let mut done = s.complete_jobs(&leases, Millis(1_004)).await.unwrap();
    done.sort();
    let mut expected: Vec<i64> = fresh.iter().map(|j| j.id).collect();
    expected.sort();
    assert_eq!(done, expected);
    for id in expected {
        assert_eq!(state(s, id).await, JobState::Succeeded);
    }
    assert_eq!(
        state(s, jobs[0].id).await,
        JobState::Running,
        "w2 still holds job 0"
    );
    db.cleanup().await;
}
