//! renkei's benchmarks. This crate owns the performance measurements of renkei and nothing
//! else: the throughput of the durable job queue through its whole lifecycle (`queue`, run
//! in-process against the store and the worker runtime), the HTTP event intake of a real
//! `renkei serve` process (`intake`), the resident memory of an idle server (`memory`), the
//! vendor emulators of `renkei sandbox` (`sandbox`), and an initial people import through the
//! sync engine from an emulator in its own process (`import`), and call logging written back
//! through a real server to an emulator (`writeback`).
//! Every result is printed as one JSON line on stdout, with the target it is measured against
//! and whether it was met; progress and diagnostics go to stderr, so stdout can be collected
//! as is. Nothing here is used by the product itself.

// The `renkei` binary's allocator and its settings, the same file, so that what runs
// in-process here (the sync engine, the store) allocates as a deployment does.
#[path = "../../renkei/src/alloc.rs"]
mod alloc;
mod cpu;
mod db;
mod import;
mod intake;
mod memory;
mod output;
mod phones;
mod queue;
mod sandbox;
mod server;
mod timeline;
mod writeback;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "renkei-bench",
    about = "Benchmarks of renkei; prints one JSON line per result on stdout"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Job queue throughput: enqueue, claim and complete no-op jobs in-process.
    Queue(queue::Args),
    /// HTTP event intake of a `renkei serve` process: single events and batches.
    Intake(intake::Args),
    /// Resident memory of an idle `renkei serve` process.
    Memory(memory::Args),
    /// The vendor emulators: memory with many seeded records, and page latencies.
    Sandbox(sandbox::Args),
    /// An initial people import from one CRM emulator: records/s, API calls, peak memory.
    Import(import::Args),
    /// Call logging end to end to the Salesforce emulator: events/s, latency, and pacing
    /// against a capped rate.
    Writeback(writeback::Args),
    /// Phone-number normalisation on one thread and on several at once.
    Phones(phones::Args),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    alloc::configure();
    match Cli::parse().command {
        Command::Queue(args) => queue::run(args).await,
        Command::Intake(args) => intake::run(args).await,
        Command::Memory(args) => memory::run(args).await,
        Command::Sandbox(args) => sandbox::run(args).await,
        Command::Import(args) => import::run(args).await,
        Command::Writeback(args) => writeback::run(args).await,
        Command::Phones(args) => phones::run(args).await,
    }
}
