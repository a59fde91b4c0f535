//! People sync resilience (issue 5): an import that meets rate limits, server errors and an
//! expired token mid-way, or whose worker dies between fetching a page and committing it, ends
//! with exactly the people an undisturbed import stores, and fetches no page more than twice;
//! one whose time slices end while the next page is being fetched ahead fetches each page once.
//!
//! Every scenario runs against one emulator account: a reference import on a clean database
//! gives the expected people, then each disturbed import runs on a fresh database of its own,
//! with its own workers (connectors, vault, sync service, runtime), as another installation
//! would. The runtime's clock is the harness's manual clock, so a job snoozed or retried
//! "later" runs only once the test moves that clock to the job's time ([`drive`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use renkei_connectors::http::HttpConfig;
use renkei_connectors::{Connectors, Provider, ProvidersConfig};
use renkei_core::{Millis, TenantId};
use renkei_engine::connect::{ConnectConfig, ConnectService, ImportTokens};
use renkei_engine::jobs::BoxFuture;
use renkei_engine::sync::{Progress, SyncOptions, SyncRunJob, SyncService};
use renkei_engine::vault::{Target, Vault, VaultOptions};
use renkei_engine::{Clock as _, JobPayload, Registry, Runtime, WorkerConfig};
use renkei_store::people::{PageItem, PeopleFilter, Person};
use renkei_store::queue::JobState;
use renkei_store::sync::{SyncRun, stage_json};
use renkei_store::testing::TestDb;
use renkei_store::{Store, StoreOptions, Tx};
use serde_json::{Value, json};

use crate::sandbox::{Harness, emulator};

/// Called with the job id before each `sync_run` job runs, for faults and crashes that must
/// happen between two pages (with a zero slice, each job fetches one page).
type Hook = Arc<dyn Fn(i64) -> BoxFuture<'static, ()> + Send + Sync>;

/// A hook called with the 1-based number of the job (counted across restarted workers).
fn numbered<F>(f: F) -> Hook
where
    F: Fn(usize, i64) -> BoxFuture<'static, ()> + Send + Sync + 'static,
{
    let n = Arc::new(AtomicUsize::new(0));
    Arc::new(move |job| f(n.fetch_add(1, Ordering::SeqCst) + 1, job))
}

/// One installation of renkei: its own database, with the tenant connected to the harness's
/// emulator, and how its workers are configured.
struct Side {
    db: TestDb,
    tenant: TenantId,
    provider: Provider,
    http: HttpConfig,
    options: SyncOptions,
    /// The path below `/sandbox/{emulator}` under which the provider's list/query calls go.
    api_prefix: String,
}

/// One worker process of a [`Side`]: connectors (with their in-memory rate budgets), vault,
/// sync service and runtime, on a store of the side's database.
struct Worker {
    sync: Arc<SyncService>,
    rt: Runtime,
}

/// The harness's emulators as a `ProvidersConfig`, read from the sandbox directory as
/// `renkei serve --sandbox-url` does.
async fn providers(h: &Harness) -> ProvidersConfig {
    let dir: Value = h
        .http
        .get(format!("{}/sandbox", h.origin))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut providers = ProvidersConfig::default();
    renkei_connectors::sandbox_directory::apply(&dir, &mut providers);
    providers
}

/// The path of an absolute emulator URL below `/sandbox/{emulator}`.
fn below_emulator(h: &Harness, p: Provider, url: &str) -> String {
    let base = format!("{}/sandbox/{}", h.origin, emulator(p));
    url.strip_prefix(&base)
        .unwrap_or_else(|| panic!("{url} is not below {base}"))
        .trim_end_matches('/')
        .to_owned()
}

async fn vault(h: &Harness, store: &Store, http: HttpConfig) -> Arc<Vault> {
    let connectors = Arc::new(Connectors::new(&providers(h).await, http).unwrap());
    Arc::new(Vault::new(
        store.clone(),
        h.keyring.clone(),
        connectors,
        Arc::new(h.clock.clone()),
        VaultOptions {
            refresh_lease: Duration::from_secs(30),
            poll: Duration::from_millis(20),
        },
    ))
}

impl Side {
    async fn new(h: &Harness, p: Provider, http: HttpConfig, options: SyncOptions) -> Self {
        let db = TestDb::new().await;
        let tenant = TenantId::parse("acme").unwrap();
        db.store
            .put_tenant(&tenant, "Acme", "JP", "ja", "Asia/Tokyo", Millis(1))
            .await
            .unwrap();
        let connect = ConnectService::new(
            vault(h, &db.store, http.clone()).await,
            ConnectConfig {
                public_url: url::Url::parse("http://renkei.test").unwrap(),
                session_ttl: Duration::from_secs(1800),
                state_ttl: Duration::from_secs(900),
            },
        );
        let t = h.control(p, "tokens", json!({})).await;
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
        let conn = connect
            .import(&Target::tenant(&tenant, p), tokens, None)
            .await
            .unwrap();
        let api_prefix = match p {
            Provider::Hubspot => "/crm/v3/objects/contacts".to_owned(),
            Provider::Salesforce => format!(
                "{}/services/data",
                below_emulator(h, p, t["instance_url"].as_str().unwrap())
            ),
            Provider::ZohoCrm => {
                // Contacts too, for more pages than Zoho's leads alone give.
                db.store
                    .set_connection_settings(
                        conn.id,
                        r#"{"people":{"objects":["lead","contact"]}}"#,
                    )
                    .await
                    .unwrap();
                format!(
                    "{}/crm",
                    below_emulator(h, p, t["api_domain"].as_str().unwrap())
                )
            }
        };
        Self {
            db,
            tenant,
            provider: p,
            http,
            options,
            api_prefix,
        }
    }

    fn store(&self) -> &Store {
        &self.db.store
    }

    /// A worker on `store` (the side's own, or another process's connection to its database).
    async fn worker(
        &self,
        h: &Harness,
        store: &Store,
        config: WorkerConfig,
        hook: Option<Hook>,
    ) -> Worker {
        let vault = vault(h, store, self.http.clone()).await;
        let sync = Arc::new(SyncService::new(vault, self.options.clone()));
        let rt = Runtime::with_clock(
            store.clone(),
            registry(sync.clone(), hook),
            config,
            Arc::new(h.clock.clone()),
        );
        Worker { sync, rt }
    }

    async fn start(&self, w: &Worker) -> i64 {
        let started = w
            .sync
            .start(&self.tenant, self.provider, None, "test")
            .await
            .unwrap();
        assert!(started.created);
        assert_eq!(started.run.kind, "initial");
        started.run.id
    }
}

/// The engine's registry with the sync jobs; with a hook, every `sync_run` job calls it first.
fn registry(sync: Arc<SyncService>, hook: Option<Hook>) -> Registry {
    let mut r = renkei_engine::registry();
    renkei_engine::sync::register(&mut r, sync);
    let Some(hook) = hook else { return r };
    let inner = r.get(SyncRunJob::KIND).unwrap();
    r.register::<SyncRunJob, _>(move |ctx, _job| -> BoxFuture<'_, _> {
        let (inner, hook) = (inner.clone(), hook.clone());
        Box::pin(async move {
            hook(ctx.job.id).await;
            inner.run(ctx).await
        })
    });
    r
}

/// What to do when a run waits for the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnHold {
    /// Move the clock to the waiting job's time.
    Wait,
    /// Also check that nothing is sent meanwhile, then restart the worker: for a hold of the
    /// HTTP client in real time, which a manual clock cannot shorten (see the Salesforce case
    /// in [`fault_cases`]).
    Restart,
}

/// Runs jobs until the run ends. When none is due (a job snoozed for a rate limit or waiting
/// for a retry), the manual clock moves to the earliest pending job, as time would.
async fn drive(
    h: &Harness,
    side: &Side,
    run_id: i64,
    hook: Option<Hook>,
    on_hold: OnHold,
) -> SyncRun {
    let mut w = side
        .worker(h, side.store(), WorkerConfig::default(), hook.clone())
        .await;
    let mut held = 0;
    for _ in 0..100 {
        w.rt.run_until_idle().await.unwrap();
        let run = side.store().get_sync_run(run_id).await.unwrap().unwrap();
        if !run.is_active() {
            return run;
        }
        advance_to_next_job(h, side).await;
        if on_hold == OnHold::Restart && counts(&run).waiting.is_some() {
            held += 1;
            let mark = log_mark(h, side.provider).await;
            w.rt.run_until_idle().await.unwrap();
            let sent = log(h, side.provider, &side.api_prefix, mark).await;
            assert!(sent.is_empty(), "calls while held: {sent:?}");
            advance_to_next_job(h, side).await;
            w = side
                .worker(h, side.store(), WorkerConfig::default(), hook.clone())
                .await;
        }
    }
    panic!("run {run_id} did not end ({held} holds)");
}

async fn advance_to_next_job(h: &Harness, side: &Side) {
    let next = side
        .store()
        .list_jobs(Some(JobState::Pending), 100)
        .await
        .unwrap()
        .iter()
        .map(|j| j.run_at)
        .min()
        .expect("an active run has a job pending");
    h.clock.advance_ms((next.0 - h.clock.now().0).max(0));
}

/// Every stored person of the tenant, hidden ones included, as comparable JSON: without the
/// ids and instants of this database, the duplicate named by its remote key, by remote key.
async fn people(store: &Store, tenant: &TenantId) -> BTreeMap<(String, String), Value> {
    let filter = PeopleFilter {
        include_hidden: true,
        ..Default::default()
    };
    let mut all = Vec::new();
    loop {
        let after = all.last().map_or(0, |p: &Person| p.id);
        let page = store
            .find_people(tenant, &filter, after, 5000)
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
    let mut out = BTreeMap::new();
    for p in &all {
        let mut v = serde_json::to_value(p).unwrap();
        let m = v.as_object_mut().unwrap();
        for k in ["id", "created_at", "updated_at"] {
            m.remove(k);
        }
        m.insert(
            "duplicate_of".into(),
            json!(p.duplicate_of.map(|d| keys[&d].clone())),
        );
        let prev = out.insert((p.object.clone(), p.remote_id.clone()), v);
        assert!(prev.is_none(), "{} {} stored twice", p.object, p.remote_id);
    }
    out
}

/// The change feed as (kind, object, remote id), counted: a re-fetched page must not repeat
/// an entry.
async fn changes(store: &Store, tenant: &TenantId) -> BTreeMap<(String, String, String), u32> {
    let mut out = BTreeMap::new();
    let mut after = 0;
    loop {
        let page = store.list_changes(tenant, after, 5000).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.seq;
        for c in page {
            let p = c.person.unwrap();
            *out.entry((c.kind, p.object, p.remote_id)).or_default() += 1;
        }
    }
    out
}

/// A run's progress without the time it took.
fn counts(run: &SyncRun) -> Progress {
    let mut p: Progress = serde_json::from_str(&run.progress).unwrap();
    p.elapsed_ms = 0;
    p
}

/// What an import stored, for comparison with the reference.
struct Outcome {
    progress: Progress,
    people: BTreeMap<(String, String), Value>,
    changes: BTreeMap<(String, String, String), u32>,
}

impl Outcome {
    async fn of(side: &Side, run: &SyncRun) -> Self {
        assert_eq!(run.status, "succeeded", "{run:?}");
        Self {
            progress: counts(run),
            people: people(side.store(), &side.tenant).await,
            changes: changes(side.store(), &side.tenant).await,
        }
    }

    /// Equal to `reference`, with the first difference named rather than two dumps of
    /// thousands of people.
    fn assert_same(&self, reference: &Outcome, what: &str) {
        assert_eq!(self.progress, reference.progress, "{what}: progress");
        self.assert_same_people(reference, what);
    }

    /// The same people and change feed as `reference`, whatever the work it took.
    fn assert_same_people(&self, reference: &Outcome, what: &str) {
        for (k, want) in &reference.people {
            assert_eq!(self.people.get(k), Some(want), "{what}: person {k:?}");
        }
        let extra: Vec<_> = self
            .people
            .keys()
            .filter(|k| !reference.people.contains_key(*k))
            .collect();
        assert!(
            extra.is_empty(),
            "{what}: people not in the reference: {extra:?}"
        );
        for (k, n) in &self.changes {
            assert_eq!(reference.changes.get(k), Some(n), "{what}: change {k:?}");
        }
        assert_eq!(
            self.changes.len(),
            reference.changes.len(),
            "{what}: change feed"
        );
    }
}

/// One logged emulator request.
#[derive(Debug, Clone)]
struct Logged {
    seq: u64,
    /// Method, path and query: what names a page.
    page: String,
    status: u64,
    fault: Option<String>,
}

/// The emulator's log below `prefix` after `since`.
async fn log(h: &Harness, p: Provider, prefix: &str, since: u64) -> Vec<Logged> {
    let v: Value = h
        .http
        .get(format!(
            "{}/sandbox/{}/_control/requests",
            h.origin,
            emulator(p)
        ))
        .query(&[
            ("path_prefix", prefix),
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
        .map(|r| Logged {
            seq: r["seq"].as_u64().unwrap(),
            page: format!(
                "{} {}{}",
                r["method"].as_str().unwrap(),
                r["path"].as_str().unwrap(),
                r["query"]
                    .as_str()
                    .map(|q| format!("?{q}"))
                    .unwrap_or_default()
            ),
            status: r["status"].as_u64().unwrap(),
            fault: r["fault"].as_str().map(str::to_owned),
        })
        .collect()
}

/// The last sequence number in the emulator's log (every path).
async fn log_mark(h: &Harness, p: Provider) -> u64 {
    log(h, p, "/", 0).await.last().map_or(0, |r| r.seq)
}

/// How many times each page was answered successfully.
fn page_fetches(requests: &[Logged]) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    for r in requests.iter().filter(|r| r.status == 200) {
        *out.entry(r.page.clone()).or_default() += 1;
    }
    out
}

async fn seeded(p: Provider, count: u64) -> Harness {
    let h = Harness::start().await;
    h.control(p, "seed", json!({"count": count, "seed": 42}))
        .await;
    h
}

/// The undisturbed import: a clean database, the default slice and client, one worker.
async fn reference(h: &Harness, p: Provider) -> Outcome {
    let side = Side::new(h, p, HttpConfig::default(), SyncOptions::default()).await;
    let w = side
        .worker(h, side.store(), WorkerConfig::default(), None)
        .await;
    let run_id = side.start(&w).await;
    let run = drive(h, &side, run_id, None, OnHold::Wait).await;
    let out = Outcome::of(&side, &run).await;
    assert!(
        out.progress.pages >= 2,
        "{p}: too few pages: {:?}",
        out.progress
    );
    assert!(out.progress.imported > 1000, "{p}: {:?}", out.progress);
    side.db.cleanup().await;
    out
}

/// Sync options that make every `sync_run` job fetch one page and hand over.
fn one_page_a_job() -> SyncOptions {
    SyncOptions {
        slice: Duration::ZERO,
        ..SyncOptions::default()
    }
}

/// A fault installed just before the `before_job`th `sync_run` job, on the provider's
/// list/query path.
struct FaultCase {
    name: &'static str,
    fault: Value,
    before_job: usize,
    /// Requests the fault answers.
    hits: usize,
}

fn fault_cases() -> Vec<FaultCase> {
    vec![
        FaultCase {
            name: "rate limited twice on the first page",
            fault: json!({"kind": "rate_limit", "retry_after_seconds": 1, "count": 2}),
            before_job: 1,
            hits: 2,
        },
        FaultCase {
            name: "two 503s on the second page",
            fault: json!({"kind": "server_error", "status": 503, "count": 2}),
            before_job: 2,
            hits: 2,
        },
        FaultCase {
            name: "the access token expires after the first page",
            fault: json!({"kind": "expired_token", "count": 1}),
            before_job: 2,
            hits: 1,
        },
    ]
}

async fn faults_leave_the_reference_people(p: Provider) {
    let h = seeded(p, 3000).await;
    let reference = reference(&h, p).await;
    for case in fault_cases() {
        let what = format!("{p}: {}", case.name);
        // The client's own retries are off, so that every fault reaches the job: a 429 snoozes
        // it, a 503 retries it later, a 401 makes the vault refresh and call again.
        let side = Side::new(
            &h,
            p,
            HttpConfig {
                max_retries: 0,
                ..HttpConfig::default()
            },
            one_page_a_job(),
        )
        .await;
        let mark = log_mark(&h, p).await;
        let mut fault = case.fault.clone();
        fault["path_prefix"] = json!(side.api_prefix);
        let (http, url) = (
            h.http.clone(),
            format!("{}/sandbox/{}/_control/faults", h.origin, emulator(p)),
        );
        let before = case.before_job;
        let hook = numbered(move |n, _| {
            let (http, url, fault) = (http.clone(), url.clone(), fault.clone());
            Box::pin(async move {
                if n == before {
                    let s = http.post(&url).json(&fault).send().await.unwrap().status();
                    assert_eq!(s, 201);
                }
            })
        });
        // Salesforce has no short rate limit: its REQUEST_LIMIT_EXCEEDED is the org's rolling
        // daily limit (the emulator answers `api-usage=max/max` and no Retry-After), so renkei's
        // client holds calls for UNKNOWN_RESET_PROBE (15 minutes of real time) before it asks
        // again. The test checks that nothing is sent while held, then lets a restarted worker,
        // which starts without the hold, go on.
        let on_hold = if p == Provider::Salesforce && case.fault["kind"] == "rate_limit" {
            OnHold::Restart
        } else {
            OnHold::Wait
        };
        let w = side
            .worker(&h, side.store(), WorkerConfig::default(), None)
            .await;
        let run_id = side.start(&w).await;
        drop(w);
        let run = drive(&h, &side, run_id, Some(hook), on_hold).await;
        Outcome::of(&side, &run)
            .await
            .assert_same(&reference, &what);

        // The fault answered exactly its count, every other request fetched a new page.
        let requests = log(&h, p, &side.api_prefix, mark).await;
        let faulted = requests.iter().filter(|r| r.fault.is_some()).count();
        assert_eq!(faulted, case.hits, "{what}: {requests:?}");
        let failed: Vec<_> = requests
            .iter()
            .filter(|r| r.fault.is_none() && r.status != 200)
            .collect();
        assert!(failed.is_empty(), "{what}: {failed:?}");
        let fetches = page_fetches(&requests);
        assert!(fetches.values().all(|n| *n == 1), "{what}: {fetches:?}");
        assert_eq!(fetches.len() as u64, reference.progress.pages, "{what}");
        side.db.cleanup().await;
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hubspot_import_survives_faults() {
    faults_leave_the_reference_people(Provider::Hubspot).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn salesforce_import_survives_faults() {
    faults_leave_the_reference_people(Provider::Salesforce).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zoho_import_survives_faults() {
    faults_leave_the_reference_people(Provider::ZohoCrm).await;
}

/// A run that waits because the org's daily API use passed the connection's `quota_share`
/// asks again an hour after the provider last said so (with one page), instead of waiting on
/// that old answer for ever; it ends with the reference people.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_waiting_for_the_daily_quota_asks_again() {
    let p = Provider::Salesforce;
    let h = seeded(p, 6000).await;
    let reference = reference(&h, p).await;
    let side = Side::new(&h, p, HttpConfig::default(), SyncOptions::default()).await;
    // The org's allocation, set so that the first page of the run uses half of it.
    let limits = h.control(p, "limits", json!({})).await;
    // Calls made today, per org: the tenant's org is the one the reference import used.
    let used = limits["usage"]
        .as_object()
        .and_then(|u| u.values().filter_map(Value::as_u64).max())
        .unwrap_or_else(|| panic!("usage in {limits}"));
    assert!(used >= reference.progress.pages, "{limits}");
    h.control(p, "limits", json!({"daily_api_requests": 2 * (used + 1)}))
        .await;
    let w = side
        .worker(&h, side.store(), WorkerConfig::default(), None)
        .await;
    let run_id = side.start(&w).await;
    drop(w);
    let mark = log_mark(&h, p).await;
    let started = h.clock.now();
    let run = drive(&h, &side, run_id, None, OnHold::Wait).await;
    Outcome::of(&side, &run)
        .await
        .assert_same(&reference, "quota");
    // The first wait is an hour from the answer that passed the share. (The later ones count
    // from answers stamped in real time, which this test's clock has left behind.)
    let waited = h.clock.now().0 - started.0;
    assert!(waited >= 3_600_000, "waited {waited} ms");
    let fetches = page_fetches(&log(&h, p, &side.api_prefix, mark).await);
    assert!(fetches.values().all(|n| *n == 1), "{fetches:?}");
    side.db.cleanup().await;
    h.stop().await;
}

/// Where the worker dies: while the `crash_at`th page is between the provider's answer and the
/// commit of its people and checkpoint.
#[derive(Debug, Clone, Copy)]
struct Crash {
    crash_at: usize,
    /// The crash page is the last of a Salesforce query locator, which the provider closes
    /// once it has served it: on resume the page is refused (`INVALID_QUERY_LOCATOR`) and the
    /// step starts again with a new query, as `sync.rs` documents.
    cursor_closed: bool,
}

/// "Another process" holding a write lock that the page's commit needs, taken just before the
/// crash job runs: the worker fetches the page, then waits for the lock, and dies there. On
/// SQLite it is the database's write lock (the worker already waits to record the connection's
/// use, right after the fetch); on PostgreSQL the run's row, which the page's transaction
/// updates last.
type Blocker = Arc<Mutex<Option<Tx>>>;

async fn crashes_between_fetch_and_commit_resume(p: Provider, people: u64, crashes: &[Crash]) {
    let h = seeded(p, people).await;
    let reference = reference(&h, p).await;
    for &crash in crashes {
        crash_and_resume(&h, p, &reference, crash).await;
    }
    h.stop().await;
}

async fn crash_and_resume(h: &Harness, p: Provider, reference: &Outcome, crash: Crash) {
    let what = format!("{p}: crash at page {}", crash.crash_at);
    assert!(
        reference.progress.pages as usize >= crash.crash_at,
        "{what}: there is no such page: {:?}",
        reference.progress
    );
    let side = Side::new(h, p, HttpConfig::default(), one_page_a_job()).await;
    let other = Store::connect(&side.db.url, &StoreOptions::default())
        .await
        .unwrap();
    let blocker: Blocker = Arc::default();
    let crashed_job: Arc<Mutex<Option<i64>>> = Arc::default();
    let run_id: Arc<Mutex<i64>> = Arc::default();
    let hook = {
        let (blocker, other, crashed_job, run_id) = (
            blocker.clone(),
            other.clone(),
            crashed_job.clone(),
            run_id.clone(),
        );
        numbered(move |n, job| {
            let (blocker, other, crashed_job) =
                (blocker.clone(), other.clone(), crashed_job.clone());
            let run_id = *run_id.lock().unwrap();
            Box::pin(async move {
                if n != crash.crash_at {
                    return;
                }
                *crashed_job.lock().unwrap() = Some(job);
                let run = other.get_sync_run(run_id).await.unwrap().unwrap();
                let mut tx = other.begin().await.unwrap();
                other
                    .save_sync_checkpoint(
                        &mut tx,
                        run.id,
                        run.step,
                        run.cursor.as_deref(),
                        &run.progress,
                        run.updated_at,
                    )
                    .await
                    .unwrap();
                *blocker.lock().unwrap() = Some(tx);
            })
        })
    };
    let w = side
        .worker(h, side.store(), WorkerConfig::default(), Some(hook))
        .await;
    let mark = log_mark(h, p).await;
    *run_id.lock().unwrap() = side.start(&w).await;
    let run_id = *run_id.lock().unwrap();
    tokio::select! {
        r = w.rt.run_until_idle() => panic!("{what}: the import ended before the crash: {r:?}"),
        () = async {
            // The crash page was answered by the provider; give the worker a moment to reach
            // the lock, then kill it.
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let answered = log(h, p, &side.api_prefix, mark).await.len();
                if answered >= crash.crash_at && blocker.lock().unwrap().is_some() {
                    break;
                }
                assert!(Instant::now() < deadline, "{what}: the page never came");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        } => {}
    }
    // The worker is gone, its futures dropped mid-job; the other process lets go.
    drop(w);
    let tx = blocker.lock().unwrap().take().unwrap();
    tx.rollback().await.unwrap();
    other.close().await;
    let at_crash = side.store().get_sync_run(run_id).await.unwrap().unwrap();
    // Queued until its first page is committed, running after.
    assert!(at_crash.is_active(), "{what}: {at_crash:?}");
    assert_eq!(
        counts(&at_crash).pages as usize,
        crash.crash_at - 1,
        "{what}: the crash page was not committed"
    );

    // A new process on the same database, with its own store. Its reaper returns the dead
    // worker's job once the lease has expired, and it goes on from the last checkpoint.
    let store = Store::connect(&side.db.url, &StoreOptions::default())
        .await
        .unwrap();
    let config = WorkerConfig {
        poll_interval: Duration::from_millis(20),
        reap_interval: Duration::from_millis(50),
        ..WorkerConfig::default()
    };
    h.clock.advance_ms(config.lease.as_millis() as i64 + 1_000);
    let w = side.worker(h, &store, config, None).await;
    let handle = w.rt.start();
    let deadline = Instant::now() + Duration::from_secs(60);
    let run = loop {
        let run = store.get_sync_run(run_id).await.unwrap().unwrap();
        if !run.is_active() {
            break run;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: the resumed run did not end: {run:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    handle.shutdown().await;
    let job = crashed_job.lock().unwrap().expect("the crash job ran");
    let job = store.get_job(job).await.unwrap().unwrap();
    assert_eq!(
        (job.state, job.attempts),
        (JobState::Succeeded, 2),
        "{what}: the dead worker's job ran again after its lease"
    );

    let outcome = Outcome::of(&side, &run).await;
    let requests = log(h, p, &side.api_prefix, mark).await;
    let crash_page = &requests[crash.crash_at - 1].page;
    let fetches = page_fetches(&requests);
    if crash.cursor_closed {
        // The same people and change feed; the step's pages before the crash were fetched
        // again, without a write.
        outcome.assert_same_people(reference, &what);
        let (got, want) = (&outcome.progress, &reference.progress);
        assert_eq!(
            (got.imported, got.updated, got.removed, got.changes),
            (want.imported, want.updated, want.removed, want.changes),
            "{what}: {got:?}"
        );
        assert!(
            got.pages > want.pages && got.unchanged > 0,
            "{what}: {got:?}"
        );
        let refused: Vec<_> = requests.iter().filter(|r| r.status != 200).collect();
        assert_eq!(refused.len(), 1, "{what}: {refused:?}");
        assert_eq!((&refused[0].page, refused[0].status), (crash_page, 400));
        assert!(fetches.values().all(|n| *n <= 2), "{what}: {fetches:?}");
    } else {
        // Every page once, except the one in flight at the crash: twice.
        outcome.assert_same(reference, &what);
        let failed: Vec<_> = requests.iter().filter(|r| r.status != 200).collect();
        assert!(failed.is_empty(), "{what}: {failed:?}");
        assert_eq!(fetches.len() as u64, reference.progress.pages, "{what}");
        let again: Vec<_> = fetches.iter().filter(|(_, n)| **n != 1).collect();
        assert_eq!(
            again,
            [(crash_page, &2)],
            "{what}: only the crash page is fetched again, once"
        );
    }
    store.close().await;
    side.db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hubspot_crash_between_fetch_and_commit_resumes() {
    let crash = |crash_at| Crash {
        crash_at,
        cursor_closed: false,
    };
    crashes_between_fetch_and_commit_resume(Provider::Hubspot, 3000, &[crash(1), crash(4)]).await;
}

/// 4,000 Salesforce people: a page of Leads, then two of Contacts, a query's and the last of
/// its query locator.
const SALESFORCE_PEOPLE: u64 = 4000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn salesforce_crash_on_a_query_page_resumes() {
    crashes_between_fetch_and_commit_resume(
        Provider::Salesforce,
        SALESFORCE_PEOPLE,
        &[Crash {
            crash_at: 2,
            cursor_closed: false,
        }],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn salesforce_crash_on_a_locators_last_page_restarts_the_step() {
    crashes_between_fetch_and_commit_resume(
        Provider::Salesforce,
        SALESFORCE_PEOPLE,
        &[Crash {
            crash_at: 3,
            cursor_closed: true,
        }],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zoho_crash_between_fetch_and_commit_resumes() {
    let crash = |crash_at| Crash {
        crash_at,
        cursor_closed: false,
    };
    crashes_between_fetch_and_commit_resume(Provider::ZohoCrm, 3000, &[crash(3)]).await;
}

/// Slices that end mid-import while pages are fetched ahead (each page is fetched while the
/// previous one commits): whatever page a slice ends on, the next job goes on from the
/// checkpoint, every page is asked for once, the people and the change feed are the
/// reference's, and the run's count of API calls is the emulator's. Zoho's two objects also
/// make a page fetched ahead begin the next step.
async fn handed_over_slices_keep_every_page_once(p: Provider) {
    let h = seeded(p, 3000).await;
    let reference = reference(&h, p).await;
    let mut split_mid_run = 0;
    for slice_ms in [2, 20, 60, 200] {
        let what = format!("{p}: slices of {slice_ms} ms");
        let side = Side::new(
            &h,
            p,
            HttpConfig::default(),
            SyncOptions {
                slice: Duration::from_millis(slice_ms),
                ..SyncOptions::default()
            },
        )
        .await;
        let mark = log_mark(&h, p).await;
        let w = side
            .worker(&h, side.store(), WorkerConfig::default(), None)
            .await;
        let run_id = side.start(&w).await;
        drop(w);
        let run = drive(&h, &side, run_id, None, OnHold::Wait).await;
        let outcome = Outcome::of(&side, &run).await;
        outcome.assert_same(&reference, &what);
        // Slices handed over with pages staged; the run's end merged them all.
        assert_eq!(outcome.progress.pending, 0, "{what}");
        let (staged, _) = side.store().staged_sync_pages(run_id).await.unwrap();
        assert_eq!(staged.items(), 0, "{what}");

        let requests = log(&h, p, &side.api_prefix, mark).await;
        let failed: Vec<_> = requests.iter().filter(|r| r.status != 200).collect();
        assert!(failed.is_empty(), "{what}: {failed:?}");
        let fetches = page_fetches(&requests);
        assert!(fetches.values().all(|n| *n == 1), "{what}: {fetches:?}");
        assert_eq!(fetches.len() as u64, reference.progress.pages, "{what}");
        assert_eq!(
            outcome.progress.api_calls,
            requests.len() as u64,
            "{what}: API calls counted"
        );

        let jobs = side
            .store()
            .list_jobs(None, 10_000)
            .await
            .unwrap()
            .into_iter()
            .filter(|j| j.kind == SyncRunJob::KIND)
            .count() as u64;
        assert!(
            (1..=outcome.progress.pages).contains(&jobs),
            "{what}: {jobs} jobs"
        );
        // A job that committed several pages, hence fetched ahead, and then handed over.
        if jobs > 1 && jobs < outcome.progress.pages {
            split_mid_run += 1;
        }
        side.db.cleanup().await;
    }
    assert!(
        split_mid_run > 0,
        "{p}: no slice both fetched ahead and handed over"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hubspot_slices_handed_over_while_fetching_ahead_keep_every_page_once() {
    handed_over_slices_keep_every_page_once(Provider::Hubspot).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zoho_slices_handed_over_while_fetching_ahead_keep_every_page_once() {
    handed_over_slices_keep_every_page_once(Provider::ZohoCrm).await;
}

/// A run whose job the reaper declared dead (its worker died on every attempt) ends `failed`
/// with `worker_lost`, so the connection's next run can start; told twice, nothing changes.
#[tokio::test]
async fn a_run_whose_job_died_fails_and_frees_the_connection() {
    let p = Provider::Hubspot;
    let h = seeded(p, 10).await;
    let side = Side::new(&h, p, HttpConfig::default(), SyncOptions::default()).await;
    let w = side
        .worker(&h, side.store(), WorkerConfig::default(), None)
        .await;
    let run_id = side.start(&w).await;
    // A page the run staged before its worker died is merged, not left behind.
    let page = stage_json(&[PageItem::Remove {
        object: "contact".into(),
        remote_id: "gone".into(),
        at: Millis(1),
    }])
    .unwrap();
    let mut tx = side.store().begin().await.unwrap();
    side.store()
        .stage_sync_pages(&mut tx, run_id, 0, &[page])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let job = SyncRunJob { run_id };
    let error = "lease expired: the worker crashed";
    job.on_abandoned(side.store(), error, h.clock.now())
        .await
        .unwrap();
    let run = side.store().get_sync_run(run_id).await.unwrap().unwrap();
    assert_eq!(
        (
            run.status.as_str(),
            run.error_code.as_deref(),
            run.error.as_deref()
        ),
        ("failed", Some("worker_lost"), Some(error))
    );
    let (staged, _) = side.store().staged_sync_pages(run_id).await.unwrap();
    assert_eq!(staged.items(), 0, "the staged page was merged");
    job.on_abandoned(side.store(), "again", h.clock.now())
        .await
        .unwrap();
    let same = side.store().get_sync_run(run_id).await.unwrap().unwrap();
    assert_eq!(
        same.error.as_deref(),
        Some(error),
        "an ended run is left alone"
    );
    let next = w.sync.start(&side.tenant, p, None, "test").await.unwrap();
    assert!(next.created, "the connection is free for a new run");
    side.db.cleanup().await;
    h.stop().await;
}

/// The initial import's `max_records` ends each step once that many people are kept, whether
/// the limit falls at a page's end or inside a page, and no page past it is asked for: the
/// next page is fetched while a page is converted only when that page cannot reach the limit.
/// `page` is the provider's largest page for a newest-first listing (HubSpot's search, Zoho's
/// list); HubSpot's may be shorter, as its search pages split at equal modification times.
async fn initial_limit_ends_each_step(p: Provider, page: u64) {
    let h = seeded(p, 4000).await;
    let reference = reference(&h, p).await;
    let mut per_object: BTreeMap<&str, u64> = BTreeMap::new();
    for (object, _) in reference.people.keys() {
        *per_object.entry(object.as_str()).or_default() += 1;
    }
    for limit in [2 * page, 2 * page + page / 2] {
        let what = format!("{p}: at most {limit} people an object");
        let side = Side::new(&h, p, HttpConfig::default(), SyncOptions::default()).await;
        let conn = &side.store().list_connections(&side.tenant).await.unwrap()[0];
        let mut settings: Value = serde_json::from_str(&conn.settings).unwrap_or(json!({}));
        settings["people"]["initial"] = json!({ "max_records": limit });
        assert!(
            side.store()
                .set_connection_settings(conn.id, &settings.to_string())
                .await
                .unwrap()
        );
        let mark = log_mark(&h, p).await;
        let w = side
            .worker(&h, side.store(), WorkerConfig::default(), None)
            .await;
        let run_id = side.start(&w).await;
        let run = drive(&h, &side, run_id, None, OnHold::Wait).await;
        let outcome = Outcome::of(&side, &run).await;
        let progress = &outcome.progress;

        let mut stored: BTreeMap<&str, u64> = BTreeMap::new();
        for (object, _) in outcome.people.keys() {
            *stored.entry(object.as_str()).or_default() += 1;
        }
        for (object, n) in &per_object {
            assert!(*n > limit, "{what}: only {n} {object}s seeded");
            assert_eq!(stored.get(object), Some(&limit), "{what}: {object}s");
        }
        assert_eq!(progress.imported, limit * per_object.len() as u64);
        // Every page asked for is counted, and each step's last page is the one the limit
        // fell in: what was fetched past the limit is less than a page a step.
        let requests = log(&h, p, &side.api_prefix, mark).await;
        assert_eq!(
            requests.len() as u64,
            progress.pages,
            "{what}: {requests:?}"
        );
        assert_eq!(progress.api_calls, progress.pages, "{what}");
        let skipped: u64 = progress.skipped.values().sum();
        let past = progress.fetched - progress.imported - skipped;
        assert!(
            past < page * per_object.len() as u64,
            "{what}: {progress:?}"
        );
        assert!(
            progress.pages >= limit.div_ceil(page) * per_object.len() as u64,
            "{what}: {progress:?}"
        );
        side.db.cleanup().await;
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hubspot_initial_limit_ends_the_step() {
    initial_limit_ends_each_step(Provider::Hubspot, 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zoho_initial_limit_ends_each_step() {
    initial_limit_ends_each_step(Provider::ZohoCrm, 200).await;
}
