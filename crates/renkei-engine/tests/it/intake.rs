//! Event intake and routing through the queue.

use std::sync::Arc;

use renkei_core::event::parse_batch;
use renkei_core::{Millis, TenantId};
use renkei_engine::intake::accept_events;
use renkei_engine::{ManualClock, Runtime, WorkerConfig, registry};
use renkei_store::events::RoutingStatus;
use renkei_store::queue::JobState;
use renkei_store::testing::TestDb;
use serde_json::json;

fn events(ids: &[&str]) -> Vec<renkei_core::event::Event> {
    let items: Vec<_> = ids
        .iter()
        .map(|id| {
            json!({"id": id, "type": "call.transcribed", "occurred_at": "2026-11-21T00:00:00Z",
                          "data": {"call_id": "c1", "text": "hello"}})
        })
        .collect();
    parse_batch(serde_json::Value::Array(items)).unwrap()
}

#[tokio::test]
async fn events_are_stored_once_and_routed_exactly_once() {
    let db = TestDb::new().await;
    let s = &db.store;
    let acme = TenantId::parse("acme").unwrap();
    let other = TenantId::parse("other").unwrap();
    for t in [&acme, &other] {
        s.put_tenant(t, "", "JP", "ja", "Asia/Tokyo", Millis(0))
            .await
            .unwrap();
    }
    let first = accept_events(s, &acme, &events(&["e1", "e2"]), Millis(10))
        .await
        .unwrap();
    assert_eq!(first.accepted.len(), 2);
    let again = accept_events(s, &acme, &events(&["e2", "e3"]), Millis(20))
        .await
        .unwrap();
    assert_eq!(
        (again.accepted[0].as_str(), again.duplicates[0].as_str()),
        ("e3", "e2")
    );
    // The same id in another tenant is another event.
    assert_eq!(
        accept_events(s, &other, &events(&["e1"]), Millis(20))
            .await
            .unwrap()
            .accepted
            .len(),
        1
    );

    let e1 = s
        .get_event(&acme, &"e1".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (e1.routing_status, e1.routing_runs),
        (RoutingStatus::Pending, 0)
    );
    assert_eq!(e1.data, json!({"call_id": "c1", "text": "hello"}));

    let clock = ManualClock::at(100);
    let rt = Runtime::with_clock(
        s.clone(),
        registry(),
        WorkerConfig::default(),
        Arc::new(clock),
    );
    assert_eq!(rt.run_until_idle().await.unwrap(), 4);
    let stats = s.routing_stats(&acme).await.unwrap();
    assert_eq!(
        (
            stats.total,
            stats.routed,
            stats.pending,
            stats.routed_more_than_once
        ),
        (3, 3, 0, 0)
    );
    let e1 = s
        .get_event(&acme, &"e1".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (e1.routing_status, e1.routing_runs, e1.routed_at),
        (RoutingStatus::Routed, 1, Some(Millis(100)))
    );
    assert!(
        e1.routing_note
            .unwrap()
            .starts_with("no connection applies")
    );
    assert!(
        s.list_event_deliveries(&acme, e1.seq)
            .await
            .unwrap()
            .is_empty()
    );
    let stats = s.queue_stats().await.unwrap();
    assert_eq!(
        stats
            .iter()
            .find(|x| x.state == JobState::Succeeded)
            .unwrap()
            .count,
        4
    );
    assert_eq!(
        stats
            .iter()
            .filter(|x| x.state != JobState::Succeeded)
            .map(|x| x.count)
            .sum::<i64>(),
        0
    );
    db.cleanup().await;
}

#[tokio::test]
async fn a_batch_is_all_or_nothing_at_the_store_too() {
    let db = TestDb::new().await;
    let s = &db.store;
    // The tenant does not exist: the request is refused as a whole and nothing is stored.
    let ghost = TenantId::parse("ghost").unwrap();
    assert!(matches!(
        accept_events(s, &ghost, &events(&["e1", "e2"]), Millis(1)).await,
        Err(renkei_engine::intake::IntakeError::UnknownTenant(t)) if t == ghost
    ));
    assert_eq!(s.routing_stats(&ghost).await.unwrap().total, 0);
    assert!(s.list_jobs(None, 10).await.unwrap().is_empty());
    db.cleanup().await;
}

#[tokio::test]
async fn a_group_commit_answers_each_request_as_if_alone() {
    let db = TestDb::new().await;
    let s = &db.store;
    let acme = TenantId::parse("acme").unwrap();
    let ghost = TenantId::parse("ghost").unwrap();
    s.put_tenant(&acme, "", "JP", "ja", "Asia/Tokyo", Millis(0))
        .await
        .unwrap();
    accept_events(s, &acme, &events(&["old"]), Millis(1))
        .await
        .unwrap();
    let (a, b, c) = (events(&["x", "old"]), events(&["x", "y"]), events(&["z"]));
    let results = renkei_engine::intake::accept_groups(
        s,
        &[(&acme, &a), (&acme, &b), (&ghost, &c)],
        Millis(2),
    )
    .await
    .unwrap();
    let ids =
        |v: &[renkei_core::EventId]| v.iter().map(|e| e.as_str().to_owned()).collect::<Vec<_>>();
    let r0 = results[0].as_ref().unwrap();
    assert_eq!(
        (ids(&r0.accepted), ids(&r0.duplicates)),
        (vec!["x".to_owned()], vec!["old".to_owned()])
    );
    let r1 = results[1].as_ref().unwrap();
    assert_eq!(
        (ids(&r1.accepted), ids(&r1.duplicates)),
        (vec!["y".to_owned()], vec!["x".to_owned()]),
        "x belongs to the first request"
    );
    assert!(
        matches!(&results[2], Err(renkei_engine::intake::IntakeError::UnknownTenant(t)) if *t == ghost)
    );
    let stats = s.routing_stats(&acme).await.unwrap();
    assert_eq!(stats.total, 3, "old, x and y");
    assert_eq!(
        s.list_jobs(None, 10).await.unwrap().len(),
        3,
        "one routing job per stored event"
    );

    // Through the queue task, concurrent submissions share transactions and each gets its answer.
    let queue = renkei_engine::intake::IntakeQueue::start(s.clone(), || {});
    let answers = futures_util::future::join_all((0..40).map(|i| {
        let queue = queue.clone();
        let acme = acme.clone();
        async move {
            queue
                .submit(acme, events(&[&format!("q{i}"), "x"]))
                .await
                .unwrap()
        }
    }))
    .await;
    for a in &answers {
        assert_eq!(
            (a.accepted.len(), ids(&a.duplicates)),
            (1, vec!["x".to_owned()])
        );
    }
    assert_eq!(s.routing_stats(&acme).await.unwrap().total, 43);
    db.cleanup().await;
}

/// Routing jobs claimed together may run in any order; the events are routed in the order
/// they were stored all the same, because a job routes its tenant's earlier pending events
/// before its own (and so queues their deliveries first under a shared FIFO key).
#[tokio::test]
async fn a_routing_job_routes_the_earlier_events_of_its_tenant_first() {
    let db = TestDb::new().await;
    let s = &db.store;
    let acme = TenantId::parse("acme").unwrap();
    s.put_tenant(&acme, "", "JP", "ja", "Asia/Tokyo", Millis(0))
        .await
        .unwrap();
    accept_events(s, &acme, &events(&["e1", "e2", "e3"]), Millis(10))
        .await
        .unwrap();
    let jobs = s
        .claim_jobs("test", 10, Millis(60_000), Millis(20))
        .await
        .unwrap();
    assert_eq!(jobs.len(), 3);
    let reg = registry();
    let clock = ManualClock::at(30);
    let run = async |i: usize| {
        let ctx = renkei_engine::JobContext {
            store: s,
            job: &jobs[i],
            clock: &clock,
        };
        reg.get("route_event").unwrap().run(ctx).await.unwrap()
    };
    let event = async |id: &str| {
        s.get_event(&acme, &id.parse().unwrap())
            .await
            .unwrap()
            .unwrap()
    };

    // The second event's job runs first: it routes e1, then e2, and leaves e3 to its own job.
    run(1).await;
    for (id, status, runs) in [
        ("e1", RoutingStatus::Routed, 1),
        ("e2", RoutingStatus::Routed, 1),
        ("e3", RoutingStatus::Pending, 0),
    ] {
        let e = event(id).await;
        assert_eq!((e.routing_status, e.routing_runs), (status, runs), "{id}");
    }
    // The first event's job finds it routed and completes without routing it again.
    run(0).await;
    run(2).await;
    for id in ["e1", "e2", "e3"] {
        let e = event(id).await;
        assert_eq!(
            (e.routing_status, e.routing_runs),
            (RoutingStatus::Routed, 1),
            "{id}"
        );
    }
    let stats = s.queue_stats().await.unwrap();
    assert_eq!(
        stats
            .iter()
            .filter(|x| x.count > 0)
            .map(|x| (x.state, x.count))
            .collect::<Vec<_>>(),
        vec![(JobState::Succeeded, 3)]
    );
    db.cleanup().await;
}
