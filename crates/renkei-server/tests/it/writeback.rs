//! The write-back recipes end to end (issue 6): events posted to the API, routed to the
//! tenant's connections, written to the emulators, and checked there field by field.

use serde_json::{Value, json};

use crate::people::{all_people, connect_minted, quiet_scheduler, run_sync, sandbox};
use crate::support::TestApp;

/// The records a SOQL query answers, from the Salesforce emulator.
pub async fn soql(app: &TestApp, tokens: &Value, q: &str) -> Vec<Value> {
    let instance = tokens["instance_url"].as_str().unwrap();
    let url = reqwest::Url::parse_with_params(
        &format!("{instance}/services/data/v62.0/query"),
        [("q", q)],
    )
    .unwrap();
    let page: Value = app
        .http
        .get(url)
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["records"]
        .as_array()
        .unwrap_or_else(|| panic!("{q}: {page}"))
        .clone()
}

pub async fn post_events(app: &TestApp, tenant: &str, events: Value) {
    let (s, b) = app
        .send(
            "POST",
            &format!("/v1/tenants/{tenant}/events"),
            Some(events),
        )
        .await;
    assert_eq!(s, 202, "{b}");
}

/// Waits until every delivery of event `id` is final; returns the event.
pub async fn settled(app: &TestApp, tenant: &str, id: &str) -> Value {
    let mut ev = Value::Null;
    app.eventually(&format!("the deliveries of {id} to settle"), async || {
        let (_, e) = app
            .send("GET", &format!("/v1/tenants/{tenant}/events/{id}"), None)
            .await;
        ev = e;
        ev["routing"]["status"] == "routed"
            && ev["routing"]["deliveries"]
                .as_array()
                .is_some_and(|ds| ds.iter().all(|d| d["status"] != "pending"))
    })
    .await;
    ev
}

pub fn delivery(ev: &Value) -> &Value {
    let ds = ev["routing"]["deliveries"].as_array().unwrap();
    assert_eq!(ds.len(), 1, "{ev}");
    &ds[0]
}

pub async fn put_settings(app: &TestApp, tenant: &str, provider: &str, body: Value) {
    let (s, b) = app
        .send(
            "PUT",
            &format!("/v1/tenants/{tenant}/connections/{provider}/settings"),
            Some(body),
        )
        .await;
    assert_eq!(s, 200, "{b}");
}

/// The cloud phone of PRODUCT.md 4.3 with Salesforce: a call from a known number written as a
/// completed call Task on the record, found by the number in another notation; an unknown
/// caller created as a Lead once, however often they call; the transcript appended.
#[tokio::test]
async fn salesforce_call_logging() {
    let app = TestApp::start_sandboxed(quiet_scheduler).await;
    app.put_tenant("acme").await;
    sandbox(&app, "salesforce", "seed", json!({"count": 30, "seed": 9})).await;
    let tokens = connect_minted(&app, "acme", "salesforce").await;
    run_sync(&app, "acme", "salesforce", None).await;
    put_settings(
        &app,
        "acme",
        "salesforce",
        json!({"call_logging": {"enabled": true, "create_unknown": "lead"}}),
    )
    .await;
    let people = all_people(&app, "acme").await;
    let known = people
        .iter()
        .find(|p| {
            p["object"] == "lead" && p["phone"].as_str().is_some_and(|e| e.starts_with("+81"))
        })
        .expect("a lead with a Japanese phone");
    let e164 = known["phone"].as_str().unwrap();
    let remote = known["remote_id"].as_str().unwrap();
    // The same number written the international way with spaces, not as the CRM has it.
    let spaced = format!("+81 {}", &e164[3..]);
    let seeded_tasks = soql(&app, &tokens, "SELECT Id FROM Task").await.len();
    let admin = soql(
        &app,
        &tokens,
        "SELECT Id FROM User ORDER BY CreatedDate, Id LIMIT 1",
    )
    .await;
    let admin = admin[0]["Id"].as_str().unwrap().to_owned();

    post_events(
        &app,
        "acme",
        json!([
            {"id": "call-1", "type": "call.ended", "occurred_at": "2026-11-21T09:00:00Z",
             "data": {"call_id": "c1", "direction": "inbound", "customer_phone": spaced,
                      "duration_seconds": 125, "started_at": "2026-11-21T08:57:55Z",
                      "memo": "見積もりの件"}},
            {"id": "call-2", "type": "call.ended", "occurred_at": "2026-11-21T09:10:00Z",
             "data": {"call_id": "c2", "direction": "outbound", "customer_phone": "０６－９８７６－５４３２",
                      "duration_seconds": 30, "started_at": "2026-11-21T09:09:30Z",
                      "customer": {"id": "cust-77", "name": "新規 太郎", "company": "新規商事"}}},
        ]),
    )
    .await;
    let ev1 = settled(&app, "acme", "call-1").await;
    let d1 = delivery(&ev1);
    assert_eq!(
        (
            d1["step"].as_str(),
            d1["status"].as_str(),
            d1["attempts"].as_i64()
        ),
        (Some("call_activity"), Some("succeeded"), Some(1)),
        "{ev1}"
    );
    assert_eq!(d1["remote_ids"]["person"]["id"], remote);
    let task_id = d1["remote_ids"]["activity"]["id"].as_str().unwrap();
    let task = &soql(
        &app,
        &tokens,
        &format!(
            "SELECT Id, WhoId, Subject, Description, TaskSubtype, CallType, \
             CallDurationInSeconds, Status, OwnerId FROM Task WHERE Id = '{task_id}'"
        ),
    )
    .await[0];
    assert_eq!(task["WhoId"], remote);
    assert_eq!(task["TaskSubtype"], "Call");
    assert_eq!(task["CallType"], "Inbound");
    assert_eq!(task["CallDurationInSeconds"], 125);
    assert_eq!(task["Status"], "Completed");
    assert_eq!(task["Subject"], "通話（着信）");
    assert_eq!(task["Description"], "見積もりの件");
    // No member on the event: the connecting user owns it.
    assert_eq!(task["OwnerId"], admin);

    let ev2 = settled(&app, "acme", "call-2").await;
    let d2 = delivery(&ev2);
    assert_eq!(d2["status"], "succeeded", "{ev2}");
    let lead_id = d2["remote_ids"]["person"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let lead = &soql(
        &app,
        &tokens,
        &format!("SELECT Id, LastName, FirstName, Company, Phone FROM Lead WHERE Id = '{lead_id}'"),
    )
    .await[0];
    assert_eq!(
        (
            &lead["LastName"],
            &lead["FirstName"],
            &lead["Company"],
            &lead["Phone"]
        ),
        (
            &json!("新規"),
            &json!("太郎"),
            &json!("新規商事"),
            &json!("０６－９８７６－５４３２")
        )
    );

    // The same unknown caller again, by another notation and without the customer: no second
    // lead; the call goes to the lead created for the number.
    post_events(
        &app,
        "acme",
        json!([
            {"id": "call-3", "type": "call.ended", "occurred_at": "2026-11-21T10:00:00Z",
             "data": {"call_id": "c3", "direction": "inbound", "customer_phone": "06-9876-5432",
                      "duration_seconds": 61, "started_at": "2026-11-21T09:59:00Z"}},
            {"id": "tr-1", "type": "call.transcribed", "occurred_at": "2026-11-21T10:01:00Z",
             "data": {"call_id": "c1", "text": "お世話になっております。"}},
            {"id": "tr-9", "type": "call.transcribed", "occurred_at": "2026-11-21T10:01:00Z",
             "data": {"call_id": "no-such-call", "text": "…"}},
        ]),
    )
    .await;
    let ev3 = settled(&app, "acme", "call-3").await;
    assert_eq!(
        delivery(&ev3)["remote_ids"]["person"]["id"],
        lead_id.as_str()
    );
    let leads = soql(&app, &tokens, "SELECT Id FROM Lead WHERE LastName = '新規'").await;
    assert_eq!(leads.len(), 1, "{leads:?}");

    let tr = settled(&app, "acme", "tr-1").await;
    assert_eq!(delivery(&tr)["status"], "succeeded", "{tr}");
    let task = &soql(
        &app,
        &tokens,
        &format!("SELECT Id, Description FROM Task WHERE Id = '{task_id}'"),
    )
    .await[0];
    assert_eq!(
        task["Description"],
        "見積もりの件\n\n【文字起こし】\nお世話になっております。"
    );
    let lost = settled(&app, "acme", "tr-9").await;
    let d = delivery(&lost);
    assert_eq!(d["status"], "skipped", "{lost}");
    assert!(
        d["reason"]
            .as_str()
            .unwrap()
            .starts_with("no_call_activity:"),
        "{lost}"
    );

    // Exactly one Task per call, beside the seeded ones.
    let tasks = soql(&app, &tokens, "SELECT Id FROM Task").await;
    assert_eq!(tasks.len(), seeded_tasks + 3, "{tasks:?}");
    app.stop().await;
}

/// Unknown callers created as Contacts (PRODUCT.md 4.3): with a company, under the Account of
/// that name (reused when it exists, created when not); without one, under the default Account,
/// created once and reused. The activity is owned by the member's Salesforce user (same
/// email), else by the connecting user.
#[tokio::test]
async fn salesforce_unknown_callers_become_contacts_with_owners() {
    let app = TestApp::start_sandboxed(quiet_scheduler).await;
    app.put_tenant("acme").await;
    let tokens = connect_minted(&app, "acme", "salesforce").await;
    put_settings(
        &app,
        "acme",
        "salesforce",
        json!({"people": {"enabled": false},
               "call_logging": {"enabled": true, "create_unknown": "contact",
                                "default_account_name": "テスト取引先"}}),
    )
    .await;
    let users = soql(&app, &tokens, "SELECT Id, Email FROM User").await;
    let sales = users
        .iter()
        .find(|u| u["Email"].as_str().unwrap().starts_with("sales@"))
        .expect("the emulator's second user");
    let admin = soql(
        &app,
        &tokens,
        "SELECT Id FROM User ORDER BY CreatedDate, Id LIMIT 1",
    )
    .await[0]["Id"]
        .clone();
    let (s, b) = app
        .send(
            "PUT",
            "/v1/tenants/acme/members/m1",
            Some(
                json!({"email": sales["Email"].as_str().unwrap().to_uppercase(),
                        "display_name": "営業 一郎"}),
            ),
        )
        .await;
    assert!(s == 200 || s == 201, "{b}");
    let instance = tokens["instance_url"].as_str().unwrap();
    let existing: Value = app
        .http
        .post(format!("{instance}/services/data/v62.0/sobjects/Account"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .json(&json!({"Name": "既存商事"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let existing = existing["id"].as_str().unwrap().to_owned();

    let call = |id: &str, phone: &str, customer: Value, member: Option<&str>| {
        let mut e = json!({"id": id, "type": "call.ended", "occurred_at": "2026-11-21T09:00:00Z",
            "data": {"call_id": id, "direction": "outbound", "customer_phone": phone,
                     "duration_seconds": 10, "started_at": "2026-11-21T08:59:50Z"}});
        if !customer.is_null() {
            e["data"]["customer"] = customer;
        }
        if let Some(m) = member {
            e["member"] = json!(m);
        }
        e
    };
    post_events(
        &app,
        "acme",
        json!([
            call(
                "a",
                "03-1111-2222",
                json!({"name": "山田 一", "company": "山田商事"}),
                Some("m1")
            ),
            call("b", "03-3333-4444", Value::Null, None),
            call("c", "03-5555-6666", json!({"name": "無所属 次郎"}), None),
            call(
                "d",
                "03-7777-8888",
                json!({"name": "既存 三郎", "company": "既存商事"}),
                None
            ),
        ]),
    )
    .await;
    let mut contacts = Vec::new();
    for id in ["a", "b", "c", "d"] {
        let ev = settled(&app, "acme", id).await;
        let d = delivery(&ev);
        assert_eq!(d["status"], "succeeded", "{ev}");
        let contact = d["remote_ids"]["person"]["id"].as_str().unwrap().to_owned();
        let task = d["remote_ids"]["activity"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let c = soql(
            &app,
            &tokens,
            &format!("SELECT Id, LastName, AccountId FROM Contact WHERE Id = '{contact}'"),
        )
        .await
        .remove(0);
        let t = soql(
            &app,
            &tokens,
            &format!("SELECT Id, OwnerId, WhoId FROM Task WHERE Id = '{task}'"),
        )
        .await
        .remove(0);
        assert_eq!(t["WhoId"], contact.as_str());
        contacts.push((c, t));
    }
    let account_named = async |name: &str| {
        soql(
            &app,
            &tokens,
            &format!("SELECT Id FROM Account WHERE Name = '{name}'"),
        )
        .await
    };
    let yamada = account_named("山田商事").await;
    assert_eq!(yamada.len(), 1);
    assert_eq!(contacts[0].0["AccountId"], yamada[0]["Id"]);
    let default = account_named("テスト取引先").await;
    assert_eq!(default.len(), 1, "the default account is created once");
    assert_eq!(contacts[1].0["AccountId"], default[0]["Id"]);
    assert_eq!(contacts[2].0["AccountId"], default[0]["Id"]);
    assert_eq!(contacts[3].0["AccountId"], existing.as_str());
    assert_eq!(account_named("既存商事").await.len(), 1);
    // A contact without a name is known by its number.
    assert_eq!(contacts[1].0["LastName"], "03-3333-4444");
    assert_eq!(contacts[0].1["OwnerId"], sales["Id"]);
    assert_eq!(contacts[1].1["OwnerId"], admin);
    app.stop().await;
}

/// Calls an emulator's API with the connection's token: `base` + `path`.
pub async fn vendor(
    app: &TestApp,
    token: &Value,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> Value {
    let mut req = app
        .http
        .request(method, url)
        .bearer_auth(token.as_str().unwrap());
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert!(status.is_success(), "{url}: {status} {text}");
    serde_json::from_str(&text).unwrap()
}

/// HubSpot calls and Zoho CRM Calls (PRODUCT.md 4.3 beyond Salesforce): a caller found by a
/// live search in another notation gets one call with the provider's units (HubSpot
/// milliseconds, Zoho `mm:ss`), and a retry of the event id writes nothing twice.
#[tokio::test]
async fn hubspot_and_zoho_call_logging() {
    let app = TestApp::start_sandboxed(quiet_scheduler).await;
    app.put_tenant("acme").await;
    let hs = connect_minted(&app, "acme", "hubspot").await;
    let zo = connect_minted(&app, "acme", "zoho_crm").await;
    for p in ["hubspot", "zoho_crm"] {
        put_settings(
            &app,
            "acme",
            p,
            json!({"people": {"enabled": false}, "call_logging": {"enabled": true}}),
        )
        .await;
    }
    let hs_base = app.url("/sandbox/hubspot");
    let contact = vendor(
        &app,
        &hs["access_token"],
        reqwest::Method::POST,
        &format!("{hs_base}/crm/v3/objects/contacts"),
        Some(json!({"properties": {"lastname": "通話", "phone": "03-4444-5555"}})),
    )
    .await;
    let contact = contact["id"].as_str().unwrap().to_owned();
    let zoho_base = format!("{}/crm/v8", zo["api_domain"].as_str().unwrap());
    let lead = vendor(
        &app,
        &zo["access_token"],
        reqwest::Method::POST,
        &format!("{zoho_base}/Leads"),
        Some(json!({"data": [{"Last_Name": "通話", "Company": "通話商事", "Phone": "03-4444-5555"}]})),
    )
    .await;
    let lead = lead["data"][0]["details"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let event = json!({"id": "hz-1", "type": "call.ended", "occurred_at": "2026-11-21T09:00:00Z",
        "data": {"call_id": "hz1", "direction": "inbound", "customer_phone": "+81 3 4444 5555",
                 "duration_seconds": 75, "started_at": "2026-11-21T08:58:45Z"}});
    post_events(&app, "acme", event.clone()).await;
    post_events(&app, "acme", event).await;
    let ev = settled(&app, "acme", "hz-1").await;
    let ds = ev["routing"]["deliveries"].as_array().unwrap();
    assert_eq!(ds.len(), 2, "{ev}");
    assert!(
        ds.iter()
            .all(|d| d["status"] == "succeeded" && d["attempts"] == 1),
        "{ev}"
    );
    let by_person = |id: &str| {
        ds.iter()
            .find(|d| d["remote_ids"]["person"]["id"] == id)
            .unwrap_or_else(|| panic!("no delivery to {id}: {ev}"))
    };
    let hs_call = by_person(&contact)["remote_ids"]["activity"]["id"]
        .as_str()
        .unwrap();
    let call = vendor(
        &app,
        &hs["access_token"],
        reqwest::Method::GET,
        &format!(
            "{hs_base}/crm/v3/objects/calls/{hs_call}?properties=hs_call_duration,hs_call_direction,hs_call_status&associations=contacts"
        ),
        None,
    )
    .await;
    assert_eq!(call["properties"]["hs_call_duration"], "75000", "{call}");
    assert_eq!(call["properties"]["hs_call_direction"], "INBOUND", "{call}");
    assert_eq!(call["properties"]["hs_call_status"], "COMPLETED", "{call}");
    assert_eq!(
        call["associations"]["contacts"]["results"][0]["id"],
        contact.as_str(),
        "{call}"
    );
    let zoho_call = by_person(&lead)["remote_ids"]["activity"]["id"]
        .as_str()
        .unwrap();
    let call = vendor(
        &app,
        &zo["access_token"],
        reqwest::Method::GET,
        &format!("{zoho_base}/Calls/{zoho_call}"),
        None,
    )
    .await;
    let call = &call["data"][0];
    assert_eq!(call["Call_Duration"], "01:15", "{call}");
    assert_eq!(call["Call_Type"], "Inbound", "{call}");
    // Zoho attaches a call to a Lead through `What_Id` with `$se_module` (Who_Id takes
    // Contacts only).
    assert_eq!(call["What_Id"]["id"], lead.as_str(), "{call}");
    assert_eq!(call["$se_module"], "Leads", "{call}");
    app.stop().await;
}
