//! Tests of the `renkei` binary as separate processes: crashes, restarts, several workers.

mod chaos;
mod cli;
mod processes;
mod sandbox;
mod support;
mod sync;
