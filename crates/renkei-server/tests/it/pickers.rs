//! Record pickers against the emulators: an account found by part of its name, the contacts of
//! one account (PRODUCT.md 4.1: room guests are the deal's company's contacts), a deal with its
//! stage, the limit, and the errors of a bad parameter, a relation the object cannot have, an
//! unknown object and a missing connection.

use reqwest::Method;
use serde_json::{Value, json};

use crate::people::{connect_minted, quiet_scheduler};
use crate::support::TestApp;
use crate::writeback::vendor;

/// The records an emulator was given: the picked account's id, the other account's.
struct Seeded {
    account: String,
    other_account: String,
}

/// The object names of one CRM: account, contact, deal.
fn objects(provider: &str) -> (&'static str, &'static str, &'static str) {
    match provider {
        "salesforce" => ("Account", "Contact", "Opportunity"),
        "hubspot" => ("companies", "contacts", "deals"),
        _ => ("Accounts", "Contacts", "Deals"),
    }
}

/// Two accounts; 山田 太郎 and Taro Suzuki work at the first, Hanako Sato at the other; one deal
/// at the first.
async fn seed(app: &TestApp, provider: &str, t: &Value) -> Seeded {
    let token = &t["access_token"];
    let people = [
        ("山田", "太郎", 0),
        ("Suzuki", "Taro", 0),
        ("Sato", "Hanako", 1),
    ];
    match provider {
        "salesforce" => {
            let base = format!(
                "{}/services/data/v62.0/sobjects",
                t["instance_url"].as_str().unwrap()
            );
            let mut accounts = Vec::new();
            for name in ["Picker Works 株式会社", "Other Holdings"] {
                let a = vendor(
                    app,
                    token,
                    Method::POST,
                    &format!("{base}/Account"),
                    Some(json!({"Name": name})),
                )
                .await;
                accounts.push(a["id"].as_str().unwrap().to_owned());
            }
            for (last, first, at) in people {
                vendor(
                    app,
                    token,
                    Method::POST,
                    &format!("{base}/Contact"),
                    Some(json!({"LastName": last, "FirstName": first,
                                "AccountId": accounts[at]})),
                )
                .await;
            }
            vendor(
                app,
                token,
                Method::POST,
                &format!("{base}/Opportunity"),
                Some(json!({"Name": "Picker renewal", "StageName": "Prospecting",
                            "CloseDate": "2026-12-31", "AccountId": accounts[0]})),
            )
            .await;
            Seeded {
                account: accounts[0].clone(),
                other_account: accounts[1].clone(),
            }
        }
        "hubspot" => {
            let base = app.url("/sandbox/hubspot");
            let mut accounts = Vec::new();
            for name in ["Picker Works 株式会社", "Other Holdings"] {
                let c = vendor(
                    app,
                    token,
                    Method::POST,
                    &format!("{base}/crm/v3/objects/companies"),
                    Some(json!({"properties": {"name": name}})),
                )
                .await;
                accounts.push(c["id"].as_str().unwrap().to_owned());
            }
            for (last, first, at) in people {
                let c = vendor(
                    app,
                    token,
                    Method::POST,
                    &format!("{base}/crm/v3/objects/contacts"),
                    Some(json!({"properties": {"lastname": last, "firstname": first}})),
                )
                .await;
                vendor(
                    app,
                    token,
                    Method::PUT,
                    &format!(
                        "{base}/crm/v4/objects/contacts/{}/associations/default/companies/{}",
                        c["id"].as_str().unwrap(),
                        accounts[at]
                    ),
                    None,
                )
                .await;
            }
            vendor(
                app,
                token,
                Method::POST,
                &format!("{base}/crm/v3/objects/deals"),
                Some(json!({"properties": {"dealname": "Picker renewal",
                                           "dealstage": "appointmentscheduled"}})),
            )
            .await;
            Seeded {
                account: accounts[0].clone(),
                other_account: accounts[1].clone(),
            }
        }
        _ => {
            let base = format!("{}/crm/v8", t["api_domain"].as_str().unwrap());
            let id = |v: Value| v["data"][0]["details"]["id"].as_str().unwrap().to_owned();
            let mut accounts = Vec::new();
            for name in ["Picker Works 株式会社", "Other Holdings"] {
                let a = vendor(
                    app,
                    token,
                    Method::POST,
                    &format!("{base}/Accounts"),
                    Some(json!({"data": [{"Account_Name": name}]})),
                )
                .await;
                accounts.push(id(a));
            }
            for (last, first, at) in people {
                vendor(
                    app,
                    token,
                    Method::POST,
                    &format!("{base}/Contacts"),
                    Some(json!({"data": [{"Last_Name": last, "First_Name": first,
                                          "Account_Name": {"id": accounts[at]}}]})),
                )
                .await;
            }
            vendor(
                app,
                token,
                Method::POST,
                &format!("{base}/Deals"),
                Some(
                    json!({"data": [{"Deal_Name": "Picker renewal", "Stage": "Qualification",
                                      "Closing_Date": "2026-12-31",
                                      "Account_Name": {"id": accounts[0]}}]}),
                ),
            )
            .await;
            Seeded {
                account: accounts[0].clone(),
                other_account: accounts[1].clone(),
            }
        }
    }
}

fn names(body: &Value) -> Vec<String> {
    let mut n: Vec<String> = body["records"]
        .as_array()
        .unwrap_or_else(|| panic!("no records in {body}"))
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    n.sort();
    n
}

#[tokio::test]
async fn pickers_find_accounts_deals_and_an_accounts_contacts() {
    let app = TestApp::start_sandboxed(quiet_scheduler).await;
    app.put_tenant("acme").await;
    for provider in ["salesforce", "hubspot", "zoho_crm"] {
        let t = connect_minted(&app, "acme", provider).await;
        let seeded = seed(&app, provider, &t).await;
        let (account, contact, deal) = objects(provider);
        let base = format!("/v1/tenants/acme/connections/{provider}/objects");

        // An account by part of its name: one hit, with its id.
        let (s, b) = app
            .send("GET", &format!("{base}/{account}/records?q=Picker"), None)
            .await;
        assert_eq!(s, 200, "{provider}: {b}");
        assert_eq!(names(&b), ["Picker Works 株式会社"], "{provider}: {b}");
        assert_eq!(b["records"][0]["id"], seeded.account.as_str(), "{provider}");

        // The contacts of each account, and only theirs; names in renkei's order.
        let rel = |id: &str| format!("{base}/{contact}/records?related_to={account}:{id}");
        let (s, b) = app.send("GET", &rel(&seeded.account), None).await;
        assert_eq!(s, 200, "{provider}: {b}");
        assert_eq!(names(&b), ["Taro Suzuki", "山田 太郎"], "{provider}: {b}");
        let (_, b) = app.send("GET", &rel(&seeded.other_account), None).await;
        assert_eq!(names(&b), ["Hanako Sato"], "{provider}: {b}");
        // Text and relation together.
        let (s, b) = app
            .send(
                "GET",
                &format!("{}&q={}", rel(&seeded.account), "%E5%B1%B1%E7%94%B0"),
                None,
            )
            .await;
        assert_eq!(s, 200, "{provider}: {b}");
        assert_eq!(names(&b), ["山田 太郎"], "{provider}: {b}");
        // The limit holds.
        let (_, b) = app
            .send("GET", &format!("{}&limit=1", rel(&seeded.account)), None)
            .await;
        assert_eq!(b["records"].as_array().unwrap().len(), 1, "{provider}: {b}");

        // A deal, with its stage beside the name.
        let (s, b) = app
            .send("GET", &format!("{base}/{deal}/records?q=renewal"), None)
            .await;
        assert_eq!(s, 200, "{provider}: {b}");
        assert_eq!(names(&b), ["Picker renewal"], "{provider}: {b}");
        let stage = ["StageName", "dealstage", "Stage"]
            .iter()
            .find_map(|f| b["records"][0]["fields"][f].as_str());
        assert!(stage.is_some(), "{provider}: no stage in {b}");

        // No text, no relation: records are listed.
        let (s, b) = app
            .send("GET", &format!("{base}/{account}/records?limit=200"), None)
            .await;
        assert_eq!(s, 200, "{provider}: {b}");
        let all = names(&b);
        assert!(
            all.contains(&"Other Holdings".to_owned()),
            "{provider}: {all:?}"
        );
    }

    // A Zoho custom module is picked like any other: by its `Name`.
    let t = connect_minted(&app, "acme", "zoho_crm").await;
    vendor(
        &app,
        &t["access_token"],
        Method::POST,
        &format!("{}/crm/v8/Meeting_Rooms", t["api_domain"].as_str().unwrap()),
        Some(json!({"data": [{"Name": "会議室 A", "Room_Code": "A-1"}]})),
    )
    .await;
    let (s, b) = app
        .send(
            "GET",
            "/v1/tenants/acme/connections/zoho_crm/objects/Meeting_Rooms/records?q=A-1",
            None,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(names(&b), ["会議室 A"], "{b}");
    app.stop().await;
}

#[tokio::test]
async fn picker_errors_are_named() {
    let app = TestApp::start_sandboxed(quiet_scheduler).await;
    app.put_tenant("acme").await;
    let (s, b) = app
        .send(
            "GET",
            "/v1/tenants/acme/connections/salesforce/objects/Account/records",
            None,
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (404, Some("not_connected")),
        "{b}"
    );
    connect_minted(&app, "acme", "salesforce").await;
    connect_minted(&app, "acme", "zoho_crm").await;
    let sf = "/v1/tenants/acme/connections/salesforce/objects";
    for (path, status, code) in [
        (
            format!("{sf}/Account/records?limit=0"),
            400,
            "invalid_limit",
        ),
        (
            format!("{sf}/Account/records?limit=201"),
            400,
            "invalid_limit",
        ),
        (
            format!("{sf}/Account/records?limit=ten"),
            400,
            "invalid_limit",
        ),
        (
            format!("{sf}/Contact/records?related_to=Account"),
            400,
            "invalid_related_to",
        ),
        // An Account points at no Opportunity: the relation cannot be searched.
        (
            format!("{sf}/Account/records?related_to=Opportunity:0065g00000ABCDEAAA"),
            400,
            "invalid_related_to",
        ),
        (
            format!("{sf}/Nonexistent__c/records"),
            404,
            "object_not_found",
        ),
        (
            "/v1/tenants/acme/connections/zoho_crm/objects/No_Such_Module/records".to_owned(),
            404,
            "object_not_found",
        ),
    ] {
        let (s, b) = app.send("GET", &path, None).await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (status, Some(code)),
            "{path}: {b}"
        );
    }
    let (s, b) = app
        .send("GET", &format!("{sf}/Account/records?sort=Name"), None)
        .await;
    assert_eq!(s, 400, "an unknown parameter: {b}");
    // A malformed related id reaches no CRM: it is named as the bad input.
    let (s, b) = app
        .send(
            "GET",
            &format!("{sf}/Contact/records?related_to=Account:not-an-id"),
            None,
        )
        .await;
    assert_eq!(s, 422, "{b}");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not-an-id"),
        "{b}"
    );
    app.stop().await;
}
