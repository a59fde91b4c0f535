//! Salesforce Leads and Contacts against the emulator: a full import across SOQL batches, the
//! time filters and orders, changes and deletions written through the REST API with plain
//! reqwest, reads by id, the write-back, faults mid-paging, and the mapping of literal records.
//!
//! The emulator's clock is moved between writes, so that the windows a test asks for are
//! separated by whole minutes and the assertions can be exact.

use std::collections::HashSet;

use renkei_connectors::people::{
    PeoplePage, PeopleQuery, PersonObject, PersonUpdate, RemotePerson, max_page_size,
};
use renkei_connectors::salesforce::{mapping, people, wire};
use renkei_connectors::{ConnectorError, Provider, Session};
use renkei_core::Millis;
use serde_json::{Value, json};

use crate::sandbox::{Minted, Sandboxed};

const P: Provider = Provider::Salesforce;

const ALL: PeopleQuery = PeopleQuery::All {
    updated_since: None,
    newest_first: false,
};

/// The emulator's REST root for the minted org, `{instance}/services/data/v62.0`.
fn rest(m: &Minted) -> String {
    format!(
        "{}/services/data/v62.0",
        m.meta.instance_url.as_deref().unwrap()
    )
}

/// The request-log prefix of the org's query resources (paths below `/sandbox/salesforce`).
fn query_log_prefix(m: &Minted) -> String {
    let url = url::Url::parse(m.meta.instance_url.as_deref().unwrap()).unwrap();
    let path = url.path().strip_prefix("/sandbox/salesforce").unwrap();
    format!("{path}/services/data/v62.0/query")
}

async fn vendor(
    sb: &Sandboxed,
    m: &Minted,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = sb
        .http
        .request(method, format!("{}{path}", rest(m)))
        .bearer_auth(m.access_token.expose());
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Every id a SOQL statement answers, read with plain reqwest (following `nextRecordsUrl`).
async fn soql_ids(sb: &Sandboxed, m: &Minted, soql: &str) -> Vec<String> {
    let instance = m.meta.instance_url.as_deref().unwrap();
    let mut url = reqwest::Url::parse_with_params(&format!("{}/query", rest(m)), [("q", soql)])
        .unwrap()
        .to_string();
    let mut ids = Vec::new();
    loop {
        let page: Value = sb
            .http
            .get(&url)
            .bearer_auth(m.access_token.expose())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for r in page["records"].as_array().unwrap() {
            ids.push(r["Id"].as_str().unwrap().to_owned());
        }
        match page["nextRecordsUrl"].as_str() {
            Some(next) if page["done"] == false => url = format!("{instance}{next}"),
            _ => return ids,
        }
    }
}

async fn create(sb: &Sandboxed, m: &Minted, sobject: &str, body: Value) -> String {
    let (status, v) = vendor(
        sb,
        m,
        reqwest::Method::POST,
        &format!("/sobjects/{sobject}"),
        Some(body),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    v["id"].as_str().unwrap().to_owned()
}

async fn patch(sb: &Sandboxed, m: &Minted, sobject: &str, id: &str, body: Value) {
    let (status, v) = vendor(
        sb,
        m,
        reqwest::Method::PATCH,
        &format!("/sobjects/{sobject}/{id}"),
        Some(body),
    )
    .await;
    assert_eq!(status, 204, "{v}");
}

async fn delete(sb: &Sandboxed, m: &Minted, sobject: &str, id: &str) {
    let (status, v) = vendor(
        sb,
        m,
        reqwest::Method::DELETE,
        &format!("/sobjects/{sobject}/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 204, "{v}");
}

/// Moves the emulator's clock and answers its new time.
async fn advance(sb: &Sandboxed, seconds: u64) -> Millis {
    let c = sb
        .control(P, "clock", json!({ "advance_seconds": seconds }))
        .await;
    Millis(c["now_ms"].as_i64().unwrap())
}

async fn page(
    sb: &Sandboxed,
    s: Session<'_>,
    object: PersonObject,
    q: &PeopleQuery,
    cursor: Option<&str>,
) -> Result<PeoplePage, ConnectorError> {
    people::page(
        &sb.connectors.http,
        sb.connectors.registry.endpoints(P),
        s,
        object,
        q,
        cursor,
    )
    .await
}

/// Every page of `q`: the people and the number of pages.
async fn all_pages(
    sb: &Sandboxed,
    s: Session<'_>,
    object: PersonObject,
    q: &PeopleQuery,
) -> (Vec<RemotePerson>, u32) {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let p = page(sb, s, object, q, cursor.as_deref()).await.unwrap();
        assert_eq!(p.api_calls, 1);
        pages += 1;
        out.extend(p.people);
        match p.next {
            Some(n) => cursor = Some(n),
            None => return (out, pages),
        }
    }
}

fn ids(people: &[RemotePerson]) -> Vec<String> {
    people.iter().map(|p| p.remote_id.clone()).collect()
}

fn distinct(ids: &[String]) -> HashSet<String> {
    let set: HashSet<String> = ids.iter().cloned().collect();
    assert_eq!(set.len(), ids.len(), "duplicates among the ids");
    set
}

/// A seeded org with more than one SOQL batch of Contacts.
async fn seeded() -> (Sandboxed, Minted) {
    let sb = Sandboxed::start().await;
    let seeded = sb
        .control(P, "seed", json!({ "count": 5000, "seed": 7 }))
        .await;
    assert!(
        seeded["created"]["Contact"].as_u64().unwrap() > 2000,
        "{seeded}"
    );
    let m = sb.mint(P, None).await;
    (sb, m)
}

#[tokio::test]
async fn initial_import_reads_every_live_record_once_in_full_batches() {
    let (sb, m) = seeded().await;
    // A converted lead would not be imported; the emulator cannot convert, so every lead is
    // live and the independent read filters the same way the import does.
    for (object, soql) in [
        (PersonObject::Contact, "SELECT Id FROM Contact"),
        (
            PersonObject::Lead,
            "SELECT Id FROM Lead WHERE IsConverted = false",
        ),
    ] {
        sb.clear_requests(P).await;
        let (got, pages) = all_pages(&sb, m.session(), object, &ALL).await;
        let calls = sb.requests(P, &query_log_prefix(&m)).await;
        let want = distinct(&soql_ids(&sb, &m, soql).await);
        assert_eq!(distinct(&ids(&got)), want, "{object:?}");
        let batches = want.len().div_ceil(max_page_size(P)) as u32;
        assert_eq!(pages, batches, "{object:?}");
        assert_eq!(calls.len() as u32, batches, "{object:?}: {calls:?}");
        assert!(
            calls
                .iter()
                .all(|(method, _, status)| method == "GET" && *status == 200)
        );
        assert!(got.iter().all(|p| p.object == object && !p.deleted));
    }
    sb.stop().await;
}

#[tokio::test]
async fn updated_since_and_newest_first() {
    let sb = Sandboxed::start().await;
    sb.control(P, "seed", json!({ "count": 300, "seed": 7 }))
        .await;
    let m = sb.mint(P, None).await;
    let leads = soql_ids(&sb, &m, "SELECT Id FROM Lead ORDER BY Id").await;
    // Three leads modified a minute apart, well after the seed.
    let mut touched = Vec::new();
    for (i, id) in leads.iter().take(3).enumerate() {
        advance(&sb, 60).await;
        patch(
            &sb,
            &m,
            "Lead",
            id,
            json!({ "Description": format!("touch {i}") }),
        )
        .await;
        touched.push(id.clone());
    }
    let stamps: Vec<Millis> = by_ids(&sb, m.session(), PersonObject::Lead, &touched)
        .await
        .unwrap()
        .iter()
        .map(|p| p.updated_at)
        .collect();

    // newest_first alone: the whole set, newest first, the three touched leads at the top.
    let newest = PeopleQuery::All {
        updated_since: None,
        newest_first: true,
    };
    let (all, _) = all_pages(&sb, m.session(), PersonObject::Lead, &newest).await;
    assert_eq!(distinct(&ids(&all)).len(), leads.len());
    assert!(all.windows(2).all(|w| w[0].updated_at >= w[1].updated_at));
    let top: Vec<String> = ids(&all[..3]);
    assert_eq!(top, touched.iter().rev().cloned().collect::<Vec<_>>());

    // updated_since is inclusive: at the first touch's stamp all three, a second later two.
    let cases = [
        (stamps[0], false, vec![0, 1, 2]),
        (stamps[0].plus_ms(1000), false, vec![1, 2]),
        (stamps[0].plus_ms(1000), true, vec![2, 1]),
        (stamps[2], true, vec![2]),
        (stamps[2].plus_ms(1000), false, vec![]),
    ];
    for (since, newest_first, want) in cases {
        let q = PeopleQuery::All {
            updated_since: Some(since),
            newest_first,
        };
        let (got, _) = all_pages(&sb, m.session(), PersonObject::Lead, &q).await;
        let want: Vec<String> = want.into_iter().map(|i| touched[i].clone()).collect();
        if newest_first {
            assert_eq!(ids(&got), want, "{q:?}");
        } else {
            assert_eq!(distinct(&ids(&got)), distinct(&want), "{q:?}");
        }
    }
    sb.stop().await;
}

#[tokio::test]
async fn changed_since_holds_exactly_the_created_and_updated_records() {
    let sb = Sandboxed::start().await;
    sb.control(P, "seed", json!({ "count": 200, "seed": 7 }))
        .await;
    let m = sb.mint(P, None).await;
    let contacts = soql_ids(&sb, &m, "SELECT Id FROM Contact ORDER BY Id").await;
    let since = advance(&sb, 60).await;
    let created = create(
        &sb,
        &m,
        "Contact",
        json!({ "LastName": "新規", "FirstName": "花子", "Phone": "03-0000-1111" }),
    )
    .await;
    advance(&sb, 60).await;
    let updated = contacts[5].clone();
    patch(&sb, &m, "Contact", &updated, json!({ "Title": "部長" })).await;

    let q = PeopleQuery::ChangedSince { since };
    let (got, pages) = all_pages(&sb, m.session(), PersonObject::Contact, &q).await;
    assert_eq!(pages, 1);
    // Oldest first.
    assert_eq!(ids(&got), vec![created.clone(), updated.clone()]);
    assert_eq!(got[0].last_name.as_deref(), Some("新規"));
    assert_eq!(got[1].title.as_deref(), Some("部長"));
    assert!(got.iter().all(|p| p.updated_at >= since));

    // The boundary is inclusive: the update's own stamp still finds it.
    let q = PeopleQuery::ChangedSince {
        since: got[1].updated_at,
    };
    let (at_stamp, _) = all_pages(&sb, m.session(), PersonObject::Contact, &q).await;
    assert_eq!(ids(&at_stamp), vec![updated]);
    // Nothing on the other object.
    let (leads, _) = all_pages(
        &sb,
        m.session(),
        PersonObject::Lead,
        &PeopleQuery::ChangedSince { since },
    )
    .await;
    assert!(leads.is_empty(), "{leads:?}");
    sb.stop().await;
}

#[tokio::test]
async fn deleted_since_reports_deletions_after_the_time_only() {
    let sb = Sandboxed::start().await;
    sb.control(P, "seed", json!({ "count": 200, "seed": 7 }))
        .await;
    let m = sb.mint(P, None).await;
    for (object, sobject) in [
        (PersonObject::Lead, "Lead"),
        (PersonObject::Contact, "Contact"),
    ] {
        let all = soql_ids(&sb, &m, &format!("SELECT Id FROM {sobject} ORDER BY Id")).await;
        // Deleted before the window: not reported.
        delete(&sb, &m, sobject, &all[0]).await;
        let since = advance(&sb, 60).await;
        delete(&sb, &m, sobject, &all[1]).await;
        delete(&sb, &m, sobject, &all[2]).await;
        let q = PeopleQuery::DeletedSince { since };
        let (got, _) = all_pages(&sb, m.session(), object, &q).await;
        assert_eq!(
            distinct(&ids(&got)),
            distinct(&[all[1].clone(), all[2].clone()]),
            "{object:?}"
        );
        for p in &got {
            assert!(
                p.deleted && p.object == object && p.updated_at >= since,
                "{p:?}"
            );
            assert_eq!((p.last_name.as_ref(), p.emails.len()), (None, 0));
        }
        // The live import no longer sees them.
        let (live, _) = all_pages(&sb, m.session(), object, &ALL).await;
        let live = distinct(&ids(&live));
        assert!(!live.contains(&all[0]) && !live.contains(&all[1]));
        advance(&sb, 60).await;
    }
    sb.stop().await;
}

async fn by_ids(
    sb: &Sandboxed,
    s: Session<'_>,
    object: PersonObject,
    ids: &[String],
) -> Result<Vec<RemotePerson>, ConnectorError> {
    people::by_ids(
        &sb.connectors.http,
        sb.connectors.registry.endpoints(P),
        s,
        object,
        ids,
    )
    .await
}

#[tokio::test]
async fn by_ids_answers_exactly_the_live_records_in_chunks() {
    let sb = Sandboxed::start().await;
    sb.control(P, "seed", json!({ "count": 1200, "seed": 7 }))
        .await;
    let m = sb.mint(P, None).await;
    let contacts = soql_ids(&sb, &m, "SELECT Id FROM Contact ORDER BY Id").await;
    assert!(contacts.len() > 250);
    let mut asked: Vec<String> = contacts[..250].to_vec();
    delete(&sb, &m, "Contact", &asked[10]).await;
    // A well-formed id of no record, and a lead's id (another object).
    asked.push("003000000000000AAA".into());
    let lead = soql_ids(&sb, &m, "SELECT Id FROM Lead LIMIT 1").await;
    asked.push(lead[0].clone());
    // The 15-character form of a live contact finds it too (answered in 18 characters).
    asked.push(contacts[300][..15].to_owned());

    sb.clear_requests(P).await;
    let got = by_ids(&sb, m.session(), PersonObject::Contact, &asked)
        .await
        .unwrap();
    let mut want: HashSet<String> = contacts[..250].iter().cloned().collect();
    want.remove(&contacts[10]);
    want.insert(contacts[300].clone());
    assert_eq!(distinct(&ids(&got)), want);
    // 253 ids: two queries of at most 200.
    assert_eq!(sb.requests(P, &query_log_prefix(&m)).await.len(), 2);

    // Nothing to ask: no call. A malformed id: refused before any call.
    sb.clear_requests(P).await;
    assert!(
        by_ids(&sb, m.session(), PersonObject::Contact, &[])
            .await
            .unwrap()
            .is_empty()
    );
    for bad in ["003' OR Name != '", "003", "003000000000000AAA0"] {
        let e = by_ids(
            &sb,
            m.session(),
            PersonObject::Contact,
            &[contacts[0].clone(), bad.to_owned()],
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&e, ConnectorError::Invalid { code, .. } if code == "id_invalid"),
            "{bad}: {e:?}"
        );
    }
    assert!(sb.requests(P, "/").await.is_empty());
    sb.stop().await;
}

async fn update(
    sb: &Sandboxed,
    s: Session<'_>,
    object: PersonObject,
    id: &str,
    u: &PersonUpdate,
) -> Result<(), ConnectorError> {
    people::update(
        &sb.connectors.http,
        sb.connectors.registry.endpoints(P),
        s,
        object,
        id,
        u,
    )
    .await
}

#[tokio::test]
async fn update_writes_the_given_fields_and_classifies_refusals() {
    let sb = Sandboxed::start().await;
    sb.control(P, "seed", json!({ "count": 100, "seed": 7 }))
        .await;
    let m = sb.mint(P, None).await;
    let lead = soql_ids(&sb, &m, "SELECT Id FROM Lead ORDER BY Id LIMIT 1").await[0].clone();
    let before = by_ids(
        &sb,
        m.session(),
        PersonObject::Lead,
        std::slice::from_ref(&lead),
    )
    .await
    .unwrap()
    .remove(0);

    let u = PersonUpdate {
        last_name: Some("高橋".into()),
        first_name: Some("一郎".into()),
        phone: Some("+81 3 1234 5678".into()),
        email: Some("ichiro.takahashi@example.co.jp".into()),
        description: Some("電話で確認済み".into()),
    };
    // Twice: the same PATCH is harmless.
    for _ in 0..2 {
        update(&sb, m.session(), PersonObject::Lead, &lead, &u)
            .await
            .unwrap();
    }
    let after = by_ids(
        &sb,
        m.session(),
        PersonObject::Lead,
        std::slice::from_ref(&lead),
    )
    .await
    .unwrap()
    .remove(0);
    assert_eq!(after.last_name.as_deref(), Some("高橋"));
    assert_eq!(after.first_name.as_deref(), Some("一郎"));
    assert_eq!(after.phone.as_deref(), Some("+81 3 1234 5678"));
    assert_eq!(
        after.emails,
        vec!["ichiro.takahashi@example.co.jp".to_owned()]
    );
    assert_eq!(after.description.as_deref(), Some("電話で確認済み"));
    // Fields not in the update are untouched.
    assert_eq!(after.company, before.company);
    assert_eq!(after.other_phones, before.other_phones);

    // Some("") clears; None leaves alone.
    let clear = PersonUpdate {
        description: Some(String::new()),
        ..Default::default()
    };
    update(&sb, m.session(), PersonObject::Lead, &lead, &clear)
        .await
        .unwrap();
    let cleared = by_ids(
        &sb,
        m.session(),
        PersonObject::Lead,
        std::slice::from_ref(&lead),
    )
    .await
    .unwrap()
    .remove(0);
    assert_eq!(cleared.description, None);
    assert_eq!(cleared.last_name.as_deref(), Some("高橋"));

    // Clearing the required LastName is Salesforce's to refuse.
    let e = update(
        &sb,
        m.session(),
        PersonObject::Lead,
        &lead,
        &PersonUpdate {
            last_name: Some(String::new()),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&e, ConnectorError::Invalid { code, field: Some(f), .. }
            if code == "REQUIRED_FIELD_MISSING" && f == "LastName"),
        "{e:?}"
    );
    // A deleted record, and an id of no record.
    let gone = soql_ids(&sb, &m, "SELECT Id FROM Lead ORDER BY Id LIMIT 2").await[1].clone();
    delete(&sb, &m, "Lead", &gone).await;
    for id in [gone.as_str(), "00Q000000000000AAA"] {
        let e = update(&sb, m.session(), PersonObject::Lead, id, &u)
            .await
            .unwrap_err();
        assert!(matches!(e, ConnectorError::NotFound { .. }), "{id}: {e:?}");
    }
    let e = update(&sb, m.session(), PersonObject::Lead, "../Contact/x", &u)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ConnectorError::Invalid { code, .. } if code == "id_invalid"),
        "{e:?}"
    );
    sb.stop().await;
}

#[tokio::test]
async fn faults_mid_paging_leave_the_import_complete() {
    let (sb, m) = seeded().await;
    let q = ALL;
    let (want, pages) = all_pages(&sb, m.session(), PersonObject::Contact, &q).await;
    assert!(pages >= 2);
    let want = distinct(&ids(&want));
    let prefix = query_log_prefix(&m);

    // A 503 on the second page: the client tries again on its own.
    let first = page(&sb, m.session(), PersonObject::Contact, &q, None)
        .await
        .unwrap();
    sb.control(
        P,
        "faults",
        json!({ "kind": "server_error", "status": 503, "count": 1, "path_prefix": prefix }),
    )
    .await;
    let mut got = ids(&first.people);
    let mut cursor = first.next;
    while let Some(c) = cursor {
        let p = page(&sb, m.session(), PersonObject::Contact, &q, Some(&c))
            .await
            .unwrap();
        got.extend(ids(&p.people));
        cursor = p.next;
    }
    assert_eq!(distinct(&got), want);
    let log = sb.requests(P, &prefix).await;
    assert!(log.iter().any(|(_, _, status)| *status == 503), "{log:?}");

    // Salesforce's rate limit is the org's daily allowance: 403 REQUEST_LIMIT_EXCEEDED, which
    // no retry inside one call can wait out. The page fails as retryable, and the same cursor
    // resumes the import once the allowance is back; the client holds the budget shut for a
    // while (its probe interval), so the resumed calls use a budget as it will be by then.
    let first = page(&sb, m.session(), PersonObject::Contact, &q, None)
        .await
        .unwrap();
    sb.control(
        P,
        "faults",
        json!({ "kind": "rate_limit", "retry_after_seconds": 1, "count": 1, "path_prefix": prefix }),
    )
    .await;
    let cursor = first.next.clone().unwrap();
    let e = page(&sb, m.session(), PersonObject::Contact, &q, Some(&cursor))
        .await
        .unwrap_err();
    assert!(
        matches!(e, ConnectorError::RateLimited { .. }) && e.is_retryable(),
        "{e:?}"
    );
    let later = Session {
        budget: Some("salesforce:test-after-the-wait"),
        ..m.session()
    };
    let mut got = ids(&first.people);
    let mut cursor = Some(cursor);
    while let Some(c) = cursor {
        let p = page(&sb, later, PersonObject::Contact, &q, Some(&c))
            .await
            .unwrap();
        got.extend(ids(&p.people));
        cursor = p.next;
    }
    assert_eq!(distinct(&got), want);
    sb.stop().await;
}

#[tokio::test]
async fn an_expired_token_is_unauthorized() {
    let sb = Sandboxed::start().await;
    sb.control(P, "seed", json!({ "count": 20, "seed": 7 }))
        .await;
    let m = sb.mint(P, None).await;
    sb.control(P, "faults", json!({ "kind": "expired_token", "count": 1 }))
        .await;
    let e = page(&sb, m.session(), PersonObject::Lead, &ALL, None)
        .await
        .unwrap_err();
    assert!(e.is_unauthorized() && !e.needs_reauth(), "{e:?}");
    // The token stays refused; a refresh (the engine's job) is what heals it.
    let e = page(&sb, m.session(), PersonObject::Lead, &ALL, None)
        .await
        .unwrap_err();
    assert!(e.is_unauthorized(), "{e:?}");
    let client = sb.connectors.registry.endpoints(P).client.clone().unwrap();
    let grant = sb
        .connectors
        .refresh(
            P,
            &client,
            m.refresh_token.as_ref().unwrap(),
            &m.meta,
            Millis::now(),
        )
        .await
        .unwrap();
    let refreshed = Session {
        access_token: &grant.access_token,
        ..m.session()
    };
    let p = page(&sb, refreshed, PersonObject::Lead, &ALL, None)
        .await
        .unwrap();
    assert!(!p.people.is_empty());
    sb.stop().await;
}

#[tokio::test]
async fn cursors_that_are_not_next_records_urls_are_refused() {
    let sb = Sandboxed::start().await;
    let m = sb.mint(P, None).await;
    let deleted = PeopleQuery::DeletedSince { since: Millis(0) };
    let cases: [(&PeopleQuery, &str); 4] = [
        (&ALL, "page:2"),
        (&ALL, "/services/data/v62.0/queryAll/01g000000000001-2000"),
        (&deleted, "/services/data/v62.0/query/01g000000000001-2000"),
        (
            &ALL,
            "https://attacker.example/services/data/v62.0/query/01g-2000",
        ),
    ];
    for (q, cursor) in cases {
        let e = page(&sb, m.session(), PersonObject::Lead, q, Some(cursor))
            .await
            .unwrap_err();
        assert!(
            matches!(&e, ConnectorError::Invalid { code, .. } if code == "cursor_invalid"),
            "{cursor}: {e:?}"
        );
    }
    assert!(sb.requests(P, "/").await.is_empty());
    // A well-formed cursor the org does not know (or no longer keeps) is the vendor's to
    // refuse, reported as an expired cursor.
    let e = page(
        &sb,
        m.session(),
        PersonObject::Lead,
        &ALL,
        Some("/services/data/v62.0/query/01g000000000009-2000"),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&e, ConnectorError::Invalid { code, field: Some(f), .. }
            if code == "cursor_expired" && f == "cursor"),
        "{e:?}"
    );
    sb.stop().await;
}

/// The mapping of representative query records, from literal JSON as the REST API writes it.
#[test]
fn mapping_of_representative_records() {
    let leads = json!([
        {
            "attributes": {"type": "Lead", "url": "/services/data/v62.0/sobjects/Lead/00QdL000000001AAA"},
            "Id": "00QdL000000001AAA", "FirstName": "太郎", "LastName": "山田", "Name": "山田 太郎",
            "Company": "株式会社サクラ", "Email": "taro.yamada@sakura.example.co.jp",
            "Phone": "03-1234-5678", "MobilePhone": "090-1234-5678",
            "Street": "千代田1-1", "City": "千代田区", "State": "東京都", "PostalCode": "100-0001",
            "Country": "Japan", "Title": "営業部長", "Description": "展示会で名刺交換",
            "OwnerId": "005dL000000001AAA", "CreatedDate": "2024-01-15T09:30:00.000+0000",
            "SystemModstamp": "2024-02-01T00:00:05.000+0000"
        },
        {
            "attributes": {"type": "Lead"},
            "Id": "00QdL000000002AAA", "FirstName": null, "LastName": "  Smith ", "Name": "Smith",
            "Company": "[not provided]", "Email": "", "Phone": null, "MobilePhone": null,
            "Street": null, "City": " ", "State": null, "PostalCode": null, "Country": null,
            "Title": null, "Description": null, "OwnerId": "005dL000000001AAA",
            "CreatedDate": "not a date", "SystemModstamp": "2024-02-01T00:00:06.000+0000"
        }
    ]);
    let contacts = json!([
        {
            "attributes": {"type": "Contact"},
            "Id": "003dL000000001AAA", "FirstName": "花子", "LastName": "佐藤", "Name": "佐藤 花子",
            "Account": {"attributes": {"type": "Account"}, "Name": "(株)ミライ"},
            "Email": "Hanako.Sato@mirai.example.jp", "Phone": "＋８１ ３ １２３４ ５６７８",
            "MobilePhone": null, "MailingStreet": null, "MailingCity": "大阪市",
            "MailingState": null, "MailingPostalCode": null, "MailingCountry": "Japan",
            "Title": "課長", "Department": "購買部", "Description": null,
            "OwnerId": "005dL000000002AAA", "CreatedDate": "2024-01-10T00:00:00.000+0000",
            "SystemModstamp": "2024-01-20T12:00:00.000+0000"
        },
        {
            "attributes": {"type": "Contact"},
            "Id": "003dL000000002AAA", "FirstName": "Emma", "LastName": "Brown", "Name": "Emma Brown",
            "Account": null, "Email": "emma@gmail.com", "Phone": "+1 (415) 555-0123",
            "MobilePhone": "+1 415 555 0199", "MailingStreet": null, "MailingCity": null,
            "MailingState": null, "MailingPostalCode": null, "MailingCountry": null,
            "Title": null, "Department": "", "Description": "Met at SaaStr",
            "OwnerId": null, "CreatedDate": null,
            "SystemModstamp": "2024-01-21T12:00:00.000+0000"
        }
    ]);
    let deleted = json!([
        {"attributes": {"type": "Lead"}, "Id": "00QdL000000003AAA", "SystemModstamp": "2024-03-01T08:00:00.000+0000"}
    ]);
    let read = |v: &Value| -> Vec<wire::Person> { serde_json::from_value(v.clone()).unwrap() };
    let mut out: Vec<RemotePerson> = Vec::new();
    for p in read(&leads) {
        out.push(mapping::person(PersonObject::Lead, p).unwrap());
    }
    for p in read(&contacts) {
        out.push(mapping::person(PersonObject::Contact, p).unwrap());
    }
    for p in read(&deleted) {
        out.push(mapping::deleted_person(PersonObject::Lead, p).unwrap());
    }
    insta::assert_json_snapshot!(out);

    // A record without its id or modification stamp is a broken answer.
    for broken in [
        json!({"Id": "00QdL000000004AAA"}),
        json!({"SystemModstamp": "2024-03-01T08:00:00.000+0000"}),
        json!({"Id": "00QdL000000004AAA", "SystemModstamp": "soon"}),
    ] {
        let p: wire::Person = serde_json::from_value(broken.clone()).unwrap();
        let e = mapping::person(PersonObject::Lead, p).unwrap_err();
        assert!(
            matches!(e, ConnectorError::Protocol { .. }),
            "{broken}: {e:?}"
        );
    }
}
