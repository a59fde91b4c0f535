//! Actions against the emulators: every action on each CRM, the outcomes read from the
//! emulators' own error bodies, templates over the context, idempotency under concurrent
//! identical requests, the deadline, and the errors of requests renkei cannot run.

use serde_json::{Value, json};

use crate::people::{connect_minted, emulator, quiet_scheduler, sandbox};
use crate::support::TestApp;
use crate::writeback::{soql, vendor};

async fn act(app: &TestApp, action: &str, body: Value) -> Value {
    let (s, b) = app
        .send(
            "POST",
            &format!("/v1/tenants/acme/actions/{action}"),
            Some(body),
        )
        .await;
    assert_eq!(s, 200, "{action}: {b}");
    b
}

fn outcome(b: &Value) -> &str {
    b["outcome"].as_str().unwrap_or_default()
}

/// The URL prefix of a vendor path as the emulator's faults name it.
fn fault_path(app: &TestApp, provider: &str, t: &Value, rest: &str) -> String {
    let mount = app.url(&format!("/sandbox/{}", emulator(provider)));
    let base = match provider {
        "salesforce" => format!(
            "{}/services/data/v62.0",
            t["instance_url"].as_str().unwrap()
        ),
        "hubspot" => mount.clone(),
        _ => format!("{}/crm/v8", t["api_domain"].as_str().unwrap()),
    };
    format!("{}{rest}", base.strip_prefix(&mount).unwrap())
}

/// Deactivates the emulator's second user the way each CRM does it, with the connection's
/// token `t`: Salesforce's `sales@` user through `PATCH /sobjects/User/{id}` (`IsActive`
/// false), HubSpot's second owner through the sandbox's archive control (HubSpot has no API
/// for it), Zoho's second user through `PUT /users/{id}` (`status` `inactive`). Answers the
/// user's id as an `owner_id` input names it.
async fn deactivate_second_user(app: &TestApp, provider: &str, t: &Value) -> String {
    let token = &t["access_token"];
    match provider {
        "salesforce" => {
            let users = soql(app, t, "SELECT Id, Email FROM User").await;
            let sales = users
                .iter()
                .find(|u| u["Email"].as_str().unwrap().starts_with("sales@"))
                .expect("the emulator's second user")["Id"]
                .as_str()
                .unwrap()
                .to_owned();
            let url = format!(
                "{}/services/data/v62.0/sobjects/User/{sales}",
                t["instance_url"].as_str().unwrap()
            );
            let resp = app
                .http
                .patch(url)
                .bearer_auth(token.as_str().unwrap())
                .json(&json!({"IsActive": false}))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 204, "{}", resp.text().await.unwrap());
            sales
        }
        "hubspot" => {
            let url = format!("{}/crm/v3/owners", app.url("/sandbox/hubspot"));
            let owners = vendor(app, token, reqwest::Method::GET, &url, None).await;
            let id = owners["results"][1]["id"].as_str().unwrap().to_owned();
            sandbox(app, provider, &format!("owners/{id}/archive"), json!({})).await;
            id
        }
        _ => {
            let api = format!("{}/crm/v8", t["api_domain"].as_str().unwrap());
            let users = vendor(
                app,
                token,
                reqwest::Method::GET,
                &format!("{api}/users"),
                None,
            )
            .await;
            let id = users["users"][1]["id"].as_str().unwrap().to_owned();
            vendor(
                app,
                token,
                reqwest::Method::PUT,
                &format!("{api}/users/{id}"),
                Some(json!({"users": [{"status": "inactive"}]})),
            )
            .await;
            id
        }
    }
}

/// The create path of each CRM's accounts.
fn account_path(provider: &str) -> &'static str {
    match provider {
        "salesforce" => "/sobjects/Account",
        "hubspot" => "/crm/v3/objects/companies",
        _ => "/Accounts",
    }
}

fn deal_inputs(provider: &str) -> Value {
    let stage = match provider {
        "salesforce" => "Prospecting",
        "hubspot" => "appointmentscheduled",
        _ => "Qualification",
    };
    json!({"name": "Renewal 2027", "stage": stage, "closing_date": "2027/03/31",
           "amount": "1,500,000"})
}

/// The custom object or module each CRM's emulator has, and a record for it.
fn custom_record(provider: &str) -> Option<Value> {
    match provider {
        "salesforce" => Some(json!({"object": "Project__c",
            "fields": {"Name": "Rollout", "Status__c": "Active", "Budget__c": "2000",
                       "Due_Date__c": "2027-01-31"}})),
        "zoho_crm" => Some(json!({"object": "Meeting_Rooms",
            "fields": {"Name": "会議室 B", "Room_Code": "B-2", "Capacity": "8"}})),
        _ => None,
    }
}

#[tokio::test]
async fn every_action_succeeds_on_each_crm() {
    let app = TestApp::start_sandboxed(quiet_scheduler).await;
    app.put_tenant("acme").await;
    for provider in ["salesforce", "hubspot", "zoho_crm"] {
        connect_minted(&app, "acme", provider).await;
        let with = |inputs: Value| json!({"provider": provider, "inputs": inputs});

        // A lead from templates over the context.
        let lead = act(
            &app,
            "add_lead",
            json!({"provider": provider,
                   "inputs": {"name": "{{ visitor.name }}", "company": "{{ visitor.company }}",
                              "email": "{{ visitor.email | lower }}", "phone": "03-1111-2222"},
                   "context": {"visitor": {"name": "山田 太郎", "company": "株式会社山田",
                                           "email": "Taro@Yamada.example"}}}),
        )
        .await;
        assert_eq!(outcome(&lead), "success", "{provider}: {lead}");
        assert!(lead["outputs"]["id"].is_string(), "{provider}: {lead}");

        let company = act(&app, "add_company", with(json!({"name": "Acme Trading"}))).await;
        assert_eq!(outcome(&company), "success", "{provider}: {company}");
        let contact = act(
            &app,
            "add_contact",
            with(json!({"last_name": "Suzuki", "first_name": "Hanako",
                        "email": "hanako@acme.example", "phone": "03-3333-4444",
                        "company": "Acme Trading"})),
        )
        .await;
        assert_eq!(outcome(&contact), "success", "{provider}: {contact}");
        let contact_id = contact["outputs"]["id"].as_str().unwrap().to_owned();
        if provider != "hubspot" {
            // The contact went to the existing account, not a new one.
            assert_eq!(
                contact["outputs"]["account_id"], company["outputs"]["id"],
                "{provider}: {contact}"
            );
        }

        let mut deal = deal_inputs(provider);
        deal["contact_id"] = json!(contact_id);
        let deal = act(&app, "add_deal", with(deal)).await;
        assert_eq!(outcome(&deal), "success", "{provider}: {deal}");
        // Linked to the contact: a Zoho lookup, a Salesforce contact role, a HubSpot
        // association.
        if provider != "zoho_crm" {
            assert_eq!(deal["outputs"]["contact_id"], contact_id.as_str(), "{deal}");
        }
        let deal_id = deal["outputs"]["id"].as_str().unwrap().to_owned();

        // Found in any notation, by phone or email.
        let found = act(
            &app,
            "find_person",
            with(json!({"phone": "+81 3-3333-4444"})),
        )
        .await;
        assert_eq!(
            (
                outcome(&found),
                &found["outputs"]["found"],
                &found["outputs"]["id"]
            ),
            ("success", &json!(true), &json!(contact_id)),
            "{provider}: {found}"
        );
        let none = act(
            &app,
            "find_person",
            with(json!({"email": "nobody@x.example"})),
        )
        .await;
        assert_eq!(none["outputs"]["found"], false, "{provider}: {none}");

        // Upsert: the existing person updated, then a new one created.
        let up = act(
            &app,
            "upsert_person",
            with(json!({"email": "hanako@acme.example", "description": "VIP"})),
        )
        .await;
        assert_eq!(
            (
                outcome(&up),
                &up["outputs"]["created"],
                &up["outputs"]["id"]
            ),
            ("success", &json!(false), &json!(contact_id)),
            "{provider}: {up}"
        );
        let new = act(
            &app,
            "upsert_person",
            with(json!({"email": "new@acme.example", "name": "Ito Ken",
                        "company": "Acme Trading"})),
        )
        .await;
        assert_eq!(
            (outcome(&new), &new["outputs"]["created"]),
            ("success", &json!(true)),
            "{provider}: {new}"
        );

        for (target, id) in [("person_id", &contact_id), ("deal_id", &deal_id)] {
            let note = act(
                &app,
                "add_note",
                with(json!({"title": "Chat", "body": "Asked about pricing", target: id})),
            )
            .await;
            assert_eq!(outcome(&note), "success", "{provider} {target}: {note}");
        }

        if let Some(inputs) = custom_record(provider) {
            let rec = act(&app, "add_record", with(inputs)).await;
            assert_eq!(outcome(&rec), "success", "{provider}: {rec}");
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn outcomes_come_from_the_crms_own_errors() {
    let app = TestApp::start_sandboxed(quiet_scheduler).await;
    app.put_tenant("acme").await;
    sandbox(
        &app,
        "salesforce",
        "settings",
        json!({"duplicate_rule": true}),
    )
    .await;
    for provider in ["salesforce", "hubspot", "zoho_crm"] {
        let tokens = connect_minted(&app, "acme", provider).await;
        let with = |inputs: Value| json!({"provider": provider, "inputs": inputs});
        let person = json!({"last_name": "Dup", "email": "dup@example.co.jp",
                            "company": "Dup KK"});
        let first = act(&app, "add_contact", with(person.clone())).await;
        assert_eq!(outcome(&first), "success", "{provider}: {first}");
        // Salesforce DUPLICATES_DETECTED, HubSpot 409 CONFLICT, Zoho DUPLICATE_DATA.
        let again = act(&app, "add_contact", with(person)).await;
        assert_eq!(outcome(&again), "duplicate", "{provider}: {again}");
        assert_eq!(
            again["outputs"]["id"], first["outputs"]["id"],
            "{provider}: {again}"
        );

        // An owner the CRM does not have.
        let owner = match provider {
            "salesforce" => "005000000000000AAA",
            "hubspot" => "999999",
            _ => "5725767000000999999",
        };
        let b = act(
            &app,
            "add_lead",
            with(json!({"last_name": "Owned", "company": "Owner KK", "owner_id": owner})),
        )
        .await;
        assert_eq!(outcome(&b), "invalid_assignee", "{provider}: {b}");

        // A bad picklist value, refused before anything is sent.
        let mut deal = deal_inputs(provider);
        deal["stage"] = json!("Nowhere");
        let b = act(&app, "add_deal", with(deal)).await;
        assert_eq!(
            (outcome(&b), &b["details"]["field"]),
            ("invalid_input", &json!("stage")),
            "{provider}: {b}"
        );
        // An unknown field by name.
        let b = act(
            &app,
            "add_company",
            with(json!({"name": "X", "fields": {"No_Such_Field": 1}})),
        )
        .await;
        assert_eq!(
            (outcome(&b), &b["details"]["field"]),
            ("invalid_input", &json!("No_Such_Field")),
            "{provider}: {b}"
        );
        // An email that is not one.
        let b = act(
            &app,
            "find_person",
            with(json!({"email": "not-an-address"})),
        )
        .await;
        assert_eq!(
            (outcome(&b), &b["details"]["field"]),
            ("invalid_input", &json!("email")),
            "{provider}: {b}"
        );

        // An owner the CRM has but deactivated: Salesforce INACTIVE_OWNER_OR_USER, HubSpot's
        // archived owner as an unknown one (INVALID_OWNER_ID), Zoho INVALID_DATA on Owner.
        // Last in the provider's turn, so that no other check meets the deactivated user.
        let inactive = deactivate_second_user(&app, provider, &tokens).await;
        let b = act(
            &app,
            "add_lead",
            with(json!({"last_name": "Owned", "company": "Owner KK", "owner_id": inactive})),
        )
        .await;
        assert_eq!(outcome(&b), "invalid_assignee", "{provider}: {b}");
        if provider == "salesforce" {
            assert_eq!(b["details"]["code"], "INACTIVE_OWNER_OR_USER", "{b}");
        }
    }
    // A mandatory field the CRM itself asks for: Salesforce's Lead needs Company
    // (REQUIRED_FIELD_MISSING), Zoho's Deal its Stage (MANDATORY_NOT_FOUND).
    let b = act(
        &app,
        "add_lead",
        json!({"provider": "salesforce", "inputs": {"last_name": "NoCompany"}}),
    )
    .await;
    assert_eq!(
        (outcome(&b), &b["details"]["field"]),
        ("invalid_input", &json!("Company")),
        "{b}"
    );
    let b = act(
        &app,
        "add_deal",
        json!({"provider": "zoho_crm", "inputs": {"name": "No stage"}}),
    )
    .await;
    assert_eq!(
        (outcome(&b), &b["details"]["field"]),
        ("invalid_input", &json!("Stage")),
        "{b}"
    );
    // add_record checks required fields against the metadata first.
    let b = act(
        &app,
        "add_record",
        json!({"provider": "salesforce",
               "inputs": {"object": "Project__c", "fields": {"Budget__c": 5}}}),
    )
    .await;
    assert_eq!(
        (outcome(&b), &b["details"]["field"]),
        ("invalid_input", &json!("Name")),
        "{b}"
    );

    // Disconnected: integration_disabled.
    let (s, _) = app
        .send("DELETE", "/v1/tenants/acme/connections/hubspot", None)
        .await;
    assert!(s == 200 || s == 204, "{s}");
    let b = act(
        &app,
        "add_company",
        json!({"provider": "hubspot", "inputs": {"name": "Gone"}}),
    )
    .await;
    assert_eq!(outcome(&b), "integration_disabled", "{b}");
    app.stop().await;
}

#[tokio::test]
async fn slow_and_rate_limited_crms_answer_failure_within_the_deadline() {
    let app = TestApp::start_sandboxed(|c| {
        quiet_scheduler(c);
        c.connections.action_deadline_ms = 1500;
    })
    .await;
    app.put_tenant("acme").await;
    for provider in ["salesforce", "hubspot", "zoho_crm"] {
        let t = connect_minted(&app, "acme", provider).await;
        let path = fault_path(&app, provider, &t, account_path(provider));
        // In this order: Salesforce's rate limit holds its budget afterwards.
        for (fault, code) in [
            (
                json!({"kind": "slow", "delay_ms": 4000}),
                "deadline_exceeded",
            ),
            (
                json!({"kind": "server_error", "status": 503}),
                "provider_unavailable",
            ),
            (
                json!({"kind": "rate_limit", "retry_after_seconds": 30}),
                "provider_rate_limited",
            ),
        ] {
            let mut fault = fault;
            fault["count"] = json!(1);
            fault["path_prefix"] = json!(path);
            fault["method"] = json!("POST");
            sandbox(&app, provider, "faults", fault).await;
            let started = std::time::Instant::now();
            let b = act(
                &app,
                "add_company",
                json!({"provider": provider, "inputs": {"name": "Fault KK"}}),
            )
            .await;
            assert!(
                started.elapsed().as_millis() < 3500,
                "{provider} {code}: answered late"
            );
            assert_eq!(
                (outcome(&b), &b["details"]["code"]),
                ("failure", &json!(code)),
                "{provider}: {b}"
            );
            // Salesforce's REQUEST_LIMIT_EXCEEDED says nothing of when to come back (renkei
            // then holds the org's budget until its window ends); HubSpot and Zoho give
            // Retry-After, which the answer passes on.
            if code == "provider_rate_limited" && provider != "salesforce" {
                assert_eq!(b["details"]["retry_after_seconds"], 30, "{provider}: {b}");
            }
        }
        let (s, _) = app
            .http
            .delete(app.url(&format!("/sandbox/{}/_control/faults", emulator(provider))))
            .send()
            .await
            .map(|r| (r.status(), ()))
            .unwrap();
        assert!(s.is_success());
    }
    app.stop().await;
}

#[tokio::test]
async fn ten_identical_requests_write_one_record() {
    let app = TestApp::start_sandboxed(quiet_scheduler).await;
    app.put_tenant("acme").await;
    let t = connect_minted(&app, "acme", "zoho_crm").await;
    let body = json!({"inputs": {"name": "Once Only KK"}, "idempotency_key": "form-42"});
    let answers =
        futures_util::future::join_all((0..10).map(|_| act(&app, "add_company", body.clone())))
            .await;
    for a in &answers {
        assert_eq!(outcome(a), "success", "{a}");
        assert_eq!(a["outputs"], answers[0]["outputs"], "{a}");
    }
    // The emulator holds one such account; its create was asked once.
    let log: Value = app
        .http
        .get(app.url("/sandbox/zoho/_control/requests?method=POST&limit=1000"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let creates = log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .unwrap_or_default()
                .ends_with("/Accounts")
        })
        .count();
    assert_eq!(creates, 1, "{log}");
    let _ = t;
    // Later: the same answer, replayed.
    let again = act(&app, "add_company", body.clone()).await;
    assert_eq!(again["outputs"], answers[0]["outputs"]);
    // The key with another request is refused.
    let (s, b) = app
        .send(
            "POST",
            "/v1/tenants/acme/actions/add_company",
            Some(json!({"inputs": {"name": "Other KK"}, "idempotency_key": "form-42"})),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (422, Some("idempotency_key_reused")),
        "{b}"
    );
    app.stop().await;
}

#[tokio::test]
async fn requests_renkei_cannot_run_are_4xx() {
    let app = TestApp::start_sandboxed(quiet_scheduler).await;
    app.put_tenant("acme").await;
    // No CRM connected is an outcome, not an error.
    let b = act(&app, "add_lead", json!({"inputs": {"last_name": "X"}})).await;
    assert_eq!(outcome(&b), "integration_disabled", "{b}");
    connect_minted(&app, "acme", "salesforce").await;
    connect_minted(&app, "acme", "hubspot").await;
    for (action, body, status, code) in [
        ("add_thing", json!({}), 404, "unknown_action"),
        (
            "add_lead",
            json!({"inputs": {"last_name": "X"}}),
            400,
            "provider_required",
        ),
        (
            "add_lead",
            json!({"provider": "pipedrive", "inputs": {}}),
            400,
            "unknown_provider",
        ),
        (
            "add_lead",
            json!({"provider": "salesforce", "inputs": {"last_name": "{{ oops( }}"}}),
            400,
            "invalid_template",
        ),
        (
            "add_lead",
            json!({"provider": "salesforce", "inputz": {}}),
            422,
            "invalid_field",
        ),
        (
            "add_lead",
            json!({"provider": "salesforce", "idempotency_key": ""}),
            400,
            "invalid_idempotency_key",
        ),
    ] {
        let (s, b) = app
            .send(
                "POST",
                &format!("/v1/tenants/acme/actions/{action}"),
                Some(body),
            )
            .await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (status, Some(code)),
            "{b}"
        );
    }
    // An input the action does not take is named.
    let b = act(
        &app,
        "add_company",
        json!({"provider": "salesforce", "inputs": {"name": "X", "nmae": "Y"}}),
    )
    .await;
    assert_eq!(
        (outcome(&b), &b["details"]["field"]),
        ("invalid_input", &json!("nmae")),
        "{b}"
    );
    app.stop().await;
}
