//! Idempotency records of actions: one claim per key among racing requests, the answer kept,
//! expired and abandoned claims taken over, a released key free again.

use renkei_core::{Millis, TenantId};
use renkei_store::action_requests::ActionClaim;
use renkei_store::testing::TestDb;

const DAY: i64 = 86_400_000;

async fn setup() -> (TestDb, TenantId) {
    let db = TestDb::new().await;
    let tenant = TenantId::parse("acme").unwrap();
    db.store
        .put_tenant(&tenant, "Acme", "JP", "ja", "Asia/Tokyo", Millis(1))
        .await
        .unwrap();
    (db, tenant)
}

#[tokio::test]
async fn racing_requests_claim_a_key_once_and_later_ones_read_the_answer() {
    let (db, t) = setup().await;
    let now = Millis(10 * DAY);
    let claims = futures_util::future::join_all((0..10).map(|_| {
        db.store.claim_action(
            &t,
            "k1",
            "add_lead",
            "fp",
            now,
            Millis(now.0 - DAY),
            Millis(now.0 - 60_000),
        )
    }))
    .await;
    let claimed: Vec<_> = claims
        .iter()
        .filter(|c| matches!(c, Ok(ActionClaim::Claimed { .. })))
        .collect();
    assert_eq!(claimed.len(), 1, "{claims:?}");
    for c in &claims {
        if let Ok(ActionClaim::Held { answer, .. }) = c {
            assert_eq!(answer, &None, "still running");
        }
    }
    assert_eq!(db.store.action_answer(&t, "k1").await.unwrap(), Some(None));
    assert_eq!(db.store.action_answer(&t, "k2").await.unwrap(), None);
    db.store
        .finish_action(&t, "k1", now, r#"{"outcome":"success"}"#, now)
        .await
        .unwrap();
    assert_eq!(
        db.store.action_answer(&t, "k1").await.unwrap(),
        Some(Some(r#"{"outcome":"success"}"#.to_owned()))
    );
    let again = db
        .store
        .claim_action(&t, "k1", "add_lead", "fp", now, Millis(0), Millis(0))
        .await
        .unwrap();
    assert_eq!(
        again,
        ActionClaim::Held {
            action: "add_lead".into(),
            fingerprint: "fp".into(),
            answer: Some(r#"{"outcome":"success"}"#.into()),
        }
    );
    // Another tenant's key of the same name is its own.
    let other = TenantId::parse("other").unwrap();
    db.store
        .put_tenant(&other, "Other", "JP", "ja", "Asia/Tokyo", Millis(1))
        .await
        .unwrap();
    assert!(matches!(
        db.store
            .claim_action(&other, "k1", "add_lead", "fp", now, Millis(0), Millis(0))
            .await
            .unwrap(),
        ActionClaim::Claimed { .. }
    ));
    db.cleanup().await;
}

#[tokio::test]
async fn expired_abandoned_and_released_keys_are_free_again() {
    let (db, t) = setup().await;
    let t0 = Millis(10 * DAY);
    let claim = |key: &'static str, now: Millis| {
        let (db, t) = (&db, &t);
        async move {
            db.store
                .claim_action(
                    t,
                    key,
                    "add_note",
                    "fp2",
                    now,
                    Millis(now.0 - DAY),
                    Millis(now.0 - 60_000),
                )
                .await
                .unwrap()
        }
    };
    // Answered a day and more ago: no longer counts.
    assert!(matches!(
        claim("old", t0).await,
        ActionClaim::Claimed { .. }
    ));
    db.store
        .finish_action(&t, "old", t0, "{}", t0)
        .await
        .unwrap();
    assert!(matches!(
        claim("old", Millis(t0.0 + 1000)).await,
        ActionClaim::Held { .. }
    ));
    let later = Millis(t0.0 + DAY + 1);
    assert_eq!(
        claim("old", later).await,
        ActionClaim::Claimed { started_at: later }
    );

    // Unanswered for more than a minute: its process died; taken over once.
    assert!(matches!(
        claim("stuck", t0).await,
        ActionClaim::Claimed { .. }
    ));
    assert!(matches!(
        claim("stuck", Millis(t0.0 + 30_000)).await,
        ActionClaim::Held { answer: None, .. }
    ));
    let after = Millis(t0.0 + 61_000);
    assert_eq!(
        claim("stuck", after).await,
        ActionClaim::Claimed { started_at: after }
    );
    // The first request's late answer does not overwrite the new claim's.
    db.store
        .finish_action(&t, "stuck", t0, "late", after)
        .await
        .unwrap();
    assert!(matches!(
        claim("stuck", after).await,
        ActionClaim::Held { answer: None, .. }
    ));

    // Released: free at once.
    assert!(matches!(
        claim("free", t0).await,
        ActionClaim::Claimed { .. }
    ));
    db.store.release_action(&t, "free", t0).await.unwrap();
    assert!(matches!(
        claim("free", t0).await,
        ActionClaim::Claimed { .. }
    ));

    assert_eq!(
        db.store
            .prune_action_requests(Millis(t0.0 + 1))
            .await
            .unwrap(),
        1
    );
    db.cleanup().await;
}
