//! Where an import run's time goes, read from outside the product through renkei's own
//! metrics.
//!
//! A sync run works one page after the other: it asks the provider for a page (through the
//! vault and the HTTP client, which first waits for the account's rate budget), converts the
//! people and commits them with the run's checkpoint. renkei already reports two moments of
//! that loop through the `metrics` facade: each provider request, with its duration, as its
//! answer has been read (`renkei_provider_request_seconds`), and each committed page
//! (`renkei_sync_pages_total`). [`Timeline`] is a metrics recorder that stamps those two with
//! the instant they arrive, and [`breakdown`] cuts the run's wall time into
//! - *before the request*: from the previous mark to the request leaving, which is the
//!   pacer's wait plus the loop's own work between pages (dropping the last page, reading the
//!   connection in the vault, building the request); before the first request, the start of
//!   the run's job; once per time slice, the hand-over to the next job;
//! - *request*: the provider (here the emulator in its own process) answering, transfer
//!   included;
//! - *after the request*: parsing the answer, normalising the people, and the store's
//!   transaction;
//! - *tail*: from the last commit to the run being seen as succeeded.
//!
//! The loop fetches the next page while a page commits, so these parts overlap in time; the
//! cut counts each instant once, in the order the marks arrive: a request answered during the
//! previous page's commit shows only the part of it left after that commit.
//!
//! The pacer's share of the "before" intervals is estimated by [`pacer_wait`]: the first
//! requests of a run pass the pacer at once (its burst), so their intervals measure the loop's
//! own work between pages; whatever a later interval takes beyond that is counted as waiting.
//!
//! The recorder is installed for the whole bench process; it keeps nothing but these marks.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use metrics::{
    Counter, CounterFn, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};

/// The histogram the HTTP client records every provider request's duration in.
const REQUEST_SECONDS: &str = "renkei_provider_request_seconds";
/// The counter a sync run increments after committing a page.
const PAGES_TOTAL: &str = "renkei_sync_pages_total";

/// One observed moment of the sync loop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mark {
    /// A provider request ended; it had lasted this long.
    Request(Duration),
    /// A page was committed.
    Page,
}

/// The marks seen so far, with the instant each arrived.
#[derive(Debug, Default)]
pub struct Timeline {
    marks: Mutex<Vec<(Instant, Mark)>>,
}

impl Timeline {
    /// Installs a recorder feeding a new timeline as the process's global metrics recorder.
    /// Fails when another recorder was installed first.
    pub fn install() -> anyhow::Result<Arc<Timeline>> {
        let timeline = Arc::new(Timeline::default());
        metrics::set_global_recorder(TimelineRecorder(timeline.clone()))
            .map_err(|_| anyhow::anyhow!("a metrics recorder was already installed"))?;
        Ok(timeline)
    }

    fn push(&self, mark: Mark) {
        let at = Instant::now();
        // A poisoned lock only means a holder panicked mid-push; the marks are still usable.
        self.marks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((at, mark));
    }

    /// The marks that arrived at or after `start`, as offsets from it, in arrival order.
    pub fn since(&self, start: Instant) -> Vec<(Duration, Mark)> {
        self.marks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|(at, _)| *at >= start)
            .map(|(at, m)| (at.duration_since(start), *m))
            .collect()
    }
}

struct TimelineRecorder(Arc<Timeline>);

struct PageMark(Arc<Timeline>);

impl CounterFn for PageMark {
    fn increment(&self, _value: u64) {
        self.0.push(Mark::Page);
    }

    fn absolute(&self, _value: u64) {}
}

struct RequestMark(Arc<Timeline>);

impl HistogramFn for RequestMark {
    fn record(&self, seconds: f64) {
        // `try_from_secs_f64` refuses what would panic (negative, NaN, overflow).
        if let Ok(d) = Duration::try_from_secs_f64(seconds) {
            self.0.push(Mark::Request(d));
        }
    }
}

impl Recorder for TimelineRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        if key.name() == PAGES_TOTAL {
            Counter::from_arc(Arc::new(PageMark(self.0.clone())))
        } else {
            Counter::noop()
        }
    }

    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        if key.name() == REQUEST_SECONDS {
            Histogram::from_arc(Arc::new(RequestMark(self.0.clone())))
        } else {
            Histogram::noop()
        }
    }
}

/// A run's wall time cut into the intervals the module documentation describes. The four
/// durations add up to the wall time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Breakdown {
    /// Provider requests seen (retries included).
    pub requests: u64,
    /// Pages committed with a mark. A page that ends a time slice is committed together with
    /// the hand-over and increments no counter; its processing falls in the next request's
    /// "before".
    pub pages: u64,
    pub before_request: Duration,
    pub request: Duration,
    pub after_request: Duration,
    pub tail: Duration,
    /// Each request's "before" interval, in order.
    pub gaps: Vec<Gap>,
}

/// The interval before one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    pub len: Duration,
    /// Whether it began at a committed page: only those are the plain loop between two pages
    /// (the first request follows the run's start, a hand-over page commits no mark, and a
    /// retry follows the failed request).
    pub after_page: bool,
}

/// Cuts `[0, end]` at `marks` (offsets from the run's start, in arrival order).
pub fn breakdown(end: Duration, marks: &[(Duration, Mark)]) -> Breakdown {
    let mut b = Breakdown::default();
    // Where the last interval ended, and whether at a committed page.
    let mut cursor = Duration::ZERO;
    let mut at_page = false;
    for &(at, mark) in marks {
        let at = at.clamp(cursor, end.max(cursor));
        match mark {
            Mark::Request(took) => {
                // The request began `took` before its mark, but not before the previous mark:
                // the loop is sequential, so an overlap is only the two clocks' rounding.
                let began = at.saturating_sub(took).max(cursor);
                let gap = began - cursor;
                b.gaps.push(Gap {
                    len: gap,
                    after_page: at_page,
                });
                b.before_request += gap;
                b.request += at - began;
                b.requests += 1;
                at_page = false;
            }
            Mark::Page => {
                b.after_request += at - cursor;
                b.pages += 1;
                at_page = true;
            }
        }
        cursor = at;
    }
    b.tail = end.saturating_sub(cursor);
    b
}

/// The loop's own work between two pages, unpaced: the median of the between-pages gaps
/// among the first `burst` requests, which the pacer lets through at once. `None` when there
/// is no such gap (a run of one page, or a burst of one).
pub fn loop_overhead(gaps: &[Gap], burst: u32) -> Option<Duration> {
    let within: Vec<Duration> = gaps
        .iter()
        .take(usize::try_from(burst).unwrap_or(usize::MAX))
        .filter(|g| g.after_page)
        .map(|g| g.len)
        .collect();
    (!within.is_empty()).then(|| median(&within))
}

/// The time spent waiting for the rate budget: how much each between-pages gap exceeds
/// `overhead`. The other gaps (the run's start, hand-overs, retries) are the engine's.
pub fn pacer_wait(gaps: &[Gap], overhead: Duration) -> Duration {
    gaps.iter()
        .filter(|g| g.after_page)
        .map(|g| g.len.saturating_sub(overhead))
        .sum()
}

/// The median of `values`, or zero when there are none.
pub fn median(values: &[Duration]) -> Duration {
    let mut v = values.to_vec();
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn gap(len: u64, after_page: bool) -> Gap {
        Gap {
            len: ms(len),
            after_page,
        }
    }

    #[test]
    fn cuts_a_run_into_intervals() {
        use Mark::{Page, Request};
        struct Case {
            name: &'static str,
            end: u64,
            marks: Vec<(u64, Mark)>,
            // before, request, after, tail, requests, pages
            want: (u64, u64, u64, u64, u64, u64),
            gaps: Vec<Gap>,
        }
        let cases = [
            Case {
                name: "no marks: all tail",
                end: 50,
                marks: vec![],
                want: (0, 0, 0, 50, 0, 0),
                gaps: vec![],
            },
            Case {
                name: "two paced pages",
                end: 250,
                // Request 1 runs 10..30, commit at 40; request 2 waits until 100, runs to
                // 120, commit at 135; the run is seen done at 250.
                marks: vec![
                    (30, Request(ms(20))),
                    (40, Page),
                    (120, Request(ms(20))),
                    (135, Page),
                ],
                want: (10 + 60, 40, 10 + 15, 115, 2, 2),
                gaps: vec![gap(10, false), gap(60, true)],
            },
            Case {
                name: "a hand-over page has no commit mark",
                end: 100,
                marks: vec![(10, Request(ms(10))), (40, Request(ms(5))), (60, Page)],
                want: (25, 15, 20, 40, 2, 1),
                gaps: vec![gap(0, false), gap(25, false)],
            },
            Case {
                name: "a request longer than the time since the last mark is clamped",
                end: 30,
                marks: vec![(5, Page), (10, Request(ms(50))), (20, Page)],
                want: (0, 5, 15, 10, 1, 2),
                gaps: vec![gap(0, true)],
            },
        ];
        for c in cases {
            let marks: Vec<(Duration, Mark)> = c.marks.iter().map(|(t, m)| (ms(*t), *m)).collect();
            let b = breakdown(ms(c.end), &marks);
            let got = (
                b.before_request,
                b.request,
                b.after_request,
                b.tail,
                b.requests,
                b.pages,
            );
            let (w0, w1, w2, w3, w4, w5) = c.want;
            assert_eq!(got, (ms(w0), ms(w1), ms(w2), ms(w3), w4, w5), "{}", c.name);
            assert_eq!(
                b.before_request + b.request + b.after_request + b.tail,
                ms(c.end),
                "{}: the intervals add up to the wall time",
                c.name
            );
            assert_eq!(b.gaps, c.gaps, "{}", c.name);
        }
    }

    #[test]
    fn the_loop_overhead_comes_from_the_burst() {
        let cases = [
            ("no gaps", vec![], 10, None),
            ("only the start", vec![gap(100, false)], 10, None),
            (
                "the start and hand-overs do not count",
                vec![gap(100, false), gap(2, true), gap(50, false), gap(4, true)],
                10,
                Some(4),
            ),
            (
                "gaps after the burst do not count",
                vec![gap(100, false), gap(3, true), gap(90, true), gap(95, true)],
                2,
                Some(3),
            ),
            (
                "a burst of one",
                vec![gap(100, false), gap(3, true)],
                1,
                None,
            ),
        ];
        for (name, gaps, burst, want) in cases {
            assert_eq!(loop_overhead(&gaps, burst), want.map(ms), "{name}");
        }
    }

    #[test]
    fn pacer_wait_is_what_between_pages_gaps_exceed() {
        let cases = [
            (vec![], 1, 0),
            (vec![gap(0, true), gap(0, true)], 1, 0),
            (
                vec![gap(100, true), gap(2, true), gap(51, true)],
                1,
                99 + 1 + 50,
            ),
            // The run's start and a hand-over are the engine's, however long.
            (
                vec![gap(300, false), gap(100, true), gap(80, false)],
                0,
                100,
            ),
        ];
        for (gaps, overhead, want) in cases {
            assert_eq!(pacer_wait(&gaps, ms(overhead)), ms(want), "{gaps:?}");
        }
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[]), Duration::ZERO);
        assert_eq!(median(&[ms(3)]), ms(3));
        assert_eq!(median(&[ms(9), ms(1), ms(5)]), ms(5));
    }

    #[test]
    fn the_recorder_keeps_only_the_two_metrics() {
        let timeline = Arc::new(Timeline::default());
        let recorder = TimelineRecorder(timeline.clone());
        let start = Instant::now();
        metrics::with_local_recorder(&recorder, || {
            metrics::histogram!(REQUEST_SECONDS, "provider" => "hubspot").record(0.25);
            metrics::histogram!("other_seconds").record(1.0);
            metrics::histogram!(REQUEST_SECONDS).record(-1.0);
            metrics::counter!(PAGES_TOTAL, "provider" => "hubspot").increment(1);
            metrics::counter!("other_total").increment(1);
        });
        let marks: Vec<Mark> = timeline.since(start).into_iter().map(|(_, m)| m).collect();
        assert_eq!(marks, vec![Mark::Request(ms(250)), Mark::Page]);
    }
}
