//! `memory`: the resident memory of an idle `renkei serve` process on SQLite.
//!
//! The server is started, left idle for `--seconds` after it became ready, and its `VmRSS`
//! (resident now) and `VmHWM` (the peak so far, start-up included) are read from
//! `/proc/<pid>/status`. The target applies to the idle resident size.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use serde::Serialize;

use crate::output::{emit, round};
use crate::server::Server;

/// Resident memory, in MiB, an idle server must stay under.
const TARGET_MB: f64 = 30.0;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The renkei binary to run.
    #[arg(long, default_value = "target/release/renkei")]
    binary: PathBuf,
    /// How long to leave the server idle before reading its memory.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
}

#[derive(Debug, Serialize)]
struct MemoryResult {
    bench: &'static str,
    backend: &'static str,
    idle_seconds: u64,
    /// MiB (`VmRSS`).
    rss_mb: f64,
    /// MiB (`VmHWM`).
    hwm_mb: f64,
    target_mb: f64,
    met: bool,
}

pub async fn run(args: Args) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .context("building the HTTP client")?;
    let server = Server::start(&args.binary, &client).await?;
    eprintln!("memory: leaving the server idle for {}s", args.seconds);
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid()))
        .context("reading the server's /proc/<pid>/status");
    // The server goes whether or not its memory could be read.
    server.stop().await?;
    let status = status?;
    let rss_mb = kib_field(&status, "VmRSS")? / 1024.0;
    let hwm_mb = kib_field(&status, "VmHWM")? / 1024.0;
    emit(&MemoryResult {
        bench: "memory",
        backend: "sqlite",
        idle_seconds: args.seconds,
        rss_mb: round(rss_mb, 1),
        hwm_mb: round(hwm_mb, 1),
        target_mb: TARGET_MB,
        met: rss_mb <= TARGET_MB,
    })
}

/// The value of a `Name:   1234 kB` line of `/proc/<pid>/status`, in KiB.
pub fn kib_field(status: &str, name: &str) -> anyhow::Result<f64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<f64>().ok())
        .with_context(|| format!("no {name} line in /proc/<pid>/status"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_proc_status_fields() {
        let status = "Name:\trenkei\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\n";
        assert_eq!(kib_field(status, "VmRSS").ok(), Some(10240.0));
        assert_eq!(kib_field(status, "VmHWM").ok(), Some(20480.0));
        assert!(kib_field(status, "VmSwap").is_err());
    }
}
