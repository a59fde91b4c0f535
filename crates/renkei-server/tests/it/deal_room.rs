//! The deal room end to end (PRODUCT.md 4.1, the Mazrica DSR seed): `room.linked` writing the
//! room URL to the deal field the admin picked, room activity written to HubSpot as the
//! member's own engagements (with the member's personal connection) and to Salesforce as
//! Tasks on the Opportunity, the member warning of the tenant health, and the skips. Every
//! check reads the emulators' records back with the connection's token.

use reqwest::Method;
use serde_json::{Value, json};

use crate::people::{connect_minted, quiet_scheduler, sandbox};
use crate::support::TestApp;
use crate::writeback::{delivery, post_events, put_settings, settled, soql, vendor};

const MEMBER_EMAIL: &str = "misaki.sato@renkei-demo.co.jp";

fn hs_base(app: &TestApp) -> String {
    app.url("/sandbox/hubspot")
}

/// Creates a deal in the HubSpot emulator; returns its id.
async fn hubspot_deal(app: &TestApp, token: &Value, name: &str) -> String {
    let deal = vendor(
        app,
        token,
        Method::POST,
        &format!("{}/crm/v3/objects/deals", hs_base(app)),
        Some(json!({"properties": {"dealname": name}})),
    )
    .await;
    deal["id"].as_str().unwrap().to_owned()
}

/// A deal property created the way a HubSpot admin would, through the properties API.
async fn deal_property(app: &TestApp, token: &Value, name: &str, ty: &str, field_type: &str) {
    vendor(
        app,
        token,
        Method::POST,
        &format!("{}/crm/v3/properties/deals", hs_base(app)),
        Some(
            json!({"name": name, "label": name, "type": ty, "fieldType": field_type,
                    "groupName": "dealinformation"}),
        ),
    )
    .await;
}

async fn put_member(app: &TestApp, id: &str, email: &str) {
    let (s, b) = app
        .send(
            "PUT",
            &format!("/v1/tenants/acme/members/{id}"),
            Some(json!({"email": email, "display_name": "佐藤 美咲"})),
        )
        .await;
    assert!(s == 200 || s == 201, "{b}");
}

/// Connects `member` personally to the tenant's HubSpot portal with emulator-minted tokens
/// (the same portal as the tenant's, as 4.1 requires). Returns the member's tokens.
async fn connect_member(app: &TestApp, member: &str) -> Value {
    let t = sandbox(app, "hubspot", "tokens", json!({})).await;
    let (s, b) = app
        .send(
            "PUT",
            &format!("/v1/tenants/acme/members/{member}/connections/hubspot"),
            Some(
                json!({"access_token": t["access_token"], "refresh_token": t["refresh_token"],
                        "expires_in": t["expires_in"]}),
            ),
        )
        .await;
    assert!(s == 200 || s == 201, "{s} {b}");
    assert_eq!(b["member"], member, "{b}");
    t
}

/// The id of the HubSpot owner with `email`.
async fn owner_id(app: &TestApp, token: &Value, email: &str) -> String {
    let owners = vendor(
        app,
        token,
        Method::GET,
        &format!("{}/crm/v3/owners/?email={email}", hs_base(app)),
        None,
    )
    .await;
    owners["results"][0]["id"].as_str().unwrap().to_owned()
}

/// The HubSpot emulator's logged requests with `method` under `prefix`.
async fn hubspot_requests(app: &TestApp, method: &str, prefix: &str) -> Vec<Value> {
    let log: Value = app
        .http
        .get(app.url(&format!(
            "/sandbox/hubspot/_control/requests?path_prefix={prefix}&method={method}&limit=1000"
        )))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    log["requests"].as_array().unwrap().clone()
}

fn linked(id: &str, room: &str, provider: &str, deal: &str) -> Value {
    json!({"id": id, "type": "room.linked", "occurred_at": "2026-11-21T09:00:00Z",
           "data": {"room_id": room, "room_url": format!("https://dsr.example/rooms/{room}"),
                    "provider": provider, "deal_id": deal}})
}

fn chat(id: &str, room: &str, member: Option<&str>, text: &str) -> Value {
    let mut e = json!({"id": id, "type": "chat.message_sent", "occurred_at": "2026-11-21T10:00:00Z",
           "data": {"room_id": room, "message_id": format!("msg-{id}"), "text": text,
                    "sent_at": "2026-11-21T09:59:30Z"}});
    if let Some(m) = member {
        e["member"] = json!(m);
    }
    e
}

fn task(id: &str, room: &str, member: &str) -> Value {
    json!({"id": id, "type": "task.completed", "occurred_at": "2026-11-21T11:00:00Z",
           "member": member,
           "data": {"room_id": room, "task_id": format!("task-{id}"), "title": "見積書を送付",
                    "completed_at": "2026-11-21T10:58:00Z"}})
}

fn content(id: &str, room: &str, member: &str) -> Value {
    json!({"id": id, "type": "content.updated", "occurred_at": "2026-11-21T12:00:00Z",
           "member": member,
           "data": {"room_id": room, "content_id": format!("c-{id}"), "title": "議事録",
                    "body": "次回は12月に訪問"}})
}

fn reason_code(d: &Value) -> &str {
    d["reason"]
        .as_str()
        .and_then(|r| r.split_once(':'))
        .map_or("", |(c, _)| c)
}

/// 4.1: the room URL goes to the text-type deal property the admin picked, once per
/// `room.linked`; re-posting the same event id writes nothing again.
#[tokio::test]
async fn hubspot_room_url_is_written_to_the_picked_deal_property_once() {
    let app = TestApp::start_sandboxed(quiet_scheduler).await;
    app.put_tenant("acme").await;
    let hs = connect_minted(&app, "acme", "hubspot").await;
    let token = &hs["access_token"];
    deal_property(&app, token, "renkei_room_url", "string", "text").await;
    put_settings(
        &app,
        "acme",
        "hubspot",
        json!({"people": {"enabled": false},
               "deal_room": {"enabled": true, "url_field": "renkei_room_url"}}),
    )
    .await;
    let deal = hubspot_deal(&app, token, "DSR 商談").await;
    let patches_before = hubspot_requests(&app, "PATCH", "/crm/v3/objects/deals").await;
    assert!(patches_before.is_empty(), "{patches_before:?}");

    let event = linked("rl-1", "r1", "hubspot", &deal);
    post_events(&app, "acme", event.clone()).await;
    let ev = settled(&app, "acme", "rl-1").await;
    let d = delivery(&ev);
    assert_eq!(
        (
            d["step"].as_str(),
            d["status"].as_str(),
            d["subject"].as_str()
        ),
        (Some("room_url"), Some("succeeded"), Some("room:r1")),
        "{ev}"
    );
    assert_eq!(d["remote_ids"]["url_written"], true, "{ev}");
    assert_eq!(d["remote_ids"]["deal"]["id"], deal.as_str(), "{ev}");
    assert!(
        d["record_key"].as_str().unwrap().ends_with(":room:r1"),
        "{ev}"
    );
    let got = vendor(
        &app,
        token,
        Method::GET,
        &format!(
            "{}/crm/v3/objects/deals/{deal}?properties=renkei_room_url,dealname",
            hs_base(&app)
        ),
        None,
    )
    .await;
    assert_eq!(
        got["properties"]["renkei_room_url"], "https://dsr.example/rooms/r1",
        "{got}"
    );
    assert_eq!(got["properties"]["dealname"], "DSR 商談", "{got}");

    // The same event id again: a duplicate, no second delivery, no second write.
    let (s, b) = app
        .send("POST", "/v1/tenants/acme/events", Some(event))
        .await;
    assert_eq!(s, 202, "{b}");
    assert_eq!(b["duplicates"], json!(["rl-1"]), "{b}");
    let ev = settled(&app, "acme", "rl-1").await;
    assert_eq!(delivery(&ev)["attempts"], 1, "{ev}");
    let patches = hubspot_requests(&app, "PATCH", "/crm/v3/objects/deals").await;
    assert_eq!(patches.len(), 1, "{patches:?}");

    // A room linked for Salesforce plans nothing on the HubSpot connection.
    post_events(
        &app,
        "acme",
        linked("rl-sf", "r2", "salesforce", "006000000000001"),
    )
    .await;
    let ev = settled(&app, "acme", "rl-sf").await;
    assert_eq!(ev["routing"]["deliveries"], json!([]), "{ev}");
    app.stop().await;
}

/// 4.1's table with a connected member: chat → email, task → completed task, content →
/// meeting, each on the room's deal (after a relink, the new deal), owned by the member's
/// HubSpot owner and written with the member's personal connection.
#[tokio::test]
async fn hubspot_room_activity_is_the_members_own() {
    let app = TestApp::start_sandboxed(quiet_scheduler).await;
    app.put_tenant("acme").await;
    let hs = connect_minted(&app, "acme", "hubspot").await;
    let token = &hs["access_token"];
    put_settings(
        &app,
        "acme",
        "hubspot",
        json!({"people": {"enabled": false}, "deal_room": {"enabled": true}}),
    )
    .await;
    put_member(&app, "m1", MEMBER_EMAIL).await;
    connect_member(&app, "m1").await;
    let (_, mc) = app
        .send(
            "GET",
            "/v1/tenants/acme/members/m1/connections/hubspot",
            None,
        )
        .await;
    assert!(mc["last_used_at"].is_null(), "{mc}");
    let owner = owner_id(&app, token, MEMBER_EMAIL).await;
    let first = hubspot_deal(&app, token, "最初の商談").await;
    let deal = hubspot_deal(&app, token, "本命の商談").await;

    // Linked, then relinked to another deal: the link follows.
    post_events(
        &app,
        "acme",
        json!([
            linked("l-1", "r1", "hubspot", &first),
            linked("l-2", "r1", "hubspot", &deal)
        ]),
    )
    .await;
    settled(&app, "acme", "l-2").await;
    post_events(
        &app,
        "acme",
        json!([
            chat(
                "ch-1",
                "r1",
                Some("m1"),
                "お見積もりの件です。\nご確認ください。"
            ),
            task("tk-1", "r1", "m1"),
            content("ct-1", "r1", "m1"),
        ]),
    )
    .await;
    let mut written = Vec::new();
    for id in ["ch-1", "tk-1", "ct-1"] {
        let ev = settled(&app, "acme", id).await;
        let d = delivery(&ev);
        assert_eq!(
            (d["step"].as_str(), d["status"].as_str()),
            (Some("room_activity"), Some("succeeded")),
            "{ev}"
        );
        assert_eq!(d["remote_ids"]["deal"]["id"], deal.as_str(), "{ev}");
        written.push(d["remote_ids"]["activity"].clone());
    }
    let read = async |r: &Value, props: &str| {
        vendor(
            &app,
            token,
            Method::GET,
            &format!(
                "{}/crm/v3/objects/{}/{}?properties={props}&associations=deals",
                hs_base(&app),
                r["object"].as_str().unwrap(),
                r["id"].as_str().unwrap()
            ),
            None,
        )
        .await
    };
    let deal_of = |v: &Value| v["associations"]["deals"]["results"][0]["id"].clone();

    assert_eq!(written[0]["object"], "emails");
    let email = read(
        &written[0],
        "hs_email_subject,hs_email_text,hs_timestamp,hubspot_owner_id",
    )
    .await;
    let p = &email["properties"];
    assert_eq!(p["hs_email_subject"], "お見積もりの件です。", "{email}");
    assert_eq!(
        p["hs_email_text"], "お見積もりの件です。\nご確認ください。",
        "{email}"
    );
    assert_eq!(p["hubspot_owner_id"], owner.as_str(), "{email}");
    assert_eq!(deal_of(&email), deal.as_str(), "{email}");
    // When the message was sent, not when the event was posted.
    assert!(
        p["hs_timestamp"]
            .as_str()
            .unwrap()
            .starts_with("2026-11-21T09:59:30"),
        "{email}"
    );

    assert_eq!(written[1]["object"], "tasks");
    let t = read(
        &written[1],
        "hs_task_subject,hs_task_status,hubspot_owner_id,hs_timestamp",
    )
    .await;
    let p = &t["properties"];
    assert!(
        p["hs_timestamp"]
            .as_str()
            .unwrap()
            .starts_with("2026-11-21T10:58:00"),
        "{t}"
    );
    assert_eq!(
        (&p["hs_task_subject"], &p["hs_task_status"]),
        (&json!("見積書を送付"), &json!("COMPLETED")),
        "{t}"
    );
    assert_eq!(p["hubspot_owner_id"], owner.as_str(), "{t}");
    assert_eq!(deal_of(&t), deal.as_str(), "{t}");

    assert_eq!(written[2]["object"], "meetings");
    let m = read(
        &written[2],
        "hs_meeting_title,hs_meeting_body,hubspot_owner_id,hs_timestamp",
    )
    .await;
    let p = &m["properties"];
    // A content update carries no time of its own: the event's.
    assert!(
        p["hs_timestamp"]
            .as_str()
            .unwrap()
            .starts_with("2026-11-21T12:00:00"),
        "{m}"
    );
    assert_eq!(p["hs_meeting_title"], "議事録", "{m}");
    assert!(
        p["hs_meeting_body"]
            .as_str()
            .unwrap()
            .contains("次回は12月に訪問"),
        "{m}"
    );
    assert_eq!(p["hubspot_owner_id"], owner.as_str(), "{m}");
    assert_eq!(deal_of(&m), deal.as_str(), "{m}");

    // Nothing went to the first deal, and the member's own connection made the writes.
    let first_deal = vendor(
        &app,
        token,
        Method::GET,
        &format!(
            "{}/crm/v3/objects/deals/{first}?associations=emails,tasks,meetings",
            hs_base(&app)
        ),
        None,
    )
    .await;
    assert!(
        first_deal.get("associations").is_none_or(|a| a
            .as_object()
            .unwrap()
            .values()
            .all(|v| v["results"].as_array().unwrap().is_empty())),
        "{first_deal}"
    );
    let (_, mc) = app
        .send(
            "GET",
            "/v1/tenants/acme/members/m1/connections/hubspot",
            None,
        )
        .await;
    assert!(mc["last_used_at"].is_string(), "{mc}");

    // The same events again: nothing is written twice.
    post_events(
        &app,
        "acme",
        json!([chat(
            "ch-1",
            "r1",
            Some("m1"),
            "お見積もりの件です。\nご確認ください。"
        )]),
    )
    .await;
    for kind in ["emails", "tasks", "meetings"] {
        let creates = hubspot_requests(&app, "POST", &format!("/crm/v3/objects/{kind}")).await;
        let creates: Vec<_> = creates
            .iter()
            .filter(|r| r["path"] == format!("/crm/v3/objects/{kind}"))
            .collect();
        assert_eq!(creates.len(), 1, "{kind}: {creates:?}");
    }
    app.stop().await;
}

/// A member without a personal HubSpot connection: the activity is skipped
/// (`member_not_connected`), the tenant health names the member with 4.1's warning, once, and
/// the warning goes when the member connects; a retry then writes the activity. An event
/// without a member is skipped as `no_member`.
#[tokio::test]
async fn hubspot_member_not_connected_is_skipped_and_warned() {
    let app = TestApp::start_sandboxed(quiet_scheduler).await;
    app.put_tenant("acme").await;
    let hs = connect_minted(&app, "acme", "hubspot").await;
    let token = &hs["access_token"];
    put_settings(
        &app,
        "acme",
        "hubspot",
        json!({"people": {"enabled": false}, "deal_room": {"enabled": true}}),
    )
    .await;
    let deal = hubspot_deal(&app, token, "警告の商談").await;
    post_events(&app, "acme", linked("l-1", "r1", "hubspot", &deal)).await;
    settled(&app, "acme", "l-1").await;
    let health_of = async |member: &str| -> Vec<Value> {
        let (s, h) = app.send("GET", "/v1/tenants/acme/health", None).await;
        assert_eq!(s, 200, "{h}");
        h["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["member"] == member)
            .cloned()
            .collect()
    };
    // Not a registered member: only the skipped deliveries name them.
    assert!(health_of("m9").await.is_empty());

    post_events(
        &app,
        "acme",
        json!([
            chat("ch-1", "r1", Some("m9"), "こんにちは"),
            chat("ch-2", "r1", Some("m9"), "追伸"),
            chat("ch-3", "r1", None, "匿名")
        ]),
    )
    .await;
    let mut skipped = Vec::new();
    for id in ["ch-1", "ch-2"] {
        let ev = settled(&app, "acme", id).await;
        let d = delivery(&ev);
        assert_eq!(d["status"], "skipped", "{ev}");
        assert_eq!(reason_code(d), "member_not_connected", "{ev}");
        assert!(d["remote_ids"].get("activity").is_none(), "{ev}");
        skipped.push(d["id"].as_i64().unwrap());
    }
    let ev = settled(&app, "acme", "ch-3").await;
    assert_eq!(reason_code(delivery(&ev)), "no_member", "{ev}");

    let entries = health_of("m9").await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["code"], "member_not_connected");
    assert_eq!(entries[0]["provider"], "hubspot");
    assert_eq!(
        entries[0]["message"],
        "HubSpot連携が完了していないため、ルームでの活動がHubSpot連携されません"
    );
    // Registered too: still one warning for the member.
    put_member(&app, "m9", MEMBER_EMAIL).await;
    assert_eq!(health_of("m9").await.len(), 1);
    assert_eq!(
        hubspot_requests(&app, "POST", "/crm/v3/objects/emails")
            .await
            .len(),
        0
    );

    connect_member(&app, "m9").await;
    assert!(health_of("m9").await.is_empty());
    let (s, b) = app
        .send(
            "POST",
            &format!("/v1/tenants/acme/deliveries/{}/retry", skipped[0]),
            None,
        )
        .await;
    assert_eq!((s, b["status"].as_str()), (202, Some("pending")), "{b}");
    let ev = settled(&app, "acme", "ch-1").await;
    let d = delivery(&ev);
    assert_eq!(d["status"], "succeeded", "{ev}");
    let email = vendor(
        &app,
        token,
        Method::GET,
        &format!(
            "{}/crm/v3/objects/emails/{}?properties=hs_email_subject,hubspot_owner_id&associations=deals",
            hs_base(&app),
            d["remote_ids"]["activity"]["id"].as_str().unwrap()
        ),
        None,
    )
    .await;
    assert_eq!(email["properties"]["hs_email_subject"], "こんにちは");
    assert_eq!(
        email["properties"]["hubspot_owner_id"],
        owner_id(&app, token, MEMBER_EMAIL).await.as_str()
    );
    assert_eq!(
        email["associations"]["deals"]["results"][0]["id"],
        deal.as_str()
    );
    // One create; the retry, being a resumed delivery, searched for an earlier write first.
    let posts = hubspot_requests(&app, "POST", "/crm/v3/objects/emails").await;
    let paths: Vec<&str> = posts.iter().map(|r| r["path"].as_str().unwrap()).collect();
    assert_eq!(
        paths,
        ["/crm/v3/objects/emails/search", "/crm/v3/objects/emails"],
        "{posts:?}"
    );
    app.stop().await;
}

/// 4.1 (and the seed: 「"テキストタイプ"のカスタムフィールドのみ選択可能です」): a number or
/// date property cannot receive the room URL; the refusal names the field and its type, and
/// nothing is saved.
#[tokio::test]
async fn settings_refuse_a_room_url_property_that_is_not_text() {
    let app = TestApp::start_sandboxed(quiet_scheduler).await;
    app.put_tenant("acme").await;
    let hs = connect_minted(&app, "acme", "hubspot").await;
    let token = &hs["access_token"];
    deal_property(&app, token, "room_score", "number", "number").await;
    deal_property(&app, token, "room_opened_on", "date", "date").await;
    for (field, ty) in [("room_score", "number"), ("room_opened_on", "date")] {
        let (s, b) = app
            .send(
                "PUT",
                "/v1/tenants/acme/connections/hubspot/settings",
                Some(json!({"deal_room": {"enabled": true, "url_field": field}})),
            )
            .await;
        assert_eq!(s, 422, "{b}");
        assert_eq!(b["error"]["code"], "field_type_unsupported", "{b}");
        assert_eq!(b["error"]["details"]["field"], "deal_room.url_field", "{b}");
        let message = b["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(field) && message.contains(&format!("type {ty}")),
            "{b}"
        );
    }
    let (_, got) = app
        .send("GET", "/v1/tenants/acme/connections/hubspot/settings", None)
        .await;
    assert_eq!(got["deal_room"]["enabled"], false, "{got}");
    assert!(got["deal_room"]["url_field"].is_null(), "{got}");
    app.stop().await;
}

/// Salesforce (4.1): the room URL to an Opportunity URL field, room activity to the
/// Opportunity's activity history with the tenant connection: a chat is an Email Task, a
/// completed task a completed Task, a text content an Event, owned by the member's user.
#[tokio::test]
async fn salesforce_room_url_and_activity_on_the_opportunity() {
    let app = TestApp::start_sandboxed(quiet_scheduler).await;
    app.put_tenant("acme").await;
    let tokens = connect_minted(&app, "acme", "salesforce").await;
    put_settings(
        &app,
        "acme",
        "salesforce",
        json!({"people": {"enabled": false},
               "deal_room": {"enabled": true, "url_field": "Room_URL__c"}}),
    )
    .await;
    let instance = tokens["instance_url"].as_str().unwrap();
    let opp = vendor(
        &app,
        &tokens["access_token"],
        Method::POST,
        &format!("{instance}/services/data/v62.0/sobjects/Opportunity"),
        Some(json!({"Name": "DSR 案件", "StageName": "Prospecting", "CloseDate": "2026-12-31"})),
    )
    .await;
    let opp = opp["id"].as_str().unwrap().to_owned();
    let users = soql(&app, &tokens, "SELECT Id, Email FROM User").await;
    let sales = users
        .iter()
        .find(|u| u["Email"].as_str().unwrap().starts_with("sales@"))
        .expect("the emulator's second user")
        .clone();
    put_member(&app, "m1", sales["Email"].as_str().unwrap()).await;

    post_events(&app, "acme", linked("l-1", "r1", "salesforce", &opp)).await;
    let ev = settled(&app, "acme", "l-1").await;
    assert_eq!(delivery(&ev)["status"], "succeeded", "{ev}");
    let o = soql(
        &app,
        &tokens,
        &format!("SELECT Id, Room_URL__c FROM Opportunity WHERE Id = '{opp}'"),
    )
    .await;
    assert_eq!(o[0]["Room_URL__c"], "https://dsr.example/rooms/r1");

    post_events(
        &app,
        "acme",
        json!([
            chat("ch-1", "r1", Some("m1"), "資料を送りました\n詳細は添付"),
            task("tk-1", "r1", "m1"),
            content("ct-1", "r1", "m1")
        ]),
    )
    .await;
    let mut written = Vec::new();
    for id in ["ch-1", "tk-1", "ct-1"] {
        let ev = settled(&app, "acme", id).await;
        let d = delivery(&ev);
        assert_eq!(d["status"], "succeeded", "{ev}");
        written.push(d["remote_ids"]["activity"].clone());
    }
    assert_eq!(written[0]["object"], "Task");
    let t = &soql(
        &app,
        &tokens,
        &format!(
            "SELECT Id, WhatId, TaskSubtype, Subject, Description, Status, OwnerId, ActivityDate \
             FROM Task WHERE Id = '{}'",
            written[0]["id"].as_str().unwrap()
        ),
    )
    .await[0];
    assert_eq!(t["WhatId"], opp.as_str(), "{t}");
    assert_eq!(t["TaskSubtype"], "Email", "{t}");
    assert_eq!(t["Subject"], "資料を送りました", "{t}");
    assert_eq!(t["Description"], "資料を送りました\n詳細は添付", "{t}");
    assert_eq!(t["Status"], "Completed", "{t}");
    assert_eq!(t["OwnerId"], sales["Id"], "{t}");
    assert_eq!(t["ActivityDate"], "2026-11-21", "{t}");

    let t = &soql(
        &app,
        &tokens,
        &format!(
            "SELECT Id, WhatId, TaskSubtype, Subject, Status, OwnerId FROM Task WHERE Id = '{}'",
            written[1]["id"].as_str().unwrap()
        ),
    )
    .await[0];
    assert_eq!(
        (&t["WhatId"], &t["TaskSubtype"], &t["Subject"], &t["Status"]),
        (
            &json!(opp),
            &json!("Task"),
            &json!("見積書を送付"),
            &json!("Completed")
        ),
        "{t}"
    );
    assert_eq!(t["OwnerId"], sales["Id"], "{t}");

    assert_eq!(written[2]["object"], "Event");
    let e = &soql(
        &app,
        &tokens,
        &format!(
            "SELECT Id, WhatId, Subject, Description, OwnerId FROM Event WHERE Id = '{}'",
            written[2]["id"].as_str().unwrap()
        ),
    )
    .await[0];
    assert_eq!(
        (&e["WhatId"], &e["Subject"], &e["Description"]),
        (&json!(opp), &json!("議事録"), &json!("次回は12月に訪問")),
        "{e}"
    );
    assert_eq!(e["OwnerId"], sales["Id"], "{e}");

    // One Task per event, whatever is posted again.
    post_events(
        &app,
        "acme",
        chat("ch-1", "r1", Some("m1"), "資料を送りました"),
    )
    .await;
    let tasks = soql(
        &app,
        &tokens,
        &format!("SELECT Id FROM Task WHERE WhatId = '{opp}'"),
    )
    .await;
    assert_eq!(tasks.len(), 2, "{tasks:?}");
    app.stop().await;
}

/// Activity of a room no `room.linked` was written for is skipped (`room_not_linked`), on
/// HubSpot before the member is even looked at.
#[tokio::test]
async fn activity_of_an_unlinked_room_is_skipped() {
    let app = TestApp::start_sandboxed(quiet_scheduler).await;
    app.put_tenant("acme").await;
    connect_minted(&app, "acme", "hubspot").await;
    put_settings(
        &app,
        "acme",
        "hubspot",
        json!({"people": {"enabled": false}, "deal_room": {"enabled": true,
               "activities": {"content.updated": "none"}}}),
    )
    .await;
    post_events(
        &app,
        "acme",
        json!([
            task("tk-1", "nowhere", "m1"),
            content("ct-1", "nowhere", "m1")
        ]),
    )
    .await;
    let ev = settled(&app, "acme", "tk-1").await;
    let d = delivery(&ev);
    assert_eq!(
        (d["step"].as_str(), d["status"].as_str()),
        (Some("room_activity"), Some("skipped")),
        "{ev}"
    );
    assert_eq!(reason_code(d), "room_not_linked", "{ev}");
    assert!(d["reason"].as_str().unwrap().contains("nowhere"), "{ev}");
    // An event the settings do not write causes no delivery at all.
    let ev = settled(&app, "acme", "ct-1").await;
    assert_eq!(ev["routing"]["deliveries"], json!([]), "{ev}");
    assert!(
        hubspot_requests(&app, "POST", "/crm/v3/objects/tasks")
            .await
            .is_empty()
    );
    app.stop().await;
}
