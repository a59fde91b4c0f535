//! [`TestApp`]: renkei started in-process on port 0 with a fresh database, workers included.

use std::time::Duration;

use renkei_core::Millis;
use renkei_core::api_key::NewApiKey;
use renkei_server::{Config, RunningApp};
use renkei_store::testing::TestDb;
use serde_json::Value;

pub struct TestApp {
    pub config: Config,
    pub base: String,
    pub key: String,
    pub http: reqwest::Client,
    pub db: TestDb,
    app: RunningApp,
}

impl TestApp {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        Self::start_full(tweak, false).await
    }

    /// renkei with the sandbox mounted under `/sandbox` and the providers pointed at it, as
    /// `renkei serve --sandbox` runs.
    pub async fn start_sandboxed(tweak: impl FnOnce(&mut Config)) -> Self {
        Self::start_full(tweak, true).await
    }

    async fn start_full(tweak: impl FnOnce(&mut Config), sandbox: bool) -> Self {
        let db = TestDb::new().await;
        let mut config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            database_url: db.url.clone(),
            secret_key_file: db
                .scratch_dir()
                .join(format!("renkei-{}.key", fastrand::u64(..))),
            ..Config::default()
        };
        config.worker.poll_interval_ms = 50;
        config.http_grace_seconds = 2;
        config.worker.grace_seconds = 2;
        tweak(&mut config);
        let mut mounts = Vec::new();
        if sandbox {
            let sb = renkei_sandbox::Sandbox::new(Default::default());
            mounts.push(renkei_server::Mount {
                path: "/sandbox",
                service: sb.service(),
                configure: Some(Box::new(
                    move |origin: &str, providers: &mut renkei_connectors::ProvidersConfig| {
                        renkei_connectors::sandbox_directory::apply(
                            &sb.directory(origin),
                            providers,
                        )
                    },
                )),
            });
        }
        let app = renkei_server::start_with(&config, mounts)
            .await
            .expect("renkei starts");
        let key = NewApiKey::generate().unwrap();
        db.store
            .create_api_key(&key.id, "test", &key.hash, None, Millis::now())
            .await
            .unwrap();
        let base = format!("http://{}", app.addr.unwrap());
        Self {
            config,
            base,
            key: key.token.expose().clone(),
            http: reqwest::Client::new(),
            db,
            app,
        }
    }

    /// A key limited to one tenant.
    pub async fn scoped_key(&self, tenant: &str) -> String {
        let key = NewApiKey::generate().unwrap();
        let t = renkei_core::TenantId::parse(tenant).unwrap();
        self.db
            .store
            .create_api_key(&key.id, "scoped", &key.hash, Some(&t), Millis::now())
            .await
            .unwrap();
        key.token.expose().clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn send(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let req = self
            .http
            .request(method.parse().unwrap(), self.url(path))
            .bearer_auth(&self.key);
        let req = match body {
            Some(b) => req.json(&b),
            None => req,
        };
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn put_tenant(&self, tenant: &str) {
        let (s, b) = self
            .send(
                "PUT",
                &format!("/v1/tenants/{tenant}"),
                Some(serde_json::json!({})),
            )
            .await;
        assert!(s == 201 || s == 200, "{s} {b}");
    }

    /// Polls until `f` holds (workers run in the background).
    pub async fn eventually<F: AsyncFnMut() -> bool>(&self, what: &str, mut f: F) {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while !f().await {
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn stop(self) {
        self.app.shutdown().await;
        self.db.cleanup().await;
    }
}
