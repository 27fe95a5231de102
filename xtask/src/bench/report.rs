//! The figures of a run: a table for people, and one JSON line of the headline numbers.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Value, json};

use super::control_plane::Figures;
use super::exchanges::{LONG_STREAM_PACE_MS, STREAM_PACE_MS};
use super::hey::Run;
use super::streams::OpenStreams;
use super::{JSON_WORKERS, Plan, RATE_WORKERS, STREAM_WORKERS, TARGET_RATE};

/// The gateways compared: the two always measured, and the peer with `--peer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// Envoy with the same listener, routes and clusters, and no wasm filter.
    Plain,
    /// Envoy with the Trimio filter, admitting through the real control plane.
    Trimio,
    /// LiteLLM's proxy with a provider budget, in front of the same mock.
    Peer,
}

/// How many setups a report has room for.
pub const SETUPS: usize = 3;

impl Setup {
    pub fn index(self) -> usize {
        match self {
            Setup::Plain => 0,
            Setup::Trimio => 1,
            Setup::Peer => 2,
        }
    }

    pub fn slug(self) -> &'static str {
        match self {
            Setup::Plain => "plain",
            Setup::Trimio => "trimio",
            Setup::Peer => "litellm",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Setup::Plain => "plain Envoy",
            Setup::Trimio => "Envoy + Trimio",
            Setup::Peer => "LiteLLM",
        }
    }
}

/// One hey run and the CPU time it cost.
#[derive(Debug, Clone)]
pub struct Measured {
    pub run: Run,
    /// The gateway's CPU time over the run (Envoy's; LiteLLM's with its children), seconds.
    pub gateway_cpu_s: f64,
    /// The control plane's CPU time over the run, seconds (about zero for plain Envoy and
    /// LiteLLM).
    pub control_plane_cpu_s: f64,
}

/// What the peer run adds to the report.
#[derive(Debug, Clone)]
pub struct PeerRun {
    pub version: String,
    /// Calls answered whose cost LiteLLM's budget counter was checked to hold.
    pub calls_counted: u64,
    /// The spend in that counter at the end, USD.
    pub spend_usd: f64,
}

/// Everything measured; runs and samples indexed by [`Setup::index`], the peer's empty
/// without `--peer`.
#[derive(Debug)]
pub struct Report {
    pub plan: Plan,
    pub json: [Vec<Measured>; SETUPS],
    pub stream: [Vec<Measured>; SETUPS],
    pub latency: [Vec<Measured>; SETUPS],
    /// The rate latency was measured at, calls per second.
    pub rate_asked: u32,
    /// Milliseconds to the first body byte of each timed stream.
    pub ttfb: [Vec<f64>; SETUPS],
    pub memory: [Option<OpenStreams>; SETUPS],
    pub wasm_bytes: u64,
    pub wasm_path: String,
    pub control_plane: Option<Figures>,
    /// The Trimio gateway's `trimio.*` counters at the end.
    pub filter_stats: Vec<(String, u64)>,
    /// One-minute load average before and after the run.
    pub load_average: (Option<f64>, Option<f64>),
    pub elapsed: Duration,
    pub peer: Option<PeerRun>,
}

/// Throughput and CPU of a series of runs of one setup.
struct Totals {
    ok: u64,
    failed: u64,
    rate: f64,
    gateway_cpu_per_1k: f64,
    control_plane_cpu_per_1k: f64,
}

impl Totals {
    /// The gateway's and the control plane's CPU seconds per 1,000 calls together.
    fn all_cpu_per_1k(&self) -> f64 {
        self.gateway_cpu_per_1k + self.control_plane_cpu_per_1k
    }
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
        gateway_cpu_per_1k: per_1k(runs.iter().map(|m| m.gateway_cpu_s).sum()),
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

/// Per-round ratios of a value of paired runs, `to`'s over `from`'s: their lowest and
/// highest.
fn spread(
    runs: &[Vec<Measured>; SETUPS],
    (from, to): (Setup, Setup),
    value: impl Fn(&Measured) -> f64,
) -> (f64, f64) {
    let ratios: Vec<f64> = runs[from.index()]
        .iter()
        .zip(&runs[to.index()])
        .map(|(a, b)| ratio(value(b), value(a)))
        .collect();
    let low = ratios.iter().copied().fold(f64::INFINITY, f64::min);
    let high = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (low, high)
}

fn cpu_per_call(m: &Measured) -> f64 {
    m.gateway_cpu_s / m.run.ok.max(1) as f64
}

/// The gateway's and the control plane's CPU seconds per call together.
fn all_cpu_per_call(m: &Measured) -> f64 {
    (m.gateway_cpu_s + m.control_plane_cpu_s) / m.run.ok.max(1) as f64
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
            memory: [None; SETUPS],
            wasm_bytes: 0,
            wasm_path: String::new(),
            control_plane: None,
            filter_stats: Vec::new(),
            load_average: (None, None),
            elapsed: Duration::ZERO,
            peer: None,
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
            envoy_cpu_ratio: ratio(json[1].gateway_cpu_per_1k, json[0].gateway_cpu_per_1k),
            p50_added_ms: p50(b) - p50(a),
            p99_added_ms: p99(b) - p99(a),
            ttfb_added_ms: ttfb(b) - ttfb(a),
            stream_memory_kib: memory(b),
            wasm_kib: self.wasm_bytes as f64 / 1024.0,
            admissions_per_s: control_plane.map_or(0.0, |f| f.admissions.rate()),
            records_per_s: control_plane.map_or(0.0, Figures::records_per_s),
        }
    }

    /// Trimio against the peer, when there was one.
    fn peer_headline(&self) -> Option<PeerHeadline> {
        let peer = self.peer.as_ref()?;
        let (b, p) = (Setup::Trimio, Setup::Peer);
        let json = [totals(&self.json[b.index()]), totals(&self.json[p.index()])];
        let stream = [
            totals(&self.stream[b.index()]),
            totals(&self.stream[p.index()]),
        ];
        let p50 = |s| self.latency_median(s, |r| r.p50_ms);
        let p99 = |s| self.latency_median(s, |r| r.p99_ms);
        let ttfb = |s: Setup| median(&self.ttfb[s.index()]);
        let memory = |s: Setup| self.memory[s.index()].map_or(0.0, |m| m.per_stream_kib());
        Some(PeerHeadline {
            version: peer.version.clone(),
            throughput_ratio: ratio(json[0].rate, json[1].rate),
            stream_throughput_ratio: ratio(stream[0].rate, stream[1].rate),
            cpu_ratio: ratio(json[0].all_cpu_per_1k(), json[1].all_cpu_per_1k()),
            stream_cpu_ratio: ratio(stream[0].all_cpu_per_1k(), stream[1].all_cpu_per_1k()),
            rate_reached: totals(&self.latency[p.index()]).rate,
            p50_added_ms: p50(b) - p50(p),
            p99_added_ms: p99(b) - p99(p),
            ttfb_added_ms: ttfb(b) - ttfb(p),
            stream_memory_ratio: ratio(memory(b), memory(p)),
            calls_counted: peer.calls_counted,
        })
    }

    /// The headline figures as one JSON object.
    pub fn json(&self) -> String {
        let h = self.headline();
        let round = |value: f64, places: i32| {
            let scale = 10f64.powi(places);
            (value * scale).round() / scale
        };
        let mut line = json!({
            "throughput_ratio": round(h.throughput_ratio, 3),
            "envoy_cpu_ratio": round(h.envoy_cpu_ratio, 3),
            "p50_added_ms": round(h.p50_added_ms, 2),
            "p99_added_ms": round(h.p99_added_ms, 2),
            "ttfb_added_ms": round(h.ttfb_added_ms, 3),
            "stream_memory_kib": round(h.stream_memory_kib, 1),
            "wasm_kib": round(h.wasm_kib, 1),
            "admissions_per_s": round(h.admissions_per_s, 0),
            "records_per_s": round(h.records_per_s, 0),
        });
        if let (Some(p), Some(fields)) = (self.peer_headline(), line.as_object_mut()) {
            let peer = json!({
                "peer": "litellm",
                "peer_version": p.version,
                "peer_throughput_ratio": round(p.throughput_ratio, 3),
                "peer_stream_throughput_ratio": round(p.stream_throughput_ratio, 3),
                "peer_cpu_ratio": round(p.cpu_ratio, 4),
                "peer_stream_cpu_ratio": round(p.stream_cpu_ratio, 4),
                "peer_rate_asked": self.rate_asked,
                "peer_rate_reached": round(p.rate_reached, 0),
                "peer_p50_added_ms": round(p.p50_added_ms, 2),
                "peer_p99_added_ms": round(p.p99_added_ms, 2),
                "peer_ttfb_added_ms": round(p.ttfb_added_ms, 3),
                "peer_stream_memory_ratio": round(p.stream_memory_ratio, 3),
                "peer_calls_counted": p.calls_counted,
            });
            if let Value::Object(peer) = peer {
                fields.extend(peer);
            }
        }
        line.to_string()
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

        if let [Some(a), Some(b), _] = self.memory {
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
                a.heap_per_stream_kib().unwrap_or(f64::NAN),
                b.heap_per_stream_kib().unwrap_or(f64::NAN),
                b.heap_per_stream_kib().unwrap_or(f64::NAN)
                    - a.heap_per_stream_kib().unwrap_or(f64::NAN),
            );
            let _ = writeln!(
                out,
                "{:<50} {:>12} {:>12}",
                format!("  Envoy RSS MiB idle / with them ({LONG_STREAM_PACE_MS} ms pace)"),
                a.rss_mib(),
                b.rss_mib(),
            );
        }
        let _ = writeln!(
            out,
            "{:<50} {:>12} {:>12.1}",
            "wasm module KiB (what Envoy loads)", "-", h.wasm_kib
        );
        self.peer_rows(&mut out);

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
            "\nTrimio filter counters: calls_admitted {} (by lease {}, lease renewals {}), \
             calls_denied {}, admission_failures {}, records_queued {}, records_delivered {}, \
             records_dropped {}",
            stat("calls_admitted"),
            stat("calls_admitted_by_lease"),
            stat("lease_renewals"),
            stat("calls_denied"),
            stat("admission_failures"),
            stat("records_queued"),
            stat("records_delivered"),
            stat("records_dropped"),
        );
        let _ = writeln!(out, "wasm module: {}\n", self.wasm_path);
        out
    }

    fn throughput_rows(&self, out: &mut String, title: &str, runs: &[Vec<Measured>; SETUPS]) {
        let t = [totals(&runs[0]), totals(&runs[1])];
        let pair = (Setup::Plain, Setup::Trimio);
        let (low, high) = spread(runs, pair, |m| m.run.rate());
        let _ = writeln!(
            out,
            "{:<50} {:>12.0} {:>12.0} {:>14}",
            title,
            t[0].rate,
            t[1].rate,
            format!("{:.2} ({low:.2}-{high:.2})", ratio(t[1].rate, t[0].rate)),
        );
        let (low, high) = spread(runs, pair, cpu_per_call);
        let _ = writeln!(
            out,
            "{:<50} {:>12.3} {:>12.3} {:>14}",
            "  Envoy CPU s per 1,000 calls",
            t[0].gateway_cpu_per_1k,
            t[1].gateway_cpu_per_1k,
            format!(
                "{:.2}x ({low:.2}-{high:.2})",
                ratio(t[1].gateway_cpu_per_1k, t[0].gateway_cpu_per_1k)
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

    /// The peer's section: its figures beside Trimio's, B over P or B minus P.
    fn peer_rows(&self, out: &mut String) {
        let (Some(peer), Some(h)) = (&self.peer, self.peer_headline()) else {
            return;
        };
        let (b, p) = (Setup::Trimio, Setup::Peer);
        let _ = writeln!(
            out,
            "\nP = LiteLLM {} (1 uvicorn worker, a provider budget: its spend tracking ran on \
             every call), same mock, same calls, in turn with A and B\n{:<50} {:>12} {:>12} {:>14}",
            peer.version, "", "P LiteLLM", "B Trimio", "B vs P"
        );
        self.peer_throughput_rows(
            out,
            &format!("non-streamed calls/s, {JSON_WORKERS} connections"),
            &self.json,
        );
        self.peer_throughput_rows(
            out,
            &format!("streamed calls/s, {STREAM_WORKERS} connections"),
            &self.stream,
        );

        let reached = h.rate_reached;
        let _ = writeln!(
            out,
            "{:<50} {:>12.0} {:>12.0}",
            format!("latency at {} calls/s asked: got", self.rate_asked),
            reached,
            totals(&self.latency[b.index()]).rate,
        );
        for (name, pick, added) in [
            ("  p50 ms (median of rounds)", 0, h.p50_added_ms),
            ("  p99 ms (median of rounds)", 1, h.p99_added_ms),
        ] {
            let value =
                |s: Setup| self.latency_median(s, |r| if pick == 0 { r.p50_ms } else { r.p99_ms });
            let _ = writeln!(
                out,
                "{:<50} {:>12.2} {:>12.2} {:>+13.2}",
                name,
                value(p),
                value(b),
                added
            );
        }
        if reached < 0.9 * f64::from(self.rate_asked) {
            let _ = writeln!(
                out,
                "  LiteLLM did not sustain {} calls/s: it reached {reached:.0} calls/s with \
                 {RATE_WORKERS} hey workers, so its latencies are at its own limit",
                self.rate_asked
            );
        }

        let ttfb = |s: Setup, q: f64| percentile(&self.ttfb[s.index()], q);
        for (name, q) in [
            ("time to first streamed byte, p50 ms", 0.5),
            ("  p99 ms", 0.99),
        ] {
            let _ = writeln!(
                out,
                "{:<50} {:>12.3} {:>12.3} {:>+13.3}",
                name,
                ttfb(p, q),
                ttfb(b, q),
                ttfb(b, q) - ttfb(p, q)
            );
        }

        if let (Some(pm), Some(bm)) = (self.memory[p.index()], self.memory[b.index()]) {
            let _ = writeln!(
                out,
                "{:<50} {:>12.1} {:>12.1} {:>14}",
                format!("resident memory per open stream KiB ({} open)", pm.count),
                pm.per_stream_kib(),
                bm.per_stream_kib(),
                format!("{:.2}x", h.stream_memory_ratio),
            );
            let _ = writeln!(
                out,
                "{:<50} {:>12} {:>12}",
                "  RSS MiB idle / with them",
                pm.rss_mib(),
                bm.rss_mib(),
            );
        }
        let _ = writeln!(
            out,
            "LiteLLM's anthropic budget counter held the cost of every one of the {} calls it \
             answered ({:.4} USD in all)",
            peer.calls_counted, peer.spend_usd
        );
    }

    /// Throughput and CPU per call of P and B for one kind of call. B's CPU is Envoy's and the
    /// control plane's together; P's is LiteLLM's.
    fn peer_throughput_rows(&self, out: &mut String, title: &str, runs: &[Vec<Measured>; SETUPS]) {
        let (b, p) = (Setup::Trimio, Setup::Peer);
        let t = [totals(&runs[p.index()]), totals(&runs[b.index()])];
        let (low, high) = spread(runs, (p, b), |m| m.run.rate());
        let _ = writeln!(
            out,
            "{:<50} {:>12.0} {:>12.0} {:>14}",
            title,
            t[0].rate,
            t[1].rate,
            format!("{:.1} ({low:.1}-{high:.1})", ratio(t[1].rate, t[0].rate)),
        );
        let (low, high) = spread(runs, (p, b), all_cpu_per_call);
        let _ = writeln!(
            out,
            "{:<50} {:>12.3} {:>12.3} {:>14}",
            "  CPU s per 1,000 calls (B: Envoy + control plane)",
            t[0].all_cpu_per_1k(),
            t[1].all_cpu_per_1k(),
            format!(
                "{:.3}x ({low:.3}-{high:.3})",
                ratio(t[1].all_cpu_per_1k(), t[0].all_cpu_per_1k())
            ),
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

/// Trimio (B) against the peer (P), for the JSON line: ratios are B over P, differences B
/// minus P.
struct PeerHeadline {
    version: String,
    /// Non-streamed and streamed calls per second.
    throughput_ratio: f64,
    stream_throughput_ratio: f64,
    /// CPU per call: Envoy's and the control plane's together, over LiteLLM's.
    cpu_ratio: f64,
    stream_cpu_ratio: f64,
    /// The calls per second LiteLLM reached in the latency measurement.
    rate_reached: f64,
    p50_added_ms: f64,
    p99_added_ms: f64,
    ttfb_added_ms: f64,
    /// Resident memory per open stream: Envoy's over LiteLLM's.
    stream_memory_ratio: f64,
    calls_counted: u64,
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
            gateway_cpu_s: cpu,
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
        assert!((t.gateway_cpu_per_1k - 0.3).abs() < 1e-9);
    }

    #[test]
    fn the_json_line_has_exactly_the_headline_keys() {
        let mut report = Report::new(super::super::Plan::quick());
        report.json = [
            vec![measured(2000, 1.0, 0.2)],
            vec![measured(1000, 1.0, 0.2)],
            Vec::new(),
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
        assert!(!report.table().contains("LiteLLM"));
    }

    #[test]
    fn a_peer_run_adds_its_keys_after_the_headline_ones() {
        let mut report = Report::new(super::super::Plan::quick());
        let mut trimio = measured(1000, 1.0, 0.2);
        trimio.control_plane_cpu_s = 0.1;
        report.json = [
            vec![measured(2000, 1.0, 0.2)],
            vec![trimio],
            vec![measured(100, 1.0, 1.5)],
        ];
        report.peer = Some(PeerRun {
            version: "1.0.0".to_owned(),
            calls_counted: 100,
            spend_usd: 0.3,
        });

        let text = report.json();
        let line: serde_json::Value = serde_json::from_str(&text).unwrap();

        let keys: Vec<&str> = line
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(keys[..9].last(), Some(&"records_per_s"));
        assert!(keys[9..].iter().all(|k| k.starts_with("peer")));
        assert_eq!(line["peer"], "litellm");
        assert_eq!(line["peer_throughput_ratio"], 10.0);
        // (0.2 + 0.1) CPU seconds over 1,000 calls against 1.5 over 100.
        assert_eq!(line["peer_cpu_ratio"], 0.02);
        assert_eq!(line["peer_calls_counted"], 100);
        assert!(report.table().contains("P = LiteLLM 1.0.0"));
    }
}
