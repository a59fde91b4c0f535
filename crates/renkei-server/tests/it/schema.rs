//! Schema discovery against the emulators: each CRM's objects and its standard objects' fields
//! in renkei's one vocabulary (snapshots), the per-connection cache and its refresh, and the
//! errors of an unknown object, a missing connection and a bad parameter.

use serde_json::{Value, json};

use crate::people::{connect_minted, emulator, quiet_scheduler};
use crate::support::TestApp;

/// How many requests the emulator logged whose path contains `needle`.
async fn logged(app: &TestApp, provider: &str, needle: &str) -> usize {
    let log: Value = app
        .http
        .get(app.url(&format!(
            "/sandbox/{}/_control/requests?limit=1000",
            emulator(provider)
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            let path = r["path"].as_str().unwrap_or_default();
            let query = r["query"].as_str().unwrap_or_default();
            format!("{path}?{query}").contains(needle)
        })
        .count()
}

/// The standard objects each CRM must list, and the calls that describe an object.
fn expectations(provider: &str) -> (&'static [&'static str], &'static str, &'static str) {
    match provider {
        "salesforce" => (
            &["Lead", "Contact", "Account", "Opportunity", "Task", "Event"],
            "/sobjects/Lead/describe",
            "Lead",
        ),
        "hubspot" => (
            &["contacts", "companies", "deals", "tickets", "notes"],
            "/crm/v3/properties/contacts",
            "contacts",
        ),
        _ => (
            &["Leads", "Contacts", "Accounts", "Deals", "Notes"],
            "module=Leads",
            "Leads",
        ),
    }
}

/// The standard objects whose fields are pinned by snapshot.
fn snapshot_objects(provider: &str) -> &'static [&'static str] {
    match provider {
        "salesforce" => &["Lead", "Contact", "Account", "Opportunity"],
        "hubspot" => &["contacts", "companies", "deals"],
        _ => &["Leads", "Contacts", "Accounts", "Deals"],
    }
}

#[tokio::test]
async fn objects_and_fields_of_each_crm_are_cached_and_refreshed() {
    let app = TestApp::start_sandboxed(quiet_scheduler).await;
    app.put_tenant("acme").await;
    for provider in ["salesforce", "hubspot", "zoho_crm"] {
        connect_minted(&app, "acme", provider).await;
        let base = format!("/v1/tenants/acme/connections/{provider}/objects");
        let (standard, describe_call, object) = expectations(provider);

        let (s, objects) = app.send("GET", &base, None).await;
        assert_eq!(s, 200, "{objects}");
        assert_eq!(objects["cached"], false, "{objects}");
        let names: Vec<&str> = objects["objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["name"].as_str().unwrap())
            .collect();
        for want in standard {
            assert!(
                names.contains(want),
                "{provider}: {want} missing from {names:?}"
            );
        }
        // Standard objects are not custom. Zoho's emulated org has one custom module and
        // Salesforce's one custom object, each made as an admin would make it; HubSpot's none.
        let custom: Vec<&str> = objects["objects"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["custom"] == true)
            .map(|o| o["name"].as_str().unwrap())
            .collect();
        let want_custom: &[&str] = match provider {
            "zoho_crm" => &["Meeting_Rooms"],
            "salesforce" => &["Project__c"],
            _ => &[],
        };
        assert_eq!(custom, want_custom, "{provider}");
        let (_, again) = app.send("GET", &base, None).await;
        assert_eq!(
            (&again["cached"], &again["fetched_at"]),
            (&json!(true), &objects["fetched_at"]),
            "{provider}: {again}"
        );

        // Fields: asked once, then served from the cache until refreshed.
        let path = format!("{base}/{object}/fields");
        let (s, fields) = app.send("GET", &path, None).await;
        assert_eq!(s, 200, "{fields}");
        assert_eq!(fields["cached"], false);
        let (_, cached) = app.send("GET", &path, None).await;
        assert_eq!(cached["cached"], true);
        assert_eq!(cached["fields"], fields["fields"]);
        assert_eq!(logged(&app, provider, describe_call).await, 1, "{provider}");
        let (s, fresh) = app.send("GET", &format!("{path}?refresh=true"), None).await;
        assert_eq!((s, &fresh["cached"]), (200, &json!(false)), "{fresh}");
        assert_eq!(logged(&app, provider, describe_call).await, 2, "{provider}");

        for object in snapshot_objects(provider) {
            let (s, fields) = app
                .send("GET", &format!("{base}/{object}/fields"), None)
                .await;
            assert_eq!(s, 200, "{provider} {object}: {fields}");
            insta::assert_json_snapshot!(format!("fields_{provider}_{object}"), fields["fields"]);
        }
    }
    app.stop().await;
}

/// What a settings screen relies on, checked by value rather than by snapshot: required
/// fields, read-only ones, picklist options and lookup targets.
#[tokio::test]
async fn field_metadata_carries_types_flags_options_and_lookups() {
    let app = TestApp::start_sandboxed(quiet_scheduler).await;
    app.put_tenant("acme").await;
    let field = async |provider: &str, object: &str, name: &str| -> Value {
        let (s, body) = app
            .send(
                "GET",
                &format!("/v1/tenants/acme/connections/{provider}/objects/{object}/fields"),
                None,
            )
            .await;
        assert_eq!(s, 200, "{body}");
        body["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("{provider} {object} has no {name}: {body}"))
            .clone()
    };
    for p in ["salesforce", "hubspot", "zoho_crm"] {
        connect_minted(&app, "acme", p).await;
    }

    let last = field("salesforce", "Lead", "LastName").await;
    assert_eq!(
        (&last["type"], &last["required"]),
        (&json!("text"), &json!(true))
    );
    let status = field("salesforce", "Lead", "Status").await;
    assert_eq!(status["type"], "picklist");
    assert!(
        !status["options"].as_array().unwrap().is_empty(),
        "{status}"
    );
    let account = field("salesforce", "Contact", "AccountId").await;
    assert_eq!(
        (&account["type"], &account["references"]),
        (&json!("reference"), &json!(["Account"]))
    );
    let id = field("salesforce", "Lead", "Id").await;
    assert_eq!(id["read_only"], true, "{id}");

    let owner = field("hubspot", "contacts", "hubspot_owner_id").await;
    assert_eq!(
        (&owner["type"], &owner["references"]),
        (&json!("reference"), &json!(["owners"]))
    );
    let stage = field("hubspot", "deals", "dealstage").await;
    assert_eq!(stage["provider_type"], "enumeration/radio", "{stage}");

    let last = field("zoho_crm", "Leads", "Last_Name").await;
    assert_eq!(last["required"], true, "{last}");
    let account = field("zoho_crm", "Contacts", "Account_Name").await;
    assert_eq!(
        (&account["type"], &account["references"]),
        (&json!("reference"), &json!(["Accounts"]))
    );
    let owner = field("zoho_crm", "Leads", "Owner").await;
    assert_eq!(owner["references"], json!(["users"]), "{owner}");
    app.stop().await;
}

#[tokio::test]
async fn unknown_objects_missing_connections_and_bad_parameters_are_named() {
    let app = TestApp::start_sandboxed(quiet_scheduler).await;
    app.put_tenant("acme").await;
    let (s, body) = app
        .send("GET", "/v1/tenants/acme/connections/hubspot/objects", None)
        .await;
    assert_eq!(
        (s, &body["error"]["code"]),
        (404, &json!("not_connected")),
        "{body}"
    );
    let (s, body) = app
        .send(
            "GET",
            "/v1/tenants/acme/connections/pipedrive/objects",
            None,
        )
        .await;
    assert_eq!(s, 404, "{body}");

    for (provider, object) in [
        ("salesforce", "Nothing__c"),
        ("hubspot", "p123_nothings"),
        ("zoho_crm", "Nothings"),
    ] {
        connect_minted(&app, "acme", provider).await;
        let path = format!("/v1/tenants/acme/connections/{provider}/objects/{object}/fields");
        let (s, body) = app.send("GET", &path, None).await;
        assert_eq!(
            (s, &body["error"]["code"]),
            (404, &json!("object_not_found")),
            "{provider}: {body}"
        );
        // A miss is not cached: the object is found once the admin creates it.
        let (s, _) = app.send("GET", &path, None).await;
        assert_eq!(s, 404);
    }
    let (s, body) = app
        .send(
            "GET",
            "/v1/tenants/acme/connections/hubspot/objects?refresh=yes",
            None,
        )
        .await;
    assert_eq!(
        (s, &body["error"]["code"]),
        (400, &json!("invalid_refresh")),
        "{body}"
    );
    let (s, body) = app
        .send(
            "GET",
            "/v1/tenants/acme/connections/hubspot/objects?fresh=true",
            None,
        )
        .await;
    assert_eq!(s, 400, "{body}");
    app.stop().await;
}
