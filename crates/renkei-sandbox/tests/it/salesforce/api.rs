//! The REST API: sObject rows, describe, upsert, SOQL with paging, SOSL, composite resources,
//! replication windows, limits and every error shape the emulator promises.

use serde_json::{Value, json};

use super::{Sf, V, assert_error};

#[tokio::test]
async fn crud_round_trip_with_ids_and_timestamps_in_salesforce_formats() {
    let sf = Sf::start().await;
    let acct = sf
        .create(
            "Account",
            json!({"Name": "さくら商事株式会社", "Phone": "03-1234-5678"}),
        )
        .await;
    assert!(acct.starts_with("001") && acct.len() == 18, "{acct}");
    let lead = sf.create("Lead", json!({"LastName": "Sato", "FirstName": "Yui", "Company": "X", "Email": "yui@x.example"})).await;
    assert!(lead.starts_with("00Q"));
    let r = sf.get(&format!("sobjects/Lead/{lead}")).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["attributes"],
        json!({"type": "Lead", "url": format!("/services/data/{V}/sobjects/Lead/{lead}")})
    );
    assert_eq!(
        r.body["Status"], "Open - Not Contacted",
        "default picklist value"
    );
    assert_eq!(
        r.body["Name"], "Sato Yui",
        "Japanese-locale org: family name first"
    );
    let created = r.body["CreatedDate"].as_str().unwrap();
    assert_eq!(created.len(), 28, "{created}");
    assert!(
        created.ends_with(".000+0000") || created.ends_with("+0000"),
        "{created}"
    );
    assert_eq!(r.body["IsDeleted"], false);
    // 15-character ids work too.
    assert_eq!(
        sf.get(&format!("sobjects/Lead/{}", &lead[..15]))
            .await
            .status,
        200
    );
    let r = sf
        .get(&format!("sobjects/Lead/{lead}?fields=Email,Company"))
        .await;
    assert_eq!(r.body.as_object().unwrap().len(), 3, "{}", r.body);
    let r = sf
        .call(
            "PATCH",
            &format!("sobjects/Lead/{lead}"),
            Some(json!({"Company": "Y", "Phone": "090-1111-2222"})),
        )
        .await;
    assert_eq!(r.status, 204);
    let r = sf.get(&format!("sobjects/Lead/{lead}")).await;
    assert_eq!(
        (r.body["Company"].as_str(), r.body["Phone"].as_str()),
        (Some("Y"), Some("090-1111-2222"))
    );
    let c = sf
        .create("Contact", json!({"LastName": "Tanaka", "AccountId": acct}))
        .await;
    let r = sf
        .get(&format!(
            "query?q=SELECT+Account.Name+FROM+Contact+WHERE+Id+=+'{c}'"
        ))
        .await;
    assert_eq!(
        r.body["records"][0]["Account"]["Name"],
        "さくら商事株式会社"
    );
    assert_eq!(
        sf.call("DELETE", &format!("sobjects/Lead/{lead}"), None)
            .await
            .status,
        204
    );
    assert_error(
        &sf.get(&format!("sobjects/Lead/{lead}")).await,
        404,
        "ENTITY_IS_DELETED",
    );
    let q = "queryAll?q=SELECT+Id,IsDeleted+FROM+Lead";
    assert_eq!(sf.get(q).await.body["records"][0]["IsDeleted"], true);
    assert_eq!(
        sf.get("query?q=SELECT+Id+FROM+Lead").await.body["totalSize"],
        0
    );
}

#[tokio::test]
async fn bad_requests_get_salesforce_error_arrays() {
    let sf = Sf::start().await;
    let acct = sf.create("Account", json!({"Name": "A"})).await;
    let raw = |method: &'static str, path: String, body: &'static str| {
        let sf = &sf;
        async move {
            let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let resp = sf
                .sb
                .client
                .request(m, sf.url(&path))
                .bearer_auth(&sf.token)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            (status, resp.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    for (method, path, body, status, code) in [
        (
            "POST",
            "sobjects/Lead".to_owned(),
            r#"{"FirstName": "x"}"#,
            400,
            "REQUIRED_FIELD_MISSING",
        ),
        (
            "POST",
            "sobjects/Lead".to_owned(),
            r#"{"LastName": "x", "Company": "y", "Colour": "red"}"#,
            400,
            "INVALID_FIELD",
        ),
        (
            "POST",
            "sobjects/Lead".to_owned(),
            r#"{"LastName": "x", "Company": "y", "Email": "nope"}"#,
            400,
            "INVALID_EMAIL_ADDRESS",
        ),
        (
            "POST",
            "sobjects/Lead".to_owned(),
            r#"{"LastName": "x", "Company": "y", "Name": "z"}"#,
            400,
            "INVALID_FIELD_FOR_INSERT_UPDATE",
        ),
        (
            "POST",
            "sobjects/Contact".to_owned(),
            r#"{"LastName": "x", "AccountId": "001000000000000"}"#,
            400,
            "INVALID_CROSS_REFERENCE_KEY",
        ),
        (
            "POST",
            "sobjects/Contact".to_owned(),
            r#"{"LastName": "x", "AccountId": "junk"}"#,
            400,
            "MALFORMED_ID",
        ),
        (
            "POST",
            "sobjects/Lead".to_owned(),
            r#"{"LastName": "#,
            400,
            "JSON_PARSER_ERROR",
        ),
        (
            "POST",
            "sobjects/Lead".to_owned(),
            "",
            400,
            "JSON_PARSER_ERROR",
        ),
        (
            "POST",
            "sobjects/Lead".to_owned(),
            r#"{"LastName": "x", "Company": "y", "NumberOfEmployees": "many"}"#,
            400,
            "JSON_PARSER_ERROR",
        ),
        (
            "GET",
            "sobjects/Lead/00Q5g0000000001AAA".to_owned(),
            "",
            404,
            "NOT_FOUND",
        ),
        (
            "GET",
            "sobjects/Lead/not-an-id".to_owned(),
            "",
            404,
            "NOT_FOUND",
        ),
        ("GET", format!("sobjects/Lead/{acct}"), "", 404, "NOT_FOUND"),
        ("GET", "sobjects/Widget__c".to_owned(), "", 404, "NOT_FOUND"),
        (
            "PUT",
            format!("sobjects/Account/{acct}"),
            "{}",
            405,
            "METHOD_NOT_ALLOWED",
        ),
        (
            "DELETE",
            "sobjects/User/005000000000000".to_owned(),
            "",
            405,
            "METHOD_NOT_ALLOWED",
        ),
        (
            "GET",
            "query?q=SELECT+Nam+FROM+Lead".to_owned(),
            "",
            400,
            "INVALID_FIELD",
        ),
        (
            "GET",
            "query?q=SELECT+Id+FRM+Lead".to_owned(),
            "",
            400,
            "MALFORMED_QUERY",
        ),
        (
            "GET",
            "query?q=SELECT+Id+FROM+Leed".to_owned(),
            "",
            400,
            "INVALID_TYPE",
        ),
        (
            "GET",
            "query/01g5g0000000xyz-2000".to_owned(),
            "",
            400,
            "INVALID_QUERY_LOCATOR",
        ),
        (
            "GET",
            "search?q=FIND+Sato".to_owned(),
            "",
            400,
            "MALFORMED_SEARCH",
        ),
        ("GET", "nothing/here".to_owned(), "", 404, "NOT_FOUND"),
    ] {
        let (got, b) = raw(method, path.clone(), body).await;
        assert_eq!(got, status, "{method} {path} {body}: {b}");
        assert_eq!(b[0]["errorCode"], code, "{method} {path} {body}: {b}");
        assert!(b[0]["message"].is_string());
    }
    let r = sf.post("sobjects/Lead", json!({"FirstName": "x"})).await;
    assert_eq!(r.body[0]["fields"], json!(["LastName", "Company"]));
    assert_eq!(
        r.body[0]["message"],
        "Required fields are missing: [LastName, Company]"
    );
    let r = sf.get("query?q=SELECT+Nam+FROM+Lead").await;
    assert!(
        r.body[0]["message"]
            .as_str()
            .unwrap()
            .contains("ERROR at Row:1:Column:8\nNo such column 'Nam' on entity 'Lead'")
    );
    let other = format!("{}/services/data/v20.0/limits", sf.instance);
    assert_error(&sf.get(&other).await, 404, "NOT_FOUND");
}

#[tokio::test]
async fn the_duplicate_rule_is_switchable() {
    let sf = Sf::start().await;
    let body = json!({"LastName": "Sato", "Email": "dup@example.jp"});
    sf.create("Contact", body.clone()).await;
    sf.create("Contact", body.clone()).await;
    sf.settings(json!({"duplicate_rule": true})).await;
    let r = sf.post("sobjects/Contact", body).await;
    assert_error(&r, 400, "DUPLICATES_DETECTED");
    let dr = &r.body[0]["duplicateResult"];
    assert_eq!(dr["duplicateRuleEntityType"], "Contact");
    assert_eq!(dr["matchResults"][0]["size"], 2);
    assert!(
        dr["matchResults"][0]["matchRecords"][0]["record"]["Id"]
            .as_str()
            .unwrap()
            .starts_with("003")
    );
    sf.create(
        "Contact",
        json!({"LastName": "Sato", "Email": "other@example.jp"}),
    )
    .await;
}

/// A user an admin deactivates (`PATCH /sobjects/User/{id}` with `IsActive` false) can no
/// longer be given records: a create or an owner change naming them answers
/// `INACTIVE_OWNER_OR_USER`, in Salesforce's words, while the records they already own still
/// take other updates.
#[tokio::test]
async fn an_inactive_user_cannot_own_records() {
    let sf = Sf::start().await;
    let users = sf
        .get("query?q=SELECT+Id,Username,IsActive+FROM+User")
        .await;
    let sales = users.body["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["Username"].as_str().unwrap().starts_with("sales@"))
        .expect("the org's second user")
        .clone();
    assert_eq!(sales["IsActive"], true);
    let sales = sales["Id"].as_str().unwrap().to_owned();
    let lead = json!({"LastName": "Owned", "Company": "Owner KK", "OwnerId": sales});
    let owned = sf.create("Lead", lead.clone()).await;

    let r = sf
        .call(
            "PATCH",
            &format!("sobjects/User/{sales}"),
            Some(json!({"IsActive": false})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = sf.get(&format!("sobjects/User/{sales}")).await;
    assert_eq!(r.body["IsActive"], false);

    let refusal = json!([{
        "message": format!("operation performed with inactive user [{}] as owner of lead", &sales[..15]),
        "errorCode": "INACTIVE_OWNER_OR_USER",
        "fields": [],
    }]);
    let r = sf.post("sobjects/Lead", lead.clone()).await;
    assert_eq!((r.status, &r.body), (400, &refusal));
    // An owner change to them too; the other writes of a collection still land.
    let other = sf
        .create("Lead", json!({"LastName": "Other", "Company": "Owner KK"}))
        .await;
    let r = sf
        .call(
            "PATCH",
            &format!("sobjects/Lead/{other}"),
            Some(json!({"OwnerId": sales})),
        )
        .await;
    assert_eq!((r.status, &r.body), (400, &refusal));
    let r = sf
        .post(
            "composite/sobjects",
            json!({"allOrNone": false, "records": [
                {"attributes": {"type": "Contact"}, "LastName": "Kept", "OwnerId": sales},
                {"attributes": {"type": "Contact"}, "LastName": "Kept"},
            ]}),
        )
        .await;
    assert_eq!(
        r.body[0]["errors"][0]["statusCode"],
        "INACTIVE_OWNER_OR_USER"
    );
    assert_eq!(r.body[1]["success"], true, "{}", r.body);
    // A record they already own still takes updates that leave its owner alone.
    let r = sf
        .call(
            "PATCH",
            &format!("sobjects/Lead/{owned}"),
            Some(json!({"Title": "CTO"})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    // An active owner is fine; so is this one once reactivated.
    let admin = sf.dir["accounts"][0]["username"].as_str().unwrap();
    let admin = sf
        .get(&format!(
            "query?q=SELECT+Id+FROM+User+WHERE+Username+=+'{admin}'"
        ))
        .await
        .body["records"][0]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    sf.create(
        "Lead",
        json!({"LastName": "Admin's", "Company": "Owner KK", "OwnerId": admin}),
    )
    .await;
    let r = sf
        .call(
            "PATCH",
            &format!("sobjects/User/{sales}"),
            Some(json!({"IsActive": true})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    sf.create("Lead", lead).await;
}

#[tokio::test]
async fn upsert_by_external_id_creates_then_updates() {
    let sf = Sf::start().await;
    let r = sf
        .call(
            "PATCH",
            "sobjects/Account/External_Id__c/ext-1",
            Some(json!({"Name": "One"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["created"], true);
    let id = r.body["id"].as_str().unwrap().to_owned();
    let r = sf
        .call(
            "PATCH",
            "sobjects/Account/External_Id__c/ext-1",
            Some(json!({"Name": "Uno"})),
        )
        .await;
    assert_eq!(
        (r.status, r.body["created"].as_bool(), r.body["id"].as_str()),
        (200, Some(false), Some(id.as_str()))
    );
    let r = sf.get("sobjects/Account/External_Id__c/ext-1").await;
    assert_eq!(r.body["Name"], "Uno");
    assert_error(
        &sf.call("PATCH", "sobjects/Account/Name/Uno", Some(json!({})))
            .await,
        404,
        "NOT_FOUND",
    );
    // Two records with one external id (written before the field was unique): 300.
    let r = sf.call("PATCH", "sobjects/Opportunity/External_Id__c/o1", Some(json!({"Name": "O", "StageName": "Prospecting", "CloseDate": "2025-01-31", "Room_URL__c": "https://meet.example.com/r/1"}))).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = sf.get("sobjects/Opportunity/External_Id__c/o1").await;
    assert_eq!(r.body["Room_URL__c"], "https://meet.example.com/r/1");
    assert_eq!(r.body["CloseDate"], "2025-01-31");
}

#[tokio::test]
async fn describe_shows_types_custom_fields_and_prefixes() {
    let sf = Sf::start().await;
    let g = sf.get("sobjects").await;
    assert_eq!(g.body["maxBatchSize"], 200);
    let prefixes: Vec<(String, String)> = g.body["sobjects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["name"].as_str().unwrap().to_owned(),
                o["keyPrefix"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for (name, prefix) in [
        ("Account", "001"),
        ("Contact", "003"),
        ("Lead", "00Q"),
        ("Opportunity", "006"),
        ("Task", "00T"),
        ("User", "005"),
        ("Organization", "00D"),
    ] {
        assert!(
            prefixes.contains(&(name.to_owned(), prefix.to_owned())),
            "{name}"
        );
    }
    let d = sf.get("sobjects/Opportunity/describe").await;
    let field = |d: &Value, n: &str| {
        d["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == n)
            .cloned()
            .unwrap()
    };
    let room = field(&d.body, "Room_URL__c");
    assert_eq!(
        (room["type"].as_str(), room["custom"].as_bool()),
        (Some("url"), Some(true))
    );
    assert_eq!(
        field(&d.body, "AccountId")["referenceTo"],
        json!(["Account"])
    );
    assert_eq!(field(&d.body, "AccountId")["relationshipName"], "Account");
    let lead = sf.get("sobjects/Lead/describe").await.body;
    for (n, t) in [
        ("Email", "email"),
        ("Phone", "phone"),
        ("Description", "textarea"),
        ("Website", "url"),
        ("Status", "picklist"),
        ("LastName", "string"),
        ("CreatedDate", "datetime"),
        ("Id", "id"),
    ] {
        assert_eq!(field(&lead, n)["type"], t, "{n}");
    }
    assert_eq!(field(&lead, "LastName")["nillable"], false);
    let acct = sf.get("sobjects/Account/describe").await.body;
    assert!(
        acct["childRelationships"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["relationshipName"] == "Contacts")
    );
    let basic = sf.get("sobjects/Account").await;
    assert_eq!(basic.body["objectDescribe"]["keyPrefix"], "001");
    let versions = sf
        .sb
        .client
        .get(format!("{}/services/data/", sf.instance))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert!(
        versions
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["version"] == "62.0" && v["label"] == "Winter '25")
    );
    assert!(
        versions
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["version"] == "59.0")
    );
}

#[tokio::test]
async fn queries_page_through_a_cursor_to_the_end() {
    let sf = Sf::start().await;
    sf.sb
        .control("salesforce", "seed", json!({"count": 9000, "seed": 3}))
        .await;
    let count = sf.get("query?q=SELECT+COUNT()+FROM+Lead").await.body["totalSize"]
        .as_u64()
        .unwrap();
    assert!(count > 2000, "{count}");
    let mut r = sf.get("query?q=SELECT+Id,Name,Email,Phone+FROM+Lead").await;
    assert_eq!(r.body["totalSize"].as_u64(), Some(count));
    let mut seen = std::collections::HashSet::new();
    let mut pages = 0;
    loop {
        pages += 1;
        for rec in r.body["records"].as_array().unwrap() {
            assert!(seen.insert(rec["Id"].as_str().unwrap().to_owned()));
        }
        if r.body["done"] == true {
            assert!(r.body.get("nextRecordsUrl").is_none());
            break;
        }
        assert_eq!(r.body["records"].as_array().unwrap().len(), 2000);
        let next = r.body["nextRecordsUrl"].as_str().unwrap().to_owned();
        assert!(
            next.starts_with(&format!("/services/data/{V}/query/01g")),
            "{next}"
        );
        r = sf.get(&next).await;
        assert_eq!(r.status, 200);
    }
    assert_eq!(seen.len() as u64, count);
    assert_eq!(pages as u64, count.div_ceil(2000));
    // batchSize, and a spent cursor.
    let r = sf
        .call_as(
            &sf.token,
            "GET",
            "query?q=SELECT+Id+FROM+Contact+ORDER+BY+Name",
            None,
            &[("Sforce-Query-Options", "batchSize=500")],
        )
        .await;
    assert_eq!(r.body["records"].as_array().unwrap().len(), 500);
    let next = r.body["nextRecordsUrl"].as_str().unwrap().to_owned();
    let second = sf
        .call_as(
            &sf.token,
            "GET",
            &next,
            None,
            &[("Sforce-Query-Options", "batchSize=500")],
        )
        .await;
    assert_eq!(second.body["records"].as_array().unwrap().len(), 500);
    let r = sf.get("query?q=SELECT+Id+FROM+Lead+LIMIT+5").await;
    assert_eq!(
        (r.body["totalSize"].as_u64(), r.body["done"].as_bool()),
        (Some(5), Some(true))
    );
    // WHERE on a seeded phone and a parent field.
    let r = sf.get("query?q=SELECT+Id,Account.Name+FROM+Contact+WHERE+Account.Name+LIKE+'%25株%25'+AND+Phone+!=+null+LIMIT+3").await;
    assert_eq!(r.status, 200, "{}", r.body);
    for rec in r.body["records"].as_array().unwrap() {
        assert!(rec["Account"]["Name"].as_str().unwrap().contains('株'));
    }
}

#[tokio::test]
async fn sosl_search_finds_phones_in_any_notation() {
    let sf = Sf::start().await;
    let a = sf
        .create(
            "Contact",
            json!({"LastName": "田中", "Phone": "（０３）１２３４－５６７８"}),
        )
        .await;
    let b = sf
        .create(
            "Lead",
            json!({"LastName": "Suzuki", "Company": "X", "MobilePhone": "03-1234-5678"}),
        )
        .await;
    sf.create(
        "Lead",
        json!({"LastName": "Other", "Company": "X", "Phone": "06-0000-0000"}),
    )
    .await;
    let r = sf.get("search?q=FIND+%7B0312345678%7D+IN+PHONE+FIELDS+RETURNING+Contact(Id,Name,Phone),Lead(Id,Name)").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let ids: Vec<&str> = r.body["searchRecords"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["Id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![a.as_str(), b.as_str()]);
    assert_eq!(r.body["searchRecords"][0]["attributes"]["type"], "Contact");
    let r = sf
        .get("parameterizedSearch?q=Suzuki&sobject=Lead&Lead.fields=Id,Name&in=NAME")
        .await;
    assert_eq!(r.body["searchRecords"][0]["Id"], b.as_str());
    let r = sf.post("parameterizedSearch", json!({"q": "1234-5678", "in": "PHONE", "sobjects": [{"name": "Contact", "fields": ["Id"]}]})).await;
    assert_eq!(
        r.body["searchRecords"].as_array().unwrap().len(),
        1,
        "{}",
        r.body
    );
}

#[tokio::test]
async fn collections_respect_all_or_none_and_the_200_limit() {
    let sf = Sf::start().await;
    let good = json!({"attributes": {"type": "Lead"}, "LastName": "A", "Company": "C"});
    let bad = json!({"attributes": {"type": "Lead"}, "LastName": "B"});
    let r = sf
        .post(
            "composite/sobjects",
            json!({"allOrNone": false, "records": [good, bad]}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body[0]["success"], true);
    assert_eq!(
        r.body[1]["errors"][0]["statusCode"],
        "REQUIRED_FIELD_MISSING"
    );
    assert_eq!(r.body[1]["errors"][0]["fields"], json!(["Company"]));
    let r = sf
        .post(
            "composite/sobjects",
            json!({"allOrNone": true, "records": [good, bad]}),
        )
        .await;
    assert_eq!(
        r.body[0]["errors"][0]["statusCode"],
        "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    );
    assert_eq!(
        sf.get("query?q=SELECT+COUNT()+FROM+Lead").await.body["totalSize"],
        1,
        "the first batch kept one, the second none"
    );
    let many: Vec<Value> = (0..201).map(|_| good.clone()).collect();
    assert_error(
        &sf.post("composite/sobjects", json!({"records": many}))
            .await,
        400,
        "EXCEEDED_ID_LIMIT",
    );
    let id = sf.get("query?q=SELECT+Id+FROM+Lead").await.body["records"][0]["Id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = sf
        .call(
            "PATCH",
            "composite/sobjects",
            Some(json!({"records": [{"attributes": {"type": "Lead"}, "id": id, "Company": "D"}]})),
        )
        .await;
    assert_eq!(r.body[0]["success"], true, "{}", r.body);
    let r = sf
        .get(&format!("composite/sobjects/Lead?ids={id}&fields=Company"))
        .await;
    assert_eq!(r.body[0]["Company"], "D");
    let r = sf.call("PATCH", "composite/sobjects/Account/External_Id__c", Some(json!({"records": [{"attributes": {"type": "Account"}, "External_Id__c": "k1", "Name": "K"}]}))).await;
    assert_eq!(r.body[0]["created"], true, "{}", r.body);
    let r = sf
        .call(
            "DELETE",
            &format!("composite/sobjects?ids={id},00Q5g0000000001AAA"),
            None,
        )
        .await;
    assert_eq!(r.body[0]["success"], true);
    assert_eq!(r.body[1]["success"], false);
}

#[tokio::test]
async fn composite_references_roll_back_and_batch_and_tree_work() {
    let sf = Sf::start().await;
    let r = sf
        .post(
            "composite",
            json!({"allOrNone": true, "compositeRequest": [
                {"method": "POST", "url": format!("/services/data/{V}/sobjects/Account"), "referenceId": "acct", "body": {"Name": "Ref Co"}},
                {"method": "POST", "url": format!("/services/data/{V}/sobjects/Contact"), "referenceId": "c1", "body": {"LastName": "Ref", "AccountId": "@{acct.id}"}},
                {"method": "GET", "url": format!("/services/data/{V}/sobjects/Account/@{{acct.id}}?fields=Name"), "referenceId": "read"},
                {"method": "GET", "url": format!("/services/data/{V}/query?q=SELECT+Id+FROM+Contact+WHERE+AccountId+=+'@{{acct.id}}'"), "referenceId": "q"},
            ]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let items = r.body["compositeResponse"].as_array().unwrap();
    assert_eq!(items[0]["httpStatusCode"], 201);
    assert!(
        items[0]["httpHeaders"]["Location"]
            .as_str()
            .unwrap()
            .contains("/sobjects/Account/001")
    );
    assert_eq!(items[2]["body"]["Name"], "Ref Co");
    assert_eq!(items[3]["body"]["totalSize"], 1);
    let r = sf
        .post(
            "composite",
            json!({"allOrNone": true, "compositeRequest": [
                {"method": "POST", "url": format!("/services/data/{V}/sobjects/Account"), "referenceId": "a", "body": {"Name": "Rolled"}},
                {"method": "POST", "url": format!("/services/data/{V}/sobjects/Lead"), "referenceId": "b", "body": {"LastName": "NoCompany"}},
            ]}),
        )
        .await;
    let items = r.body["compositeResponse"].as_array().unwrap();
    assert_eq!(items[0]["body"][0]["errorCode"], "PROCESSING_HALTED");
    assert_eq!(items[1]["body"][0]["errorCode"], "REQUIRED_FIELD_MISSING");
    let n = sf
        .get("query?q=SELECT+COUNT()+FROM+Account+WHERE+Name+=+'Rolled'")
        .await;
    assert_eq!(n.body["totalSize"], 0);
    let too_many: Vec<Value> = (0..26).map(|i| json!({"method": "GET", "url": format!("/services/data/{V}/limits"), "referenceId": format!("r{i}")})).collect();
    assert_eq!(
        sf.post("composite", json!({"compositeRequest": too_many}))
            .await
            .status,
        400
    );
    let r = sf
        .post(
            "composite/batch",
            json!({"haltOnError": true, "batchRequests": [
                {"method": "GET", "url": format!("{V}/limits")},
                {"method": "POST", "url": format!("{V}/sobjects/Lead"), "richInput": {"LastName": "x"}},
                {"method": "GET", "url": format!("{V}/limits")},
            ]}),
        )
        .await;
    assert_eq!(r.body["hasErrors"], true);
    assert_eq!(r.body["results"][0]["statusCode"], 200);
    assert_eq!(r.body["results"][1]["statusCode"], 400);
    assert_eq!(r.body["results"][2]["statusCode"], 412);
    let r = sf
        .post(
            "composite/tree/Account",
            json!({"records": [{"attributes": {"type": "Account", "referenceId": "t1"}, "Name": "Tree Co",
                "Contacts": {"records": [{"attributes": {"type": "Contact", "referenceId": "t2"}, "LastName": "Leaf"}]}}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["results"].as_array().unwrap().len(), 2);
    let q = sf
        .get("query?q=SELECT+Account.Name+FROM+Contact+WHERE+LastName+=+'Leaf'")
        .await;
    assert_eq!(q.body["records"][0]["Account"]["Name"], "Tree Co");
}

#[tokio::test]
async fn updated_and_deleted_windows() {
    let sf = Sf::start().await;
    let start = sf
        .sb
        .get_json(&sf.sb.url("salesforce", "/_control/clock"))
        .await
        .1["now"]
        .as_str()
        .unwrap()
        .to_owned();
    let id = sf.create("Contact", json!({"LastName": "Window"})).await;
    sf.call("DELETE", &format!("sobjects/Contact/{id}"), None)
        .await;
    let keep = sf.create("Contact", json!({"LastName": "Kept"})).await;
    sf.sb
        .control("salesforce", "clock", json!({"advance_seconds": 120}))
        .await;
    let end = sf
        .sb
        .get_json(&sf.sb.url("salesforce", "/_control/clock"))
        .await
        .1["now"]
        .as_str()
        .unwrap()
        .to_owned();
    let enc = |s: &str| renkei_sandbox::http::encode_query_value(s);
    let r = sf
        .get(&format!(
            "sobjects/Contact/updated/?start={}&end={}",
            enc(&start),
            enc(&end)
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["ids"], json!([keep]));
    let r = sf
        .get(&format!(
            "sobjects/Contact/deleted/?start={}&end={}",
            enc(&start),
            enc(&end)
        ))
        .await;
    assert_eq!(r.body["deletedRecords"][0]["id"], id.as_str());
    assert_error(
        &sf.get("sobjects/Contact/updated/?start=2020-01-01T00:00:00Z&end=2020-01-02T00:00:00Z")
            .await,
        400,
        "INVALID_REPLICATION_DATE",
    );
    assert_error(
        &sf.get("sobjects/Contact/updated/").await,
        400,
        "MISSING_ARGUMENT",
    );
}

#[tokio::test]
async fn daily_api_limit_header_403_and_reset() {
    let sf = Sf::start().await;
    let r = sf.get("limits").await;
    assert_eq!(r.headers["sforce-limit-info"], "api-usage=1/15000");
    assert_eq!(r.body["DailyApiRequests"]["Max"], 15000);
    assert_eq!(r.body["DailyApiRequests"]["Remaining"], 14999);
    sf.sb
        .control("salesforce", "limits", json!({"daily_api_requests": 3}))
        .await;
    assert_eq!(
        sf.get("limits").await.headers["sforce-limit-info"],
        "api-usage=2/3"
    );
    assert_eq!(sf.get("limits").await.status, 200);
    let r = sf.get("limits").await;
    assert_error(&r, 403, "REQUEST_LIMIT_EXCEEDED");
    assert_eq!(r.body[0]["message"], "TotalRequests Limit exceeded.");
    assert_eq!(r.headers["sforce-limit-info"], "api-usage=3/3");
    sf.sb
        .control("salesforce", "clock", json!({"advance_seconds": 86_400}))
        .await;
    // The session died meanwhile (2 hours); the allowance came back.
    let fresh = sf.sb.control("salesforce", "tokens", Value::Null).await;
    let r = sf
        .call_as(
            fresh["access_token"].as_str().unwrap(),
            "GET",
            "limits",
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["sforce-limit-info"], "api-usage=1/3");
    let bad = sf
        .sb
        .client
        .post(sf.sb.url("salesforce", "/_control/limits"))
        .json(&json!({"hourly": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let bad = sf
        .sb
        .client
        .post(sf.sb.url("salesforce", "/_control/settings"))
        .json(&json!({"colour": 1}))
        .send()
        .await
        .unwrap();
    assert!(bad.text().await.unwrap().contains("unknown field"));
}

#[tokio::test]
async fn faults_answer_in_salesforce_shapes() {
    let sf = Sf::start().await;
    sf.sb
        .control(
            "salesforce",
            "faults",
            json!({"kind": "expired_token", "path_prefix": "/instances"}),
        )
        .await;
    assert_error(&sf.get("limits").await, 401, "INVALID_SESSION_ID");
    assert_error(&sf.get("limits").await, 401, "INVALID_SESSION_ID");
    sf.sb
        .control(
            "salesforce",
            "faults",
            json!({"kind": "server_error", "status": 500}),
        )
        .await;
    let fresh = sf.sb.control("salesforce", "tokens", Value::Null).await;
    let r = sf
        .call_as(
            fresh["access_token"].as_str().unwrap(),
            "GET",
            "limits",
            None,
            &[],
        )
        .await;
    assert_error(&r, 500, "UNKNOWN_EXCEPTION");
}

#[tokio::test]
async fn a_2000_row_page_is_fast_with_100k_records() {
    let sf = Sf::start().await;
    let started = std::time::Instant::now();
    sf.sb
        .control("salesforce", "seed", json!({"count": 100_000, "seed": 9}))
        .await;
    let seeded = started.elapsed();
    let r = sf
        .get("query?q=SELECT+Id,Name,Email,Phone,Account.Name+FROM+Contact")
        .await;
    let next = r.body["nextRecordsUrl"].as_str().unwrap().to_owned();
    let t = std::time::Instant::now();
    let page = sf.get(&next).await;
    let paged = t.elapsed();
    assert_eq!(page.body["records"].as_array().unwrap().len(), 2000);
    eprintln!("seeded 100k in {seeded:?}; a 2,000-row page in {paged:?}");
    // Generous bounds: the tests run unoptimised on a shared machine.
    assert!(seeded.as_secs() < 60);
    assert!(paged.as_millis() < 1500);
}
