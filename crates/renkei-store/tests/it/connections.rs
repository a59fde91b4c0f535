//! Connections: reconnects, refresh races, leases, one-time states, mappings.

use renkei_core::{EmailAddress, Keyring, MemberId, Millis, Secret, TenantId};
use renkei_store::Store;
use renkei_store::connections::{
    ConnectSession, ConnectionKey, NewGrant, OAuthState, Refreshed, StateLookup,
};
use renkei_store::testing::TestDb;

/// A fresh database with tenant `acme`, and a keyring.
async fn setup() -> (TestDb, Keyring, TenantId) {
    let db = TestDb::new().await;
    let ring = Keyring::parse(&Keyring::generate_key().unwrap()).unwrap();
    let tenant = TenantId::parse("acme").unwrap();
    db.store
        .put_tenant(&tenant, "Acme", "JP", "ja", "Asia/Tokyo", Millis(1))
        .await
        .unwrap();
    (db, ring, tenant)
}

async fn grant(s: &Store, ring: &Keyring, key: ConnectionKey<'_>, token: &str, now: i64) -> i64 {
    s.put_grant(
        ring,
        &NewGrant {
            key,
            account_id: "portal-1",
            account_name: "Portal",
            identity: r#"{"account_id":"portal-1"}"#,
            meta: r#"{"account_id":"portal-1"}"#,
            scopes: "oauth",
            credentials: &Secret::new(token.as_bytes().to_vec()),
            token_expires_at: Some(Millis(now + 1_800_000)),
            connected_by: Some("m1"),
            now: Millis(now),
        },
    )
    .await
    .unwrap()
    .id
}

#[tokio::test]
async fn reconnect_keeps_the_row_and_refresh_is_compare_and_swap() {
    let (db, ring, tenant) = setup().await;
    let s = &db.store;
    let key = ConnectionKey {
        tenant: &tenant,
        provider: "hubspot",
        member: None,
    };
    let id = grant(s, &ring, key, "t1", 10).await;
    s.mark_needs_reauth(id, "needs_reauth", "BAD_REFRESH_TOKEN", Millis(20))
        .await
        .unwrap();
    let c = s.get_connection(key).await.unwrap().unwrap();
    assert_eq!(
        (c.status.as_str(), c.status_reason.as_deref()),
        ("needs_reauth", Some("BAD_REFRESH_TOKEN"))
    );
    // A reconnect reuses the row (same id, a new version) and clears the error state.
    assert_eq!(grant(s, &ring, key, "t2", 30).await, id);
    let c = s.get_connection(key).await.unwrap().unwrap();
    assert_eq!(
        (c.status.as_str(), c.version, c.failure_count),
        ("active", 2, 0)
    );
    assert_eq!(c.open(&ring).unwrap().expose(), b"t2");

    // Two refreshers read version 2; only the first write lands.
    let refreshed = |tok: &'static str| Refreshed {
        credentials: Box::leak(Box::new(Secret::new(tok.as_bytes().to_vec()))),
        meta: r#"{"account_id":"portal-1"}"#,
        scopes: None,
        token_expires_at: Some(Millis(99)),
        now: Millis(40),
    };
    let won = s.save_refreshed(&ring, &c, &refreshed("t3")).await.unwrap();
    assert_eq!(won.as_ref().map(|w| w.version), Some(3));
    assert!(
        s.save_refreshed(&ring, &c, &refreshed("t4"))
            .await
            .unwrap()
            .is_none()
    );
    let now = s.get_connection_fresh(id).await.unwrap().unwrap();
    assert_eq!(now.open(&ring).unwrap().expose(), b"t3");
    assert_eq!(
        now.scopes, "oauth",
        "scopes kept when the refresh names none"
    );
    db.cleanup().await;
}

#[tokio::test]
async fn the_refresh_lease_admits_one_owner_until_it_expires() {
    let (db, ring, tenant) = setup().await;
    let s = &db.store;
    let key = ConnectionKey {
        tenant: &tenant,
        provider: "salesforce",
        member: None,
    };
    let id = grant(s, &ring, key, "t1", 10).await;
    assert!(
        s.try_lock_refresh(id, 1, "a", Millis(1000), Millis(100))
            .await
            .unwrap()
    );
    assert!(
        !s.try_lock_refresh(id, 1, "b", Millis(1000), Millis(200))
            .await
            .unwrap()
    );
    assert!(
        s.try_lock_refresh(id, 1, "a", Millis(1100), Millis(200))
            .await
            .unwrap(),
        "re-entrant"
    );
    assert!(
        s.try_lock_refresh(id, 1, "b", Millis(2000), Millis(1200))
            .await
            .unwrap(),
        "expired"
    );
    s.unlock_refresh(id, "a").await.unwrap();
    assert!(
        !s.try_lock_refresh(id, 1, "c", Millis(3000), Millis(1300))
            .await
            .unwrap(),
        "only the owner unlocks"
    );
    s.unlock_refresh(id, "b").await.unwrap();
    assert!(
        s.try_lock_refresh(id, 1, "c", Millis(3000), Millis(1300))
            .await
            .unwrap()
    );
    db.cleanup().await;
}

#[tokio::test]
async fn oauth_states_are_single_use_and_expire() {
    let (db, ring, tenant) = setup().await;
    let s = &db.store;
    let session = ConnectSession {
        id: "h1".into(),
        tenant_id: tenant.clone(),
        member_id: None,
        provider: "zoho_crm".into(),
        return_url: Some("https://app.example/done".into()),
        created_by: None,
        created_at: Millis(1),
        expires_at: Millis(1000),
        completed_at: None,
    };
    s.create_connect_session(&session).await.unwrap();
    assert_eq!(
        s.get_connect_session("h1")
            .await
            .unwrap()
            .unwrap()
            .return_url,
        session.return_url
    );
    let state = |id: &str, expires: i64| OAuthState {
        id: id.into(),
        session_id: "h1".into(),
        tenant_id: tenant.clone(),
        member_id: None,
        provider: "zoho_crm".into(),
        switch_account: true,
        data_centre: Some("jp".into()),
        created_at: Millis(1),
        expires_at: Millis(expires),
    };
    let secrets = Secret::new(b"verifier".to_vec());
    s.insert_oauth_state(&ring, &state("n1", 500), &secrets)
        .await
        .unwrap();
    s.insert_oauth_state(&ring, &state("n2", 500), &secrets)
        .await
        .unwrap();
    match s
        .consume_oauth_state(&ring, "n1", Millis(100))
        .await
        .unwrap()
    {
        StateLookup::Valid(st, sec) => {
            assert!(st.switch_account);
            assert_eq!(st.data_centre.as_deref(), Some("jp"));
            assert_eq!(sec.expose(), b"verifier");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        s.consume_oauth_state(&ring, "n1", Millis(101))
            .await
            .unwrap(),
        StateLookup::AlreadyUsed
    ));
    assert!(matches!(
        s.consume_oauth_state(&ring, "nope", Millis(101))
            .await
            .unwrap(),
        StateLookup::Unknown
    ));
    assert!(matches!(
        s.consume_oauth_state(&ring, "n2", Millis(600))
            .await
            .unwrap(),
        StateLookup::Expired
    ));
    s.complete_connect_session("h1", Millis(5)).await.unwrap();
    assert_eq!(
        s.get_connect_session("h1")
            .await
            .unwrap()
            .unwrap()
            .completed_at,
        Some(Millis(5))
    );
    assert_eq!(s.prune_connect_records(Millis(2000)).await.unwrap(), 3);
    db.cleanup().await;
}

#[tokio::test]
async fn user_mappings_and_idle_connections() {
    let (db, ring, tenant) = setup().await;
    let s = &db.store;
    let m1 = MemberId::parse("m1").unwrap();
    s.put_member(
        &tenant,
        &m1,
        &EmailAddress::parse("a@example.com").unwrap(),
        "A",
        Millis(1),
    )
    .await
    .unwrap();
    s.set_user_mapping(&tenant, &m1, "hubspot", Some("42"), Millis(2))
        .await
        .unwrap();
    s.set_user_mapping(&tenant, &m1, "hubspot", Some("43"), Millis(3))
        .await
        .unwrap();
    assert_eq!(
        s.list_user_mappings(&tenant).await.unwrap(),
        vec![(m1.clone(), "hubspot".to_owned(), "43".to_owned())]
    );
    s.set_user_mapping(&tenant, &m1, "hubspot", None, Millis(4))
        .await
        .unwrap();
    assert!(s.list_user_mappings(&tenant).await.unwrap().is_empty());

    let k1 = ConnectionKey {
        tenant: &tenant,
        provider: "hubspot",
        member: None,
    };
    let k2 = ConnectionKey {
        tenant: &tenant,
        provider: "hubspot",
        member: Some(&m1),
    };
    let a = grant(s, &ring, k1, "a", 100).await;
    let b = grant(s, &ring, k2, "b", 100).await;
    s.touch_connection(b, Millis(5000)).await.unwrap();
    let tenant_ref = &tenant;
    let used = |id| async move {
        s.list_connections(tenant_ref)
            .await
            .unwrap()
            .into_iter()
            .find(|c| c.id == id)
            .unwrap()
            .last_used_at
    };
    s.touch_connection(b, Millis(30_000)).await.unwrap();
    assert_eq!(
        used(b).await,
        Some(Millis(5000)),
        "at most one write a minute"
    );
    s.touch_connection(b, Millis(70_000)).await.unwrap();
    assert_eq!(used(b).await, Some(Millis(70_000)));
    let idle: Vec<i64> = s
        .idle_connections(Millis(1000), 10)
        .await
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(idle, vec![a], "the used connection is not idle");
    assert_eq!(s.list_connections(&tenant).await.unwrap().len(), 2);
    assert!(s.delete_connection(a).await.unwrap());
    assert!(!s.delete_connection(a).await.unwrap());
    db.cleanup().await;
}

/// The schema cache keeps one answer per connection and key, replaces it, and goes with its
/// connection.
#[tokio::test]
async fn the_schema_cache_is_per_connection_and_goes_with_it() {
    let (db, ring, tenant) = setup().await;
    let s = &db.store;
    let hs = grant(
        s,
        &ring,
        ConnectionKey {
            tenant: &tenant,
            provider: "hubspot",
            member: None,
        },
        "t1",
        1_000,
    )
    .await;
    let sf = grant(
        s,
        &ring,
        ConnectionKey {
            tenant: &tenant,
            provider: "salesforce",
            member: None,
        },
        "t2",
        1_000,
    )
    .await;
    assert_eq!(s.get_schema_cache(hs, "objects").await.unwrap(), None);
    s.put_schema_cache(hs, "objects", "[1]", Millis(10))
        .await
        .unwrap();
    s.put_schema_cache(hs, "fields:deals", "[2]", Millis(11))
        .await
        .unwrap();
    s.put_schema_cache(sf, "objects", "[3]", Millis(12))
        .await
        .unwrap();
    s.put_schema_cache(hs, "objects", "[4]", Millis(20))
        .await
        .unwrap();
    let got = s.get_schema_cache(hs, "objects").await.unwrap().unwrap();
    assert_eq!((got.body.as_str(), got.fetched_at), ("[4]", Millis(20)));
    let got = s.get_schema_cache(sf, "objects").await.unwrap().unwrap();
    assert_eq!(got.body, "[3]");
    assert!(s.delete_connection(hs).await.unwrap());
    assert_eq!(s.get_schema_cache(hs, "fields:deals").await.unwrap(), None);
    assert!(s.get_schema_cache(sf, "objects").await.unwrap().is_some());
    db.cleanup().await;
}
