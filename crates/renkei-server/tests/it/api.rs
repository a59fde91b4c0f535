//! The HTTP API end to end.

use serde_json::{Value, json};

use crate::support::TestApp;

fn call(id: &str) -> Value {
    json!({"id": id, "type": "call.ended", "occurred_at": "2026-11-21T10:00:00+09:00", "member": "m1",
           "data": {"call_id": "c1", "direction": "inbound", "customer_phone": "03-1234-5678",
                    "duration_seconds": 65, "started_at": "2026-11-21T09:58:55+09:00"}})
}

#[tokio::test]
async fn operations_routes_answer() {
    let app = TestApp::start().await;
    let get = |p: &str| app.http.get(app.url(p)).send();
    let r = get("/healthz").await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()
            .get("x-request-id")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("req_")
    );
    assert_eq!(get("/readyz").await.unwrap().status(), 200);
    let doc: Value = get("/openapi.json").await.unwrap().json().await.unwrap();
    assert_eq!(doc["info"]["title"], "renkei");
    // A client's own request id is kept.
    let r = app
        .http
        .get(app.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123");

    app.put_tenant("acme").await;
    app.send("POST", "/v1/tenants/acme/events", Some(call("e1")))
        .await;
    let metrics = get("/metrics").await.unwrap().text().await.unwrap();
    for needle in [
        "renkei_http_requests_total{method=\"PUT\",route=\"/v1/tenants/{tenant}\",status=\"201\"}",
        "renkei_queue_jobs{state=\"pending\"}",
        "renkei_queue_oldest_age_seconds{state=\"dead\"}",
        "renkei_http_request_duration_seconds_bucket",
    ] {
        assert!(
            metrics.contains(needle),
            "/metrics lacks {needle}:\n{metrics}"
        );
    }
    app.eventually("the routing job to run", async || {
        app.http
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .contains("renkei_jobs_total{kind=\"route_event\",outcome=\"succeeded\"}")
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn committed_openapi_matches_the_generated_one() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../openapi.json");
    let generated = renkei_server::openapi::document_text();
    if std::env::var_os("RENKEI_UPDATE_OPENAPI").is_some() {
        std::fs::write(path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi.json is out of date; regenerate it with RENKEI_UPDATE_OPENAPI=1 cargo test -p renkei-server openapi"
    );
}

#[tokio::test]
async fn keys_missing_wrong_or_revoked_get_401() {
    let app = TestApp::start().await;
    let url = app.url("/v1/tenants/acme");
    let r = app.http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("missing Authorization")
    );
    for header in [
        "Basic abc",
        "Bearer",
        "Bearer not-a-key",
        "Bearer rk_00000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let r = app
            .http
            .get(&url)
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{header}");
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["error"]["code"], "unauthorized", "{header}");
    }
    let (s, _) = app.send("PUT", "/v1/tenants/acme", Some(json!({}))).await;
    assert_eq!(s, 201);
    let id = &app.key[3..11];
    assert!(
        app.db
            .store
            .revoke_api_key(id, renkei_core::Millis::now())
            .await
            .unwrap()
    );
    let (s, b) = app.send("GET", "/v1/tenants/acme", None).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    assert!(b["error"]["message"].as_str().unwrap().contains("revoked"));
    app.stop().await;
}

#[tokio::test]
async fn tenants_and_members_crud() {
    let app = TestApp::start().await;
    let (s, b) = app
        .send(
            "PUT",
            "/v1/tenants/acme",
            Some(json!({"display_name": "Acme 株式会社", "locale": "en"})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(
        (
            b["default_region"].as_str(),
            b["locale"].as_str(),
            b["time_zone"].as_str()
        ),
        (Some("JP"), Some("en"), Some("Asia/Tokyo"))
    );
    let (s, b) = app.send("PUT", "/v1/tenants/acme", Some(json!({"display_name": "Acme", "time_zone": "America/New_York", "default_region": "US"}))).await;
    assert_eq!(
        (s, b["display_name"].as_str(), b["locale"].as_str()),
        (200, Some("Acme"), Some("ja"))
    );
    let (s, b) = app.send("GET", "/v1/tenants/acme", None).await;
    assert_eq!(
        (s, b["time_zone"].as_str()),
        (200, Some("America/New_York"))
    );

    let (s, b) = app
        .send(
            "PUT",
            "/v1/tenants/acme/members/m1",
            Some(json!({"email": "Taro@Example.JP", "display_name": "山田 太郎"})),
        )
        .await;
    assert_eq!((s, b["email"].as_str()), (201, Some("taro@example.jp")));
    for i in 2..=3 {
        app.send(
            "PUT",
            &format!("/v1/tenants/acme/members/m{i}"),
            Some(json!({"email": format!("m{i}@example.com")})),
        )
        .await;
    }
    let (s, b) = app
        .send("GET", "/v1/tenants/acme/members?limit=2", None)
        .await;
    assert_eq!(
        (
            s,
            b["members"].as_array().unwrap().len(),
            b["next_cursor"].as_str()
        ),
        (200, 2, Some("m2"))
    );
    let (_, b) = app
        .send("GET", "/v1/tenants/acme/members?limit=2&cursor=m2", None)
        .await;
    assert_eq!(
        (b["members"][0]["id"].as_str(), b.get("next_cursor")),
        (Some("m3"), None)
    );
    let (s, b) = app.send("GET", "/v1/tenants/acme/members/m1", None).await;
    assert_eq!((s, b["display_name"].as_str()), (200, Some("山田 太郎")));
    assert_eq!(
        app.send("DELETE", "/v1/tenants/acme/members/m1", None)
            .await
            .0,
        204
    );
    let (s, b) = app.send("GET", "/v1/tenants/acme/members/m1", None).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (404, Some("member_not_found"))
    );
    let (s, b) = app
        .send("DELETE", "/v1/tenants/acme/members/m1", None)
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (404, Some("member_not_found"))
    );
    app.stop().await;
}

#[tokio::test]
async fn events_are_accepted_idempotently_and_routed() {
    let app = TestApp::start().await;
    app.put_tenant("acme").await;
    let (s, b) = app
        .send("POST", "/v1/tenants/acme/events", Some(call("e1")))
        .await;
    assert_eq!(
        (s, b.clone()),
        (202, json!({"accepted": ["e1"], "duplicates": []}))
    );
    let (s, b) = app
        .send(
            "POST",
            "/v1/tenants/acme/events",
            Some(json!([call("e1"), call("e2")])),
        )
        .await;
    assert_eq!(
        (s, b),
        (202, json!({"accepted": ["e2"], "duplicates": ["e1"]}))
    );

    app.eventually("e2 to be routed", async || {
        app.send("GET", "/v1/tenants/acme/events/e2", None).await.1["routing"]["status"] == "routed"
    })
    .await;
    let (s, b) = app.send("GET", "/v1/tenants/acme/events/e1", None).await;
    assert_eq!(s, 200);
    assert_eq!(b["type"], "call.ended");
    assert_eq!(b["occurred_at"], "2026-11-21T01:00:00.000Z");
    assert_eq!(b["data"]["started_at"], "2026-11-21T00:58:55Z");
    assert_eq!(b["routing"]["deliveries"], json!([]));
    assert!(
        b["routing"]["note"]
            .as_str()
            .unwrap()
            .starts_with("no connection applies"),
        "{b}"
    );
    let (s, b) = app.send("GET", "/v1/tenants/acme/events/nope", None).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (404, Some("event_not_found"))
    );
    app.stop().await;
}

#[tokio::test]
async fn one_tenant_never_sees_another() {
    let app = TestApp::start().await;
    app.put_tenant("acme").await;
    app.put_tenant("globex").await;
    app.send("POST", "/v1/tenants/acme/events", Some(call("secret-call")))
        .await;
    app.send(
        "PUT",
        "/v1/tenants/acme/members/m1",
        Some(json!({"email": "a@acme.example"})),
    )
    .await;
    // The same ids under another tenant find nothing.
    let (s, b) = app
        .send("GET", "/v1/tenants/globex/events/secret-call", None)
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (404, Some("event_not_found"))
    );
    let (s, _) = app.send("GET", "/v1/tenants/globex/members/m1", None).await;
    assert_eq!(s, 404);
    let (_, b) = app.send("GET", "/v1/tenants/globex/members", None).await;
    assert_eq!(b["members"], json!([]));
    // A key scoped to globex cannot touch acme at all.
    let scoped = app.scoped_key("globex").await;
    for (method, path) in [
        ("GET", "/v1/tenants/acme"),
        ("GET", "/v1/tenants/acme/events/secret-call"),
        ("GET", "/v1/tenants/acme/members/m1"),
    ] {
        let r = app
            .http
            .request(method.parse().unwrap(), app.url(path))
            .bearer_auth(&scoped)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{path}");
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["error"]["code"], "forbidden_tenant");
    }
    let r = app
        .http
        .get(app.url("/v1/tenants/globex"))
        .bearer_auth(&scoped)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    app.stop().await;
}

/// (what, path, content type, body, expected status, expected error code)
type BadInput = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Vec<u8>,
    u16,
    &'static str,
);

/// Every kind of bad input gets its own 4xx code, never a 500, and stores nothing.
#[tokio::test]
async fn bad_inputs_get_specific_errors() {
    let app = TestApp::start_with(|c| c.max_body_bytes = 64 * 1024).await;
    app.put_tenant("acme").await;
    let raw = |path: &str, ct: Option<&str>, body: Vec<u8>| {
        let mut req = app
            .http
            .post(app.url(path))
            .bearer_auth(&app.key)
            .body(body);
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        req.send()
    };
    let ev = "/v1/tenants/acme/events";
    let mut wrong_type = call("x");
    wrong_type["data"]["duration_seconds"] = json!("long");
    let mut unknown = call("x");
    unknown["type"] = json!("call.exploded");
    let mut missing = call("x");
    missing["data"]
        .as_object_mut()
        .unwrap()
        .remove("customer_phone");
    let big = "x".repeat(70 * 1024);
    let cases: Vec<BadInput> = vec![
        (
            "malformed JSON",
            ev,
            Some("application/json"),
            b"{\"id\": ".to_vec(),
            400,
            "malformed_json",
        ),
        (
            "no content type",
            ev,
            None,
            serde_json::to_vec(&call("x")).unwrap(),
            415,
            "unsupported_media_type",
        ),
        (
            "text content type",
            ev,
            Some("text/plain"),
            serde_json::to_vec(&call("x")).unwrap(),
            415,
            "unsupported_media_type",
        ),
        (
            "wrong type",
            ev,
            Some("application/json"),
            serde_json::to_vec(&wrong_type).unwrap(),
            422,
            "invalid_event",
        ),
        (
            "unknown event type",
            ev,
            Some("application/json"),
            serde_json::to_vec(&unknown).unwrap(),
            422,
            "unknown_event_type",
        ),
        (
            "missing field",
            ev,
            Some("application/json"),
            serde_json::to_vec(&missing).unwrap(),
            422,
            "invalid_event",
        ),
        (
            "not an event",
            ev,
            Some("application/json"),
            b"42".to_vec(),
            422,
            "invalid_body",
        ),
        (
            "empty array",
            ev,
            Some("application/json"),
            b"[]".to_vec(),
            422,
            "empty_batch",
        ),
        (
            "duplicate ids in one array",
            ev,
            Some("application/json"),
            serde_json::to_vec(&json!([call("d"), call("d")])).unwrap(),
            422,
            "duplicate_event_id",
        ),
        (
            "oversize body",
            ev,
            Some("application/json"),
            serde_json::to_vec(&json!({"id": big})).unwrap(),
            413,
            "payload_too_large",
        ),
        (
            "invalid tenant id",
            "/v1/tenants/bad%20tenant/events",
            Some("application/json"),
            serde_json::to_vec(&call("x")).unwrap(),
            400,
            "invalid_tenant_id",
        ),
        (
            "unknown tenant",
            "/v1/tenants/nobody/events",
            Some("application/json"),
            serde_json::to_vec(&call("x")).unwrap(),
            404,
            "tenant_not_found",
        ),
        (
            "tenant field of wrong type",
            "/v1/tenants/acme",
            Some("application/json"),
            br#"{"locale": 5}"#.to_vec(),
            422,
            "invalid_field",
        ),
        (
            "unknown tenant field",
            "/v1/tenants/acme",
            Some("application/json"),
            br#"{"colour": "red"}"#.to_vec(),
            422,
            "invalid_field",
        ),
        (
            "bad locale",
            "/v1/tenants/acme",
            Some("application/json"),
            br#"{"locale": "fr"}"#.to_vec(),
            422,
            "invalid_field",
        ),
        (
            "bad time zone",
            "/v1/tenants/acme",
            Some("application/json"),
            br#"{"time_zone": "Mars/Olympus"}"#.to_vec(),
            422,
            "invalid_field",
        ),
        (
            "bad member email",
            "/v1/tenants/acme/members/m1",
            Some("application/json"),
            br#"{"email": "nope"}"#.to_vec(),
            422,
            "invalid_field",
        ),
        (
            "invalid member id",
            "/v1/tenants/acme/members/a%20b",
            Some("application/json"),
            br#"{"email": "a@b.example"}"#.to_vec(),
            400,
            "invalid_member_id",
        ),
    ];
    for (what, path, ct, body, status, code) in cases {
        // Tenant and member routes are PUTs; events are POSTs.
        let resp = if path.ends_with("/events") {
            raw(path, ct, body).await.unwrap()
        } else {
            let mut req = app.http.put(app.url(path)).bearer_auth(&app.key).body(body);
            if let Some(ct) = ct {
                req = req.header("content-type", ct);
            }
            req.send().await.unwrap()
        };
        let got = resp.status().as_u16();
        let b: Value = resp
            .json()
            .await
            .unwrap_or_else(|e| panic!("{what}: body is not JSON: {e}"));
        assert_eq!(
            (got, b["error"]["code"].as_str()),
            (status, Some(code)),
            "{what}: {b}"
        );
        assert!(
            !b["error"]["message"].as_str().unwrap().is_empty(),
            "{what}"
        );
    }

    // A bad item names its place, and the good items of its batch are not stored.
    let (s, b) = app
        .send("POST", ev, Some(json!([call("ok-1"), wrong_type])))
        .await;
    assert_eq!(s, 422);
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("events[1].data.duration_seconds: invalid type"),
        "{b}"
    );
    assert_eq!(b["error"]["details"]["errors"][0]["index"], 1);
    let (s, _) = app.send("GET", "/v1/tenants/acme/events/ok-1", None).await;
    assert_eq!(s, 404, "an array is all-or-nothing");

    // Unknown routes and methods answer in the same shape.
    let (s, b) = app.send("GET", "/v1/nowhere", None).await;
    assert_eq!((s, b["error"]["code"].as_str()), (404, Some("not_found")));
    let (s, b) = app.send("DELETE", "/v1/tenants/acme", None).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
    let (s, b) = app
        .send("GET", "/v1/tenants/acme/members?limit=0", None)
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("invalid_query"))
    );
    app.stop().await;
}
