//! A people import survives `kill -9` (issue 5): `renkei serve --sandbox-url` imports 20,000
//! Salesforce people from a separate `renkei sandbox` process, is killed after a random number
//! of pages, restarts on the same database and finishes with exactly the people of an
//! uninterrupted import, having fetched no page more than twice.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher as _, Hasher as _};
use std::process::Stdio;
use std::time::Duration;

use renkei_core::TenantId;
use renkei_store::Store;
use renkei_store::people::{PeopleFilter, Person};
use renkei_store::testing::TestDb;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support::{Server, create_key, eventually, renkei, serve};

const PEOPLE: u64 = 20_000;

/// A `renkei sandbox` process and its origin (`http://127.0.0.1:PORT`).
pub struct Sandbox {
    pub child: tokio::process::Child,
    pub origin: String,
}

impl Sandbox {
    pub async fn start(db: &TestDb) -> Self {
        let mut child = renkei(db)
            .args(["sandbox", "--listen", "127.0.0.1:0"])
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("renkei sandbox starts");
        let mut lines = BufReader::new(child.stderr.take().expect("piped")).lines();
        let url = tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(url) = line.strip_prefix("renkei sandbox listening on ") {
                    return url.trim().to_owned();
                }
            }
            panic!("renkei sandbox did not print its address");
        })
        .await
        .expect("renkei sandbox prints its address in time");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let origin = url
            .strip_suffix("/sandbox")
            .unwrap_or_else(|| panic!("{url}"))
            .to_owned();
        Self { child, origin }
    }

    async fn control(&self, http: &reqwest::Client, what: &str, body: Value) -> Value {
        self.control_on(http, "salesforce", what, body).await
    }

    /// `POST /sandbox/{emulator}/_control/{what}`; the answer's JSON.
    pub async fn control_on(
        &self,
        http: &reqwest::Client,
        emulator: &str,
        what: &str,
        body: Value,
    ) -> Value {
        let resp = http
            .post(format!(
                "{}/sandbox/{emulator}/_control/{what}",
                self.origin
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

    /// Salesforce API requests after `since`, as ((method, path and query), status, seq).
    async fn requests(&self, http: &reqwest::Client, since: u64) -> Vec<(String, u64, u64)> {
        let v: Value = http
            .get(format!(
                "{}/sandbox/salesforce/_control/requests",
                self.origin
            ))
            .query(&[
                ("path_prefix", "/instances"),
                ("since", &since.to_string()),
                ("limit", "100000"),
            ])
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
                let query = r["query"]
                    .as_str()
                    .map(|q| format!("?{q}"))
                    .unwrap_or_default();
                (
                    format!(
                        "{} {}{query}",
                        r["method"].as_str().unwrap(),
                        r["path"].as_str().unwrap()
                    ),
                    r["status"].as_u64().unwrap(),
                    r["seq"].as_u64().unwrap(),
                )
            })
            .collect()
    }
}

/// renkei's API as one tenant-admin client.
struct Api<'a> {
    http: &'a reqwest::Client,
    key: &'a str,
}

impl Api<'_> {
    async fn send(&self, server: &Server, method: &str, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .http
            .request(method.parse().unwrap(), server.url(path))
            .bearer_auth(self.key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Creates `tenant` and connects it to the sandbox's Salesforce with minted tokens.
    async fn connect(&self, server: &Server, sandbox: &Sandbox, tenant: &str) {
        self.send(
            server,
            "PUT",
            &format!("/v1/tenants/{tenant}"),
            Some(json!({})),
        )
        .await;
        let t = sandbox.control(self.http, "tokens", json!({})).await;
        let body = json!({
            "access_token": t["access_token"],
            "refresh_token": t["refresh_token"],
            "instance_url": t["instance_url"],
            "id": t["id"],
        });
        self.send(
            server,
            "PUT",
            &format!("/v1/tenants/{tenant}/connections/salesforce"),
            Some(body),
        )
        .await;
    }

    /// Starts an import of `tenant`'s people; answers the run's path.
    async fn start_run(&self, server: &Server, tenant: &str) -> String {
        let path = format!("/v1/tenants/{tenant}/connections/salesforce/sync-runs");
        let run = self
            .send(server, "POST", &path, Some(json!({"kind": "initial"})))
            .await;
        format!("{path}/{}", run["id"].as_i64().unwrap())
    }

    async fn run(&self, server: &Server, path: &str) -> Value {
        self.send(server, "GET", path, None).await
    }

    /// Waits for the run to end and answers it.
    async fn finished(&self, server: &Server, path: &str) -> Value {
        let mut last = Value::Null;
        eventually("the sync run to end", 180, async || {
            last = self.run(server, path).await;
            last["status"] != "queued" && last["status"] != "running"
        })
        .await;
        assert_eq!(last["status"], "succeeded", "{last}");
        last
    }
}

/// Every stored person of `tenant`, hidden ones included, comparable across tenants: without
/// ids, tenant and instants of this database, the duplicate named by its remote key.
async fn people(store: &Store, tenant: &str) -> BTreeMap<(String, String), Value> {
    let tenant = TenantId::parse(tenant).unwrap();
    let filter = PeopleFilter {
        include_hidden: true,
        ..Default::default()
    };
    let mut all: Vec<Person> = Vec::new();
    loop {
        let after = all.last().map_or(0, |p| p.id);
        let page = store
            .find_people(&tenant, &filter, after, 5000)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        all.extend(page);
    }
    let keys: HashMap<i64, (String, String)> = all
        .iter()
        .map(|p| (p.id, (p.object.clone(), p.remote_id.clone())))
        .collect();
    all.iter()
        .map(|p| {
            let mut v = serde_json::to_value(p).unwrap();
            let m = v.as_object_mut().unwrap();
            for k in ["id", "tenant_id", "created_at", "updated_at"] {
                m.remove(k);
            }
            m.insert(
                "duplicate_of".into(),
                json!(p.duplicate_of.map(|d| keys[&d].clone())),
            );
            ((p.object.clone(), p.remote_id.clone()), v)
        })
        .collect()
}

/// The change feed of `tenant` as (kind, object, remote id), counted.
async fn changes(store: &Store, tenant: &str) -> BTreeMap<(String, String, String), u32> {
    let tenant = TenantId::parse(tenant).unwrap();
    let mut out = BTreeMap::new();
    let mut after = 0;
    loop {
        let page = store.list_changes(&tenant, after, 5000).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.seq;
        for c in page {
            let p = c.person.unwrap();
            *out.entry((c.kind, p.object, p.remote_id)).or_default() += 1;
        }
    }
    out
}

/// The page after which to kill: `RENKEI_TEST_KILL_AFTER_PAGES`, or random in `1..=max`.
fn kill_after(max: u64) -> u64 {
    if let Some(k) = std::env::var("RENKEI_TEST_KILL_AFTER_PAGES")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return k;
    }
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    random % max + 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_import_resumes_with_the_same_people() {
    let db = TestDb::new().await;
    let http = reqwest::Client::new();
    let sandbox = Sandbox::start(&db).await;
    let seeded = sandbox
        .control(&http, "seed", json!({"count": PEOPLE, "seed": 9}))
        .await;
    let (leads, contacts) = (
        seeded["created"]["Lead"].as_u64().unwrap(),
        seeded["created"]["Contact"].as_u64().unwrap(),
    );
    // One-second slices, so that a run is many jobs; a lease short enough for the restarted
    // process to take the dead one's job back soon, yet longer than a 2,000-person page keeps
    // SQLite's writer (and so the heartbeat) waiting; no scheduled runs.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("renkei.toml");
    std::fs::write(
        &config,
        "[sync]\nslice_seconds = 1\nscheduler_interval_seconds = 3600\n\n\
         [worker]\nlease_seconds = 10\nreap_interval_ms = 200\n",
    )
    .unwrap();
    let key = create_key(&db).await;
    let args = [
        "--config",
        config.to_str().unwrap(),
        "--sandbox-url",
        &sandbox.origin,
    ];
    let server = serve(&db, &args).await;
    let api = Api {
        http: &http,
        key: &key,
    };

    // The reference: an uninterrupted import by a second tenant of the same org.
    api.connect(&server, &sandbox, "reference").await;
    let path = api.start_run(&server, "reference").await;
    let reference = api.finished(&server, &path).await["progress"].clone();
    // Undisturbed indeed: every record once, 2,000 a page.
    let pages = reference["pages"].as_u64().unwrap();
    assert_eq!(
        pages,
        leads.div_ceil(2000) + contacts.div_ceil(2000),
        "{reference}"
    );
    assert_eq!(reference["fetched"], leads + contacts, "{reference}");

    // The same import, killed after k pages.
    let mark = sandbox.requests(&http, 0).await.last().map_or(0, |r| r.2);
    api.connect(&server, &sandbox, "acme").await;
    let path = api.start_run(&server, "acme").await;
    let k = kill_after(pages - 2);
    eprintln!(
        "killing renkei serve after {k} of {pages} pages (RENKEI_TEST_KILL_AFTER_PAGES={k} repeats it)"
    );
    eventually("k pages to be committed", 120, async || {
        api.run(&server, &path).await["progress"]["pages"]
            .as_u64()
            .unwrap()
            >= k
    })
    .await;
    server.kill().await;
    let at_kill = stored_run(&db, &path).await;
    assert!(
        at_kill["status"] == "running" && at_kill["pages"].as_u64().unwrap() < pages,
        "the kill must interrupt the import: {at_kill}"
    );

    let server = serve(&db, &args).await;
    let run = api.finished(&server, &path).await;
    let progress = &run["progress"];
    eprintln!(
        "killed at {} pages; the resumed run took {} pages in all, the reference {pages}",
        at_kill["pages"], progress["pages"]
    );
    assert!(server.terminate().await.success());

    // The same people as the uninterrupted import, the same change feed, the same writes.
    let (want, got) = (
        people(&db.store, "reference").await,
        people(&db.store, "acme").await,
    );
    assert_eq!(got.len(), want.len());
    for (k, w) in &want {
        assert_eq!(got.get(k), Some(w), "{k:?}");
    }
    assert_eq!(
        changes(&db.store, "acme").await,
        changes(&db.store, "reference").await
    );
    for count in ["imported", "updated", "removed", "changes"] {
        assert_eq!(progress[count], reference[count], "{count}: {progress}");
    }
    assert!(progress["pages"].as_u64().unwrap() >= pages, "{progress}");

    // No page fetched more than twice: the one in flight at the kill may be fetched again
    // (and a query locator closed by its last page makes its query run again).
    let mut fetches: BTreeMap<String, u32> = BTreeMap::new();
    for (page, _, _) in sandbox.requests(&http, mark).await {
        *fetches.entry(page).or_default() += 1;
    }
    let more: Vec<_> = fetches.iter().filter(|(_, n)| **n > 2).collect();
    assert!(more.is_empty(), "{more:?}");
    assert!(fetches.len() as u64 >= pages, "{fetches:?}");

    let mut sandbox = sandbox;
    sandbox.child.kill().await.unwrap();
    db.cleanup().await;
}

/// The run at `path` (`…/sync-runs/{id}`), read from the database while no server runs:
/// its status and page count.
async fn stored_run(db: &TestDb, path: &str) -> Value {
    let id: i64 = path.rsplit('/').next().unwrap().parse().unwrap();
    let run = db.store.get_sync_run(id).await.unwrap().unwrap();
    let progress: Value = serde_json::from_str(&run.progress).unwrap();
    json!({"status": run.status, "pages": progress["pages"]})
}

/// `--sandbox-url` that cannot be read stops `serve` with a message naming it, before anything
/// runs against production URLs; it cannot be combined with `--sandbox`.
#[tokio::test]
async fn a_sandbox_url_that_cannot_be_read_is_a_clear_error() {
    let db = TestDb::new().await;
    let serve = ["serve", "--listen", "127.0.0.1:0"];
    let cases: [(&[&str], &str); 2] = [
        (
            &["--sandbox-url", "http://127.0.0.1:1/"],
            "reading the sandbox directory at http://127.0.0.1:1/sandbox",
        ),
        (
            &["--sandbox", "--sandbox-url", "http://127.0.0.1:1"],
            "cannot be used with",
        ),
    ];
    for (args, message) in cases {
        let out = tokio::time::timeout(
            Duration::from_secs(30),
            renkei(&db).args(serve).args(args).output(),
        )
        .await
        .expect("renkei exits")
        .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    db.cleanup().await;
}
