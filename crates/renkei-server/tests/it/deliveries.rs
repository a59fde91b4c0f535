//! The deliveries API: the audit trail's views, filters and pages, every refusal, and a real
//! retry of a failed Salesforce write-back.

use renkei_core::{EventId, MemberId, Millis, TenantId};
use renkei_store::Store;
use renkei_store::deliveries::{Attempt, DeliveryStatus, NewDelivery};
use renkei_store::events::NewEvent;
use serde_json::{Map, Value, json};

use crate::people::{all_people, connect_minted, quiet_scheduler, run_sync, sandbox};
use crate::support::TestApp;

/// A connection id that no connection has: the view shows such deliveries without a provider.
const GONE: i64 = 999;

async fn event(s: &Store, tenant: &str, id: &str) -> i64 {
    let tenant = TenantId::parse(tenant).unwrap();
    let id = EventId::parse(id).unwrap();
    let mut tx = s.begin().await.unwrap();
    let seqs = s
        .insert_events(
            &mut tx,
            &[NewEvent {
                tenant: &tenant,
                id: &id,
                event_type: "call.ended",
                occurred_at: Millis(1),
                member: None,
                data: "{}".into(),
            }],
            Millis(1),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    seqs[0].unwrap()
}

async fn delivery(
    s: &Store,
    seq: i64,
    step: &str,
    member: Option<&str>,
    skipped: Option<&str>,
    now: i64,
) -> i64 {
    let tenant = TenantId::parse("acme").unwrap();
    let member = member.map(|m| MemberId::parse(m).unwrap());
    let subject = format!("call:{seq}");
    let key = format!("{GONE}:{subject}");
    let mut tx = s.begin().await.unwrap();
    let id = s
        .insert_delivery(
            &mut tx,
            &NewDelivery {
                tenant: &tenant,
                event_seq: seq,
                connection_id: GONE,
                step,
                subject: Some(&subject),
                record_key: Some(&key),
                member: member.as_ref(),
                skipped,
            },
            Millis(now),
        )
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    id
}

async fn send_as(app: &TestApp, key: &str, method: &str, path: &str) -> (u16, Value) {
    let resp = app
        .http
        .request(method.parse().unwrap(), app.url(path))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

fn list_ids(page: &Value) -> Vec<i64> {
    page["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn deliveries_are_listed_paged_filtered_and_bad_requests_refused() {
    let app = TestApp::start().await;
    app.put_tenant("acme").await;
    app.put_tenant("other").await;
    let s = &app.db.store;

    let (st, empty) = app.send("GET", "/v1/tenants/acme/deliveries", None).await;
    assert_eq!(
        (st, empty),
        (200, json!({"deliveries": [], "next_cursor": null}))
    );

    let e1 = event(s, "acme", "call-1").await;
    let e2 = event(s, "acme", "call-2").await;
    let d1 = delivery(s, e1, "activity", Some("m1"), None, 10).await;
    let d2 = delivery(
        s,
        e1,
        "person",
        None,
        Some("no_owner: m2 has no CRM user"),
        11,
    )
    .await;
    let d3 = delivery(s, e2, "activity", None, None, 12).await;
    let d4 = delivery(s, e2, "person", None, None, 13).await;
    let d5 = delivery(s, e2, "transcript", None, None, 14).await;
    let mut remote = Map::new();
    remote.insert("person".into(), json!({"object": "Lead", "id": "00Q1"}));
    s.save_delivery_remote(d1, &remote, Millis(15))
        .await
        .unwrap();
    s.record_delivery_attempt(
        d1,
        Attempt {
            status: DeliveryStatus::Failed,
            provider_status: Some(400),
            error: Some("invalid: Phone: 電話番号が正しくありません"),
            reason: None,
        },
        Millis(16),
    )
    .await
    .unwrap();

    let d1_view = json!({
        "id": d1,
        "event": {"id": "call-1", "type": "call.ended"},
        "provider": null,
        "connection_id": GONE,
        "member": "m1",
        "step": "activity",
        "subject": format!("call:{e1}"),
        "record_key": format!("{GONE}:call:{e1}"),
        "status": "failed",
        "reason": null,
        "attempts": 1,
        "provider_status": 400,
        "remote_ids": {"person": {"object": "Lead", "id": "00Q1"}},
        "error": "invalid: Phone: 電話番号が正しくありません",
        "created_at": Millis(10).to_rfc3339(),
        "updated_at": Millis(16).to_rfc3339(),
    });
    let (st, page) = app.send("GET", "/v1/tenants/acme/deliveries", None).await;
    assert_eq!(st, 200, "{page}");
    assert_eq!(list_ids(&page), [d5, d4, d3, d2, d1]);
    assert_eq!(page["next_cursor"], Value::Null);
    assert_eq!(page["deliveries"][4], d1_view);
    let (st, one) = app
        .send("GET", &format!("/v1/tenants/acme/deliveries/{d1}"), None)
        .await;
    assert_eq!((st, &one), (200, &d1_view));
    let d2_view = &page["deliveries"][3];
    assert_eq!(
        (&d2_view["status"], &d2_view["reason"], &d2_view["attempts"]),
        (
            &json!("skipped"),
            &json!("no_owner: m2 has no CRM user"),
            &json!(0)
        )
    );
    // The event shows its deliveries in the same shape, oldest first.
    let (_, ev) = app
        .send("GET", "/v1/tenants/acme/events/call-1", None)
        .await;
    assert_eq!(ev["routing"]["deliveries"], json!([d1_view, d2_view]));

    // Pages of two, following next_cursor to the end.
    let mut seen = Vec::new();
    let mut path = "/v1/tenants/acme/deliveries?limit=2".to_owned();
    let mut pages = 0;
    loop {
        let (st, page) = app.send("GET", &path, None).await;
        assert_eq!(st, 200, "{page}");
        pages += 1;
        seen.extend(list_ids(&page));
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/tenants/acme/deliveries?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!((seen, pages), (vec![d5, d4, d3, d2, d1], 3));
    // A full last page says there is no next one only when nothing follows.
    let (_, page) = app
        .send("GET", "/v1/tenants/acme/deliveries?limit=5", None)
        .await;
    assert_eq!(page["next_cursor"], Value::Null);

    for (query, expected) in [
        ("status=skipped", vec![d2]),
        ("status=failed", vec![d1]),
        ("status=pending", vec![d5, d4, d3]),
        ("status=dead", vec![]),
        ("event=call-1", vec![d2, d1]),
        ("event=call-2&status=pending&limit=2", vec![d5, d4]),
        ("event=call-1&status=pending", vec![]),
    ] {
        let (st, page) = app
            .send("GET", &format!("/v1/tenants/acme/deliveries?{query}"), None)
            .await;
        assert_eq!(st, 200, "{query}: {page}");
        assert_eq!(list_ids(&page), expected, "{query}");
    }

    // Retrying a pending delivery is a conflict that names its status.
    let (st, b) = app
        .send(
            "POST",
            &format!("/v1/tenants/acme/deliveries/{d3}/retry"),
            None,
        )
        .await;
    assert_eq!(
        (st, b["error"]["code"].as_str()),
        (409, Some("delivery_not_retryable"))
    );
    assert!(
        b["error"]["message"].as_str().unwrap().contains("pending"),
        "{b}"
    );

    // Every refusal, with its status and code.
    let valid = "pending, succeeded, failed, dead, skipped";
    for (method, path, status, code) in [
        (
            "GET",
            "/v1/tenants/nobody/deliveries",
            404,
            "tenant_not_found",
        ),
        (
            "GET",
            "/v1/tenants/acme/deliveries?status=done",
            400,
            "invalid_status",
        ),
        (
            "GET",
            "/v1/tenants/acme/deliveries?event=a%20b",
            400,
            "invalid_event_id",
        ),
        (
            "GET",
            "/v1/tenants/acme/deliveries?event=nope",
            404,
            "event_not_found",
        ),
        (
            "GET",
            "/v1/tenants/acme/deliveries?cursor=abc",
            400,
            "invalid_cursor",
        ),
        (
            "GET",
            "/v1/tenants/acme/deliveries?cursor=-3",
            400,
            "invalid_cursor",
        ),
        (
            "GET",
            "/v1/tenants/acme/deliveries?limit=0",
            400,
            "invalid_limit",
        ),
        (
            "GET",
            "/v1/tenants/acme/deliveries?limit=201",
            400,
            "invalid_limit",
        ),
        (
            "GET",
            "/v1/tenants/acme/deliveries?limit=ten",
            400,
            "invalid_limit",
        ),
        (
            "GET",
            "/v1/tenants/acme/deliveries?colour=red",
            400,
            "invalid_query",
        ),
        (
            "GET",
            "/v1/tenants/acme/deliveries/abc",
            400,
            "invalid_delivery_id",
        ),
        (
            "GET",
            "/v1/tenants/acme/deliveries/99999",
            404,
            "delivery_not_found",
        ),
        (
            "POST",
            "/v1/tenants/acme/deliveries/abc/retry",
            400,
            "invalid_delivery_id",
        ),
        (
            "POST",
            "/v1/tenants/acme/deliveries/99999/retry",
            404,
            "delivery_not_found",
        ),
        (
            "GET",
            "/v1/tenants/nobody/deliveries/1",
            404,
            "tenant_not_found",
        ),
    ] {
        let (st, b) = app.send(method, path, None).await;
        assert_eq!(
            (st, b["error"]["code"].as_str()),
            (status, Some(code)),
            "{method} {path}: {b}"
        );
        if code == "invalid_status" {
            assert!(
                b["error"]["message"].as_str().unwrap().contains(valid),
                "{b}"
            );
        }
    }
    let (st, _) = app
        .send("GET", "/v1/tenants/acme/deliveries?limit=200", None)
        .await;
    assert_eq!(st, 200);

    // Tenants stay apart: another tenant's path does not find acme's delivery, and a key
    // scoped to that tenant cannot read acme's.
    let (st, b) = app
        .send("GET", &format!("/v1/tenants/other/deliveries/{d1}"), None)
        .await;
    assert_eq!(
        (st, b["error"]["code"].as_str()),
        (404, Some("delivery_not_found"))
    );
    let (st, b) = app
        .send(
            "POST",
            &format!("/v1/tenants/other/deliveries/{d1}/retry"),
            None,
        )
        .await;
    assert_eq!(
        (st, b["error"]["code"].as_str()),
        (404, Some("delivery_not_found"))
    );
    let (_, page) = app.send("GET", "/v1/tenants/other/deliveries", None).await;
    assert_eq!(page["deliveries"], json!([]));
    let scoped = app.scoped_key("other").await;
    for (method, path) in [
        ("GET", "/v1/tenants/acme/deliveries".to_owned()),
        ("GET", format!("/v1/tenants/acme/deliveries/{d1}")),
        ("POST", format!("/v1/tenants/acme/deliveries/{d1}/retry")),
    ] {
        let (st, b) = send_as(&app, &scoped, method, &path).await;
        assert_eq!(
            (st, b["error"]["code"].as_str()),
            (403, Some("forbidden_tenant")),
            "{path}"
        );
    }
    let (st, _) = send_as(&app, &scoped, "GET", "/v1/tenants/other/deliveries").await;
    assert_eq!(st, 200);
    // Nothing above changed a delivery.
    let (_, one) = app
        .send("GET", &format!("/v1/tenants/acme/deliveries/{d1}"), None)
        .await;
    assert_eq!(one, d1_view);
    app.stop().await;
}

/// A `customer.updated` write-back refused by a Salesforce duplicate rule fails for good;
/// with the rule switched off, a retry writes it: `succeeded` after two attempts, and a
/// succeeded delivery cannot be retried.
#[tokio::test]
async fn a_failed_writeback_is_retried_to_success() {
    let app = TestApp::start_sandboxed(quiet_scheduler).await;
    app.put_tenant("acme").await;
    sandbox(&app, "salesforce", "seed", json!({"count": 40, "seed": 9})).await;
    let tokens = connect_minted(&app, "acme", "salesforce").await;
    run_sync(&app, "acme", "salesforce", None).await;
    let people = all_people(&app, "acme").await;
    let contacts: Vec<&Value> = people
        .iter()
        .filter(|p| p["object"] == "contact" && p["emails"][0].is_string())
        .collect();
    assert!(contacts.len() >= 2, "the seed has contacts with emails");
    let (target, taken) = (contacts[0], contacts[1]);
    let id = target["id"].as_str().unwrap();
    let remote = target["remote_id"].as_str().unwrap();
    let email = taken["emails"][0].as_str().unwrap();
    assert_ne!(target["emails"][0].as_str(), Some(email));

    // The other contact's email makes the update a duplicate under the org's rule.
    sandbox(
        &app,
        "salesforce",
        "settings",
        json!({"duplicate_rule": true}),
    )
    .await;
    let (s, b) = app
        .send(
            "POST",
            "/v1/tenants/acme/events",
            Some(json!({"id": "cu-dup", "type": "customer.updated",
                "occurred_at": "2026-11-21T09:00:00Z",
                "data": {"customer_id": id, "changes": {"email": email}}})),
        )
        .await;
    assert_eq!(s, 202, "{b}");
    let mut failed = Value::Null;
    app.eventually("the write-back to fail", async || {
        let (_, page) = app
            .send("GET", "/v1/tenants/acme/deliveries?event=cu-dup", None)
            .await;
        failed = page["deliveries"][0].clone();
        failed["status"] == "failed"
    })
    .await;
    assert_eq!(
        (
            &failed["event"],
            &failed["provider"],
            &failed["step"],
            &failed["attempts"],
            &failed["subject"]
        ),
        (
            &json!({"id": "cu-dup", "type": "customer.updated"}),
            &json!("salesforce"),
            &json!("person_update"),
            &json!(1),
            &json!(format!("customer:{id}"))
        )
    );
    assert!(
        failed["error"].as_str().unwrap().contains("duplicate"),
        "{failed}"
    );
    let delivery = failed["id"].as_i64().unwrap();
    let path = format!("/v1/tenants/acme/deliveries/{delivery}");
    let (_, ev) = app
        .send("GET", "/v1/tenants/acme/events/cu-dup", None)
        .await;
    assert_eq!(ev["routing"]["deliveries"], json!([failed]));
    let (_, page) = app
        .send("GET", "/v1/tenants/acme/deliveries?status=failed", None)
        .await;
    assert_eq!(list_ids(&page), [delivery]);

    // The rule is switched off; the retry is accepted at once and the workers write it.
    sandbox(
        &app,
        "salesforce",
        "settings",
        json!({"duplicate_rule": false}),
    )
    .await;
    let (s, retried) = app.send("POST", &format!("{path}/retry"), None).await;
    assert_eq!(s, 202, "{retried}");
    assert_eq!(
        (
            &retried["status"],
            &retried["attempts"],
            &retried["error"],
            &retried["id"]
        ),
        (&json!("pending"), &json!(1), &Value::Null, &json!(delivery))
    );
    let mut done = Value::Null;
    app.eventually("the retried write-back to succeed", async || {
        let (_, d) = app.send("GET", &path, None).await;
        done = d;
        done["status"] == "succeeded"
    })
    .await;
    assert_eq!(
        (
            &done["attempts"],
            &done["error"],
            &done["provider_status"],
            &done["remote_ids"]["person"]["id"]
        ),
        (&json!(2), &Value::Null, &json!(200), &json!(remote))
    );
    let instance = tokens["instance_url"].as_str().unwrap();
    let record: Value = app
        .http
        .get(format!(
            "{instance}/services/data/v62.0/sobjects/Contact/{remote}"
        ))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        record["Email"].as_str().map(str::to_lowercase),
        Some(email.to_lowercase())
    );

    // A succeeded delivery is not written again.
    let (s, b) = app.send("POST", &format!("{path}/retry"), None).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (409, Some("delivery_not_retryable"))
    );
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("succeeded"),
        "{b}"
    );
    let (_, after) = app.send("GET", &path, None).await;
    assert_eq!(after["attempts"], 2);
    let (_, page) = app
        .send("GET", "/v1/tenants/acme/deliveries?status=failed", None)
        .await;
    assert_eq!(page["deliveries"], json!([]));
    app.stop().await;
}

/// A delivery whose job died behind its handler's back (every attempt's lease expired: the
/// worker crashed or was killed each time) is marked `dead` with the queue's reason, once,
/// and can then be retried; it does not stay `pending` with no job left to run it.
#[tokio::test]
async fn a_delivery_whose_job_the_reaper_killed_is_dead_and_retryable() {
    use renkei_engine::JobPayload;
    use renkei_engine::deliver::DeliverJob;

    let app = TestApp::start().await;
    app.put_tenant("acme").await;
    let s = &app.db.store;
    let seq = event(s, "acme", "call-1").await;
    let id = delivery(s, seq, "activity", None, None, 10).await;
    let job = DeliverJob {
        tenant: TenantId::parse("acme").unwrap(),
        delivery_id: id,
        record_key: None,
    };
    let error = "lease expired: the worker crashed, hung or lost its database connection";
    job.on_abandoned(s, error, Millis(20)).await.unwrap();
    let path = format!("/v1/tenants/acme/deliveries/{id}");
    let (st, d) = app.send("GET", &path, None).await;
    assert_eq!(st, 200, "{d}");
    assert_eq!(
        (&d["status"], &d["attempts"], &d["error"]),
        (&json!("dead"), &json!(1), &json!(error))
    );
    // Told twice (two reapers), it is still one death.
    job.on_abandoned(s, error, Millis(30)).await.unwrap();
    let (_, again) = app.send("GET", &path, None).await;
    assert_eq!(again["attempts"], 1, "{again}");
    let (st, retried) = app.send("POST", &format!("{path}/retry"), None).await;
    assert_eq!(
        (st, &retried["status"]),
        (202, &json!("pending")),
        "{retried}"
    );
    app.stop().await;
}
