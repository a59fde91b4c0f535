//! Tenants, members, API keys and sealed credentials.

use renkei_core::api_key::NewApiKey;
use renkei_core::{EmailAddress, Keyring, MemberId, Millis, Secret, TenantId};
use renkei_store::connections::{ConnectionKey, NewGrant};
use renkei_store::testing::TestDb;

fn t(s: &str) -> TenantId {
    TenantId::parse(s).unwrap()
}

#[tokio::test]
async fn tenants_and_members_round_trip_and_stay_apart() {
    let db = TestDb::new().await;
    let s = &db.store;
    let (acme, created) = s
        .put_tenant(&t("acme"), "Acme", "JP", "ja", "Asia/Tokyo", Millis(1000))
        .await
        .unwrap();
    assert!(created);
    assert_eq!(acme.display_name, "Acme");
    let (acme2, created) = s
        .put_tenant(
            &t("acme"),
            "Acme KK",
            "JP",
            "en",
            "Asia/Tokyo",
            Millis(2000),
        )
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(
        (acme2.locale.as_str(), acme2.created_at, acme2.updated_at),
        ("en", Millis(1000), Millis(2000))
    );
    s.put_tenant(
        &t("other"),
        "Other",
        "US",
        "en",
        "America/New_York",
        Millis(1000),
    )
    .await
    .unwrap();

    let m = MemberId::parse("m1").unwrap();
    let email = EmailAddress::parse("Taro@Example.jp").unwrap();
    let (member, created) = s
        .put_member(&t("acme"), &m, &email, "山田 太郎", Millis(3000))
        .await
        .unwrap();
    assert!(created);
    assert_eq!(member.email.as_str(), "taro@example.jp");
    assert!(
        s.get_member(&t("other"), &m).await.unwrap().is_none(),
        "members are per tenant"
    );
    for i in 2..=5 {
        let id = MemberId::parse(&format!("m{i}")).unwrap();
        s.put_member(&t("acme"), &id, &email, "x", Millis(3000))
            .await
            .unwrap();
    }
    let page1 = s.list_members(&t("acme"), None, 2).await.unwrap();
    let page2 = s
        .list_members(&t("acme"), Some(page1[1].id.as_str()), 10)
        .await
        .unwrap();
    let ids: Vec<_> = page1
        .iter()
        .chain(&page2)
        .map(|m| m.id.as_str().to_owned())
        .collect();
    assert_eq!(ids, ["m1", "m2", "m3", "m4", "m5"]);
    assert!(
        s.list_members(&t("other"), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(s.delete_member(&t("acme"), &m).await.unwrap());
    assert!(!s.delete_member(&t("acme"), &m).await.unwrap());
    db.cleanup().await;
}

#[tokio::test]
async fn api_keys_authenticate_until_revoked() {
    let db = TestDb::new().await;
    let s = &db.store;
    let key = NewApiKey::generate().unwrap();
    s.create_api_key(&key.id, "ci", &key.hash, None, Millis(1))
        .await
        .unwrap();
    let found = s.authenticate_api_key(&key.hash).await.unwrap().unwrap();
    assert_eq!((found.id.as_str(), found.tenant), (key.id.as_str(), None));
    assert!(s.authenticate_api_key("00").await.unwrap().is_none());
    assert!(s.revoke_api_key(&key.id, Millis(2)).await.unwrap());
    assert!(!s.revoke_api_key(&key.id, Millis(3)).await.unwrap());
    assert!(s.authenticate_api_key(&key.hash).await.unwrap().is_none());
    assert_eq!(
        s.list_api_keys().await.unwrap()[0].revoked_at,
        Some(Millis(2))
    );
    db.cleanup().await;
}

/// The issue's proof: a stored credential's plaintext appears nowhere in the SQLite files.
#[tokio::test]
async fn stored_credentials_are_encrypted_at_rest() {
    let db = TestDb::new().await;
    let s = &db.store;
    let ring = Keyring::parse(&Keyring::generate_key().unwrap()).unwrap();
    s.put_tenant(&t("acme"), "Acme", "JP", "ja", "Asia/Tokyo", Millis(1))
        .await
        .unwrap();
    let plaintext = br#"{"refresh_token":"5Aep861TSESvWeWUMrAsJWvzP2F2tQ0xcsWqLrEFQS7ln","access_token":"00Dxx0000001gPL!AR8AQJXg5oj8jXSgxJfA0lBog.39AsX"}"#;
    let secret = Secret::new(plaintext.to_vec());
    let tenant = t("acme");
    let key = ConnectionKey {
        tenant: &tenant,
        provider: "salesforce",
        member: None,
    };
    let stored = s
        .put_grant(
            &ring,
            &NewGrant {
                key,
                account_id: "00Dxx0000001gPL",
                account_name: "Acme",
                identity: "{}",
                meta: "{}",
                scopes: "api",
                credentials: &secret,
                token_expires_at: None,
                connected_by: None,
                now: Millis(2),
            },
        )
        .await
        .unwrap();
    let back = s.get_connection(key).await.unwrap().unwrap();
    assert_eq!(back.id, stored.id);
    assert_eq!(
        back.open(&ring).unwrap().expose().as_slice(),
        &plaintext[..]
    );
    assert_eq!(back.key_id, ring.primary_key_id());
    assert!(!format!("{back:?}").contains("5Aep861"));

    // The wrong tenant's row can never be opened with this tenant's AAD, and a different key
    // reports which key is missing.
    let other = t("other");
    assert!(
        s.get_connection(ConnectionKey {
            tenant: &other,
            ..key
        })
        .await
        .unwrap()
        .is_none()
    );
    let other_ring = Keyring::parse(&Keyring::generate_key().unwrap()).unwrap();
    let err = back.open(&other_ring).unwrap_err();
    assert!(err.to_string().contains("not in the keyring"), "{err}");

    if let Some(path) = db.sqlite_path() {
        s.checkpoint().await.unwrap();
        let mut scanned = 0;
        for suffix in ["", "-wal", "-shm"] {
            let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
            if let Ok(bytes) = std::fs::read(&file) {
                scanned += bytes.len();
                for needle in [
                    &b"5Aep861TSESvWeWUMrAsJWvzP2F2tQ0xcsWqLrEFQS7ln"[..],
                    b"refresh_token",
                    b"00Dxx0000001gPL!AR8",
                ] {
                    assert!(
                        !bytes.windows(needle.len()).any(|w| w == needle),
                        "plaintext found in {}",
                        file.display()
                    );
                }
                // The account id is not a secret and is stored in clear: proves the scan sees the data.
                if suffix.is_empty() {
                    assert!(
                        bytes.windows(15).any(|w| w == b"00Dxx0000001gPL"),
                        "scan did not see the row"
                    );
                }
            }
        }
        assert!(scanned > 0);
    }
    db.cleanup().await;
}
