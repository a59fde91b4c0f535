//! The CLI's own behaviour: keys, migrate, events send, deliveries, jobs, configuration errors.

use renkei_core::{EventId, MemberId, Millis, TenantId};
use renkei_store::deliveries::{Attempt, DeliveryStatus, NewDelivery};
use renkei_store::events::NewEvent;
use renkei_store::testing::TestDb;

use crate::support::{call, create_key, renkei, run, serve};

#[tokio::test]
async fn keys_are_created_listed_and_revoked() {
    let db = TestDb::new().await;
    run(&db, &["migrate"]).await;
    let token = create_key(&db).await;
    let id = &token[3..11];
    let list = run(&db, &["keys", "list"]).await;
    assert!(list.contains(id) && list.contains("active"), "{list}");
    assert!(!list.contains(&token), "secrets are never listed");
    run(&db, &["keys", "revoke", id]).await;
    assert!(run(&db, &["keys", "list"]).await.contains("revoked"));
    let out = renkei(&db)
        .args(["keys", "revoke", id])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no active key"));
    db.cleanup().await;
}

#[tokio::test]
async fn events_send_posts_a_file() {
    let db = TestDb::new().await;
    let key = create_key(&db).await;
    let server = serve(&db, &[]).await;
    let http = reqwest::Client::new();
    http.put(server.url("/v1/tenants/acme"))
        .bearer_auth(&key)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.jsonl");
    let lines: Vec<String> = (0..5).map(|i| call(&format!("f{i}")).to_string()).collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    let base = server.base.clone().unwrap();
    let args = [
        "events",
        "send",
        "acme",
        file.to_str().unwrap(),
        "--url",
        &base,
        "--api-key",
        &key,
        "--batch",
        "2",
    ];
    let out = run(&db, &args).await;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(out.trim()).unwrap(),
        serde_json::json!({"accepted": 5, "duplicates": 0})
    );
    let again = run(&db, &args).await;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(again.trim()).unwrap()["duplicates"],
        5
    );
    // A refused batch is reported with the server's reason.
    std::fs::write(&file, r#"[{"id": "x", "type": "nope"}]"#).unwrap();
    let out = renkei(&db).args(args).output().await.unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("refused (422"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    server.terminate().await;
    db.cleanup().await;
}

#[tokio::test]
async fn bad_configuration_is_a_clear_error() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("renkei.toml");
    std::fs::write(&cfg, "listen = \"127.0.0.1:0\"\nworkers = 3\n").unwrap();
    let out = renkei(&db)
        .args(["--config", cfg.to_str().unwrap(), "migrate"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown field `workers`"), "{err}");
    let out = renkei(&db)
        .env("RENKEI_SECRET_KEY", "short")
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("RENKEI_SECRET_KEY is invalid"));
    let out = renkei(&db)
        .args(["--database-url", "mysql://x", "migrate"])
        .output()
        .await
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("expected a URL starting with sqlite:// or postgres://")
    );
    db.cleanup().await;
}

#[tokio::test]
async fn connect_prints_a_link_the_server_opens() {
    let db = TestDb::new().await;
    let key = create_key(&db).await;
    let server = serve(&db, &[]).await;
    let base = server.base.clone().unwrap();
    let http = reqwest::Client::new();
    http.put(server.url("/v1/tenants/acme"))
        .bearer_auth(&key)
        .json(&serde_json::json!({"locale": "en"}))
        .send()
        .await
        .unwrap();
    let out = renkei(&db)
        .args(["connect", "acme", "salesforce", "--public-url", &base])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let link = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(link.starts_with(&format!("{base}/connect/")), "{link}");
    let page = http.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Salesforce"));

    for (args, needle) in [
        (vec!["connect", "acme", "pipedrive"], "unknown provider"),
        (vec!["connect", "nobody", "hubspot"], "no tenant nobody"),
        (
            vec!["connect", "acme", "salesforce", "--member", "m1"],
            "no member m1",
        ),
    ] {
        let out = renkei(&db).args(&args).output().await.unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    db.cleanup().await;
}

/// `renkei sync` starts a run in the server's database, follows it until the server's workers
/// finish it, and prints the outcome; bad arguments are clear errors.
#[tokio::test]
async fn sync_follows_a_run_to_its_end() {
    let db = TestDb::new().await;
    let key = create_key(&db).await;
    let server = serve(&db, &["--sandbox", "--sandbox-seed", "30"]).await;
    let http = reqwest::Client::new();
    http.put(server.url("/v1/tenants/acme"))
        .bearer_auth(&key)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    let t: serde_json::Value = http
        .post(server.url("/sandbox/salesforce/_control/tokens"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let resp = http
        .put(server.url("/v1/tenants/acme/connections/salesforce"))
        .bearer_auth(&key)
        .json(&serde_json::json!({"access_token": t["access_token"],
            "refresh_token": t["refresh_token"], "instance_url": t["instance_url"], "id": t["id"]}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.text().await.unwrap());

    let out = renkei(&db)
        .args(["sync", "acme", "salesforce", "--initial"])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["status"], "succeeded", "{result}");
    assert_eq!(result["kind"], "initial");
    assert!(
        result["progress"]["fetched"].as_u64().unwrap() > 0,
        "{result}"
    );
    let people: serde_json::Value = http
        .get(server.url("/v1/tenants/acme/people"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // One person per phone number: at most as many visible people as were imported.
    let visible = people["people"].as_array().unwrap().len() as u64;
    assert!(visible > 0 && visible <= result["progress"]["imported"].as_u64().unwrap());

    for (args, needle) in [
        (vec!["sync", "acme", "pipedrive"], "unknown provider"),
        (vec!["sync", "nobody", "hubspot"], "no tenant nobody"),
        (
            vec!["sync", "acme", "zoho_crm"],
            "zoho_crm is not connected",
        ),
    ] {
        let out = renkei(&db).args(&args).output().await.unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    server.kill().await;
    db.cleanup().await;
}

/// `renkei deliveries list` prints the API's deliveries as a table (or the raw JSON), `retry`
/// reopens a failed one, and the API's refusals come out as `error: code: message`.
#[tokio::test]
async fn deliveries_list_and_retry_talk_to_the_api() {
    let db = TestDb::new().await;
    let key = create_key(&db).await;
    let s = &db.store;
    let acme = TenantId::parse("acme").unwrap();
    s.put_tenant(&acme, "Acme", "JP", "ja", "Asia/Tokyo", Millis(1))
        .await
        .unwrap();
    let mut tx = s.begin().await.unwrap();
    let seq = s
        .insert_events(
            &mut tx,
            &[NewEvent {
                tenant: &acme,
                id: &EventId::parse("call-1").unwrap(),
                event_type: "call.ended",
                occurred_at: Millis(1),
                member: None,
                data: "{}".into(),
            }],
            Millis(1),
        )
        .await
        .unwrap()[0]
        .unwrap();
    let mut ids = Vec::new();
    let member = MemberId::parse("m1").unwrap();
    for step in ["activity", "transcript"] {
        // Connection 999 does not exist: the table shows no provider.
        let d = NewDelivery {
            tenant: &acme,
            event_seq: seq,
            connection_id: 999,
            step,
            subject: Some("call:1"),
            record_key: None,
            member: Some(&member),
            skipped: None,
        };
        ids.push(
            s.insert_delivery(&mut tx, &d, Millis(2))
                .await
                .unwrap()
                .unwrap(),
        );
    }
    tx.commit().await.unwrap();
    s.record_delivery_attempt(
        ids[0],
        Attempt {
            status: DeliveryStatus::Failed,
            provider_status: Some(400),
            error: Some("invalid: Phone is not a phone number"),
            reason: None,
        },
        Millis(3),
    )
    .await
    .unwrap();

    let server = serve(&db, &[]).await;
    let base = server.base.clone().unwrap();
    let api = ["--url", base.as_str(), "--api-key", key.as_str()];
    let list = |extra: &[&str]| {
        let mut args = vec!["deliveries", "list", "acme"];
        args.extend(extra);
        args.extend(api);
        args.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    fn argv(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }

    let table = run(&db, &argv(&list(&[]))).await;
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    let words = |l: &str| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(
        words(lines[0]),
        [
            "ID", "EVENT", "TYPE", "PROVIDER", "STEP", "STATUS", "ATTEMPTS", "DETAIL"
        ]
    );
    assert_eq!(
        words(lines[1])[..7],
        [
            ids[1].to_string().as_str(),
            "call-1",
            "call.ended",
            "-",
            "transcript",
            "pending",
            "0"
        ]
    );
    assert_eq!(
        words(lines[2]).join(" "),
        format!(
            "{} call-1 call.ended - activity failed 1 invalid: Phone is not a phone number",
            ids[0]
        )
    );
    let failed = run(&db, &argv(&list(&["--status", "failed", "--json"]))).await;
    let page: serde_json::Value = serde_json::from_str(failed.trim()).unwrap();
    assert_eq!(page["deliveries"].as_array().unwrap().len(), 1);
    assert_eq!(page["deliveries"][0]["id"], ids[0]);
    assert_eq!(page["next_cursor"], serde_json::Value::Null);

    // Refusals: the API's code and message, and a failing exit.
    for (extra, expected) in [
        (
            vec!["deliveries", "list", "acme", "--status", "done"],
            "error: invalid_status: unknown status \"done\"",
        ),
        (
            vec!["deliveries", "list", "nobody"],
            "error: tenant_not_found: ",
        ),
    ] {
        let mut args = extra.clone();
        args.extend(api);
        let out = renkei(&db).args(&args).output().await.unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr.starts_with(expected), "{args:?}: {stderr}");
    }
    let pending = ids[1].to_string();
    let mut args = vec!["deliveries", "retry", "acme", pending.as_str()];
    args.extend(api);
    let out = renkei(&db).args(&args).output().await.unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with("error: delivery_not_retryable: the delivery is pending"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The failed one is accepted: pending again, its attempts kept.
    let failed_id = ids[0].to_string();
    let mut args = vec!["deliveries", "retry", "acme", failed_id.as_str(), "--json"];
    args.extend(api);
    let out = run(&db, &args).await;
    let d: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (&d["id"], &d["status"], &d["attempts"], &d["error"]),
        (
            &serde_json::json!(ids[0]),
            &serde_json::json!("pending"),
            &serde_json::json!(1),
            &serde_json::Value::Null
        )
    );
    server.terminate().await;
    db.cleanup().await;
}
