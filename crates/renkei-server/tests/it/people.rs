//! People import and sync end to end: renkei and the emulators on one port, tokens minted by
//! the emulator and imported, runs driven by the real workers.

use renkei_core::Millis;
use serde_json::{Value, json};

use crate::support::TestApp;

/// The sandbox's path segment for a provider.
pub fn emulator(provider: &str) -> &'static str {
    match provider {
        "hubspot" => "hubspot",
        "salesforce" => "salesforce",
        _ => "zoho",
    }
}

pub async fn sandbox(app: &TestApp, provider: &str, what: &str, body: Value) -> Value {
    let resp = app
        .http
        .post(app.url(&format!("/sandbox/{}/_control/{what}", emulator(provider))))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert!(status.is_success(), "{what}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Connects `tenant` with emulator-minted tokens; returns the token response.
pub async fn connect_minted(app: &TestApp, tenant: &str, provider: &str) -> Value {
    let t = sandbox(app, provider, "tokens", json!({})).await;
    let mut body = json!({
        "access_token": t["access_token"],
        "refresh_token": t["refresh_token"],
    });
    for k in ["expires_in", "instance_url", "id"] {
        if !t[k].is_null() {
            body[k] = t[k].clone();
        }
    }
    if let Some(domain) = t["api_domain"].as_str() {
        body["data_centre"] = json!(if domain.contains("/jp/") { "jp" } else { "us" });
    }
    let (s, b) = app
        .send(
            "PUT",
            &format!("/v1/tenants/{tenant}/connections/{provider}"),
            Some(body),
        )
        .await;
    assert!(s == 200 || s == 201, "{s} {b}");
    t
}

/// Starts a run and waits for it to end; returns the final run.
pub async fn run_sync(app: &TestApp, tenant: &str, provider: &str, kind: Option<&str>) -> Value {
    let body = kind.map(|k| json!({"kind": k}));
    let (s, run) = app
        .send(
            "POST",
            &format!("/v1/tenants/{tenant}/connections/{provider}/sync-runs"),
            body,
        )
        .await;
    assert!(s == 202 || s == 200, "{s} {run}");
    let id = run["id"].as_i64().unwrap();
    let path = format!("/v1/tenants/{tenant}/connections/{provider}/sync-runs/{id}");
    // Importing 10,000 people takes seconds in a debug build, longer on a busy machine: this
    // waits on the run's progress, not on a fixed time.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    let last = loop {
        let (_, r) = app.send("GET", &path, None).await;
        if r["status"] != "queued" && r["status"] != "running" {
            break r;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the run did not end: {r}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(last["status"], "succeeded", "{last}");
    last
}

/// Every visible person, paging with the cursor.
pub async fn all_people(app: &TestApp, tenant: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let (s, page) = app
            .send(
                "GET",
                &format!("/v1/tenants/{tenant}/people?limit=500&cursor={cursor}"),
                None,
            )
            .await;
        assert_eq!(s, 200, "{page}");
        out.extend(page["people"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => return out,
        }
    }
}

async fn changes_after(app: &TestApp, tenant: &str, after: i64) -> (Vec<(String, String)>, i64) {
    let (s, feed) = app
        .send(
            "GET",
            &format!("/v1/tenants/{tenant}/changes?after={after}&limit=1000"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{feed}");
    let items = feed["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap().to_owned(),
                c["person"]["remote_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    (items, feed["next_after"].as_i64().unwrap())
}

pub fn quiet_scheduler(c: &mut renkei_server::Config) {
    c.sync.scheduler_interval_seconds = 3600;
}

/// Salesforce as the cloud phone of PRODUCT.md 4.3: leads and contacts with a phone, one
/// person per phone number, found by any notation.
#[tokio::test]
async fn salesforce_import_then_incremental_sync() {
    let app = TestApp::start_sandboxed(quiet_scheduler).await;
    app.put_tenant("acme").await;
    sandbox(
        &app,
        "salesforce",
        "seed",
        json!({"count": 10000, "seed": 7}),
    )
    .await;
    let tokens = connect_minted(&app, "acme", "salesforce").await;

    let run = run_sync(&app, "acme", "salesforce", None).await;
    assert_eq!(run["kind"], "initial");
    let p = &run["progress"];
    // What the emulator holds, asked independently.
    let instance = tokens["instance_url"].as_str().unwrap();
    let token = tokens["access_token"].as_str().unwrap();
    let count = async |soql: &str| -> u64 {
        let v: Value = app
            .http
            .get(format!("{instance}/services/data/v62.0/query"))
            .query(&[("q", soql)])
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["totalSize"].as_u64().unwrap()
    };
    let leads = count("SELECT COUNT() FROM Lead WHERE IsConverted = false").await;
    let contacts = count("SELECT COUNT() FROM Contact").await;
    let no_phone_leads =
        count("SELECT COUNT() FROM Lead WHERE IsConverted = false AND Phone = null").await;
    let no_phone_contacts = count("SELECT COUNT() FROM Contact WHERE Phone = null").await;
    assert_eq!(p["fetched"].as_u64().unwrap(), leads + contacts);
    let skipped: u64 = p["skipped"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(
        p["skipped"]["missing_phone"].as_u64().unwrap_or(0),
        no_phone_leads + no_phone_contacts
    );
    assert_eq!(p["imported"].as_u64().unwrap() + skipped, leads + contacts);
    // 2,000 a page: ceil(leads / 2000) + ceil(contacts / 2000) calls.
    let pages = leads.div_ceil(2000) + contacts.div_ceil(2000);
    assert_eq!(p["api_calls"].as_u64().unwrap(), pages);

    // The same-phone rule: every visible person has its own phone key.
    let people = all_people(&app, "acme").await;
    let mut phones: Vec<&str> = people
        .iter()
        .map(|p| p["phone"].as_str().unwrap())
        .collect();
    let n = phones.len();
    phones.sort_unstable();
    phones.dedup();
    assert_eq!(phones.len(), n, "two visible people share a phone");
    assert!(
        n < p["imported"].as_u64().unwrap() as usize,
        "the seed shares some numbers"
    );
    // Fields as PRODUCT.md 4.3 says: name, company (Account.Name for a contact), email.
    let contact = people
        .iter()
        .find(|p| p["object"] == "contact" && p["company"].is_string())
        .unwrap();
    assert!(contact["name"].is_string());

    // Any notation of a number finds its person.
    let some = people
        .iter()
        .find(|p| p["phone"].as_str().unwrap().starts_with("+813"))
        .unwrap();
    let e164 = some["phone"].as_str().unwrap();
    let national = format!("0{}-{}-{}", &e164[3..4], &e164[4..8], &e164[8..]);
    let full_width: String = national
        .chars()
        .map(|c| match c {
            '0'..='9' => char::from_u32(c as u32 - '0' as u32 + '０' as u32).unwrap(),
            '-' => '－',
            c => c,
        })
        .collect();
    for q in [e164.to_owned(), national, full_width] {
        let (s, found) = app
            .send(
                "GET",
                &format!("/v1/tenants/acme/people?phone={}", urlencode(&q)),
                None,
            )
            .await;
        assert_eq!(s, 200, "{found}");
        let ids: Vec<&str> = found["people"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [some["id"].as_str().unwrap()], "{q}");
    }
    let (_, feed) = app
        .send("GET", "/v1/tenants/acme/changes?limit=1", None)
        .await;
    assert_eq!(feed["changes"][0]["kind"], "created");
    // Follow the feed to its end, as a host app would.
    let mut after = 0;
    loop {
        let (items, next) = changes_after(&app, "acme", after).await;
        if items.is_empty() {
            break;
        }
        after = next;
    }

    // At the CRM: a new lead, an update, a deletion.
    sandbox(&app, "salesforce", "clock", json!({"advance_seconds": 60})).await;
    let sf = |method: reqwest::Method, path: &str| {
        app.http
            .request(method, format!("{instance}/services/data/v62.0/{path}"))
            .bearer_auth(token)
    };
    let created: Value = sf(reqwest::Method::POST, "sobjects/Lead")
        .json(&json!({"LastName": "新規", "FirstName": "花子", "Company": "株式会社ニュー", "Phone": "06-6123-4567"}))
        .send().await.unwrap().json().await.unwrap();
    let new_id = created["id"].as_str().unwrap().to_owned();
    let visible_contacts: Vec<&Value> =
        people.iter().filter(|p| p["object"] == "contact").collect();
    let (upd, del) = (visible_contacts[0], visible_contacts[1]);
    let s = sf(
        reqwest::Method::PATCH,
        &format!("sobjects/Contact/{}", upd["remote_id"].as_str().unwrap()),
    )
    .json(&json!({"Title": "部長"}))
    .send()
    .await
    .unwrap()
    .status();
    assert_eq!(s, 204);
    let s = sf(
        reqwest::Method::DELETE,
        &format!("sobjects/Contact/{}", del["remote_id"].as_str().unwrap()),
    )
    .send()
    .await
    .unwrap()
    .status();
    assert_eq!(s, 204);

    let run = run_sync(&app, "acme", "salesforce", None).await;
    assert_eq!(run["kind"], "incremental");
    let (items, _) = changes_after(&app, "acme", after).await;
    let mut got = items.clone();
    got.sort();
    let mut want = vec![
        ("created".to_owned(), new_id.clone()),
        (
            "updated".to_owned(),
            upd["remote_id"].as_str().unwrap().to_owned(),
        ),
        (
            "deleted".to_owned(),
            del["remote_id"].as_str().unwrap().to_owned(),
        ),
    ];
    // The deleted contact may have shadowed a lead with the same phone, which now shows.
    let extra: Vec<_> = got.iter().filter(|g| !want.contains(g)).cloned().collect();
    for e in &extra {
        assert_eq!(e.0, "created", "unexpected change {e:?} in {got:?}");
    }
    want.extend(extra);
    want.sort();
    assert_eq!(got, want);
    let (s, person) = app
        .send(
            "GET",
            &format!(
                "/v1/tenants/acme/people?phone={}",
                urlencode("+81661234567")
            ),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(person["people"][0]["name"], "新規 花子");
    assert_eq!(person["people"][0]["company"], "株式会社ニュー");
    app.stop().await;
}

/// Zoho as the meeting assistant of PRODUCT.md 4.4: leads with a name, one person per name and
/// company, "名前なし" for a missing company.
#[tokio::test]
async fn zoho_import_follows_the_meeting_assistant_rules() {
    /// A second token for the test's own reads of the emulator.
    async fn connect_minted_again(app: &TestApp) -> Value {
        sandbox(app, "zoho_crm", "tokens", json!({})).await
    }
    let app = TestApp::start_sandboxed(quiet_scheduler).await;
    app.put_tenant("acme").await;
    sandbox(
        &app,
        "zoho_crm",
        "seed",
        json!({"count": 10000, "seed": 11}),
    )
    .await;
    connect_minted(&app, "acme", "zoho_crm").await;
    // Contacts too, for the count below.
    let (s, settings) = app
        .send(
            "PUT",
            "/v1/tenants/acme/connections/zoho_crm/settings",
            Some(json!({"people": {"objects": ["lead", "contact"]}})),
        )
        .await;
    assert_eq!(s, 200, "{settings}");
    assert_eq!(settings["people"]["identity"], "name_company");
    let tokens = connect_minted_again(&app).await;
    let run = run_sync(&app, "acme", "zoho_crm", None).await;
    let p = &run["progress"];
    let fetched = p["fetched"].as_u64().unwrap();
    // What the emulator holds, asked independently.
    let api = tokens["api_domain"].as_str().unwrap();
    let mut held = 0;
    for module in ["Leads", "Contacts"] {
        let v: Value = app
            .http
            .get(format!("{api}/crm/v8/{module}/actions/count"))
            .header(
                "authorization",
                format!(
                    "Zoho-oauthtoken {}",
                    tokens["access_token"].as_str().unwrap()
                ),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        held += v["count"].as_u64().unwrap();
    }
    assert_eq!(fetched, held);
    let skipped: u64 = p["skipped"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(p["imported"].as_u64().unwrap() + skipped, fetched);
    assert_eq!(skipped, p["skipped"]["missing_name"].as_u64().unwrap_or(0));
    assert!(
        p["api_calls"].as_u64().unwrap() <= fetched.div_ceil(200) + 2,
        "{p}"
    );
    let people = all_people(&app, "acme").await;
    let mut keys: Vec<(String, String)> = people
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["company"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert!(people.iter().all(|p| p["name"].is_string()));
    // Name + company identity: equal names at equal companies are one visible person.
    let n = keys.len();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), n, "two visible people share name and company");
    // A contact's company is its account's name (PRODUCT.md 4.4).
    assert!(
        people
            .iter()
            .any(|p| p["object"] == "contact" && p["company"].is_string())
    );
    app.stop().await;
}

#[tokio::test]
async fn settings_are_validated_and_errors_are_specific() {
    let app = TestApp::start_sandboxed(quiet_scheduler).await;
    app.put_tenant("acme").await;
    let (s, e) = app
        .send(
            "GET",
            "/v1/tenants/acme/connections/salesforce/settings",
            None,
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (404, Some("tenant_not_connected"))
    );
    connect_minted(&app, "acme", "hubspot").await;
    let (s, d) = app
        .send("GET", "/v1/tenants/acme/connections/hubspot/settings", None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(d["people"]["objects"], json!(["contact"]));
    assert_eq!(d["people"]["missing_company"], "名前なし");
    let cases = [
        (
            json!({"people": {"objects": ["lead"]}}),
            422,
            "object_unsupported",
            "people.objects[0]",
        ),
        (
            json!({"people": {"fields": {"address": "sync"}}}),
            422,
            "field_not_writable",
            "people.fields.address",
        ),
        (
            json!({"people": {"interval_seconds": "soon"}}),
            422,
            "invalid_settings",
            "people.interval_seconds",
        ),
        (json!({"colour": 1}), 422, "invalid_settings", "colour"),
    ];
    for (body, status, code, field) in cases {
        let (s, e) = app
            .send(
                "PUT",
                "/v1/tenants/acme/connections/hubspot/settings",
                Some(body.clone()),
            )
            .await;
        assert_eq!(
            (
                s,
                e["error"]["code"].as_str(),
                e["error"]["details"]["field"].as_str()
            ),
            (status, Some(code), Some(field)),
            "{body}: {e}"
        );
    }
    // Nothing was stored by the refused requests.
    let (_, after) = app
        .send("GET", "/v1/tenants/acme/connections/hubspot/settings", None)
        .await;
    assert_eq!(after, d);
    // Malformed JSON, bad query parameters, unknown runs.
    let resp = app
        .http
        .put(app.url("/v1/tenants/acme/connections/hubspot/settings"))
        .bearer_auth(&app.key)
        .header("content-type", "application/json")
        .body("{\"people\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    for (path, status, code) in [
        ("/v1/tenants/acme/people?phone=abc", 400, "invalid_phone"),
        ("/v1/tenants/acme/people?email=nope", 400, "invalid_email"),
        ("/v1/tenants/acme/people?limit=0", 400, "invalid_limit"),
        ("/v1/tenants/acme/people?cursor=x", 400, "invalid_cursor"),
        ("/v1/tenants/acme/people/999", 404, "person_not_found"),
        ("/v1/tenants/acme/changes?after=-1", 400, "invalid_after"),
        (
            "/v1/tenants/acme/connections/hubspot/sync-runs/77",
            404,
            "sync_run_not_found",
        ),
        (
            "/v1/tenants/acme/connections/pipedrive/sync-runs",
            404,
            "unknown_provider",
        ),
    ] {
        let (s, e) = app.send("GET", path, None).await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (status, Some(code)),
            "{path}: {e}"
        );
    }
    let (s, e) = app
        .send(
            "POST",
            "/v1/tenants/acme/connections/hubspot/sync-runs",
            Some(json!({"kind": "full"})),
        )
        .await;
    assert_eq!(
        (s, e["error"]["code"].as_str()),
        (422, Some("invalid_request")),
        "{e}"
    );
    app.stop().await;
}

/// Connecting starts the first import without being asked; the scheduler then keeps it going.
#[tokio::test]
async fn connecting_starts_the_first_import() {
    let app = TestApp::start_sandboxed(|c| c.sync.scheduler_interval_seconds = 1).await;
    app.put_tenant("acme").await;
    sandbox(&app, "salesforce", "seed", json!({"count": 50, "seed": 3})).await;
    connect_minted(&app, "acme", "salesforce").await;
    app.eventually("a scheduled run to succeed", async || {
        let (_, runs) = app
            .send(
                "GET",
                "/v1/tenants/acme/connections/salesforce/sync-runs",
                None,
            )
            .await;
        runs["runs"].as_array().is_some_and(|r| {
            r.iter()
                .any(|r| r["status"] == "succeeded" && r["started_by"] == "schedule")
        })
    })
    .await;
    assert!(!all_people(&app, "acme").await.is_empty());
    app.stop().await;
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// HubSpot contacts (PRODUCT.md 4.1), imported in full, then kept current by HubSpot's
/// webhooks: a contact created, changed or deleted at HubSpot shows in the change feed
/// without waiting for the schedule.
#[tokio::test]
async fn hubspot_import_then_webhooks_sync_at_once() {
    let app = TestApp::start_sandboxed(quiet_scheduler).await;
    app.put_tenant("acme").await;
    sandbox(&app, "hubspot", "seed", json!({"count": 10000, "seed": 5})).await;
    let tokens = connect_minted(&app, "acme", "hubspot").await;
    let run = run_sync(&app, "acme", "hubspot", None).await;
    let p = &run["progress"];
    let token = tokens["access_token"].as_str().unwrap();
    let hs = |method: reqwest::Method, path: &str| {
        app.http
            .request(method, app.url(&format!("/sandbox/hubspot{path}")))
            .bearer_auth(token)
    };
    // The emulator's own count, through its search `total`.
    let total: Value = hs(reqwest::Method::POST, "/crm/v3/objects/contacts/search")
        .json(&json!({"limit": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let total = total["total"].as_u64().unwrap();
    assert_eq!(p["fetched"].as_u64().unwrap(), total);
    assert_eq!(p["api_calls"].as_u64().unwrap(), total.div_ceil(100));
    assert_eq!(
        p["imported"].as_u64().unwrap(),
        total,
        "HubSpot requires nothing by default"
    );
    // Email identity: every visible person has a distinct email key (or none).
    let people = all_people(&app, "acme").await;
    let mut emails: Vec<String> = people
        .iter()
        .filter_map(|p| p["emails"][0].as_str().map(str::to_lowercase))
        .collect();
    let n = emails.len();
    emails.sort();
    emails.dedup();
    assert_eq!(emails.len(), n);
    let mut after = 0;
    loop {
        let (items, next) = changes_after(&app, "acme", after).await;
        if items.is_empty() {
            break;
        }
        after = next;
    }

    sandbox(
        &app,
        "hubspot",
        "settings",
        json!({"webhook_url": app.url("/webhooks/hubspot")}),
    )
    .await;
    let created: Value = hs(reqwest::Method::POST, "/crm/v3/objects/contacts")
        .json(&json!({"properties": {"email": "webhook@example.co.jp", "lastname": "鈴木", "firstname": "一郎", "phone": "045-123-4567"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    app.eventually("the webhook's contact to arrive", async || {
        let (_, found) = app
            .send(
                "GET",
                "/v1/tenants/acme/people?email=WEBHOOK@example.co.jp",
                None,
            )
            .await;
        found["people"].as_array().is_some_and(|p| p.len() == 1)
    })
    .await;
    let s = hs(
        reqwest::Method::DELETE,
        &format!("/crm/v3/objects/contacts/{id}"),
    )
    .send()
    .await
    .unwrap()
    .status();
    assert_eq!(s, 204);
    app.eventually("the webhook's deletion to arrive", async || {
        let (_, found) = app
            .send(
                "GET",
                "/v1/tenants/acme/people?email=webhook@example.co.jp",
                None,
            )
            .await;
        found["people"].as_array().is_some_and(|p| p.is_empty())
    })
    .await;
    let (items, _) = changes_after(&app, "acme", after).await;
    assert_eq!(
        items,
        vec![
            ("created".to_owned(), id.clone()),
            ("deleted".to_owned(), id)
        ]
    );

    // A forged delivery is refused.
    let resp = app
        .http
        .post(app.url("/webhooks/hubspot"))
        .header("x-hubspot-signature-v3", "Zm9yZ2Vk")
        .header("x-hubspot-request-timestamp", Millis::now().0.to_string())
        .body("[]")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    app.stop().await;
}

/// `customer.updated` writes the two-way fields back to the Salesforce record (PRODUCT.md 4.3),
/// once, and never the import-only ones; an unknown customer writes nothing, visibly.
#[tokio::test]
async fn customer_updated_writes_sync_fields_back() {
    let app = TestApp::start_sandboxed(quiet_scheduler).await;
    app.put_tenant("acme").await;
    sandbox(&app, "salesforce", "seed", json!({"count": 40, "seed": 9})).await;
    let tokens = connect_minted(&app, "acme", "salesforce").await;
    run_sync(&app, "acme", "salesforce", None).await;
    let people = all_people(&app, "acme").await;
    let person = people.iter().find(|p| p["object"] == "contact").unwrap();
    let id = person["id"].as_str().unwrap();
    let remote = person["remote_id"].as_str().unwrap();

    let events = json!([
        {"id": "cu-1", "type": "customer.updated", "occurred_at": "2026-11-21T09:00:00Z",
         "data": {"customer_id": id, "changes": {"name": "佐藤 花子", "phone": "03-9999-0000",
                  "email": "Hanako.Sato@Example.jp", "description": "VIP"}}},
        {"id": "cu-2", "type": "customer.updated", "occurred_at": "2026-11-21T09:00:01Z",
         "data": {"customer_id": "999999", "changes": {"name": "誰か"}}},
    ]);
    let (s, b) = app
        .send("POST", "/v1/tenants/acme/events", Some(events.clone()))
        .await;
    assert_eq!(s, 202, "{b}");
    // Posting the same ids again writes nothing twice.
    let (s, b) = app
        .send("POST", "/v1/tenants/acme/events", Some(events))
        .await;
    assert_eq!((s, b["duplicates"].as_array().unwrap().len()), (202, 2));

    let mut ev = Value::Null;
    app.eventually("the write-back delivery to succeed", async || {
        let (_, e) = app.send("GET", "/v1/tenants/acme/events/cu-1", None).await;
        ev = e;
        ev["routing"]["deliveries"][0]["status"] == "succeeded"
    })
    .await;
    let d = &ev["routing"]["deliveries"][0];
    assert_eq!(
        (d["step"].as_str(), d["attempts"].as_i64()),
        (Some("person_update"), Some(1))
    );
    assert_eq!(d["remote_ids"]["person"]["id"], remote);
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
        (
            &record["LastName"],
            &record["FirstName"],
            &record["Phone"],
            &record["Email"],
            &record["Description"]
        ),
        (
            &json!("佐藤"),
            &json!("花子"),
            &json!("03-9999-0000"),
            &json!("hanako.sato@example.jp"),
            &json!("VIP")
        )
    );
    let (_, other) = app.send("GET", "/v1/tenants/acme/events/cu-2", None).await;
    assert_eq!(other["routing"]["status"], "routed");
    assert_eq!(other["routing"]["deliveries"], json!([]));
    assert!(
        other["routing"]["note"]
            .as_str()
            .unwrap()
            .contains("not a person imported")
    );

    // With every field import-only, nothing is written.
    let (s, _) = app
        .send(
            "PUT",
            "/v1/tenants/acme/connections/salesforce/settings",
            Some(json!({"people": {"fields": {"name": "import", "phone": "import", "email": "import", "description": "import"}}})),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = app
        .send(
            "POST",
            "/v1/tenants/acme/events",
            Some(json!({"id": "cu-3", "type": "customer.updated", "occurred_at": "2026-11-21T09:00:02Z",
                        "data": {"customer_id": id, "changes": {"description": "changed"}}})),
        )
        .await;
    assert_eq!(s, 202);
    let mut ev = Value::Null;
    app.eventually("the import-only event to be routed", async || {
        let (_, e) = app.send("GET", "/v1/tenants/acme/events/cu-3", None).await;
        ev = e;
        ev["routing"]["status"] == "routed"
    })
    .await;
    assert_eq!(ev["routing"]["deliveries"], json!([]));
    assert!(
        ev["routing"]["note"]
            .as_str()
            .unwrap()
            .contains("import-only"),
        "{ev}"
    );
    app.stop().await;
}

/// Sync never spends more than its share of a daily API quota: past it, the run waits for the
/// next window (PRODUCT.md 6), and says so.
#[tokio::test]
async fn sync_stops_at_its_share_of_the_daily_quota() {
    let app = TestApp::start_sandboxed(quiet_scheduler).await;
    app.put_tenant("acme").await;
    sandbox(
        &app,
        "salesforce",
        "seed",
        json!({"count": 9000, "seed": 2}),
    )
    .await;
    sandbox(
        &app,
        "salesforce",
        "limits",
        json!({"daily_api_requests": 20}),
    )
    .await;
    connect_minted(&app, "acme", "salesforce").await;
    let (s, _) = app
        .send(
            "PUT",
            "/v1/tenants/acme/connections/salesforce/settings",
            Some(json!({"people": {"quota_share": 0.1}})),
        )
        .await;
    assert_eq!(s, 200);
    let (s, run) = app
        .send(
            "POST",
            "/v1/tenants/acme/connections/salesforce/sync-runs",
            None,
        )
        .await;
    assert_eq!(s, 202, "{run}");
    let path = format!(
        "/v1/tenants/acme/connections/salesforce/sync-runs/{}",
        run["id"]
    );
    let mut last = Value::Null;
    app.eventually("the run to wait for the quota", async || {
        let (_, r) = app.send("GET", &path, None).await;
        last = r;
        last["progress"]["waiting"] == "daily_quota"
    })
    .await;
    assert_eq!(last["status"], "running", "{last}");
    // 2 of 20 calls is the share: the run stopped there, with pages left.
    let calls = last["progress"]["api_calls"].as_u64().unwrap();
    assert!((1..=2).contains(&calls), "{last}");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let (_, again) = app.send("GET", &path, None).await;
    assert_eq!(
        again["progress"]["api_calls"].as_u64().unwrap(),
        calls,
        "{again}"
    );
    app.stop().await;
}
