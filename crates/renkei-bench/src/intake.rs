//! `intake`: HTTP event intake of a real `renkei serve` process on SQLite.
//!
//! Two phases against one server and one tenant: `--requests` posts of a single event each,
//! then `--batches` posts of `--batch-events` events each, both from `--concurrency` clients
//! that take the next request as soon as their previous one was answered (a closed loop, so
//! the rate is what the server sustains rather than what was offered). Latency is measured
//! per request, from sending to reading the whole answer. Any answer other than 202 with
//! every event accepted counts as an error; errors are reported, never hidden.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use hdrhistogram::Histogram;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde::Serialize;
use serde_json::{Value, json};

use crate::output::{cores, emit, rate, round};
use crate::server::Server;

/// Single-event requests per second the server must sustain.
const TARGET_SINGLE_RPS: f64 = 3000.0;
/// Events per second the server must sustain in batches.
const TARGET_BATCH_EPS: f64 = 30_000.0;
/// How many error answers are printed in full; the rest are only counted.
const ERRORS_SHOWN: usize = 5;
/// The slowest latency the histograms hold, in microseconds; slower requests are recorded
/// as this (the request timeout is lower anyway).
const MAX_LATENCY_US: u64 = 120_000_000;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The renkei binary to run.
    #[arg(long, default_value = "target/release/renkei")]
    binary: PathBuf,
    /// Single-event requests in the first phase.
    #[arg(long, default_value_t = 20_000)]
    requests: u64,
    /// Events per request in the batch phase.
    #[arg(long, default_value_t = 100)]
    batch_events: u64,
    /// Requests in the batch phase.
    #[arg(long, default_value_t = 500)]
    batches: u64,
    /// Concurrent clients, in both phases.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
}

#[derive(Debug, Serialize)]
struct IntakeResult {
    bench: &'static str,
    backend: &'static str,
    concurrency: usize,
    requests: u64,
    events_per_request: u64,
    /// Requests answered 202 with every event accepted.
    ok: u64,
    errors: u64,
    seconds: f64,
    requests_per_sec: f64,
    /// Events accepted per second (equal to `requests_per_sec` for single events).
    events_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    target: f64,
    target_unit: &'static str,
    met: bool,
    note: String,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    if args.requests == 0 || args.batches == 0 || args.batch_events == 0 || args.concurrency == 0 {
        bail!("--requests, --batches, --batch-events and --concurrency must be at least 1");
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(60))
        .build()
        .context("building the HTTP client")?;
    let server = Server::start(&args.binary, &client).await?;
    let result = measure(&args, &server, &client).await;
    // The server goes whether or not the bench succeeded.
    server.stop().await?;
    result
}

async fn measure(args: &Args, server: &Server, client: &reqwest::Client) -> anyhow::Result<()> {
    let token = server.create_key("bench").await?;
    let auth = format!("Bearer {token}");
    let tenant_url = format!("{}/v1/tenants/bench", server.base_url);
    let resp = client
        .put(&tenant_url)
        .header(AUTHORIZATION, &auth)
        .json(&json!({ "display_name": "Bench" }))
        .send()
        .await
        .context("creating the bench tenant")?;
    let status = resp.status();
    if status != StatusCode::OK && status != StatusCode::CREATED {
        let body = resp.text().await.unwrap_or_default();
        bail!("PUT {tenant_url} answered {status}: {body}");
    }
    let target = Target {
        client: client.clone(),
        url: format!("{tenant_url}/events"),
        auth,
    };
    let note = format!(
        "the bench client and the server share this machine's {} cores, so the server had \
         less than the whole machine",
        cores()
    );

    // Opens the pool's connections and lets the server settle before anything is timed.
    eprintln!("intake: warming up");
    let warmup = u64::try_from(args.concurrency).unwrap_or(u64::MAX);
    let warm = drive(&target, args.concurrency, warmup, 1, "w").await?;
    if warm.errors > 0 {
        bail!(
            "the warm-up requests failed; first errors: {:?}",
            warm.shown
        );
    }

    eprintln!(
        "intake: {} single-event requests, {} clients",
        args.requests, args.concurrency
    );
    let single = drive(&target, args.concurrency, args.requests, 1, "s").await?;
    emit(&single.result(
        "intake_single",
        args.concurrency,
        TARGET_SINGLE_RPS,
        "requests_per_sec",
        note.clone(),
    ))?;

    eprintln!(
        "intake: {} requests of {} events, {} clients",
        args.batches, args.batch_events, args.concurrency
    );
    let batch = drive(
        &target,
        args.concurrency,
        args.batches,
        args.batch_events,
        "b",
    )
    .await?;
    emit(&batch.result(
        "intake_batch",
        args.concurrency,
        TARGET_BATCH_EPS,
        "events_per_sec",
        note,
    ))?;
    Ok(())
}

/// Where and how to post events.
#[derive(Clone)]
struct Target {
    client: reqwest::Client,
    url: String,
    auth: String,
}

/// What one phase measured.
struct Phase {
    requests: u64,
    events_per_request: u64,
    ok: u64,
    errors: u64,
    /// The first few errors, in full.
    shown: Vec<String>,
    elapsed: Duration,
    latency_us: Histogram<u64>,
}

impl Phase {
    fn result(
        &self,
        bench: &'static str,
        concurrency: usize,
        target: f64,
        target_unit: &'static str,
        note: String,
    ) -> IntakeResult {
        for error in &self.shown {
            eprintln!("{bench}: error: {error}");
        }
        if self.errors > 0 {
            eprintln!(
                "{bench}: {} of {} requests failed",
                self.errors, self.requests
            );
        }
        let events_per_sec = rate(self.ok * self.events_per_request, self.elapsed);
        let requests_per_sec = rate(self.ok, self.elapsed);
        let measured = if target_unit == "events_per_sec" {
            events_per_sec
        } else {
            requests_per_sec
        };
        let ms = |us: u64| round(us as f64 / 1000.0, 2);
        IntakeResult {
            bench,
            backend: "sqlite",
            concurrency,
            requests: self.requests,
            events_per_request: self.events_per_request,
            ok: self.ok,
            errors: self.errors,
            seconds: round(self.elapsed.as_secs_f64(), 3),
            requests_per_sec,
            events_per_sec,
            p50_ms: ms(self.latency_us.value_at_quantile(0.50)),
            p99_ms: ms(self.latency_us.value_at_quantile(0.99)),
            max_ms: ms(self.latency_us.max()),
            target,
            target_unit,
            // Errors disqualify: a server that answers fast by failing has not met anything.
            met: self.errors == 0 && measured >= target,
            note,
        }
    }
}

/// What one client measured.
struct ClientTally {
    ok: u64,
    errors: u64,
    shown: Vec<String>,
    latency_us: Histogram<u64>,
}

/// Posts `requests` requests of `per_request` events from `concurrency` clients. Event ids
/// are `e-<tag>-<request>-<n>`, unique within the run as long as each phase has its own tag.
async fn drive(
    target: &Target,
    concurrency: usize,
    requests: u64,
    per_request: u64,
    tag: &'static str,
) -> anyhow::Result<Phase> {
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let clients: Vec<_> = (0..concurrency)
        .map(|_| {
            tokio::spawn(client_loop(
                target.clone(),
                next.clone(),
                requests,
                per_request,
                tag,
            ))
        })
        .collect();
    let mut phase = Phase {
        requests,
        events_per_request: per_request,
        ok: 0,
        errors: 0,
        shown: Vec::new(),
        elapsed: Duration::ZERO,
        latency_us: histogram()?,
    };
    for client in clients {
        let tally = client.await.context("a client task panicked")??;
        phase.ok += tally.ok;
        phase.errors += tally.errors;
        let room = ERRORS_SHOWN.saturating_sub(phase.shown.len());
        phase.shown.extend(tally.shown.into_iter().take(room));
        phase
            .latency_us
            .add(&tally.latency_us)
            .map_err(|e| anyhow::anyhow!("merging latency histograms: {e:?}"))?;
    }
    phase.elapsed = started.elapsed();
    Ok(phase)
}

async fn client_loop(
    target: Target,
    next: Arc<AtomicU64>,
    requests: u64,
    per_request: u64,
    tag: &'static str,
) -> anyhow::Result<ClientTally> {
    let mut tally = ClientTally {
        ok: 0,
        errors: 0,
        shown: Vec::new(),
        latency_us: histogram()?,
    };
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= requests {
            return Ok(tally);
        }
        let body = if per_request == 1 {
            event(&format!("e-{tag}-{i}"))
        } else {
            Value::Array(
                (0..per_request)
                    .map(|n| event(&format!("e-{tag}-{i}-{n}")))
                    .collect(),
            )
        };
        let body = serde_json::to_vec(&body)?;
        let sent = Instant::now();
        let answer = post(&target, body).await;
        let latency = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
        tally.latency_us.saturating_record(latency);
        match answer.and_then(|(status, text)| check(status, &text, per_request)) {
            Ok(()) => tally.ok += 1,
            Err(e) => {
                tally.errors += 1;
                if tally.shown.len() < ERRORS_SHOWN {
                    tally.shown.push(format!("{e:#}"));
                }
            }
        }
    }
}

/// Sends one post and reads the whole answer, so that the latency covers it.
async fn post(target: &Target, body: Vec<u8>) -> anyhow::Result<(StatusCode, String)> {
    let resp = target
        .client
        .post(&target.url)
        .header(AUTHORIZATION, &target.auth)
        .header(CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .context("sending")?;
    let status = resp.status();
    let text = resp.text().await.context("reading the answer")?;
    Ok((status, text))
}

/// A success is 202 with every posted event accepted: duplicates would mean the bench
/// measured less work than it claims.
fn check(status: StatusCode, text: &str, expected: u64) -> anyhow::Result<()> {
    if status != StatusCode::ACCEPTED {
        bail!("answered {status}: {text}");
    }
    let answer: Value = serde_json::from_str(text)
        .with_context(|| format!("answered 202 with a body that is not JSON: {text}"))?;
    let accepted = answer
        .get("accepted")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if u64::try_from(accepted).ok() != Some(expected) {
        bail!("answered 202 but accepted {accepted} of {expected} events: {text}");
    }
    Ok(())
}

fn histogram() -> anyhow::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
        .map_err(|e| anyhow::anyhow!("creating a latency histogram: {e:?}"))
}

/// A valid `call.ended` event with the given id.
fn event(id: &str) -> Value {
    json!({
        "id": id,
        "type": "call.ended",
        "occurred_at": "2026-11-21T10:00:00+09:00",
        "member": "m1",
        "data": {
            "call_id": "c1",
            "direction": "inbound",
            "customer_phone": "03-1234-5678",
            "duration_seconds": 65,
            "started_at": "2026-11-21T09:58:55+09:00"
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_answers() {
        let ok = r#"{"accepted":["e-1","e-2"],"duplicates":[]}"#;
        assert!(check(StatusCode::ACCEPTED, ok, 2).is_ok());
        assert!(check(StatusCode::ACCEPTED, ok, 3).is_err());
        assert!(check(StatusCode::OK, ok, 2).is_err());
        assert!(check(StatusCode::ACCEPTED, "oops", 2).is_err());
    }
}
