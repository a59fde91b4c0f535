//! Booking capture end to end (PRODUCT.md 4.5, the TimeRex seed): `booking.completed` events
//! posted to the API become HubSpot companies and contacts in the emulator, deduplicated by
//! name or domain and by email, associated only when the contact is new, and written once
//! across re-posts and retries. Every case reads the records back through HubSpot's API and
//! counts them.

use reqwest::Method;
use serde_json::{Value, json};

use crate::people::{connect_minted, quiet_scheduler, sandbox};
use crate::support::TestApp;
use crate::writeback::{delivery, post_events, put_settings, settled, vendor};

/// A tenant connected to the HubSpot emulator, with a custom number property on contacts.
struct Portal {
    app: TestApp,
    token: Value,
    base: String,
}

impl Portal {
    async fn start(tweak: impl FnOnce(&mut renkei_server::Config)) -> Portal {
        let app = TestApp::start_sandboxed(|c| {
            quiet_scheduler(c);
            tweak(c);
        })
        .await;
        app.put_tenant("acme").await;
        let hs = connect_minted(&app, "acme", "hubspot").await;
        let portal = Portal {
            base: app.url("/sandbox/hubspot"),
            token: hs["access_token"].clone(),
            app,
        };
        portal
            .call(
                Method::POST,
                "/crm/v3/properties/contacts",
                Some(
                    json!({"name": "attendees", "label": "参加人数", "type": "number",
                            "fieldType": "number", "groupName": "contactinformation"}),
                ),
            )
            .await;
        portal
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        vendor(
            &self.app,
            &self.token,
            method,
            &format!("{}{path}", self.base),
            body,
        )
        .await
    }

    async fn create(&self, object: &str, props: Value) -> String {
        let r = self
            .call(
                Method::POST,
                &format!("/crm/v3/objects/{object}"),
                Some(json!({ "properties": props })),
            )
            .await;
        r["id"].as_str().unwrap().to_owned()
    }

    /// Every live record of `object` with `props`, by id.
    async fn all(&self, object: &str, props: &str) -> Vec<Value> {
        let page = self
            .call(
                Method::GET,
                &format!("/crm/v3/objects/{object}?limit=100&properties={props}"),
                None,
            )
            .await;
        assert!(page["paging"].is_null(), "more than one page: {page}");
        page["results"].as_array().unwrap().clone()
    }

    async fn companies(&self) -> Vec<Value> {
        self.all("companies", "name,domain,numberofemployees").await
    }

    async fn contacts(&self) -> Vec<Value> {
        self.all(
            "contacts",
            "email,firstname,lastname,phone,attendees,jobtitle,company",
        )
        .await
    }

    /// The company ids a contact is associated with (v4 associations).
    async fn companies_of(&self, contact: &str) -> Vec<String> {
        let r = self
            .call(
                Method::GET,
                &format!("/crm/v4/objects/contacts/{contact}/associations/companies"),
                None,
            )
            .await;
        r["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["toObjectId"].to_string().trim_matches('"').to_owned())
            .collect()
    }

    async fn stop(self) {
        self.app.stop().await;
    }
}

/// The mapping of the `sales` calendar: company name from the guest or the form, domain from
/// the guest's address, employees from the form; the contact's email, names, phone in E.164
/// and the number of attendees.
fn sales_mapping() -> Value {
    json!({
        "company": {
            "name": "{{ guest.company | default(answers.company) }}",
            "domain": "{{ guest.email }}",
            "numberofemployees": "{{ answers.employees }}",
        },
        "contact": {
            "email": "{{ guest.email }}",
            "lastname": "{{ answers.last_name }}",
            "firstname": "{{ answers.first_name }}",
            "phone": "{{ guest.phone | e164 }}",
            "attendees": "{{ answers.attendees }}",
        },
    })
}

async fn enable(p: &Portal, extra: Value) {
    let mut body = json!({"people": {"enabled": false},
        "booking_capture": {"enabled": true, "calendars": {"sales": sales_mapping()}}});
    if let Value::Object(m) = extra {
        for (k, v) in m {
            body["booking_capture"][k] = v;
        }
    }
    put_settings(&p.app, "acme", "hubspot", body).await;
}

/// A `booking.completed` event with id `id` (also the booking id).
fn booking(id: &str, calendar: &str, guest: Value, answers: Value) -> Value {
    json!({"id": id, "type": "booking.completed", "occurred_at": "2026-11-21T09:00:00Z",
        "data": {"booking_id": id, "calendar_id": calendar,
                 "starts_at": "2026-11-25T10:00:00Z", "ends_at": "2026-11-25T10:30:00Z",
                 "guest": guest, "answers": answers}})
}

/// Posts one booking and waits for its one delivery; asserts it succeeded and returns it.
async fn book(p: &Portal, event: Value) -> Value {
    let id = event["id"].as_str().unwrap().to_owned();
    post_events(&p.app, "acme", event).await;
    let ev = settled(&p.app, "acme", &id).await;
    let d = delivery(&ev).clone();
    assert_eq!(
        (
            d["step"].as_str(),
            d["status"].as_str(),
            d["subject"].clone()
        ),
        (
            Some("booking_records"),
            Some("succeeded"),
            json!(format!("booking:{id}"))
        ),
        "{ev}"
    );
    d
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

/// Both new (4.5): the company is created with its name, the guest's domain without the part
/// before `@` and the employees as a number; the contact with every mapped property (phone in
/// E.164, attendees as a number); the two associated once.
#[tokio::test]
async fn a_new_company_and_contact_are_created_and_associated() {
    let p = Portal::start(|_| {}).await;
    enable(&p, json!({})).await;
    let d = book(
        &p,
        booking(
            "bk-new",
            "sales",
            json!({"name": "新井 一郎", "email": "Ichiro.Arai@Shinki.Example.JP",
                   "company": "新規商事株式会社", "phone": "03-1234-5678"}),
            json!({"employees": 120, "attendees": "3", "last_name": "新井", "first_name": "一郎"}),
        ),
    )
    .await;
    let companies = p.companies().await;
    assert_eq!(companies.len(), 1, "{companies:?}");
    let c = &companies[0];
    assert_eq!(c["properties"]["name"], "新規商事株式会社");
    assert_eq!(c["properties"]["domain"], "shinki.example.jp");
    assert_eq!(c["properties"]["numberofemployees"], "120");
    let contacts = p.contacts().await;
    assert_eq!(contacts.len(), 1, "{contacts:?}");
    let k = &contacts[0]["properties"];
    assert_eq!(k["email"], "ichiro.arai@shinki.example.jp");
    assert_eq!(k["lastname"], "新井");
    assert_eq!(k["firstname"], "一郎");
    assert_eq!(k["phone"], "+81312345678");
    assert_eq!(k["attendees"], "3");
    // Unmapped properties stay unset.
    assert!(k["company"].is_null() && k["jobtitle"].is_null(), "{k}");
    assert_eq!(d["remote_ids"]["company"]["id"], c["id"]);
    assert_eq!(d["remote_ids"]["contact"]["id"], contacts[0]["id"]);
    assert_eq!(d["remote_ids"]["associated"], true);
    assert_eq!(
        p.companies_of(&id_of(&contacts[0])).await,
        vec![id_of(c)],
        "associated once"
    );
    p.stop().await;
}

/// A company that exists by name, or by domain only under another name, is reused rather than
/// created again; the new contact is associated with it.
#[tokio::test]
async fn an_existing_company_by_name_or_domain_is_reused() {
    let p = Portal::start(|_| {}).await;
    let by_name = p.create("companies", json!({"name": "既存商事"})).await;
    let by_domain = p
        .create(
            "companies",
            json!({"name": "Example Holdings", "domain": "example.co.jp"}),
        )
        .await;
    enable(&p, json!({})).await;
    // Same name, a domain HubSpot does not have.
    let d1 = book(
        &p,
        booking(
            "bk-name",
            "sales",
            json!({"name": "既存 花子", "email": "hanako@kizon-shoji.example"}),
            json!({"company": "既存商事", "last_name": "既存", "first_name": "花子"}),
        ),
    )
    .await;
    // Another name, the domain of a company HubSpot has.
    let d2 = book(
        &p,
        booking(
            "bk-domain",
            "sales",
            json!({"name": "例 次郎", "email": "jiro@Example.co.jp", "company": "エグザンプル株式会社"}),
            json!({"last_name": "例", "first_name": "次郎"}),
        ),
    )
    .await;
    assert_eq!(d1["remote_ids"]["company"]["id"], by_name.as_str());
    assert_eq!(d2["remote_ids"]["company"]["id"], by_domain.as_str());
    let companies = p.companies().await;
    assert_eq!(companies.len(), 2, "no company created: {companies:?}");
    // The existing companies are not rewritten.
    let named = companies.iter().find(|c| id_of(c) == by_name).unwrap();
    assert!(named["properties"]["domain"].is_null(), "{named}");
    let domained = companies.iter().find(|c| id_of(c) == by_domain).unwrap();
    assert_eq!(domained["properties"]["name"], "Example Holdings");

    let contacts = p.contacts().await;
    assert_eq!(contacts.len(), 2, "{contacts:?}");
    for (d, company) in [(&d1, &by_name), (&d2, &by_domain)] {
        let contact = d["remote_ids"]["contact"]["id"].as_str().unwrap();
        assert!(contacts.iter().any(|c| id_of(c) == contact));
        assert_eq!(p.companies_of(contact).await, vec![company.clone()]);
    }
    p.stop().await;
}

/// A free-mail guest (4.5): no domain is written; with a company name from the form the
/// company is created by name alone, and without one no company is created and the contact is
/// not associated.
#[tokio::test]
async fn free_mail_guests_give_no_domain() {
    let p = Portal::start(|_| {}).await;
    enable(&p, json!({})).await;
    let named = book(
        &p,
        booking(
            "bk-free-named",
            "sales",
            json!({"name": "自由 三郎", "email": "saburo@gmail.com"}),
            json!({"company": "フリー商会", "last_name": "自由", "first_name": "三郎"}),
        ),
    )
    .await;
    let anonymous = book(
        &p,
        booking(
            "bk-free",
            "sales",
            json!({"name": "無名 四郎", "email": "shiro@yahoo.co.jp"}),
            json!({"last_name": "無名"}),
        ),
    )
    .await;
    let companies = p.companies().await;
    assert_eq!(companies.len(), 1, "{companies:?}");
    assert_eq!(companies[0]["properties"]["name"], "フリー商会");
    assert!(
        companies[0]["properties"]["domain"].is_null(),
        "{companies:?}"
    );
    let contacts = p.contacts().await;
    assert_eq!(contacts.len(), 2, "{contacts:?}");
    let named_contact = named["remote_ids"]["contact"]["id"].as_str().unwrap();
    assert_eq!(
        p.companies_of(named_contact).await,
        vec![id_of(&companies[0])]
    );
    assert!(anonymous["remote_ids"]["company"].is_null(), "{anonymous}");
    assert!(
        anonymous["remote_ids"]["associated"].is_null(),
        "{anonymous}"
    );
    let anonymous_contact = anonymous["remote_ids"]["contact"]["id"].as_str().unwrap();
    let k = contacts
        .iter()
        .find(|c| id_of(c) == anonymous_contact)
        .unwrap();
    assert_eq!(k["properties"]["email"], "shiro@yahoo.co.jp");
    assert_eq!(k["properties"]["lastname"], "無名");
    assert!(k["properties"]["firstname"].is_null(), "{k}");
    assert_eq!(
        p.companies_of(anonymous_contact).await,
        Vec::<String>::new()
    );
    p.stop().await;
}

/// A contact with the guest's email exists (4.5): it is not created again, not updated and not
/// associated; the company, new, is still created.
#[tokio::test]
async fn an_existing_contact_is_neither_duplicated_nor_updated() {
    let p = Portal::start(|_| {}).await;
    let existing = p
        .create(
            "contacts",
            json!({"email": "known@kokyaku.example", "lastname": "顧客", "firstname": "既存",
                   "phone": "03-0000-0000"}),
        )
        .await;
    enable(&p, json!({})).await;
    let d = book(
        &p,
        booking(
            "bk-known",
            "sales",
            json!({"name": "別名 五郎", "email": "Known@Kokyaku.Example", "company": "顧客商事",
                   "phone": "090-1111-2222"}),
            json!({"last_name": "別名", "first_name": "五郎", "attendees": 2}),
        ),
    )
    .await;
    assert_eq!(d["remote_ids"]["contact"]["id"], existing.as_str());
    assert!(d["remote_ids"]["associated"].is_null(), "{d}");
    let contacts = p.contacts().await;
    assert_eq!(contacts.len(), 1, "{contacts:?}");
    let k = &contacts[0]["properties"];
    assert_eq!(
        (
            &k["lastname"],
            &k["firstname"],
            &k["phone"],
            &k["attendees"]
        ),
        (
            &json!("顧客"),
            &json!("既存"),
            &json!("03-0000-0000"),
            &Value::Null
        ),
        "not updated: {k}"
    );
    let companies = p.companies().await;
    assert_eq!(companies.len(), 1, "{companies:?}");
    assert_eq!(companies[0]["properties"]["name"], "顧客商事");
    assert_eq!(companies[0]["properties"]["domain"], "kokyaku.example");
    assert_eq!(p.companies_of(&existing).await, Vec::<String>::new());
    p.stop().await;
}

/// A calendar without a mapping and no default is skipped (`no_mapping`); once a default
/// exists, a calendar's own mapping still wins, the default serves the others (its contact's
/// names split from the guest's name), and the skipped booking retried is written by it. A
/// contact email that renders empty fails the delivery before anything is written.
#[tokio::test]
async fn calendars_without_a_mapping_are_skipped_and_their_own_mapping_wins() {
    let p = Portal::start(|_| {}).await;
    enable(&p, json!({})).await;
    let event = booking(
        "bk-unmapped",
        "support",
        json!({"name": "支援 六郎", "email": "rokuro@shien.example", "company": "支援商事"}),
        json!({}),
    );
    post_events(&p.app, "acme", event).await;
    let ev = settled(&p.app, "acme", "bk-unmapped").await;
    let skipped = delivery(&ev).clone();
    assert_eq!(
        (skipped["step"].as_str(), skipped["status"].as_str()),
        (Some("booking_records"), Some("skipped")),
        "{ev}"
    );
    assert!(
        skipped["reason"]
            .as_str()
            .unwrap()
            .starts_with("no_mapping:"),
        "{ev}"
    );
    assert!(p.contacts().await.is_empty() && p.companies().await.is_empty());

    enable(
        &p,
        json!({"default": {"contact": {"email": "{{ guest.email }}",
                                       "jobtitle": "予約（{{ calendar_id }}）"}}}),
    )
    .await;
    let own = book(
        &p,
        booking(
            "bk-own",
            "sales",
            json!({"name": "営業 七子", "email": "nanako@eigyo.example", "company": "営業商事"}),
            json!({"last_name": "営業", "first_name": "七子"}),
        ),
    )
    .await;
    let by_default = book(
        &p,
        booking(
            "bk-default",
            "other",
            json!({"name": "他 八郎", "email": "hachiro@hoka.example", "company": "他商事"}),
            json!({}),
        ),
    )
    .await;
    let contacts = p.contacts().await;
    let contact = |d: &Value| {
        let id = d["remote_ids"]["contact"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        contacts
            .iter()
            .find(|c| id_of(c) == id)
            .unwrap_or_else(|| panic!("{id} in {contacts:?}"))["properties"]
            .clone()
    };
    // The calendar's mapping: a company, names from the form, no job title.
    assert!(own["remote_ids"]["company"]["id"].is_string(), "{own}");
    let k = contact(&own);
    assert_eq!(
        (&k["lastname"], &k["firstname"]),
        (&json!("営業"), &json!("七子"))
    );
    assert!(k["jobtitle"].is_null(), "{k}");
    // The default: a contact only, its names split from the guest's name.
    assert!(
        by_default["remote_ids"]["company"].is_null(),
        "{by_default}"
    );
    let k = contact(&by_default);
    assert_eq!(
        (&k["lastname"], &k["firstname"], &k["jobtitle"]),
        (&json!("他"), &json!("八郎"), &json!("予約（other）"))
    );
    let companies = p.companies().await;
    assert_eq!(companies.len(), 1, "{companies:?}");
    assert_eq!(companies[0]["properties"]["name"], "営業商事");

    // The skipped booking, retried, is written by the default mapping now.
    let path = format!("/v1/tenants/acme/deliveries/{}", skipped["id"]);
    let (s, b) = p.app.send("POST", &format!("{path}/retry"), None).await;
    assert_eq!(s, 202, "{b}");
    let mut done = Value::Null;
    p.app
        .eventually("the retried booking to be written", async || {
            let (_, d) = p.app.send("GET", &path, None).await;
            done = d;
            done["status"] == "succeeded"
        })
        .await;
    let contacts = p.contacts().await;
    assert_eq!(contacts.len(), 3, "{contacts:?}");
    let id = done["remote_ids"]["contact"]["id"].as_str().unwrap();
    let k = &contacts.iter().find(|c| id_of(c) == id).unwrap()["properties"];
    assert_eq!(k["email"], "rokuro@shien.example");
    assert_eq!(k["jobtitle"], "予約（support）");
    assert_eq!(p.companies().await.len(), 1);

    // A contact email that renders empty fails the delivery naming the property, before the
    // company is written.
    enable(
        &p,
        json!({"calendars": {"broken": {"company": {"name": "{{ guest.company }}"},
                                        "contact": {"email": "{{ answers.mail }}"}}}}),
    )
    .await;
    let event = booking(
        "bk-broken",
        "broken",
        json!({"name": "壊 九子", "email": "kyuko@kowa.example", "company": "壊商事"}),
        json!({}),
    );
    post_events(&p.app, "acme", event).await;
    let ev = settled(&p.app, "acme", "bk-broken").await;
    let failed = delivery(&ev);
    assert_eq!(failed["status"], "failed", "{ev}");
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.starts_with("invalid_input:")
            && error.contains("(field booking_capture.calendars.broken.contact.email)"),
        "{error}"
    );
    assert_eq!(p.companies().await.len(), 1);
    assert_eq!(p.contacts().await.len(), 3);
    p.stop().await;
}

/// Exactly once (4.5 with the delivery rules): the same event id posted again writes nothing;
/// a delivery whose association kept failing (the emulator's injected 500s) ends `dead` with
/// its company and contact saved, and its retry reuses them: one company, one contact, one
/// association.
#[tokio::test]
async fn retries_write_nothing_twice() {
    // Short backoffs, so that twelve failed attempts end within the test's patience.
    let p = Portal::start(|c| {
        c.worker.backoff_base_ms = 5;
        c.worker.backoff_cap_seconds = 1;
    })
    .await;
    enable(&p, json!({})).await;
    let first = booking(
        "bk-once",
        "sales",
        json!({"name": "一度 九郎", "email": "kuro@ichido.example", "company": "一度商事"}),
        json!({"last_name": "一度", "first_name": "九郎"}),
    );
    let d = book(&p, first.clone()).await;
    post_events(&p.app, "acme", first).await;
    let ev = settled(&p.app, "acme", "bk-once").await;
    assert_eq!(delivery(&ev)["attempts"], 1, "{ev}");
    assert_eq!(delivery(&ev)["id"], d["id"]);

    // Every association fails until the fault is removed.
    sandbox(
        &p.app,
        "hubspot",
        "faults",
        json!({"kind": "server_error", "status": 500, "fraction": 1.0,
               "method": "PUT", "path_prefix": "/crm/v4/objects/contacts/"}),
    )
    .await;
    post_events(
        &p.app,
        "acme",
        booking(
            "bk-retry",
            "sales",
            json!({"name": "再試 十郎", "email": "juro@saishi.example", "company": "再試商事"}),
            json!({"last_name": "再試", "first_name": "十郎"}),
        ),
    )
    .await;
    let ev = settled(&p.app, "acme", "bk-retry").await;
    let dead = delivery(&ev).clone();
    assert_eq!(
        (dead["status"].as_str(), dead["attempts"].as_i64()),
        (Some("dead"), Some(12)),
        "{ev}"
    );
    assert!(dead["remote_ids"]["associated"].is_null(), "{dead}");
    assert_eq!(dead["remote_ids"]["contact_new"], true, "{dead}");
    let company = dead["remote_ids"]["company"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let contact = dead["remote_ids"]["contact"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(p.companies().await.len(), 2);
    assert_eq!(p.contacts().await.len(), 2);
    assert!(p.companies_of(&contact).await.is_empty());

    let resp = p
        .app
        .http
        .delete(p.app.url("/sandbox/hubspot/_control/faults"))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let path = format!("/v1/tenants/acme/deliveries/{}", dead["id"]);
    let (s, b) = p.app.send("POST", &format!("{path}/retry"), None).await;
    assert_eq!(s, 202, "{b}");
    let mut done = Value::Null;
    p.app
        .eventually("the retried booking to succeed", async || {
            let (_, d) = p.app.send("GET", &path, None).await;
            done = d;
            done["status"] == "succeeded"
        })
        .await;
    assert_eq!(done["attempts"], 13, "{done}");
    assert_eq!(done["remote_ids"]["company"]["id"], company.as_str());
    assert_eq!(done["remote_ids"]["contact"]["id"], contact.as_str());
    assert_eq!(done["remote_ids"]["associated"], true);

    let companies = p.companies().await;
    assert_eq!(companies.len(), 2, "{companies:?}");
    let contacts = p.contacts().await;
    assert_eq!(contacts.len(), 2, "{contacts:?}");
    assert_eq!(
        companies
            .iter()
            .filter(|c| c["properties"]["name"] == "再試商事")
            .count(),
        1
    );
    assert_eq!(
        contacts
            .iter()
            .filter(|c| c["properties"]["email"] == "juro@saishi.example")
            .count(),
        1
    );
    assert_eq!(p.companies_of(&contact).await, vec![company]);
    let once = d["remote_ids"]["contact"]["id"].as_str().unwrap();
    assert_eq!(
        p.companies_of(once).await,
        vec![
            d["remote_ids"]["company"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        ]
    );
    p.stop().await;
}
