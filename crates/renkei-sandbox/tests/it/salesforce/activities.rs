//! Activities as Salesforce enforces them: restricted picklists on Task (`CallType`,
//! `TaskSubtype`, the latter settable on create only), the call fields (`CallObject`), a lead
//! as `WhoId` leaving no room for a `WhatId`, Events whose start, end and duration stay one
//! span, classic Notes with their required parent and title, and describe saying all of it.

use serde_json::{Value, json};

use super::{Sf, assert_error};

fn field<'a>(d: &'a Value, name: &str) -> &'a Value {
    d["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no field {name}"))
}

#[tokio::test]
async fn task_picklists_are_restricted_and_the_subtype_is_set_once() {
    let sf = Sf::start().await;
    let c = sf.create("Contact", json!({"LastName": "山田"})).await;
    let t = sf
        .create(
            "Task",
            json!({"WhoId": c, "Subject": "Call", "TaskSubtype": "Call", "CallType": "Inbound",
                   "CallDurationInSeconds": 65, "CallObject": "renkei:t:e:1", "Status": "Completed"}),
        )
        .await;
    let r = sf.get(&format!("sobjects/Task/{t}")).await;
    assert_eq!(r.body["CallObject"], "renkei:t:e:1");
    assert_eq!(r.body["CallDurationInSeconds"], 65);
    let q = sf
        .get("query?q=SELECT+Id+FROM+Task+WHERE+CallObject+=+'renkei:t:e:1'")
        .await;
    assert_eq!(q.body["totalSize"], 1, "{}", q.body);

    for (body, field_name) in [
        (json!({"Subject": "x", "CallType": "Sideways"}), "CallType"),
        (json!({"Subject": "x", "TaskSubtype": "Fax"}), "TaskSubtype"),
    ] {
        let r = sf.post("sobjects/Task", body).await;
        assert_error(&r, 400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST");
        assert_eq!(r.body[0]["fields"], json!([field_name]), "{}", r.body);
    }
    // An unrestricted picklist takes any value through the API, as in Salesforce.
    let r = sf
        .post(
            "sobjects/Task",
            json!({"Subject": "x", "Priority": "Urgent"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    // The subtype cannot be changed once the task exists.
    let r = sf
        .call(
            "PATCH",
            &format!("sobjects/Task/{t}"),
            Some(json!({"TaskSubtype": "Task"})),
        )
        .await;
    assert_error(&r, 400, "INVALID_FIELD_FOR_INSERT_UPDATE");
    assert_eq!(r.body[0]["fields"], json!(["TaskSubtype"]));

    let d = sf.get("sobjects/Task/describe").await;
    let sub = field(&d.body, "TaskSubtype");
    assert_eq!(
        (
            sub["restrictedPicklist"].clone(),
            sub["createable"].clone(),
            sub["updateable"].clone()
        ),
        (json!(true), json!(true), json!(false))
    );
    assert_eq!(field(&d.body, "CallType")["restrictedPicklist"], true);
    assert_eq!(field(&d.body, "Priority")["restrictedPicklist"], false);
    let call_object = field(&d.body, "CallObject");
    assert_eq!(
        (call_object["type"].clone(), call_object["length"].clone()),
        (json!("string"), json!(255))
    );
}

#[tokio::test]
async fn a_lead_activity_cannot_be_related_to_another_record() {
    let sf = Sf::start().await;
    let l = sf
        .create("Lead", json!({"LastName": "L", "Company": "X"}))
        .await;
    let a = sf.create("Account", json!({"Name": "A"})).await;
    let c = sf.create("Contact", json!({"LastName": "C"})).await;
    for object in ["Task", "Event"] {
        let mut body = json!({"Subject": "s", "WhoId": l, "WhatId": a});
        if object == "Event" {
            body["StartDateTime"] = json!("2024-01-15T09:30:00Z");
            body["DurationInMinutes"] = json!(30);
        }
        let r = sf.post(&format!("sobjects/{object}"), body).await;
        assert_error(&r, 400, "FIELD_INTEGRITY_EXCEPTION");
        assert_eq!(r.body[0]["fields"], json!(["WhoId", "WhatId"]));
    }
    // A contact may have both.
    sf.create("Task", json!({"Subject": "s", "WhoId": c, "WhatId": a}))
        .await;
}

#[tokio::test]
async fn event_spans_stay_consistent() {
    let sf = Sf::start().await;
    let e = sf
        .create(
            "Event",
            json!({"Subject": "商談", "StartDateTime": "2024-01-15T18:30:00+09:00", "EndDateTime": "2024-01-15T10:15:00Z"}),
        )
        .await;
    assert!(e.starts_with("00U"), "{e}");
    let r = sf.get(&format!("sobjects/Event/{e}")).await;
    for (f, want) in [
        ("StartDateTime", json!("2024-01-15T09:30:00.000+0000")),
        ("ActivityDateTime", json!("2024-01-15T09:30:00.000+0000")),
        ("EndDateTime", json!("2024-01-15T10:15:00.000+0000")),
        ("DurationInMinutes", json!(45)),
        ("ActivityDate", json!("2024-01-15")),
        ("IsAllDayEvent", json!(false)),
        ("ShowAs", json!("Busy")),
    ] {
        assert_eq!(r.body[f], want, "{f}: {}", r.body);
    }
    // Moving the start keeps the duration; a new duration moves the end.
    let r = sf
        .call(
            "PATCH",
            &format!("sobjects/Event/{e}"),
            Some(json!({"StartDateTime": "2024-01-16T00:00:00Z"})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = sf.get(&format!("sobjects/Event/{e}")).await;
    assert_eq!(r.body["EndDateTime"], "2024-01-16T00:45:00.000+0000");
    sf.call(
        "PATCH",
        &format!("sobjects/Event/{e}"),
        Some(json!({"DurationInMinutes": 60})),
    )
    .await;
    let r = sf.get(&format!("sobjects/Event/{e}")).await;
    assert_eq!(r.body["EndDateTime"], "2024-01-16T01:00:00.000+0000");
    let q = sf
        .get("query?q=SELECT+Id+FROM+Event+WHERE+StartDateTime+=+2024-01-16T00:00:00Z+AND+Subject+=+'商談'")
        .await;
    assert_eq!(q.body["totalSize"], 1, "{}", q.body);

    let cases = [
        (
            json!({"Subject": "s", "DurationInMinutes": 30}),
            "REQUIRED_FIELD_MISSING",
            json!(["StartDateTime"]),
        ),
        (
            json!({"Subject": "s", "StartDateTime": "2024-01-15T09:30:00Z"}),
            "REQUIRED_FIELD_MISSING",
            json!(["DurationInMinutes"]),
        ),
        (
            json!({"Subject": "s", "StartDateTime": "2024-01-15T09:30:00Z", "EndDateTime": "2024-01-15T09:00:00Z"}),
            "FIELD_INTEGRITY_EXCEPTION",
            json!(["EndDateTime"]),
        ),
        (
            json!({"Subject": "s", "StartDateTime": "2024-01-15T09:30:00Z", "EndDateTime": "2024-01-15T10:00:00Z", "DurationInMinutes": 20}),
            "FIELD_INTEGRITY_EXCEPTION",
            json!(["EndDateTime", "DurationInMinutes"]),
        ),
    ];
    for (body, code, fields) in cases {
        let r = sf.post("sobjects/Event", body.clone()).await;
        assert_error(&r, 400, code);
        assert_eq!(r.body[0]["fields"], fields, "{body}");
    }
    // An all-day event lives on its date.
    let d = sf
        .create(
            "Event",
            json!({"Subject": "offsite", "IsAllDayEvent": true, "ActivityDate": "2024-02-01"}),
        )
        .await;
    let r = sf.get(&format!("sobjects/Event/{d}")).await;
    assert_eq!(r.body["StartDateTime"], "2024-02-01T00:00:00.000+0000");
    assert_eq!(r.body["DurationInMinutes"], 1440);
}

#[tokio::test]
async fn notes_need_a_parent_and_a_title() {
    let sf = Sf::start().await;
    let c = sf.create("Contact", json!({"LastName": "C"})).await;
    let c2 = sf.create("Contact", json!({"LastName": "D"})).await;
    let n = sf
        .create(
            "Note",
            json!({"ParentId": c, "Title": "議事録", "Body": "一行目\n二行目"}),
        )
        .await;
    assert!(n.starts_with("002"), "{n}");
    let r = sf.get(&format!("sobjects/Note/{n}")).await;
    assert_eq!(r.body["Body"], "一行目\n二行目");
    assert_eq!(r.body["IsPrivate"], false);
    let q = sf
        .get(&format!(
            "query?q=SELECT+Id,Body+FROM+Note+WHERE+ParentId+=+'{c}'+AND+Title+=+'議事録'"
        ))
        .await;
    assert_eq!(q.body["totalSize"], 1, "{}", q.body);

    let r = sf.post("sobjects/Note", json!({"Body": "x"})).await;
    assert_error(&r, 400, "REQUIRED_FIELD_MISSING");
    assert_eq!(r.body[0]["fields"], json!(["ParentId", "Title"]));
    let r = sf
        .post(
            "sobjects/Note",
            json!({"ParentId": c, "Title": "x".repeat(81)}),
        )
        .await;
    assert_error(&r, 400, "STRING_TOO_LONG");
    // The parent is set on create only.
    let r = sf
        .call(
            "PATCH",
            &format!("sobjects/Note/{n}"),
            Some(json!({"ParentId": c2})),
        )
        .await;
    assert_error(&r, 400, "INVALID_FIELD_FOR_INSERT_UPDATE");
    let r = sf
        .call(
            "PATCH",
            &format!("sobjects/Note/{n}"),
            Some(json!({"Body": "一行目\n二行目\n\n追記"})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);

    let d = sf.get("sobjects/Note/describe").await;
    assert_eq!(d.body["keyPrefix"], "002");
    let parent = field(&d.body, "ParentId");
    assert_eq!(
        (
            parent["nillable"].clone(),
            parent["createable"].clone(),
            parent["updateable"].clone()
        ),
        (json!(false), json!(true), json!(false))
    );
    assert_eq!(field(&d.body, "Title")["length"], 80);
    assert_eq!(field(&d.body, "Body")["type"], "textarea");
    let contact = sf.get("sobjects/Contact/describe").await;
    let rels: Vec<String> = contact.body["childRelationships"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["relationshipName"].as_str().map(str::to_owned))
        .collect();
    for want in ["Tasks", "Events", "Notes"] {
        assert!(rels.iter().any(|r| r == want), "{want}: {rels:?}");
    }
}
