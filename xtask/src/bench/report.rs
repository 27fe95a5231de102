//! The figures of a run: a table for people, and one JSON line of the headline numbers.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::json;

use super::control_plane::Figures;
use super::exchanges::{LONG_STREAM_PACE_MS, STREAM_PACE_MS};
use super::hey::Run;
use super::streams::OpenStreams;
use super::{JSON_WORKERS, Plan, RATE_WORKERS, STREAM_WORKERS, TARGET_RATE};

/// The two gateways compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// Envoy with the same listener, routes and clusters, and no wasm filter.
    Plain,
    /// Envoy with the Trimio filter, admitting through the real control plane.
    Trimio,
}

impl Setup {
    pub fn index(self) -> usize {
        match self {
            Setup::Plain => 0,
            Setup::Trimio => 1,
        }
    }

    pub fn slug(self) -> &'static str {
        match self {
            Setup::Plain => "plain",
            Setup::Trimio => "trimio",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Setup::Plain => "plain Envoy",
            Setup::Trimio => "Envoy + Trimio",
        }
    }
}

/// One hey run and the CPU time it cost.
#[derive(Debug, Clone)]
pub struct Measured {
    pub run: Run,
    /// Envoy's CPU time over the run, seconds.
    pub envoy_cpu_s: f64,
    /// The control plane's CPU time over the run, seconds (about zero for plain Envoy).
    pub control_plane_cpu_s: f64,
}

/// Everything measured; runs and samples indexed by [`Setup::index`].
#[derive(Debug)]
pub struct Report {
    pub plan: Plan,
    pub json: [Vec<Measured>; 2],
    pub stream: [Vec<Measured>; 2],
    pub latency: [Vec<Measured>; 2],
    /// The rate latency was measured at, calls per second.
    pub rate_asked: u32,
    /// Milliseconds to the first body byte of each timed stream.
    pub ttfb: [Vec<f64>; 2],
    pub memory: [Option<OpenStreams>; 2],
    pub wasm_bytes: u64,
    pub wasm_path: String,
    pub control_plane: Option<Figures>,
    /// The Trimio gateway's `trimio.*` counters at the end.
    pub filter_stats: Vec<(String, u64)>,
    /// One-minute load average before and after the run.
    pub load_average: (Option<f64>, Option<f64>),
    pub elapsed: Duration,
}

/// Throughput and CPU of a series of runs of one setup.
struct Totals {
    ok: u64,
    failed: u64,
    rate: f64,
    envoy_cpu_per_1k: f64,
    control_plane_cpu_per_1k: f64,
}

fn totals(runs: &[Measured]) -> Totals {
    let ok: u64 = runs.iter().map(|m| m.run.ok).sum();
    let seconds: f64 = runs.iter().map(|m| m.run.seconds).sum();
    let per_1k = |cpu: f64| {
        if ok == 0 {
            0.0
        } else {
            cpu * 1000.0 / ok as f64
        }
    };
    Totals {
        ok,
        failed: runs.iter().map(|m| m.run.failed).sum(),
        rate: if seconds > 0.0 {
            ok as f64 / seconds
        } else {
            0.0
        },
        envoy_cpu_per_1k: per_1k(runs.iter().map(|m| m.envoy_cpu_s).sum()),
        control_plane_cpu_per_1k: per_1k(runs.iter().map(|m| m.control_plane_cpu_s).sum()),
    }
}

/// The median, or 0 for no values.
fn median(values: &[f64]) -> f64 {
    percentile(values, 0.5)
}

/// The smallest value at or above the fraction `p` of the sorted values (nearest rank).
fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ratio(b: f64, a: f64) -> f64 {
    if a > 0.0 { b / a } else { 0.0 }
}

/// Per-round ratios B/A of a value of paired runs: their lowest and highest.
fn spread(runs: &[Vec<Measured>; 2], value: impl Fn(&Measured) -> f64) -> (f64, f64) {
    let ratios: Vec<f64> = runs[0]
        .iter()
        .zip(&runs[1])
        .map(|(a, b)| ratio(value(b), value(a)))
        .collect();
    let low = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let high = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (low, high)
}

fn cpu_per_call(m: &Measured) -> f64 {
    m.envoy_cpu_s / m.run.ok.max(1) as f64
}

impl Report {
    pub fn new(plan: Plan) -> Report {
        Report {
            plan,
            json: Default::default(),
            stream: Default::default(),
            latency: Default::default(),
            rate_asked: TARGET_RATE,
            ttfb: Default::default(),
            memory: [None, None],
            wasm_bytes: 0,
            wasm_path: String::new(),
            control_plane: None,
            filter_stats: Vec::new(),
            load_average: (None, None),
            elapsed: Duration::ZERO,
        }
    }

    /// Non-streamed calls per second a setup sustained at [`JSON_WORKERS`] connections.
    pub fn json_rate(&self, setup: Setup) -> f64 {
        totals(&self.json[setup.index()]).rate
    }

    fn latency_median(&self, setup: Setup, value: impl Fn(&Run) -> f64) -> f64 {
        let values: Vec<f64> = self.latency[setup.index()]
            .iter()
            .map(|m| value(&m.run))
            .collect();
        median(&values)
    }

    fn headline(&self) -> Headline {
        let (a, b) = (Setup::Plain, Setup::Trimio);
        let json = [totals(&self.json[0]), totals(&self.json[1])];
        let memory = |setup: Setup| {
            self.memory[setup.index()]
                .map(|m| m.per_stream_kib())
                .unwrap_or(0.0)
        };
        let p50 = |s| self.latency_median(s, |r| r.p50_ms);
        let p99 = |s| self.latency_median(s, |r| r.p99_ms);
        let ttfb = |s: Setup| median(&self.ttfb[s.index()]);
        let control_plane = self.control_plane.as_ref();
        Headline {
            throughput_ratio: ratio(json[1].rate, json[0].rate),
            envoy_cpu_ratio: ratio(json[1].envoy_cpu_per_1k, json[0].envoy_cpu_per_1k),
            p50_added_ms: p50(b) - p50(a),
            p99_added_ms: p99(b) - p99(a),
            ttfb_added_ms: ttfb(b) - ttfb(a),
            stream_memory_kib: memory(b),
            wasm_kib: self.wasm_bytes as f64 / 1024.0,
            admissions_per_s: control_plane.map_or(0.0, |f| f.admissions.rate()),
            records_per_s: control_plane.map_or(0.0, Figures::records_per_s),
        }
    }

    /// The headline figures as one JSON object.
    pub fn json(&self) -> String {
        let h = self.headline();
        let round = |value: f64, places: i32| {
            let scale = 10f64.powi(places);
            (value * scale).round() / scale
        };
        json!({
            "throughput_ratio": round(h.throughput_ratio, 3),
            "envoy_cpu_ratio": round(h.envoy_cpu_ratio, 3),
            "p50_added_ms": round(h.p50_added_ms, 2),
            "p99_added_ms": round(h.p99_added_ms, 2),
            "ttfb_added_ms": round(h.ttfb_added_ms, 3),
            "stream_memory_kib": round(h.stream_memory_kib, 1),
            "wasm_kib": round(h.wasm_kib, 1),
            "admissions_per_s": round(h.admissions_per_s, 0),
            "records_per_s": round(h.records_per_s, 0),
        })
        .to_string()
    }

    /// The table for people.
    pub fn table(&self) -> String {
        let h = self.headline();
        let mut out = String::new();
        let plan = &self.plan;
        let load = |l: Option<f64>| l.map_or("?".to_owned(), |l| format!("{l:.2}"));
        let _ = writeln!(
            out,
            "\nTrimio benchmark: A = plain Envoy (no filter), B = Envoy + Trimio filter + \
             control plane\n{} round(s) of {} s per load measurement, A and B alternating; \
             {} s in all; load average {} before, {} after\n",
            plan.rounds,
            plan.seconds,
            self.elapsed.as_secs(),
            load(self.load_average.0),
            load(self.load_average.1),
        );
        let _ = writeln!(
            out,
            "{:<50} {:>12} {:>12} {:>14}",
            "", "A plain", "B Trimio", "B vs A"
        );

        self.throughput_rows(
            &mut out,
            &format!("non-streamed calls/s, {JSON_WORKERS} connections"),
            &self.json,
        );
        self.throughput_rows(
            &mut out,
            &format!(
                "streamed calls/s (20 events {STREAM_PACE_MS} ms apart), {STREAM_WORKERS} conns"
            ),
            &self.stream,
        );

        let rates = [totals(&self.latency[0]).rate, totals(&self.latency[1]).rate];
        let _ = writeln!(
            out,
            "{:<50} {:>12.0} {:>12.0}",
            format!(
                "latency at {} calls/s asked ({RATE_WORKERS} hey workers): got",
                self.rate_asked
            ),
            rates[0],
            rates[1],
        );
        for (name, value, added) in [
            ("  p50 ms (median of rounds)", 0, h.p50_added_ms),
            ("  p99 ms (median of rounds)", 1, h.p99_added_ms),
        ] {
            let pick =
                |s: Setup| self.latency_median(s, |r| if value == 0 { r.p50_ms } else { r.p99_ms });
            let _ = writeln!(
                out,
                "{:<50} {:>12.2} {:>12.2} {:>+13.2}",
                name,
                pick(Setup::Plain),
                pick(Setup::Trimio),
                added
            );
        }

        let ttfb = |s: Setup, p: f64| percentile(&self.ttfb[s.index()], p);
        let _ = writeln!(
            out,
            "{:<50} {:>12.3} {:>12.3} {:>+13.3}",
            format!(
                "time to first streamed byte, p50 ms ({} calls)",
                self.ttfb[0].len()
            ),
            ttfb(Setup::Plain, 0.5),
            ttfb(Setup::Trimio, 0.5),
            h.ttfb_added_ms
        );
        let _ = writeln!(
            out,
            "{:<50} {:>12.3} {:>12.3} {:>+13.3}",
            "  p99 ms",
            ttfb(Setup::Plain, 0.99),
            ttfb(Setup::Trimio, 0.99),
            ttfb(Setup::Trimio, 0.99) - ttfb(Setup::Plain, 0.99)
        );

        if let [Some(a), Some(b)] = self.memory {
            let _ = writeln!(
                out,
                "{:<50} {:>12.1} {:>12.1} {:>+13.1}",
                format!("Envoy memory per open stream KiB ({} open)", a.count),
                a.per_stream_kib(),
                b.per_stream_kib(),
                b.per_stream_kib() - a.per_stream_kib(),
            );
            let _ = writeln!(
                out,
                "{:<50} {:>12.1} {:>12.1} {:>+13.1}",
                "  Envoy heap in use per open stream KiB (/memory)",
                a.heap_per_stream_kib(),
                b.heap_per_stream_kib(),
                b.heap_per_stream_kib() - a.heap_per_stream_kib(),
            );
            let _ = writeln!(
                out,
                "{:<50} {:>12} {:>12}",
                format!("  Envoy RSS MiB idle / with them ({LONG_STREAM_PACE_MS} ms pace)"),
                format!(
                    "{:.1}/{:.1}",
                    a.idle_kib as f64 / 1024.0,
                    a.open_kib as f64 / 1024.0
                ),
                format!(
                    "{:.1}/{:.1}",
                    b.idle_kib as f64 / 1024.0,
                    b.open_kib as f64 / 1024.0
                ),
            );
        }
        let _ = writeln!(
            out,
            "{:<50} {:>12} {:>12.1}",
            "wasm module KiB (what Envoy loads)", "-", h.wasm_kib
        );

        if let Some(cp) = &self.control_plane {
            let _ = writeln!(
                out,
                "\ncontrol plane alone (no Envoy), release build; the load generator shares the \
                 cores:\n{:<50} {:>12.0}   p50 {:.1} ms, p99 {:.1} ms, failed {}; control \
                 plane used {:.2} cores",
                format!("  admissions/s, {} hey clients", cp.admit_clients),
                cp.admissions.rate(),
                cp.admissions.p50_ms,
                cp.admissions.p99_ms,
                cp.admissions.failed,
                cp.admissions_cpu_s / cp.admissions.seconds.max(f64::EPSILON),
            );
            let _ = writeln!(
                out,
                "{:<50} {:>12.0}   {} records in {:.1} s, each batch acknowledged after its \
                 commit; control plane used {:.2} cores",
                format!(
                    "  durable records/s, batches of {}, {} clients",
                    cp.batch, cp.usage_clients
                ),
                cp.records_per_s(),
                cp.records,
                cp.records_seconds,
                cp.records_cpu_s / cp.records_seconds.max(f64::EPSILON),
            );
        }

        let stat = |name: &str| {
            self.filter_stats
                .iter()
                .find(|(n, _)| n.ends_with(name))
                .map_or(0, |(_, v)| *v)
        };
        let _ = writeln!(
            out,
            "\nTrimio filter counters: calls_admitted {}, calls_denied {}, admission_failures \
             {}, records_queued {}, records_delivered {}, records_dropped {}",
            stat("calls_admitted"),
            stat("calls_denied"),
            stat("admission_failures"),
            stat("records_queued"),
            stat("records_delivered"),
            stat("records_dropped"),
        );
        let _ = writeln!(out, "wasm module: {}\n", self.wasm_path);
        out
    }

    fn throughput_rows(&self, out: &mut String, title: &str, runs: &[Vec<Measured>; 2]) {
        let t = [totals(&runs[0]), totals(&runs[1])];
        let (low, high) = spread(runs, |m| m.run.rate());
        let _ = writeln!(
            out,
            "{:<50} {:>12.0} {:>12.0} {:>14}",
            title,
            t[0].rate,
            t[1].rate,
            format!("{:.2} ({low:.2}-{high:.2})", ratio(t[1].rate, t[0].rate)),
        );
        let (low, high) = spread(runs, cpu_per_call);
        let _ = writeln!(
            out,
            "{:<50} {:>12.3} {:>12.3} {:>14}",
            "  Envoy CPU s per 1,000 calls",
            t[0].envoy_cpu_per_1k,
            t[1].envoy_cpu_per_1k,
            format!(
                "{:.2}x ({low:.2}-{high:.2})",
                ratio(t[1].envoy_cpu_per_1k, t[0].envoy_cpu_per_1k)
            ),
        );
        let _ = writeln!(
            out,
            "{:<50} {:>12} {:>12.3}",
            "  control plane CPU s per 1,000 calls", "-", t[1].control_plane_cpu_per_1k,
        );
        if t[0].failed + t[1].failed > 0 {
            let _ = writeln!(
                out,
                "{:<50} {:>12} {:>12}   of {} and {} answered",
                "  failed calls", t[0].failed, t[1].failed, t[0].ok, t[1].ok
            );
        }
    }
}

/// The figures of the JSON line.
struct Headline {
    throughput_ratio: f64,
    envoy_cpu_ratio: f64,
    p50_added_ms: f64,
    p99_added_ms: f64,
    ttfb_added_ms: f64,
    stream_memory_kib: f64,
    wasm_kib: f64,
    admissions_per_s: f64,
    records_per_s: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(ok: u64, seconds: f64, cpu: f64) -> Measured {
        Measured {
            run: Run {
                ok,
                failed: 0,
                seconds,
                p50_ms: 1.0,
                p99_ms: 2.0,
            },
            envoy_cpu_s: cpu,
            control_plane_cpu_s: 0.0,
        }
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let values: Vec<f64> = (1..=200).map(f64::from).collect();

        assert_eq!(percentile(&values, 0.5), 100.0);
        assert_eq!(percentile(&values, 0.99), 198.0);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[]), 0.0);
    }

    #[test]
    fn totals_pool_the_rounds() {
        let runs = [measured(1000, 1.0, 0.5), measured(3000, 2.0, 0.7)];

        let t = totals(&runs);

        assert_eq!(t.ok, 4000);
        assert!((t.rate - 4000.0 / 3.0).abs() < 1e-9);
        assert!((t.envoy_cpu_per_1k - 0.3).abs() < 1e-9);
    }

    #[test]
    fn the_json_line_has_exactly_the_headline_keys() {
        let mut report = Report::new(super::super::Plan::quick());
        report.json = [
            vec![measured(2000, 1.0, 0.2)],
            vec![measured(1000, 1.0, 0.2)],
        ];

        let line: serde_json::Value = serde_json::from_str(&report.json()).unwrap();

        let mut keys: Vec<&str> = line
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "admissions_per_s",
                "envoy_cpu_ratio",
                "p50_added_ms",
                "p99_added_ms",
                "records_per_s",
                "stream_memory_kib",
                "throughput_ratio",
                "ttfb_added_ms",
                "wasm_kib"
            ]
        );
        assert_eq!(line["throughput_ratio"], 0.5);
        assert_eq!(line["envoy_cpu_ratio"], 2.0);
    }
}
