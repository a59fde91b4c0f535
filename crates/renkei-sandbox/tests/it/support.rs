//! Starts a sandbox on an ephemeral port for one test.

use renkei_sandbox::{Sandbox, SandboxOptions};
use serde_json::Value;

pub struct TestSandbox {
    /// `http://127.0.0.1:PORT`
    pub origin: String,
    /// A client that does not follow redirects, so OAuth redirects can be inspected.
    pub client: reqwest::Client,
    pub sandbox: Sandbox,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl TestSandbox {
    pub async fn start() -> TestSandbox {
        let sandbox = Sandbox::new(SandboxOptions::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = sandbox.clone();
        tokio::spawn(async move {
            let _ = renkei_sandbox::serve(listener, served, async {
                let _ = stopped.await;
            })
            .await;
        });
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        TestSandbox {
            origin,
            client,
            sandbox,
            _stop: stop,
        }
    }

    /// `{origin}/sandbox/{provider}{path}`
    pub fn url(&self, provider: &str, path: &str) -> String {
        format!("{}/sandbox/{provider}{path}", self.origin)
    }

    /// POSTs a JSON control body to `/sandbox/{provider}/_control/{what}`; panics unless 2xx.
    pub async fn control(&self, provider: &str, what: &str, body: Value) -> Value {
        let resp = self
            .client
            .post(self.url(provider, &format!("/_control/{what}")))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert!(status.is_success(), "control {what}: {status} {text}");
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        }
    }

    pub async fn get_json(&self, url: &str) -> (u16, Value) {
        let resp = self.client.get(url).send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}
