//! The Zoho CRM write-back functions (`zoho::records`) against the emulator: every function's
//! happy path checked on the record read back through the CRM API, field by field; Zoho's
//! refusals (a mandatory field, a duplicate email, an unknown id, an unknown module); the
//! exactly-once key of activities across a 5xx and a connection dropped after the write; the
//! idempotent append; and the kinds of the fields metadata.

use renkei_connectors::people::PersonObject;
use renkei_connectors::records::{
    ActivityKind, CallDetails, CallDirection, FieldKind, NewActivity, NewCompany, NewPerson,
    PersonLookup, RecordRef,
};
use renkei_connectors::zoho::records as zr;
use renkei_connectors::{ConnectorError, Provider};
use renkei_core::Millis;
use serde_json::{Map, Value, json};

use crate::sandbox::{Minted, Sandboxed};

const P: Provider = Provider::ZohoCrm;

/// 2024-01-15T09:30:00Z.
const T: Millis = Millis(1_705_311_000_000);

struct Z {
    sb: Sandboxed,
    m: Minted,
}

/// Calls a `zoho::records` function with the harness's client, endpoints and session.
macro_rules! zr {
    ($z:expr, $f:ident $(, $arg:expr)*) => {
        zr::$f(
            &$z.sb.connectors.http,
            $z.sb.connectors.registry.endpoints(P),
            $z.m.session()
            $(, $arg)*
        )
        .await
    };
}

impl Z {
    async fn start() -> Z {
        let sb = Sandboxed::start().await;
        let m = sb.mint(P, None).await;
        Z { sb, m }
    }

    fn crm(&self) -> String {
        format!("{}/crm/v8", self.m.meta.api_domain.as_deref().unwrap())
    }

    /// The API path below `/sandbox/zoho`, as fault rules and the request log name it.
    fn log_path(&self, rest: &str) -> String {
        let url = url::Url::parse(self.m.meta.api_domain.as_deref().unwrap()).unwrap();
        let path = url.path().strip_prefix("/sandbox/zoho").unwrap();
        format!("{path}/crm/v8{rest}")
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
            .request(method, format!("{}{path}", self.crm()))
            .header(
                "Authorization",
                format!("Zoho-oauthtoken {}", self.m.access_token.expose()),
            );
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// The stored record, as `GET /{module}/{id}` answers it.
    async fn record(&self, r: &RecordRef) -> Value {
        let (status, v) = self
            .vendor(
                reqwest::Method::GET,
                &format!("/{}/{}", r.object, r.id),
                None,
            )
            .await;
        assert_eq!(status, 200, "{r:?}: {v}");
        v["data"][0].clone()
    }

    async fn count(&self, module: &str) -> u64 {
        let (status, v) = self
            .vendor(
                reqwest::Method::GET,
                &format!("/{module}/actions/count"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{v}");
        v["count"].as_u64().unwrap()
    }

    async fn insert(&self, module: &str, record: Value) -> RecordRef {
        let (status, v) = self
            .vendor(
                reqwest::Method::POST,
                &format!("/{module}"),
                Some(json!({ "data": [record] })),
            )
            .await;
        assert_eq!(status, 201, "{v}");
        RecordRef::new(module, v["data"][0]["details"]["id"].as_str().unwrap())
    }

    async fn advance(&self, seconds: u64) {
        self.sb
            .control(P, "clock", json!({ "advance_seconds": seconds }))
            .await;
    }

    async fn fault(&self, kind: &str, path: &str) {
        self.sb
            .control(
                P,
                "faults",
                json!({ "kind": kind, "count": 1, "method": "POST", "path_prefix": self.log_path(path), "status": 500 }),
            )
            .await;
    }
}

fn invalid_field(e: &ConnectorError) -> (String, Option<String>) {
    match e {
        ConnectorError::Invalid { code, field, .. } => (code.clone(), field.clone()),
        other => panic!("not Invalid: {other:?}"),
    }
}

fn lead(last: &str, email: Option<&str>, phone: Option<&str>) -> NewPerson {
    NewPerson {
        object: PersonObject::Lead,
        last_name: last.into(),
        first_name: Some("太郎".into()),
        company: Some("さくら商事".into()),
        account: None,
        email: email.map(str::to_owned),
        phone: phone.map(str::to_owned),
        description: Some("会議で知り合った".into()),
        owner_id: None,
        extra: Map::new(),
    }
}

fn activity(kind: ActivityKind, key: &str, person: Option<&RecordRef>) -> NewActivity {
    NewActivity {
        kind,
        key: key.into(),
        subject: "商談 (初回)".into(),
        body: "価格について話した。\n次回: デモ".into(),
        occurred_at: T,
        ends_at: None,
        owner_id: None,
        person: person.cloned(),
        deal: None,
        call: None,
        completed: true,
    }
}

fn call(direction: CallDirection, seconds: u64) -> Option<CallDetails> {
    Some(CallDetails {
        direction,
        duration_seconds: seconds,
        phone: Some("03-1234-5678".into()),
        recording_url: None,
    })
}

#[tokio::test]
async fn people_are_created_found_and_refused() {
    let z = Z::start().await;
    let users = z.sb.connectors.list_users(P, z.m.session()).await.unwrap();
    let owner = users.last().unwrap().id.clone();

    let mut l = lead("山田", Some("taro@sakura.example.jp"), Some("03-1234-5678"));
    l.owner_id = Some(owner.clone());
    l.extra.insert("Lead_Source".into(), json!("Chat"));
    let r = zr!(z, create_person, &l).unwrap();
    assert_eq!(r.object, "Leads");
    let v = z.record(&r).await;
    assert_eq!(v["Last_Name"], "山田");
    assert_eq!(v["First_Name"], "太郎");
    assert_eq!(v["Company"], "さくら商事");
    assert_eq!(v["Email"], "taro@sakura.example.jp");
    assert_eq!(v["Phone"], "03-1234-5678");
    assert_eq!(v["Description"], "会議で知り合った");
    assert_eq!(v["Lead_Source"], "Chat");
    assert_eq!(v["Owner"]["id"], owner.as_str());

    // Zoho refuses a Lead without Company and names the field.
    let mut no_company = lead("鈴木", None, None);
    no_company.company = None;
    let e = zr!(z, create_person, &no_company).unwrap_err();
    assert_eq!(
        invalid_field(&e),
        ("MANDATORY_NOT_FOUND".into(), Some("Company".into()))
    );
    // The email is unique among Leads: the holder is named.
    let e = zr!(
        z,
        create_person,
        &lead("別人", Some("TARO@sakura.example.jp"), None)
    )
    .unwrap_err();
    match &e {
        ConnectorError::Duplicate { existing_id, .. } => assert_eq!(existing_id, &r.id),
        other => panic!("{other:?}"),
    }

    // A Contact points at its Account.
    let acc = zr!(
        z,
        create_company,
        &NewCompany {
            name: "さくら商事株式会社".into(),
            ..Default::default()
        }
    )
    .unwrap();
    let c = NewPerson {
        object: PersonObject::Contact,
        account: Some(acc.clone()),
        email: Some("hanako@sakura.example.jp".into()),
        phone: Some("0312345678".into()),
        ..lead("佐藤", None, None)
    };
    let cr = zr!(z, create_person, &c).unwrap();
    assert_eq!(cr.object, "Contacts");
    let v = z.record(&cr).await;
    assert_eq!(v["Last_Name"], "佐藤");
    assert_eq!(v["Account_Name"]["id"], acc.id.as_str());
    assert_eq!(v["Account_Name"]["name"], "さくら商事株式会社");
    assert_eq!(v["Email"], "hanako@sakura.example.jp");
    // An account Zoho does not know is refused on the lookup field.
    let e = zr!(
        z,
        create_person,
        &NewPerson {
            account: Some(RecordRef::new("Accounts", "5725767000009999999")),
            email: None,
            ..c.clone()
        }
    )
    .unwrap_err();
    assert_eq!(
        invalid_field(&e),
        ("INVALID_DATA".into(), Some("Account_Name".into()))
    );

    // Found by a national form in both modules; by email in one; each record once.
    let both = [PersonObject::Lead, PersonObject::Contact];
    let q = PersonLookup {
        phone_e164: Some("+81312345678".into()),
        phone_national: vec!["03-1234-5678".into(), "0312345678".into()],
        email: Some("taro@sakura.example.jp".into()),
    };
    let found = zr!(z, find_people, &both, &q).unwrap();
    let mut got: Vec<(PersonObject, String, Option<String>)> = found
        .iter()
        .map(|p| (p.object, p.remote_id.clone(), p.last_name.clone()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            (PersonObject::Lead, r.id.clone(), Some("山田".into())),
            (PersonObject::Contact, cr.id.clone(), Some("佐藤".into())),
        ]
    );
    let contact = found
        .iter()
        .find(|p| p.object == PersonObject::Contact)
        .unwrap();
    assert_eq!(contact.company.as_deref(), Some("さくら商事株式会社"));
    let by_email = zr!(
        z,
        find_people,
        &[PersonObject::Contact],
        &PersonLookup {
            email: Some("hanako@sakura.example.jp".into()),
            ..Default::default()
        }
    )
    .unwrap();
    assert_eq!(by_email.len(), 1);
    assert_eq!(by_email[0].remote_id, cr.id);
    // Nobody: an empty answer (Zoho's 204), not an error.
    let none = zr!(
        z,
        find_people,
        &both,
        &PersonLookup {
            phone_national: vec!["06-9999-0000".into()],
            ..Default::default()
        }
    )
    .unwrap();
    assert!(none.is_empty());
    let e = zr!(z, find_people, &both, &PersonLookup::default()).unwrap_err();
    assert_eq!(
        invalid_field(&e),
        ("lookup_empty".into(), Some("phone".into()))
    );
    z.sb.stop().await;
}

#[tokio::test]
async fn companies_are_found_by_name_or_domain_and_linked() {
    let z = Z::start().await;
    assert_eq!(
        zr!(z, find_company, Some("Acme (Japan), Inc."), None).unwrap(),
        None
    );
    let first = zr!(
        z,
        create_company,
        &NewCompany {
            name: "Acme (Japan), Inc.".into(),
            domain: Some("acme.example.jp".into()),
            ..Default::default()
        }
    )
    .unwrap();
    let v = z.record(&first).await;
    assert_eq!(v["Account_Name"], "Acme (Japan), Inc.");
    assert_eq!(v["Website"], "https://acme.example.jp");
    z.advance(60).await;
    // A later account of the same name, and one whose website is typed differently.
    let second = zr!(
        z,
        create_company,
        &NewCompany {
            name: "ACME (JAPAN), INC.".into(),
            ..Default::default()
        }
    )
    .unwrap();
    let typed = z
        .insert(
            "Accounts",
            json!({"Account_Name": "Typed", "Website": "http://www.typed.example.com"}),
        )
        .await;

    // The oldest of the same name, whatever the case; the escaping keeps `(`, `,` literal.
    for name in ["Acme (Japan), Inc.", "acme (japan), inc."] {
        assert_eq!(
            zr!(z, find_company, Some(name), None).unwrap().as_ref(),
            Some(&first),
            "{name}"
        );
    }
    assert_eq!(
        zr!(z, find_company, None, Some("acme.example.jp"))
            .unwrap()
            .as_ref(),
        Some(&first)
    );
    assert_eq!(
        zr!(z, find_company, None, Some("typed.example.com"))
            .unwrap()
            .as_ref(),
        Some(&typed)
    );
    // Name or domain: either one matching is enough.
    assert_eq!(
        zr!(z, find_company, Some("nobody"), Some("typed.example.com"))
            .unwrap()
            .as_ref(),
        Some(&typed)
    );
    assert_eq!(
        zr!(z, find_company, Some("Acme"), Some("other.example.jp")).unwrap(),
        None
    );
    assert_ne!(second, first);
    let e = zr!(z, find_company, None, None).unwrap_err();
    assert_eq!(
        invalid_field(&e),
        ("lookup_empty".into(), Some("name".into()))
    );

    // Contact → Account: the contact's Account_Name.
    let contact = z.insert("Contacts", json!({"Last_Name": "Stone"})).await;
    zr!(z, associate, &contact, &second).unwrap();
    let v = z.record(&contact).await;
    assert_eq!(v["Account_Name"]["id"], second.id.as_str());
    // Twice is the same link.
    zr!(z, associate, &contact, &second).unwrap();
    assert_eq!(
        z.record(&contact).await["Account_Name"]["id"],
        second.id.as_str()
    );
    let lead = z
        .insert("Leads", json!({"Last_Name": "x", "Company": "y"}))
        .await;
    let e = zr!(z, associate, &lead, &second).unwrap_err();
    assert_eq!(invalid_field(&e), ("unsupported".into(), None));
    let gone = RecordRef::new("Contacts", "5725767000009999999");
    let e = zr!(z, associate, &gone, &second).unwrap_err();
    assert!(matches!(e, ConnectorError::NotFound { .. }), "{e:?}");
    let e = zr!(
        z,
        associate,
        &contact,
        &RecordRef::new("Accounts", "5725767000009999999")
    )
    .unwrap_err();
    assert_eq!(
        invalid_field(&e),
        ("INVALID_DATA".into(), Some("Account_Name".into()))
    );
    z.sb.stop().await;
}

#[tokio::test]
async fn activities_land_on_their_records_and_are_found_by_key() {
    let z = Z::start().await;
    let lead = z
        .insert(
            "Leads",
            json!({"Last_Name": "山田", "Company": "さくら商事"}),
        )
        .await;
    let contact = z.insert("Contacts", json!({"Last_Name": "佐藤"})).await;
    let deal = z
        .insert(
            "Deals",
            json!({"Deal_Name": "さくら商事 - 新規", "Stage": "Qualification"}),
        )
        .await;
    let users = z.sb.connectors.list_users(P, z.m.session()).await.unwrap();
    let owner = users.last().unwrap().id.clone();

    // A note on the lead (meeting notes).
    let note = activity(ActivityKind::Note, "renkei:t1:ev1:note", Some(&lead));
    assert_eq!(zr!(z, find_activity, &note).unwrap(), None);
    let n = zr!(z, create_activity, &note).unwrap();
    assert_eq!(n.object, "Notes");
    let v = z.record(&n).await;
    assert_eq!(v["Note_Title"], "商談 (初回)");
    assert_eq!(
        v["Note_Content"],
        "価格について話した。\n次回: デモ\n\nrenkei-ref: renkei:t1:ev1:note"
    );
    assert_eq!(v["Parent_Id"]["id"], lead.id.as_str());
    assert_eq!(v["Parent_Id"]["module"]["api_name"], "Leads");
    assert_eq!(zr!(z, find_activity, &note).unwrap().as_ref(), Some(&n));
    let other = activity(ActivityKind::Note, "renkei:t1:ev2:note", Some(&lead));
    assert_eq!(zr!(z, find_activity, &other).unwrap(), None);

    // An inbound call on the contact, owned by another user.
    let mut c = activity(ActivityKind::Call, "renkei:t1:ev3:call", Some(&contact));
    c.call = call(CallDirection::Inbound, 754);
    c.owner_id = Some(owner.clone());
    assert_eq!(zr!(z, find_activity, &c).unwrap(), None);
    let cr = zr!(z, create_activity, &c).unwrap();
    assert_eq!(cr.object, "Calls");
    let v = z.record(&cr).await;
    assert_eq!(v["Subject"], "商談 (初回)");
    assert_eq!(v["Call_Type"], "Inbound");
    assert_eq!(v["Call_Start_Time"], "2024-01-15T18:30:00+09:00");
    assert_eq!(v["Call_Duration"], "12:34");
    assert_eq!(v["Who_Id"]["id"], contact.id.as_str());
    assert_eq!(v["What_Id"], Value::Null);
    assert_eq!(v["Owner"]["id"], owner.as_str());
    assert!(
        v["Description"]
            .as_str()
            .unwrap()
            .ends_with("\n\nrenkei-ref: renkei:t1:ev3:call")
    );
    assert_eq!(zr!(z, find_activity, &c).unwrap().as_ref(), Some(&cr));
    // The same subject and minute under another key is another activity.
    let mut twin = c.clone();
    twin.key = "renkei:t1:ev4:call".into();
    assert_eq!(zr!(z, find_activity, &twin).unwrap(), None);

    // An outbound call on the lead: `What_Id` with `$se_module`, completed.
    let mut o = activity(ActivityKind::Call, "renkei:t1:ev5:call", Some(&lead));
    o.call = call(CallDirection::Outbound, 5);
    let or = zr!(z, create_activity, &o).unwrap();
    let v = z.record(&or).await;
    assert_eq!(v["Call_Type"], "Outbound");
    assert_eq!(v["Outbound_Call_Status"], "Completed");
    assert_eq!(v["Call_Duration"], "00:05");
    assert_eq!(v["What_Id"]["id"], lead.id.as_str());
    assert_eq!(v["$se_module"], "Leads");
    assert_eq!(v["Who_Id"], Value::Null);
    assert_eq!(zr!(z, find_activity, &o).unwrap().as_ref(), Some(&or));

    // A completed task on the contact and the deal.
    let mut t = activity(ActivityKind::Task, "renkei:t1:ev6:task", Some(&contact));
    t.deal = Some(deal.clone());
    let tr = zr!(z, create_activity, &t).unwrap();
    let v = z.record(&tr).await;
    assert_eq!(v["Subject"], "商談 (初回)");
    assert_eq!(v["Status"], "Completed");
    assert_eq!(v["Due_Date"], "2024-01-15");
    assert_eq!(v["Who_Id"]["id"], contact.id.as_str());
    assert_eq!(v["What_Id"]["id"], deal.id.as_str());
    assert_eq!(v["$se_module"], "Deals");
    assert_eq!(zr!(z, find_activity, &t).unwrap().as_ref(), Some(&tr));

    // A meeting on the deal.
    let mut e = activity(ActivityKind::Meeting, "renkei:t1:ev7:meeting", None);
    e.deal = Some(deal.clone());
    e.ends_at = Some(T.plus_ms(3_600_000));
    let er = zr!(z, create_activity, &e).unwrap();
    assert_eq!(er.object, "Events");
    let v = z.record(&er).await;
    assert_eq!(v["Event_Title"], "商談 (初回)");
    assert_eq!(v["Start_DateTime"], "2024-01-15T18:30:00+09:00");
    assert_eq!(v["End_DateTime"], "2024-01-15T19:30:00+09:00");
    assert_eq!(v["What_Id"]["id"], deal.id.as_str());
    assert_eq!(zr!(z, find_activity, &e).unwrap().as_ref(), Some(&er));

    // What Zoho cannot hold or refuses.
    let mail = activity(ActivityKind::Email, "renkei:t1:ev8:email", Some(&contact));
    let err = zr!(z, create_activity, &mail).unwrap_err();
    assert_eq!(invalid_field(&err), ("unsupported".into(), None));
    let err = zr!(z, find_activity, &mail).unwrap_err();
    assert_eq!(invalid_field(&err), ("unsupported".into(), None));
    let mut ghost = activity(
        ActivityKind::Call,
        "renkei:t1:ev9:call",
        Some(&RecordRef::new("Contacts", "5725767000009999999")),
    );
    ghost.call = call(CallDirection::Inbound, 1);
    let err = zr!(z, create_activity, &ghost).unwrap_err();
    assert_eq!(
        invalid_field(&err),
        ("INVALID_DATA".into(), Some("Who_Id".into()))
    );
    let orphan = activity(
        ActivityKind::Note,
        "renkei:t1:ev10:note",
        Some(&RecordRef::new("Leads", "5725767000009999999")),
    );
    let err = zr!(z, create_activity, &orphan).unwrap_err();
    assert_eq!(
        invalid_field(&err),
        ("INVALID_DATA".into(), Some("Parent_Id".into()))
    );
    assert_eq!(z.count("Calls").await, 2);
    assert_eq!(z.count("Notes").await, 1);
    z.sb.stop().await;
}

#[tokio::test]
async fn find_activity_tells_whether_a_failed_create_landed() {
    let z = Z::start().await;
    let contact = z.insert("Contacts", json!({"Last_Name": "佐藤"})).await;
    let mut c = activity(ActivityKind::Call, "renkei:t1:ev1:call", Some(&contact));
    c.call = call(CallDirection::Outbound, 90);

    // A 5xx before Zoho handled it: nothing landed, and the lookup says so.
    z.fault("server_error", "/Calls").await;
    let e = zr!(z, create_activity, &c).unwrap_err();
    assert!(
        matches!(e, ConnectorError::Unavailable { status: 500, .. }),
        "{e:?}"
    );
    assert_eq!(zr!(z, find_activity, &c).unwrap(), None);
    assert_eq!(z.count("Calls").await, 0);

    // The connection dropped after Zoho wrote it: ambiguous, and the lookup finds it.
    z.fault("drop_after", "/Calls").await;
    let e = zr!(z, create_activity, &c).unwrap_err();
    assert!(e.may_have_been_sent(), "{e:?}");
    let found = zr!(z, find_activity, &c).unwrap().expect("it landed");
    assert_eq!(found.object, "Calls");
    assert_eq!(z.count("Calls").await, 1);
    assert_eq!(z.record(&found).await["Who_Id"]["id"], contact.id.as_str());

    // The same for a note.
    let note = activity(ActivityKind::Note, "renkei:t1:ev2:note", Some(&contact));
    z.fault("drop_after", "/Notes").await;
    let e = zr!(z, create_activity, &note).unwrap_err();
    assert!(e.may_have_been_sent(), "{e:?}");
    let found = zr!(z, find_activity, &note).unwrap().expect("it landed");
    assert_eq!(
        z.record(&found).await["Parent_Id"]["id"],
        contact.id.as_str()
    );
    assert_eq!(z.count("Notes").await, 1);
    z.sb.stop().await;
}

#[tokio::test]
async fn append_to_activity_appends_once() {
    let z = Z::start().await;
    let contact = z.insert("Contacts", json!({"Last_Name": "佐藤"})).await;
    let mut c = activity(ActivityKind::Call, "renkei:t1:ev1:call", Some(&contact));
    c.call = call(CallDirection::Inbound, 30);
    let cr = zr!(z, create_activity, &c).unwrap();
    let before = z.record(&cr).await["Description"]
        .as_str()
        .unwrap()
        .to_owned();
    for _ in 0..2 {
        zr!(
            z,
            append_to_activity,
            ActivityKind::Call,
            &cr,
            "文字起こし:\nこんにちは"
        )
        .unwrap();
    }
    let after = z.record(&cr).await["Description"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(after, format!("{before}\n\n文字起こし:\nこんにちは"));
    // The key still finds it.
    assert_eq!(zr!(z, find_activity, &c).unwrap().as_ref(), Some(&cr));

    // A note's body is its content.
    let note = activity(ActivityKind::Note, "renkei:t1:ev2:note", Some(&contact));
    let n = zr!(z, create_activity, &note).unwrap();
    zr!(z, append_to_activity, ActivityKind::Note, &n, "追記").unwrap();
    zr!(z, append_to_activity, ActivityKind::Note, &n, "追記\n").unwrap();
    let content = z.record(&n).await["Note_Content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        content.ends_with("renkei-ref: renkei:t1:ev2:note\n\n追記"),
        "{content}"
    );
    assert_eq!(content.matches("追記").count(), 1);

    let gone = RecordRef::new("Calls", "5725767000009999999");
    let e = zr!(z, append_to_activity, ActivityKind::Call, &gone, "x").unwrap_err();
    assert!(matches!(e, ConnectorError::NotFound { .. }), "{e:?}");
    let e = zr!(z, append_to_activity, ActivityKind::Task, &cr, "x").unwrap_err();
    assert_eq!(
        invalid_field(&e),
        ("object_invalid".into(), Some("record".into()))
    );
    z.sb.stop().await;
}

#[tokio::test]
async fn update_record_sets_fields_and_reports_refusals() {
    let z = Z::start().await;
    let deal = z
        .insert(
            "Deals",
            json!({"Deal_Name": "Room", "Stage": "Qualification"}),
        )
        .await;
    let mut fields = Map::new();
    fields.insert("Description".into(), json!("https://rooms.example/r/9"));
    fields.insert("Amount".into(), json!(120000));
    zr!(z, update_record, &deal, &fields).unwrap();
    let v = z.record(&deal).await;
    assert_eq!(v["Description"], "https://rooms.example/r/9");
    assert_eq!(v["Amount"], 120000.0);
    assert_eq!(v["Deal_Name"], "Room");

    let mut bad = Map::new();
    bad.insert("Stage".into(), Value::Null);
    let e = zr!(z, update_record, &deal, &bad).unwrap_err();
    assert_eq!(
        invalid_field(&e),
        ("MANDATORY_NOT_FOUND".into(), Some("Stage".into()))
    );
    let e = zr!(
        z,
        update_record,
        &RecordRef::new("Deals", "5725767000009999999"),
        &fields
    )
    .unwrap_err();
    assert!(matches!(e, ConnectorError::NotFound { .. }), "{e:?}");
    let e = zr!(
        z,
        update_record,
        &RecordRef::new("Deals/../Leads", "1"),
        &fields
    )
    .unwrap_err();
    assert_eq!(
        invalid_field(&e),
        ("object_invalid".into(), Some("record".into()))
    );
    z.sb.stop().await;
}

#[tokio::test]
async fn describe_fields_gives_kinds() {
    let z = Z::start().await;
    let fields = zr!(z, describe_fields, "Leads").unwrap();
    let f = |name: &str| fields.iter().find(|f| f.name == name).unwrap();
    let last = f("Last_Name");
    assert_eq!(
        (
            last.kind,
            last.provider_type.as_str(),
            last.required,
            last.writable
        ),
        (FieldKind::Text, "text", true, true)
    );
    assert_eq!(last.label, "Last Name");
    assert_eq!(f("Description").kind, FieldKind::LongText);
    assert_eq!(f("No_of_Employees").kind, FieldKind::Number);
    assert_eq!(f("Annual_Revenue").kind, FieldKind::Number);
    assert_eq!(f("Email").kind, FieldKind::Email);
    assert_eq!(f("Website").kind, FieldKind::Url);
    let source = f("Lead_Source");
    assert_eq!(source.kind, FieldKind::Picklist);
    assert!(
        source
            .options
            .contains(&("Chat".to_owned(), "Chat".to_owned()))
    );
    assert!(!f("Full_Name").writable);
    assert_eq!(f("Owner").kind, FieldKind::Reference);
    assert!(f("Owner").writable);
    assert!(!f("Created_Time").writable);

    let calls = zr!(z, describe_fields, "Calls").unwrap();
    let start = calls.iter().find(|f| f.name == "Call_Start_Time").unwrap();
    assert_eq!((start.kind, start.required), (FieldKind::DateTime, true));
    let events = zr!(z, describe_fields, "Events").unwrap();
    assert!(
        events
            .iter()
            .any(|f| f.name == "End_DateTime" && f.required)
    );

    // Zoho's 400 INVALID_MODULE says the module is missing: NotFound, naming it.
    let e = zr!(z, describe_fields, "Nope").unwrap_err();
    assert!(
        matches!(&e, ConnectorError::NotFound { what, .. } if what == "module Nope"),
        "{e:?}"
    );
    z.sb.stop().await;
}
