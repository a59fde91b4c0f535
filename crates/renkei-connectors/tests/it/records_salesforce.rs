//! The write-back recipes' Salesforce writes (`salesforce::records`) against the emulator:
//! every function's happy path checked on the record read back through the REST API with plain
//! reqwest, the refusals Salesforce names a field for, unknown records, the duplicate rule,
//! `find_activity` before and after a write and for another key, a 5xx and a dropped
//! connection on create followed by the lookup that tells whether the write landed, appending
//! twice, and describe.

use renkei_connectors::people::PersonObject;
use renkei_connectors::records::{
    ActivityKind, CallDetails, CallDirection, FieldKind, NewActivity, NewCompany, NewPerson,
    PersonLookup, RecordRef,
};
use renkei_connectors::salesforce::records;
use renkei_connectors::{ConnectorError, Provider, Session};
use renkei_core::Millis;
use serde_json::{Map, Value, json};

use crate::sandbox::{Minted, Sandboxed};

const P: Provider = Provider::Salesforce;
/// 2024-01-15T09:30:00Z.
const T: Millis = Millis(1_705_311_000_000);

struct Org {
    sb: Sandboxed,
    m: Minted,
}

impl Org {
    async fn start() -> Org {
        let sb = Sandboxed::start().await;
        let m = sb.mint(P, None).await;
        Org { sb, m }
    }

    fn s(&self) -> Session<'_> {
        self.m.session()
    }

    fn http(&self) -> &renkei_connectors::http::HttpClient {
        &self.sb.connectors.http
    }

    fn ep(&self) -> &renkei_connectors::registry::Endpoints {
        self.sb.connectors.registry.endpoints(P)
    }

    fn rest(&self) -> String {
        format!(
            "{}/services/data/v62.0",
            self.m.meta.instance_url.as_deref().unwrap()
        )
    }

    /// The request-log path of `sobjects/{object}` (below `/sandbox/salesforce`).
    fn sobject_path(&self, object: &str) -> String {
        let url = url::Url::parse(self.m.meta.instance_url.as_deref().unwrap()).unwrap();
        let path = url.path().strip_prefix("/sandbox/salesforce").unwrap();
        format!("{path}/services/data/v62.0/sobjects/{object}")
    }

    async fn vendor(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .sb
            .http
            .request(method, format!("{}{path}", self.rest()))
            .bearer_auth(self.m.access_token.expose());
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A record through the REST API.
    async fn get(&self, object: &str, id: &str) -> Value {
        let (status, v) = self
            .vendor(
                reqwest::Method::GET,
                &format!("/sobjects/{object}/{id}"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{v}");
        v
    }

    async fn create(&self, object: &str, body: Value) -> String {
        let (status, v) = self
            .vendor(
                reqwest::Method::POST,
                &format!("/sobjects/{object}"),
                Some(body),
            )
            .await;
        assert_eq!(status, 201, "{v}");
        v["id"].as_str().unwrap().to_owned()
    }

    async fn delete(&self, object: &str, id: &str) {
        let (status, v) = self
            .vendor(
                reqwest::Method::DELETE,
                &format!("/sobjects/{object}/{id}"),
                None,
            )
            .await;
        assert_eq!(status, 204, "{v}");
    }

    /// The ids a SOQL statement answers.
    async fn soql_ids(&self, soql: &str) -> Vec<String> {
        let url = reqwest::Url::parse_with_params(&format!("{}/query", self.rest()), [("q", soql)])
            .unwrap();
        let page: Value = self
            .sb
            .http
            .get(url)
            .bearer_auth(self.m.access_token.expose())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        page["records"]
            .as_array()
            .unwrap_or_else(|| panic!("{page}"))
            .iter()
            .map(|r| r["Id"].as_str().unwrap().to_owned())
            .collect()
    }

    async fn advance(&self, seconds: u64) {
        self.sb
            .control(P, "clock", json!({ "advance_seconds": seconds }))
            .await;
    }

    async fn opportunity(&self) -> String {
        self.create(
            "Opportunity",
            json!({"Name": "Deal", "StageName": "Prospecting", "CloseDate": "2025-03-31"}),
        )
        .await
    }

    async fn admin_id(&self) -> String {
        self.soql_ids("SELECT Id FROM User ORDER BY CreatedDate, Id LIMIT 1")
            .await
            .remove(0)
    }

    async fn find_people(
        &self,
        objects: &[PersonObject],
        q: &PersonLookup,
    ) -> Result<Vec<String>, ConnectorError> {
        let mut ids: Vec<String> =
            records::find_people(self.http(), self.ep(), self.s(), objects, q)
                .await?
                .into_iter()
                .map(|p| p.remote_id)
                .collect();
        ids.sort();
        Ok(ids)
    }

    async fn create_activity(&self, a: &NewActivity) -> Result<RecordRef, ConnectorError> {
        records::create_activity(self.http(), self.ep(), self.s(), a).await
    }

    async fn find_activity(&self, a: &NewActivity) -> Option<RecordRef> {
        records::find_activity(self.http(), self.ep(), self.s(), a)
            .await
            .unwrap()
    }
}

fn invalid_field(e: ConnectorError) -> Option<String> {
    match e {
        ConnectorError::Invalid { field, .. } => field,
        other => panic!("not Invalid: {other:?}"),
    }
}

fn lead(last: &str, company: Option<&str>) -> NewPerson {
    NewPerson {
        object: PersonObject::Lead,
        last_name: last.into(),
        first_name: None,
        company: company.map(str::to_owned),
        account: None,
        email: None,
        phone: None,
        description: None,
        owner_id: None,
        extra: Map::new(),
    }
}

fn call(key: &str, person: &str) -> NewActivity {
    NewActivity {
        kind: ActivityKind::Call,
        key: key.into(),
        subject: "着信 03-1234-5678".into(),
        body: "折り返し希望".into(),
        occurred_at: T,
        ends_at: None,
        owner_id: None,
        person: Some(RecordRef::new("Contact", person)),
        deal: None,
        call: Some(CallDetails {
            direction: CallDirection::Inbound,
            duration_seconds: 185,
            phone: Some("03-1234-5678".into()),
            recording_url: None,
        }),
        completed: true,
    }
}

#[tokio::test]
async fn people_are_found_by_phone_in_any_notation_and_by_exact_email() {
    let o = Org::start().await;
    let l = o
        .create(
            "Lead",
            json!({"LastName": "山田", "Company": "さくら", "Phone": "03-1234-5678", "Email": "Taro@Sakura.example"}),
        )
        .await;
    let c = o
        .create(
            "Contact",
            json!({"LastName": "佐藤", "Phone": "+81 3 1234 5678", "Email": "sato@sakura.example"}),
        )
        .await;
    let mobile = o
        .create(
            "Contact",
            json!({"LastName": "鈴木", "MobilePhone": "(03) 1234-5678"}),
        )
        .await;
    // Another number, and an email that merely contains the one searched.
    o.create(
        "Contact",
        json!({"LastName": "高橋", "Phone": "03-9999-0000", "Email": "mtaro@sakura.example"}),
    )
    .await;
    let by_phone = PersonLookup {
        phone_e164: Some("+81312345678".into()),
        phone_national: vec!["03-1234-5678".into(), "0312345678".into()],
        email: None,
    };
    let mut want = vec![l.clone(), c.clone(), mobile.clone()];
    want.sort();
    assert_eq!(
        o.find_people(&[PersonObject::Lead, PersonObject::Contact], &by_phone)
            .await
            .unwrap(),
        want
    );
    let mut contacts = vec![c.clone(), mobile];
    contacts.sort();
    assert_eq!(
        o.find_people(&[PersonObject::Contact], &by_phone)
            .await
            .unwrap(),
        contacts
    );
    // The person comes back mapped as the import maps it.
    let found = records::find_people(o.http(), o.ep(), o.s(), &[PersonObject::Lead], &by_phone)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].object, PersonObject::Lead);
    assert_eq!(found[0].company.as_deref(), Some("さくら"));
    assert_eq!(found[0].phone.as_deref(), Some("03-1234-5678"));

    let by_email = PersonLookup {
        email: Some("taro@sakura.example".into()),
        ..Default::default()
    };
    assert_eq!(
        o.find_people(&[PersonObject::Lead, PersonObject::Contact], &by_email)
            .await
            .unwrap(),
        vec![l.clone()]
    );
    // Both: a record found twice is answered once.
    let both = PersonLookup {
        email: Some("sato@sakura.example".into()),
        ..by_phone.clone()
    };
    assert_eq!(
        o.find_people(&[PersonObject::Lead, PersonObject::Contact], &both)
            .await
            .unwrap(),
        want
    );
    // Not found.
    let nobody = PersonLookup {
        phone_e164: Some("+81355550000".into()),
        email: Some("nobody@else.example".into()),
        ..Default::default()
    };
    assert!(
        o.find_people(&[PersonObject::Lead, PersonObject::Contact], &nobody)
            .await
            .unwrap()
            .is_empty()
    );
    // Nothing to search with.
    let e = o
        .find_people(&[PersonObject::Lead], &PersonLookup::default())
        .await
        .unwrap_err();
    assert_eq!(invalid_field(e).as_deref(), Some("phone_e164"));
    o.sb.stop().await;
}

#[tokio::test]
async fn people_are_created_field_by_field_and_refusals_name_the_field() {
    let o = Org::start().await;
    let owner = o.admin_id().await;
    let acct = o.create("Account", json!({"Name": "さくら商事"})).await;
    let mut extra = Map::new();
    extra.insert("LeadSource".into(), json!("Phone Inquiry"));
    let p = NewPerson {
        object: PersonObject::Lead,
        last_name: "山田".into(),
        first_name: Some("太郎".into()),
        company: Some("さくら商事".into()),
        account: None,
        email: Some("taro@sakura.example".into()),
        phone: Some("03-1234-5678".into()),
        description: Some("first call".into()),
        owner_id: Some(owner.clone()),
        extra,
    };
    let r = records::create_person(o.http(), o.ep(), o.s(), &p)
        .await
        .unwrap();
    assert_eq!(r.object, "Lead");
    let v = o.get("Lead", &r.id).await;
    for (field, want) in [
        ("LastName", "山田"),
        ("FirstName", "太郎"),
        ("Company", "さくら商事"),
        ("Email", "taro@sakura.example"),
        ("Phone", "03-1234-5678"),
        ("Description", "first call"),
        ("LeadSource", "Phone Inquiry"),
        ("OwnerId", owner.as_str()),
        ("Status", "Open - Not Contacted"),
    ] {
        assert_eq!(v[field], want, "{field}: {v}");
    }

    let contact = NewPerson {
        object: PersonObject::Contact,
        company: None,
        account: Some(RecordRef::new("Account", &acct)),
        email: Some("hanako@sakura.example".into()),
        first_name: Some("花子".into()),
        extra: Map::new(),
        ..p.clone()
    };
    let r = records::create_person(o.http(), o.ep(), o.s(), &contact)
        .await
        .unwrap();
    assert_eq!(r.object, "Contact");
    let v = o.get("Contact", &r.id).await;
    assert_eq!(v["AccountId"], acct.as_str());
    assert_eq!(v["LastName"], "山田");
    assert_eq!(v["Email"], "hanako@sakura.example");

    // Salesforce's own refusals name the field.
    let e = records::create_person(o.http(), o.ep(), o.s(), &lead("山田", None))
        .await
        .unwrap_err();
    assert_eq!(invalid_field(e).as_deref(), Some("Company"));
    let e = records::create_person(o.http(), o.ep(), o.s(), &lead("  ", Some("X")))
        .await
        .unwrap_err();
    assert_eq!(invalid_field(e).as_deref(), Some("LastName"));
    let mut bad_email = lead("Sato", Some("X"));
    bad_email.email = Some("not-an-email".into());
    let e = records::create_person(o.http(), o.ep(), o.s(), &bad_email)
        .await
        .unwrap_err();
    assert_eq!(invalid_field(e).as_deref(), Some("Email"));
    // An account that does not exist.
    let mut ghost = contact.clone();
    ghost.account = Some(RecordRef::new("Account", "0015g00000ZZZZZAAA"));
    let e = records::create_person(o.http(), o.ep(), o.s(), &ghost)
        .await
        .unwrap_err();
    assert_eq!(invalid_field(e).as_deref(), Some("AccountId"));

    // With the standard duplicate rule on, the existing record is named.
    o.sb.control(P, "settings", json!({"duplicate_rule": true}))
        .await;
    let e = records::create_person(o.http(), o.ep(), o.s(), &p)
        .await
        .unwrap_err();
    let first = o
        .soql_ids("SELECT Id FROM Lead WHERE Email = 'taro@sakura.example'")
        .await;
    match e {
        ConnectorError::Duplicate { existing_id, .. } => assert_eq!(vec![existing_id], first),
        other => panic!("{other:?}"),
    }
    o.sb.stop().await;
}

#[tokio::test]
async fn accounts_are_found_by_name_or_website_oldest_first_and_created() {
    let o = Org::start().await;
    let find = |name: Option<&'static str>, domain: Option<&'static str>| {
        let o = &o;
        async move {
            records::find_company(o.http(), o.ep(), o.s(), name, domain)
                .await
                .map(|r| r.map(|r| r.id))
        }
    };
    assert_eq!(find(Some("さくら商事"), None).await.unwrap(), None);
    let older = o
        .create(
            "Account",
            json!({"Name": "Sakura Trading", "Website": "https://www.sakura.example.co.jp/ja/"}),
        )
        .await;
    o.advance(60).await;
    let newer = o.create("Account", json!({"Name": "sakura trading"})).await;
    o.create(
        "Account",
        json!({"Name": "Other", "Website": "notsakura.example.co.jp"}),
    )
    .await;
    assert_eq!(
        find(Some("SAKURA TRADING"), None).await.unwrap(),
        Some(older.clone())
    );
    assert_eq!(
        find(None, Some("sakura.example.co.jp")).await.unwrap(),
        Some(older.clone())
    );
    assert_eq!(find(None, Some("example.co.jp")).await.unwrap(), None);
    o.delete("Account", &older).await;
    assert_eq!(
        find(Some("Sakura Trading"), Some("sakura.example.co.jp"))
            .await
            .unwrap(),
        Some(newer.clone())
    );
    let e = find(None, None).await.unwrap_err();
    assert_eq!(invalid_field(e).as_deref(), Some("name"));
    let e = find(None, Some("bad'domain")).await.unwrap_err();
    assert_eq!(invalid_field(e).as_deref(), Some("domain"));

    let c = NewCompany {
        name: "株式会社さくら".into(),
        domain: Some("sakura.example.jp".into()),
        owner_id: None,
        extra: Map::new(),
    };
    let r = records::create_company(o.http(), o.ep(), o.s(), &c)
        .await
        .unwrap();
    assert_eq!(r.object, "Account");
    let v = o.get("Account", &r.id).await;
    assert_eq!(v["Name"], "株式会社さくら");
    assert_eq!(v["Website"], "sakura.example.jp");
    assert_eq!(
        find(None, Some("sakura.example.jp")).await.unwrap(),
        Some(r.id.clone())
    );
    let e = records::create_company(
        o.http(),
        o.ep(),
        o.s(),
        &NewCompany {
            name: " ".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(invalid_field(e).as_deref(), Some("Name"));
    o.sb.stop().await;
}

#[tokio::test]
async fn a_contact_is_associated_with_its_account() {
    let o = Org::start().await;
    let acct = o.create("Account", json!({"Name": "A"})).await;
    let c = o.create("Contact", json!({"LastName": "C"})).await;
    let l = o
        .create("Lead", json!({"LastName": "L", "Company": "X"}))
        .await;
    let to = RecordRef::new("Account", &acct);
    records::associate(o.http(), o.ep(), o.s(), &RecordRef::new("Contact", &c), &to)
        .await
        .unwrap();
    assert_eq!(o.get("Contact", &c).await["AccountId"], acct.as_str());
    // Again: the same result.
    records::associate(o.http(), o.ep(), o.s(), &RecordRef::new("Contact", &c), &to)
        .await
        .unwrap();
    assert_eq!(o.get("Contact", &c).await["AccountId"], acct.as_str());
    match records::associate(o.http(), o.ep(), o.s(), &RecordRef::new("Lead", &l), &to).await {
        Err(ConnectorError::Invalid { code, field, .. }) => {
            assert_eq!((code.as_str(), field), ("unsupported", None))
        }
        other => panic!("{other:?}"),
    }
    o.delete("Contact", &c).await;
    let e = records::associate(o.http(), o.ep(), o.s(), &RecordRef::new("Contact", &c), &to)
        .await
        .unwrap_err();
    assert!(matches!(e, ConnectorError::NotFound { .. }), "{e:?}");
    o.sb.stop().await;
}

#[tokio::test]
async fn activities_are_written_field_by_field_and_found_by_their_key() {
    let o = Org::start().await;
    let owner = o.admin_id().await;
    let c = o.create("Contact", json!({"LastName": "山田"})).await;
    let opp = o.opportunity().await;

    // A call.
    let mut a = call("renkei:t1:ev1:call", &c);
    a.deal = Some(RecordRef::new("Opportunity", &opp));
    a.owner_id = Some(owner.clone());
    assert_eq!(o.find_activity(&a).await, None, "before the write");
    let r = o.create_activity(&a).await.unwrap();
    assert_eq!(r.object, "Task");
    let v = o.get("Task", &r.id).await;
    for (field, want) in [
        ("TaskSubtype", json!("Call")),
        ("CallType", json!("Inbound")),
        ("CallDurationInSeconds", json!(185)),
        ("Status", json!("Completed")),
        ("ActivityDate", json!("2024-01-15")),
        ("Subject", json!("着信 03-1234-5678")),
        ("Description", json!("折り返し希望")),
        ("WhoId", json!(c)),
        ("WhatId", json!(opp)),
        ("OwnerId", json!(owner)),
        ("CallObject", json!("renkei:t1:ev1:call")),
    ] {
        assert_eq!(v[field], want, "{field}: {v}");
    }
    assert_eq!(o.find_activity(&a).await, Some(r.clone()));
    let mut other = a.clone();
    other.key = "renkei:t1:ev2:call".into();
    assert_eq!(o.find_activity(&other).await, None, "another key");

    // A task, open and then done; an email.
    let mut task = call("renkei:t1:ev3:task", &c);
    task.kind = ActivityKind::Task;
    task.call = None;
    task.completed = false;
    let r = o.create_activity(&task).await.unwrap();
    let v = o.get("Task", &r.id).await;
    assert_eq!(
        (v["TaskSubtype"].clone(), v["Status"].clone()),
        (json!("Task"), json!("Not Started"))
    );
    assert_eq!(v["CallType"], Value::Null);
    assert_eq!(o.find_activity(&task).await, Some(r));
    task.key = "renkei:t1:ev4:task".into();
    task.completed = true;
    let r = o.create_activity(&task).await.unwrap();
    assert_eq!(o.get("Task", &r.id).await["Status"], "Completed");
    let mut email = task.clone();
    email.kind = ActivityKind::Email;
    email.key = "renkei:t1:ev5:email".into();
    let r = o.create_activity(&email).await.unwrap();
    let v = o.get("Task", &r.id).await;
    assert_eq!(
        (v["TaskSubtype"].clone(), v["Status"].clone()),
        (json!("Email"), json!("Completed"))
    );

    // A meeting: an Event of 30 minutes unless told.
    let mut meeting = call("renkei:t1:ev6:meeting", &c);
    meeting.kind = ActivityKind::Meeting;
    meeting.call = None;
    meeting.deal = Some(RecordRef::new("Opportunity", &opp));
    assert_eq!(o.find_activity(&meeting).await, None);
    let r = o.create_activity(&meeting).await.unwrap();
    assert_eq!(r.object, "Event");
    let v = o.get("Event", &r.id).await;
    for (field, want) in [
        ("StartDateTime", json!("2024-01-15T09:30:00.000+0000")),
        ("EndDateTime", json!("2024-01-15T10:00:00.000+0000")),
        ("DurationInMinutes", json!(30)),
        ("ActivityDate", json!("2024-01-15")),
        ("Subject", json!("着信 03-1234-5678")),
        ("Description", json!("折り返し希望")),
        ("WhoId", json!(c)),
        ("WhatId", json!(opp)),
    ] {
        assert_eq!(v[field], want, "{field}: {v}");
    }
    assert_eq!(o.find_activity(&meeting).await, Some(r.clone()));
    let mut later = meeting.clone();
    later.occurred_at = Millis(T.0 + 60_000);
    assert_eq!(o.find_activity(&later).await, None, "another start");
    let mut long = later.clone();
    long.ends_at = Some(Millis(T.0 + 60_000 + 90 * 60_000));
    let r2 = o.create_activity(&long).await.unwrap();
    assert_eq!(o.get("Event", &r2.id).await["DurationInMinutes"], 90);

    // A note on the person.
    let mut note = call("renkei:t1:ev7:note", &c);
    note.kind = ActivityKind::Note;
    note.call = None;
    note.subject = "商談メモ".into();
    note.body = "議事録\n- 次回: 来週".into();
    assert_eq!(o.find_activity(&note).await, None);
    let r = o.create_activity(&note).await.unwrap();
    assert_eq!(r.object, "Note");
    let v = o.get("Note", &r.id).await;
    assert_eq!(
        (v["ParentId"].clone(), v["Title"].clone(), v["Body"].clone()),
        (json!(c), json!("商談メモ"), json!("議事録\n- 次回: 来週"))
    );
    assert_eq!(o.find_activity(&note).await, Some(r));
    let mut other_note = note.clone();
    other_note.body = "別のメモ".into();
    assert_eq!(o.find_activity(&other_note).await, None, "another body");

    // Salesforce refuses a note without a title, naming it.
    let mut untitled = note.clone();
    untitled.subject = String::new();
    let e = o.create_activity(&untitled).await.unwrap_err();
    assert_eq!(invalid_field(e).as_deref(), Some("Title"));
    // A person that does not exist.
    let ghost = call("renkei:t1:ev8:call", "0035g00000ZZZZZAAA");
    let e = o.create_activity(&ghost).await.unwrap_err();
    assert_eq!(invalid_field(e).as_deref(), Some("WhoId"));
    o.sb.stop().await;
}

#[tokio::test]
async fn a_failed_or_dropped_create_is_told_apart_by_find_activity() {
    let o = Org::start().await;
    let c = o.create("Contact", json!({"LastName": "山田"})).await;
    let path = o.sobject_path("Task");

    // A 503 before Salesforce handled the create: nothing landed.
    o.sb.control(
        P,
        "faults",
        json!({"kind": "server_error", "status": 503, "count": 1, "method": "POST", "path_prefix": path}),
    )
    .await;
    let a = call("renkei:t1:ev1:call", &c);
    let e = o.create_activity(&a).await.unwrap_err();
    assert!(e.is_retryable(), "{e:?}");
    assert_eq!(o.find_activity(&a).await, None);
    let landed = o.create_activity(&a).await.unwrap();
    assert_eq!(o.find_activity(&a).await, Some(landed));

    // The connection drops after Salesforce created the Task: the lookup finds it, so the
    // engine does not write it again.
    let b = call("renkei:t1:ev2:call", &c);
    o.sb.control(
        P,
        "faults",
        json!({"kind": "drop_after", "count": 1, "method": "POST", "path_prefix": path}),
    )
    .await;
    let e = o.create_activity(&b).await.unwrap_err();
    assert!(e.may_have_been_sent(), "{e:?}");
    let found = o.find_activity(&b).await.expect("the dropped write landed");
    assert_eq!(found.object, "Task");
    assert_eq!(
        o.soql_ids("SELECT Id FROM Task WHERE CallObject = 'renkei:t1:ev2:call'")
            .await,
        vec![found.id.clone()]
    );
    assert_eq!(o.get("Task", &found.id).await["WhoId"], c.as_str());

    // The same for a meeting, which is found by what it wrote.
    let mut m = call("renkei:t1:ev3:meeting", &c);
    m.kind = ActivityKind::Meeting;
    m.call = None;
    o.sb.control(
        P,
        "faults",
        json!({"kind": "drop_after", "count": 1, "method": "POST", "path_prefix": o.sobject_path("Event")}),
    )
    .await;
    let e = o.create_activity(&m).await.unwrap_err();
    assert!(e.may_have_been_sent(), "{e:?}");
    assert!(o.find_activity(&m).await.is_some());
    o.sb.stop().await;
}

#[tokio::test]
async fn a_transcript_is_appended_once() {
    let o = Org::start().await;
    let c = o.create("Contact", json!({"LastName": "山田"})).await;
    let r = o
        .create_activity(&call("renkei:t1:ev1:call", &c))
        .await
        .unwrap();
    for _ in 0..2 {
        records::append_to_activity(
            o.http(),
            o.ep(),
            o.s(),
            ActivityKind::Call,
            &r,
            "文字起こし: もしもし",
        )
        .await
        .unwrap();
    }
    assert_eq!(
        o.get("Task", &r.id).await["Description"],
        "折り返し希望\n\n文字起こし: もしもし"
    );
    // The call is still found by its key after the append.
    assert_eq!(
        o.find_activity(&call("renkei:t1:ev1:call", &c)).await,
        Some(r.clone())
    );

    // A note's Body.
    let mut note = call("renkei:t1:ev2:note", &c);
    note.kind = ActivityKind::Note;
    note.call = None;
    let n = o.create_activity(&note).await.unwrap();
    for _ in 0..2 {
        records::append_to_activity(o.http(), o.ep(), o.s(), ActivityKind::Note, &n, "追記")
            .await
            .unwrap();
    }
    assert_eq!(o.get("Note", &n.id).await["Body"], "折り返し希望\n\n追記");
    assert_eq!(o.find_activity(&note).await, Some(n.clone()));

    // The wrong object for the kind, and a deleted record.
    let e = records::append_to_activity(o.http(), o.ep(), o.s(), ActivityKind::Meeting, &r, "x")
        .await
        .unwrap_err();
    assert_eq!(invalid_field(e).as_deref(), Some("object"));
    o.delete("Task", &r.id).await;
    let e = records::append_to_activity(o.http(), o.ep(), o.s(), ActivityKind::Call, &r, "x")
        .await
        .unwrap_err();
    assert!(matches!(e, ConnectorError::NotFound { .. }), "{e:?}");
    o.sb.stop().await;
}

#[tokio::test]
async fn fields_are_updated_on_any_record() {
    let o = Org::start().await;
    let opp = o.opportunity().await;
    let r = RecordRef::new("Opportunity", &opp);
    let mut fields = Map::new();
    fields.insert("Room_URL__c".into(), json!("https://rooms.example/r/1"));
    fields.insert("NextStep".into(), json!("デモ"));
    records::update_record(o.http(), o.ep(), o.s(), &r, &fields)
        .await
        .unwrap();
    let v = o.get("Opportunity", &opp).await;
    assert_eq!(v["Room_URL__c"], "https://rooms.example/r/1");
    assert_eq!(v["NextStep"], "デモ");

    let mut bad = Map::new();
    bad.insert("Name".into(), Value::Null);
    let e = records::update_record(o.http(), o.ep(), o.s(), &r, &bad)
        .await
        .unwrap_err();
    assert_eq!(invalid_field(e).as_deref(), Some("Name"));
    let mut unknown = Map::new();
    unknown.insert("No_Such__c".into(), json!("x"));
    assert!(matches!(
        records::update_record(o.http(), o.ep(), o.s(), &r, &unknown).await,
        Err(ConnectorError::Invalid { .. })
    ));
    let e = records::update_record(
        o.http(),
        o.ep(),
        o.s(),
        &RecordRef::new("Opportunity", "0065g00000ZZZZZAAA"),
        &fields,
    )
    .await
    .unwrap_err();
    assert!(matches!(e, ConnectorError::NotFound { .. }), "{e:?}");
    let e = records::update_record(
        o.http(),
        o.ep(),
        o.s(),
        &RecordRef::new("Opp/../x", &opp),
        &fields,
    )
    .await
    .unwrap_err();
    assert_eq!(invalid_field(e).as_deref(), Some("object"));
    o.sb.stop().await;
}

#[tokio::test]
async fn describe_reports_kinds_requirements_and_options() {
    let o = Org::start().await;
    let lead = records::describe_fields(o.http(), o.ep(), o.s(), "Lead")
        .await
        .unwrap();
    let get = |fields: &[renkei_connectors::records::FieldMeta], n: &str| {
        fields
            .iter()
            .find(|f| f.name == n)
            .unwrap_or_else(|| panic!("no {n}"))
            .clone()
    };
    let company = get(&lead, "Company");
    assert_eq!(
        (
            company.kind,
            company.provider_type.as_str(),
            company.required,
            company.writable
        ),
        (FieldKind::Text, "string", true, true)
    );
    let d = get(&lead, "Description");
    assert_eq!((d.kind, d.required), (FieldKind::LongText, false));
    let n = get(&lead, "NumberOfEmployees");
    assert_eq!(
        (n.kind, n.provider_type.as_str()),
        (FieldKind::Number, "int")
    );
    let status = get(&lead, "Status");
    assert_eq!(status.kind, FieldKind::Picklist);
    assert!(!status.required, "defaulted on create");
    assert!(status.options.contains(&(
        "Open - Not Contacted".to_owned(),
        "Open - Not Contacted".to_owned()
    )));
    let name = get(&lead, "Name");
    assert!(!name.writable && !name.required);

    let opp = records::describe_fields(o.http(), o.ep(), o.s(), "Opportunity")
        .await
        .unwrap();
    assert_eq!(get(&opp, "Room_URL__c").kind, FieldKind::Url);
    assert_eq!(get(&opp, "Amount").kind, FieldKind::Number);
    assert_eq!(get(&opp, "AccountId").kind, FieldKind::Reference);

    // Every field the activity writes is described.
    let task = records::describe_fields(o.http(), o.ep(), o.s(), "Task")
        .await
        .unwrap();
    for f in [
        "TaskSubtype",
        "CallType",
        "CallDurationInSeconds",
        "CallObject",
        "Status",
        "ActivityDate",
        "Subject",
        "Description",
        "WhoId",
        "WhatId",
        "OwnerId",
    ] {
        assert!(get(&task, f).writable, "{f}");
    }
    assert_eq!(
        get(&task, "CallType").options,
        ["Internal", "Inbound", "Outbound"]
            .map(|v| (v.to_owned(), v.to_owned()))
            .to_vec()
    );
    let event = records::describe_fields(o.http(), o.ep(), o.s(), "Event")
        .await
        .unwrap();
    assert_eq!(get(&event, "StartDateTime").kind, FieldKind::DateTime);
    let note = records::describe_fields(o.http(), o.ep(), o.s(), "Note")
        .await
        .unwrap();
    assert!(get(&note, "ParentId").required && get(&note, "Title").required);

    let e = records::describe_fields(o.http(), o.ep(), o.s(), "NoSuchObject")
        .await
        .unwrap_err();
    assert!(matches!(e, ConnectorError::NotFound { .. }), "{e:?}");
    o.sb.stop().await;
}
