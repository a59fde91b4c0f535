//! `Project__c`, the custom object an admin created in the emulated orgs: describe shows it as
//! custom with its `__c` fields, and the REST resources, SOQL, SOSL, composite requests and the
//! request log treat it as they treat the standard objects.

use serde_json::{Value, json};

use super::{Sf, assert_error};

fn enc(s: &str) -> String {
    renkei_sandbox::http::encode_query_value(s)
}

fn field<'a>(describe: &'a Value, name: &str) -> &'a Value {
    describe["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("{name} missing from describe"))
}

#[tokio::test]
async fn describe_shows_project_as_a_custom_object_with_its_fields() {
    let sf = Sf::start().await;
    let g = sf.get("sobjects").await;
    assert_eq!(g.status, 200, "{}", g.body);
    let objects = g.body["sobjects"].as_array().unwrap();
    let project = objects
        .iter()
        .find(|o| o["name"] == "Project__c")
        .unwrap_or_else(|| panic!("Project__c missing: {}", g.body));
    for (key, want) in [
        ("custom", json!(true)),
        ("keyPrefix", json!("a01")),
        ("label", json!("Project")),
        ("labelPlural", json!("Projects")),
        ("createable", json!(true)),
        ("queryable", json!(true)),
        ("updateable", json!(true)),
        ("deletable", json!(true)),
        ("searchable", json!(true)),
        ("customSetting", json!(false)),
    ] {
        assert_eq!(project[key], want, "{key}");
    }
    // The standard objects stay standard.
    let custom: Vec<&str> = objects
        .iter()
        .filter(|o| o["custom"] == true)
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(custom, vec!["Project__c"]);

    let d = sf.get("sobjects/Project__c/describe").await;
    assert_eq!(d.status, 200, "{}", d.body);
    let d = d.body;
    assert_eq!(
        (&d["name"], &d["custom"]),
        (&json!("Project__c"), &json!(true))
    );
    // Standard fields of every custom object, not custom themselves.
    for (name, ty) in [
        ("Id", "id"),
        ("IsDeleted", "boolean"),
        ("Name", "string"),
        ("OwnerId", "reference"),
        ("CreatedDate", "datetime"),
        ("CreatedById", "reference"),
        ("LastModifiedDate", "datetime"),
        ("LastModifiedById", "reference"),
        ("SystemModstamp", "datetime"),
    ] {
        let f = field(&d, name);
        assert_eq!(
            (&f["type"], &f["custom"]),
            (&json!(ty), &json!(false)),
            "{name}"
        );
    }
    let name = field(&d, "Name");
    assert_eq!(
        (&name["length"], &name["nameField"], &name["nillable"]),
        (&json!(80), &json!(true), &json!(false))
    );
    assert_eq!(field(&d, "OwnerId")["referenceTo"], json!(["User"]));
    // The fields the admin added.
    for (name, ty) in [
        ("Account__c", "reference"),
        ("Status__c", "picklist"),
        ("Budget__c", "currency"),
        ("Due_Date__c", "date"),
        ("Description__c", "textarea"),
    ] {
        let f = field(&d, name);
        assert_eq!(
            (&f["type"], &f["custom"], &f["nillable"]),
            (&json!(ty), &json!(true), &json!(true)),
            "{name}"
        );
    }
    let account = field(&d, "Account__c");
    assert_eq!(account["referenceTo"], json!(["Account"]));
    assert_eq!(account["relationshipName"], "Account__r");
    let status = field(&d, "Status__c");
    assert_eq!(status["restrictedPicklist"], true);
    assert_eq!(status["defaultValue"], Value::Null);
    let values: Vec<&str> = status["picklistValues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, vec!["Planned", "Active", "Done"]);
    assert!(
        status["picklistValues"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["defaultValue"] == false)
    );
    let description = field(&d, "Description__c");
    assert_eq!(
        (&description["length"], &description["filterable"]),
        (&json!(32768), &json!(false))
    );
    // Account sees its projects as a child relationship.
    let acct = sf.get("sobjects/Account/describe").await.body;
    assert!(
        acct["childRelationships"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["childSObject"] == "Project__c"
                && c["field"] == "Account__c"
                && c["relationshipName"] == "Projects__r"),
        "{}",
        acct["childRelationships"]
    );
    let basic = sf.get("sobjects/Project__c").await;
    assert_eq!(basic.body["objectDescribe"]["custom"], true);
}

#[tokio::test]
async fn projects_are_created_read_updated_and_queried_by_name_and_account() {
    let sf = Sf::start().await;
    let acct = sf
        .create("Account", json!({"Name": "さくら商事株式会社"}))
        .await;
    let other = sf.create("Account", json!({"Name": "Other Co"})).await;
    let r = sf
        .post(
            "sobjects/Project__c",
            json!({
                "Name": "CRM Migration",
                "Account__c": acct,
                "Status__c": "Planned",
                "Budget__c": 1250000.5,
                "Due_Date__c": "2025-03-31",
                "Description__c": "移行計画",
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        (&r.body["success"], &r.body["errors"]),
        (&json!(true), &json!([]))
    );
    let migration = r.body["id"].as_str().unwrap().to_owned();
    assert!(
        migration.starts_with("a01") && migration.len() == 18,
        "{migration}"
    );
    assert!(
        r.headers["location"]
            .to_str()
            .unwrap()
            .ends_with(&format!("/sobjects/Project__c/{migration}"))
    );
    let rollout = sf
        .create(
            "Project__c",
            json!({"Name": "CRM Rollout", "Account__c": acct, "Status__c": "Active"}),
        )
        .await;
    // Same words, another account; and the right account, other words.
    sf.create(
        "Project__c",
        json!({"Name": "CRM Audit", "Account__c": other}),
    )
    .await;
    sf.create("Project__c", json!({"Name": "Website", "Account__c": acct}))
        .await;

    let r = sf.get(&format!("sobjects/Project__c/{migration}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["attributes"]["type"], "Project__c");
    assert_eq!(r.body["Name"], "CRM Migration");
    assert_eq!(r.body["Account__c"], acct.as_str());
    assert_eq!(r.body["Budget__c"], 1250000.5);
    assert_eq!(r.body["Due_Date__c"], "2025-03-31");
    assert_eq!(r.body["Description__c"], "移行計画");
    assert_eq!(r.body["IsDeleted"], false);
    assert!(r.body["OwnerId"].as_str().unwrap().starts_with("005"));

    let r = sf
        .call(
            "PATCH",
            &format!("sobjects/Project__c/{migration}"),
            Some(json!({"Status__c": "Done", "Budget__c": null})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = sf
        .get(&format!(
            "sobjects/Project__c/{migration}?fields=Status__c,Budget__c"
        ))
        .await;
    assert_eq!(
        (&r.body["Status__c"], &r.body["Budget__c"]),
        (&json!("Done"), &Value::Null)
    );

    let soql = format!(
        "SELECT Id, Name, Account__c, Status__c FROM Project__c WHERE Name LIKE '%crm%' AND Account__c = '{acct}' ORDER BY Name, Id LIMIT 20"
    );
    let r = sf.get(&format!("query?q={}", enc(&soql))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["totalSize"], 2, "{}", r.body);
    let records = r.body["records"].as_array().unwrap();
    assert_eq!(records[0]["Id"], migration.as_str());
    assert_eq!(records[0]["Name"], "CRM Migration");
    assert_eq!(records[0]["Status__c"], "Done");
    assert_eq!(records[0]["attributes"]["type"], "Project__c");
    assert_eq!(records[1]["Id"], rollout.as_str());
    assert_eq!(records[1]["Account__c"], acct.as_str());
    // The 15-character id filters as well, and the lookup is walked by its relationship name.
    let soql = format!(
        "SELECT Account__r.Name FROM Project__c WHERE Account__c = '{}' AND Status__c IN ('Active') ",
        &acct[..15]
    );
    let r = sf.get(&format!("query?q={}", enc(&soql))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["totalSize"], 1, "{}", r.body);
    assert_eq!(
        r.body["records"][0]["Account__r"]["Name"],
        "さくら商事株式会社"
    );

    // SOSL searches it like any searchable object.
    let r = sf
        .get(&format!(
            "search?q={}",
            enc("FIND {Migration} IN NAME FIELDS RETURNING Project__c(Id, Name)")
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["searchRecords"][0]["Id"], migration.as_str());
    assert_eq!(
        r.body["searchRecords"][0]["attributes"]["type"],
        "Project__c"
    );
    let r = sf.get(&format!("search?q={}", enc("FIND {Rollout}"))).await;
    assert_eq!(
        r.body["searchRecords"][0]["Id"],
        rollout.as_str(),
        "{}",
        r.body
    );
    let r = sf
        .get("parameterizedSearch?q=Website&sobject=Project__c&Project__c.fields=Id,Name")
        .await;
    assert_eq!(r.body["searchRecords"][0]["Name"], "Website", "{}", r.body);

    // The request log shows the creates like any other.
    let (_, log) = sf
        .sb
        .get_json(
            &sf.sb
                .url("salesforce", "/_control/requests?method=POST&limit=100"),
        )
        .await;
    let creates = log["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .unwrap()
                .ends_with("/sobjects/Project__c")
                && r["status"] == 201
        })
        .count();
    assert_eq!(creates, 4, "{log}");

    assert_eq!(
        sf.call("DELETE", &format!("sobjects/Project__c/{rollout}"), None)
            .await
            .status,
        204
    );
    let r = sf
        .get(&format!(
            "query?q={}",
            enc("SELECT COUNT() FROM Project__c")
        ))
        .await;
    assert_eq!(r.body["totalSize"], 3);
}

#[tokio::test]
async fn project_writes_are_validated_like_standard_ones() {
    let sf = Sf::start().await;
    let acct = sf.create("Account", json!({"Name": "A"})).await;
    let contact = sf.create("Contact", json!({"LastName": "C"})).await;

    let r = sf
        .post("sobjects/Project__c", json!({"Status__c": "Planned"}))
        .await;
    assert_error(&r, 400, "REQUIRED_FIELD_MISSING");
    assert_eq!(r.body[0]["fields"], json!(["Name"]), "{}", r.body);

    let r = sf
        .post(
            "sobjects/Project__c",
            json!({"Name": "P", "Status__c": "Someday"}),
        )
        .await;
    assert_error(&r, 400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST");
    assert_eq!(r.body[0]["fields"], json!(["Status__c"]), "{}", r.body);

    for (body, code) in [
        (
            json!({"Name": "P", "Account__c": contact}),
            "FIELD_INTEGRITY_EXCEPTION",
        ),
        (json!({"Name": "x".repeat(81)}), "STRING_TOO_LONG"),
        (
            json!({"Name": "P", "Due_Date__c": "soon"}),
            "JSON_PARSER_ERROR",
        ),
        (
            json!({"Name": "P", "Budget__c": "lots"}),
            "JSON_PARSER_ERROR",
        ),
        (json!({"Name": "P", "Colour__c": "red"}), "INVALID_FIELD"),
    ] {
        let r = sf.post("sobjects/Project__c", body.clone()).await;
        assert_error(&r, 400, code);
    }

    let id = sf
        .create("Project__c", json!({"Name": "P", "Account__c": acct}))
        .await;
    let r = sf
        .call(
            "PATCH",
            &format!("sobjects/Project__c/{id}"),
            Some(json!({"Status__c": "Paused"})),
        )
        .await;
    assert_error(&r, 400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST");
    let r = sf
        .call(
            "PATCH",
            &format!("sobjects/Project__c/{id}"),
            Some(json!({"Name": null})),
        )
        .await;
    assert_error(&r, 400, "REQUIRED_FIELD_MISSING");
    let r = sf
        .get(&format!(
            "query?q={}",
            enc("SELECT Id FROM Project__c WHERE Description__c = 'x'")
        ))
        .await;
    assert_eq!(
        r.status, 400,
        "a long text area is not filterable: {}",
        r.body
    );
}

#[tokio::test]
async fn composite_requests_create_projects() {
    let sf = Sf::start().await;
    let acct = sf.create("Account", json!({"Name": "Tree Co"})).await;
    let r = sf
        .post(
            "composite/sobjects",
            json!({"allOrNone": false, "records": [
                {"attributes": {"type": "Project__c"}, "Name": "Batch 1", "Account__c": acct},
                {"attributes": {"type": "Project__c"}, "Name": "Batch 2", "Status__c": "Later"},
                {"attributes": {"type": "Project__c"}, "Status__c": "Active"},
            ]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body[0]["success"], true, "{}", r.body);
    assert!(r.body[0]["id"].as_str().unwrap().starts_with("a01"));
    assert_eq!(
        r.body[1]["errors"][0]["statusCode"],
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    );
    assert_eq!(
        r.body[2]["errors"][0]["statusCode"],
        "REQUIRED_FIELD_MISSING"
    );
    assert_eq!(r.body[2]["errors"][0]["fields"], json!(["Name"]));

    // An Account with its projects in one tree, through the child relationship `Projects__r`.
    let r = sf
        .post(
            "composite/tree/Account",
            json!({"records": [{"attributes": {"type": "Account", "referenceId": "a"}, "Name": "Parent Co",
                "Projects__r": {"records": [
                    {"attributes": {"type": "Project__c", "referenceId": "p1"}, "Name": "Child One", "Status__c": "Planned"},
                    {"attributes": {"type": "Project__c", "referenceId": "p2"}, "Name": "Child Two"},
                ]}}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["results"].as_array().unwrap().len(), 3);
    let q = sf
        .get(&format!(
            "query?q={}",
            enc("SELECT Name, Account__r.Name FROM Project__c WHERE Name LIKE 'Child%' ORDER BY Name")
        ))
        .await;
    assert_eq!(q.body["totalSize"], 2, "{}", q.body);
    assert_eq!(q.body["records"][0]["Account__r"]["Name"], "Parent Co");
}
