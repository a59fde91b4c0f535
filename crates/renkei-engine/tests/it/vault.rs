//! The token lifecycle against the emulators: refresh before expiry, one refresh for many
//! callers, refresh on 401, rotation across a crash, needs_reauth, keep-alive, disconnect.

use std::time::Duration;

use renkei_connectors::Provider;
use renkei_engine::Clock as _;
use renkei_engine::health;
use renkei_engine::vault::VaultError;
use serde_json::json;

use crate::sandbox::Harness;

async fn list_users(
    h: &Harness,
    v: &renkei_engine::vault::Vault,
    t: &renkei_engine::vault::Target,
) -> Result<usize, VaultError> {
    v.call(t, |a| async move {
        h.connectors.list_users(a.provider, a.session()).await
    })
    .await
    .map(|u| u.len())
}

fn token_calls(log: &[(String, String, u64)]) -> usize {
    log.iter()
        .filter(|(m, p, _)| m == "POST" && p.starts_with("/oauth/v1/token"))
        .count()
}

#[tokio::test]
async fn an_expired_token_is_refreshed_before_the_call_once_for_twenty_callers() {
    let h = Harness::start().await;
    let t = h.connect_minted(Provider::Hubspot).await;
    assert!(list_users(&h, &h.vault, &t).await.unwrap() >= 3);
    h.clear_requests(Provider::Hubspot).await;

    // Both clocks move past the 30-minute lifetime.
    h.control(Provider::Hubspot, "clock", json!({"advance_seconds": 1900}))
        .await;
    h.clock.advance_ms(1_900_000);
    let calls = (0..20).map(|_| list_users(&h, &h.vault, &t));
    for r in futures_util::future::join_all(calls).await {
        assert!(r.unwrap() >= 3);
    }
    let log = h.requests(Provider::Hubspot, "/").await;
    assert_eq!(
        token_calls(&log),
        1,
        "one refresh for twenty callers: {log:?}"
    );
    assert_eq!(
        log[0].1, "/oauth/v1/token",
        "the refresh comes first: {log:?}"
    );
    assert!(
        log.iter().all(|(_, _, s)| *s < 400),
        "no call was refused: {log:?}"
    );
    h.stop().await;
}

#[tokio::test]
async fn two_processes_refresh_a_connection_once() {
    let h = Harness::start().await;
    let t = h.connect_minted(Provider::Hubspot).await;
    let other = h.other_vault();
    h.control(Provider::Hubspot, "clock", json!({"advance_seconds": 1900}))
        .await;
    h.clock.advance_ms(1_900_000);
    h.clear_requests(Provider::Hubspot).await;
    let a = (0..10).map(|_| list_users(&h, &h.vault, &t));
    let b = (0..10).map(|_| list_users(&h, &other, &t));
    let (ra, rb) = tokio::join!(
        futures_util::future::join_all(a),
        futures_util::future::join_all(b)
    );
    assert!(ra.into_iter().chain(rb).all(|r| r.is_ok()));
    let log = h.requests(Provider::Hubspot, "/").await;
    assert_eq!(token_calls(&log), 1, "{log:?}");
    h.stop().await;
}

#[tokio::test]
async fn a_401_refreshes_once_and_the_call_is_repeated() {
    let h = Harness::start().await;
    let t = h.connect_minted(Provider::Hubspot).await;
    h.clear_requests(Provider::Hubspot).await;
    h.control(
        Provider::Hubspot,
        "faults",
        json!({"kind": "expired_token", "count": 1, "path_prefix": "/crm"}),
    )
    .await;
    assert!(list_users(&h, &h.vault, &t).await.unwrap() >= 3);
    let log = h.requests(Provider::Hubspot, "/").await;
    let statuses: Vec<(&str, u64)> = log.iter().map(|(_, p, s)| (p.as_str(), *s)).collect();
    assert_eq!(
        statuses,
        [
            ("/crm/v3/owners", 401),
            ("/oauth/v1/token", 200),
            ("/crm/v3/owners", 200)
        ]
    );
    h.stop().await;
}

#[tokio::test]
async fn rotated_salesforce_refresh_tokens_survive_a_crash_between_refresh_and_use() {
    let h = Harness::start().await;
    h.control(
        Provider::Salesforce,
        "settings",
        json!({"rotate_refresh_tokens": true}),
    )
    .await;
    let t = h.connect_minted(Provider::Salesforce).await;
    let before = h.vault.access(&t).await.unwrap();
    let old_rt = before.credentials.refresh_token.clone().unwrap();

    // A refresh rotates the refresh token; the process then dies before any call uses it.
    {
        let crashed = h.other_vault();
        let conn = h.db.store.get_connection(t.key()).await.unwrap().unwrap();
        crashed.refresh(conn, true).await.unwrap();
    }
    // A new process finds the rotated token stored, and it works.
    let restarted = h.other_vault();
    let after = restarted.access(&t).await.unwrap();
    let new_rt = after.credentials.refresh_token.clone().unwrap();
    assert_ne!(
        old_rt.expose(),
        new_rt.expose(),
        "the refresh token rotated"
    );
    let conn = h.db.store.get_connection(t.key()).await.unwrap().unwrap();
    let again = restarted.refresh(conn, true).await.unwrap();
    assert_eq!(again.connection.status, "active");
    assert!(list_users(&h, &restarted, &t).await.unwrap() >= 2);
    // The instance URL came through two refreshes that did not repeat it.
    assert!(
        again
            .meta
            .instance_url
            .as_deref()
            .unwrap()
            .contains("/instances/")
    );
    // And the old refresh token is dead at the emulator: rotation really happened.
    let ep = h.connectors.registry.endpoints(Provider::Salesforce);
    let err = h
        .connectors
        .refresh(
            Provider::Salesforce,
            ep.client.as_ref().unwrap(),
            &old_rt,
            &again.meta,
            h.clock.now(),
        )
        .await
        .unwrap_err();
    assert!(err.needs_reauth(), "{err}");
    h.stop().await;
}

#[tokio::test]
async fn a_refused_grant_needs_reauth_until_a_reconnect_which_keeps_settings() {
    let h = Harness::start().await;
    let t = h.connect_minted(Provider::Hubspot).await;
    let id =
        h.db.store
            .get_connection(t.key())
            .await
            .unwrap()
            .unwrap()
            .id;
    h.db.store
        .set_connection_settings(id, r#"{"deal_room":{"room_url_property":"room_url"}}"#)
        .await
        .unwrap();
    h.control(
        Provider::Hubspot,
        "faults",
        json!({"kind": "revoked_token", "count": 1, "path_prefix": "/crm"}),
    )
    .await;
    let err = list_users(&h, &h.vault, &t).await.unwrap_err();
    assert!(err.needs_reauth(), "{err}");
    let conn = h.db.store.get_connection(t.key()).await.unwrap().unwrap();
    assert_eq!(conn.status, "needs_reauth");
    assert!(
        conn.status_reason
            .as_deref()
            .unwrap()
            .contains("BAD_REFRESH_TOKEN"),
        "{:?}",
        conn.status_reason
    );
    let entries = health::tenant_health(&h.vault, &h.tenant, "ja")
        .await
        .unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e.code == "needs_reauth" && e.provider == "hubspot" && e.severity == "error"),
        "{entries:?}"
    );
    // Further calls fail fast without reaching the provider.
    h.clear_requests(Provider::Hubspot).await;
    assert!(
        list_users(&h, &h.vault, &t)
            .await
            .unwrap_err()
            .needs_reauth()
    );
    assert!(h.requests(Provider::Hubspot, "/").await.is_empty());

    // A reconnect (to the same portal) makes it active again, on the same row and settings.
    let again = h.connect_minted(Provider::Hubspot).await;
    let conn =
        h.db.store
            .get_connection(again.key())
            .await
            .unwrap()
            .unwrap();
    assert_eq!((conn.id, conn.status.as_str()), (id, "active"));
    assert!(conn.settings.contains("room_url_property"));
    assert!(list_users(&h, &h.vault, &t).await.is_ok());
    assert!(
        !health::tenant_health(&h.vault, &h.tenant, "ja")
            .await
            .unwrap()
            .iter()
            .any(|e| e.code == "needs_reauth")
    );
    h.stop().await;
}

#[tokio::test]
async fn transient_failures_are_recorded_without_flipping_the_status() {
    let h = Harness::start().await;
    let t = h.connect_minted(Provider::ZohoCrm).await;
    h.control(Provider::ZohoCrm, "clock", json!({"advance_seconds": 3700}))
        .await;
    h.clock.advance_ms(3_700_000);
    h.control(
        Provider::ZohoCrm,
        "faults",
        json!({"kind": "server_error", "fraction": 1.0, "path_prefix": "/jp/accounts"}),
    )
    .await;
    let err = list_users(&h, &h.vault, &t).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    let conn = h.db.store.get_connection(t.key()).await.unwrap().unwrap();
    assert_eq!(conn.status, "active");
    assert_eq!(
        conn.last_error_code.as_deref(),
        Some("provider_unavailable")
    );
    reqwest::Client::new()
        .delete(format!("{}/sandbox/zoho/_control/faults", h.origin))
        .send()
        .await
        .unwrap();
    assert!(list_users(&h, &h.vault, &t).await.unwrap() >= 1);
    let conn = h.db.store.get_connection(t.key()).await.unwrap().unwrap();
    assert_eq!((conn.status.as_str(), conn.failure_count), ("active", 0));
    h.stop().await;
}

#[tokio::test]
async fn keepalive_refreshes_idle_connections_only() {
    let h = Harness::start().await;
    let idle = h.connect_minted(Provider::Salesforce).await;
    let _ = idle;
    h.clock.advance_ms(8 * 24 * 3600 * 1000);
    let busy = h.connect_minted(Provider::Hubspot).await;
    assert!(list_users(&h, &h.vault, &busy).await.is_ok());
    h.clear_requests(Provider::Salesforce).await;
    h.clear_requests(Provider::Hubspot).await;
    let report = h
        .vault
        .keepalive(Duration::from_secs(7 * 24 * 3600), 100)
        .await
        .unwrap();
    assert_eq!(
        (report.refreshed, report.needs_reauth, report.failed),
        (1, 0, 0)
    );
    let sf = h
        .requests(Provider::Salesforce, "/services/oauth2/token")
        .await;
    assert_eq!(sf.len(), 1, "{sf:?}");
    assert!(h.requests(Provider::Hubspot, "/oauth").await.is_empty());
    // Refreshed now, so a second pass has nothing to do.
    let report = h
        .vault
        .keepalive(Duration::from_secs(7 * 24 * 3600), 100)
        .await
        .unwrap();
    assert_eq!(report.refreshed, 0);
    h.stop().await;
}

#[tokio::test]
async fn disconnect_revokes_at_the_provider_and_still_deletes_when_it_fails() {
    let h = Harness::start().await;
    let t = h.connect_minted(Provider::Salesforce).await;
    let d = h.connect.disconnect(&t).await.unwrap().unwrap();
    assert!(d.revoked, "{d:?}");
    let log = h
        .requests(Provider::Salesforce, "/services/oauth2/revoke")
        .await;
    assert_eq!(log.len(), 1, "{log:?}");
    assert!(h.db.store.get_connection(t.key()).await.unwrap().is_none());

    let t = h.connect_minted(Provider::Salesforce).await;
    h.control(
        Provider::Salesforce,
        "faults",
        json!({"kind": "server_error", "fraction": 1.0, "path_prefix": "/services/oauth2/revoke"}),
    )
    .await;
    let d = h.connect.disconnect(&t).await.unwrap().unwrap();
    assert!(!d.revoked);
    assert!(d.revoke_error.unwrap().contains("503"));
    assert!(h.db.store.get_connection(t.key()).await.unwrap().is_none());
    h.stop().await;
}
