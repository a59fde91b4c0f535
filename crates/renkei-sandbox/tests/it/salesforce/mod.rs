//! The Salesforce emulator driven over HTTP as a client drives the real one: the OAuth web
//! server flow, the REST API, SOQL/SOSL, composite resources, limits and errors; `activities.rs`
//! the rules of Tasks, Events and Notes; `contact_roles.rs` the roles Contacts play on
//! Opportunities; `custom.rs` the custom object `Project__c`. `spec.rs` walks Salesforce's
//! Postman collection.

mod activities;
mod api;
mod contact_roles;
mod custom;
mod oauth;
mod spec;

use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::support::TestSandbox;

pub const V: &str = "v62.0";

/// A sandbox with a token for the default org.
pub struct Sf {
    pub sb: TestSandbox,
    pub dir: Value,
    pub token: String,
    pub instance: String,
}

pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Sf {
    pub async fn start() -> Sf {
        let sb = TestSandbox::start().await;
        let (_, all) = sb.get_json(&format!("{}/sandbox", sb.origin)).await;
        let dir = all["providers"]["salesforce"].clone();
        let tokens = sb.control("salesforce", "tokens", Value::Null).await;
        Sf {
            token: tokens["access_token"].as_str().unwrap().to_owned(),
            instance: tokens["instance_url"].as_str().unwrap().to_owned(),
            sb,
            dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            return path.to_owned();
        }
        if path.starts_with("/services") {
            return format!("{}{path}", self.instance);
        }
        format!("{}/services/data/{V}/{path}", self.instance)
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        self.call_as(&self.token, method, path, body, &[]).await
    }

    pub async fn call_as(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.sb.client.request(m, self.url(path)).bearer_auth(token);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        Resp {
            status,
            headers,
            body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        }
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.call("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.call("POST", path, Some(body)).await
    }

    pub async fn create(&self, object: &str, body: Value) -> String {
        let r = self.post(&format!("sobjects/{object}"), body).await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["id"].as_str().unwrap().to_owned()
    }

    pub async fn settings(&self, body: Value) {
        self.sb.control("salesforce", "settings", body).await;
    }
}

/// Asserts a REST error array with one error of `code`.
pub fn assert_error(r: &Resp, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.body[0]["errorCode"], code, "{}", r.body);
    assert!(r.body[0]["message"].is_string(), "{}", r.body);
}

pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", renkei_sandbox::http::encode_query_value(v)))
        .collect::<Vec<_>>()
        .join("&")
}
