//! The connect flow end to end, browserless: renkei and the sandbox on one port, the
//! redirects followed by hand.

use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{Value, json};

use crate::support::TestApp;

const RETURN: &str = "https://host.example/after-connect";

/// Every log line of this test binary, at debug level for renkei's crates.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = buf.clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "renkei_server=debug,renkei_engine=debug,renkei_connectors=debug,renkei_store=debug",
            ))
            .with_writer(move || Writer(writer.clone()))
            .try_init();
        buf
    })
    .clone()
}

struct Writer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Writer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn location(r: &reqwest::Response) -> String {
    r.headers()["location"].to_str().unwrap().to_owned()
}

fn query(url: &str) -> std::collections::HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

async fn auto_approve(app: &TestApp) {
    for emu in ["hubspot", "salesforce", "zoho"] {
        control(app, emu, "settings", json!({"auto_approve": true})).await;
    }
}

async fn control(app: &TestApp, emu: &str, what: &str, body: Value) -> Value {
    let r = app
        .http
        .post(app.url(&format!("/sandbox/{emu}/_control/{what}")))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{what}");
    r.json().await.unwrap_or(Value::Null)
}

/// The steps up to the provider's redirect back: the admin opens the link, submits the
/// form, and consents. Returns the callback URL the provider redirected to.
async fn consent(
    app: &TestApp,
    tenant: &str,
    body: Value,
    form: &[(&str, &str)],
    account: Option<&str>,
) -> String {
    let (s, session) = app
        .send(
            "POST",
            &format!("/v1/tenants/{tenant}/connect-sessions"),
            Some(body),
        )
        .await;
    assert_eq!(s, 201, "{session}");
    let link = session["url"].as_str().unwrap().to_owned();
    assert!(link.starts_with(&app.base), "{link}");
    let c = no_redirects();
    let page = c.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert!(html.contains("<form"), "{html}");
    let resp = c.post(&link).form(form).send().await.unwrap();
    assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    let mut authorize = location(&resp);
    assert!(
        authorize.starts_with(&format!("{}/sandbox/", app.base)),
        "{authorize}"
    );
    if let Some(a) = account {
        authorize.push_str(&format!("&account={a}"));
    }
    let resp = c.get(&authorize).send().await.unwrap();
    assert!(resp.status().is_redirection(), "{}", resp.status());
    let callback = location(&resp);
    assert!(
        callback.starts_with(&format!("{}/oauth/callback?", app.base)),
        "{callback}"
    );
    callback
}

async fn follow_callback(_app: &TestApp, callback: &str) -> reqwest::Response {
    no_redirects().get(callback).send().await.unwrap()
}

async fn connect(app: &TestApp, tenant: &str, provider: &str, form: &[(&str, &str)]) -> Value {
    let cb = consent(
        app,
        tenant,
        json!({"provider": provider, "return_url": RETURN}),
        form,
        None,
    )
    .await;
    let resp = follow_callback(app, &cb).await;
    assert_eq!(resp.status(), 303);
    let back = location(&resp);
    assert!(back.starts_with(RETURN), "{back}");
    let q = query(&back);
    assert_eq!(
        (q["status"].as_str(), q["provider"].as_str()),
        ("connected", provider),
        "{back}"
    );
    let (s, conn) = app
        .send(
            "GET",
            &format!("/v1/tenants/{tenant}/connections/{provider}"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{conn}");
    conn
}

#[tokio::test]
async fn hubspot_salesforce_and_zoho_jp_with_a_tenant_client_connect_end_to_end() {
    let logs = captured_logs();
    let app = TestApp::start_sandboxed(|_| {}).await;
    app.put_tenant("acme").await;
    auto_approve(&app).await;

    let hs = connect(&app, "acme", "hubspot", &[]).await;
    assert_eq!(hs["status"], "active");
    assert_eq!(hs["account"]["id"], "45231987");
    assert!(hs["token_expires_at"].is_string());
    assert!(
        hs["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "oauth")
    );

    let sf = connect(&app, "acme", "salesforce", &[]).await;
    assert_eq!(sf["status"], "active");
    let inst = sf["account"]["instance_url"].as_str().unwrap();
    assert!(
        inst.ends_with("/sandbox/salesforce/instances/sakura"),
        "{inst}"
    );
    assert_eq!(sf["account"]["name"], "Sakura Trading K.K.");
    assert!(sf["user"]["email"].is_string());

    // Zoho with the admin's own client, registered in the jp data centre.
    let client = control(&app, "zoho", "clients", json!({"data_centre": "jp"})).await;
    let zc = connect(
        &app,
        "acme",
        "zoho_crm",
        &[
            ("data_centre", "jp"),
            ("client_id", client["client_id"].as_str().unwrap()),
            ("client_secret", client["client_secret"].as_str().unwrap()),
        ],
    )
    .await;
    assert_eq!(zc["status"], "active");
    assert_eq!(zc["account"]["data_centre"], "jp");
    assert!(
        zc["account"]["api_domain"]
            .as_str()
            .unwrap()
            .ends_with("/sandbox/zoho/jp/api")
    );
    assert_eq!(zc["account"]["name"], "さくら商事株式会社");

    // The tenant client was kept: a refresh works with it (the deployment's client would
    // also be accepted by the emulator, so prove it via the stored credentials instead).
    let keyring = app.config.keyring().unwrap();
    let tenant = renkei_core::TenantId::parse("acme").unwrap();
    let key = |p: &'static str| renkei_store::connections::ConnectionKey {
        tenant: &tenant,
        provider: p,
        member: None,
    };
    let z = app
        .db
        .store
        .get_connection(key("zoho_crm"))
        .await
        .unwrap()
        .unwrap();
    let zcreds =
        renkei_connectors::Credentials::from_sealed_bytes(&z.open(&keyring).unwrap()).unwrap();
    assert_eq!(
        zcreds.client.unwrap().client_id,
        client["client_id"].as_str().unwrap()
    );

    // Users of every provider, listed with the member matched by email (any case).
    let (s, users) = app
        .send("GET", "/v1/tenants/acme/connections/hubspot/users", None)
        .await;
    assert_eq!(s, 200, "{users}");
    let first = users["users"][0].clone();
    let email = first["email"].as_str().unwrap().to_uppercase();
    let (s, _) = app
        .send(
            "PUT",
            "/v1/tenants/acme/members/m1",
            Some(json!({"email": email, "display_name": "M1"})),
        )
        .await;
    assert!(s == 201 || s == 200);
    let (_, users) = app
        .send("GET", "/v1/tenants/acme/connections/hubspot/users", None)
        .await;
    let u = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == first["id"])
        .unwrap();
    assert_eq!(
        (u["member"].as_str(), u["matched_by"].as_str()),
        (Some("m1"), Some("email"))
    );
    // A manual mapping wins over the email match.
    let other = users["users"][1]["id"].as_str().unwrap().to_owned();
    let (s, m) = app
        .send(
            "PUT",
            "/v1/tenants/acme/user-mappings/m1",
            Some(json!({"mappings": {"hubspot": other}})),
        )
        .await;
    assert_eq!(s, 200, "{m}");
    let (_, users) = app
        .send("GET", "/v1/tenants/acme/connections/hubspot/users", None)
        .await;
    let mapped: Vec<&Value> = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["member"] == "m1")
        .collect();
    assert_eq!(mapped.len(), 1);
    assert_eq!(
        (mapped[0]["id"].as_str(), mapped[0]["matched_by"].as_str()),
        (Some(other.as_str()), Some("mapping"))
    );
    let (s, m) = app
        .send("GET", "/v1/tenants/acme/user-mappings/m1", None)
        .await;
    assert_eq!(s, 200, "{m}");
    assert_eq!(m["owners"]["hubspot"]["user_id"], other.as_str());
    assert_eq!(m["owners"]["hubspot"]["source"], "mapping");
    assert_eq!(
        m["owners"]["salesforce"]["source"], "connecting_user",
        "{m}"
    );
    for p in ["salesforce", "zoho_crm"] {
        let (s, users) = app
            .send(
                "GET",
                &format!("/v1/tenants/acme/connections/{p}/users"),
                None,
            )
            .await;
        assert_eq!(s, 200, "{p}: {users}");
        assert!(!users["users"].as_array().unwrap().is_empty(), "{p}");
    }

    // No token reached the logs or, in plaintext, the database file.
    let mut secrets = Vec::new();
    for p in ["hubspot", "salesforce", "zoho_crm"] {
        let c = app.db.store.get_connection(key(p)).await.unwrap().unwrap();
        let creds =
            renkei_connectors::Credentials::from_sealed_bytes(&c.open(&keyring).unwrap()).unwrap();
        secrets.push(creds.access_token.expose().clone());
        secrets.extend(creds.refresh_token.map(|t| t.expose().clone()));
    }
    secrets.push(client["client_secret"].as_str().unwrap().to_owned());
    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(
        text.contains("provider call"),
        "the capture sees the connectors' logs"
    );
    for s in &secrets {
        assert!(!text.contains(s.as_str()), "a secret is in the logs");
    }
    if let Some(path) = app.db.sqlite_path() {
        app.db.store.checkpoint().await.unwrap();
        let bytes = std::fs::read(path).unwrap();
        for s in &secrets {
            assert!(
                !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                "a secret is in the database file"
            );
        }
        assert!(
            bytes.windows(8).any(|w| w == b"45231987"),
            "the scan sees the rows"
        );
    }

    // Disconnect revokes at the provider.
    let (s, d) = app
        .send("DELETE", "/v1/tenants/acme/connections/salesforce", None)
        .await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(
        (d["disconnected"].as_bool(), d["revoked"].as_bool()),
        (Some(true), Some(true))
    );
    let (s, _) = app
        .send("GET", "/v1/tenants/acme/connections/salesforce", None)
        .await;
    assert_eq!(s, 404);
    app.stop().await;
}

#[tokio::test]
async fn a_member_must_connect_to_the_tenants_hubspot_portal() {
    let app = TestApp::start_sandboxed(|_| {}).await;
    app.put_tenant("acme").await;
    auto_approve(&app).await;
    let (s, _) = app
        .send(
            "PUT",
            "/v1/tenants/acme/members/m1",
            Some(json!({"email": "m1@example.com", "display_name": "M1"})),
        )
        .await;
    assert_eq!(s, 201);
    connect(&app, "acme", "hubspot", &[]).await;

    // The warning of PRODUCT.md 4.1 until the member connects.
    let (_, h) = app.send("GET", "/v1/tenants/acme/health", None).await;
    let entry = h["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["code"] == "member_not_connected")
        .unwrap()
        .clone();
    assert_eq!(entry["member"], "m1");
    assert_eq!(
        entry["message"],
        "HubSpot連携が完了していないため、ルームでの活動がHubSpot連携されません"
    );

    // Another portal is refused, and nothing is stored.
    let body = json!({"provider": "hubspot", "member": "m1", "return_url": RETURN});
    let cb = consent(&app, "acme", body.clone(), &[], Some("21432987")).await;
    let resp = follow_callback(&app, &cb).await;
    let q = query(&location(&resp));
    assert_eq!(
        (q["status"].as_str(), q["error"].as_str()),
        ("error", "account_mismatch")
    );
    let (s, _) = app
        .send(
            "GET",
            "/v1/tenants/acme/members/m1/connections/hubspot",
            None,
        )
        .await;
    assert_eq!(s, 404);

    // Without a return_url the refusal is a page with 409.
    let cb = consent(
        &app,
        "acme",
        json!({"provider": "hubspot", "member": "m1"}),
        &[],
        Some("21432987"),
    )
    .await;
    let resp = follow_callback(&app, &cb).await;
    assert_eq!(resp.status(), 409);
    let html = resp.text().await.unwrap();
    assert!(html.contains("account_mismatch"), "{html}");

    // The same portal is accepted.
    let cb = consent(&app, "acme", body, &[], Some("45231987")).await;
    let resp = follow_callback(&app, &cb).await;
    assert_eq!(query(&location(&resp))["status"], "connected");
    let (s, c) = app
        .send(
            "GET",
            "/v1/tenants/acme/members/m1/connections/hubspot",
            None,
        )
        .await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(
        (c["member"].as_str(), c["account"]["id"].as_str()),
        (Some("m1"), Some("45231987"))
    );
    let (_, h) = app.send("GET", "/v1/tenants/acme/health", None).await;
    assert_eq!(h["status"], "ok", "{h}");

    // Salesforce has no member connections.
    let (s, e) = app
        .send(
            "POST",
            "/v1/tenants/acme/connect-sessions",
            Some(json!({"provider": "salesforce", "member": "m1"})),
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (422, Some("provider_unsupported"))
    );
    app.stop().await;
}

#[tokio::test]
async fn tampered_reused_and_expired_states_are_refused() {
    let app = TestApp::start_sandboxed(|_| {}).await;
    app.put_tenant("acme").await;
    auto_approve(&app).await;

    let cb = consent(&app, "acme", json!({"provider": "hubspot"}), &[], None).await;
    let state = query(&cb)["state"].clone();
    // A tag for another nonce: refused, and the genuine state is still spent only once.
    let (nonce, tag) = state.split_once('.').unwrap();
    let mut forged_tag = tag.to_owned();
    forged_tag.replace_range(0..1, if tag.starts_with('A') { "B" } else { "A" });
    let forged = cb.replace(&state, &format!("{nonce}.{forged_tag}"));
    let resp = follow_callback(&app, &forged).await;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("state_invalid"));
    let made_up = cb.replace(&state, "bm9uY2U.c2ln");
    assert_eq!(follow_callback(&app, &made_up).await.status(), 400);
    let none = format!("{}/oauth/callback?code=x", app.base);
    assert_eq!(follow_callback(&app, &none).await.status(), 400);

    // A fresh state works once; a replay is refused.
    let cb = consent(&app, "acme", json!({"provider": "hubspot"}), &[], None).await;
    assert_eq!(follow_callback(&app, &cb).await.status(), 200);
    let replay = follow_callback(&app, &cb).await;
    assert_eq!(replay.status(), 400);
    assert!(replay.text().await.unwrap().contains("state_reused"));
    app.stop().await;

    let app = TestApp::start_sandboxed(|c| c.connections.oauth_state_ttl_seconds = 0).await;
    app.put_tenant("acme").await;
    auto_approve(&app).await;
    let cb = consent(&app, "acme", json!({"provider": "hubspot"}), &[], None).await;
    let resp = follow_callback(&app, &cb).await;
    assert_eq!(resp.status(), 400);
    assert!(resp.text().await.unwrap().contains("state_expired"));
    app.stop().await;
}

#[tokio::test]
async fn denied_consent_and_provider_errors_end_on_clear_pages() {
    let app = TestApp::start_sandboxed(|_| {}).await;
    app.put_tenant("acme").await;
    let (_, session) = app
        .send(
            "POST",
            "/v1/tenants/acme/connect-sessions",
            Some(json!({"provider": "salesforce"})),
        )
        .await;
    let link = session["url"].as_str().unwrap();
    let c = no_redirects();
    let resp = c.post(link).form(&[("lang", "en")]).send().await.unwrap();
    let state = query(&location(&resp))["state"].clone();
    // What the provider sends when the admin presses Deny.
    let denied = format!(
        "{}/oauth/callback?error=access_denied&error_description=end-user+denied+authorization&state={}",
        app.base,
        urlencode(&state)
    );
    let resp = c
        .get(&denied)
        .header("accept-language", "en-US")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let html = resp.text().await.unwrap();
    assert!(html.contains("Salesforce"), "{html}");
    assert!(!html.to_lowercase().contains("panicked"));

    // An expired link is a 410 page; an unknown one a 404 page.
    let resp = c
        .get(format!("{}/connect/nope", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    // Zoho without a data centre: the form comes back with the error, in the page's language.
    let (_, session) = app
        .send(
            "POST",
            "/v1/tenants/acme/connect-sessions",
            Some(json!({"provider": "zoho_crm"})),
        )
        .await;
    let resp = c
        .post(session["url"].as_str().unwrap())
        .form(&[("lang", "ja"), ("client_id", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    assert!(resp.text().await.unwrap().contains("<form"));
    app.stop().await;
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn bad_requests_get_specific_errors() {
    let app = TestApp::start_sandboxed(|_| {}).await;
    app.put_tenant("acme").await;
    let (s, p) = app.send("GET", "/v1/providers", None).await;
    assert_eq!(s, 200);
    let names: Vec<&str> = p["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["hubspot", "salesforce", "zoho_crm"]);
    assert!(
        p["providers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["configured"] == true)
    );

    let cases = [
        (
            "POST",
            "/v1/tenants/acme/connect-sessions",
            json!({"provider": "pipedrive"}),
            422,
            "unknown_provider",
        ),
        (
            "POST",
            "/v1/tenants/acme/connect-sessions",
            json!({"provider": "hubspot", "member": "ghost"}),
            404,
            "member_not_found",
        ),
        (
            "POST",
            "/v1/tenants/acme/connect-sessions",
            json!({"provider": "hubspot", "return_url": "javascript:alert(1)"}),
            422,
            "invalid_request",
        ),
        (
            "POST",
            "/v1/tenants/nobody/connect-sessions",
            json!({"provider": "hubspot"}),
            404,
            "tenant_not_found",
        ),
        (
            "GET",
            "/v1/tenants/acme/connections/pipedrive",
            Value::Null,
            404,
            "unknown_provider",
        ),
        (
            "GET",
            "/v1/tenants/acme/connections/hubspot",
            Value::Null,
            404,
            "not_connected",
        ),
        (
            "DELETE",
            "/v1/tenants/acme/connections/hubspot",
            Value::Null,
            404,
            "not_connected",
        ),
        (
            "GET",
            "/v1/tenants/acme/connections/hubspot/users",
            Value::Null,
            404,
            "not_connected",
        ),
        (
            "PUT",
            "/v1/tenants/acme/connections/salesforce",
            json!({"access_token": "x", "instance_url": "https://evil.example", "id": "https://evil.example/id/1/2"}),
            422,
            "invalid_request",
        ),
        (
            "PUT",
            "/v1/tenants/acme/connections/salesforce",
            json!({"access_token": "x", "bogus": 1}),
            422,
            "",
        ),
        (
            "PUT",
            "/v1/tenants/acme/connections/hubspot",
            json!({"access_token": "not-a-token"}),
            422,
            "provider_unauthorized",
        ),
        (
            "PUT",
            "/v1/tenants/acme/user-mappings/ghost",
            json!({"mappings": {}}),
            404,
            "member_not_found",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let (s, e) = app
            .send(method, path, (!body.is_null()).then_some(body))
            .await;
        assert_eq!(s, status, "{method} {path}: {e}");
        if !code.is_empty() {
            assert_eq!(e["error"]["code"], code, "{method} {path}: {e}");
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn imported_tokens_are_verified_and_reconnects_need_the_same_account() {
    let app = TestApp::start_sandboxed(|_| {}).await;
    app.put_tenant("acme").await;
    let t = control(&app, "hubspot", "tokens", json!({})).await;
    let (s, c) = app
        .send(
            "PUT",
            "/v1/tenants/acme/connections/hubspot",
            Some(json!({"access_token": t["access_token"], "refresh_token": t["refresh_token"], "expires_in": 1800})),
        )
        .await;
    assert_eq!(s, 201, "{c}");
    assert_eq!(c["account"]["id"], "45231987");
    // Tokens of the other portal: refused unless the admin switches.
    let other = control(&app, "hubspot", "tokens", json!({"account": "21432987"})).await;
    let body =
        json!({"access_token": other["access_token"], "refresh_token": other["refresh_token"]});
    let (s, e) = app
        .send(
            "PUT",
            "/v1/tenants/acme/connections/hubspot",
            Some(body.clone()),
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (409, Some("account_changed")),
        "{e}"
    );
    let mut switch = body;
    switch["switch_account"] = json!(true);
    let (s, c) = app
        .send("PUT", "/v1/tenants/acme/connections/hubspot", Some(switch))
        .await;
    assert_eq!(
        (s, c["account"]["id"].as_str()),
        (200, Some("21432987")),
        "{c}"
    );
    let (_, list) = app.send("GET", "/v1/tenants/acme/connections", None).await;
    assert_eq!(
        list["connections"].as_array().unwrap().len(),
        1,
        "no duplicate rows"
    );
    app.stop().await;
}
