//! Deliveries (the write-back audit trail) and links, on both backends.

use renkei_core::{EventId, Keyring, MemberId, Millis, Secret, TenantId};
use renkei_store::Store;
use renkei_store::connections::{ConnectionKey, NewGrant};
use renkei_store::deliveries::{Attempt, DeliveryFilter, DeliveryStatus, NewDelivery};
use renkei_store::events::NewEvent;
use renkei_store::links::Link;
use renkei_store::testing::TestDb;
use serde_json::{Map, json};

fn t(s: &str) -> TenantId {
    TenantId::parse(s).unwrap()
}

fn m(s: &str) -> MemberId {
    MemberId::parse(s).unwrap()
}

async fn tenant(s: &Store, id: &str) {
    s.put_tenant(&t(id), id, "JP", "ja", "Asia/Tokyo", Millis(1))
        .await
        .unwrap();
}

/// A connection of `tenant` to `provider`; returns its id. The people tests use it too.
pub(crate) async fn connection(s: &Store, tenant: &str, provider: &str) -> i64 {
    let ring = Keyring::parse(&Keyring::generate_key().unwrap()).unwrap();
    let tenant = t(tenant);
    s.put_grant(
        &ring,
        &NewGrant {
            key: ConnectionKey {
                tenant: &tenant,
                provider,
                member: None,
            },
            account_id: "00Dxx0000001gPL",
            account_name: "Acme",
            identity: "{}",
            meta: "{}",
            scopes: "api",
            credentials: &Secret::new(b"{}".to_vec()),
            token_expires_at: None,
            connected_by: None,
            now: Millis(2),
        },
    )
    .await
    .unwrap()
    .id
}

/// Stores an event; returns its seq.
async fn event(s: &Store, tenant: &str, id: &str, event_type: &str) -> i64 {
    let tenant = t(tenant);
    let id = EventId::parse(id).unwrap();
    let mut tx = s.begin().await.unwrap();
    let seqs = s
        .insert_events(
            &mut tx,
            &[NewEvent {
                tenant: &tenant,
                id: &id,
                event_type,
                occurred_at: Millis(3),
                member: None,
                data: "{}".into(),
            }],
            Millis(3),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    seqs[0].unwrap()
}

struct Row<'a> {
    tenant: &'a str,
    seq: i64,
    conn: i64,
    step: &'a str,
    subject: Option<&'a str>,
    member: Option<&'a str>,
    skipped: Option<&'a str>,
}

async fn insert(s: &Store, r: Row<'_>, now: i64) -> Option<i64> {
    let tenant = t(r.tenant);
    let member = r.member.map(m);
    let key = r.subject.map(|subject| format!("{}:{subject}", r.conn));
    let mut tx = s.begin().await.unwrap();
    let id = s
        .insert_delivery(
            &mut tx,
            &NewDelivery {
                tenant: &tenant,
                event_seq: r.seq,
                connection_id: r.conn,
                step: r.step,
                subject: r.subject,
                record_key: key.as_deref(),
                member: member.as_ref(),
                skipped: r.skipped,
            },
            Millis(now),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id
}

fn ids(list: &[renkei_store::deliveries::Delivery]) -> Vec<i64> {
    list.iter().map(|d| d.id).collect()
}

async fn page(
    s: &Store,
    tenant: &str,
    status: Option<DeliveryStatus>,
    event_seq: Option<i64>,
    before_id: Option<i64>,
    limit: i64,
) -> Vec<i64> {
    ids(&s
        .list_deliveries(
            &t(tenant),
            &DeliveryFilter {
                status,
                event_seq,
                before_id,
                limit,
            },
        )
        .await
        .unwrap())
}

#[tokio::test]
async fn deliveries_record_attempts_filter_count_and_reopen() {
    let db = TestDb::new().await;
    let s = &db.store;
    tenant(s, "acme").await;
    tenant(s, "other").await;
    let conn = connection(s, "acme", "salesforce").await;
    let other_conn = connection(s, "other", "salesforce").await;
    let e1 = event(s, "acme", "call-1", "call.ended").await;
    let e2 = event(s, "acme", "call-2", "call.ended").await;
    let e3 = event(s, "other", "call-1", "call.ended").await;
    let acme = t("acme");

    let row = |seq, step, subject, member, skipped| Row {
        tenant: "acme",
        seq,
        conn,
        step,
        subject,
        member,
        skipped,
    };
    let d1 = insert(s, row(e1, "activity", Some("call:1"), Some("m1"), None), 10)
        .await
        .unwrap();
    // The same (event, connection, step) again is a routing job that ran twice.
    assert_eq!(
        insert(s, row(e1, "activity", Some("call:1"), Some("m1"), None), 11).await,
        None
    );
    let d2 = insert(
        s,
        row(
            e1,
            "person",
            None,
            Some("m2"),
            Some("no_owner: m2 has no CRM user"),
        ),
        12,
    )
    .await
    .unwrap();
    let d3 = insert(s, row(e2, "activity", Some("call:2"), None, None), 13)
        .await
        .unwrap();
    let d_other = insert(
        s,
        Row {
            tenant: "other",
            seq: e3,
            conn: other_conn,
            step: "activity",
            subject: Some("call:1"),
            member: None,
            skipped: None,
        },
        14,
    )
    .await
    .unwrap();

    let got = s.get_delivery(&acme, d1).await.unwrap().unwrap();
    assert_eq!(
        (
            got.event_id.as_str(),
            got.event_type.as_str(),
            got.event_seq,
            got.connection_id,
            got.provider.as_deref(),
            got.member.as_ref().map(MemberId::as_str),
            got.step.as_str(),
            got.subject.as_deref(),
            got.record_key.clone(),
        ),
        (
            "call-1",
            "call.ended",
            e1,
            conn,
            Some("salesforce"),
            Some("m1"),
            "activity",
            Some("call:1"),
            Some(format!("{conn}:call:1")),
        )
    );
    assert_eq!(
        (
            got.status,
            got.attempts,
            got.provider_status,
            got.error,
            got.reason
        ),
        (DeliveryStatus::Pending, 0, None, None, None)
    );
    assert!(got.remote_ids.is_empty());
    assert_eq!((got.created_at, got.updated_at), (Millis(10), Millis(10)));
    let skipped = s.get_delivery(&acme, d2).await.unwrap().unwrap();
    assert_eq!(
        (skipped.status, skipped.attempts, skipped.reason.as_deref()),
        (
            DeliveryStatus::Skipped,
            0,
            Some("no_owner: m2 has no CRM user")
        )
    );
    assert!(
        s.get_delivery(&t("other"), d1).await.unwrap().is_none(),
        "a delivery is only seen by its tenant"
    );

    // Attempts: a transient failure keeps it pending; the provider's status survives an
    // attempt that has none; the success clears the error.
    s.record_delivery_attempt(
        d1,
        Attempt {
            status: DeliveryStatus::Pending,
            provider_status: Some(503),
            error: Some("server_error: 503"),
            reason: None,
        },
        Millis(20),
    )
    .await
    .unwrap();
    let got = s.get_delivery(&acme, d1).await.unwrap().unwrap();
    assert_eq!(
        (
            got.status,
            got.attempts,
            got.provider_status,
            got.error.as_deref()
        ),
        (
            DeliveryStatus::Pending,
            1,
            Some(503),
            Some("server_error: 503")
        )
    );
    let mut remote = Map::new();
    remote.insert("person".into(), json!({"object": "Lead", "id": "00Q1"}));
    s.save_delivery_remote(d1, &remote, Millis(21))
        .await
        .unwrap();
    remote.insert("activity".into(), json!({"object": "Task", "id": "00T1"}));
    s.save_delivery_remote(d1, &remote, Millis(22))
        .await
        .unwrap();
    s.record_delivery_attempt(
        d1,
        Attempt {
            status: DeliveryStatus::Succeeded,
            provider_status: None,
            error: None,
            reason: None,
        },
        Millis(23),
    )
    .await
    .unwrap();
    let got = s.get_delivery(&acme, d1).await.unwrap().unwrap();
    assert_eq!(
        (
            got.status,
            got.attempts,
            got.provider_status,
            got.error,
            got.updated_at
        ),
        (DeliveryStatus::Succeeded, 2, Some(503), None, Millis(23))
    );
    assert_eq!(got.remote_ids, remote);

    // A reason is set and cleared only while pending.
    s.set_delivery_reason(d3, Some("waiting_reauth: reconnect"), Millis(30))
        .await
        .unwrap();
    let got = s.get_delivery(&acme, d3).await.unwrap().unwrap();
    assert_eq!(
        (got.reason.as_deref(), got.updated_at, got.attempts),
        (Some("waiting_reauth: reconnect"), Millis(30), 0)
    );
    s.set_delivery_reason(d3, None, Millis(31)).await.unwrap();
    assert_eq!(
        s.get_delivery(&acme, d3).await.unwrap().unwrap().reason,
        None
    );
    s.set_delivery_reason(d2, Some("waiting_reauth: x"), Millis(32))
        .await
        .unwrap();
    s.set_delivery_reason(d1, Some("waiting_reauth: x"), Millis(32))
        .await
        .unwrap();
    let (got2, got1) = (
        s.get_delivery(&acme, d2).await.unwrap().unwrap(),
        s.get_delivery(&acme, d1).await.unwrap().unwrap(),
    );
    assert_eq!(
        (
            got2.reason.as_deref(),
            got2.updated_at,
            got1.reason,
            got1.updated_at
        ),
        (
            Some("no_owner: m2 has no CRM user"),
            Millis(12),
            None,
            Millis(23)
        ),
        "finished deliveries keep their reason"
    );

    // Lists: newest first, by status, by event, in pages.
    assert_eq!(page(s, "acme", None, None, None, 50).await, [d3, d2, d1]);
    assert_eq!(
        page(s, "acme", Some(DeliveryStatus::Skipped), None, None, 50).await,
        [d2]
    );
    assert_eq!(
        page(s, "acme", Some(DeliveryStatus::Failed), None, None, 50).await,
        Vec::<i64>::new()
    );
    assert_eq!(page(s, "acme", None, Some(e1), None, 50).await, [d2, d1]);
    assert_eq!(
        page(s, "acme", Some(DeliveryStatus::Pending), Some(e2), None, 50).await,
        [d3]
    );
    assert_eq!(
        page(s, "acme", Some(DeliveryStatus::Pending), Some(e1), None, 50).await,
        Vec::<i64>::new()
    );
    assert_eq!(page(s, "acme", None, None, None, 2).await, [d3, d2]);
    assert_eq!(page(s, "acme", None, None, Some(d2), 2).await, [d1]);
    assert_eq!(
        page(s, "acme", None, None, Some(d1), 2).await,
        Vec::<i64>::new()
    );
    assert_eq!(page(s, "other", None, None, None, 50).await, [d_other]);
    assert_eq!(
        page(s, "acme", None, Some(e3), None, 50).await,
        Vec::<i64>::new(),
        "another tenant's event lists nothing"
    );
    assert_eq!(
        ids(&s.list_event_deliveries(&acme, e1).await.unwrap()),
        [d1, d2],
        "an event's deliveries are oldest first"
    );

    assert_eq!(
        s.delivery_counts(&acme).await.unwrap(),
        [
            (DeliveryStatus::Pending, 1),
            (DeliveryStatus::Skipped, 1),
            (DeliveryStatus::Succeeded, 1)
        ]
    );
    assert_eq!(
        s.delivery_counts(&t("other")).await.unwrap(),
        [(DeliveryStatus::Pending, 1)]
    );

    // Reopen: never a pending one, never another tenant's; a finished one loses its error and
    // reason but keeps its attempts and what it wrote.
    s.record_delivery_attempt(
        d3,
        Attempt {
            status: DeliveryStatus::Failed,
            provider_status: Some(400),
            error: Some("invalid: Phone"),
            reason: None,
        },
        Millis(40),
    )
    .await
    .unwrap();
    let mut tx = s.begin().await.unwrap();
    assert!(
        !s.reopen_delivery(&mut tx, &acme, d_other, Millis(41))
            .await
            .unwrap()
    );
    assert!(
        !s.reopen_delivery(&mut tx, &t("other"), d_other, Millis(41))
            .await
            .unwrap(),
        "a pending delivery is not reopened"
    );
    assert!(
        s.reopen_delivery(&mut tx, &acme, d3, Millis(41))
            .await
            .unwrap()
    );
    assert!(
        s.reopen_delivery(&mut tx, &acme, d2, Millis(41))
            .await
            .unwrap()
    );
    assert!(
        !s.reopen_delivery(&mut tx, &acme, d3, Millis(42))
            .await
            .unwrap(),
        "a reopened delivery is pending"
    );
    tx.commit().await.unwrap();
    let got = s.get_delivery(&acme, d3).await.unwrap().unwrap();
    assert_eq!(
        (
            got.status,
            got.attempts,
            got.error,
            got.reason,
            got.provider_status,
            got.updated_at
        ),
        (
            DeliveryStatus::Pending,
            1,
            None,
            None,
            Some(400),
            Millis(41)
        )
    );
    let got = s.get_delivery(&acme, d2).await.unwrap().unwrap();
    assert_eq!((got.status, got.reason), (DeliveryStatus::Pending, None));
    // A rolled-back reopen leaves the delivery as it was.
    let mut tx = s.begin().await.unwrap();
    assert!(
        s.reopen_delivery(&mut tx, &acme, d1, Millis(43))
            .await
            .unwrap()
    );
    drop(tx);
    assert_eq!(
        s.get_delivery(&acme, d1).await.unwrap().unwrap().status,
        DeliveryStatus::Succeeded
    );

    // A deleted connection leaves its deliveries, without a provider.
    assert!(s.delete_connection(conn).await.unwrap());
    let got = s.get_delivery(&acme, d1).await.unwrap().unwrap();
    assert_eq!((got.provider, got.connection_id), (None, conn));
    db.cleanup().await;
}

#[tokio::test]
async fn deliveries_about_a_subject_and_skipped_members() {
    let db = TestDb::new().await;
    let s = &db.store;
    tenant(s, "acme").await;
    tenant(s, "other").await;
    let conn = connection(s, "acme", "salesforce").await;
    let hub = connection(s, "acme", "hubspot").await;
    let other_conn = connection(s, "other", "salesforce").await;
    let mut seqs = Vec::new();
    for i in 0..6 {
        seqs.push(event(s, "acme", &format!("e{i}"), "call.ended").await);
    }
    let e_other = event(s, "other", "e0", "call.ended").await;
    let row = |seq, conn, step, subject, member, skipped| Row {
        tenant: "acme",
        seq,
        conn,
        step,
        subject,
        member,
        skipped,
    };
    let no_owner = Some("no_owner: the member has no CRM user");
    let a = insert(
        s,
        row(
            seqs[0],
            conn,
            "activity",
            Some("call:1"),
            Some("m1"),
            no_owner,
        ),
        1,
    )
    .await
    .unwrap();
    let b = insert(
        s,
        row(
            seqs[1],
            conn,
            "activity",
            Some("call:1"),
            Some("m1"),
            no_owner,
        ),
        2,
    )
    .await
    .unwrap();
    insert(
        s,
        row(
            seqs[1],
            conn,
            "transcript",
            Some("call:1"),
            Some("m2"),
            no_owner,
        ),
        3,
    )
    .await
    .unwrap();
    // Another reason, another connection, no member, and a pending one: none counts.
    insert(
        s,
        row(
            seqs[2],
            conn,
            "activity",
            Some("call:2"),
            Some("m3"),
            Some("no_user: x"),
        ),
        4,
    )
    .await
    .unwrap();
    insert(
        s,
        row(
            seqs[3],
            hub,
            "activity",
            Some("call:1"),
            Some("m1"),
            no_owner,
        ),
        5,
    )
    .await
    .unwrap();
    insert(
        s,
        row(seqs[4], conn, "activity", Some("call:3"), None, no_owner),
        6,
    )
    .await
    .unwrap();
    insert(
        s,
        row(seqs[5], conn, "activity", Some("call:4"), Some("m4"), None),
        7,
    )
    .await
    .unwrap();
    insert(
        s,
        Row {
            tenant: "other",
            seq: e_other,
            conn: other_conn,
            step: "activity",
            subject: Some("call:1"),
            member: Some("m1"),
            skipped: no_owner,
        },
        8,
    )
    .await
    .unwrap();

    assert_eq!(
        ids(&s
            .deliveries_about(conn, "call:1", "activity")
            .await
            .unwrap()),
        [a, b]
    );
    assert!(
        s.deliveries_about(conn, "call:9", "activity")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.deliveries_about(conn, "call:1", "transcript")
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.skipped_members(&t("acme"), conn, "no_owner")
            .await
            .unwrap(),
        [(m("m1"), 2), (m("m2"), 1)]
    );
    assert_eq!(
        s.skipped_members(&t("acme"), conn, "no_user")
            .await
            .unwrap(),
        [(m("m3"), 1)]
    );
    assert_eq!(
        s.skipped_members(&t("acme"), hub, "no_owner")
            .await
            .unwrap(),
        [(m("m1"), 1)]
    );
    assert!(
        s.skipped_members(&t("acme"), conn, "no_own")
            .await
            .unwrap()
            .is_empty(),
        "the code is matched whole"
    );
    assert!(
        s.skipped_members(&t("other"), conn, "no_owner")
            .await
            .unwrap()
            .is_empty()
    );
    db.cleanup().await;
}

#[tokio::test]
async fn links_are_put_overwritten_deleted_and_go_with_their_connection() {
    let db = TestDb::new().await;
    let s = &db.store;
    tenant(s, "acme").await;
    let acme = t("acme");
    let conn = connection(s, "acme", "salesforce").await;
    let hub = connection(s, "acme", "hubspot").await;
    let lead = Link {
        object: "Lead".into(),
        remote_id: "00Q1".into(),
    };
    let contact = Link {
        object: "Contact".into(),
        remote_id: "0031".into(),
    };
    assert_eq!(s.get_link(conn, "customer:42").await.unwrap(), None);
    s.put_link(&acme, conn, "customer:42", &lead, Millis(1))
        .await
        .unwrap();
    s.put_link(&acme, hub, "customer:42", &contact, Millis(1))
        .await
        .unwrap();
    s.put_link(&acme, conn, "phone:+81312345678", &lead, Millis(1))
        .await
        .unwrap();
    assert_eq!(
        s.get_link(conn, "customer:42").await.unwrap(),
        Some(lead.clone())
    );
    assert_eq!(
        s.get_link(hub, "customer:42").await.unwrap(),
        Some(contact.clone()),
        "links are per connection"
    );
    s.put_link(&acme, conn, "customer:42", &contact, Millis(2))
        .await
        .unwrap();
    assert_eq!(
        s.get_link(conn, "customer:42").await.unwrap(),
        Some(contact.clone()),
        "a better record replaces the link"
    );
    assert!(s.put_link(&acme, conn, "", &lead, Millis(3)).await.is_err());
    assert!(
        s.put_link(
            &acme,
            conn,
            "customer:43",
            &Link {
                object: "Lead".into(),
                remote_id: String::new()
            },
            Millis(3)
        )
        .await
        .is_err()
    );
    s.delete_link(conn, "customer:42").await.unwrap();
    assert_eq!(s.get_link(conn, "customer:42").await.unwrap(), None);
    s.delete_link(conn, "customer:42").await.unwrap();
    assert_eq!(
        s.get_link(conn, "phone:+81312345678").await.unwrap(),
        Some(lead.clone())
    );

    // Deleting the connection deletes its links (the key is only the connection id, so a
    // surviving row would still be found here).
    assert!(s.delete_connection(conn).await.unwrap());
    assert_eq!(s.get_link(conn, "phone:+81312345678").await.unwrap(), None);
    assert_eq!(
        s.get_link(hub, "customer:42").await.unwrap(),
        Some(contact),
        "another connection's links stay"
    );
    db.cleanup().await;
}
