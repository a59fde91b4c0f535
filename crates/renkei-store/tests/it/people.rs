//! People pages: inserts, unchanged re-fetches, the identity choice, removals, the change feed
//! and lookups by normalised keys.

use renkei_core::{Millis, TenantId};
use renkei_store::people::{PageItem, PageOutcome, PeopleFilter, PersonUpsert};
use renkei_store::testing::TestDb;

async fn setup() -> (TestDb, TenantId) {
    let db = TestDb::new().await;
    let tenant = TenantId::parse("acme").unwrap();
    db.store
        .put_tenant(&tenant, "Acme", "JP", "ja", "Asia/Tokyo", Millis(1))
        .await
        .unwrap();
    (db, tenant)
}

fn person(object: &str, id: &str, phone: Option<&str>, created: i64, hash: &str) -> PersonUpsert {
    PersonUpsert {
        object: object.into(),
        remote_id: id.into(),
        display_name: Some(format!("person {id}")),
        last_name: Some(format!("person {id}")),
        first_name: None,
        company: Some("株式会社テスト".into()),
        emails: vec![format!("{id}@example.com")],
        phones: "[]".into(),
        address: None,
        department: None,
        title: None,
        description: None,
        owner_id: None,
        remote_created_at: Some(Millis(created)),
        remote_updated_at: Millis(created),
        phone_key: phone.map(str::to_owned),
        phone2_key: None,
        email_key: Some(format!("{id}@example.com")),
        company_key: Some("テスト".into()),
        name_key: None,
        identity_key: phone.map(str::to_owned),
        content_hash: hash.into(),
    }
}

async fn apply(
    db: &TestDb,
    t: &TenantId,
    items: Vec<PageItem>,
    now: i64,
) -> renkei_store::people::PageOutcome {
    let mut tx = db.store.begin().await.unwrap();
    let out = db
        .store
        .apply_people(&mut tx, t, "salesforce", &items, Millis(now))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    out
}

async fn feed(db: &TestDb, t: &TenantId) -> Vec<(String, String)> {
    db.store
        .list_changes(t, 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.kind, c.person.unwrap().remote_id))
        .collect()
}

#[tokio::test]
async fn identity_choice_and_change_feed() {
    let (db, t) = setup().await;
    // Two leads share a phone; the earlier-created one is chosen. A third has no phone key.
    let out = apply(
        &db,
        &t,
        vec![
            PageItem::Upsert(Box::new(person(
                "lead",
                "L2",
                Some("+81312345678"),
                20,
                "a",
            ))),
            PageItem::Upsert(Box::new(person(
                "lead",
                "L1",
                Some("+81312345678"),
                10,
                "a",
            ))),
            PageItem::Upsert(Box::new(person("lead", "L3", None, 30, "a"))),
        ],
        100,
    )
    .await;
    assert_eq!((out.inserted, out.changes), (3, 2));
    let f = feed(&db, &t).await;
    assert_eq!(
        f,
        vec![
            ("created".into(), "L1".into()),
            ("created".into(), "L3".into())
        ]
    );

    // The same page again: nothing changes, nothing is written to the feed.
    let out = apply(
        &db,
        &t,
        vec![
            PageItem::Upsert(Box::new(person(
                "lead",
                "L1",
                Some("+81312345678"),
                10,
                "a",
            ))),
            PageItem::Upsert(Box::new(person(
                "lead",
                "L2",
                Some("+81312345678"),
                20,
                "a",
            ))),
        ],
        200,
    )
    .await;
    assert_eq!((out.unchanged, out.changes), (2, 0));

    // A contact with the same phone wins over both leads, even though it is the newest.
    apply(
        &db,
        &t,
        vec![PageItem::Upsert(Box::new(person(
            "contact",
            "C9",
            Some("+81312345678"),
            90,
            "a",
        )))],
        300,
    )
    .await;
    let f = feed(&db, &t).await;
    // Within a page, entries come in person-id order.
    assert_eq!(
        &f[2..],
        &[
            ("deleted".into(), "L1".into()),
            ("created".into(), "C9".into())
        ]
    );

    // Every row of the key now points at the contact: the lead that was chosen and the lead
    // that pointed at it. A later lead joins as a duplicate of the contact.
    apply(
        &db,
        &t,
        vec![PageItem::Upsert(Box::new(person(
            "lead",
            "L4",
            Some("+81312345678"),
            95,
            "a",
        )))],
        350,
    )
    .await;
    let hidden = PeopleFilter {
        phone_keys: vec!["+81312345678".into()],
        include_hidden: true,
        ..Default::default()
    };
    let rows = db.store.find_people(&t, &hidden, 0, 10).await.unwrap();
    let c9 = rows.iter().find(|p| p.remote_id == "C9").unwrap();
    assert!(c9.chosen && c9.duplicate_of.is_none());
    let mut dups: Vec<(&str, bool, Option<i64>)> = rows
        .iter()
        .filter(|p| p.remote_id != "C9")
        .map(|p| (p.remote_id.as_str(), p.chosen, p.duplicate_of))
        .collect();
    dups.sort();
    assert_eq!(
        dups,
        [
            ("L1", false, Some(c9.id)),
            ("L2", false, Some(c9.id)),
            ("L4", false, Some(c9.id))
        ]
    );
    assert_eq!(
        feed(&db, &t).await.len(),
        4,
        "a shadowed lead is not in the feed"
    );

    // An edit of the shadowed lead is invisible to the host app; of the chosen one, an update.
    let out = apply(
        &db,
        &t,
        vec![
            PageItem::Upsert(Box::new(person(
                "lead",
                "L1",
                Some("+81312345678"),
                10,
                "b",
            ))),
            PageItem::Upsert(Box::new(person(
                "contact",
                "C9",
                Some("+81312345678"),
                90,
                "b",
            ))),
        ],
        400,
    )
    .await;
    assert_eq!((out.updated, out.changes), (2, 1));
    assert_eq!(
        feed(&db, &t).await.last().unwrap(),
        &("updated".to_owned(), "C9".to_owned())
    );

    // Deleting the contact brings the earliest lead back.
    apply(
        &db,
        &t,
        vec![PageItem::Remove {
            object: "contact".into(),
            remote_id: "C9".into(),
            at: Millis(450),
        }],
        500,
    )
    .await;
    let f = feed(&db, &t).await;
    assert_eq!(
        &f[f.len() - 2..],
        &[
            ("created".into(), "L1".into()),
            ("deleted".into(), "C9".into())
        ]
    );
    let seqs: Vec<i64> = db
        .store
        .list_changes(&t, 0, 100)
        .await
        .unwrap()
        .iter()
        .map(|c| c.seq)
        .collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    // Paging the feed with a cursor gives the same items.
    let tail = db.store.list_changes(&t, 3, 100).await.unwrap();
    assert_eq!(tail.first().unwrap().seq, 4);

    // Lookups by key see only visible people, unless asked.
    let by_phone = db
        .store
        .find_people(
            &t,
            &PeopleFilter {
                phone_keys: vec!["+81312345678".into()],
                ..Default::default()
            },
            0,
            10,
        )
        .await
        .unwrap();
    assert_eq!(
        by_phone
            .iter()
            .map(|p| p.remote_id.as_str())
            .collect::<Vec<_>>(),
        ["L1"]
    );
    let all = db
        .store
        .find_people(
            &t,
            &PeopleFilter {
                phone_keys: vec!["+81312345678".into()],
                include_hidden: true,
                ..Default::default()
            },
            0,
            10,
        )
        .await
        .unwrap();
    assert_eq!(all.len(), 4);
    let l2 = all.iter().find(|p| p.remote_id == "L2").unwrap();
    let l1 = all.iter().find(|p| p.remote_id == "L1").unwrap();
    assert_eq!(l2.duplicate_of, Some(l1.id));
    let by_q = db
        .store
        .find_people(
            &t,
            &PeopleFilter {
                q: Some("PERSON l3".into()),
                ..Default::default()
            },
            0,
            10,
        )
        .await
        .unwrap();
    assert_eq!(by_q.len(), 1);
    assert_eq!(
        db.store.count_people(&t, "salesforce").await.unwrap(),
        (2, 4, 1)
    );
    db.cleanup().await;
}

#[tokio::test]
async fn large_pages_are_inserted_in_chunks() {
    let (db, t) = setup().await;
    let items: Vec<PageItem> = (0..1_234)
        .map(|i| {
            PageItem::Upsert(Box::new(person(
                "contact",
                &format!("C{i:05}"),
                None,
                i,
                "h",
            )))
        })
        .collect();
    let out = apply(&db, &t, items, 10).await;
    assert_eq!((out.inserted, out.changes), (1_234, 1_234));
    assert_eq!(
        db.store.list_changes(&t, 1_200, 1_000).await.unwrap().len(),
        34
    );
    db.cleanup().await;
}

/// Merges the pages staged by Salesforce run `run` of tenant `t` in a transaction of its own.
async fn merge_staged(db: &TestDb, t: &TenantId, run: i64, now: Millis) -> PageOutcome {
    let mut tx = db.store.begin().await.unwrap();
    let out = db
        .store
        .merge_staged_pages(&mut tx, t, "salesforce", run, now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    out
}

/// A run's staged pages: read back as one group in page order, merged as one page in which a
/// record named twice keeps its last version, and gone once merged. A staged version older than
/// the stored one (a webhook's sync overtook it) does not overwrite it.
#[tokio::test]
async fn staged_pages_merge_as_one_page_keeping_the_newest() {
    use renkei_store::people::PageGroup;
    use renkei_store::sync::{Created, NewSyncRun, stage_json};

    let (db, t) = setup().await;
    let conn = crate::deliveries::connection(&db.store, t.as_str(), "salesforce").await;
    let mut tx = db.store.begin().await.unwrap();
    let run = NewSyncRun {
        tenant: &t,
        connection_id: conn,
        provider: "salesforce",
        kind: "initial",
        started_by: "api",
        plan: "[]",
        progress: "{}",
    };
    let Created::New(run) = db
        .store
        .create_sync_run(&mut tx, &run, Millis(1))
        .await
        .unwrap()
    else {
        panic!("a second run")
    };
    tx.commit().await.unwrap();

    // "c" is stored already, in a version newer than the one the pages bring.
    let mut newer = person("lead", "c", None, 50, "c-new");
    newer.remote_updated_at = Millis(500);
    apply(&db, &t, vec![PageItem::Upsert(Box::new(newer))], 10).await;

    let up = |id: &str, updated: i64, hash: &str| {
        let mut p = person("lead", id, None, 100, hash);
        p.remote_updated_at = Millis(updated);
        PageItem::Upsert(Box::new(p))
    };
    let pages = [
        vec![
            up("a", 100, "a-1"),
            up("b", 100, "b-1"),
            up("c", 100, "c-old"),
        ],
        vec![up("a", 200, "a-2")],
        vec![PageItem::Remove {
            object: "lead".into(),
            remote_id: "b".into(),
            at: Millis(300),
        }],
    ];
    let json: Vec<String> = pages.iter().map(|p| stage_json(p).unwrap()).collect();
    let mut tx = db.store.begin().await.unwrap();
    db.store
        .stage_sync_pages(&mut tx, run, 0, &json[..2])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = db.store.begin().await.unwrap();
    db.store
        .stage_sync_pages(&mut tx, run, 2, &json[2..])
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let (group, next) = db.store.staged_sync_pages(run).await.unwrap();
    assert_eq!(next, 3);
    assert_eq!(group.pages(), &pages[..]);
    assert_eq!(group.items(), 5);

    let out = merge_staged(&db, &t, run, Millis(20)).await;
    // "a" once, in its second version; "b", deleted by the last page, never stored; the
    // stored "c" kept.
    assert_eq!(
        (out.inserted, out.unchanged, out.removed),
        (1, 1, 0),
        "{out:?}"
    );
    let all = db
        .store
        .find_people(
            &t,
            &PeopleFilter {
                include_hidden: true,
                ..Default::default()
            },
            0,
            100,
        )
        .await
        .unwrap();
    let state: Vec<(&str, i64, bool)> = all
        .iter()
        .map(|p| (p.remote_id.as_str(), p.remote_updated_at.0, p.deleted))
        .collect();
    assert_eq!(state, [("c", 500, false), ("a", 200, false)]);
    assert_eq!(
        feed(&db, &t).await,
        [
            ("created".to_owned(), "c".to_owned()),
            ("created".into(), "a".into())
        ]
    );

    // Merged pages are gone; merging again does nothing.
    let (group, next) = db.store.staged_sync_pages(run).await.unwrap();
    assert_eq!((group.items(), next), (0, 0));
    let out = merge_staged(&db, &t, run, Millis(30)).await;
    assert_eq!(out, Default::default());

    let mut g = PageGroup::default();
    g.push(pages[0].clone());
    assert_eq!(g.take(), pages[0]);
    assert_eq!(g.items(), 0);
    db.cleanup().await;
}
