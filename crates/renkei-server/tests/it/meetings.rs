//! Meeting notes end to end (PRODUCT.md 4.4, seed `003_…`): `meeting.report_ready` events
//! posted to the API and written as Notes on the customer's lead or contact in the emulators,
//! read back through each vendor's API with the connection's token, field by field.

use serde_json::{Value, json};

use crate::people::{all_people, connect_minted, quiet_scheduler, run_sync, sandbox};
use crate::support::TestApp;
use crate::writeback::{delivery, post_events, put_settings, settled, soql, vendor};

/// A `meeting.report_ready` event held by `member`.
fn meeting(id: &str, customer: Value, member: Option<&str>) -> Value {
    let mut e = json!({"id": id, "type": "meeting.report_ready",
        "occurred_at": "2026-11-21T09:00:00Z",
        "data": {"meeting_id": format!("mt-{id}"), "title": format!("定例 {id}"),
                 "body": format!("議事録 {id}\n次回: 見積もり"),
                 "held_at": "2026-11-21T08:00:00Z", "customer": customer}});
    if let Some(m) = member {
        e["member"] = json!(m);
    }
    e
}

/// The body renkei writes for event `id` held by 営業 一郎.
fn note_body(id: &str) -> String {
    format!("議事録 {id}\n次回: 見積もり\n\n担当: 営業 一郎")
}

/// The key line the Zoho connector keeps in a note's body (zoho/records.rs).
fn zoho_key_line(id: &str) -> String {
    format!("renkei-ref: renkei:acme:{id}:meeting_note")
}

async fn member(app: &TestApp) {
    let (s, b) = app
        .send(
            "PUT",
            "/v1/tenants/acme/members/m1",
            Some(json!({"email": "ichiro@example.jp", "display_name": "営業 一郎"})),
        )
        .await;
    assert!(s == 200 || s == 201, "{b}");
}

/// The Zoho connection's token and its API base (`…/crm/v8`).
struct Zoho {
    token: Value,
    base: String,
}

async fn zoho(app: &TestApp) -> Zoho {
    let t = connect_minted(app, "acme", "zoho_crm").await;
    Zoho {
        base: format!("{}/crm/v8", t["api_domain"].as_str().unwrap()),
        token: t["access_token"].clone(),
    }
}

impl Zoho {
    /// The rows a Zoho GET answers (none on its 204).
    async fn rows(&self, app: &TestApp, path: &str) -> Vec<Value> {
        let resp = app
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(self.token.as_str().unwrap())
            .send()
            .await
            .unwrap();
        let status = resp.status();
        if status == reqwest::StatusCode::NO_CONTENT {
            return Vec::new();
        }
        let text = resp.text().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {text}");
        let body: Value = serde_json::from_str(&text).unwrap();
        body["data"].as_array().unwrap().clone()
    }

    async fn one(&self, app: &TestApp, path: &str) -> Value {
        let mut rows = self.rows(app, path).await;
        assert_eq!(rows.len(), 1, "{path}: {rows:?}");
        rows.remove(0)
    }

    async fn insert(&self, app: &TestApp, module: &str, record: Value) -> String {
        let b = vendor(
            app,
            &self.token,
            reqwest::Method::POST,
            &format!("{}/{module}", self.base),
            Some(json!({ "data": [record] })),
        )
        .await;
        b["data"][0]["details"]["id"].as_str().unwrap().to_owned()
    }

    /// The API's path below the sandbox mount, for fault rules (`/jp/api/crm/v8`).
    fn fault_path(&self, app: &TestApp, rest: &str) -> String {
        let mount = app.url("/sandbox/zoho");
        format!("{}{rest}", self.base.strip_prefix(&mount).unwrap())
    }
}

/// A succeeded delivery's saved record `name`: its id.
fn saved<'a>(ev: &'a Value, name: &str) -> &'a str {
    let d = delivery(ev);
    assert_eq!(d["status"], "succeeded", "{ev}");
    d["remote_ids"][name]["id"].as_str().unwrap()
}

/// Zoho with imported Leads: a meeting naming the person's id is written as one Note on that
/// Lead, naming the member; meetings naming another imported Lead by company + name only
/// (another spacing, no customer id) or by its email go to that Lead. No Lead is created.
#[tokio::test]
async fn zoho_note_on_an_imported_lead() {
    let app = TestApp::start_sandboxed(quiet_scheduler).await;
    app.put_tenant("acme").await;
    member(&app).await;
    sandbox(&app, "zoho_crm", "seed", json!({"count": 20, "seed": 4})).await;
    let z = zoho(&app).await;
    run_sync(&app, "acme", "zoho_crm", None).await;
    put_settings(
        &app,
        "acme",
        "zoho_crm",
        json!({"meeting_notes": {"enabled": true}}),
    )
    .await;
    let people = all_people(&app, "acme").await;
    let named: Vec<&Value> = people
        .iter()
        .filter(|p| {
            p["object"] == "lead"
                && p["name"].as_str().is_some_and(|n| n.contains(' '))
                && p["company"].is_string()
                && p["emails"][0].is_string()
        })
        .collect();
    assert!(named.len() >= 2, "the seed has named leads: {people:?}");
    let (lead, other) = (named[0], named[1]);
    let person_id = match &lead["id"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let remote = lead["remote_id"].as_str().unwrap();
    let name = lead["name"].as_str().unwrap();
    let company = lead["company"].as_str().unwrap();
    let leads_before = z
        .rows(&app, "/Leads?per_page=200&fields=Last_Name")
        .await
        .len();

    post_events(
        &app,
        "acme",
        json!([meeting(
            "m-1",
            json!({"id": person_id, "name": name, "company": company}),
            Some("m1")
        )]),
    )
    .await;
    let ev = settled(&app, "acme", "m-1").await;
    let d = delivery(&ev);
    assert_eq!(
        (
            d["step"].as_str(),
            d["subject"].as_str(),
            d["attempts"].as_i64()
        ),
        (Some("meeting_note"), Some("meeting:mt-m-1"), Some(1)),
        "{ev}"
    );
    assert_eq!(saved(&ev, "person"), remote);
    let note_id = saved(&ev, "note").to_owned();
    let notes = z
        .rows(
            &app,
            &format!("/Leads/{remote}/Notes?fields=Note_Title,Note_Content,Parent_Id"),
        )
        .await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    let n = &notes[0];
    assert_eq!(n["id"], note_id.as_str());
    assert_eq!(n["Note_Title"], "定例 m-1");
    assert_eq!(
        n["Note_Content"],
        format!("{}\n\n{}", note_body("m-1"), zoho_key_line("m-1"))
    );
    assert_eq!(n["Parent_Id"]["id"], remote, "{n}");
    assert_eq!(n["$se_module"], "Leads", "{n}");

    // Another imported lead by company + name only, written without the space; and by its
    // email under another name.
    let other_remote = other["remote_id"].as_str().unwrap();
    post_events(
        &app,
        "acme",
        json!([
            meeting(
                "m-2",
                json!({"name": other["name"].as_str().unwrap().replace(' ', ""),
                       "company": other["company"]}),
                Some("m1")
            ),
            meeting(
                "m-3",
                json!({"name": "別名 様", "company": "",
                       "email": other["emails"][0].as_str().unwrap().to_uppercase()}),
                Some("m1")
            ),
        ]),
    )
    .await;
    for id in ["m-2", "m-3"] {
        let ev = settled(&app, "acme", id).await;
        assert_eq!(saved(&ev, "person"), other_remote, "{id}");
    }
    let notes = z
        .rows(
            &app,
            &format!("/Leads/{other_remote}/Notes?fields=Note_Title,Note_Content,Parent_Id"),
        )
        .await;
    assert_eq!(notes.len(), 2, "{notes:?}");
    let notes = z
        .rows(
            &app,
            &format!("/Leads/{remote}/Notes?fields=Note_Title,Note_Content,Parent_Id"),
        )
        .await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(
        z.rows(&app, "/Leads?per_page=200&fields=Last_Name")
            .await
            .len(),
        leads_before,
        "no lead is created"
    );
    app.stop().await;
}

/// Zoho, a customer the CRM does not have: a Lead is created (the name split, the empty
/// company as "名前なし", email and phone) and the Note written on it; the customer's next
/// meeting, by id or by name alone, goes to the same Lead.
#[tokio::test]
async fn zoho_unknown_customer_becomes_a_lead_once() {
    let app = TestApp::start_sandboxed(quiet_scheduler).await;
    app.put_tenant("acme").await;
    member(&app).await;
    let z = zoho(&app).await;
    put_settings(
        &app,
        "acme",
        "zoho_crm",
        json!({"people": {"enabled": false}, "meeting_notes": {"enabled": true}}),
    )
    .await;
    let customer = json!({"id": "cust-1", "name": "新規 花子", "company": "",
        "email": "hanako@example.jp", "phone": "03-1234-5678"});
    post_events(
        &app,
        "acme",
        json!([meeting("m-1", customer.clone(), Some("m1"))]),
    )
    .await;
    let ev = settled(&app, "acme", "m-1").await;
    let lead_id = saved(&ev, "person").to_owned();
    assert_eq!(delivery(&ev)["remote_ids"]["person"]["object"], "Leads");
    let lead = z.one(&app, &format!("/Leads/{lead_id}")).await;
    assert_eq!(
        (
            &lead["Last_Name"],
            &lead["First_Name"],
            &lead["Company"],
            &lead["Email"],
            &lead["Phone"]
        ),
        (
            &json!("新規"),
            &json!("花子"),
            &json!("名前なし"),
            &json!("hanako@example.jp"),
            &json!("03-1234-5678")
        ),
        "{lead}"
    );
    let notes = z
        .rows(
            &app,
            &format!("/Leads/{lead_id}/Notes?fields=Note_Title,Note_Content,Parent_Id"),
        )
        .await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(
        notes[0]["Note_Content"],
        format!("{}\n\n{}", note_body("m-1"), zoho_key_line("m-1"))
    );

    post_events(
        &app,
        "acme",
        json!([
            meeting("m-2", customer, Some("m1")),
            meeting(
                "m-3",
                json!({"name": "新規 花子", "company": ""}),
                Some("m1")
            ),
        ]),
    )
    .await;
    for id in ["m-2", "m-3"] {
        let ev = settled(&app, "acme", id).await;
        assert_eq!(saved(&ev, "person"), lead_id, "{id}");
    }
    let mut notes = z
        .rows(
            &app,
            &format!("/Leads/{lead_id}/Notes?fields=Note_Title,Note_Content,Parent_Id"),
        )
        .await;
    notes.sort_by_key(|n| n["Note_Title"].as_str().unwrap().to_owned());
    let titles: Vec<&str> = notes
        .iter()
        .map(|n| n["Note_Title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["定例 m-1", "定例 m-2", "定例 m-3"]);
    let leads = z.rows(&app, "/Leads?per_page=200&fields=Last_Name").await;
    assert_eq!(leads.len(), 1, "{leads:?}");
    app.stop().await;
}

/// Zoho with `create_as: contact`: a new customer of a company becomes a Contact under the
/// existing Account of that name; one without a company goes under the Account named by the
/// placeholder, created once.
#[tokio::test]
async fn zoho_unknown_customer_becomes_a_contact_under_its_account() {
    let app = TestApp::start_sandboxed(quiet_scheduler).await;
    app.put_tenant("acme").await;
    member(&app).await;
    let z = zoho(&app).await;
    put_settings(
        &app,
        "acme",
        "zoho_crm",
        json!({"people": {"enabled": false},
               "meeting_notes": {"enabled": true, "create_as": "contact"}}),
    )
    .await;
    let existing = z
        .insert(&app, "Accounts", json!({"Account_Name": "既存商事"}))
        .await;
    post_events(
        &app,
        "acme",
        json!([
            meeting(
                "m-1",
                json!({"name": "既存 三郎", "company": "既存商事"}),
                Some("m1")
            ),
            meeting(
                "m-2",
                json!({"name": "無所属 四郎", "company": ""}),
                Some("m1")
            ),
            meeting(
                "m-3",
                json!({"name": "無所属 五郎", "company": ""}),
                Some("m1")
            ),
        ]),
    )
    .await;
    let mut contacts = Vec::new();
    for id in ["m-1", "m-2", "m-3"] {
        let ev = settled(&app, "acme", id).await;
        let contact = saved(&ev, "person").to_owned();
        assert_eq!(delivery(&ev)["remote_ids"]["person"]["object"], "Contacts");
        let notes = z
            .rows(
                &app,
                &format!("/Contacts/{contact}/Notes?fields=Note_Title,Note_Content,Parent_Id"),
            )
            .await;
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(notes[0]["Note_Title"], format!("定例 {id}"));
        assert_eq!(notes[0]["$se_module"], "Contacts");
        contacts.push(z.one(&app, &format!("/Contacts/{contact}")).await);
    }
    assert_eq!(
        (&contacts[0]["Last_Name"], &contacts[0]["First_Name"]),
        (&json!("既存"), &json!("三郎"))
    );
    assert_eq!(contacts[0]["Account_Name"]["id"], existing.as_str());
    let accounts = z.rows(&app, "/Accounts?fields=Account_Name").await;
    let named = |n: &str| {
        accounts
            .iter()
            .filter(|a| a["Account_Name"] == n)
            .map(|a| a["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(named("既存商事"), [existing.as_str()]);
    let placeholder = named("名前なし");
    assert_eq!(placeholder.len(), 1, "{accounts:?}");
    assert_eq!(contacts[1]["Account_Name"]["id"], placeholder[0].as_str());
    assert_eq!(contacts[2]["Account_Name"]["id"], placeholder[0].as_str());
    app.stop().await;
}

/// Exactly once on Zoho: the same event posted twice is one delivery; a Lead create and a Note
/// create whose answers are lost (the connection dropped after Zoho wrote them) are found
/// again, not repeated; a delivery that died on Zoho errors and is retried through the API
/// writes its Note once. One Lead, one Note per meeting.
#[tokio::test]
async fn zoho_retries_write_nothing_twice() {
    let app = TestApp::start_sandboxed(|c| {
        quiet_scheduler(c);
        c.worker.backoff_base_ms = 20;
        c.worker.backoff_cap_seconds = 1;
    })
    .await;
    app.put_tenant("acme").await;
    member(&app).await;
    let z = zoho(&app).await;
    put_settings(
        &app,
        "acme",
        "zoho_crm",
        json!({"people": {"enabled": false}, "meeting_notes": {"enabled": true}}),
    )
    .await;
    for module in ["Leads", "Notes"] {
        sandbox(
            &app,
            "zoho_crm",
            "faults",
            json!({"kind": "drop_after", "count": 1, "method": "POST",
                   "path_prefix": z.fault_path(&app, &format!("/{module}"))}),
        )
        .await;
    }
    let customer = json!({"id": "cust-9", "name": "再送 九郎", "company": "再送商事",
        "email": "kuro@example.jp"});
    let m1 = meeting("m-1", customer.clone(), Some("m1"));
    post_events(&app, "acme", m1.clone()).await;
    post_events(&app, "acme", m1).await;
    let ev = settled(&app, "acme", "m-1").await;
    let d = delivery(&ev);
    assert_eq!(d["status"], "succeeded", "{ev}");
    assert_eq!(d["attempts"], 3, "two lost answers, two retries: {ev}");
    let lead_id = saved(&ev, "person").to_owned();
    let leads = z.rows(&app, "/Leads?per_page=200&fields=Last_Name").await;
    assert_eq!(leads.len(), 1, "{leads:?}");
    let notes = z
        .rows(
            &app,
            &format!("/Leads/{lead_id}/Notes?fields=Note_Title,Note_Content,Parent_Id"),
        )
        .await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0]["id"], saved(&ev, "note"));

    // Every Note create fails: the delivery dies after its attempts; with Zoho healthy again a
    // retry through the API writes the Note once.
    sandbox(
        &app,
        "zoho_crm",
        "faults",
        json!({"kind": "server_error", "fraction": 1.0, "method": "POST",
               "path_prefix": z.fault_path(&app, "/Notes")}),
    )
    .await;
    post_events(&app, "acme", meeting("m-2", customer, Some("m1"))).await;
    let ev = settled(&app, "acme", "m-2").await;
    let d = delivery(&ev).clone();
    assert_eq!(d["status"], "dead", "{ev}");
    assert_eq!(d["provider_status"], 503, "{ev}");
    assert_eq!(d["remote_ids"]["person"]["id"], lead_id.as_str());
    let resp = app
        .http
        .delete(app.url("/sandbox/zoho/_control/faults"))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let path = format!("/v1/tenants/acme/deliveries/{}", d["id"]);
    let (s, b) = app.send("POST", &format!("{path}/retry"), None).await;
    assert_eq!(s, 202, "{b}");
    let mut done = Value::Null;
    app.eventually("the retried meeting note", async || {
        let (_, d) = app.send("GET", &path, None).await;
        done = d;
        done["status"] == "succeeded"
    })
    .await;
    let notes = z
        .rows(
            &app,
            &format!("/Leads/{lead_id}/Notes?fields=Note_Title,Note_Content,Parent_Id"),
        )
        .await;
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(
        notes
            .iter()
            .any(|n| n["id"] == done["remote_ids"]["note"]["id"] && n["Note_Title"] == "定例 m-2"),
        "{notes:?}"
    );
    let (s, _) = app.send("POST", &format!("{path}/retry"), None).await;
    assert_eq!(s, 409);
    assert_eq!(
        z.rows(&app, "/Leads?per_page=200&fields=Last_Name")
            .await
            .len(),
        1
    );
    app.stop().await;
}

/// `create_as: none`: an unknown customer's meeting is skipped (`no_match`) and nothing is
/// written.
#[tokio::test]
async fn unknown_customer_without_create_is_skipped() {
    let app = TestApp::start_sandboxed(quiet_scheduler).await;
    app.put_tenant("acme").await;
    let z = zoho(&app).await;
    put_settings(
        &app,
        "acme",
        "zoho_crm",
        json!({"people": {"enabled": false},
               "meeting_notes": {"enabled": true, "create_as": "none"}}),
    )
    .await;
    post_events(
        &app,
        "acme",
        meeting(
            "m-1",
            json!({"id": "c-1", "name": "未登録 六郎", "company": "未登録商事"}),
            None,
        ),
    )
    .await;
    let ev = settled(&app, "acme", "m-1").await;
    let d = delivery(&ev);
    assert_eq!(d["status"], "skipped", "{ev}");
    assert!(
        d["reason"].as_str().unwrap().starts_with("no_match: "),
        "{ev}"
    );
    assert_eq!(d["remote_ids"], json!({}), "{ev}");
    assert!(z.rows(&app, "/Leads?fields=Last_Name").await.is_empty());
    assert!(z.rows(&app, "/Contacts?fields=Last_Name").await.is_empty());
    app.stop().await;
}

/// Salesforce: an unknown customer becomes a Lead and the report a classic Note on it, owned
/// by the API user.
#[tokio::test]
async fn salesforce_meeting_note() {
    let app = TestApp::start_sandboxed(quiet_scheduler).await;
    app.put_tenant("acme").await;
    member(&app).await;
    let tokens = connect_minted(&app, "acme", "salesforce").await;
    put_settings(
        &app,
        "acme",
        "salesforce",
        json!({"people": {"enabled": false}, "meeting_notes": {"enabled": true}}),
    )
    .await;
    post_events(
        &app,
        "acme",
        meeting(
            "m-1",
            json!({"id": "c-1", "name": "新規 太郎", "company": "新規商事",
                   "email": "taro@example.jp"}),
            Some("m1"),
        ),
    )
    .await;
    let ev = settled(&app, "acme", "m-1").await;
    let lead_id = saved(&ev, "person").to_owned();
    let note_id = saved(&ev, "note").to_owned();
    let lead = &soql(
        &app,
        &tokens,
        &format!("SELECT Id, LastName, FirstName, Company, Email FROM Lead WHERE Id = '{lead_id}'"),
    )
    .await[0];
    assert_eq!(
        (
            &lead["LastName"],
            &lead["FirstName"],
            &lead["Company"],
            &lead["Email"]
        ),
        (
            &json!("新規"),
            &json!("太郎"),
            &json!("新規商事"),
            &json!("taro@example.jp")
        )
    );
    let notes = soql(
        &app,
        &tokens,
        &format!("SELECT Id, ParentId, Title, Body FROM Note WHERE ParentId = '{lead_id}'"),
    )
    .await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0]["Id"], note_id.as_str());
    assert_eq!(notes[0]["Title"], "定例 m-1");
    assert_eq!(notes[0]["Body"], note_body("m-1"));
    app.stop().await;
}

/// HubSpot: an unknown customer becomes a contact (with the `company` property) and the report
/// a note associated to it.
#[tokio::test]
async fn hubspot_meeting_note() {
    let app = TestApp::start_sandboxed(quiet_scheduler).await;
    app.put_tenant("acme").await;
    member(&app).await;
    let hs = connect_minted(&app, "acme", "hubspot").await;
    put_settings(
        &app,
        "acme",
        "hubspot",
        json!({"people": {"enabled": false}, "meeting_notes": {"enabled": true}}),
    )
    .await;
    post_events(
        &app,
        "acme",
        meeting(
            "m-1",
            json!({"name": "新規 次郎", "company": "次郎商事", "email": "jiro@example.jp"}),
            Some("m1"),
        ),
    )
    .await;
    let ev = settled(&app, "acme", "m-1").await;
    let contact_id = saved(&ev, "person").to_owned();
    let note_id = saved(&ev, "note").to_owned();
    let base = app.url("/sandbox/hubspot");
    let contact = vendor(
        &app,
        &hs["access_token"],
        reqwest::Method::GET,
        &format!(
            "{base}/crm/v3/objects/contacts/{contact_id}?properties=lastname,firstname,company,email"
        ),
        None,
    )
    .await;
    let p = &contact["properties"];
    assert_eq!(
        (&p["lastname"], &p["firstname"], &p["company"], &p["email"]),
        (
            &json!("新規"),
            &json!("次郎"),
            &json!("次郎商事"),
            &json!("jiro@example.jp")
        ),
        "{contact}"
    );
    let note = vendor(
        &app,
        &hs["access_token"],
        reqwest::Method::GET,
        &format!(
            "{base}/crm/v3/objects/notes/{note_id}?properties=hs_note_body,hs_timestamp&associations=contacts"
        ),
        None,
    )
    .await;
    assert_eq!(
        note["properties"]["hs_note_body"],
        "定例 m-1<br><br>議事録 m-1<br>次回: 見積もり<br><br>担当: 営業 一郎",
        "{note}"
    );
    // Occurred when the meeting was held.
    let at = note["properties"]["hs_timestamp"].as_str().unwrap();
    assert!(
        at == "1795248000000" || at.starts_with("2026-11-21T08:00:00"),
        "{note}"
    );
    assert_eq!(
        note["associations"]["contacts"]["results"][0]["id"],
        contact_id.as_str(),
        "{note}"
    );
    app.stop().await;
}
