//! The emulators on port 0 and a `Connectors` pointed at them: the harness of the tests that
//! drive a provider module against its emulator.

use renkei_connectors::{Connectors, GrantMeta, Provider, ProvidersConfig, Session};
use renkei_core::Secret;
use serde_json::{Value, json};

pub struct Sandboxed {
    pub origin: String,
    pub http: reqwest::Client,
    pub connectors: Connectors,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

/// Working credentials minted by an emulator, as a connection would hold them.
pub struct Minted {
    pub access_token: Secret<String>,
    pub refresh_token: Option<Secret<String>>,
    pub meta: GrantMeta,
    pub budget: String,
}

impl Minted {
    pub fn session(&self) -> Session<'_> {
        Session {
            access_token: &self.access_token,
            meta: &self.meta,
            budget: Some(&self.budget),
            deadline: None,
        }
    }
}

/// The emulator's name in `/sandbox/{name}`.
pub fn emulator(p: Provider) -> &'static str {
    match p {
        Provider::Hubspot => "hubspot",
        Provider::Salesforce => "salesforce",
        Provider::ZohoCrm => "zoho",
    }
}

impl Sandboxed {
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
        let connectors = Connectors::new(&providers, Default::default()).unwrap();
        Self {
            origin,
            http: reqwest::Client::new(),
            connectors,
            stop: Some(stop),
        }
    }

    /// `POST /sandbox/{p}/_control/{what}` with `body`; panics unless it succeeds.
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

    /// `GET /sandbox/{p}/_control/{what}`.
    pub async fn control_get(&self, p: Provider, what: &str) -> Value {
        self.http
            .get(format!(
                "{}/sandbox/{}/_control/{what}",
                self.origin,
                emulator(p)
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Tokens for the emulator's default account (or `account`), with the metadata a connect
    /// would have stored.
    pub async fn mint(&self, p: Provider, account: Option<&str>) -> Minted {
        let body = match account {
            Some(a) => json!({ "account": a }),
            None => json!({}),
        };
        let t = self.control(p, "tokens", body).await;
        let s = |k: &str| t[k].as_str().map(str::to_owned);
        let meta = GrantMeta {
            instance_url: s("instance_url"),
            identity_url: s("id"),
            api_domain: s("api_domain"),
            data_centre: s("api_domain")
                .map(|d| if d.contains("/jp/") { "jp" } else { "us" }.to_owned()),
            account_id: s("hub_id").or_else(|| t["hub_id"].as_i64().map(|n| n.to_string())),
            ..Default::default()
        };
        Minted {
            access_token: Secret::new(s("access_token").expect("access_token")),
            refresh_token: s("refresh_token").map(Secret::new),
            meta,
            budget: format!("{}:test", p.as_str()),
        }
    }

    /// The emulator's request log below `prefix`, as (method, path, status).
    pub async fn requests(&self, p: Provider, prefix: &str) -> Vec<(String, String, u64)> {
        let v = self
            .control_get(p, &format!("requests?path_prefix={prefix}&limit=100000"))
            .await;
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

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

#[tokio::test]
async fn minted_tokens_reach_every_emulator() {
    let sb = Sandboxed::start().await;
    for p in [Provider::Hubspot, Provider::Salesforce, Provider::ZohoCrm] {
        let m = sb.mint(p, None).await;
        let users = sb.connectors.list_users(p, m.session()).await.unwrap();
        assert!(!users.is_empty(), "{p:?}");
    }
    sb.stop().await;
}
