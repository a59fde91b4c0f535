//! `sandbox`: whether the vendor emulators can ever be the bottleneck of a benchmark.
//!
//! A `renkei sandbox` process is started, the resident memory read, `--records` people seeded
//! into every emulator (the time is measured), the memory read again, and then each emulator's
//! people are read page by page through its public API as a connector would: HubSpot contacts
//! 100 at a time, Salesforce `SELECT … FROM Contact` in 2,000-row batches, Zoho contacts 200
//! at a time. One result line per emulator gives the first-page and follow-page latencies; one
//! line gives the memory. Rate limits are raised through `_control/limits` first, since this
//! measures the emulator and not the vendor's budget.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use hdrhistogram::Histogram;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::output::{emit, round};

/// A page must be served within this many milliseconds at the 99th percentile.
const TARGET_PAGE_P99_MS: f64 = 10.0;
/// All emulators together, with `--records` seeded into each, must stay under this.
const TARGET_MEMORY_MB: f64 = 500.0;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The renkei binary to run.
    #[arg(long, default_value = "target/release/renkei")]
    binary: PathBuf,
    /// People seeded into each emulator.
    #[arg(long, default_value_t = 100_000)]
    records: usize,
    /// Pages read from each emulator (after the first).
    #[arg(long, default_value_t = 200)]
    pages: usize,
}

#[derive(Debug, Serialize)]
struct PageResult {
    bench: &'static str,
    provider: String,
    records: usize,
    page_size: usize,
    pages: u64,
    first_page_ms: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    target_p99_ms: f64,
    met: bool,
}

#[derive(Debug, Serialize)]
struct MemoryResult {
    bench: &'static str,
    records_per_provider: usize,
    seed_seconds: f64,
    rss_empty_mb: f64,
    rss_seeded_mb: f64,
    target_mb: f64,
    met: bool,
}

/// A `renkei sandbox` child process on a free loopback port, killed when dropped (or by
/// [`SandboxProcess::stop`]). Benches run the emulators in a process of their own so that the
/// vendors' records never count in the memory of the process being measured.
pub struct SandboxProcess {
    child: tokio::process::Child,
    pid: u32,
    /// `http://127.0.0.1:PORT`; the directory is at `{origin}/sandbox`.
    pub origin: String,
}

impl SandboxProcess {
    /// Starts `binary sandbox` and returns once it printed the address it listens on.
    pub async fn start(binary: &std::path::Path) -> anyhow::Result<Self> {
        let binary = crate::server::check_binary(binary)?;
        let port = crate::server::free_port()?;
        let mut child = tokio::process::Command::new(&binary)
            .args(["sandbox", "--listen", &format!("127.0.0.1:{port}")])
            .env("RENKEI_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {} sandbox", binary.display()))?;
        let pid = child.id().context("the sandbox exited at once")?;
        let stderr = child.stderr.take().context("stderr is piped")?;
        let mut lines = BufReader::new(stderr).lines();
        let origin = tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(url) = line.strip_prefix("renkei sandbox listening on ") {
                    return Some(url.trim().trim_end_matches("/sandbox").to_owned());
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .context("the sandbox did not print its address")?;
        // Keep reading its stderr, so that the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self { child, pid, origin })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub async fn stop(mut self) {
        self.child.kill().await.ok();
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let sandbox = SandboxProcess::start(&args.binary).await?;
    let (origin, pid) = (sandbox.origin.clone(), sandbox.pid());
    let client = reqwest::Client::new();
    let dir = directory(&client, &origin).await?;
    let providers: Vec<String> = dir["providers"]
        .as_object()
        .context("the directory lists no providers")?
        .keys()
        .cloned()
        .collect();

    let rss_empty = rss_mb(pid)?;
    let started = Instant::now();
    for p in &providers {
        control(&client, &origin, p, "limits", unlimited(p)).await?;
        eprintln!("sandbox: seeding {} people into {p}", args.records);
        control(
            &client,
            &origin,
            p,
            "seed",
            json!({"count": args.records, "seed": 1}),
        )
        .await?;
    }
    let seed_seconds = started.elapsed().as_secs_f64();
    let rss_seeded = rss_mb(pid)?;
    emit(&MemoryResult {
        bench: "sandbox_memory",
        records_per_provider: args.records,
        seed_seconds: round(seed_seconds, 1),
        rss_empty_mb: round(rss_empty, 1),
        rss_seeded_mb: round(rss_seeded, 1),
        target_mb: TARGET_MEMORY_MB,
        met: rss_seeded <= TARGET_MEMORY_MB,
    })?;

    for p in &providers {
        let tokens = control(&client, &origin, p, "tokens", Value::Null).await?;
        let token = tokens["access_token"]
            .as_str()
            .context("no access_token from _control/tokens")?
            .to_owned();
        let entry = &dir["providers"][p];
        let result = match p.as_str() {
            "hubspot" => hubspot(&client, entry, &token, args.pages).await?,
            "salesforce" => salesforce(&client, &tokens, entry, &token, args.pages).await?,
            "zoho" => zoho(&client, &tokens, entry, &token, args.pages).await?,
            other => {
                eprintln!("sandbox: no page bench for {other}");
                continue;
            }
        };
        emit(&PageResult {
            records: args.records,
            ..result
        })?;
    }
    sandbox.stop().await;
    Ok(())
}

/// `GET {origin}/sandbox`: every emulator's URLs, clients and accounts.
pub async fn directory(client: &reqwest::Client, origin: &str) -> anyhow::Result<Value> {
    let resp = client.get(format!("{origin}/sandbox")).send().await?;
    let status = resp.status();
    if !status.is_success() {
        bail!("GET /sandbox: {status}");
    }
    Ok(resp.json().await?)
}

/// Limits high enough that the bench measures the emulator, not the vendor's budget. HubSpot's
/// are raised besides being turned off, because its answers still announce what is left of
/// the ten-second window, and a client that honours those headers (renkei's does) would wait
/// for the window as soon as the announced 110 calls were used.
pub fn unlimited(provider: &str) -> Value {
    match provider {
        "hubspot" => json!({
            "enabled": false,
            "oauth_ten_second_max": 1_000_000_000u64,
            "private_app_ten_second_max": 1_000_000_000u64,
            "private_app_daily_max": 1_000_000_000u64,
        }),
        "salesforce" => json!({"daily_api_requests": 1_000_000_000u64}),
        "zoho" => json!({"credits_per_day": 1_000_000_000u64, "concurrency_per_org": 1000}),
        _ => json!({}),
    }
}

/// `POST {origin}/sandbox/{provider}/_control/{what}` with `body` (none when null); the
/// answer's JSON, or `null` when it has none.
pub async fn control(
    client: &reqwest::Client,
    origin: &str,
    provider: &str,
    what: &str,
    body: Value,
) -> anyhow::Result<Value> {
    let mut req = client.post(format!("{origin}/sandbox/{provider}/_control/{what}"));
    if !body.is_null() {
        req = req.json(&body);
    }
    let resp = req.send().await?;
    let status = resp.status();
    let text = resp.text().await?;
    if !status.is_success() {
        bail!("{provider} _control/{what}: {status} {text}");
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

struct Timer {
    first_ms: Option<f64>,
    hist: Histogram<u64>,
    max_us: u64,
}

impl Timer {
    fn new() -> anyhow::Result<Timer> {
        Ok(Timer {
            first_ms: None,
            hist: Histogram::new_with_bounds(1, 60_000_000, 3)?,
            max_us: 0,
        })
    }

    async fn get(&mut self, req: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let started = Instant::now();
        let resp = req.send().await?;
        let status = resp.status();
        let body = resp.bytes().await?;
        let us = started.elapsed().as_micros() as u64;
        if !status.is_success() {
            bail!("{status}: {}", String::from_utf8_lossy(&body));
        }
        if self.first_ms.is_none() {
            self.first_ms = Some(us as f64 / 1000.0);
        } else {
            self.hist.record(us.max(1))?;
            self.max_us = self.max_us.max(us);
        }
        if body.is_empty() {
            return Ok(Value::Null);
        }
        Ok(serde_json::from_slice(&body)?)
    }

    fn result(self, provider: &str, page_size: usize) -> PageResult {
        let ms = |us: u64| round(us as f64 / 1000.0, 2);
        let p99 = ms(self.hist.value_at_quantile(0.99));
        PageResult {
            bench: "sandbox_pages",
            provider: provider.to_owned(),
            records: 0,
            page_size,
            pages: self.hist.len(),
            first_page_ms: round(self.first_ms.unwrap_or(0.0), 2),
            p50_ms: ms(self.hist.value_at_quantile(0.5)),
            p99_ms: p99,
            max_ms: ms(self.max_us),
            target_p99_ms: TARGET_PAGE_P99_MS,
            met: p99 <= TARGET_PAGE_P99_MS,
        }
    }
}

async fn hubspot(
    client: &reqwest::Client,
    entry: &Value,
    token: &str,
    pages: usize,
) -> anyhow::Result<PageResult> {
    let api = entry["urls"]["api"].as_str().context("hubspot api url")?;
    let mut timer = Timer::new()?;
    let mut after: Option<String> = None;
    for _ in 0..=pages {
        let mut url = format!(
            "{api}/crm/v3/objects/contacts?limit=100&properties=firstname,lastname,email,phone,company"
        );
        if let Some(a) = &after {
            url.push_str(&format!("&after={a}"));
        }
        let page = timer.get(client.get(url).bearer_auth(token)).await?;
        after = page["paging"]["next"]["after"].as_str().map(str::to_owned);
        if after.is_none() {
            break;
        }
    }
    Ok(timer.result("hubspot", 100))
}

async fn salesforce(
    client: &reqwest::Client,
    tokens: &Value,
    entry: &Value,
    token: &str,
    pages: usize,
) -> anyhow::Result<PageResult> {
    let instance = tokens["instance_url"]
        .as_str()
        .or(entry["urls"]["api"].as_str())
        .context("salesforce instance url")?;
    let version = entry["api_version"].as_str().unwrap_or("v62.0");
    let mut timer = Timer::new()?;
    let q = "SELECT Id, FirstName, LastName, Email, Phone, Account.Name FROM Contact";
    let mut page = timer
        .get(
            client
                .get(format!("{instance}/services/data/{version}/query"))
                .query(&[("q", q)])
                .bearer_auth(token),
        )
        .await?;
    for _ in 0..pages {
        let Some(next) = page["nextRecordsUrl"].as_str() else {
            break;
        };
        // nextRecordsUrl is relative to the instance URL (`/services/data/…`), as Salesforce
        // answers it; the sandbox's instance URLs carry a path, so join rather than take the host.
        page = timer
            .get(client.get(format!("{instance}{next}")).bearer_auth(token))
            .await?;
    }
    Ok(timer.result("salesforce", 2000))
}

async fn zoho(
    client: &reqwest::Client,
    tokens: &Value,
    entry: &Value,
    token: &str,
    pages: usize,
) -> anyhow::Result<PageResult> {
    let api = tokens["api_domain"]
        .as_str()
        .or(entry["urls"]["api"].as_str())
        .context("zoho api domain")?;
    let mut timer = Timer::new()?;
    let mut page_token: Option<String> = None;
    for page_no in 1..=pages + 1 {
        let mut url = format!(
            "{api}/crm/v8/Contacts?fields=First_Name,Last_Name,Email,Phone,Account_Name&per_page=200"
        );
        match &page_token {
            Some(t) => url.push_str(&format!("&page_token={t}")),
            None => url.push_str(&format!("&page={page_no}")),
        }
        let page = timer
            .get(
                client
                    .get(url)
                    .header("Authorization", format!("Zoho-oauthtoken {token}")),
            )
            .await?;
        let info = &page["info"];
        if info["more_records"] != json!(true) {
            break;
        }
        page_token = info["next_page_token"].as_str().map(str::to_owned);
    }
    Ok(timer.result("zoho", 200))
}

fn rss_mb(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .context("reading the sandbox's /proc/<pid>/status")?;
    Ok(crate::memory::kib_field(&status, "VmRSS")? / 1024.0)
}

/// Empties the emulator's request log.
pub async fn clear_requests(
    client: &reqwest::Client,
    origin: &str,
    emu: &str,
) -> anyhow::Result<()> {
    let resp = client
        .delete(format!("{origin}/sandbox/{emu}/_control/requests"))
        .send()
        .await?;
    if !resp.status().is_success() {
        bail!("{emu} DELETE _control/requests: {}", resp.status());
    }
    Ok(())
}

/// Calls `f` with every request the emulator logged since the log was cleared, oldest first.
pub async fn each_request(
    client: &reqwest::Client,
    origin: &str,
    emu: &str,
    mut f: impl FnMut(&Value) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut since = 0u64;
    loop {
        let page: Value = client
            .get(format!("{origin}/sandbox/{emu}/_control/requests"))
            .query(&[("since", since.to_string()), ("limit", "10000".into())])
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let requests = page["requests"]
            .as_array()
            .context("the request log has no `requests`")?;
        if requests.is_empty() {
            return Ok(());
        }
        for r in requests {
            f(r)?;
        }
        since = page["last_seq"]
            .as_u64()
            .context("the request log has no `last_seq`")?;
    }
}
