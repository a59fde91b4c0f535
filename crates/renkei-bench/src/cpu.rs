//! CPU time by thread, from `/proc/<pid>/task/<tid>/stat`, to tell which part of a process did
//! the work during a measurement: in the import bench, the sync loop (the bench's main thread,
//! where `Runtime::run_until_idle` runs the jobs), SQLite (sqlx runs each SQLite connection on
//! a worker thread of its own, so those threads' time is the time spent executing statements),
//! the tokio workers (the HTTP client's I/O), and the emulator's process.
//!
//! The kernel counts in clock ticks of `USER_HZ`, which is 100 on every architecture Linux
//! exports it for, so each figure is precise to 10 ms per thread.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;

/// Milliseconds per clock tick of `/proc/*/stat` (`USER_HZ` = 100).
const MS_PER_TICK: u64 = 10;

/// One thread's CPU time so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadCpu {
    pub tid: u32,
    /// The thread's name (`comm`), at most 15 bytes.
    pub comm: String,
    /// User and system time.
    pub cpu: Duration,
}

/// The threads of process `pid` (`"self"` for this one) and their CPU time. Threads that end
/// while the directory is read are skipped.
pub fn threads(pid: &str) -> anyhow::Result<Vec<ThreadCpu>> {
    let dir = format!("/proc/{pid}/task");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {dir}"))? {
        let entry = entry?;
        let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        if let Some((comm, cpu)) = parse_stat(&stat) {
            out.push(ThreadCpu { tid, comm, cpu });
        }
    }
    Ok(out)
}

/// The name and the user + system time of a `stat` line. The name is between the first `(`
/// and the last `)`, since it may hold either; `utime` and `stime` are the 14th and 15th
/// fields of the line, the 12th and 13th after the name.
pub fn parse_stat(stat: &str) -> Option<(String, Duration)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_owned();
    let rest: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    let utime: u64 = rest.get(11)?.parse().ok()?;
    let stime: u64 = rest.get(12)?.parse().ok()?;
    let ms = utime.saturating_add(stime).saturating_mul(MS_PER_TICK);
    Some((comm, Duration::from_millis(ms)))
}

/// The CPU time each group of threads used between two readings of one process; a thread
/// absent from `before` started in between and counts from zero.
pub fn used_between(
    before: &[ThreadCpu],
    after: &[ThreadCpu],
    group: impl Fn(&str) -> &'static str,
) -> BTreeMap<&'static str, Duration> {
    let mut out = BTreeMap::new();
    for t in after {
        let earlier = before
            .iter()
            .find(|b| b.tid == t.tid)
            .map_or(Duration::ZERO, |b| b.cpu);
        *out.entry(group(&t.comm)).or_default() += t.cpu.saturating_sub(earlier);
    }
    out
}

/// The groups of the import bench's own threads.
pub fn bench_group(comm: &str) -> &'static str {
    if comm == "renkei-bench" {
        "sync_loop"
    } else if comm.starts_with("sqlx-sqlite") {
        "sqlite"
    } else if comm.starts_with("tokio-runtime") || comm.starts_with("tokio-rt") {
        "tokio_workers"
    } else {
        "other"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_lines() {
        let tail = "S 1 2 3 4 5 6 7 8 9 10 150 25 0 0 20 0 1 0 100 0 0";
        let cases = [
            (
                format!("42 (renkei-bench) {tail}"),
                Some(("renkei-bench", 1750)),
            ),
            // A name may hold spaces and parentheses.
            (format!("42 (a (b) c) {tail}"), Some(("a (b) c", 1750))),
            ("42 (short) S 1 2".to_owned(), None),
            ("garbage".to_owned(), None),
            (format!("42 (x) {}", tail.replace("150", "-1")), None),
        ];
        for (line, want) in cases {
            let got = parse_stat(&line);
            let want = want.map(|(c, ms)| (c.to_owned(), Duration::from_millis(ms)));
            assert_eq!(got, want, "{line}");
        }
    }

    #[test]
    fn sums_what_each_group_used_in_between() {
        let t = |tid, comm: &str, ms| ThreadCpu {
            tid,
            comm: comm.to_owned(),
            cpu: Duration::from_millis(ms),
        };
        let before = [
            t(1, "renkei-bench", 100),
            t(2, "sqlx-sqlite-wor", 50),
            t(3, "tokio-rt-worker", 10),
        ];
        let after = [
            t(1, "renkei-bench", 400),
            t(2, "sqlx-sqlite-wor", 650),
            // A second SQLite connection, opened during the run.
            t(4, "sqlx-sqlite-wor", 30),
            t(3, "tokio-rt-worker", 10),
            t(5, "futures-timer", 20),
        ];
        let used = used_between(&before, &after, bench_group);
        let ms = |n| Duration::from_millis(n);
        assert_eq!(used.get("sync_loop"), Some(&ms(300)));
        assert_eq!(used.get("sqlite"), Some(&ms(630)));
        assert_eq!(used.get("tokio_workers"), Some(&ms(0)));
        assert_eq!(used.get("other"), Some(&ms(20)));
    }

    #[test]
    fn reads_this_process() {
        let me = threads("self").unwrap();
        assert!(!me.is_empty());
        assert!(me.iter().any(|t| t.tid == std::process::id()));
    }
}
