//! `import`: an initial people import from one CRM, end to end, through renkei's own sync
//! engine.
//!
//! The vendor is a `renkei sandbox` **child process**, seeded with `--records` people in its
//! default account and with its rate limits lifted. It runs apart so that the emulator's own
//! records (hundreds of MB at 100,000 people) never count in the memory measured here: this
//! process holds only renkei's side, the store, the vault, the connectors and the worker
//! runtime. The bench opens a fresh database (SQLite in a temporary directory, or a scratch
//! PostgreSQL schema with `--database-url`), creates tenant `bench` (region JP, locale ja),
//! connects it with tokens the emulator mints, and stores the provider's default settings with
//! two changes so that every seeded person is imported and counted: no required fields, and
//! every object the provider keeps people in (Zoho's default is leads only, and the seed puts
//! people with a company among the contacts). Then it starts an initial run and drives the
//! `sync_run` jobs with [`Runtime::run_until_idle`] until the run has succeeded.
//!
//! Measured: the wall time from the start of the run to its success, records per second
//! (fetched over wall), API calls as the run counted them and as the emulator logged them
//! against the least possible (one per page of the largest size), the resident memory before
//! the run and the process's peak. renkei paces every provider account at
//! `Provider::info().rate` in production; the bench turns that pacing off
//! ([`HttpConfig::pacing`]), as the issue measures imports "with rate limits lifted", and the
//! emulators' own limits are lifted too. `--paced` keeps renkei's pacing on, for comparison:
//! the [`crate::timeline`] module then splits the wall time from outside, and the result also
//! gives the throughput without the time spent waiting for that pace.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use renkei_connectors::http::HttpConfig;
use renkei_connectors::people::PersonObject;
use renkei_connectors::{Connectors, Provider, ProvidersConfig};
use renkei_core::{Keyring, Millis, TenantId};
use renkei_engine::connect::{ConnectConfig, ConnectService, ImportTokens};
use renkei_engine::settings::{ConnectionSettings, RequiredField};
use renkei_engine::sync::{Progress, RunKind, SyncOptions, SyncService};
use renkei_engine::vault::{Target, Vault, VaultOptions};
use renkei_engine::{Runtime, SystemClock, WorkerConfig};
use renkei_store::Store;
use serde::Serialize;
use serde_json::json;

use crate::cpu::{bench_group, threads, used_between};
use crate::db::{BenchDb, backend_name};
use crate::output::{emit, rate, round};
use crate::sandbox::{SandboxProcess, clear_requests, control, directory, each_request, unlimited};
use crate::timeline::{Breakdown, Timeline, breakdown, loop_overhead, median, pacer_wait};

/// Records per second an initial import must reach.
const TARGET_RECORDS_PER_SEC: f64 = 20_000.0;
/// API calls beyond one per full page that an import may make.
const TARGET_EXTRA_CALLS: u64 = 3;
/// The bench process's peak resident memory, in MiB.
const TARGET_PEAK_MB: f64 = 100.0;
/// The most people one `_control/seed` call adds (the emulators' `MAX_SEED`).
const SEED_CHUNK: usize = 200_000;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The CRM to import from: hubspot, salesforce or zoho_crm.
    #[arg(long, value_parser = parse_provider)]
    provider: Provider,
    /// People seeded into the emulator's default account, all of them imported.
    #[arg(long, default_value_t = 100_000)]
    records: usize,
    /// The renkei binary whose `sandbox` subcommand runs the emulators.
    #[arg(long, default_value = "target/release/renkei")]
    binary: PathBuf,
    /// A `postgres://` URL to run against PostgreSQL, in a scratch schema created and dropped
    /// by the bench. Without it, a SQLite file in a temporary directory is used.
    #[arg(long)]
    database_url: Option<String>,
    /// Give up (and fail) when the run has not ended after this many seconds.
    #[arg(long, default_value_t = 1800)]
    timeout_secs: u64,
    /// Keep renkei's own pacing of the provider account (`Provider::info().rate`), which the
    /// bench otherwise turns off.
    #[arg(long)]
    paced: bool,
}

fn parse_provider(s: &str) -> Result<Provider, String> {
    Provider::parse(s).ok_or_else(|| format!("{s:?} is not one of hubspot, salesforce, zoho_crm"))
}

/// The emulator's name in `/sandbox/{name}`.
fn emulator(p: Provider) -> &'static str {
    match p {
        Provider::Hubspot => "hubspot",
        Provider::Salesforce => "salesforce",
        Provider::ZohoCrm => "zoho",
    }
}

#[derive(Debug, Serialize)]
struct ImportResult {
    bench: &'static str,
    provider: &'static str,
    backend: &'static str,
    /// Where the emulators run: always "separate process" (see the module documentation).
    sandbox: &'static str,
    /// People seeded, and expected to be imported.
    records: usize,
    seed_seconds: f64,
    objects: Vec<&'static str>,
    fetched: u64,
    imported: u64,
    skipped: BTreeMap<String, u64>,
    pages: u64,
    /// From the start of the run to its success.
    wall_seconds: f64,
    /// Fetched records over the wall time.
    records_per_sec: f64,
    api_calls: ApiCalls,
    /// MiB (`VmRSS`) just before the run started, everything set up.
    rss_before_mb: f64,
    /// MiB (`VmHWM`): the process's peak, start-up and run included.
    peak_rss_mb: f64,
    /// MiB (`VmRSS`) after the run.
    rss_after_mb: f64,
    pacing: Pacing,
    time: TimeSplit,
    /// CPU seconds used during the run, by thread group (see [`crate::cpu`]): `sync_loop`,
    /// `sqlite`, `tokio_workers`, `other`, and the emulators' process, `sandbox`.
    cpu_seconds: BTreeMap<&'static str, f64>,
    targets: Vec<TargetResult>,
    /// Every target met.
    met: bool,
}

#[derive(Debug, Serialize)]
struct ApiCalls {
    /// The run's own count (`progress.api_calls`).
    run: u64,
    /// Requests the emulator logged during the run.
    emulator: u64,
    /// Of those, answered with a 4xx or 5xx.
    emulator_errors: u64,
    page_size: usize,
    /// ceil(records / page_size): one call per full page.
    expected: u64,
}

#[derive(Debug, Serialize)]
struct Pacing {
    /// Whether renkei paced the provider account (`--paced`); off, the rate and burst below
    /// are what production would use, and the wait is what the gaps show of anything else.
    paced: bool,
    /// renkei's pace per provider account (`Provider::info().rate`), requests per second.
    rate_per_sec: u32,
    burst: u32,
    /// What the gaps between pages took beyond the loop's own work: the pacer's wait.
    waited_seconds: f64,
    /// The loop's own work between two pages, measured on the first pages (the burst the
    /// pacer lets through at once).
    loop_overhead_ms: f64,
    /// Wall time less the pacer's wait.
    unpaced_seconds: f64,
    unpaced_records_per_sec: f64,
}

/// The wall time cut by [`crate::timeline::breakdown`]; the four parts add up to it.
#[derive(Debug, Serialize)]
struct TimeSplit {
    /// Pacer wait, connection read, job hand-overs.
    before_request_seconds: f64,
    /// The emulator answering, transfer included.
    request_seconds: f64,
    /// Parsing, normalising and the store's transaction.
    after_request_seconds: f64,
    /// From the last commit to the run seen succeeded.
    tail_seconds: f64,
    requests: u64,
    per_request_ms: PerRequest,
}

/// Means per request, in milliseconds, and the median gap before one.
#[derive(Debug, Serialize)]
struct PerRequest {
    before_p50: f64,
    request_mean: f64,
    after_mean: f64,
}

#[derive(Debug, Serialize)]
struct TargetResult {
    name: &'static str,
    /// "min" or "max".
    bound: &'static str,
    target: f64,
    value: f64,
    met: bool,
}

impl TargetResult {
    fn at_least(name: &'static str, target: f64, value: f64) -> Self {
        Self {
            name,
            bound: "min",
            target,
            value,
            met: value >= target,
        }
    }

    fn at_most(name: &'static str, target: f64, value: f64) -> Self {
        Self {
            name,
            bound: "max",
            target,
            value,
            met: value <= target,
        }
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    if args.records == 0 {
        bail!("--records must be at least 1");
    }
    let timeline = Timeline::install()?;
    let sandbox = SandboxProcess::start(&args.binary).await?;
    let db = match BenchDb::open(args.database_url.as_deref(), 4).await {
        Ok(db) => db,
        Err(e) => {
            sandbox.stop().await;
            return Err(e);
        }
    };
    let emulators = Emulators {
        origin: sandbox.origin.clone(),
        pid: sandbox.pid(),
    };
    let result = measure(&args, &emulators, &db.store, &timeline).await;
    // The emulators and the scratch database go whether or not the bench succeeded.
    db.cleanup().await;
    sandbox.stop().await;
    emit(&result?)
}

/// Where the emulators answer, and the process they run in.
struct Emulators {
    /// `http://127.0.0.1:PORT`; the directory is at `{origin}/sandbox`.
    origin: String,
    pid: u32,
}

async fn measure(
    args: &Args,
    emulators: &Emulators,
    store: &Store,
    timeline: &Timeline,
) -> anyhow::Result<ImportResult> {
    let p = args.provider;
    let emu = emulator(p);
    let origin = emulators.origin.as_str();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .context("building the HTTP client")?;

    control(&client, origin, emu, "limits", unlimited(emu)).await?;
    let seeding = Instant::now();
    let mut left = args.records;
    let mut chunk_no = 0u64;
    while left > 0 {
        let n = left.min(SEED_CHUNK);
        chunk_no += 1;
        let summary = control(
            &client,
            origin,
            emu,
            "seed",
            json!({"count": n, "seed": chunk_no}),
        )
        .await?;
        eprintln!("import: seeded {n} people into {emu}: {summary}");
        left -= n;
    }
    let seed_seconds = seeding.elapsed().as_secs_f64();

    store
        .migrate()
        .await
        .context("migrating the bench database")?;
    let mut providers = ProvidersConfig::default();
    renkei_connectors::sandbox_directory::apply(&directory(&client, origin).await?, &mut providers);
    let http = HttpConfig {
        pacing: args.paced,
        ..HttpConfig::default()
    };
    let connectors = Arc::new(Connectors::new(&providers, http)?);
    let keyring = Arc::new(Keyring::parse(&Keyring::generate_key()?)?);
    let vault = Arc::new(Vault::new(
        store.clone(),
        keyring,
        connectors,
        Arc::new(SystemClock),
        VaultOptions::default(),
    ));
    let tenant = TenantId::parse("bench")?;
    store
        .put_tenant(&tenant, "Bench", "JP", "ja", "Asia/Tokyo", Millis::now())
        .await?;
    let conn_id = connect_minted(&client, origin, &vault, &tenant, p).await?;
    let objects = PersonObject::supported(p).to_vec();
    let settings = bench_settings(p, &objects)?;
    if !store.set_connection_settings(conn_id, &settings).await? {
        bail!("could not store the connection's settings");
    }

    let sync = Arc::new(SyncService::new(vault.clone(), SyncOptions::default()));
    let mut registry = renkei_engine::registry();
    renkei_engine::sync::register(&mut registry, sync.clone());
    let runtime = Runtime::new(store.clone(), registry, WorkerConfig::default());

    // The log then holds the run's requests only, not the connect's identity calls.
    clear_requests(&client, origin, emu).await?;
    let rss_before = proc_status_mb("VmRSS")?;
    eprintln!(
        "import: {} people from {} on {}; RSS {rss_before:.1} MiB before the run",
        args.records,
        p,
        backend_name(store.backend())
    );

    let sandbox_pid = emulators.pid.to_string();
    let (cpu_before, sandbox_cpu_before) = (threads("self")?, threads(&sandbox_pid)?);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.timeout_secs);
    let run_id = sync
        .start(&tenant, p, Some(RunKind::Initial), "bench")
        .await
        .map_err(|e| anyhow::anyhow!("starting the run: {e} ({})", e.code()))?
        .run
        .id;
    let run = loop {
        runtime.run_until_idle().await?;
        let run = store
            .get_sync_run(run_id)
            .await?
            .context("the run disappeared")?;
        if !run.is_active() {
            break run;
        }
        // Nothing is due but the run goes on: its job is snoozed (rate limited) or retrying.
        if Instant::now() >= deadline {
            bail!(
                "the run had not ended after {}s: {} {}",
                args.timeout_secs,
                run.status,
                run.progress
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let wall = started.elapsed();
    let (cpu_after, sandbox_cpu_after) = (threads("self")?, threads(&sandbox_pid)?);
    let mut cpu: BTreeMap<&'static str, f64> = used_between(&cpu_before, &cpu_after, bench_group)
        .into_iter()
        .map(|(k, v)| (k, round(v.as_secs_f64(), 2)))
        .collect();
    for (_, v) in used_between(&sandbox_cpu_before, &sandbox_cpu_after, |_| "sandbox") {
        cpu.insert("sandbox", round(v.as_secs_f64(), 2));
    }
    let marks = timeline.since(started);
    if run.status != "succeeded" {
        bail!(
            "the run {}: {} {}",
            run.status,
            run.error_code.as_deref().unwrap_or("-"),
            run.error.as_deref().unwrap_or("no reason recorded")
        );
    }
    let peak = proc_status_mb("VmHWM")?;
    let rss_after = proc_status_mb("VmRSS")?;
    let progress: Progress =
        serde_json::from_str(&run.progress).context("reading the run's progress")?;
    let (emulator_calls, emulator_errors) = count_requests(&client, origin, emu).await?;

    let split = breakdown(wall, &marks);
    let (rate_per_sec, burst) = p.info().rate;
    let overhead = loop_overhead(&split.gaps, burst).unwrap_or_default();
    let waited = pacer_wait(&split.gaps, overhead);
    let unpaced = wall.saturating_sub(waited);
    let page_size = renkei_connectors::people::max_page_size(p);
    let expected = (args.records as u64).div_ceil(page_size as u64);
    let records_per_sec = rate(progress.fetched, wall);
    let unpaced_records_per_sec = rate(progress.fetched, unpaced);
    if progress.fetched != args.records as u64 {
        eprintln!(
            "import: fetched {} records of the {} seeded",
            progress.fetched, args.records
        );
    }
    let targets = vec![
        TargetResult::at_least("records_per_sec", TARGET_RECORDS_PER_SEC, records_per_sec),
        TargetResult::at_least(
            "unpaced_records_per_sec",
            TARGET_RECORDS_PER_SEC,
            unpaced_records_per_sec,
        ),
        TargetResult::at_most(
            "api_calls",
            (expected + TARGET_EXTRA_CALLS) as f64,
            progress.api_calls.max(emulator_calls) as f64,
        ),
        TargetResult::at_most("peak_rss_mb", TARGET_PEAK_MB, round(peak, 1)),
    ];
    Ok(ImportResult {
        bench: "import",
        provider: p.as_str(),
        backend: backend_name(store.backend()),
        sandbox: "separate process",
        records: args.records,
        seed_seconds: round(seed_seconds, 2),
        objects: objects.iter().map(|o| o.as_str()).collect(),
        fetched: progress.fetched,
        imported: progress.imported,
        skipped: progress.skipped.clone(),
        pages: progress.pages,
        wall_seconds: round(wall.as_secs_f64(), 3),
        records_per_sec,
        api_calls: ApiCalls {
            run: progress.api_calls,
            emulator: emulator_calls,
            emulator_errors,
            page_size,
            expected,
        },
        rss_before_mb: round(rss_before, 1),
        peak_rss_mb: round(peak, 1),
        rss_after_mb: round(rss_after, 1),
        pacing: Pacing {
            paced: args.paced,
            rate_per_sec,
            burst,
            waited_seconds: round(waited.as_secs_f64(), 3),
            loop_overhead_ms: round(overhead.as_secs_f64() * 1000.0, 3),
            unpaced_seconds: round(unpaced.as_secs_f64(), 3),
            unpaced_records_per_sec,
        },
        time: time_split(&split),
        cpu_seconds: cpu,
        met: targets.iter().all(|t| t.met),
        targets,
    })
}

fn time_split(b: &Breakdown) -> TimeSplit {
    let s = |d: Duration| round(d.as_secs_f64(), 3);
    let per = |d: Duration| {
        let n = b.requests.max(1) as f64;
        round(d.as_secs_f64() * 1000.0 / n, 3)
    };
    TimeSplit {
        before_request_seconds: s(b.before_request),
        request_seconds: s(b.request),
        after_request_seconds: s(b.after_request),
        tail_seconds: s(b.tail),
        requests: b.requests,
        per_request_ms: PerRequest {
            before_p50: round(
                median(&b.gaps.iter().map(|g| g.len).collect::<Vec<_>>()).as_secs_f64() * 1000.0,
                3,
            ),
            request_mean: per(b.request),
            after_mean: per(b.after_request),
        },
    }
}

/// The provider's default settings for a Japanese tenant, with no required fields and every
/// object the provider keeps people in, as the settings document the connection stores.
fn bench_settings(p: Provider, objects: &[PersonObject]) -> anyhow::Result<String> {
    let mut settings = ConnectionSettings::defaults(p, "ja");
    settings.people.required = Vec::<RequiredField>::new();
    settings.people.objects = objects.to_vec();
    settings.validate(p).context("the bench's settings")?;
    Ok(serde_json::to_string(&settings)?)
}

/// Connects `tenant` to the emulator's default account with tokens it mints, through
/// [`ConnectService::import`] (the engine's token-lifecycle tests do the same; the browser
/// flow is tested elsewhere). Answers the connection's id.
async fn connect_minted(
    client: &reqwest::Client,
    origin: &str,
    vault: &Arc<Vault>,
    tenant: &TenantId,
    p: Provider,
) -> anyhow::Result<i64> {
    let t = control(client, origin, emulator(p), "tokens", json!({})).await?;
    let tokens = ImportTokens {
        access_token: serde_json::from_value(t["access_token"].clone())
            .context("the emulator minted no access_token")?,
        refresh_token: serde_json::from_value(t["refresh_token"].clone())
            .context("the emulator's refresh_token")?,
        expires_in: t["expires_in"].as_i64(),
        instance_url: t["instance_url"].as_str().map(str::to_owned),
        id: t["id"].as_str().map(str::to_owned),
        // Zoho names its data centre by the accounts server's path in the sandbox.
        data_centre: t["api_domain"]
            .as_str()
            .map(|d| if d.contains("/jp/") { "jp" } else { "us" }.to_owned()),
        ..Default::default()
    };
    let connect = ConnectService::new(
        vault.clone(),
        ConnectConfig {
            public_url: url::Url::parse("http://renkei.bench")?,
            session_ttl: Duration::from_secs(1800),
            state_ttl: Duration::from_secs(900),
        },
    );
    let target = Target::tenant(tenant, p);
    let conn = connect
        .import(&target, tokens, Some("bench"))
        .await
        .map_err(|e| anyhow::anyhow!("connecting {p} with minted tokens: {e}"))?;
    Ok(conn.id)
}

/// The requests the emulator logged since the log was cleared, and how many failed.
async fn count_requests(
    client: &reqwest::Client,
    origin: &str,
    emu: &str,
) -> anyhow::Result<(u64, u64)> {
    let (mut total, mut errors) = (0u64, 0u64);
    each_request(client, origin, emu, |r| {
        total += 1;
        if r["status"].as_u64().is_none_or(|s| s >= 400) {
            errors += 1;
        }
        Ok(())
    })
    .await?;
    Ok((total, errors))
}

/// A `kB` field of this process's `/proc/self/status`, in MiB.
fn proc_status_mb(field: &str) -> anyhow::Result<f64> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    Ok(crate::memory::kib_field(&status, field)? / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_import_every_person() {
        for p in Provider::ALL {
            let objects = PersonObject::supported(p).to_vec();
            let doc = bench_settings(p, &objects).unwrap();
            // What the engine will read back: the stored document over the defaults.
            let s = ConnectionSettings::effective(p, "ja", &doc).unwrap();
            assert!(s.people.required.is_empty(), "{p}");
            assert_eq!(s.people.objects, objects, "{p}");
            assert!(s.people.enabled, "{p}");
            assert_eq!(s.people.initial.max_records, None, "{p}");
            assert_eq!(s.people.initial.updated_within_days, None, "{p}");
        }
    }

    #[test]
    fn providers_parse_by_their_api_names() {
        let cases = [
            ("hubspot", Some(Provider::Hubspot)),
            ("salesforce", Some(Provider::Salesforce)),
            ("zoho_crm", Some(Provider::ZohoCrm)),
            ("zoho", None),
            ("", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_provider(s).ok(), want, "{s:?}");
        }
    }

    /// The whole bench at a small size against an in-process sandbox, for each provider: every
    /// seeded person fetched and imported, renkei's count of API calls equal to the emulator's,
    /// and within one call per page plus the allowance.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn imports_every_seeded_person_from_each_emulator() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let sandbox = renkei_sandbox::Sandbox::new(Default::default());
        tokio::spawn(renkei_sandbox::serve(
            listener,
            sandbox,
            std::future::pending::<()>(),
        ));
        let emulators = Emulators {
            origin,
            pid: std::process::id(),
        };
        // Pages: HubSpot 5 of 100; Salesforce and Zoho one or two per object.
        let records = 450;
        for p in Provider::ALL {
            let db = BenchDb::open(None, 4).await.unwrap();
            let args = Args {
                provider: p,
                records,
                binary: PathBuf::new(),
                database_url: None,
                timeout_secs: 120,
                paced: false,
            };
            // Not installed: another test may run meanwhile, and a process has one recorder.
            let timeline = Timeline::default();
            let r = measure(&args, &emulators, &db.store, &timeline).await;
            db.cleanup().await;
            let r = r.unwrap();
            assert_eq!(r.provider, p.as_str());
            assert_eq!((r.fetched, r.imported), (450, 450), "{p}");
            assert!(r.skipped.is_empty(), "{p}: {:?}", r.skipped);
            assert_eq!(r.api_calls.run, r.api_calls.emulator, "{p}");
            assert_eq!(r.api_calls.emulator_errors, 0, "{p}");
            assert_eq!(r.pages, r.api_calls.run, "{p}: one call per page");
            let calls = r.targets.iter().find(|t| t.name == "api_calls").unwrap();
            assert!(calls.met, "{p}: {} calls", calls.value);
            assert!(r.wall_seconds > 0.0 && r.records_per_sec > 0.0, "{p}");
        }
    }

    #[test]
    fn targets_compare_in_their_direction() {
        let cases = [
            (TargetResult::at_least("x", 10.0, 10.0), true),
            (TargetResult::at_least("x", 10.0, 9.9), false),
            (TargetResult::at_most("x", 10.0, 10.0), true),
            (TargetResult::at_most("x", 10.0, 10.1), false),
        ];
        for (t, met) in cases {
            assert_eq!(t.met, met, "{} {} {}", t.bound, t.target, t.value);
        }
    }
}
