//! Write-back under chaos (issue 6): 5,000 mixed events to Salesforce and HubSpot while the
//! emulators fail requests, rate-limit them and drop connections after doing the work, and
//! `renkei serve` is killed with SIGKILL part-way. Each tenant gets calls (from known people
//! and from unknown numbers) and their transcripts; the Salesforce tenant also gets meeting
//! reports (known people by email, and new customers who become Leads), the HubSpot tenant
//! bookings (guests of a few companies who spell their company's name two ways; each company
//! and contact created once and associated).
//! After the restart every delivery must succeed and each emulator must hold exactly one
//! record or activity per intended write.
//!
//! The emulators run in a separate `renkei sandbox` process, so they keep their records when
//! renkei dies. Salesforce answers rate limits with its daily-limit 403 (it has no 429), which
//! would hold renkei back for the rest of the day, so its 429s are HubSpot's: 5% of HubSpot
//! writes get a 429 with `Retry-After`.

use std::collections::{BTreeMap, HashSet};

use renkei_core::TenantId;
use renkei_store::testing::TestDb;
use serde_json::{Value, json};

use crate::support::{Server, create_key, eventually, serve};
use crate::sync::Sandbox;

/// Events per tenant: calls from known people, calls from unknown numbers, transcripts, and
/// meeting reports (Salesforce) or bookings (HubSpot).
const KNOWN_CALLS: usize = 1_200;
const UNKNOWN_CALLS: usize = 400;
const UNKNOWN_NUMBERS: usize = 100;
const TRANSCRIPTS: usize = 400;
const MEETINGS: usize = 500;
const BOOKINGS: usize = 500;
/// Meeting reports alternate between imported people (found by email) and these new
/// customers, each of whom must become exactly one Lead.
const NEW_CUSTOMERS: usize = 50;
/// Booking guests, and the companies they work at (consecutive guests at different ones).
const GUESTS: usize = 100;
const GUEST_COMPANIES: usize = 25;

struct Tenant {
    name: &'static str,
    provider: &'static str,
    emulator: &'static str,
    /// The tokens the emulator minted, to read its records back.
    tokens: Value,
}

/// A Japanese number's digits in national form, however it was written (`+81 3…`, `03-…`).
fn national_digits(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    match digits.strip_prefix("81") {
        Some(rest) if phone.trim_start().starts_with('+') => format!("0{rest}"),
        _ => digits,
    }
}

fn unknown_number(n: usize) -> String {
    format!("03-9{:03}-{:04}", n / 10, 1000 + n)
}

/// Call `i`'s start: one second after the one before. Calls of one person never start at the
/// same millisecond, and HubSpot's connector relies on that: it finds an activity again by its
/// time, its associations and its title (see `hubspot/records.rs`).
fn started_at(i: usize) -> String {
    format!(
        "2026-11-21T{:02}:{:02}:{:02}+09:00",
        9 + i / 3600,
        (i / 60) % 60,
        i % 60
    )
}

/// Someone the Salesforce tenant's CRM knows: an imported person with an email address.
struct Known {
    name: String,
    company: String,
    email: String,
}

fn new_customer_email(n: usize) -> String {
    format!("shinki{n:02}@shinki{n:02}.example.jp")
}

fn meeting_title(i: usize) -> String {
    format!("定例 sf-mt-{i}")
}

/// Meeting report `i`: even ones for an imported person, odd ones for a new customer.
fn meeting(i: usize, known: &[Known]) -> Value {
    let customer = if i.is_multiple_of(2) {
        let k = (i / 2) % known.len();
        let p = &known[k];
        json!({"id": format!("sf-known-{k}"), "name": p.name, "company": p.company,
            "email": p.email})
    } else {
        let n = (i / 2) % NEW_CUSTOMERS;
        json!({"id": format!("sf-new-{n}"), "name": format!("新規 顧客{n:02}"),
            "company": format!("新規商事{n:02}"), "email": new_customer_email(n)})
    };
    json!({"id": format!("sf-mt-{i}"), "type": "meeting.report_ready",
        "occurred_at": "2026-11-21T11:00:00+09:00",
        "data": {"meeting_id": format!("sf-mt-{i}"), "title": meeting_title(i),
            "body": format!("議事録 sf-mt-{i}"), "held_at": started_at(i),
            "customer": customer}})
}

fn guest_email(g: usize) -> String {
    format!("guest{g:03}@{}", guest_domain(g % GUEST_COMPANIES))
}

fn guest_domain(c: usize) -> String {
    format!("co{c:02}.example.jp")
}

/// Guest `g`'s company as they typed it: every other guest of a company names its branch, so
/// the company is one only because bookings are keyed and matched by its domain.
fn guest_company(g: usize) -> String {
    let c = g % GUEST_COMPANIES;
    if (g / GUEST_COMPANIES).is_multiple_of(2) {
        format!("予約商事{c:02}")
    } else {
        format!("予約商事{c:02} 東京支社")
    }
}

/// The `sales` calendar's mapping: the company by the guest's company and email domain, the
/// contact by email and the form's names.
fn booking_mapping() -> Value {
    json!({
        "company": {"name": "{{ guest.company }}", "domain": "{{ guest.email }}"},
        "contact": {"email": "{{ guest.email }}", "lastname": "{{ answers.last_name }}",
            "firstname": "{{ answers.first_name }}"},
    })
}

fn booking(i: usize) -> Value {
    let g = i % GUESTS;
    json!({"id": format!("hs-bk-{i}"), "type": "booking.completed",
        "occurred_at": "2026-11-21T11:00:00+09:00",
        "data": {"booking_id": format!("hs-bk-{i}"), "calendar_id": "sales",
            "starts_at": "2026-11-25T10:00:00+09:00", "ends_at": "2026-11-25T10:30:00+09:00",
            "guest": {"name": format!("予約 ゲスト{g:03}"), "email": guest_email(g),
                "company": guest_company(g)},
            "answers": {"last_name": "予約", "first_name": format!("ゲスト{g:03}")}}})
}

/// The events of one tenant, known callers' numbers given: calls with the tenant's meeting
/// reports or bookings spread among them, then the transcripts.
fn events(tenant: &str, known: &[String], others: Vec<Value>) -> Vec<Value> {
    let call = |i: usize, phone: &str| {
        json!({"id": format!("{tenant}-call-{i}"), "type": "call.ended",
            "occurred_at": "2026-11-21T10:00:00+09:00",
            "data": {"call_id": format!("{tenant}-c{i}"), "direction": "inbound",
                "customer_phone": phone, "duration_seconds": 30 + i % 600,
                "started_at": started_at(i)}})
    };
    let mut calls = Vec::new();
    for i in 0..KNOWN_CALLS {
        calls.push(call(i, &known[i % known.len()]));
    }
    for i in KNOWN_CALLS..KNOWN_CALLS + UNKNOWN_CALLS {
        calls.push(call(i, &unknown_number(i % UNKNOWN_NUMBERS)));
    }
    let mut out = Vec::new();
    let mut others = others.into_iter();
    let (n_calls, n_others) = (calls.len(), others.len());
    for (c, call) in calls.into_iter().enumerate() {
        out.push(call);
        // Other event `o` goes after call `o * n_calls / n_others`, so they spread evenly.
        while out.len() - c - 1 < n_others && (out.len() - c - 1) * n_calls <= c * n_others {
            out.extend(others.next());
        }
    }
    out.extend(others);
    // Transcripts of the first calls of both kinds, posted after every call.
    for t in 0..TRANSCRIPTS {
        let i = if t % 2 == 0 { t } else { KNOWN_CALLS + t };
        out.push(json!({"id": format!("{tenant}-tx-{i}"), "type": "call.transcribed",
            "occurred_at": "2026-11-21T10:05:00+09:00",
            "data": {"call_id": format!("{tenant}-c{i}"), "text": format!("transcript-{tenant}-{i}.")}}));
    }
    out
}

async fn send(
    http: &reqwest::Client,
    server: &Server,
    key: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Value {
    let mut req = http
        .request(method.parse().unwrap(), server.url(path))
        .bearer_auth(key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert!(status.is_success(), "{method} {path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Every record a vendor list or query answers, following its pages.
async fn vendor_all(http: &reqwest::Client, t: &Tenant, origin: &str, what: &str) -> Vec<Value> {
    let token = t.tokens["access_token"].as_str().unwrap();
    let mut out = Vec::new();
    if t.provider == "salesforce" {
        let instance = t.tokens["instance_url"].as_str().unwrap();
        let mut url = reqwest::Url::parse_with_params(
            &format!("{instance}/services/data/v62.0/query"),
            [("q", what)],
        )
        .unwrap()
        .to_string();
        loop {
            let page: Value = http
                .get(&url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let records = page["records"]
                .as_array()
                .unwrap_or_else(|| panic!("{what}: {page}"));
            out.extend(records.iter().cloned());
            match page["nextRecordsUrl"].as_str() {
                // Relative to the instance URL, whose path the sandbox's instances have.
                Some(next) => url = format!("{}{next}", instance.trim_end_matches('/')),
                None => return out,
            }
        }
    }
    let mut after: Option<String> = None;
    loop {
        let mut url = format!("{origin}/sandbox/hubspot/crm/v3/objects/{what}&limit=100");
        if let Some(a) = &after {
            url.push_str(&format!("&after={a}"));
        }
        let page: Value = http
            .get(&url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let results = page["results"]
            .as_array()
            .unwrap_or_else(|| panic!("{what}: {page}"));
        out.extend(results.iter().cloned());
        match page["paging"]["next"]["after"].as_str() {
            Some(a) => after = Some(a.to_owned()),
            None => return out,
        }
    }
}

async fn counts(db: &TestDb, tenant: &str) -> BTreeMap<String, i64> {
    let t = TenantId::parse(tenant).unwrap();
    db.store
        .delivery_counts(&t)
        .await
        .unwrap()
        .into_iter()
        .map(|(s, n)| (format!("{s:?}").to_lowercase(), n))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_survive_faults_and_sigkill_exactly_once() {
    let db = TestDb::new().await;
    let http = reqwest::Client::new();
    let sandbox = Sandbox::start(&db).await;
    let key = create_key(&db).await;
    // Retries come quickly (the faults make many), a killed process's jobs come back after two
    // seconds, and HubSpot's ten-second window is lifted so that only injected 429s happen.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("renkei.toml");
    std::fs::write(
        &config,
        "[worker]\nbackoff_base_ms = 100\nbackoff_cap_seconds = 2\n",
    )
    .unwrap();
    let config = config.display().to_string();
    let args = [
        "--sandbox-url",
        &sandbox.origin,
        "--config",
        &config,
        "--worker-lease-seconds",
        "2",
    ];
    sandbox
        .control_on(
            &http,
            "hubspot",
            "limits",
            json!({"enabled": false, "oauth_ten_second_max": 1_000_000_000u64,
                "private_app_ten_second_max": 1_000_000_000u64,
                "private_app_daily_max": 1_000_000_000u64}),
        )
        .await;
    for emu in ["salesforce", "hubspot"] {
        sandbox
            .control_on(&http, emu, "seed", json!({"count": 300, "seed": 11}))
            .await;
    }
    let started = std::time::Instant::now();
    let server = serve(&db, &args).await;

    let mut tenants = vec![
        Tenant {
            name: "sf",
            provider: "salesforce",
            emulator: "salesforce",
            tokens: Value::Null,
        },
        Tenant {
            name: "hs",
            provider: "hubspot",
            emulator: "hubspot",
            tokens: Value::Null,
        },
    ];
    let mut all_events = Vec::new();
    for t in &mut tenants {
        let tenant = format!("/v1/tenants/{}", t.name);
        send(&http, &server, &key, "PUT", &tenant, Some(json!({}))).await;
        t.tokens = sandbox
            .control_on(&http, t.emulator, "tokens", json!({}))
            .await;
        let mut body = json!({"access_token": t.tokens["access_token"],
            "refresh_token": t.tokens["refresh_token"]});
        for k in ["instance_url", "id", "expires_in"] {
            if !t.tokens[k].is_null() {
                body[k] = t.tokens[k].clone();
            }
        }
        let conn = format!("{tenant}/connections/{}", t.provider);
        send(&http, &server, &key, "PUT", &conn, Some(body)).await;
        eventually("the first import", 120, async || {
            let runs = send(
                &http,
                &server,
                &key,
                "GET",
                &format!("{conn}/sync-runs"),
                None,
            )
            .await;
            runs["runs"][0]["status"] == "succeeded"
        })
        .await;
        let settings = if t.provider == "salesforce" {
            json!({"call_logging": {"enabled": true, "create_unknown": "lead"},
                "meeting_notes": {"enabled": true}})
        } else {
            json!({"call_logging": {"enabled": true, "create_unknown": "contact"},
                "booking_capture": {"enabled": true,
                    "calendars": {"sales": booking_mapping()}}})
        };
        send(
            &http,
            &server,
            &key,
            "PUT",
            &format!("{conn}/settings"),
            Some(settings),
        )
        .await;
        let people = send(
            &http,
            &server,
            &key,
            "GET",
            &format!("{tenant}/people?limit=200"),
            None,
        )
        .await;
        let people = people["people"].as_array().unwrap();
        let known: Vec<String> = people
            .iter()
            .filter_map(|p| {
                p["phones"]
                    .as_array()?
                    .iter()
                    .find(|ph| ph["e164"].is_string())?["raw"]
                    .as_str()
                    .map(str::to_owned)
            })
            .collect();
        assert!(known.len() > 50, "the import brought callers: {people:?}");
        let others = if t.provider == "salesforce" {
            let by_email: Vec<Known> = people
                .iter()
                .filter(|p| p["visible"] == true)
                .filter_map(|p| {
                    Some(Known {
                        name: p["name"]
                            .as_str()
                            .filter(|n| !n.trim().is_empty())?
                            .to_owned(),
                        company: p["company"].as_str().unwrap_or_default().to_owned(),
                        email: p["emails"][0].as_str()?.to_owned(),
                    })
                })
                .collect();
            assert!(by_email.len() > 50, "the import brought people with email");
            (0..MEETINGS).map(|i| meeting(i, &by_email)).collect()
        } else {
            (0..BOOKINGS).map(booking).collect()
        };
        all_events.push((t.name, events(t.name, &known, others)));
    }

    eprintln!("chaos: imported and set up after {:?}", started.elapsed());
    // What the seed wrote already (it has call Tasks of its own), to count renkei's writes.
    let before = holdings(&http, &tenants, &sandbox.origin).await;
    // The chaos, on the data APIs only (tokens and identity stay reachable).
    for (emu, prefix) in [("salesforce", "/instances"), ("hubspot", "/crm")] {
        for fault in [
            json!({"kind": "server_error", "fraction": 0.10, "status": 503}),
            json!({"kind": "drop_after", "fraction": 0.03}),
        ] {
            let mut f = fault;
            f["path_prefix"] = json!(prefix);
            sandbox.control_on(&http, emu, "faults", f).await;
        }
    }
    sandbox
        .control_on(
            &http,
            "hubspot",
            "faults",
            json!({"kind": "rate_limit", "fraction": 0.05, "retry_after_seconds": 1, "path_prefix": "/crm"}),
        )
        .await;

    // Calls with the meetings or bookings among them, then transcripts, in batches; the server
    // is killed once a third of the deliveries are written.
    for (name, events) in &all_events {
        for chunk in events.chunks(250) {
            send(
                &http,
                &server,
                &key,
                "POST",
                &format!("/v1/tenants/{name}/events"),
                Some(Value::Array(chunk.to_vec())),
            )
            .await;
        }
    }
    let total = all_events.iter().map(|(_, e)| e.len()).sum::<usize>();
    eprintln!("chaos: {total} events posted after {:?}", started.elapsed());
    assert_eq!(total, 5_000);
    eventually("a third of the deliveries to be written", 300, async || {
        let mut done = 0;
        for t in ["sf", "hs"] {
            done += counts(&db, t).await.get("succeeded").copied().unwrap_or(0);
        }
        done as usize >= total / 3
    })
    .await;
    eprintln!("chaos: SIGKILL after {:?}", started.elapsed());
    server.kill().await;
    let server = serve(&db, &args).await;
    // A ceiling, not a target: the retries' backoffs set the pace, and a loaded machine
    // stretches them.
    eventually("every delivery to end", 900, async || {
        let mut ended = 0;
        for t in ["sf", "hs"] {
            let c = counts(&db, t).await;
            ended += c
                .iter()
                .filter(|(s, _)| *s != "pending")
                .map(|(_, n)| n)
                .sum::<i64>();
        }
        ended as usize == total
    })
    .await;
    for t in ["sf", "hs"] {
        let c = counts(&db, t).await;
        assert_eq!(
            c,
            BTreeMap::from([("succeeded".to_owned(), 2_500)]),
            "{t}: every delivery succeeded"
        );
    }

    // Count what the emulators hold: one call activity per call, one created person per
    // unknown number, each transcript once. The faults go first, or they would hit the counting.
    let origin = sandbox.origin.clone();
    for emu in ["salesforce", "hubspot"] {
        let r = http
            .delete(format!("{origin}/sandbox/{emu}/_control/faults"))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{emu}: clearing the faults");
    }
    eprintln!(
        "chaos: every delivery succeeded after {:?}",
        started.elapsed()
    );
    let after = holdings(&http, &tenants, &origin).await;
    let expected = [
        KNOWN_CALLS + UNKNOWN_CALLS,
        UNKNOWN_NUMBERS,
        KNOWN_CALLS + UNKNOWN_CALLS,
        UNKNOWN_NUMBERS,
        MEETINGS,
        NEW_CUSTOMERS,
        GUEST_COMPANIES,
        GUESTS,
    ];
    for (i, what) in [
        "Salesforce call Tasks",
        "Salesforce Leads of unknown numbers",
        "HubSpot calls",
        "HubSpot contacts of unknown numbers",
        "Salesforce meeting Notes",
        "Salesforce Leads of new meeting customers",
        "HubSpot companies of booking guests",
        "HubSpot contacts of booking guests",
    ]
    .into_iter()
    .enumerate()
    {
        assert_eq!(
            after.counts[i],
            before.counts[i] + expected[i],
            "{what}: one per intended write (the seed had {})",
            before.counts[i]
        );
    }
    check_transcripts("sf", &after.sf_bodies);
    check_transcripts("hs", &after.hs_bodies);
    check_meeting_notes(&after);
    check_bookings(&http, &tenants[1], &origin, &after).await;

    let status = server.terminate().await;
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
    let mut sandbox = sandbox;
    sandbox.child.kill().await.unwrap();
    db.cleanup().await;
}

/// What the emulators hold of the kinds renkei writes here.
struct Holdings {
    /// Salesforce call Tasks, Leads of unknown numbers, HubSpot calls, contacts of unknown
    /// numbers, Salesforce meeting Notes, Leads of new meeting customers, HubSpot companies and
    /// contacts of booking guests.
    counts: [usize; 8],
    sf_bodies: Vec<String>,
    hs_bodies: Vec<String>,
    /// Meeting Notes by title: the ids of their parents.
    sf_notes: BTreeMap<String, Vec<String>>,
    /// The Leads of new meeting customers: email to ids.
    sf_new_leads: BTreeMap<String, Vec<String>>,
    /// Booking guests' companies by domain and contacts by email: their ids.
    hs_companies: BTreeMap<String, Vec<String>>,
    hs_contacts: BTreeMap<String, Vec<String>>,
}

/// Groups the ids of `records` under `key(record)` where it is one of `wanted`.
fn ids_by(
    records: &[Value],
    wanted: &HashSet<String>,
    key: impl Fn(&Value) -> Option<String>,
    id: impl Fn(&Value) -> String,
) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in records {
        if let Some(k) = key(r).filter(|k| wanted.contains(k)) {
            out.entry(k).or_default().push(id(r));
        }
    }
    out
}

async fn holdings(http: &reqwest::Client, tenants: &[Tenant], origin: &str) -> Holdings {
    let unknown: HashSet<String> = (0..UNKNOWN_NUMBERS)
        .map(|n| national_digits(&unknown_number(n)))
        .collect();
    let is_unknown = |p: &Value| {
        p.as_str()
            .is_some_and(|p| unknown.contains(&national_digits(p)))
    };
    let (sf, hs) = (&tenants[0], &tenants[1]);
    let tasks = vendor_all(
        http,
        sf,
        origin,
        "SELECT Id, Description, WhoId FROM Task WHERE TaskSubtype = 'Call'",
    )
    .await;
    let leads = vendor_all(http, sf, origin, "SELECT Id, Phone, Email FROM Lead").await;
    let notes = vendor_all(http, sf, origin, "SELECT Id, Title, ParentId FROM Note").await;
    let calls = vendor_all(http, hs, origin, "calls?properties=hs_call_body").await;
    let contacts = vendor_all(http, hs, origin, "contacts?properties=phone,email").await;
    let companies = vendor_all(http, hs, origin, "companies?properties=name,domain").await;

    let text = |v: &Value| v.as_str().map(str::to_owned);
    let sf_id = |r: &Value| r["Id"].as_str().unwrap().to_owned();
    let hs_id = |r: &Value| r["id"].as_str().unwrap().to_owned();
    let sf_notes = ids_by(
        &notes,
        &(0..MEETINGS).map(meeting_title).collect(),
        |n| text(&n["Title"]),
        |n| n["ParentId"].as_str().unwrap_or_default().to_owned(),
    );
    let sf_new_leads = ids_by(
        &leads,
        &(0..NEW_CUSTOMERS).map(new_customer_email).collect(),
        |l| text(&l["Email"]).map(|e| e.to_lowercase()),
        sf_id,
    );
    let hs_companies = ids_by(
        &companies,
        &(0..GUEST_COMPANIES).map(guest_domain).collect(),
        |c| text(&c["properties"]["domain"]),
        hs_id,
    );
    let hs_contacts = ids_by(
        &contacts,
        &(0..GUESTS).map(guest_email).collect(),
        |c| text(&c["properties"]["email"]).map(|e| e.to_lowercase()),
        hs_id,
    );
    let total = |m: &BTreeMap<String, Vec<String>>| m.values().map(Vec::len).sum::<usize>();
    Holdings {
        counts: [
            tasks.len(),
            leads.iter().filter(|l| is_unknown(&l["Phone"])).count(),
            calls.len(),
            contacts
                .iter()
                .filter(|c| is_unknown(&c["properties"]["phone"]))
                .count(),
            total(&sf_notes),
            total(&sf_new_leads),
            total(&hs_companies),
            total(&hs_contacts),
        ],
        sf_bodies: tasks
            .iter()
            .filter_map(|t| t["Description"].as_str().map(str::to_owned))
            .collect(),
        hs_bodies: calls
            .iter()
            .filter_map(|c| c["properties"]["hs_call_body"].as_str().map(str::to_owned))
            .collect(),
        sf_notes,
        sf_new_leads,
        hs_companies,
        hs_contacts,
    }
}

/// Each meeting's Note exists once, and a new customer's is on the one Lead created for them.
fn check_meeting_notes(h: &Holdings) {
    for i in 0..MEETINGS {
        let title = meeting_title(i);
        let parents = h.sf_notes.get(&title).map_or(&[][..], Vec::as_slice);
        assert_eq!(parents.len(), 1, "{title}: one Note");
        if i % 2 == 1 {
            let email = new_customer_email((i / 2) % NEW_CUSTOMERS);
            assert_eq!(
                h.sf_new_leads.get(&email).map(Vec::as_slice),
                Some(parents),
                "{title}: on the Lead of {email}"
            );
        }
    }
}

/// Each booking guest is one contact, associated with the one company of their domain,
/// however they spelled its name.
async fn check_bookings(http: &reqwest::Client, hs: &Tenant, origin: &str, h: &Holdings) {
    let token = hs.tokens["access_token"].as_str().unwrap();
    for g in 0..GUESTS {
        let email = guest_email(g);
        let company = guest_domain(g % GUEST_COMPANIES);
        let (Some([contact]), Some([company_id])) = (
            h.hs_contacts.get(&email).map(Vec::as_slice),
            h.hs_companies.get(&company).map(Vec::as_slice),
        ) else {
            panic!("{email} at {company}: one contact and one company");
        };
        let assoc: Value = http
            .get(format!(
                "{origin}/sandbox/hubspot/crm/v4/objects/contacts/{contact}/associations/companies"
            ))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let to: Vec<String> = assoc["results"]
            .as_array()
            .unwrap_or_else(|| panic!("{email}: {assoc}"))
            .iter()
            .map(|a| a["toObjectId"].to_string().trim_matches('"').to_owned())
            .collect();
        assert_eq!(
            to,
            std::slice::from_ref(company_id),
            "{email}: associated with {company}"
        );
    }
}

/// Each transcript appears exactly once, in one activity.
fn check_transcripts(tenant: &str, bodies: &[String]) {
    for t in 0..TRANSCRIPTS {
        let i = if t % 2 == 0 { t } else { KNOWN_CALLS + t };
        let text = format!("transcript-{tenant}-{i}.");
        let n: usize = bodies.iter().map(|b| b.matches(&text).count()).sum();
        assert_eq!(n, 1, "{text} appended once");
    }
}
