//! Printing results: one JSON line per result on stdout, everything else on stderr.

use std::time::Duration;

use serde::Serialize;

/// Prints `result` as one JSON line on stdout.
pub fn emit(result: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string(result)?);
    Ok(())
}

/// Rounds to `digits` decimals, so the JSON shows meaningful figures rather than float noise.
pub fn round(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

/// `count` per second over `elapsed`, rounded to one decimal.
pub fn rate(count: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        round(count as f64 / secs, 1)
    } else {
        0.0
    }
}

/// The number of cores this process may use, for the notes of benches whose client and server
/// share the machine.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_and_rates() {
        assert_eq!(round(1.23456, 2), 1.23);
        assert_eq!(rate(10_000, Duration::from_secs(2)), 5000.0);
        assert_eq!(rate(1, Duration::ZERO), 0.0);
    }
}
