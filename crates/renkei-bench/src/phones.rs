//! `phones`: phone-number normalisation, the costliest part of converting an import page, on
//! one thread and on several at once.
//!
//! Import pages are converted on tokio's blocking threads, several at a time, so what matters
//! is the rate with threads side by side, not only alone: a lock shared by every thread (as
//! the `phonenumber` crate's pattern cache is, see `renkei_core::matching::numbering`) shows
//! as a rate that does not grow with the threads. The numbers are Japanese, written the ways
//! the seeds write them (hyphens, brackets, `+81`), each different, so that nothing is served
//! from a cache of answers.

use std::time::Instant;

use renkei_core::matching::phone::{Region, normalize_phone};
use serde::Serialize;

use crate::output::{emit, rate};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// How many numbers each measurement normalises.
    #[arg(long, default_value_t = 200_000)]
    numbers: u64,
    /// The thread counts to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    threads: Vec<usize>,
}

#[derive(Debug, Serialize)]
struct PhonesResult {
    bench: &'static str,
    threads: usize,
    numbers: u64,
    /// Numbers that normalised (all of them, unless the metadata changed).
    valid: u64,
    numbers_per_sec: f64,
}

/// The `i`-th number: Tokyo, mobile, Osaka from abroad and Yokohama, in turn.
fn number(i: u64) -> String {
    match i % 4 {
        0 => format!("03-{:04}-{:04}", (i * 7) % 10_000, i % 10_000),
        1 => format!("090-{:04}-{:04}", (i * 13) % 10_000, i % 10_000),
        2 => format!("+81 6 {:04} {:04}", (i * 3) % 10_000, i % 10_000),
        _ => format!("(045) {:03}-{:04}", (i * 11) % 1_000, i % 10_000),
    }
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let region: Region = "JP"
        .parse()
        .map_err(|e| anyhow::anyhow!("region JP: {e}"))?;
    let numbers: Vec<String> = (0..args.numbers).map(number).collect();
    // Warm up: the first use of a region compiles its patterns.
    if let Some(first) = numbers.first() {
        normalize_phone(first, &region).ok();
    }
    for &threads in &args.threads {
        let threads = threads.max(1);
        let started = Instant::now();
        let valid: u64 = std::thread::scope(|s| -> anyhow::Result<u64> {
            let handles: Vec<_> = (0..threads)
                .map(|k| {
                    let (numbers, region) = (&numbers, &region);
                    s.spawn(move || {
                        numbers
                            .iter()
                            .skip(k)
                            .step_by(threads)
                            .filter(|n| normalize_phone(n, region).is_ok())
                            .count() as u64
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .map_err(|_| anyhow::anyhow!("a normalising thread panicked"))
                })
                .sum()
        })?;
        emit(&PhonesResult {
            bench: "phones",
            threads,
            numbers: args.numbers,
            valid,
            numbers_per_sec: rate(args.numbers, started.elapsed()),
        })?;
    }
    Ok(())
}
