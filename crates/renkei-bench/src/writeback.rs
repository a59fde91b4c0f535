//! `writeback`: call logging end to end (issue 6) — `call.ended` events posted to a real
//! `renkei serve`, routed, delivered and written as call Tasks to the Salesforce emulator.
//!
//! The emulators run in a `renkei sandbox` child process and the server is pointed at them
//! with `--sandbox-url`, so the vendor's work is not the server's. Each phase starts a fresh
//! server (its own SQLite database, or PostgreSQL scratch schema with `--database-url`) on the
//! same emulators, reset: tenant `bench` (region JP) is connected with emulator-minted tokens, its first import brings `--people` seeded people
//! in, and call logging is switched on with unknown callers left alone. Every event is a call
//! from one of the imported people's numbers, so each writes exactly one Task: one request to
//! the provider per event.
//!
//! Two phases:
//! - **lifted**: the emulator's limits lifted and renkei's pace for Salesforce set far above
//!   what the machine can do (`[providers.salesforce] rate`), so the figures are renkei's own:
//!   events per second from the first event posted to the last delivery written, and the
//!   latency of each event from accepted (its batch answered 202) to written (its delivery's
//!   `updated_at`), p50 and p99. All events are posted as fast as the intake takes them, so the
//!   latencies include the time an event waits behind the backlog.
//! - **limited**: the emulator caps the org at `--limit` R requests in any ten seconds
//!   (answering 429 with `Retry-After` beyond it) and renkei is configured with the same rate.
//!   Measured: the rate the emulator answered while the deliveries ran, as a share of R/10 s
//!   (target at least 90%), and the 429s it sent (target 0).
//!
//! The request log's times are the emulator's; the delivery times are renkei's; both are this
//! machine's clock.

use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, bail};
use reqwest::StatusCode;
use reqwest::header::AUTHORIZATION;
use serde::Serialize;
use serde_json::{Value, json};

use crate::output::{emit, rate, round};
use crate::sandbox::{SandboxProcess, clear_requests, control, each_request, unlimited};
use crate::server::Server;

/// A limited run must reach this share of the allowed rate.
const TARGET_SHARE: f64 = 0.9;
/// Events per `POST …/events`.
const BATCH: usize = 100;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// `call.ended` events of the lifted phase.
    #[arg(long, default_value_t = 10_000)]
    events: usize,
    /// People seeded in the emulator and imported; the callers.
    #[arg(long, default_value_t = 1_000)]
    people: usize,
    /// R of the limited phase: requests the emulator allows in any ten seconds; 0 skips it.
    #[arg(long, default_value_t = 300)]
    limit: u32,
    /// `call.ended` events of the limited phase (at R = 300 one event takes 1/30 s).
    #[arg(long, default_value_t = 2_000)]
    limited_events: usize,
    /// The renkei binary, for `serve` and `sandbox`.
    #[arg(long, default_value = "target/release/renkei")]
    binary: std::path::PathBuf,
    /// A `postgres://` URL to run the server on PostgreSQL, in a scratch schema created and
    /// dropped by the bench. Without it, a SQLite file in a temporary directory is used.
    #[arg(long)]
    database_url: Option<String>,
    /// Give up on a phase whose deliveries have not all ended after this many seconds.
    #[arg(long, default_value_t = 1200)]
    timeout_secs: u64,
}

#[derive(Debug, Serialize)]
struct PhaseResult {
    bench: &'static str,
    phase: &'static str,
    provider: &'static str,
    backend: &'static str,
    events: usize,
    people: usize,
    /// renkei's configured pace: requests per `per_seconds`.
    renkei_rate: (u32, u32),
    /// The emulator's cap, requests per ten seconds; null when lifted.
    emulator_cap_per_10s: Option<u32>,
    succeeded: u64,
    /// Deliveries that ended otherwise, by status.
    not_succeeded: u64,
    /// From the first event posted to the last delivery written.
    wall_seconds: f64,
    events_per_sec: f64,
    latency_ms: Latency,
    requests: Requests,
    targets: Vec<Target>,
    met: bool,
}

#[derive(Debug, Serialize)]
struct Latency {
    p50: f64,
    p99: f64,
    max: f64,
}

#[derive(Debug, Serialize)]
struct Requests {
    /// Vendor requests the emulator logged while the events were delivered.
    total: u64,
    answered_429: u64,
    other_errors: u64,
    /// From the first to the last of them.
    seconds: f64,
    per_10s: f64,
}

#[derive(Debug, Serialize)]
struct Target {
    name: &'static str,
    bound: &'static str,
    target: f64,
    value: f64,
    met: bool,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    if args.events == 0 || args.people == 0 {
        bail!("--events and --people must be at least 1");
    }
    let sandbox = SandboxProcess::start(&args.binary).await?;
    let result = phases(&args, &sandbox.origin).await;
    sandbox.stop().await;
    for r in result? {
        emit(&r)?;
    }
    Ok(())
}

async fn phases(args: &Args, origin: &str) -> anyhow::Result<Vec<PhaseResult>> {
    let mut out = vec![phase(args, origin, "lifted", args.events, None).await?];
    if args.limit > 0 {
        out.push(
            phase(
                args,
                origin,
                "limited",
                args.limited_events,
                Some(args.limit),
            )
            .await?,
        );
    }
    Ok(out)
}

async fn phase(
    args: &Args,
    origin: &str,
    name: &'static str,
    events: usize,
    cap: Option<u32>,
) -> anyhow::Result<PhaseResult> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()?;
    control(&client, origin, "salesforce", "reset", Value::Null).await?;
    let mut limits = unlimited("salesforce");
    limits["requests_per_10s"] = json!(cap.unwrap_or(0));
    control(&client, origin, "salesforce", "limits", limits).await?;
    control(
        &client,
        origin,
        "salesforce",
        "seed",
        json!({"count": args.people, "seed": 6}),
    )
    .await?;

    // renkei's pace: the emulator's cap, or far more than this machine can send.
    let renkei_rate = match cap {
        Some(r) => (r, 10),
        None => (1_000_000, 1),
    };
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("renkei.toml");
    std::fs::write(
        &config,
        format!(
            "[providers.salesforce]\nrate = {{ requests = {}, per_seconds = {} }}\n",
            renkei_rate.0, renkei_rate.1
        ),
    )?;
    let server = Server::start_on(
        &args.binary,
        &client,
        &[
            "--sandbox-url".into(),
            origin.into(),
            "--config".into(),
            config.display().to_string(),
        ],
        args.database_url.as_deref(),
    )
    .await?;
    let result = measure(
        args,
        origin,
        &server,
        &client,
        name,
        events,
        cap,
        renkei_rate,
    )
    .await;
    server.stop().await?;
    result
}

#[allow(clippy::too_many_arguments)]
async fn measure(
    args: &Args,
    origin: &str,
    server: &Server,
    client: &reqwest::Client,
    name: &'static str,
    events: usize,
    cap: Option<u32>,
    renkei_rate: (u32, u32),
) -> anyhow::Result<PhaseResult> {
    let api = Api {
        client: client.clone(),
        base: format!("{}/v1/tenants/bench", server.base_url),
        auth: format!("Bearer {}", server.create_key("bench").await?),
    };
    api.send(
        "PUT",
        "",
        Some(json!({"display_name": "Bench", "default_region": "JP"})),
    )
    .await?;
    let t = control(client, origin, "salesforce", "tokens", json!({})).await?;
    let mut body = json!({"access_token": t["access_token"], "refresh_token": t["refresh_token"]});
    for k in ["expires_in", "instance_url", "id"] {
        if !t[k].is_null() {
            body[k] = t[k].clone();
        }
    }
    api.send("PUT", "/connections/salesforce", Some(body))
        .await?;
    eprintln!("writeback[{name}]: connected; waiting for the first import");
    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    loop {
        let runs = api
            .send("GET", "/connections/salesforce/sync-runs", None)
            .await?;
        match runs["runs"][0]["status"].as_str() {
            Some("succeeded") => break,
            Some("failed") => bail!("the first import failed: {}", runs["runs"][0]),
            _ if Instant::now() > deadline => bail!("the first import did not end"),
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    let phones = phones(&api).await?;
    if phones.is_empty() {
        bail!("the import brought no one with a phone number");
    }
    api.send(
        "PUT",
        "/connections/salesforce/settings",
        Some(json!({"call_logging": {
            "enabled": true, "events": ["call.ended"], "create_unknown": "none"
        }})),
    )
    .await?;
    clear_requests(client, origin, "salesforce").await?;

    eprintln!(
        "writeback[{name}]: posting {events} call.ended events from {} callers",
        phones.len()
    );
    let started = Instant::now();
    let started_at = SystemTime::now();
    let mut accepted_ms = Vec::with_capacity(events.div_ceil(BATCH));
    for (b, chunk) in (0..events).collect::<Vec<_>>().chunks(BATCH).enumerate() {
        let batch: Vec<Value> = chunk
            .iter()
            .map(|&i| call(i, &phones[i % phones.len()]))
            .collect();
        api.send("POST", "/events", Some(Value::Array(batch)))
            .await
            .with_context(|| format!("posting batch {b}"))?;
        accepted_ms.push(epoch_ms(SystemTime::now()));
    }
    eprintln!(
        "writeback[{name}]: accepted in {:.1}s; waiting for the deliveries",
        started.elapsed().as_secs_f64()
    );

    let deliveries = loop {
        let pending = api
            .send("GET", "/deliveries?status=pending&limit=1", None)
            .await?;
        if pending["deliveries"].as_array().is_some_and(Vec::is_empty) {
            let all = all_deliveries(&api).await?;
            if all.len() >= events {
                break all;
            }
        }
        if Instant::now() > deadline {
            bail!("the deliveries had not ended after {}s", args.timeout_secs);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };

    let mut latencies = Vec::with_capacity(events);
    let (mut succeeded, mut last_written) = (0u64, epoch_ms(started_at));
    for d in &deliveries {
        if d["status"] != "succeeded" {
            continue;
        }
        succeeded += 1;
        let written = parse_ms(&d["updated_at"])?;
        last_written = last_written.max(written);
        let index: usize = d["event"]["id"]
            .as_str()
            .and_then(|id| id.strip_prefix("call-"))
            .and_then(|n| n.parse().ok())
            .context("a delivery of an event the bench did not post")?;
        latencies.push((written - accepted_ms[index / BATCH]).max(0));
    }
    latencies.sort_unstable();
    let wall = Duration::from_millis((last_written - epoch_ms(started_at)).max(1) as u64);
    let requests = requests(client, origin).await?;

    let events_per_sec = rate(succeeded, wall);
    let mut targets = vec![Target {
        name: "all_succeeded",
        bound: "min",
        target: events as f64,
        value: succeeded as f64,
        met: succeeded as usize == events,
    }];
    if let Some(r) = cap {
        let share = round(requests.per_10s / f64::from(r), 3);
        targets.push(Target {
            name: "share_of_limit",
            bound: "min",
            target: TARGET_SHARE,
            value: share,
            met: share >= TARGET_SHARE,
        });
        targets.push(Target {
            name: "answered_429",
            bound: "max",
            target: 0.0,
            value: requests.answered_429 as f64,
            met: requests.answered_429 == 0,
        });
    }
    Ok(PhaseResult {
        bench: "writeback",
        phase: name,
        provider: "salesforce",
        backend: if args.database_url.is_some() {
            "postgres"
        } else {
            "sqlite"
        },
        events,
        people: args.people,
        renkei_rate,
        emulator_cap_per_10s: cap,
        succeeded,
        not_succeeded: deliveries.len() as u64 - succeeded,
        wall_seconds: round(wall.as_secs_f64(), 2),
        events_per_sec,
        latency_ms: Latency {
            p50: percentile(&latencies, 0.50),
            p99: percentile(&latencies, 0.99),
            max: latencies.last().copied().unwrap_or(0) as f64,
        },
        requests,
        met: targets.iter().all(|t| t.met),
        targets,
    })
}

/// The bench's side of renkei's API.
struct Api {
    client: reqwest::Client,
    /// `…/v1/tenants/bench`.
    base: String,
    auth: String,
}

impl Api {
    async fn send(&self, method: &str, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let mut req = self
            .client
            .request(method.parse()?, &url)
            .header(AUTHORIZATION, &self.auth);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("{method} {url}"))?;
        let status = resp.status();
        let text = resp.text().await?;
        if !status.is_success() {
            bail!("{method} {url}: {status} {text}");
        }
        if status == StatusCode::NO_CONTENT || text.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).with_context(|| format!("{method} {url}: not JSON"))
    }
}

/// The phone numbers of the imported people, as the CRM has them.
async fn phones(api: &Api) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/people?limit=200&cursor={c}"),
            None => "/people?limit=200".to_owned(),
        };
        let page = api.send("GET", &path, None).await?;
        for p in page["people"].as_array().into_iter().flatten() {
            let phone = p["phones"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|ph| ph["e164"].is_string());
            if let Some(raw) = phone.and_then(|ph| ph["raw"].as_str()) {
                out.push(raw.to_owned());
            }
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return Ok(out),
        }
    }
}

/// Every delivery of the tenant.
async fn all_deliveries(api: &Api) -> anyhow::Result<Vec<Value>> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/deliveries?limit=200&cursor={c}"),
            None => "/deliveries?limit=200".to_owned(),
        };
        let page = api.send("GET", &path, None).await?;
        out.extend(page["deliveries"].as_array().into_iter().flatten().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return Ok(out),
        }
    }
}

/// Event `i`: an inbound call from `phone`, written as `call-{i}`.
fn call(i: usize, phone: &str) -> Value {
    json!({
        "id": format!("call-{i}"),
        "type": "call.ended",
        "occurred_at": "2026-11-21T10:00:00+09:00",
        "data": {
            "call_id": format!("c{i}"),
            "direction": "inbound",
            "customer_phone": phone,
            "duration_seconds": 65,
            "started_at": "2026-11-21T09:58:55+09:00"
        }
    })
}

/// The emulator's log since it was cleared: counts, and the rate between the first and the
/// last request.
async fn requests(client: &reqwest::Client, origin: &str) -> anyhow::Result<Requests> {
    let (mut total, mut r429, mut errors) = (0u64, 0u64, 0u64);
    let (mut first, mut last) = (i64::MAX, i64::MIN);
    each_request(client, origin, "salesforce", |r| {
        total += 1;
        match r["status"].as_u64() {
            Some(429) => r429 += 1,
            Some(s) if s < 400 => {}
            _ => errors += 1,
        }
        let t = parse_ms(&r["time"])?;
        first = first.min(t);
        last = last.max(t);
        Ok(())
    })
    .await?;
    let seconds = if total > 1 {
        (last - first) as f64 / 1000.0
    } else {
        0.0
    };
    // n requests span n - 1 intervals.
    let per_10s = if seconds > 0.0 {
        (total - 1) as f64 / seconds * 10.0
    } else {
        0.0
    };
    Ok(Requests {
        total,
        answered_429: r429,
        other_errors: errors,
        seconds: round(seconds, 2),
        per_10s: round(per_10s, 1),
    })
}

fn epoch_ms(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn parse_ms(v: &Value) -> anyhow::Result<i64> {
    let s = v.as_str().context("a time that is not a string")?;
    let ts: jiff::Timestamp = s
        .parse()
        .with_context(|| format!("{s:?} is not RFC 3339"))?;
    Ok(ts.as_millisecond())
}

/// The `q` quantile of sorted `xs`, nearest rank.
fn percentile(xs: &[i64], q: f64) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    let rank = ((q * xs.len() as f64).ceil() as usize).clamp(1, xs.len());
    xs[rank - 1] as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let xs: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&xs, 0.5), 50.0);
        assert_eq!(percentile(&xs, 0.99), 99.0);
        assert_eq!(percentile(&[7], 0.99), 7.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }
}
