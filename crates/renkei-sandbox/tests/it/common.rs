//! What every emulator must do alike: the directory entry, and the `_control` API (reset,
//! clock, faults, request log, token minting). Each test runs against every emulator.

use serde_json::{Value, json};

use crate::support::TestSandbox;

fn names(sb: &TestSandbox) -> Vec<&'static str> {
    let names: Vec<&'static str> = sb.sandbox.emulators().iter().map(|e| e.name()).collect();
    // Every loop below must have something to check.
    assert_eq!(names, ["hubspot", "salesforce", "zoho"]);
    names
}

#[tokio::test]
async fn the_directory_lists_every_emulator_with_urls_clients_and_accounts() {
    let sb = TestSandbox::start().await;
    let (status, dir) = sb.get_json(&format!("{}/sandbox", sb.origin)).await;
    assert_eq!(status, 200);
    for name in names(&sb) {
        let p = &dir["providers"][name];
        for url in ["authorize", "token", "api", "ui"] {
            let u = p["urls"][url]
                .as_str()
                .unwrap_or_else(|| panic!("{name} urls.{url}"));
            assert!(u.starts_with(&sb.origin), "{name} {url}: {u}");
        }
        assert!(p["client_id"].is_string(), "{name}");
        assert!(p["client_secret"].is_string(), "{name}");
        assert!(
            p["accounts"].as_array().is_some_and(|a| a.len() >= 2),
            "{name}: several accounts"
        );
        assert!(p["accounts"][0]["id"].is_string(), "{name}");
    }
}

#[tokio::test]
async fn faults_answer_then_clear_and_the_log_records_them() {
    let sb = TestSandbox::start().await;
    for name in names(&sb) {
        sb.control(name, "reset", Value::Null).await;
        let path = "/no/such/vendor/path";
        sb.control(
            name,
            "faults",
            json!({"kind": "server_error", "count": 2, "status": 502}),
        )
        .await;
        for _ in 0..2 {
            let (status, _) = sb.get_json(&sb.url(name, path)).await;
            assert_eq!(status, 502, "{name}");
        }
        let (status, _) = sb.get_json(&sb.url(name, path)).await;
        assert_ne!(status, 502, "{name}: the fault is spent");

        sb.control(
            name,
            "faults",
            json!({"kind": "rate_limit", "retry_after_seconds": 7}),
        )
        .await;
        let resp = sb.client.get(sb.url(name, path)).send().await.unwrap();
        assert!(
            resp.status() == 429 || resp.status() == 403,
            "{name}: {} (Salesforce answers 403 REQUEST_LIMIT_EXCEEDED)",
            resp.status()
        );

        let (_, log) = sb.get_json(&sb.url(name, "/_control/requests")).await;
        let requests = log["requests"].as_array().unwrap();
        assert_eq!(requests.len(), 4, "{name}: control calls are not logged");
        assert_eq!(requests[0]["path"], path);
        assert_eq!(requests[0]["status"], 502);
        assert_eq!(requests[0]["fault"], "server_error");
        let (_, later) = sb
            .get_json(&sb.url(
                name,
                &format!("/_control/requests?since={}", requests[2]["seq"]),
            ))
            .await;
        assert_eq!(later["count"], 1);
    }
}

#[tokio::test]
async fn a_dropped_connection_fails_the_client_after_the_request_ran() {
    let sb = TestSandbox::start().await;
    for name in names(&sb) {
        sb.control(name, "faults", json!({"kind": "drop_after"}))
            .await;
        let result = async {
            let resp = sb.client.get(sb.url(name, "/anything")).send().await?;
            resp.bytes().await
        }
        .await;
        assert!(result.is_err(), "{name}: the client must see a failure");
        let (_, log) = sb.get_json(&sb.url(name, "/_control/requests")).await;
        assert_eq!(log["requests"][0]["fault"], "drop_after", "{name}");
    }
}

#[tokio::test]
async fn the_clock_only_moves_forward() {
    let sb = TestSandbox::start().await;
    for name in names(&sb) {
        let before = sb
            .control(name, "clock", json!({"advance_seconds": 0}))
            .await;
        let after = sb
            .control(name, "clock", json!({"advance_seconds": 7200}))
            .await;
        assert_eq!(
            after["offset_seconds"].as_i64().unwrap() - before["offset_seconds"].as_i64().unwrap(),
            7200
        );
        let resp = sb
            .client
            .post(sb.url(name, "/_control/clock"))
            .json(&json!({"advance_seconds": -1}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        sb.control(name, "reset", Value::Null).await;
        let (_, reset) = sb.get_json(&sb.url(name, "/_control/clock")).await;
        assert_eq!(reset["offset_seconds"], 0);
    }
}

#[tokio::test]
async fn control_bad_input_gets_a_specific_error() {
    let sb = TestSandbox::start().await;
    for name in names(&sb) {
        for (what, body, needle) in [
            ("faults", json!({"kind": "meteor"}), "unknown variant"),
            (
                "faults",
                json!({"kind": "slow", "count": 1, "fraction": 0.5}),
                "either count or fraction",
            ),
            (
                "seed",
                json!({"count": 10, "colour": "red"}),
                "unknown field",
            ),
            ("seed", json!({"count": 10_000_000}), "at most"),
            (
                "tokens",
                json!({"account": "no-such-account"}),
                "no-such-account",
            ),
        ] {
            let resp = sb
                .client
                .post(sb.url(name, &format!("/_control/{what}")))
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(resp.status().is_client_error(), "{name} {what}");
            let text = resp.text().await.unwrap();
            assert!(text.contains(needle), "{name} {what}: {text}");
        }
        let resp = sb
            .client
            .post(sb.url(name, "/_control/faults"))
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        assert!(resp.text().await.unwrap().contains("malformed JSON"));
    }
}

#[tokio::test]
async fn minted_tokens_and_seeded_records_exist_until_reset() {
    let sb = TestSandbox::start().await;
    for name in names(&sb) {
        let tokens = sb.control(name, "tokens", Value::Null).await;
        assert!(tokens["access_token"].is_string(), "{name}: {tokens}");
        let summary = sb
            .control(name, "seed", json!({"count": 50, "seed": 1}))
            .await;
        assert!(summary.is_object(), "{name}");
        let page = sb.client.get(sb.url(name, "/_ui")).send().await.unwrap();
        assert_eq!(page.status(), 200);
        assert!(
            page.text().await.unwrap().contains("<table"),
            "{name}: the UI lists records"
        );
        sb.control(name, "reset", Value::Null).await;
        let page = sb
            .client
            .get(sb.url(name, "/_ui"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            !page.contains("<table"),
            "{name}: reset removed the records"
        );
    }
}

/// An authenticated read of each vendor's API with a minted token: the request the token
/// faults must break.
fn probe(sb: &TestSandbox, name: &str, tokens: &Value) -> reqwest::RequestBuilder {
    let token = tokens["access_token"].as_str().unwrap();
    match name {
        "hubspot" => sb
            .client
            .get(sb.url(name, "/crm/v3/objects/contacts?limit=1"))
            .bearer_auth(token),
        "salesforce" => sb
            .client
            .get(format!(
                "{}/services/data/v62.0/limits",
                tokens["instance_url"].as_str().unwrap()
            ))
            .bearer_auth(token),
        "zoho" => sb
            .client
            .get(format!(
                "{}/crm/v8/Leads?fields=Last_Name",
                tokens["api_domain"].as_str().unwrap()
            ))
            .header("Authorization", format!("Zoho-oauthtoken {token}")),
        other => panic!("no probe for {other}"),
    }
}

/// A refresh-token grant at the vendor's token URL (from the directory), as a connector does.
async fn refresh(sb: &TestSandbox, dir: &Value, name: &str, tokens: &Value) -> Value {
    let p = &dir["providers"][name];
    // Zoho refreshes only at the accounts server of the token's data centre, the one whose
    // API domain the token response named.
    let token_url = p["data_centres"]
        .as_object()
        .and_then(|dcs| {
            dcs.values()
                .find(|dc| dc["urls"]["api"] == tokens["api_domain"])
        })
        .map_or(&p["urls"]["token"], |dc| &dc["urls"]["token"]);
    let resp = sb
        .client
        .post(token_url.as_str().unwrap())
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", p["client_id"].as_str().unwrap()),
            ("client_secret", p["client_secret"].as_str().unwrap()),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    resp.json().await.unwrap()
}

#[tokio::test]
async fn token_faults_expire_the_access_token_or_revoke_the_grant() {
    let sb = TestSandbox::start().await;
    let (_, dir) = sb.get_json(&format!("{}/sandbox", sb.origin)).await;
    for name in names(&sb) {
        let tokens = sb.control(name, "tokens", Value::Null).await;
        let ok = probe(&sb, name, &tokens).send().await.unwrap().status();
        assert!(ok.is_success(), "{name}: the minted token works ({ok})");

        // expired_token really expires the access token: it stays refused, and a refresh
        // gives a working one, as with a token that died of age.
        sb.control(name, "faults", json!({"kind": "expired_token"}))
            .await;
        let expired = probe(&sb, name, &tokens).send().await.unwrap().status();
        assert_eq!(expired, 401, "{name}: expired_token");
        let again = probe(&sb, name, &tokens).send().await.unwrap().status();
        assert_eq!(again, 401, "{name}: the token stays expired");
        let refreshed = refresh(&sb, &dir, name, &tokens).await;
        let fresh = json!({
            "access_token": refreshed["access_token"],
            "instance_url": tokens["instance_url"],
            "api_domain": tokens["api_domain"],
        });
        assert!(fresh["access_token"].is_string(), "{name}: {refreshed}");
        let works = probe(&sb, name, &fresh).send().await.unwrap().status();
        assert!(
            works.is_success(),
            "{name}: the refreshed token works ({works})"
        );

        // revoked_token revokes the grant: the access token and the refresh token both die.
        sb.control(name, "faults", json!({"kind": "revoked_token"}))
            .await;
        let revoked = probe(&sb, name, &fresh).send().await.unwrap().status();
        assert_eq!(revoked, 401, "{name}: revoked_token");
        let still = probe(&sb, name, &fresh).send().await.unwrap().status();
        assert_eq!(still, 401, "{name}: the grant stays revoked");
        let denied = refresh(&sb, &dir, name, &tokens).await;
        assert!(
            denied["access_token"].is_null(),
            "{name}: refresh after revocation: {denied}"
        );
        let code = match name {
            "hubspot" => &denied["status"],
            _ => &denied["error"],
        };
        let expected = match name {
            "hubspot" => "BAD_REFRESH_TOKEN",
            "salesforce" => "invalid_grant",
            _ => "invalid_code",
        };
        assert_eq!(code, expected, "{name}: {denied}");
    }
}

#[tokio::test]
async fn a_slow_fault_delays_the_answer() {
    let sb = TestSandbox::start().await;
    for name in names(&sb) {
        sb.control(name, "faults", json!({"kind": "slow", "delay_ms": 150}))
            .await;
        let started = std::time::Instant::now();
        sb.client
            .get(sb.url(name, "/anything"))
            .send()
            .await
            .unwrap();
        assert!(
            started.elapsed() >= std::time::Duration::from_millis(150),
            "{name}: {:?}",
            started.elapsed()
        );
        let (_, log) = sb.get_json(&sb.url(name, "/_control/requests")).await;
        assert_eq!(log["requests"][0]["fault"], "slow", "{name}");
    }
}
