//! Recipe settings through `PUT …/connections/{provider}/settings` against the emulators: the
//! fields a recipe names are checked against the provider's live field metadata (PRODUCT.md
//! 4.1: text-type HubSpot properties only for the room URL; 4.5: string and number properties
//! only in booking mappings), refusals are 422 with the code and the field's path, a provider
//! failure saves nothing, and recipes a provider cannot run are refused.

use serde_json::{Value, json};

use crate::people::connect_minted;
use crate::support::TestApp;

const HUBSPOT: &str = "/v1/tenants/acme/connections/hubspot/settings";

fn quiet_scheduler(c: &mut renkei_server::Config) {
    c.sync.scheduler_interval_seconds = 3600;
}

/// `PUT` `body` to `path`; asserts the status, and the error's code and field when refused.
async fn put(app: &TestApp, path: &str, body: Value, want: Result<(), (&str, &str)>) -> Value {
    let (s, b) = app.send("PUT", path, Some(body.clone())).await;
    match want {
        Ok(()) => assert_eq!(s, 200, "{body}: {b}"),
        Err((code, field)) => assert_eq!(
            (
                s,
                b["error"]["code"].as_str(),
                b["error"]["details"]["field"].as_str()
            ),
            (422, Some(code), Some(field)),
            "{body}: {b}"
        ),
    }
    b
}

/// A property created the way a HubSpot admin's integration would, through the emulator's
/// properties API.
async fn create_property(app: &TestApp, token: &str, object: &str, def: Value) {
    let resp = app
        .http
        .post(app.url(&format!("/sandbox/hubspot/crm/v3/properties/{object}")))
        .bearer_auth(token)
        .json(&def)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
}

/// How many property-metadata requests the HubSpot emulator has answered.
async fn describe_calls(app: &TestApp) -> usize {
    let log: Value = app
        .http
        .get(
            app.url("/sandbox/hubspot/_control/requests?path_prefix=/crm/v3/properties&limit=1000"),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    log["requests"].as_array().map_or(0, Vec::len)
}

async fn sandbox_control(app: &TestApp, emulator: &str, what: &str, method: &str, body: Value) {
    let req = app.http.request(
        method.parse().unwrap(),
        app.url(&format!("/sandbox/{emulator}/_control/{what}")),
    );
    let req = if body.is_null() { req } else { req.json(&body) };
    let resp = req.send().await.unwrap();
    assert!(resp.status().is_success(), "{what}: {}", resp.status());
}

#[tokio::test]
async fn hubspot_recipe_fields_are_checked_against_property_metadata() {
    let app = TestApp::start_sandboxed(quiet_scheduler).await;
    app.put_tenant("acme").await;
    let tokens = connect_minted(&app, "acme", "hubspot").await;
    let token = tokens["access_token"].as_str().unwrap();
    create_property(
        &app,
        token,
        "deals",
        json!({"name": "renkei_room_url", "label": "Room URL", "type": "string",
            "fieldType": "text", "groupName": "dealinformation"}),
    )
    .await;
    create_property(
        &app,
        token,
        "companies",
        json!({"name": "renkei_partner", "label": "Partner", "type": "bool",
            "fieldType": "booleancheckbox", "groupName": "companyinformation",
            "options": [{"label": "Yes", "value": "true"}, {"label": "No", "value": "false"}]}),
    )
    .await;

    // The room URL: a number, a multi-line text, an unknown name are refused; a single-line
    // text property is stored.
    let room = |f: &str| json!({"deal_room": {"enabled": true, "url_field": f}});
    for (field, code) in [
        ("amount", "field_type_unsupported"),
        ("closedate", "field_type_unsupported"),
        ("description", "field_type_unsupported"),
        ("room_link", "field_unknown"),
        ("hs_object_id", "field_type_unsupported"),
    ] {
        put(
            &app,
            HUBSPOT,
            room(field),
            Err((code, "deal_room.url_field")),
        )
        .await;
    }
    let saved = put(&app, HUBSPOT, room("renkei_room_url"), Ok(())).await;
    assert_eq!(saved["deal_room"]["url_field"], "renkei_room_url");
    let (_, got) = app.send("GET", HUBSPOT, None).await;
    assert_eq!(got, saved, "the accepted document is what is stored");

    // Booking mappings: string and number properties only, writable, contact email required.
    let calendar =
        |m: Value| json!({"booking_capture": {"enabled": true, "calendars": {"cal-1": m}}});
    let saved = put(
        &app,
        HUBSPOT,
        calendar(json!({
            "company": {"name": "{{ guest.company }}", "domain": "{{ guest.email | email_domain }}",
                "numberofemployees": "{{ answers.employees }}", "phone": "{{ guest.phone | e164 }}"},
            "contact": {"email": "{{ guest.email }}", "lastname": "{{ guest.name }}",
                "mobilephone": "{{ guest.phone }}"},
        })),
        Ok(()),
    )
    .await;
    assert_eq!(
        saved["booking_capture"]["calendars"]["cal-1"]["company"]["numberofemployees"],
        "{{ answers.employees }}"
    );
    let refused = [
        (
            json!({"company": {"name": "x", "industry": "{{ answers.industry }}"}}),
            "field_type_unsupported",
            "booking_capture.calendars.cal-1.company.industry",
        ),
        (
            json!({"company": {"name": "x", "renkei_partner": "true"}}),
            "field_type_unsupported",
            "booking_capture.calendars.cal-1.company.renkei_partner",
        ),
        (
            json!({"company": {"name": "x", "hs_object_id": "1"}}),
            "field_read_only",
            "booking_capture.calendars.cal-1.company.hs_object_id",
        ),
        (
            json!({"contact": {"email": "{{ guest.email }}", "lifecyclestage": "lead"}}),
            "field_type_unsupported",
            "booking_capture.calendars.cal-1.contact.lifecyclestage",
        ),
        (
            json!({"contact": {"email": "{{ guest.email }}", "fax_number": "{{ answers.fax }}"}}),
            "field_unknown",
            "booking_capture.calendars.cal-1.contact.fax_number",
        ),
        (
            json!({"contact": {"firstname": "{{ guest.name }}"}}),
            "email_required",
            "booking_capture.calendars.cal-1.contact",
        ),
        (
            json!({"contact": {"email": "{{ guest.email | domain }}"}}),
            "template_invalid",
            "booking_capture.calendars.cal-1.contact.email",
        ),
    ];
    for (mapping, code, field) in refused {
        // Mappings merge key by key (a patch cannot take a property out of a mapping), so
        // each case maps a fresh calendar id.
        let body = json!({"booking_capture": {"calendars": {"cal-2": mapping}}});
        put(
            &app,
            HUBSPOT,
            body,
            Err((code, &field.replace("cal-1", "cal-2"))),
        )
        .await;
    }
    let (_, after) = app.send("GET", HUBSPOT, None).await;
    assert_eq!(after, saved, "nothing refused was stored");

    // A change elsewhere in the document does not ask HubSpot again.
    let before = describe_calls(&app).await;
    assert!(
        before >= 8,
        "every accepted or refused change above asked HubSpot: {before}"
    );
    put(
        &app,
        HUBSPOT,
        json!({"people": {"interval_seconds": 600}}),
        Ok(()),
    )
    .await;
    assert_eq!(describe_calls(&app).await, before);

    // HubSpot failing: the provider's error, never a 500, and nothing is saved.
    sandbox_control(
        &app,
        "hubspot",
        "faults",
        "POST",
        json!({"kind": "server_error", "fraction": 1.0, "path_prefix": "/crm/v3/properties", "status": 503}),
    )
    .await;
    let (s, e) = app.send("PUT", HUBSPOT, Some(room("dealname"))).await;
    assert!(s == 502 || s == 503, "{s} {e}");
    assert!(e["error"]["code"].is_string(), "{e}");
    sandbox_control(&app, "hubspot", "faults", "DELETE", Value::Null).await;
    let (_, got) = app.send("GET", HUBSPOT, None).await;
    assert_eq!(got["deal_room"]["url_field"], "renkei_room_url");
    put(&app, HUBSPOT, room("dealname"), Ok(())).await;
    app.stop().await;
}

#[tokio::test]
async fn recipes_a_provider_cannot_run_are_refused() {
    let app = TestApp::start_sandboxed(quiet_scheduler).await;
    app.put_tenant("acme").await;
    connect_minted(&app, "acme", "zoho_crm").await;
    connect_minted(&app, "acme", "salesforce").await;
    let zoho = "/v1/tenants/acme/connections/zoho_crm/settings";
    let sf = "/v1/tenants/acme/connections/salesforce/settings";
    put(
        &app,
        zoho,
        json!({"deal_room": {"enabled": true}}),
        Err(("recipe_unsupported", "deal_room.enabled")),
    )
    .await;
    put(
        &app,
        sf,
        json!({"booking_capture": {"enabled": true, "default": {"contact": {"email": "{{ guest.email }}"}}}}),
        Err(("recipe_unsupported", "booking_capture.enabled")),
    )
    .await;
    put(
        &app,
        sf,
        json!({"deal_room": {"enabled": true, "activities": {"chat.message_sent": "email"}}}),
        Err((
            "activity_unsupported",
            "deal_room.activities.chat.message_sent",
        )),
    )
    .await;
    put(
        &app,
        zoho,
        json!({"meeting_notes": {"enabled": true, "member_line": "担当: {{ member.name | default(member.id) }}"}}),
        Ok(()),
    )
    .await;
    // Salesforce's room URL goes to an Opportunity text or URL field.
    put(
        &app,
        sf,
        json!({"deal_room": {"enabled": true, "url_field": "Amount"}}),
        Err(("field_type_unsupported", "deal_room.url_field")),
    )
    .await;
    let saved = put(
        &app,
        sf,
        json!({"deal_room": {"enabled": true, "url_field": "Room_URL__c"}}),
        Ok(()),
    )
    .await;
    assert_eq!(saved["deal_room"]["url_field"], "Room_URL__c");
    app.stop().await;
}

/// `GET /v1/providers` publishes each provider's default document and points at the schema,
/// which describes every recipe section.
#[tokio::test]
async fn providers_publish_the_recipe_settings_and_their_schema() {
    let app = TestApp::start().await;
    let (s, view) = app.send("GET", "/v1/providers", None).await;
    assert_eq!(s, 200, "{view}");
    let (_, doc) = app.send("GET", "/openapi.json", None).await;
    let schemas = &doc["components"]["schemas"];
    for p in view["providers"].as_array().unwrap() {
        let pointer = p["settings_schema"].as_str().unwrap();
        let (file, pointer) = pointer.split_once('#').unwrap();
        assert_eq!(file, "/openapi.json");
        let schema = doc.pointer(pointer).unwrap_or_else(|| panic!("{pointer}"));
        let defaults = &p["default_settings"];
        for (section, component) in [
            ("people", "PeopleSettings"),
            ("call_logging", "CallLogging"),
            ("meeting_notes", "MeetingNotes"),
            ("deal_room", "DealRoom"),
            ("booking_capture", "BookingCapture"),
        ] {
            assert_eq!(
                schema["properties"][section]["$ref"],
                format!("#/components/schemas/{component}"),
                "{section}"
            );
            let component = &schemas[component];
            for key in defaults[section].as_object().unwrap().keys() {
                assert!(
                    component["properties"][key].is_object(),
                    "{section}.{key} is not in the schema"
                );
            }
            if section != "people" {
                assert_eq!(defaults[section]["enabled"], false, "{p}: {section} is off");
            }
        }
    }
    let by_name = |n: &str| {
        view["providers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == n)
            .unwrap()["default_settings"]
            .clone()
    };
    assert_eq!(by_name("hubspot")["meeting_notes"]["create_as"], "contact");
    assert_eq!(
        by_name("hubspot")["call_logging"]["objects"],
        json!(["contact"])
    );
    assert_eq!(
        by_name("salesforce")["deal_room"]["activities"],
        json!({"chat.message_sent": "task", "content.updated": "task", "task.completed": "task"})
    );
    assert_eq!(
        schemas["RoomActivity"]["enum"],
        json!(["task", "email", "meeting", "note", "none"])
    );
    app.stop().await;
}
