//! HubSpot's people calls against the HubSpot emulator: every query kind paged to the end and
//! checked against what the emulator holds (read independently with plain reqwest), the
//! 10,000-result ceiling of search, faults mid-paging, by-id reads, the write-back, webhook
//! deliveries verified end to end, and a snapshot of the mapping.
//!
//! Each test starts its own emulator. Tests that page thousands of records through search use
//! a session without a rate budget and switch the emulator's limits off, so they run at the
//! emulator's speed; `search_is_paced_below_hubspots_search_limit` keeps the limits on and
//! checks that the paced path never meets them.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use renkei_connectors::hubspot::webhooks::{
    self, ContactChanges, WebhookError, WebhookEvent, contact_changes, parse_events, verify_v3,
    verify_v3_request,
};
use renkei_connectors::hubspot::{mapping, people, wire};
use renkei_connectors::people::{
    PeoplePage, PeopleQuery, PersonObject, PersonUpdate, RemotePerson,
};
use renkei_connectors::{ConnectorError, Provider, Session};
use renkei_core::Millis;
use serde_json::{Value, json};

use crate::sandbox::{Minted, Sandboxed};

const P: Provider = Provider::Hubspot;

/// The emulator's API root, for the independent reads and writes.
fn api(sb: &Sandboxed) -> String {
    format!("{}/sandbox/hubspot", sb.origin)
}

/// Tokens whose rate budget is this test's own: the search pacer is per budget key and per
/// process, so tests sharing a key would wait for each other.
async fn mint(sb: &Sandboxed, test: &str) -> Minted {
    let mut m = sb.mint(P, None).await;
    m.budget = format!("hubspot:{test}");
    m
}

/// A session that is not paced at all, for paging thousands of records quickly.
fn unpaced(m: &Minted) -> Session<'_> {
    Session {
        budget: None,
        ..m.session()
    }
}

async fn limits_off(sb: &Sandboxed) {
    sb.control(P, "limits", json!({"enabled": false})).await;
}

async fn clock_ms(sb: &Sandboxed) -> i64 {
    sb.control_get(P, "clock").await["now_ms"].as_i64().unwrap()
}

async fn advance(sb: &Sandboxed, seconds: i64) -> i64 {
    sb.control(P, "clock", json!({ "advance_seconds": seconds }))
        .await["now_ms"]
        .as_i64()
        .unwrap()
}

/// One page through the module under test.
async fn page(
    sb: &Sandboxed,
    s: Session<'_>,
    q: &PeopleQuery,
    cursor: Option<&str>,
) -> Result<PeoplePage, ConnectorError> {
    people::page(
        &sb.connectors.http,
        sb.connectors.registry.endpoints(P),
        s,
        PersonObject::Contact,
        q,
        cursor,
    )
    .await
}

/// Every page of `q`: the people in order, and the pages' `api_calls` summed.
async fn all_pages(sb: &Sandboxed, s: Session<'_>, q: &PeopleQuery) -> (Vec<RemotePerson>, u32) {
    let mut out = Vec::new();
    let mut calls = 0;
    let mut cursor: Option<String> = None;
    for _ in 0..10_000 {
        let p = page(sb, s, q, cursor.as_deref()).await.unwrap();
        calls += p.api_calls;
        out.extend(p.people);
        match p.next {
            Some(n) => cursor = Some(n),
            None => return (out, calls),
        }
    }
    panic!("{q:?} did not end within 10,000 pages");
}

fn ids(people: &[RemotePerson]) -> Vec<String> {
    people.iter().map(|p| p.remote_id.clone()).collect()
}

/// The ids as a set, asserting there is no duplicate.
fn unique(people: &[RemotePerson]) -> BTreeSet<String> {
    let set: BTreeSet<String> = ids(people).into_iter().collect();
    assert_eq!(set.len(), people.len(), "duplicates in the answer");
    set
}

/// Every live contact id (with its `updatedAt`), read through the list API with plain
/// reqwest, not through the module under test.
async fn emulator_contacts(sb: &Sandboxed, token: &str) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut url = format!("{}/crm/v3/objects/contacts?limit=100", api(sb));
        if let Some(a) = &after {
            url.push_str(&format!("&after={a}"));
        }
        let v: Value = sb
            .http
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for r in v["results"].as_array().unwrap() {
            let at = mapping::parse_time(r["updatedAt"].as_str().unwrap()).unwrap();
            out.push((r["id"].as_str().unwrap().to_owned(), at.0));
        }
        match v["paging"]["next"]["after"].as_str() {
            Some(a) => after = Some(a.to_owned()),
            None => return out,
        }
    }
}

async fn emulator_ids(sb: &Sandboxed, token: &str) -> BTreeSet<String> {
    emulator_contacts(sb, token)
        .await
        .into_iter()
        .map(|(id, _)| id)
        .collect()
}

/// `POST /crm/v3/objects/contacts` with plain reqwest; answers the new id.
async fn create_contact(sb: &Sandboxed, token: &str, properties: Value) -> String {
    let resp = sb
        .http
        .post(format!("{}/crm/v3/objects/contacts", api(sb)))
        .bearer_auth(token)
        .json(&json!({ "properties": properties }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let v: Value = resp.json().await.unwrap();
    v["id"].as_str().unwrap().to_owned()
}

async fn patch_contact(sb: &Sandboxed, token: &str, id: &str, properties: Value) {
    let resp = sb
        .http
        .patch(format!("{}/crm/v3/objects/contacts/{id}", api(sb)))
        .bearer_auth(token)
        .json(&json!({ "properties": properties }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

async fn delete_contact(sb: &Sandboxed, token: &str, id: &str) {
    let resp = sb
        .http
        .delete(format!("{}/crm/v3/objects/contacts/{id}", api(sb)))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
}

/// The contact's properties, read with plain reqwest.
async fn read_contact(sb: &Sandboxed, token: &str, id: &str) -> Value {
    sb.http
        .get(format!(
            "{}/crm/v3/objects/contacts/{id}?properties=firstname,lastname,phone,email",
            api(sb)
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["properties"]
        .clone()
}

/// The emulator's log of the contact calls as (method, path, query, status).
async fn contact_calls(sb: &Sandboxed) -> Vec<(String, String, String, u64)> {
    let v = sb
        .control_get(
            P,
            "requests?path_prefix=/crm/v3/objects/contacts&limit=100000",
        )
        .await;
    v["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["method"].as_str().unwrap().to_owned(),
                r["path"].as_str().unwrap().to_owned(),
                r["query"].as_str().unwrap_or_default().to_owned(),
                r["status"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn assert_sorted(people: &[RemotePerson], newest_first: bool) {
    for w in people.windows(2) {
        let ok = if newest_first {
            w[0].updated_at >= w[1].updated_at
        } else {
            w[0].updated_at <= w[1].updated_at
        };
        assert!(
            ok,
            "{} then {} out of order",
            w[0].updated_at.0, w[1].updated_at.0
        );
    }
}

// -------------------------------------------------------------------------------------------
// Initial import through the list endpoint.

#[tokio::test]
async fn initial_import_lists_every_contact_once_at_100_a_call() {
    let sb = Sandboxed::start().await;
    let m = mint(&sb, "initial").await;
    sb.control(P, "seed", json!({"count": 2550, "seed": 7}))
        .await;
    sb.clear_requests(P).await;

    let q = PeopleQuery::All {
        updated_since: None,
        newest_first: false,
    };
    let (got, calls) = all_pages(&sb, m.session(), &q).await;
    let log = contact_calls(&sb).await;

    let want = emulator_ids(&sb, m.access_token.expose()).await;
    assert!(want.len() > 2400, "seeded {}", want.len());
    assert_eq!(unique(&got), want);
    let n = want.len();
    assert_eq!(log.len(), n.div_ceil(100), "{log:?}");
    assert_eq!(calls as usize, log.len());
    for (method, path, query, status) in &log {
        assert_eq!(
            (method.as_str(), path.as_str(), *status),
            ("GET", "/crm/v3/objects/contacts", 200)
        );
        assert!(query.contains("limit=100"), "{query}");
        assert!(!query.contains("archived"), "{query}");
    }
    // Only the properties the mapping reads are asked for.
    let first: url::Url = format!("http://x/?{}", log[0].2).parse().unwrap();
    let props: BTreeSet<String> = first
        .query_pairs()
        .filter(|(k, _)| k == "properties")
        .flat_map(|(_, v)| v.split(',').map(str::to_owned).collect::<Vec<_>>())
        .collect();
    assert_eq!(
        props,
        wire::ContactProperties::NAMES
            .iter()
            .map(|s| s.to_string())
            .collect()
    );

    // The seed's fields arrive mapped.
    assert!(got.iter().all(|p| !p.deleted && p.full_name.is_none()));
    assert!(got.iter().any(|p| p.company.is_some()));
    assert!(got.iter().any(|p| !p.other_phones.is_empty()));
    assert!(got.iter().any(|p| p.title.is_some()));
    assert!(
        got.iter()
            .all(|p| p.owner_id.is_some() && p.created_at.is_some())
    );
    assert!(
        got.iter()
            .any(|p| p.address.as_ref().is_some_and(|a| a.city.is_some()))
    );
    sb.stop().await;
}

// -------------------------------------------------------------------------------------------
// Search: updated_since, newest_first, ChangedSince.

/// Three seeds a minute apart: three instants with 300-odd contacts each, each more than a
/// search page, so paging meets both the timestamp steps and the runs at one instant.
async fn three_instants(sb: &Sandboxed) -> [i64; 3] {
    sb.control(P, "seed", json!({"count": 300, "seed": 1}))
        .await;
    let t0 = clock_ms(sb).await;
    advance(sb, 60).await;
    sb.control(P, "seed", json!({"count": 300, "seed": 2}))
        .await;
    let t1 = clock_ms(sb).await;
    advance(sb, 60).await;
    sb.control(P, "seed", json!({"count": 300, "seed": 3}))
        .await;
    let t2 = clock_ms(sb).await;
    [t0, t1, t2]
}

#[tokio::test]
async fn updated_since_and_newest_first_give_what_they_promise() {
    let sb = Sandboxed::start().await;
    limits_off(&sb).await;
    let m = mint(&sb, "since").await;
    let [t0, t1, t2] = three_instants(&sb).await;
    let contacts = emulator_contacts(&sb, m.access_token.expose()).await;
    // The seed's instants are the clock readings just after each seed, to the second.
    let instants: BTreeSet<i64> = contacts.iter().map(|(_, at)| *at).collect();
    assert_eq!(instants.len(), 3, "{instants:?}");
    let stamps: Vec<i64> = instants.into_iter().collect();
    for (stamp, read) in stamps.iter().zip([t0, t1, t2]) {
        assert!(*stamp <= read && read - stamp < 5_000);
    }
    let since_of = |at: i64| -> BTreeSet<String> {
        contacts
            .iter()
            .filter(|(_, t)| *t >= at)
            .map(|(id, _)| id.clone())
            .collect()
    };

    let cases = [
        // (updated_since, newest_first, expected set)
        (None, true, since_of(i64::MIN)),
        (Some(stamps[1]), false, since_of(stamps[1])),
        (Some(stamps[1]), true, since_of(stamps[1])),
        // The boundary: a millisecond later leaves the second instant out.
        (Some(stamps[1] + 1), false, since_of(stamps[2])),
        (Some(stamps[2] + 1), true, BTreeSet::new()),
    ];
    for (since, newest_first, want) in cases {
        let q = PeopleQuery::All {
            updated_since: since.map(Millis),
            newest_first,
        };
        let (got, _) = all_pages(&sb, unpaced(&m), &q).await;
        assert_eq!(unique(&got), want, "{q:?}");
        assert_sorted(&got, newest_first);
        if let Some(s) = since {
            assert!(got.iter().all(|p| p.updated_at.0 >= s));
        }
    }
    // Newest first really starts with the newest instant.
    let q = PeopleQuery::All {
        updated_since: None,
        newest_first: true,
    };
    let first = page(&sb, unpaced(&m), &q, None).await.unwrap();
    assert_eq!(first.people.len(), 200);
    assert!(first.people.iter().all(|p| p.updated_at.0 == stamps[2]));
    // No search was refused (no 10,000 ceiling, no bad filter).
    assert!(contact_calls(&sb).await.iter().all(|c| c.3 == 200));
    sb.stop().await;
}

#[tokio::test]
async fn changed_since_sees_exactly_the_new_writes() {
    let sb = Sandboxed::start().await;
    let m = mint(&sb, "changed").await;
    let token = m.access_token.expose().clone();
    sb.control(P, "seed", json!({"count": 300, "seed": 5}))
        .await;
    let seeded: Vec<String> = emulator_ids(&sb, &token).await.into_iter().collect();

    let before = advance(&sb, 60).await;
    let t_create = advance(&sb, 60).await;
    let created = create_contact(
        &sb,
        &token,
        json!({"firstname": "花子", "lastname": "佐藤", "email": "hanako.sato@example.jp"}),
    )
    .await;
    let t_update = advance(&sb, 60).await;
    let updated = seeded[10].clone();
    patch_contact(&sb, &token, &updated, json!({"jobtitle": "部長"})).await;
    let after = advance(&sb, 60).await;

    let stamp = |people: &[RemotePerson], id: &str| {
        people
            .iter()
            .find(|p| p.remote_id == id)
            .unwrap()
            .updated_at
            .0
    };
    let (all, _) = all_pages(
        &sb,
        m.session(),
        &PeopleQuery::ChangedSince {
            since: Millis(before),
        },
    )
    .await;
    assert_eq!(ids(&all), vec![created.clone(), updated.clone()]);
    let (at_create, at_update) = (stamp(&all, &created), stamp(&all, &updated));
    assert!(at_create >= t_create && at_create < t_update, "{at_create}");
    assert!(at_update >= t_update && at_update < after, "{at_update}");
    assert_eq!(all[1].title.as_deref(), Some("部長"));
    assert_eq!(all[0].last_name.as_deref(), Some("佐藤"));

    let cases: [(i64, Vec<String>); 4] = [
        // Inclusive: the creation's own instant keeps it.
        (at_create, vec![created.clone(), updated.clone()]),
        (at_create + 1, vec![updated.clone()]),
        (at_update, vec![updated.clone()]),
        (at_update + 1, vec![]),
    ];
    for (since, want) in cases {
        let (got, calls) = all_pages(
            &sb,
            m.session(),
            &PeopleQuery::ChangedSince {
                since: Millis(since),
            },
        )
        .await;
        assert_eq!(ids(&got), want, "since {since}");
        assert_eq!(calls, 1);
    }
    sb.stop().await;
}

/// HubSpot's search answers at most 10,000 results of one query. One seed call stamps every
/// contact with the same instant, the hardest case: the search can neither page by offset
/// past 10,000 nor move on by timestamp, and must list the instant by id.
///
/// The emulator's search scans the whole portal on every call (about 0.3 s for 10,000
/// contacts in a debug build), so this test pages one direction only; the other direction
/// runs the same code with the other operators (`search_bodies_per_position` checks them).
#[tokio::test]
async fn search_pages_past_ten_thousand_results() {
    let sb = Sandboxed::start().await;
    limits_off(&sb).await;
    let m = mint(&sb, "ten-thousand").await;
    sb.control(P, "seed", json!({"count": 10_100, "seed": 11}))
        .await;
    let want = emulator_ids(&sb, m.access_token.expose()).await;
    assert!(want.len() > 10_000, "seeded {}", want.len());
    sb.clear_requests(P).await;

    let q = PeopleQuery::ChangedSince { since: Millis(0) };
    let (got, calls) = all_pages(&sb, unpaced(&m), &q).await;
    assert_eq!(unique(&got), want);
    // 200 a page; plus the first page, whose 200 the listing by id meets again, and the
    // query past the instant that finds nothing more.
    assert_eq!(calls as usize, want.len().div_ceil(200) + 2);
    let log = contact_calls(&sb).await;
    assert_eq!(log.len(), calls as usize);
    assert!(
        log.iter()
            .all(|c| c.0 == "POST" && c.1 == "/crm/v3/objects/contacts/search")
    );
    assert!(log.iter().all(|c| c.3 == 200), "a search was refused");
    sb.stop().await;
}

/// `batch/create` of 50 contacts at a time, the clock a second further for each batch: 20
/// instants of 50 contacts, so that every page of 200 ends inside an instant and the next one
/// starts from it, dropping what it already returned.
#[tokio::test]
async fn search_pages_across_instants_without_loss_or_repeat() {
    let sb = Sandboxed::start().await;
    limits_off(&sb).await;
    let m = mint(&sb, "instants").await;
    let token = m.access_token.expose().clone();
    let start = clock_ms(&sb).await;
    for batch in 0..20 {
        let inputs: Vec<Value> = (0..50)
            .map(|i| {
                json!({"properties": {
                    "lastname": format!("一括{batch}"),
                    "email": format!("bulk{batch}.{i}@example.jp"),
                }})
            })
            .collect();
        let resp = sb
            .http
            .post(format!("{}/crm/v3/objects/contacts/batch/create", api(&sb)))
            .bearer_auth(&token)
            .json(&json!({ "inputs": inputs }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        advance(&sb, 1).await;
    }
    let want = emulator_ids(&sb, &token).await;
    assert_eq!(want.len(), 1000);
    sb.clear_requests(P).await;

    for q in [
        PeopleQuery::ChangedSince {
            since: Millis(start),
        },
        PeopleQuery::All {
            updated_since: None,
            newest_first: true,
        },
    ] {
        let (got, calls) = all_pages(&sb, unpaced(&m), &q).await;
        assert_eq!(unique(&got), want, "{q:?}");
        assert_sorted(&got, matches!(q, PeopleQuery::All { .. }));
        // Each page after the first returns the 50 of its first instant again (dropped):
        // 150 new a page.
        assert_eq!(calls, 7, "{q:?}");
    }
    assert!(contact_calls(&sb).await.iter().all(|c| c.3 == 200));
    sb.stop().await;
}

#[tokio::test]
async fn search_is_paced_below_hubspots_search_limit() {
    let sb = Sandboxed::start().await;
    let m = mint(&sb, "paced-search").await;
    sb.control(P, "seed", json!({"count": 1200, "seed": 3}))
        .await;
    let want = emulator_ids(&sb, m.access_token.expose()).await;
    sb.clear_requests(P).await;
    let (got, calls) = all_pages(
        &sb,
        m.session(),
        &PeopleQuery::ChangedSince { since: Millis(0) },
    )
    .await;
    assert_eq!(unique(&got), want);
    assert!(calls >= 6);
    let log = contact_calls(&sb).await;
    assert_eq!(log.len(), calls as usize, "a search was retried: {log:?}");
    assert!(log.iter().all(|c| c.3 == 200), "{log:?}");
    sb.stop().await;
}

// -------------------------------------------------------------------------------------------
// Deleted, by id, update.

#[tokio::test]
async fn deleted_since_reports_archived_contacts() {
    let sb = Sandboxed::start().await;
    let m = mint(&sb, "deleted").await;
    let token = m.access_token.expose().clone();
    sb.control(P, "seed", json!({"count": 250, "seed": 9}))
        .await;
    let live: Vec<String> = emulator_ids(&sb, &token).await.into_iter().collect();

    let early = advance(&sb, 60).await;
    delete_contact(&sb, &token, &live[0]).await;
    let since = advance(&sb, 60).await;
    delete_contact(&sb, &token, &live[5]).await;
    delete_contact(&sb, &token, &live[200]).await;
    advance(&sb, 60).await;
    sb.clear_requests(P).await;

    let cases = [
        (since, vec![live[5].clone(), live[200].clone()]),
        (
            early,
            vec![live[0].clone(), live[5].clone(), live[200].clone()],
        ),
        (since + 61_000, vec![]),
    ];
    for (since, want) in cases {
        let (got, _) = all_pages(
            &sb,
            m.session(),
            &PeopleQuery::DeletedSince {
                since: Millis(since),
            },
        )
        .await;
        assert_eq!(ids(&got), want, "since {since}");
        for p in &got {
            assert!(p.deleted);
            assert!(p.updated_at.0 >= since);
            assert_eq!(p.last_name, None);
            assert!(p.emails.is_empty());
        }
    }
    let log = contact_calls(&sb).await;
    assert!(
        log.iter()
            .filter(|c| c.0 == "GET")
            .all(|c| c.2.contains("archived=true") && c.2.contains("limit=100"))
    );
    sb.stop().await;
}

#[tokio::test]
async fn by_ids_returns_exactly_the_live_ones() {
    let sb = Sandboxed::start().await;
    let m = mint(&sb, "by-ids").await;
    let token = m.access_token.expose().clone();
    sb.control(P, "seed", json!({"count": 250, "seed": 4}))
        .await;
    let live: Vec<String> = emulator_ids(&sb, &token).await.into_iter().collect();
    delete_contact(&sb, &token, &live[3]).await;
    delete_contact(&sb, &token, &live[120]).await;
    sb.clear_requests(P).await;

    let mut asked: Vec<String> = live[..150].to_vec();
    asked.push("999999999".into());
    asked.push("not-an-id".into());
    asked.push(live[7].clone());
    let got = people::by_ids(
        &sb.connectors.http,
        sb.connectors.registry.endpoints(P),
        m.session(),
        PersonObject::Contact,
        &asked,
    )
    .await
    .unwrap();
    let want: BTreeSet<String> = live[..150]
        .iter()
        .filter(|id| **id != live[3] && **id != live[120])
        .cloned()
        .collect();
    assert_eq!(unique(&got), want);
    assert!(got.iter().all(|p| !p.deleted));
    // Both chunks name ids HubSpot does not have: 207, which is an answer, not an error.
    let log = sb.requests(P, "/crm").await;
    assert_eq!(
        log,
        vec![
            (
                "POST".to_owned(),
                "/crm/v3/objects/contacts/batch/read".to_owned(),
                207
            );
            2
        ],
        "151 distinct numeric ids are two batches"
    );

    let none = people::by_ids(
        &sb.connectors.http,
        sb.connectors.registry.endpoints(P),
        m.session(),
        PersonObject::Contact,
        &[],
    )
    .await
    .unwrap();
    assert!(none.is_empty());
    assert_eq!(contact_calls(&sb).await.len(), 2);
    sb.stop().await;
}

#[tokio::test]
async fn update_writes_and_a_read_back_shows_the_values() {
    let sb = Sandboxed::start().await;
    let m = mint(&sb, "update").await;
    let token = m.access_token.expose().clone();
    let id = create_contact(
        &sb,
        &token,
        json!({"firstname": "Taro", "lastname": "Yamada", "phone": "03-1234-5678", "email": "taro@example.jp"}),
    )
    .await;
    let update = |u: PersonUpdate, id: String| {
        let sb = &sb;
        let m = &m;
        async move {
            people::update(
                &sb.connectors.http,
                sb.connectors.registry.endpoints(P),
                m.session(),
                PersonObject::Contact,
                &id,
                &u,
            )
            .await
        }
    };

    let cases = [
        (
            PersonUpdate {
                last_name: Some("山田".into()),
                first_name: Some("太郎".into()),
                phone: Some("+81 3 1234 5678".into()),
                email: Some("yamada.taro@example.jp".into()),
                description: Some("HubSpot contacts have no description".into()),
            },
            json!({"firstname": "太郎", "lastname": "山田", "phone": "+81 3 1234 5678", "email": "yamada.taro@example.jp"}),
        ),
        // The same write again changes nothing.
        (
            PersonUpdate {
                last_name: Some("山田".into()),
                ..Default::default()
            },
            json!({"firstname": "太郎", "lastname": "山田", "phone": "+81 3 1234 5678", "email": "yamada.taro@example.jp"}),
        ),
        // Some("") clears; None leaves alone.
        (
            PersonUpdate {
                phone: Some(String::new()),
                ..Default::default()
            },
            json!({"firstname": "太郎", "lastname": "山田", "phone": null, "email": "yamada.taro@example.jp"}),
        ),
    ];
    for (u, want) in cases {
        update(u.clone(), id.clone()).await.unwrap();
        let mut got = read_contact(&sb, &token, &id).await;
        for k in ["createdate", "lastmodifieddate", "hs_object_id"] {
            got.as_object_mut().unwrap().remove(k);
        }
        assert_eq!(got, want, "{u:?}");
    }

    // Nothing HubSpot can take: no call.
    sb.clear_requests(P).await;
    update(
        PersonUpdate {
            description: Some("x".into()),
            ..Default::default()
        },
        id.clone(),
    )
    .await
    .unwrap();
    assert!(contact_calls(&sb).await.is_empty());

    // Refusals, classified.
    let err = update(
        PersonUpdate {
            last_name: Some("x".into()),
            ..Default::default()
        },
        "999999999".into(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ConnectorError::NotFound { .. }), "{err:?}");
    let err = update(
        PersonUpdate {
            email: Some("not an email".into()),
            ..Default::default()
        },
        id.clone(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ConnectorError::Invalid { .. }), "{err:?}");
    let err = update(
        PersonUpdate {
            last_name: Some("x".into()),
            ..Default::default()
        },
        "12/../../owners".into(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Invalid { code, field: Some(f), .. } if code == "remote_id_invalid" && f == "remote_id"),
        "{err:?}"
    );
    sb.stop().await;
}

// -------------------------------------------------------------------------------------------
// Refusals before any call, faults, expired tokens.

#[tokio::test]
async fn leads_and_foreign_cursors_are_refused() {
    let sb = Sandboxed::start().await;
    let m = mint(&sb, "refusals").await;
    let (http, ep) = (&sb.connectors.http, sb.connectors.registry.endpoints(P));
    let q = PeopleQuery::ChangedSince { since: Millis(0) };

    let unsupported = |e: ConnectorError| matches!(&e, ConnectorError::Invalid { code, field: Some(f), .. } if code == "object_unsupported" && f == "object");
    let e = people::page(http, ep, m.session(), PersonObject::Lead, &q, None)
        .await
        .unwrap_err();
    assert!(unsupported(e));
    let e = people::by_ids(http, ep, m.session(), PersonObject::Lead, &["1".into()])
        .await
        .unwrap_err();
    assert!(unsupported(e));
    let e = people::update(
        http,
        ep,
        m.session(),
        PersonObject::Lead,
        "1",
        &PersonUpdate::default(),
    )
    .await
    .unwrap_err();
    assert!(unsupported(e));

    let list = PeopleQuery::All {
        updated_since: None,
        newest_first: false,
    };
    let deleted = PeopleQuery::DeletedSince { since: Millis(0) };
    let cases: [(&PeopleQuery, &str); 7] = [
        (&q, "garbage"),
        (&q, r#"{"k":"list","after":"5"}"#),
        (&q, r#"{"k":"archived","after":"5"}"#),
        (&list, r#"{"k":"from","at":5}"#),
        (&list, r#"{"k":"archived","after":"5"}"#),
        (&deleted, r#"{"k":"list","after":"5"}"#),
        (&deleted, r#"{"k":"tie","at":5,"seen":"9-1"}"#),
    ];
    for (q, cursor) in cases {
        let e = page(&sb, m.session(), q, Some(cursor)).await.unwrap_err();
        assert!(
            matches!(&e, ConnectorError::Invalid { code, .. } if code == "cursor_invalid"),
            "{q:?} {cursor}: {e:?}"
        );
    }
    assert!(contact_calls(&sb).await.is_empty());
    sb.stop().await;
}

#[tokio::test]
async fn faults_mid_paging_do_not_change_the_answer() {
    let sb = Sandboxed::start().await;
    let m = mint(&sb, "faults").await;
    sb.control(P, "seed", json!({"count": 1000, "seed": 8}))
        .await;
    let q = PeopleQuery::All {
        updated_since: None,
        newest_first: false,
    };
    let (clean, _) = all_pages(&sb, m.session(), &q).await;
    let clean = unique(&clean);

    let faults = [
        json!({"kind": "rate_limit", "count": 1, "retry_after_seconds": 1,
               "path_prefix": "/crm/v3/objects/contacts", "method": "GET"}),
        json!({"kind": "server_error", "status": 503, "count": 1,
               "path_prefix": "/crm/v3/objects/contacts", "method": "GET"}),
    ];
    for fault in faults {
        sb.clear_requests(P).await;
        let mut got = Vec::new();
        let mut cursor = None;
        let mut n = 0;
        loop {
            if n == 3 {
                sb.control(P, "faults", fault.clone()).await;
            }
            let p = page(&sb, m.session(), &q, cursor.as_deref()).await.unwrap();
            got.extend(p.people);
            n += 1;
            match p.next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(unique(&got), clean, "{fault}");
        let log = contact_calls(&sb).await;
        let want_status = if fault["kind"] == "rate_limit" {
            429
        } else {
            503
        };
        let refused: Vec<usize> = log
            .iter()
            .enumerate()
            .filter(|(_, c)| c.3 != 200)
            .map(|(i, c)| {
                assert_eq!(c.3, want_status);
                i
            })
            .collect();
        assert_eq!(refused, vec![3], "{fault}: {log:?}");
        // The retry asked for the same page.
        assert_eq!(log[3].2, log[4].2);
    }

    // A search is a read sent as a POST: it is retried after a 503 like a GET.
    sb.clear_requests(P).await;
    sb.control(
        P,
        "faults",
        json!({"kind": "server_error", "status": 503, "count": 1,
               "path_prefix": "/crm/v3/objects/contacts/search"}),
    )
    .await;
    let (got, _) = all_pages(
        &sb,
        m.session(),
        &PeopleQuery::ChangedSince { since: Millis(0) },
    )
    .await;
    assert_eq!(unique(&got), clean);
    let statuses: Vec<u64> = contact_calls(&sb).await.iter().map(|c| c.3).collect();
    assert_eq!(statuses[0], 503);
    assert!(statuses[1..].iter().all(|s| *s == 200));
    sb.stop().await;
}

#[tokio::test]
async fn an_expired_token_is_unauthorized_on_every_call() {
    let sb = Sandboxed::start().await;
    sb.control(P, "seed", json!({"count": 20, "seed": 2})).await;
    let (http, ep) = (&sb.connectors.http, sb.connectors.registry.endpoints(P));
    for call in ["list", "search", "deleted", "by_ids", "update"] {
        // The fault expires the token it meets, so each call gets a fresh one.
        let m = mint(&sb, "expired").await;
        sb.control(P, "faults", json!({"kind": "expired_token", "count": 1}))
            .await;
        let s = m.session();
        let c = PersonObject::Contact;
        let err = match call {
            "list" => page(
                &sb,
                s,
                &PeopleQuery::All {
                    updated_since: None,
                    newest_first: false,
                },
                None,
            )
            .await
            .map(|_| ()),
            "search" => page(
                &sb,
                s,
                &PeopleQuery::ChangedSince { since: Millis(0) },
                None,
            )
            .await
            .map(|_| ()),
            "deleted" => page(
                &sb,
                s,
                &PeopleQuery::DeletedSince { since: Millis(0) },
                None,
            )
            .await
            .map(|_| ()),
            "by_ids" => people::by_ids(http, ep, s, c, &["1".into()])
                .await
                .map(|_| ()),
            _ => {
                let u = PersonUpdate {
                    last_name: Some("x".into()),
                    ..Default::default()
                };
                people::update(http, ep, s, c, "1", &u).await
            }
        }
        .unwrap_err();
        assert!(err.is_unauthorized(), "{call}: {err:?}");
        assert!(!err.needs_reauth(), "{call}");
        // What the engine does next works: a refresh gives a token the same call accepts.
        let grant = sb
            .connectors
            .refresh(
                P,
                ep.client.as_ref().unwrap(),
                m.refresh_token.as_ref().unwrap(),
                &m.meta,
                Millis::now(),
            )
            .await
            .unwrap();
        let fresh = Session {
            access_token: &grant.access_token,
            ..s
        };
        let q = PeopleQuery::ChangedSince { since: Millis(0) };
        assert_eq!(
            page(&sb, fresh, &q, None).await.unwrap().people.len(),
            20,
            "{call}"
        );
    }
    sb.stop().await;
}

// -------------------------------------------------------------------------------------------
// Webhooks.

/// What the listener received: (method, URI as the receiver reconstructs it, headers, body).
type Received = Arc<Mutex<Vec<(String, String, http::HeaderMap, Vec<u8>)>>>;

/// A receiver on port 0 that records every delivery and answers 204.
async fn webhook_receiver() -> (String, Received) {
    let got: Received = Arc::default();
    let sink = got.clone();
    let app = axum::Router::new().fallback(
        move |method: http::Method,
              uri: http::Uri,
              headers: http::HeaderMap,
              body: axum::body::Bytes| {
            let sink = sink.clone();
            async move {
                let host = headers
                    .get(http::header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
                sink.lock().unwrap().push((
                    method.to_string(),
                    format!("http://{host}{path}"),
                    headers,
                    body.to_vec(),
                ));
                http::StatusCode::NO_CONTENT
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhooks/hubspot", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, got)
}

async fn wait_for(got: &Received, n: usize) {
    for _ in 0..250 {
        if got.lock().unwrap().len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no webhook delivery arrived");
}

#[tokio::test]
async fn webhook_deliveries_verify_and_name_the_contacts() {
    let sb = Sandboxed::start().await;
    let directory: Value = sb
        .http
        .get(format!("{}/sandbox", sb.origin))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = directory["providers"]["hubspot"]["client_secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let portal = directory["providers"]["hubspot"]["default_account"]
        .as_str()
        .unwrap()
        .to_owned();
    let (url, got) = webhook_receiver().await;
    sb.control(P, "settings", json!({ "webhook_url": url }))
        .await;
    let m = mint(&sb, "webhooks").await;
    let token = m.access_token.expose().clone();

    let id = create_contact(
        &sb,
        &token,
        json!({"firstname": "一郎", "lastname": "鈴木", "email": "ichiro@example.jp"}),
    )
    .await;
    wait_for(&got, 1).await;
    patch_contact(&sb, &token, &id, json!({"phone": "090-1234-5678"})).await;
    wait_for(&got, 2).await;
    delete_contact(&sb, &token, &id).await;
    wait_for(&got, 3).await;

    let deliveries = got.lock().unwrap().clone();
    let now = Millis::now();
    let mut events = Vec::new();
    for (method, uri, headers, body) in &deliveries {
        assert_eq!(uri, &url);
        verify_v3_request(&secret, method, uri, headers, body, now).unwrap();
        events.extend(parse_events(body).unwrap());
    }
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e.subscription_type.as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "contact.creation",
            "contact.propertyChange",
            "contact.deletion"
        ]
    );
    assert!(
        events
            .iter()
            .all(|e| e.object_id == id && e.portal_id == portal)
    );
    assert_eq!(events[1].property_name.as_deref(), Some("phone"));
    assert_eq!(events[0].attempt_number, 0);
    assert!(
        events
            .iter()
            .all(|e| (e.occurred_at.0 - now.0).abs() < 60_000)
    );
    assert_eq!(
        contact_changes(&events[..2]),
        ContactChanges {
            portal_ids: vec![portal.clone()],
            changed: vec![id.clone()],
            deleted: vec![],
        }
    );
    assert_eq!(
        contact_changes(&events),
        ContactChanges {
            portal_ids: vec![portal.clone()],
            changed: vec![],
            deleted: vec![id.clone()],
        }
    );

    // The real delivery, altered: each alteration is refused with its own code.
    let (method, uri, headers, body) = deliveries[0].clone();
    let ts = headers[webhooks::TIMESTAMP_HEADER]
        .to_str()
        .unwrap()
        .to_owned();
    let sig = headers[webhooks::SIGNATURE_V3_HEADER]
        .to_str()
        .unwrap()
        .to_owned();
    let mut tampered = body.clone();
    tampered[1] ^= 0x01;
    let later = Millis(ts.parse::<i64>().unwrap() + 5 * 60 * 1000 + 1);
    let check =
        |secret: &str, method: &str, uri: &str, body: &[u8], ts: &str, sig: &str, now: Millis| {
            verify_v3(secret, method, uri, body, ts, sig, now)
                .err()
                .map(|e| e.code())
        };
    let cases: [(Option<&str>, Option<&'static str>); 9] = [
        (None, check(&secret, &method, &uri, &body, &ts, &sig, now)),
        (
            Some("signature_invalid"),
            check(&secret, &method, &uri, &tampered, &ts, &sig, now),
        ),
        (
            Some("signature_invalid"),
            check("another-secret", &method, &uri, &body, &ts, &sig, now),
        ),
        (
            Some("signature_invalid"),
            check(&secret, "PUT", &uri, &body, &ts, &sig, now),
        ),
        (
            Some("signature_invalid"),
            check(
                &secret,
                &method,
                &format!("{uri}?x=1"),
                &body,
                &ts,
                &sig,
                now,
            ),
        ),
        (
            Some("signature_stale"),
            check(&secret, &method, &uri, &body, &ts, &sig, later),
        ),
        (
            Some("signature_missing"),
            check(&secret, &method, &uri, &body, &ts, "", now),
        ),
        (
            Some("signature_missing"),
            check(&secret, &method, &uri, &body, "", &sig, now),
        ),
        (
            Some("signature_invalid"),
            check(&secret, &method, &uri, &body, &ts, "bm90IGl0", now),
        ),
    ];
    for (i, (want, got)) in cases.into_iter().enumerate() {
        assert_eq!(got, want, "case {i}");
    }
    let no_headers = verify_v3_request(&secret, &method, &uri, &http::HeaderMap::new(), &body, now);
    assert!(matches!(no_headers, Err(WebhookError::MissingHeader(_))));
    sb.stop().await;
}

/// base64(HMAC-SHA256(secret, method + uri + body + timestamp)), computed here as HubSpot's
/// doc describes it, independently of the module under test.
fn sign(secret: &str, method: &str, uri: &str, body: &str, ts: &str) -> String {
    use base64::Engine as _;
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{method}{uri}{body}{ts}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[test]
fn v3_signatures_table() {
    let secret = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy";
    let body = r#"[{"eventId":1,"subscriptionType":"contact.creation","portalId":62515,"occurredAt":1564113600000,"objectId":123}]"#;
    let now = Millis(1_700_000_000_000);
    let ts = now.0.to_string();
    let plain = "https://hooks.example.com/webhooks/hubspot?tenant=acme";
    let encoded = "https://hooks.example.com/webhooks/hubspot?tenant=acme%3Ajp&x=%40y";
    let decoded = "https://hooks.example.com/webhooks/hubspot?tenant=acme:jp&x=@y";
    /// (URI the receiver sees, signature, body, timestamp, now, expected error code)
    type Case<'a> = (&'a str, String, &'a str, String, Millis, Option<&'a str>);
    let cases: [Case<'_>; 9] = [
        (
            plain,
            sign(secret, "POST", plain, body, &ts),
            body,
            ts.clone(),
            now,
            None,
        ),
        // HubSpot signs the URI with its listed escapes decoded…
        (
            encoded,
            sign(secret, "POST", decoded, body, &ts),
            body,
            ts.clone(),
            now,
            None,
        ),
        // …and a sender that signs it as configured is accepted too.
        (
            encoded,
            sign(secret, "POST", encoded, body, &ts),
            body,
            ts.clone(),
            now,
            None,
        ),
        // Four minutes either way is fine; six is not.
        (
            plain,
            sign(secret, "POST", plain, body, &ts),
            body,
            ts.clone(),
            now.plus_ms(240_000),
            None,
        ),
        (
            plain,
            sign(secret, "POST", plain, body, &ts),
            body,
            ts.clone(),
            now.plus_ms(-240_000),
            None,
        ),
        (
            plain,
            sign(secret, "POST", plain, body, &ts),
            body,
            ts.clone(),
            now.plus_ms(360_000),
            Some("signature_stale"),
        ),
        (
            plain,
            sign(secret, "POST", plain, body, &ts),
            body,
            ts.clone(),
            now.plus_ms(-360_000),
            Some("signature_stale"),
        ),
        (
            plain,
            sign(secret, "POST", plain, body, "yesterday"),
            body,
            "yesterday".into(),
            now,
            Some("signature_stale"),
        ),
        (
            plain,
            sign(secret, "POST", plain, body, &ts),
            "[]",
            ts.clone(),
            now,
            Some("signature_invalid"),
        ),
    ];
    for (i, (uri, sig, body, ts, now, want)) in cases.into_iter().enumerate() {
        let got = verify_v3(secret, "POST", uri, body.as_bytes(), &ts, &sig, now);
        assert_eq!(got.err().map(|e| e.code()), want, "case {i}");
    }
}

fn event(v: Value) -> WebhookEvent {
    parse_events(Value::Array(vec![v]).to_string().as_bytes())
        .unwrap()
        .remove(0)
}

#[test]
fn events_parse_and_reduce_to_contact_changes() {
    let body = br#"[
      {"eventId": 10, "subscriptionId": 1, "portalId": 62515, "appId": 9, "occurredAt": 1000,
       "subscriptionType": "contact.propertyChange", "attemptNumber": 2, "objectId": 5,
       "changeSource": "CRM", "propertyName": "firstname", "propertyValue": "Taro"},
      {"eventId": 11, "portalId": "62515", "occurredAt": "2024-01-01T00:00:00.000Z",
       "subscriptionType": "contact.associationChange", "fromObjectId": 7, "toObjectId": 8},
      {"portalId": 62515, "occurredAt": 1000, "subscriptionType": "company.creation", "objectId": 9},
      {"portalId": 62515, "occurredAt": 1000, "subscriptionType": "contact.privacyDeletion"}
    ]"#;
    let events = parse_events(body).unwrap();
    assert_eq!(events.len(), 3, "the event about no record is skipped");
    assert_eq!(events[0].event_id, Some(10));
    assert_eq!(events[0].portal_id, "62515");
    assert_eq!(events[0].object_id, "5");
    assert_eq!(events[0].attempt_number, 2);
    assert_eq!(events[0].property_name.as_deref(), Some("firstname"));
    assert_eq!(events[1].object_id, "7");
    assert_eq!(events[1].occurred_at, Millis(1_704_067_200_000));
    assert_eq!(events[1].event_id, Some(11));
    assert_eq!(events[2].subscription_type, "company.creation");

    for bad in [
        &b"{}"[..],
        b"not json",
        br#"[{"portalId": 1, "occurredAt": 1}]"#,
        br#"[{"subscriptionType": "contact.creation", "occurredAt": 1, "objectId": 1}]"#,
        br#"[{"subscriptionType": "contact.creation", "portalId": 1, "objectId": 1}]"#,
        br#"[{"subscriptionType": "contact.creation", "portalId": 1, "occurredAt": "soon", "objectId": 1}]"#,
        br#"[{"subscriptionType": "contact.creation", "portalId": null, "occurredAt": 1, "objectId": 1}]"#,
    ] {
        let e = parse_events(bad).unwrap_err();
        assert_eq!(e.code(), "payload_invalid", "{}", String::from_utf8_lossy(bad));
    }
    assert!(parse_events(b"[]").unwrap().is_empty());

    let ev = |ty: &str, id: u64, at: i64, portal: u64| {
        event(json!({"subscriptionType": ty, "objectId": id, "occurredAt": at, "portalId": portal}))
    };
    let merge = event(json!({
        "subscriptionType": "contact.merge", "objectId": 30, "occurredAt": 50, "portalId": 1,
        "primaryObjectId": 30, "mergedObjectIds": [30, 31, 32], "newObjectId": 33
    }));
    let changes = |c: &[&str], d: &[&str], portals: &[&str]| ContactChanges {
        portal_ids: portals.iter().map(|s| s.to_string()).collect(),
        changed: c.iter().map(|s| s.to_string()).collect(),
        deleted: d.iter().map(|s| s.to_string()).collect(),
    };
    let cases: Vec<(Vec<WebhookEvent>, ContactChanges)> = vec![
        (vec![], changes(&[], &[], &[])),
        (
            vec![
                ev("contact.creation", 1, 10, 1),
                ev("contact.propertyChange", 1, 11, 1),
                ev("contact.propertyChange", 2, 12, 2),
            ],
            changes(&["1", "2"], &[], &["1", "2"]),
        ),
        // The last word wins, by occurredAt, whatever the delivery's order.
        (
            vec![
                ev("contact.restore", 1, 20, 1),
                ev("contact.deletion", 1, 10, 1),
            ],
            changes(&["1"], &[], &["1"]),
        ),
        (
            vec![
                ev("contact.propertyChange", 1, 10, 1),
                ev("contact.deletion", 1, 20, 1),
            ],
            changes(&[], &["1"], &["1"]),
        ),
        (
            vec![ev("contact.privacyDeletion", 4, 1, 1)],
            changes(&[], &["4"], &["1"]),
        ),
        // Merged-away contacts are gone; the survivor and the merge's new record changed.
        (
            vec![merge.clone()],
            changes(&["30", "33"], &["31", "32"], &["1"]),
        ),
        // Other objects and other contact events are not a sync's business.
        (
            vec![
                ev("company.creation", 9, 1, 1),
                ev("deal.deletion", 9, 1, 1),
                ev("contact.associationChange", 9, 1, 1),
            ],
            changes(&[], &[], &[]),
        ),
    ];
    for (events, want) in cases {
        assert_eq!(contact_changes(&events), want, "{events:?}");
    }
}

// -------------------------------------------------------------------------------------------
// The mapping, snapshot.

#[test]
fn mapping_of_representative_contacts() {
    let records = json!([
        {
            "id": "1501",
            "properties": {
                "firstname": "太郎", "lastname": "山田", "email": "taro.yamada@example.co.jp",
                "hs_additional_emails": "t.yamada@gmail.com;TARO.YAMADA@example.co.jp; ",
                "phone": "０３（１２３４）５６７８", "mobilephone": "090-1234-5678",
                "company": "株式会社サンプル", "jobtitle": "営業部長",
                "address": "千代田区丸の内1-1-1", "city": "東京都", "state": null,
                "zip": "100-0005", "country": "Japan", "hubspot_owner_id": "72000001",
                "createdate": "2024-04-01T00:00:00.000Z",
                "lastmodifieddate": "2025-01-15T09:30:00.123Z",
                "hs_object_id": "1501"
            },
            "createdAt": "2024-04-01T00:00:00.000Z",
            "updatedAt": "2025-01-15T09:30:00.123Z",
            "archived": false
        },
        {
            "id": "1502",
            "properties": {
                "firstname": "  ", "lastname": "Smith", "email": "",
                "phone": null, "company": null,
                "lastmodifieddate": "1736933400000"
            },
            "createdAt": "2024-05-01T12:00:00Z",
            "updatedAt": "2025-01-15T09:30:00Z",
            "archived": false
        },
        {
            "id": "1503",
            "properties": {"email": "no.name@example.com", "company": "Acme Inc.", "city": "Boston"},
            "updatedAt": "2025-02-01T00:00:00.000Z"
        }
    ]);
    let mapped: Vec<RemotePerson> = records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            mapping::person(serde_json::from_value::<wire::Contact>(r.clone()).unwrap()).unwrap()
        })
        .collect();
    insta::assert_json_snapshot!("hubspot_contacts_mapped", mapped);

    let archived: wire::Contact = serde_json::from_value(json!({
        "id": "1504", "properties": {"hs_object_id": "1504"},
        "updatedAt": "2025-03-01T00:00:00.000Z", "archived": true,
        "archivedAt": "2025-03-01T00:00:00.000Z"
    }))
    .unwrap();
    insta::assert_json_snapshot!(
        "hubspot_contact_archived",
        mapping::deleted_person(archived).unwrap()
    );

    // Odd data is an error or a None, never a panic.
    let cases = [
        (json!({"id": "1", "properties": {}}), false),
        (
            json!({"id": "1", "properties": {"lastmodifieddate": "soon"}}),
            false,
        ),
        (
            json!({"id": "", "properties": {"lastmodifieddate": "1"}}),
            false,
        ),
        (
            json!({"id": 7, "properties": {"lastmodifieddate": 1, "firstname": 5, "city": {"x": 1}}}),
            true,
        ),
        (
            json!({"id": "1", "updatedAt": "2025-01-01T00:00:00Z", "properties": {"createdate": "?"}}),
            true,
        ),
    ];
    for (record, ok) in cases {
        let c: wire::Contact = serde_json::from_value(record.clone()).unwrap();
        let got = mapping::person(c);
        assert_eq!(got.is_ok(), ok, "{record}: {got:?}");
        if let Err(e) = got {
            assert!(matches!(e, ConnectorError::Protocol { .. }), "{e:?}");
        }
    }
}
