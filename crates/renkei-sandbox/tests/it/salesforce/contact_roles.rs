//! `OpportunityContactRole`, the role a Contact plays on an Opportunity: describe shows it as
//! the Object Reference does, with its Opportunity set on create only and both parents seeing it
//! as `OpportunityContactRoles`; writes are validated like any object's; and an Opportunity keeps
//! one primary contact, also through an all-or-none rollback.

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

/// An Opportunity and a Contact to give roles to.
async fn opportunity_and_contact(sf: &Sf) -> (String, String) {
    let opp = sf
        .create(
            "Opportunity",
            json!({"Name": "Renewal", "StageName": "Prospecting", "CloseDate": "2025-03-31"}),
        )
        .await;
    let contact = sf
        .create(
            "Contact",
            json!({"FirstName": "Aiko", "LastName": "Tanaka"}),
        )
        .await;
    (opp, contact)
}

/// The `IsPrimary` of role `id`.
async fn primary(sf: &Sf, id: &str) -> Value {
    let r = sf
        .get(&format!(
            "sobjects/OpportunityContactRole/{id}?fields=IsPrimary"
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["IsPrimary"].clone()
}

#[tokio::test]
async fn describe_shows_the_role_object_and_its_parents_see_it() {
    let sf = Sf::start().await;
    let g = sf.get("sobjects").await;
    let role = g.body["sobjects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "OpportunityContactRole")
        .unwrap_or_else(|| panic!("OpportunityContactRole missing: {}", g.body))
        .clone();
    for (key, want) in [
        ("keyPrefix", json!("00K")),
        ("label", json!("Opportunity Contact Role")),
        ("labelPlural", json!("Opportunity Contact Roles")),
        ("custom", json!(false)),
        ("createable", json!(true)),
        ("updateable", json!(true)),
        ("deletable", json!(true)),
        ("queryable", json!(true)),
        ("searchable", json!(false)),
    ] {
        assert_eq!(role[key], want, "{key}");
    }

    let d = sf.get("sobjects/OpportunityContactRole/describe").await;
    assert_eq!(d.status, 200, "{}", d.body);
    let d = d.body;
    for name in [
        "Id",
        "IsDeleted",
        "CreatedDate",
        "CreatedById",
        "LastModifiedDate",
        "LastModifiedById",
        "SystemModstamp",
    ] {
        assert_eq!(field(&d, name)["custom"], false, "{name}");
    }
    let names: Vec<&str> = d["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(
        !names.contains(&"OwnerId") && !names.contains(&"Name"),
        "{names:?}"
    );
    // (type, nillable, createable, updateable, referenceTo, relationshipName)
    for (name, want) in [
        (
            "OpportunityId",
            json!([
                "reference",
                false,
                true,
                false,
                ["Opportunity"],
                "Opportunity"
            ]),
        ),
        (
            "ContactId",
            json!(["reference", false, true, true, ["Contact"], "Contact"]),
        ),
        ("IsPrimary", json!(["boolean", false, true, true, [], null])),
        ("Role", json!(["picklist", true, true, true, [], null])),
    ] {
        let f = field(&d, name);
        let got = json!([
            f["type"],
            f["nillable"],
            f["createable"],
            f["updateable"],
            f["referenceTo"],
            f["relationshipName"]
        ]);
        assert_eq!(got, want, "{name}");
    }
    assert_eq!(field(&d, "IsPrimary")["defaultedOnCreate"], true);
    let role_field = field(&d, "Role");
    assert_eq!(role_field["restrictedPicklist"], false);
    let values: Vec<&str> = role_field["picklistValues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        values,
        vec![
            "Business User",
            "Decision Maker",
            "Economic Buyer",
            "Economic Decision Maker",
            "Evaluator",
            "Executive Sponsor",
            "Influencer",
            "Technical Buyer",
            "Other",
        ]
    );

    // Opportunity and Contact both list the roles as `OpportunityContactRoles`.
    for (parent, lookup) in [("Opportunity", "OpportunityId"), ("Contact", "ContactId")] {
        let p = sf.get(&format!("sobjects/{parent}/describe")).await.body;
        assert!(
            p["childRelationships"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["childSObject"] == "OpportunityContactRole"
                    && c["field"] == lookup
                    && c["relationshipName"] == "OpportunityContactRoles"),
            "{parent}: {}",
            p["childRelationships"]
        );
    }
}

#[tokio::test]
async fn roles_are_created_queried_and_updated() {
    let sf = Sf::start().await;
    let (opp, contact) = opportunity_and_contact(&sf).await;
    let role = sf
        .create(
            "OpportunityContactRole",
            json!({"OpportunityId": opp, "ContactId": contact, "IsPrimary": true, "Role": "Decision Maker"}),
        )
        .await;
    assert!(role.starts_with("00K"), "{role}");

    let q = sf
        .get(&format!(
            "query?q={}",
            enc(&format!(
                "SELECT ContactId, IsPrimary, Role FROM OpportunityContactRole WHERE OpportunityId = '{opp}'"
            ))
        ))
        .await;
    assert_eq!(q.status, 200, "{}", q.body);
    assert_eq!(q.body["totalSize"], 1, "{}", q.body);
    let rec = &q.body["records"][0];
    assert_eq!(rec["attributes"]["type"], "OpportunityContactRole");
    assert_eq!(
        (&rec["ContactId"], &rec["IsPrimary"], &rec["Role"]),
        (&json!(contact), &json!(true), &json!("Decision Maker"))
    );
    // Both parents through their relationship names.
    let q = sf
        .get(&format!(
            "query?q={}",
            enc(&format!(
                "SELECT Opportunity.Name, Contact.LastName FROM OpportunityContactRole WHERE ContactId = '{contact}'"
            ))
        ))
        .await;
    assert_eq!(
        q.body["records"][0]["Opportunity"]["Name"], "Renewal",
        "{}",
        q.body
    );
    assert_eq!(q.body["records"][0]["Contact"]["LastName"], "Tanaka");

    // IsPrimary is defaulted on create; Role may stay empty.
    let plain = sf
        .create(
            "OpportunityContactRole",
            json!({"OpportunityId": opp, "ContactId": contact}),
        )
        .await;
    let r = sf
        .get(&format!("sobjects/OpportunityContactRole/{plain}"))
        .await;
    assert_eq!(
        (&r.body["IsPrimary"], &r.body["Role"]),
        (&json!(false), &Value::Null)
    );
    assert_eq!(r.body["OpportunityId"], json!(opp));

    // The contact and the role may change; the Opportunity may not.
    let other = sf.create("Contact", json!({"LastName": "Suzuki"})).await;
    let r = sf
        .call(
            "PATCH",
            &format!("sobjects/OpportunityContactRole/{role}"),
            Some(json!({"ContactId": other, "Role": "Economic Buyer"})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = sf
        .get(&format!("sobjects/OpportunityContactRole/{role}"))
        .await;
    assert_eq!(
        (&r.body["ContactId"], &r.body["Role"]),
        (&json!(other), &json!("Economic Buyer"))
    );
    let opp2 = sf
        .create(
            "Opportunity",
            json!({"Name": "Upsell", "StageName": "Qualification", "CloseDate": "2025-06-30"}),
        )
        .await;
    let r = sf
        .call(
            "PATCH",
            &format!("sobjects/OpportunityContactRole/{role}"),
            Some(json!({"OpportunityId": opp2})),
        )
        .await;
    assert_error(&r, 400, "INVALID_FIELD_FOR_INSERT_UPDATE");
    assert_eq!(r.body[0]["fields"], json!(["OpportunityId"]), "{}", r.body);
    let r = sf
        .call(
            "PATCH",
            &format!("sobjects/OpportunityContactRole/{role}"),
            Some(json!({"ContactId": null})),
        )
        .await;
    assert_error(&r, 400, "REQUIRED_FIELD_MISSING");
    assert_eq!(r.body[0]["fields"], json!(["ContactId"]), "{}", r.body);
}

#[tokio::test]
async fn role_writes_are_validated() {
    let sf = Sf::start().await;
    let (opp, contact) = opportunity_and_contact(&sf).await;

    // A well-formed Contact id that names no record.
    let r = sf
        .post(
            "sobjects/OpportunityContactRole",
            json!({"OpportunityId": opp, "ContactId": "003000000000000AAA"}),
        )
        .await;
    assert_error(&r, 400, "INVALID_CROSS_REFERENCE_KEY");
    assert_eq!(r.body[0]["fields"], json!(["ContactId"]), "{}", r.body);

    let r = sf
        .post(
            "sobjects/OpportunityContactRole",
            json!({"ContactId": contact, "Role": "Evaluator"}),
        )
        .await;
    assert_error(&r, 400, "REQUIRED_FIELD_MISSING");
    assert_eq!(r.body[0]["fields"], json!(["OpportunityId"]), "{}", r.body);

    // An id of another object in either lookup.
    for body in [
        json!({"OpportunityId": contact, "ContactId": contact}),
        json!({"OpportunityId": opp, "ContactId": opp}),
    ] {
        let r = sf.post("sobjects/OpportunityContactRole", body).await;
        assert_error(&r, 400, "FIELD_INTEGRITY_EXCEPTION");
    }
    let r = sf
        .post(
            "sobjects/OpportunityContactRole",
            json!({"OpportunityId": opp, "ContactId": contact, "IsPrimary": "maybe"}),
        )
        .await;
    assert_error(&r, 400, "JSON_PARSER_ERROR");
    let q = sf
        .get(&format!(
            "query?q={}",
            enc("SELECT COUNT() FROM OpportunityContactRole")
        ))
        .await;
    assert_eq!(q.body["totalSize"], 0, "{}", q.body);
}

#[tokio::test]
async fn an_opportunity_keeps_one_primary_contact() {
    let sf = Sf::start().await;
    let (opp, first) = opportunity_and_contact(&sf).await;
    let second = sf.create("Contact", json!({"LastName": "Ito"})).await;
    let role = |contact: &str, primary: bool| json!({"OpportunityId": opp, "ContactId": contact, "IsPrimary": primary});
    let a = sf
        .create("OpportunityContactRole", role(&first, true))
        .await;
    // A primary role on another Opportunity is left alone.
    let other_opp = sf
        .create(
            "Opportunity",
            json!({"Name": "Elsewhere", "StageName": "Prospecting", "CloseDate": "2025-03-31"}),
        )
        .await;
    let elsewhere = sf
        .create(
            "OpportunityContactRole",
            json!({"OpportunityId": other_opp, "ContactId": first, "IsPrimary": true}),
        )
        .await;

    // A new primary role takes the flag from the old one.
    let b = sf
        .create("OpportunityContactRole", role(&second, true))
        .await;
    assert_eq!(primary(&sf, &a).await, false);
    assert_eq!(primary(&sf, &b).await, true);
    assert_eq!(primary(&sf, &elsewhere).await, true);

    // A non-primary role changes nothing.
    let c = sf
        .create("OpportunityContactRole", role(&first, false))
        .await;
    assert_eq!(primary(&sf, &b).await, true);
    assert_eq!(primary(&sf, &c).await, false);

    // Updating a role to primary takes the flag too.
    let r = sf
        .call(
            "PATCH",
            &format!("sobjects/OpportunityContactRole/{a}"),
            Some(json!({"IsPrimary": true})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(primary(&sf, &a).await, true);
    assert_eq!(primary(&sf, &b).await, false);
    let q = sf
        .get(&format!(
            "query?q={}",
            enc(&format!(
                "SELECT Id FROM OpportunityContactRole WHERE OpportunityId = '{opp}' AND IsPrimary = true"
            ))
        ))
        .await;
    assert_eq!(q.body["totalSize"], 1, "{}", q.body);
    assert_eq!(q.body["records"][0]["Id"], json!(a));

    // An all-or-none request that fails gives the flag back.
    let r = sf
        .post(
            "composite/sobjects",
            json!({"allOrNone": true, "records": [
                {"attributes": {"type": "OpportunityContactRole"}, "OpportunityId": opp, "ContactId": second, "IsPrimary": true},
                {"attributes": {"type": "OpportunityContactRole"}, "OpportunityId": opp},
            ]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body[0]["success"], false, "{}", r.body);
    assert_eq!(r.body[1]["success"], false, "{}", r.body);
    assert_eq!(primary(&sf, &a).await, true);
    let q = sf
        .get(&format!(
            "query?q={}",
            enc(&format!(
                "SELECT COUNT() FROM OpportunityContactRole WHERE OpportunityId = '{opp}'"
            ))
        ))
        .await;
    assert_eq!(q.body["totalSize"], 3, "{}", q.body);
}
