//! `renkei sandbox` and `renkei serve --sandbox`: the emulators served by the binary.

use std::process::Stdio;
use std::time::Duration;

use renkei_store::testing::TestDb;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr};

use crate::support::renkei;

/// Reads stderr lines until one starts with `prefix`; answers the rest of that line.
async fn line_after(lines: &mut Lines<BufReader<ChildStderr>>, prefix: &str) -> String {
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(rest) = line.strip_prefix(prefix) {
                return rest.trim().to_owned();
            }
        }
        panic!("no line starting with {prefix:?}");
    })
    .await
    .expect("the line is printed in time")
}

fn spawn(db: &TestDb, args: &[&str]) -> (Child, Lines<BufReader<ChildStderr>>) {
    let mut child = renkei(db)
        .args(args)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("renkei starts");
    let stderr = child.stderr.take().expect("piped");
    (child, BufReader::new(stderr).lines())
}

#[tokio::test]
async fn renkei_sandbox_serves_the_directory_alone() {
    let db = TestDb::new().await;
    let (mut child, mut lines) =
        spawn(&db, &["sandbox", "--listen", "127.0.0.1:0", "--seed", "20"]);
    let url = line_after(&mut lines, "renkei sandbox listening on ").await;
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let dir: serde_json::Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    let providers = dir["providers"].as_object().expect("providers");
    let names: Vec<&str> = providers.keys().map(String::as_str).collect();
    assert_eq!(names, ["hubspot", "salesforce", "zoho"]);
    for (name, p) in providers {
        let ui = p["urls"]["ui"].as_str().unwrap();
        assert!(
            ui.starts_with(url.trim_end_matches("/sandbox")),
            "{name}: {ui}"
        );
        let page = reqwest::get(ui).await.unwrap().text().await.unwrap();
        assert!(page.contains("<table"), "{name}: --seed put records in");
    }
    // Only the sandbox is served: renkei's API is not.
    let api = url.replace("/sandbox", "/v1/tenants/x");
    assert_eq!(reqwest::get(&api).await.unwrap().status(), 404);
    child.kill().await.unwrap();
    db.cleanup().await;
}

#[tokio::test]
async fn serve_with_sandbox_mounts_the_emulators_and_prints_a_working_key() {
    let db = TestDb::new().await;
    let (mut child, mut lines) = spawn(
        &db,
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--sandbox",
            "--sandbox-seed",
            "10",
        ],
    );
    let base = line_after(&mut lines, "renkei listening on ").await;
    let directory = line_after(&mut lines, "sandbox directory: ").await;
    assert_eq!(directory, format!("{base}/sandbox"));
    let key = line_after(&mut lines, "API key (shown once; it is stored hashed): ").await;
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    let http = reqwest::Client::new();
    let put = http
        .put(format!("{base}/v1/tenants/demo"))
        .bearer_auth(&key)
        .json(&serde_json::json!({"display_name": "Demo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201, "the printed key works");
    // The sandbox needs no renkei key; renkei's API still does.
    let dir = http.get(&directory).send().await.unwrap();
    assert_eq!(dir.status(), 200);
    let dir: serde_json::Value = dir.json().await.unwrap();
    let hubspot_ui = dir["providers"]["hubspot"]["urls"]["ui"].as_str().unwrap();
    assert!(hubspot_ui.starts_with(&base), "{hubspot_ui}");
    let page = http
        .get(hubspot_ui)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<table"), "--sandbox-seed put records in");
    let unauth = http
        .get(format!("{base}/v1/tenants/demo"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauth.status(), 401);
    child.kill().await.unwrap();
    db.cleanup().await;
}
