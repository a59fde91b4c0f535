//! A sandbox on port 0, a fresh database, and a vault on a manual clock: the harness of the
//! token-lifecycle tests.

use std::sync::Arc;
use std::time::Duration;

use renkei_connectors::{Connectors, Provider, ProvidersConfig};
use renkei_core::{Keyring, Millis, TenantId};
use renkei_engine::ManualClock;
use renkei_engine::connect::{ConnectConfig, ConnectService, ImportTokens};
use renkei_engine::vault::{Target, Vault, VaultOptions};
use renkei_store::testing::TestDb;
use serde_json::{Value, json};

pub struct Harness {
    pub origin: String,
    pub http: reqwest::Client,
    pub db: TestDb,
    pub keyring: Arc<Keyring>,
    pub connectors: Arc<Connectors>,
    pub clock: ManualClock,
    pub vault: Arc<Vault>,
    pub connect: ConnectService,
    pub tenant: TenantId,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

/// The emulator's name in `/sandbox/{name}`.
pub fn emulator(p: Provider) -> &'static str {
    match p {
        Provider::Hubspot => "hubspot",
        Provider::Salesforce => "salesforce",
        Provider::ZohoCrm => "zoho",
    }
}

impl Harness {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let sandbox = renkei_sandbox::Sandbox::new(Default::default());
        let mut providers = ProvidersConfig::default();
        renkei_connectors::sandbox_directory::apply(&sandbox.directory(&origin), &mut providers);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(renkei_sandbox::serve(listener, sandbox, async move {
            let _ = stopped.await;
        }));
        let db = TestDb::new().await;
        let keyring = Arc::new(Keyring::parse(&Keyring::generate_key().unwrap()).unwrap());
        let connectors = Arc::new(Connectors::new(&providers, Default::default()).unwrap());
        let clock = ManualClock::at(Millis::now().0);
        let vault = Arc::new(Vault::new(
            db.store.clone(),
            keyring.clone(),
            connectors.clone(),
            Arc::new(clock.clone()),
            VaultOptions {
                refresh_lease: Duration::from_secs(30),
                poll: Duration::from_millis(20),
            },
        ));
        let connect = ConnectService::new(
            vault.clone(),
            ConnectConfig {
                public_url: url::Url::parse("http://renkei.test").unwrap(),
                session_ttl: Duration::from_secs(1800),
                state_ttl: Duration::from_secs(900),
            },
        );
        let tenant = TenantId::parse("acme").unwrap();
        db.store
            .put_tenant(&tenant, "Acme", "JP", "ja", "Asia/Tokyo", Millis(1))
            .await
            .unwrap();
        Self {
            origin,
            http: reqwest::Client::new(),
            db,
            keyring,
            connectors,
            clock,
            vault,
            connect,
            tenant,
            stop: Some(stop),
        }
    }

    /// A second vault on the same database, as another process would have.
    pub fn other_vault(&self) -> Vault {
        Vault::new(
            self.db.store.clone(),
            self.keyring.clone(),
            self.connectors.clone(),
            Arc::new(self.clock.clone()),
            VaultOptions {
                refresh_lease: Duration::from_secs(30),
                poll: Duration::from_millis(20),
            },
        )
    }

    pub async fn control(&self, p: Provider, what: &str, body: Value) -> Value {
        let resp = self
            .http
            .post(format!(
                "{}/sandbox/{}/_control/{what}",
                self.origin,
                emulator(p)
            ))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert!(status.is_success(), "{what}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// The emulator's request log below `prefix`, as (method, path, status).
    pub async fn requests(&self, p: Provider, prefix: &str) -> Vec<(String, String, u64)> {
        let v: Value = self
            .http
            .get(format!(
                "{}/sandbox/{}/_control/requests?path_prefix={prefix}",
                self.origin,
                emulator(p)
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["method"].as_str().unwrap().to_owned(),
                    r["path"].as_str().unwrap().to_owned(),
                    r["status"].as_u64().unwrap(),
                )
            })
            .collect()
    }

    pub async fn clear_requests(&self, p: Provider) {
        self.http
            .delete(format!(
                "{}/sandbox/{}/_control/requests",
                self.origin,
                emulator(p)
            ))
            .send()
            .await
            .unwrap();
    }

    /// Connects the tenant with tokens minted by the emulator (the connect flow itself is
    /// tested through the HTTP API).
    pub async fn connect_minted(&self, p: Provider) -> Target {
        let t = self.control(p, "tokens", json!({})).await;
        let tokens = ImportTokens {
            access_token: serde_json::from_value(t["access_token"].clone()).unwrap(),
            refresh_token: serde_json::from_value(t["refresh_token"].clone()).unwrap(),
            expires_in: t["expires_in"].as_i64(),
            instance_url: t["instance_url"].as_str().map(str::to_owned),
            id: t["id"].as_str().map(str::to_owned),
            data_centre: t["api_domain"]
                .as_str()
                .map(|d| if d.contains("/jp/") { "jp" } else { "us" }.to_owned()),
            ..Default::default()
        };
        let target = Target::tenant(&self.tenant, p);
        self.connect.import(&target, tokens, None).await.unwrap();
        target
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.db.cleanup().await;
    }
}
