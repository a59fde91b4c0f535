//! Zoho CRM Leads and Contacts against the emulator: a full import past the 2,000th record
//! (where Zoho requires `page_token`), the time filters and orders, changes and deletions
//! written through the CRM API with plain reqwest, reads by id, the write-back, faults
//! mid-paging, and the mapping of literal records.
//!
//! The emulator's clock is moved between writes, so that the windows a test asks for are
//! separated by whole minutes and the assertions can be exact.

use std::collections::HashSet;

use renkei_connectors::people::{
    PeoplePage, PeopleQuery, PersonObject, PersonUpdate, RemotePerson, max_page_size,
};
use renkei_connectors::zoho::{mapping, people, wire};
use renkei_connectors::{ConnectorError, Provider, Session};
use renkei_core::Millis;
use serde_json::{Value, json};

use crate::sandbox::{Minted, Sandboxed};

const P: Provider = Provider::ZohoCrm;

const ALL: PeopleQuery = PeopleQuery::All {
    updated_since: None,
    newest_first: false,
};

fn module(object: PersonObject) -> &'static str {
    object.remote_name(P).unwrap()
}

/// The CRM API root of the minted org, `{api_domain}/crm/v8`.
fn crm(m: &Minted) -> String {
    format!("{}/crm/v8", m.meta.api_domain.as_deref().unwrap())
}

/// The request-log path (below `/sandbox/zoho`) of a module's list.
fn list_log_path(m: &Minted, object: PersonObject) -> String {
    let url = url::Url::parse(m.meta.api_domain.as_deref().unwrap()).unwrap();
    let path = url.path().strip_prefix("/sandbox/zoho").unwrap();
    format!("{path}/crm/v8/{}", module(object))
}

/// The list calls of a module in the request log (its sub-resources excluded).
async fn list_calls(sb: &Sandboxed, m: &Minted, object: PersonObject) -> Vec<u64> {
    let path = list_log_path(m, object);
    sb.requests(P, &path)
        .await
        .into_iter()
        .filter(|(method, p, _)| method == "GET" && *p == path)
        .map(|(_, _, status)| status)
        .collect()
}

async fn vendor(
    sb: &Sandboxed,
    m: &Minted,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = sb.http.request(method, format!("{}{path}", crm(m))).header(
        "Authorization",
        format!("Zoho-oauthtoken {}", m.access_token.expose()),
    );
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn count(sb: &Sandboxed, m: &Minted, object: PersonObject) -> usize {
    let (status, v) = vendor(
        sb,
        m,
        reqwest::Method::GET,
        &format!("/{}/actions/count", module(object)),
        None,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    v["count"].as_u64().unwrap() as usize
}

/// The first `n` ids of a module, by id, read with plain reqwest.
async fn first_ids(sb: &Sandboxed, m: &Minted, object: PersonObject, n: usize) -> Vec<String> {
    assert!(n <= 200);
    let (status, v) = vendor(
        sb,
        m,
        reqwest::Method::GET,
        &format!(
            "/{}?fields=Last_Name&sort_by=id&sort_order=asc&per_page={n}",
            module(object)
        ),
        None,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn create(sb: &Sandboxed, m: &Minted, object: PersonObject, record: Value) -> String {
    let (status, v) = vendor(
        sb,
        m,
        reqwest::Method::POST,
        &format!("/{}", module(object)),
        Some(json!({ "data": [record] })),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    v["data"][0]["details"]["id"].as_str().unwrap().to_owned()
}

async fn put(sb: &Sandboxed, m: &Minted, object: PersonObject, id: &str, record: Value) {
    let (status, v) = vendor(
        sb,
        m,
        reqwest::Method::PUT,
        &format!("/{}/{id}", module(object)),
        Some(json!({ "data": [record] })),
    )
    .await;
    assert_eq!(status, 200, "{v}");
}

async fn delete(sb: &Sandboxed, m: &Minted, object: PersonObject, id: &str) {
    let (status, v) = vendor(
        sb,
        m,
        reqwest::Method::DELETE,
        &format!("/{}/{id}", module(object)),
        None,
    )
    .await;
    assert_eq!(status, 200, "{v}");
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

/// Every page of `q`: the people, and the cursors the pages handed back.
async fn all_pages(
    sb: &Sandboxed,
    s: Session<'_>,
    object: PersonObject,
    q: &PeopleQuery,
) -> (Vec<RemotePerson>, Vec<String>) {
    let mut out = Vec::new();
    let mut cursors = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let p = page(sb, s, object, q, cursor.as_deref()).await.unwrap();
        assert_eq!(p.api_calls, 1);
        out.extend(p.people);
        match p.next {
            Some(n) => {
                cursors.push(n.clone());
                cursor = Some(n);
            }
            None => return (out, cursors),
        }
    }
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

fn ids(people: &[RemotePerson]) -> Vec<String> {
    people.iter().map(|p| p.remote_id.clone()).collect()
}

fn distinct(ids: &[String]) -> HashSet<String> {
    let set: HashSet<String> = ids.iter().cloned().collect();
    assert_eq!(set.len(), ids.len(), "duplicates among the ids");
    set
}

/// A seeded org with more than 2,000 Contacts, so that a full import needs `page_token`.
async fn seeded() -> (Sandboxed, Minted) {
    let sb = Sandboxed::start().await;
    let seeded = sb
        .control(P, "seed", json!({ "count": 3000, "seed": 7 }))
        .await;
    assert!(
        seeded["created"]["Contacts"].as_u64().unwrap() > 2000,
        "{seeded}"
    );
    let m = sb.mint(P, None).await;
    (sb, m)
}

#[tokio::test]
async fn initial_import_reads_every_record_once_past_the_2000th() {
    let (sb, m) = seeded().await;
    for object in PersonObject::ALL {
        sb.clear_requests(P).await;
        let (got, cursors) = all_pages(&sb, m.session(), object, &ALL).await;
        let calls = list_calls(&sb, &m, object).await;
        let n = count(&sb, &m, object).await;
        // Distinct ids of the module, as many as it holds: its whole id set.
        assert_eq!(distinct(&ids(&got)).len(), n, "{object:?}");
        assert!(got.iter().all(|p| p.object == object && !p.deleted));
        // ids ascending, the stable order of a full import.
        let numeric: Vec<u64> = got.iter().map(|p| p.remote_id.parse().unwrap()).collect();
        assert!(numeric.is_sorted(), "{object:?}");
        let pages = n.div_ceil(max_page_size(P));
        assert_eq!(calls.len(), pages, "{object:?}");
        assert!(calls.iter().all(|s| *s == 200), "{calls:?}");
        assert_eq!(cursors.len(), pages - 1);
        if n > 2000 {
            // Past the 2,000th record only Zoho's page_token reaches.
            assert!(cursors.last().unwrap().starts_with("token:"), "{cursors:?}");
        }
    }
    sb.stop().await;
}

#[tokio::test]
async fn updated_since_and_newest_first() {
    let sb = Sandboxed::start().await;
    sb.control(P, "seed", json!({ "count": 600, "seed": 7 }))
        .await;
    let m = sb.mint(P, None).await;
    let object = PersonObject::Contact;
    let contacts = first_ids(&sb, &m, object, 10).await;
    let mut touched = Vec::new();
    for (i, id) in contacts.iter().take(3).enumerate() {
        advance(&sb, 60).await;
        put(
            &sb,
            &m,
            object,
            id,
            json!({ "Description": format!("touch {i}") }),
        )
        .await;
        touched.push(id.clone());
    }
    let stamps: Vec<Millis> = by_ids(&sb, m.session(), object, &touched)
        .await
        .unwrap()
        .iter()
        .map(|p| p.updated_at)
        .collect();
    assert!(stamps.is_sorted());

    let newest = PeopleQuery::All {
        updated_since: None,
        newest_first: true,
    };
    let (all, _) = all_pages(&sb, m.session(), object, &newest).await;
    assert_eq!(distinct(&ids(&all)).len(), count(&sb, &m, object).await);
    assert!(all.windows(2).all(|w| w[0].updated_at >= w[1].updated_at));
    assert_eq!(
        ids(&all[..3]),
        touched.iter().rev().cloned().collect::<Vec<_>>()
    );

    // Inclusive at a record's own stamp; a second later it is out.
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
        let (got, _) = all_pages(&sb, m.session(), object, &q).await;
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
    sb.control(P, "seed", json!({ "count": 400, "seed": 7 }))
        .await;
    let m = sb.mint(P, None).await;
    let object = PersonObject::Lead;
    let leads = first_ids(&sb, &m, object, 10).await;
    let since = advance(&sb, 60).await;
    let created = create(
        &sb,
        &m,
        object,
        json!({ "Last_Name": "新規", "First_Name": "花子", "Company": "株式会社テスト" }),
    )
    .await;
    advance(&sb, 60).await;
    let updated = leads[5].clone();
    put(&sb, &m, object, &updated, json!({ "Designation": "部長" })).await;

    let q = PeopleQuery::ChangedSince { since };
    let (got, cursors) = all_pages(&sb, m.session(), object, &q).await;
    assert!(cursors.is_empty());
    // Oldest first.
    assert_eq!(ids(&got), vec![created.clone(), updated.clone()]);
    assert_eq!(got[0].company.as_deref(), Some("株式会社テスト"));
    assert_eq!(got[1].title.as_deref(), Some("部長"));
    assert!(
        got.iter()
            .all(|p| p.updated_at >= Millis(since.0 / 1000 * 1000))
    );

    // The boundary is inclusive: the update's own stamp still finds it.
    let q = PeopleQuery::ChangedSince {
        since: got[1].updated_at,
    };
    let (at_stamp, _) = all_pages(&sb, m.session(), object, &q).await;
    assert_eq!(ids(&at_stamp), vec![updated]);
    // Nothing changed since: Zoho's 304, an empty last page.
    sb.clear_requests(P).await;
    let later = advance(&sb, 60).await;
    let p = page(
        &sb,
        m.session(),
        object,
        &PeopleQuery::ChangedSince { since: later },
        None,
    )
    .await
    .unwrap();
    assert_eq!((p.people.len(), p.next, p.api_calls), (0, None, 1));
    assert_eq!(list_calls(&sb, &m, object).await, vec![304]);
    sb.stop().await;
}

#[tokio::test]
async fn deleted_since_reports_deletions_after_the_time_only() {
    let sb = Sandboxed::start().await;
    sb.control(P, "seed", json!({ "count": 400, "seed": 7 }))
        .await;
    let m = sb.mint(P, None).await;
    for object in PersonObject::ALL {
        let all = first_ids(&sb, &m, object, 10).await;
        delete(&sb, &m, object, &all[0]).await;
        let since = advance(&sb, 60).await;
        delete(&sb, &m, object, &all[1]).await;
        delete(&sb, &m, object, &all[2]).await;
        let q = PeopleQuery::DeletedSince { since };
        let (got, _) = all_pages(&sb, m.session(), object, &q).await;
        // Newest first, and nothing from before the window.
        assert_eq!(
            ids(&got),
            vec![all[2].clone(), all[1].clone()],
            "{object:?}"
        );
        for p in &got {
            assert!(p.deleted && p.object == object, "{p:?}");
            assert!(p.updated_at >= Millis(since.0 / 1000 * 1000), "{p:?}");
        }
        let (live, _) = all_pages(&sb, m.session(), object, &ALL).await;
        let live = distinct(&ids(&live));
        assert!(!live.contains(&all[0]) && !live.contains(&all[1]));
        advance(&sb, 60).await;
    }
    sb.stop().await;
}

#[tokio::test]
async fn deleted_since_pages_until_older_deletions() {
    let sb = Sandboxed::start().await;
    sb.control(P, "seed", json!({ "count": 800, "seed": 7 }))
        .await;
    let m = sb.mint(P, None).await;
    let object = PersonObject::Contact;
    // 250 deletions in the window (two pages of the deleted list), 5 before it.
    let (live, _) = all_pages(&sb, m.session(), object, &ALL).await;
    let victims = ids(&live[..255]);
    for id in &victims[..5] {
        delete(&sb, &m, object, id).await;
    }
    let since = advance(&sb, 60).await;
    for chunk in victims[5..].chunks(100) {
        let (status, v) = vendor(
            &sb,
            &m,
            reqwest::Method::DELETE,
            &format!("/{}?ids={}", module(object), chunk.join(",")),
            None,
        )
        .await;
        assert_eq!(status, 200, "{v}");
    }
    let (got, cursors) = all_pages(
        &sb,
        m.session(),
        object,
        &PeopleQuery::DeletedSince { since },
    )
    .await;
    assert_eq!(distinct(&ids(&got)), distinct(&victims[5..]));
    assert_eq!(cursors, vec!["page:2".to_owned()]);
    sb.stop().await;
}

#[tokio::test]
async fn by_ids_answers_exactly_the_live_records_in_chunks() {
    let sb = Sandboxed::start().await;
    sb.control(P, "seed", json!({ "count": 800, "seed": 7 }))
        .await;
    let m = sb.mint(P, None).await;
    let object = PersonObject::Contact;
    let (live, _) = all_pages(&sb, m.session(), object, &ALL).await;
    let mut asked = ids(&live[..150]);
    delete(&sb, &m, object, &asked[10]).await;
    asked.push("1".into());
    let lead = first_ids(&sb, &m, PersonObject::Lead, 1).await;
    asked.push(lead[0].clone());

    sb.clear_requests(P).await;
    let got = by_ids(&sb, m.session(), object, &asked).await.unwrap();
    let mut want: HashSet<String> = ids(&live[..150]).into_iter().collect();
    want.remove(&live[10].remote_id);
    assert_eq!(distinct(&ids(&got)), want);
    assert_eq!(list_calls(&sb, &m, object).await.len(), 2);

    sb.clear_requests(P).await;
    assert!(
        by_ids(&sb, m.session(), object, &[])
            .await
            .unwrap()
            .is_empty()
    );
    for bad in ["1,2", "abc", "57257670000004001690", ""] {
        let e = by_ids(
            &sb,
            m.session(),
            object,
            &[live[0].remote_id.clone(), bad.to_owned()],
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

#[tokio::test]
async fn update_writes_the_given_fields_and_classifies_refusals() {
    let sb = Sandboxed::start().await;
    sb.control(P, "seed", json!({ "count": 100, "seed": 7 }))
        .await;
    let m = sb.mint(P, None).await;
    let object = PersonObject::Contact;
    let contacts = first_ids(&sb, &m, object, 20).await;
    let id = contacts[0].clone();
    let before = by_ids(&sb, m.session(), object, std::slice::from_ref(&id))
        .await
        .unwrap()
        .remove(0);

    let u = PersonUpdate {
        last_name: Some("高橋".into()),
        first_name: Some("一郎".into()),
        phone: Some("03-1234-5678".into()),
        email: Some("ichiro.takahashi@example.co.jp".into()),
        description: Some("電話で確認済み".into()),
    };
    // Zoho's stamps are whole seconds: let one pass so the write's stamp is later.
    advance(&sb, 60).await;
    for _ in 0..2 {
        update(&sb, m.session(), object, &id, &u).await.unwrap();
    }
    let after = by_ids(&sb, m.session(), object, std::slice::from_ref(&id))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(after.last_name.as_deref(), Some("高橋"));
    assert_eq!(after.first_name.as_deref(), Some("一郎"));
    assert_eq!(after.full_name.as_deref(), Some("一郎 高橋"));
    assert_eq!(after.phone.as_deref(), Some("03-1234-5678"));
    assert_eq!(
        after.emails,
        vec!["ichiro.takahashi@example.co.jp".to_owned()]
    );
    assert_eq!(after.description.as_deref(), Some("電話で確認済み"));
    assert_eq!(after.company, before.company);
    assert!(after.updated_at > before.updated_at);

    let clear = PersonUpdate {
        description: Some(String::new()),
        ..Default::default()
    };
    update(&sb, m.session(), object, &id, &clear).await.unwrap();
    let cleared = by_ids(&sb, m.session(), object, std::slice::from_ref(&id))
        .await
        .unwrap()
        .remove(0);
    assert_eq!(cleared.description, None);
    assert_eq!(cleared.last_name.as_deref(), Some("高橋"));

    // Per-record refusals inside `data`, classified with the field's api_name.
    let cases = [
        (
            PersonUpdate {
                last_name: Some(String::new()),
                ..Default::default()
            },
            "MANDATORY_NOT_FOUND",
            "Last_Name",
        ),
        (
            PersonUpdate {
                email: Some("not an email".into()),
                ..Default::default()
            },
            "INVALID_DATA",
            "Email",
        ),
    ];
    for (u, want_code, want_field) in cases {
        let e = update(&sb, m.session(), object, &id, &u).await.unwrap_err();
        assert!(
            matches!(&e, ConnectorError::Invalid { code, field: Some(f), .. }
                if code == want_code && f == want_field),
            "{u:?}: {e:?}"
        );
    }
    // Another contact's email: Zoho's unique check names the holder.
    let other = by_ids(&sb, m.session(), object, &contacts[3..])
        .await
        .unwrap()
        .into_iter()
        .find(|p| !p.emails.is_empty())
        .unwrap();
    let e = update(
        &sb,
        m.session(),
        object,
        &id,
        &PersonUpdate {
            email: Some(other.emails[0].clone()),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&e, ConnectorError::Duplicate { existing_id, .. } if *existing_id == other.remote_id),
        "{e:?}"
    );
    // A deleted record.
    delete(&sb, &m, object, &contacts[2]).await;
    let e = update(&sb, m.session(), object, &contacts[2], &u)
        .await
        .unwrap_err();
    assert!(matches!(e, ConnectorError::NotFound { .. }), "{e:?}");
    let e = update(&sb, m.session(), object, "../Leads", &u)
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
    // A few pages are enough here (the client paces Zoho at 10 calls a second).
    let sb = Sandboxed::start().await;
    sb.control(P, "seed", json!({ "count": 600, "seed": 7 }))
        .await;
    let m = sb.mint(P, None).await;
    let object = PersonObject::Contact;
    let (want, cursors) = all_pages(&sb, m.session(), object, &ALL).await;
    assert!(cursors.len() >= 2);
    let want = distinct(&ids(&want));
    let path = list_log_path(&m, object);
    for fault in [
        json!({ "kind": "rate_limit", "retry_after_seconds": 1, "count": 1, "path_prefix": path }),
        json!({ "kind": "server_error", "status": 503, "count": 1, "path_prefix": path }),
    ] {
        // The fault hits the second page; the client waits (Retry-After) or backs off, tries
        // again, and the import goes on.
        let first = page(&sb, m.session(), object, &ALL, None).await.unwrap();
        sb.clear_requests(P).await;
        sb.control(P, "faults", fault.clone()).await;
        let mut got = ids(&first.people);
        let mut cursor = first.next;
        while let Some(c) = cursor {
            let p = page(&sb, m.session(), object, &ALL, Some(&c))
                .await
                .unwrap();
            got.extend(ids(&p.people));
            cursor = p.next;
        }
        assert_eq!(distinct(&got), want, "{fault}");
        let calls = list_calls(&sb, &m, object).await;
        assert_eq!(
            calls.iter().filter(|s| **s != 200).count(),
            1,
            "{fault}: {calls:?}"
        );
        assert_eq!(
            calls.len(),
            want.len().div_ceil(max_page_size(P)),
            "{fault}"
        );
    }
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
async fn cursors_zoho_did_not_write_are_refused() {
    let sb = Sandboxed::start().await;
    let m = sb.mint(P, None).await;
    let deleted = PeopleQuery::DeletedSince { since: Millis(0) };
    let cases: [(&PeopleQuery, &str, &str); 5] = [
        (&ALL, "3", "cursor_invalid"),
        (&ALL, "page:zero", "cursor_invalid"),
        (
            &ALL,
            "/services/data/v62.0/query/01g-2000",
            "cursor_invalid",
        ),
        (&deleted, "token:abc", "cursor_invalid"),
        // Past the 2,000th record page numbers do not reach.
        (&deleted, "page:11", "LIMIT_REACHED"),
    ];
    for (q, cursor, want) in cases {
        let e = page(&sb, m.session(), PersonObject::Lead, q, Some(cursor))
            .await
            .unwrap_err();
        assert!(
            matches!(&e, ConnectorError::Invalid { code, .. } if code == want),
            "{cursor}: {e:?}"
        );
    }
    assert!(sb.requests(P, "/").await.is_empty());
    // A well-formed token Zoho never issued (or no longer honours) is Zoho's to refuse,
    // reported as an expired cursor.
    let e = page(
        &sb,
        m.session(),
        PersonObject::Lead,
        &ALL,
        Some("token:00ff"),
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

/// The mapping of representative records, from literal JSON as the CRM API writes it.
#[test]
fn mapping_of_representative_records() {
    let leads = json!([
        {
            "id": "5725767000000400169", "First_Name": "太郎", "Last_Name": "山田",
            "Full_Name": "太郎 山田", "Company": "株式会社サクラ",
            "Email": "taro.yamada@sakura.example.co.jp", "Secondary_Email": "taro@gmail.com",
            "Phone": "03-1234-5678", "Mobile": "090-1234-5678", "Street": "千代田1-1",
            "City": "千代田区", "State": "東京都", "Zip_Code": "100-0001", "Country": "日本",
            "Designation": "営業部長", "Description": "展示会で名刺交換",
            "Owner": {"name": "Sakura Admin", "id": "5725767000000411001", "email": "admin@sakura.example.jp"},
            "Created_Time": "2024-01-15T18:30:00+09:00", "Modified_Time": "2024-02-01T09:00:05+09:00"
        },
        {
            "id": "5725767000000400170", "First_Name": null, "Last_Name": "Smith",
            "Full_Name": "Smith", "Company": "-", "Email": null, "Secondary_Email": "",
            "Phone": 312345678, "Mobile": null, "Street": null, "City": "  ",
            "State": null, "Zip_Code": null, "Country": null, "Designation": null,
            "Description": null, "Owner": null, "Created_Time": null,
            "Modified_Time": "2024-02-01T09:00:06+09:00"
        }
    ]);
    let contacts = json!([
        {
            "id": "5725767000000500001", "First_Name": "花子", "Last_Name": "佐藤",
            "Full_Name": "花子 佐藤", "Account_Name": {"name": "(株)ミライ", "id": "5725767000000300001"},
            "Email": "Hanako.Sato@mirai.example.jp", "Secondary_Email": "Hanako.Sato@mirai.example.jp",
            "Phone": "＋８１ ３ １２３４ ５６７８", "Mobile": null,
            "Mailing_Street": null, "Mailing_City": "大阪市", "Mailing_State": null,
            "Mailing_Zip": "530-0001", "Mailing_Country": null, "Title": "課長",
            "Department": "購買部", "Description": null,
            "Owner": {"name": "Sakura Admin", "id": "5725767000000411001"},
            "Created_Time": "2024-01-10T09:00:00+09:00", "Modified_Time": "2024-01-20T21:00:00+09:00"
        },
        {
            "id": "5725767000000500002", "First_Name": "Emma", "Last_Name": "Brown",
            "Full_Name": "Emma Brown", "Account_Name": null, "Email": "emma@gmail.com",
            "Phone": "+1 (415) 555-0123", "Mobile": "+1 415 555 0199", "Title": null,
            "Department": "", "Description": "Met at SaaStr",
            "Owner": {"name": "Zylker Admin", "id": "4150868000000225013"},
            "Created_Time": "2024-01-21T04:00:00-08:00", "Modified_Time": "2024-01-21T04:00:00-08:00"
        }
    ]);
    let deleted = json!([
        {"deleted_by": {"name": "Sakura Admin", "id": "5725767000000411001"}, "id": "5725767000000400171",
         "display_name": "山田 次郎", "type": "recycle", "created_by": {"name": "Sakura Admin", "id": "5725767000000411001"},
         "deleted_time": "2024-03-01T17:00:00+09:00"}
    ]);
    let mut out: Vec<RemotePerson> = Vec::new();
    let people = |v: &Value| -> Vec<wire::Person> { serde_json::from_value(v.clone()).unwrap() };
    for p in people(&leads) {
        out.push(mapping::person(PersonObject::Lead, p).unwrap());
    }
    for p in people(&contacts) {
        out.push(mapping::person(PersonObject::Contact, p).unwrap());
    }
    let gone: Vec<wire::DeletedRecord> = serde_json::from_value(deleted).unwrap();
    for d in gone {
        out.push(mapping::deleted_person(PersonObject::Lead, d).unwrap());
    }
    insta::assert_json_snapshot!(out);

    // A record without its id or Modified_Time is a broken answer.
    for broken in [
        json!({"id": "5725767000000400172"}),
        json!({"Modified_Time": "2024-02-01T09:00:06+09:00"}),
        json!({"id": "5725767000000400172", "Modified_Time": "2024-02-01"}),
    ] {
        let p: wire::Person = serde_json::from_value(broken.clone()).unwrap();
        let e = mapping::person(PersonObject::Lead, p).unwrap_err();
        assert!(
            matches!(e, ConnectorError::Protocol { .. }),
            "{broken}: {e:?}"
        );
    }
}

#[tokio::test]
async fn a_page_token_past_its_24_hours_is_an_expired_cursor() {
    let sb = Sandboxed::start().await;
    sb.control(P, "seed", json!({ "count": 600, "seed": 7 }))
        .await;
    let m = sb.mint(P, None).await;
    let first = page(&sb, m.session(), PersonObject::Contact, &ALL, None)
        .await
        .unwrap();
    let cursor = first.next.unwrap();
    assert!(cursor.starts_with("token:"), "{cursor}");
    // A day and an hour later (the access token died meanwhile: a fresh one).
    advance(&sb, 25 * 3600).await;
    let m = sb.mint(P, None).await;
    let e = page(&sb, m.session(), PersonObject::Contact, &ALL, Some(&cursor))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ConnectorError::Invalid { code, .. } if code == "cursor_expired"),
        "{e:?}"
    );
    sb.stop().await;
}
