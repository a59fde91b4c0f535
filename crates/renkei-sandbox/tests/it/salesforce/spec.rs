//! Walks Salesforce's own Postman collection (`/work/shared/specs/salesforce/…`, see its
//! SOURCES.md): every request file for an endpoint the emulator serves is sent with the
//! collection's variables filled in, and must be routed and answered with a success, or with the
//! documented answer for what the emulator leaves out (Composite Graph: 404 NOT_FOUND).
//! Skipped, with a message, when the folder is absent.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::{Sf, assert_error, form};

fn collection() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(
        "../../../shared/specs/salesforce/postman-salesforce-apis/src/collections/salesforce_apis",
    );
    dir.is_dir().then_some(dir)
}

/// Request files of endpoints the emulator serves (bulk, async query jobs and OpenID discovery
/// are not emulated).
const FOLDERS: &[&str] = &["rest", "composite", "auth"];
const AUTH_FILES: &[&str] = &[
    "user_info",
    "openid_connect_token_introspection_endpoint",
    "web_server_flow_1",
];

#[tokio::test]
async fn the_postman_collection_is_served() {
    let Some(dir) = collection() else {
        eprintln!("skipped: the Salesforce Postman collection is not present under shared/specs");
        return;
    };
    let sf = Sf::start().await;
    let acct = sf
        .create(
            "Account",
            json!({"Name": "Postman Co", "External_Id__c": "ext-1"}),
        )
        .await;
    let doomed = sf.create("Account", json!({"Name": "Doomed"})).await;
    let doomed2 = sf.create("Account", json!({"Name": "Doomed 2"})).await;
    let clock = sf
        .sb
        .get_json(&sf.sb.url("salesforce", "/_control/clock"))
        .await
        .1;
    let now = clock["now"].as_str().unwrap().to_owned();
    sf.sb
        .control("salesforce", "clock", json!({"advance_seconds": 60}))
        .await;
    let later = sf
        .sb
        .get_json(&sf.sb.url("salesforce", "/_control/clock"))
        .await
        .1["now"]
        .as_str()
        .unwrap()
        .to_owned();
    let enc = |s: &str| renkei_sandbox::http::encode_query_value(s);
    let login = sf.sb.url("salesforce", "");

    let mut files: Vec<(String, PathBuf)> = Vec::new();
    for folder in FOLDERS {
        for e in std::fs::read_dir(dir.join(folder)).unwrap() {
            let p = e.unwrap().path();
            let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
            if *folder == "auth" && !AUTH_FILES.contains(&stem.as_str()) {
                continue;
            }
            files.push((stem, p));
        }
    }
    // Deletions last, so the other requests still find their record.
    files.sort_by_key(|(stem, _)| (stem.contains("delete"), stem.clone()));
    assert!(files.len() >= 20, "{} request files", files.len());

    for (stem, path) in &files {
        let f: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let method = f["method"].as_str().unwrap();
        let mut url = f["url"]
            .as_str()
            .unwrap()
            .replace("{{_endpoint}}", &sf.instance)
            .replace("{{url}}", &login)
            .replace("{{site}}", "")
            .replace("{{version}}", "62.0")
            .replace("{{clientId}}", sf.dir["client_id"].as_str().unwrap())
            .replace("{{redirectUrl}}", "http://localhost:8080/callback")
            .replace("<SOBJECT_API_NAME>", "Account")
            .replace("<FIELD_NAME>", "External_Id__c")
            .replace("<FIELD_VALUE>", "ext-1");
        let record = if stem.contains("delete") {
            &doomed
        } else {
            &acct
        };
        url = url.replace("<RECORD_ID>", record);
        url = match stem.as_str() {
            "sobject_get_deleted" | "sobject_get_updated" => url.replace(
                "start=&end=",
                &format!("start={}&end={}", enc(&now), enc(&later)),
            ),
            "search" => url.replace("search?q", "search?q=FIND+%7BPostman%7D"),
            "parameterized_search" => url.replace("?q", "?q=Postman"),
            "record_count" => url.replace("sObjects=", "sObjects=Account"),
            "sobject_collections_retrieve" => {
                url.replace("?ids&fields", &format!("?ids={acct}&fields=Name"))
            }
            "sobject_collections_delete" => {
                url.replace("?ids&allOrNone", &format!("?ids={doomed2}&allOrNone=false"))
            }
            _ => url,
        };
        let body: Option<String> = match stem.as_str() {
            "sobject_rows_update" => Some(json!({"Name": "Postman Co 2"}).to_string()),
            "composite" => Some(json!({"compositeRequest": [{"method": "GET", "url": "/services/data/v62.0/limits", "referenceId": "l"}]}).to_string()),
            "batch" => Some(json!({"batchRequests": [{"method": "GET", "url": "v62.0/limits"}]}).to_string()),
            "sobject_collections_create" => Some(json!({"records": [{"attributes": {"type": "Account"}, "Name": "C1"}]}).to_string()),
            "sobject_collections_update" => Some(json!({"records": [{"attributes": {"type": "Account"}, "id": acct, "Name": "C2"}]}).to_string()),
            "sobject_tree" => Some(json!({"records": [{"attributes": {"type": "Account", "referenceId": "r1"}, "Name": "T1"}]}).to_string()),
            "composite_graph" => Some(json!({"graphs": []}).to_string()),
            "openid_connect_token_introspection_endpoint" => {
                let fields: Vec<(String, String)> = f["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| {
                        let v = d["value"]
                            .as_str()
                            .unwrap()
                            .replace("{{_accessToken}}", &sf.token)
                            .replace("{{clientId}}", sf.dir["client_id"].as_str().unwrap())
                            .replace("{{clientSecret}}", sf.dir["client_secret"].as_str().unwrap());
                        (d["key"].as_str().unwrap().to_owned(), v)
                    })
                    .collect();
                let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                Some(form(&pairs))
            }
            _ => {
                assert!(
                    !matches!(method, "POST" | "PATCH" | "PUT"),
                    "{stem}: a write request needs a body in this test"
                );
                None
            }
        };
        assert!(
            !url.contains("{{") && !url.contains('<'),
            "{stem}: unfilled variable in {url}"
        );
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = sf.sb.client.request(m, &url);
        if !stem.contains("introspection") {
            req = req.bearer_auth(&sf.token);
        }
        if let Some(b) = body {
            let ct = if stem.contains("introspection") {
                "application/x-www-form-urlencoded"
            } else {
                "application/json"
            };
            req = req.header("content-type", ct).body(b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        if stem == "composite_graph" {
            // Composite Graph is not emulated: the vendor's 404.
            let r = super::Resp {
                status,
                headers: Default::default(),
                body: serde_json::from_str(&text).unwrap(),
            };
            assert_error(&r, 404, "NOT_FOUND");
            continue;
        }
        assert!(
            (200..300).contains(&status),
            "{stem}: {method} {url} → {status} {text}"
        );
        if stem == "sobject_collections_create" || stem == "sobject_collections_update" {
            let v: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v[0]["success"], true, "{stem}: {text}");
        }
    }
}
