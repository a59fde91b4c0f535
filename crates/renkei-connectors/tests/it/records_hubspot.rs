//! HubSpot's write-back calls (`hubspot::records`) against the HubSpot emulator: every function's
//! happy path checked on the record the emulator holds (read back with plain reqwest through
//! HubSpot's API, not through the module under test), refused input naming the field, missing
//! records, the duplicate contact, activities found again after a 5xx and after a connection
//! dropped once the write was made, appends that do not repeat, and property kinds.

use renkei_connectors::hubspot::records;
use renkei_connectors::people::{PersonObject, RemotePerson};
use renkei_connectors::records::{
    ActivityKind, CallDetails, CallDirection, FieldKind, NewActivity, NewCompany, NewPerson,
    PersonLookup, RecordRef,
};
use renkei_connectors::registry::Endpoints;
use renkei_connectors::{ConnectorError, Provider, Session};
use renkei_core::Millis;
use serde_json::{Map, Value, json};

use crate::sandbox::{Minted, Sandboxed};

const P: Provider = Provider::Hubspot;

struct Hs {
    sb: Sandboxed,
    m: Minted,
}

impl Hs {
    /// A fresh emulator and tokens whose rate budget is this test's own (the search pacer is
    /// per budget key and per process).
    async fn start(test: &str) -> Hs {
        let sb = Sandboxed::start().await;
        let mut m = sb.mint(P, None).await;
        m.budget = format!("hubspot:records:{test}");
        Hs { sb, m }
    }

    fn s(&self) -> Session<'_> {
        self.m.session()
    }

    fn http(&self) -> &renkei_connectors::http::HttpClient {
        &self.sb.connectors.http
    }

    fn ep(&self) -> &Endpoints {
        self.sb.connectors.registry.endpoints(P)
    }

    fn token(&self) -> &str {
        self.m.access_token.expose()
    }

    fn url(&self, path: &str) -> String {
        format!("{}/sandbox/hubspot{path}", self.sb.origin)
    }

    /// A plain API call beside the module under test: (status, body).
    async fn api(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .sb
            .http
            .request(method, self.url(path))
            .bearer_auth(self.token());
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn create(&self, object: &str, props: Value) -> String {
        let (status, body) = self
            .api(
                reqwest::Method::POST,
                &format!("/crm/v3/objects/{object}"),
                Some(json!({ "properties": props })),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    /// The stored record's named properties.
    async fn read(&self, object: &str, id: &str, props: &[&str]) -> Value {
        let (status, body) = self
            .api(
                reqwest::Method::GET,
                &format!(
                    "/crm/v3/objects/{object}/{id}?properties={}",
                    props.join(",")
                ),
                None,
            )
            .await;
        assert_eq!(status, 200, "{object} {id}: {body}");
        body["properties"].clone()
    }

    /// The association type ids from `(object, id)` to each record of `to`, by its id.
    async fn associations(&self, object: &str, id: &str, to: &str) -> Vec<(String, Vec<i64>)> {
        let (status, body) = self
            .api(
                reqwest::Method::GET,
                &format!("/crm/v4/objects/{object}/{id}/associations/{to}"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["toObjectId"].to_string().trim_matches('"').to_owned(),
                    r["associationTypes"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|t| t["typeId"].as_i64().unwrap())
                        .collect(),
                )
            })
            .collect()
    }

    async fn owner(&self) -> String {
        let (_, body) = self.api(reqwest::Method::GET, "/crm/v3/owners", None).await;
        body["results"][0]["id"].as_str().unwrap().to_owned()
    }

    async fn fault(&self, spec: Value) {
        self.sb.control(P, "faults", spec).await;
    }

    async fn find_people(
        &self,
        objects: &[PersonObject],
        q: &PersonLookup,
    ) -> Result<Vec<RemotePerson>, ConnectorError> {
        records::find_people(self.http(), self.ep(), self.s(), objects, q).await
    }

    async fn create_activity(&self, a: &NewActivity) -> Result<RecordRef, ConnectorError> {
        records::create_activity(self.http(), self.ep(), self.s(), a).await
    }

    async fn find_activity(&self, a: &NewActivity) -> Result<Option<RecordRef>, ConnectorError> {
        records::find_activity(self.http(), self.ep(), self.s(), a).await
    }

    async fn append(
        &self,
        kind: ActivityKind,
        r: &RecordRef,
        text: &str,
    ) -> Result<(), ConnectorError> {
        records::append_to_activity(self.http(), self.ep(), self.s(), kind, r, text).await
    }
}

fn invalid_field(e: &ConnectorError) -> Option<&str> {
    match e {
        ConnectorError::Invalid { field, .. } => field.as_deref(),
        _ => None,
    }
}

fn is_unsupported(e: &ConnectorError) -> bool {
    matches!(e, ConnectorError::Invalid { code, .. } if code == "unsupported")
}

fn new_person(last: &str, email: Option<&str>) -> NewPerson {
    NewPerson {
        object: PersonObject::Contact,
        last_name: last.into(),
        first_name: None,
        company: None,
        account: None,
        email: email.map(str::to_owned),
        phone: None,
        description: None,
        owner_id: None,
        extra: Map::new(),
    }
}

fn activity(kind: ActivityKind, contact: &str, deal: Option<&str>, at: i64) -> NewActivity {
    NewActivity {
        kind,
        key: format!("renkei:t1:ev_{at}:0"),
        subject: format!("{} の記録", kind.as_str()),
        body: "一行目\n二行目 <b>&</b>".into(),
        occurred_at: Millis(at),
        ends_at: Some(Millis(at + 30 * 60_000)),
        owner_id: None,
        person: Some(RecordRef::new("contacts", contact)),
        deal: deal.map(|d| RecordRef::new("deals", d)),
        call: (kind == ActivityKind::Call).then(|| CallDetails {
            direction: CallDirection::Outbound,
            duration_seconds: 125,
            phone: Some("03-1234-5678".into()),
            recording_url: Some("https://rec.example.com/c/1.mp3".into()),
        }),
        completed: true,
    }
}

const AT: i64 = 1_763_700_000_123;

#[tokio::test]
async fn find_people_by_phone_forms_and_email() {
    let hs = Hs::start("find_people").await;
    let a = hs
        .create(
            "contacts",
            json!({"lastname": "山田", "phone": "03-1234-5678"}),
        )
        .await;
    let b = hs
        .create(
            "contacts",
            json!({"lastname": "佐藤", "mobilephone": "+81312345678"}),
        )
        .await;
    let c = hs
        .create(
            "contacts",
            json!({"lastname": "鈴木", "email": "suzuki@example.co.jp"}),
        )
        .await;
    hs.create(
        "contacts",
        json!({"lastname": "他人", "phone": "03-9999-0000", "email": "other@example.co.jp"}),
    )
    .await;

    let q = PersonLookup {
        phone_e164: Some("+81312345678".into()),
        phone_national: vec!["03-1234-5678".into(), "0312345678".into()],
        email: Some("Suzuki@Example.co.jp".into()),
    };
    let found = hs.find_people(&[PersonObject::Contact], &q).await.unwrap();
    let mut ids: Vec<String> = found.iter().map(|p| p.remote_id.clone()).collect();
    ids.sort();
    let mut want = vec![a.clone(), b.clone(), c.clone()];
    want.sort();
    assert_eq!(ids, want);
    let yamada = found.iter().find(|p| p.remote_id == a).unwrap();
    assert_eq!(yamada.last_name.as_deref(), Some("山田"));
    assert_eq!(yamada.phone.as_deref(), Some("03-1234-5678"));
    // 3 forms × 2 properties + the email = 7 filter groups: two requests, each within
    // HubSpot's 5 groups (the emulator refuses more with a 400).
    let searches = hs.sb.requests(P, "/crm/v3/objects/contacts/search").await;
    assert_eq!(searches.len(), 2, "{searches:?}");
    assert!(searches.iter().all(|(_, _, st)| *st == 200));

    let none = PersonLookup {
        email: Some("nobody@example.co.jp".into()),
        ..Default::default()
    };
    assert!(
        hs.find_people(&[PersonObject::Contact], &none)
            .await
            .unwrap()
            .is_empty()
    );
    let e = hs
        .find_people(&[PersonObject::Lead, PersonObject::Contact], &q)
        .await
        .unwrap_err();
    assert!(is_unsupported(&e), "{e:?}");
    let e = hs
        .find_people(&[PersonObject::Contact], &PersonLookup::default())
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&e), Some("phone"), "{e:?}");
}

#[tokio::test]
async fn create_person_writes_the_contact_and_refuses_duplicates() {
    let hs = Hs::start("create_person").await;
    let owner = hs.owner().await;
    let company = hs.create("companies", json!({"name": "さくら商事"})).await;
    let mut p = new_person("山田", Some("Taro@Sakura.co.jp"));
    p.first_name = Some("太郎".into());
    p.company = Some("さくら商事".into());
    p.phone = Some("03-1234-5678".into());
    p.owner_id = Some(owner.clone());
    p.account = Some(RecordRef::new("companies", &company));
    p.extra.insert("jobtitle".into(), json!("部長"));
    let r = records::create_person(hs.http(), hs.ep(), hs.s(), &p)
        .await
        .unwrap();
    assert_eq!(r.object, "contacts");
    let stored = hs
        .read(
            "contacts",
            &r.id,
            &[
                "lastname",
                "firstname",
                "email",
                "phone",
                "company",
                "hubspot_owner_id",
                "jobtitle",
            ],
        )
        .await;
    assert_eq!(
        stored,
        json!({
            "lastname": "山田", "firstname": "太郎", "email": "Taro@Sakura.co.jp",
            "phone": "03-1234-5678", "company": "さくら商事", "hubspot_owner_id": owner,
            "jobtitle": "部長",
        })
    );
    assert_eq!(
        hs.associations("contacts", &r.id, "companies").await,
        vec![(company.clone(), vec![279])]
    );

    // The same email (HubSpot compares it ignoring case): 409 naming the existing contact.
    let again = new_person("別人", Some("taro@sakura.co.jp"));
    let e = records::create_person(hs.http(), hs.ep(), hs.s(), &again)
        .await
        .unwrap_err();
    match e {
        ConnectorError::Duplicate { existing_id, .. } => assert_eq!(existing_id, r.id),
        other => panic!("{other:?}"),
    }

    // Refused values name their property.
    let bad_email = new_person("山田", Some("not-an-email"));
    let e = records::create_person(hs.http(), hs.ep(), hs.s(), &bad_email)
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&e), Some("email"), "{e:?}");
    let mut unknown = new_person("山田", None);
    unknown.extra.insert("no_such_property".into(), json!("x"));
    let e = records::create_person(hs.http(), hs.ep(), hs.s(), &unknown)
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&e), Some("no_such_property"), "{e:?}");
    let mut missing_company = new_person("山田", None);
    missing_company.account = Some(RecordRef::new("companies", "999999"));
    let e = records::create_person(hs.http(), hs.ep(), hs.s(), &missing_company)
        .await
        .unwrap_err();
    assert!(matches!(e, ConnectorError::Invalid { .. }), "{e:?}");
    let e = records::create_person(hs.http(), hs.ep(), hs.s(), &new_person(" ", None))
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&e), Some("last_name"), "{e:?}");
    let mut lead = new_person("山田", None);
    lead.object = PersonObject::Lead;
    let e = records::create_person(hs.http(), hs.ep(), hs.s(), &lead)
        .await
        .unwrap_err();
    assert!(is_unsupported(&e), "{e:?}");
}

#[tokio::test]
async fn companies_are_found_oldest_first_and_created() {
    let hs = Hs::start("companies").await;
    let find = |name: Option<&'static str>, domain: Option<&'static str>| {
        let hs = &hs;
        async move { records::find_company(hs.http(), hs.ep(), hs.s(), name, domain).await }
    };
    assert_eq!(find(Some("さくら商事"), None).await.unwrap(), None);

    let owner = hs.owner().await;
    let mut c = NewCompany {
        name: "さくら商事".into(),
        domain: Some("sakura.co.jp".into()),
        owner_id: Some(owner.clone()),
        extra: Map::new(),
    };
    c.extra.insert("city".into(), json!("東京"));
    let first = records::create_company(hs.http(), hs.ep(), hs.s(), &c)
        .await
        .unwrap();
    assert_eq!(first.object, "companies");
    assert_eq!(
        hs.read(
            "companies",
            &first.id,
            &["name", "domain", "hubspot_owner_id", "city"]
        )
        .await,
        json!({"name": "さくら商事", "domain": "sakura.co.jp", "hubspot_owner_id": owner, "city": "東京"})
    );
    sb_advance(&hs, 60).await;
    // A later company with the same name, and one with the same domain only.
    let second = hs.create("companies", json!({"name": "さくら商事"})).await;
    let by_domain = hs
        .create(
            "companies",
            json!({"name": "Sakura Trading", "domain": "sakura-trading.com"}),
        )
        .await;
    assert_ne!(second, first.id);

    assert_eq!(
        find(Some("さくら商事"), None).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        find(None, Some("SAKURA.co.jp")).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(
        find(Some("SAKURA TRADING"), None).await.unwrap(),
        Some(RecordRef::new("companies", &by_domain))
    );
    assert_eq!(
        find(Some("どこにもない"), Some("sakura-trading.com"))
            .await
            .unwrap(),
        Some(RecordRef::new("companies", &by_domain))
    );
    let e = find(None, None).await.unwrap_err();
    assert_eq!(invalid_field(&e), Some("name"), "{e:?}");

    let e = records::create_company(hs.http(), hs.ep(), hs.s(), &NewCompany::default())
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&e), Some("name"), "{e:?}");
    let mut wrong = NewCompany {
        name: "x".into(),
        ..Default::default()
    };
    wrong
        .extra
        .insert("industry".into(), json!("NOT_AN_INDUSTRY"));
    let e = records::create_company(hs.http(), hs.ep(), hs.s(), &wrong)
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&e), Some("industry"), "{e:?}");
}

async fn sb_advance(hs: &Hs, seconds: i64) {
    hs.sb
        .control(P, "clock", json!({ "advance_seconds": seconds }))
        .await;
}

#[tokio::test]
async fn associate_links_both_ways_once() {
    let hs = Hs::start("associate").await;
    let contact = hs.create("contacts", json!({"lastname": "山田"})).await;
    let company = hs.create("companies", json!({"name": "さくら商事"})).await;
    let from = RecordRef::new("contacts", &contact);
    let to = RecordRef::new("companies", &company);
    for _ in 0..2 {
        records::associate(hs.http(), hs.ep(), hs.s(), &from, &to)
            .await
            .unwrap();
    }
    assert_eq!(
        hs.associations("contacts", &contact, "companies").await,
        vec![(company.clone(), vec![279])]
    );
    assert_eq!(
        hs.associations("companies", &company, "contacts").await,
        vec![(contact.clone(), vec![280])]
    );
    let e = records::associate(
        hs.http(),
        hs.ep(),
        hs.s(),
        &from,
        &RecordRef::new("companies", "424242"),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, ConnectorError::NotFound { .. }), "{e:?}");
    let e = records::associate(
        hs.http(),
        hs.ep(),
        hs.s(),
        &RecordRef::new("contacts", "1/../2"),
        &to,
    )
    .await
    .unwrap_err();
    assert_eq!(invalid_field(&e), Some("from"), "{e:?}");
}

#[tokio::test]
async fn every_kind_of_activity_lands_with_its_properties_and_associations() {
    let hs = Hs::start("activities").await;
    let owner = hs.owner().await;
    let contact = hs.create("contacts", json!({"lastname": "山田"})).await;
    let deal = hs
        .create(
            "deals",
            json!({"dealname": "大型案件", "pipeline": "default", "dealstage": "qualifiedtobuy"}),
        )
        .await;
    let html = "一行目<br>二行目 &lt;b&gt;&amp;&lt;/b&gt;";
    let iso = "2025-11-21T04:40:00.123Z";
    let iso_end = "2025-11-21T05:10:00.123Z";
    // (kind, path, association type to the contact, to the deal, expected properties)
    let cases = [
        (
            ActivityKind::Call,
            "calls",
            194,
            206,
            json!({
                "hs_timestamp": iso, "hs_call_title": "call の記録", "hs_call_body": html,
                "hs_call_duration": "125000", "hs_call_direction": "OUTBOUND",
                "hs_call_status": "COMPLETED", "hs_call_to_number": "03-1234-5678",
                "hs_call_recording_url": "https://rec.example.com/c/1.mp3",
                "hubspot_owner_id": owner,
            }),
        ),
        (
            ActivityKind::Note,
            "notes",
            202,
            214,
            json!({
                "hs_timestamp": iso,
                "hs_note_body": format!("note の記録<br><br>{html}"),
                "hubspot_owner_id": owner,
            }),
        ),
        (
            ActivityKind::Task,
            "tasks",
            204,
            216,
            json!({
                "hs_timestamp": iso, "hs_task_subject": "task の記録", "hs_task_body": html,
                "hs_task_status": "COMPLETED", "hs_task_type": "TODO",
                "hubspot_owner_id": owner,
            }),
        ),
        (
            ActivityKind::Email,
            "emails",
            198,
            210,
            json!({
                "hs_timestamp": iso, "hs_email_subject": "email の記録",
                "hs_email_text": "一行目\n二行目 <b>&</b>", "hs_email_direction": "EMAIL",
                "hs_email_status": "SENT", "hubspot_owner_id": owner,
            }),
        ),
        (
            ActivityKind::Meeting,
            "meetings",
            200,
            212,
            json!({
                "hs_timestamp": iso, "hs_meeting_title": "meeting の記録",
                "hs_meeting_body": html, "hs_meeting_start_time": iso,
                "hs_meeting_end_time": iso_end, "hs_meeting_outcome": "COMPLETED",
                "hubspot_owner_id": owner,
            }),
        ),
    ];
    for (kind, path, to_contact, to_deal, want) in cases {
        let mut a = activity(kind, &contact, Some(&deal), AT);
        a.owner_id = Some(owner.clone());
        let r = hs.create_activity(&a).await.unwrap();
        assert_eq!(r.object, path);
        let names: Vec<&str> = want
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(hs.read(path, &r.id, &names).await, want, "{kind:?}");
        assert_eq!(
            hs.associations(path, &r.id, "contacts").await,
            vec![(contact.clone(), vec![to_contact])],
            "{kind:?}"
        );
        assert_eq!(
            hs.associations(path, &r.id, "deals").await,
            vec![(deal.clone(), vec![to_deal])],
            "{kind:?}"
        );
    }
    let a = activity(ActivityKind::Task, &contact, None, AT);
    let mut open = a.clone();
    open.completed = false;
    open.subject = "未完了".into();
    let r = hs.create_activity(&open).await.unwrap();
    assert_eq!(
        hs.read("tasks", &r.id, &["hs_task_status"]).await["hs_task_status"],
        "NOT_STARTED"
    );

    // Refusals name the field: an owner HubSpot does not know, a missing subject.
    let mut bad_owner = a.clone();
    bad_owner.owner_id = Some("1".into());
    let e = hs.create_activity(&bad_owner).await.unwrap_err();
    assert_eq!(invalid_field(&e), Some("hubspot_owner_id"), "{e:?}");
    let mut no_subject = a.clone();
    no_subject.subject = " ".into();
    let e = hs.create_activity(&no_subject).await.unwrap_err();
    assert_eq!(invalid_field(&e), Some("subject"), "{e:?}");
    // An association to a contact that does not exist is refused and writes nothing.
    let ghost = activity(ActivityKind::Note, "987654321", None, AT + 1);
    let e = hs.create_activity(&ghost).await.unwrap_err();
    assert!(matches!(e, ConnectorError::Invalid { .. }), "{e:?}");
    let (_, notes) = hs
        .api(
            reqwest::Method::GET,
            "/crm/v3/objects/notes?limit=100",
            None,
        )
        .await;
    assert_eq!(notes["results"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn find_activity_finds_exactly_what_create_wrote() {
    let hs = Hs::start("find_activity").await;
    let contact = hs.create("contacts", json!({"lastname": "山田"})).await;
    let other = hs.create("contacts", json!({"lastname": "佐藤"})).await;
    let a = activity(ActivityKind::Call, &contact, None, AT);
    assert_eq!(hs.find_activity(&a).await.unwrap(), None);
    let written = hs.create_activity(&a).await.unwrap();
    // A neighbour at the same millisecond on the same contact with another title, and the
    // same activity on another contact, are not it.
    let mut neighbour = a.clone();
    neighbour.subject = "別の通話".into();
    let neighbour_ref = hs.create_activity(&neighbour).await.unwrap();
    let mut elsewhere = a.clone();
    elsewhere.person = Some(RecordRef::new("contacts", &other));
    assert_eq!(hs.find_activity(&elsewhere).await.unwrap(), None);
    assert_eq!(hs.find_activity(&a).await.unwrap(), Some(written.clone()));
    assert_eq!(
        hs.find_activity(&neighbour).await.unwrap(),
        Some(neighbour_ref)
    );
    let mut later = a.clone();
    later.occurred_at = Millis(AT + 1);
    later.key = "renkei:t1:ev_other:0".into();
    assert_eq!(hs.find_activity(&later).await.unwrap(), None);
    // Notes have no title: their body's start identifies them, also after an append.
    let note = activity(ActivityKind::Note, &contact, None, AT);
    assert_eq!(hs.find_activity(&note).await.unwrap(), None);
    let note_ref = hs.create_activity(&note).await.unwrap();
    hs.append(ActivityKind::Note, &note_ref, "文字起こし")
        .await
        .unwrap();
    assert_eq!(hs.find_activity(&note).await.unwrap(), Some(note_ref));
}

#[tokio::test]
async fn a_5xx_on_create_did_not_land_and_a_dropped_answer_did() {
    let hs = Hs::start("faults").await;
    let contact = hs.create("contacts", json!({"lastname": "山田"})).await;
    let a = activity(ActivityKind::Call, &contact, None, AT);

    hs.fault(json!({"kind": "server_error", "status": 500, "count": 1, "method": "POST", "path_prefix": "/crm/v3/objects/calls"}))
        .await;
    let e = hs.create_activity(&a).await.unwrap_err();
    assert!(
        matches!(e, ConnectorError::Unavailable { status: 500, .. }),
        "{e:?}"
    );
    assert!(e.is_retryable() && !e.may_have_been_sent());
    assert_eq!(hs.find_activity(&a).await.unwrap(), None);

    hs.fault(json!({"kind": "drop_after", "count": 1, "method": "POST", "path_prefix": "/crm/v3/objects/calls"}))
        .await;
    let e = hs.create_activity(&a).await.unwrap_err();
    assert!(e.may_have_been_sent(), "{e:?}");
    let landed = hs
        .find_activity(&a)
        .await
        .unwrap()
        .expect("the dropped create was made");
    let (_, calls) = hs
        .api(
            reqwest::Method::GET,
            "/crm/v3/objects/calls?limit=100",
            None,
        )
        .await;
    let ids: Vec<&str> = calls["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![landed.id.as_str()]);
    // The create was sent once each time: a non-idempotent write is never repeated blindly.
    let posts: Vec<_> = hs
        .sb
        .requests(P, "/crm/v3/objects/calls")
        .await
        .into_iter()
        .filter(|(m, p, _)| m == "POST" && p == "/crm/v3/objects/calls")
        .collect();
    assert_eq!(posts.len(), 2, "{posts:?}");
}

#[tokio::test]
async fn append_adds_text_once() {
    let hs = Hs::start("append").await;
    let contact = hs.create("contacts", json!({"lastname": "山田"})).await;
    let call = hs
        .create_activity(&activity(ActivityKind::Call, &contact, None, AT))
        .await
        .unwrap();
    for _ in 0..2 {
        hs.append(ActivityKind::Call, &call, "文字起こし:\nこんにちは")
            .await
            .unwrap();
    }
    assert_eq!(
        hs.read("calls", &call.id, &["hs_call_body"]).await["hs_call_body"],
        "一行目<br>二行目 &lt;b&gt;&amp;&lt;/b&gt;<br><br>文字起こし:<br>こんにちは"
    );
    let email = hs
        .create_activity(&activity(ActivityKind::Email, &contact, None, AT))
        .await
        .unwrap();
    for _ in 0..2 {
        hs.append(ActivityKind::Email, &email, "追伸")
            .await
            .unwrap();
    }
    assert_eq!(
        hs.read("emails", &email.id, &["hs_email_text"]).await["hs_email_text"],
        "一行目\n二行目 <b>&</b>\n\n追伸"
    );
    let e = hs
        .append(
            ActivityKind::Call,
            &RecordRef::new("calls", "123456789"),
            "x",
        )
        .await
        .unwrap_err();
    assert!(matches!(e, ConnectorError::NotFound { .. }), "{e:?}");
    let e = hs.append(ActivityKind::Note, &call, "x").await.unwrap_err();
    assert_eq!(invalid_field(&e), Some("record"), "{e:?}");
}

#[tokio::test]
async fn update_record_sets_fields_and_names_refused_ones() {
    let hs = Hs::start("update").await;
    let deal = hs
        .create(
            "deals",
            json!({"dealname": "大型案件", "pipeline": "default", "dealstage": "qualifiedtobuy"}),
        )
        .await;
    let r = RecordRef::new("deals", &deal);
    let mut fields = Map::new();
    fields.insert("description".into(), json!("https://rooms.example.com/r/9"));
    fields.insert("amount".into(), json!(1_500_000));
    fields.insert("dealstage".into(), json!("contractsent"));
    records::update_record(hs.http(), hs.ep(), hs.s(), &r, &fields)
        .await
        .unwrap();
    assert_eq!(
        hs.read("deals", &deal, &["description", "amount", "dealstage"])
            .await,
        json!({"description": "https://rooms.example.com/r/9", "amount": "1500000", "dealstage": "contractsent"})
    );
    let mut unknown = Map::new();
    unknown.insert("room_url".into(), json!("x"));
    let e = records::update_record(hs.http(), hs.ep(), hs.s(), &r, &unknown)
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&e), Some("room_url"), "{e:?}");
    let mut bad_stage = Map::new();
    bad_stage.insert("dealstage".into(), json!("nowhere"));
    let e = records::update_record(hs.http(), hs.ep(), hs.s(), &r, &bad_stage)
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&e), Some("dealstage"), "{e:?}");
    let e = records::update_record(
        hs.http(),
        hs.ep(),
        hs.s(),
        &RecordRef::new("deals", "99999999"),
        &fields,
    )
    .await
    .unwrap_err();
    assert!(matches!(e, ConnectorError::NotFound { .. }), "{e:?}");
}

#[tokio::test]
async fn describe_fields_gives_kinds_and_options() {
    let hs = Hs::start("describe").await;
    let (status, body) = hs
        .api(
            reqwest::Method::POST,
            "/crm/v3/properties/deals",
            Some(json!({
                "name": "room_url", "label": "Room URL", "type": "string",
                "fieldType": "text", "groupName": "dealinformation",
            })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let fields = records::describe_fields(hs.http(), hs.ep(), hs.s(), "deals")
        .await
        .unwrap();
    let get = |n: &str| fields.iter().find(|f| f.name == n).unwrap();
    assert_eq!(get("room_url").kind, FieldKind::Text);
    assert_eq!(get("room_url").label, "Room URL");
    assert!(get("room_url").writable);
    assert_eq!(get("dealname").kind, FieldKind::Text);
    assert_eq!(get("description").kind, FieldKind::LongText);
    assert_eq!(get("amount").kind, FieldKind::Number);
    let stage = get("dealstage");
    assert_eq!(stage.kind, FieldKind::Picklist);
    assert_eq!(stage.provider_type, "enumeration/radio");
    assert!(
        stage
            .options
            .contains(&("closedwon".to_owned(), "Closedwon".to_owned())),
        "{:?}",
        stage.options
    );
    assert_eq!(get("closedate").kind, FieldKind::DateTime);
    assert_eq!(get("hubspot_owner_id").kind, FieldKind::Reference);
    assert!(!get("hs_object_id").writable);
    assert!(!get("hs_lastmodifieddate").writable);

    let calls = records::describe_fields(hs.http(), hs.ep(), hs.s(), "calls")
        .await
        .unwrap();
    let ts = calls.iter().find(|f| f.name == "hs_timestamp").unwrap();
    assert!(ts.required);
    assert_eq!(ts.kind, FieldKind::DateTime);
    assert_eq!(
        calls
            .iter()
            .find(|f| f.name == "hs_call_body")
            .unwrap()
            .kind,
        FieldKind::LongText
    );

    // HubSpot's 400 "Unable to infer object type" says the type is missing: NotFound.
    let e = records::describe_fields(hs.http(), hs.ep(), hs.s(), "nonsense")
        .await
        .unwrap_err();
    assert!(matches!(e, ConnectorError::NotFound { .. }), "{e:?}");
    let e = records::describe_fields(hs.http(), hs.ep(), hs.s(), "../x")
        .await
        .unwrap_err();
    assert_eq!(invalid_field(&e), Some("object"), "{e:?}");
}
