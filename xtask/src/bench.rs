//! `cargo xtask bench`: what the Trimio filter costs, measured against plain Envoy on the same
//! machine in one run.
//!
//! Two gateways run side by side on loopback in front of one mock provider: plain Envoy (the
//! same listener, routes and clusters, no wasm filter) and Envoy with the Trimio filter and
//! the real control plane, all built in release mode. Every measurement alternates between
//! them, round by round, so what the machine's other work does to one it does to the other.
//!
//! - throughput: `hey` at a fixed concurrency, non-streamed and streamed calls; Envoy's CPU
//!   time (`/proc/<pid>/stat`) per thousand calls
//! - latency at a fixed rate (about 1,000 calls/s, approximated with hey's rate per worker)
//! - time to the first streamed byte, one call at a time with the harness's own client
//! - Envoy's memory per open stream, with many long streams open at once
//! - the control plane alone: admissions per second and durably stored records per second
//!
//! It prints a table for people, and last one JSON line of the headline figures.
//!
//! With `--peer litellm`, LiteLLM's proxy (P) runs beside them in front of the same mock and
//! takes the same calls in every measurement, in turn with A and B; Trimio's figures are then
//! also given against LiteLLM's (see `litellm` for how it is set up and checked).

mod control_plane;
mod exchanges;
mod hey;
mod litellm;
mod process_stats;
mod report;
mod streams;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::process::Command;
use trimio_e2e::control_plane::ControlPlane;
use trimio_e2e::envoy::Envoy;
use trimio_e2e::envoy_config::{EnvoyOptions, Upstreams};
use trimio_e2e::process::Process;
use trimio_e2e::stack::random_token;
use trimio_mock_provider::exchange::Exchange;

use crate::Parts;
use exchanges::BenchExchanges;
use litellm::LiteLlm;
use report::{Measured, PeerRun, Report, SETUPS, Setup};

#[derive(clap::Args)]
pub struct Args {
    /// A run of about two minutes instead of about ten: one round, shorter runs, fewer
    /// samples. Good for seeing that it works; too noisy to quote.
    #[arg(long)]
    quick: bool,
    /// Also measure another gateway in front of the same mock, with the same calls, and give
    /// Trimio's figures against it.
    #[arg(long, value_name = "GATEWAY", value_enum)]
    peer: Option<Peer>,
}

/// The gateways `--peer` can measure against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Peer {
    /// LiteLLM's proxy (PyPI `litellm[proxy]`), installed into `.venv`.
    Litellm,
}

/// What the bench runs besides the built parts: the load generator, and LiteLLM's `litellm`
/// command for `--peer litellm`.
pub struct Tools {
    hey: PathBuf,
    litellm: Option<PathBuf>,
}

/// How long and how much; the full run stays under ten minutes on two cores.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Rounds of each load measurement; each round runs both setups once.
    pub rounds: usize,
    /// Length of one measured hey run, in seconds.
    pub seconds: u64,
    /// Length of the unmeasured run that warms each setup up, in seconds.
    pub warm_seconds: u64,
    /// Streamed calls per setup whose first byte is timed.
    pub ttfb_calls: usize,
    /// Long streams held open at once for the memory reading.
    pub open_streams: usize,
    /// Length of each control-plane measurement, in seconds.
    pub control_plane_seconds: u64,
}

impl Plan {
    fn full() -> Plan {
        Plan {
            rounds: 4,
            seconds: 10,
            warm_seconds: 3,
            ttfb_calls: 200,
            open_streams: 256,
            control_plane_seconds: 10,
        }
    }

    fn quick() -> Plan {
        Plan {
            rounds: 1,
            seconds: 4,
            warm_seconds: 1,
            ttfb_calls: 40,
            open_streams: 128,
            control_plane_seconds: 4,
        }
    }
}

/// Concurrent connections for throughput: non-streamed calls, and streams (each holds its
/// connection for the whole paced stream, about 120 ms).
pub const JSON_WORKERS: usize = 32;
pub const STREAM_WORKERS: usize = 256;
/// The rate latency is measured at, in calls per second, and the hey workers that share it.
pub const TARGET_RATE: u32 = 1000;
pub const RATE_WORKERS: u32 = 4;

/// Finds the load generator, and the peer gateway when one is asked for, installing what is
/// missing, before anything is built.
pub fn prepare(args: &Args) -> Result<Tools, String> {
    let hey = hey::ensure()?;
    let litellm = match args.peer {
        Some(Peer::Litellm) => Some(crate::setup::ensure_litellm()?),
        None => None,
    };
    Ok(Tools { hey, litellm })
}

pub async fn run(parts: Parts, tools: Tools, args: Args) -> Result<(), String> {
    let plan = if args.quick {
        Plan::quick()
    } else {
        Plan::full()
    };
    let started = Instant::now();
    let load_before = load_average();
    let dir = tempfile::Builder::new()
        .prefix("trimio-bench-")
        .tempdir()
        .map_err(|e| format!("temporary folder: {e}"))?;

    let exchanges = exchanges::build()?;
    let wasm_bytes = std::fs::metadata(&parts.wasm)
        .map_err(|e| format!("{}: {e}", parts.wasm.display()))?
        .len();
    let mut bench = Bench::start(&parts, tools, dir.path(), exchanges, plan).await?;
    let measured = bench.measure().await;
    bench.stop().await;
    let mut report = measured?;

    let exchange = bench.exchanges.json.clone();
    let cp_dir = dir.path().join("control-plane-alone");
    std::fs::create_dir_all(&cp_dir).map_err(|e| e.to_string())?;
    report.control_plane = Some(
        control_plane::measure(&bench.hey, &cp_dir, &exchange, plan.control_plane_seconds).await?,
    );

    report.wasm_bytes = wasm_bytes;
    report.wasm_path = parts.wasm.display().to_string();
    report.load_average = (load_before, load_average());
    report.elapsed = started.elapsed();
    print!("{}", report.table());
    println!("{}", report.json());
    Ok(())
}

/// One gateway under test.
struct Gateway {
    setup: Setup,
    server: Server,
    /// The process whose CPU time and memory are read.
    pid: u32,
    /// The key its clients send.
    key: String,
}

enum Server {
    Envoy(Envoy),
    LiteLlm(LiteLlm),
}

impl Gateway {
    fn url(&self, path: &str) -> String {
        match &self.server {
            Server::Envoy(envoy) => envoy.url(path),
            Server::LiteLlm(litellm) => litellm.url(path),
        }
    }

    fn envoy(&self) -> Option<&Envoy> {
        match &self.server {
            Server::Envoy(envoy) => Some(envoy),
            Server::LiteLlm(_) => None,
        }
    }

    /// CPU time in seconds: Envoy's process, or LiteLLM's with any children it starts.
    fn cpu_seconds(&self) -> Result<f64, String> {
        match self.server {
            Server::Envoy(_) => process_stats::cpu_seconds(self.pid),
            Server::LiteLlm(_) => process_stats::tree_cpu_seconds(self.pid),
        }
    }

    /// Resident memory in KiB, read the same way.
    fn rss_kib(&self) -> Result<u64, String> {
        match self.server {
            Server::Envoy(_) => process_stats::rss_kib(self.pid),
            Server::LiteLlm(_) => process_stats::tree_rss_kib(self.pid),
        }
    }

    /// Whether the client got the provider's answer: its exact bytes and headers through
    /// Envoy; through LiteLLM, which re-encodes both, the same message or events.
    fn check(
        &self,
        exchange: &Exchange,
        outcome: &trimio_e2e::client::Outcome,
    ) -> Result<(), String> {
        let checked = match self.server {
            Server::Envoy(_) => trimio_e2e::client::passthrough(exchange, outcome),
            Server::LiteLlm(_) => litellm::same_answer(exchange, outcome),
        };
        checked.map_err(|why| format!("{} through {}: {why}", exchange.name, self.setup.label()))
    }

    async fn stop(&mut self) {
        match &mut self.server {
            Server::Envoy(envoy) => envoy.stop().await,
            Server::LiteLlm(litellm) => litellm.stop().await,
        }
    }
}

struct Bench {
    plan: Plan,
    hey: PathBuf,
    exchanges: BenchExchanges,
    json_body: PathBuf,
    stream_body: PathBuf,
    mock: Option<Process>,
    mock_port: u16,
    control_plane: ControlPlane,
    /// Indexed by [`Setup::index`]; the peer, when there is one, last.
    gateways: Vec<Gateway>,
    http: reqwest::Client,
}

impl Bench {
    async fn start(
        parts: &Parts,
        tools: Tools,
        dir: &Path,
        exchanges: BenchExchanges,
        plan: Plan,
    ) -> Result<Bench, String> {
        let exchange_dir = dir.join("exchanges");
        exchanges.write(&exchange_dir)?;
        let json_body = dir.join("json-body");
        let stream_body = dir.join("stream-body");
        write(&json_body, &exchanges.json.request.body_bytes())?;
        write(&stream_body, &exchanges.stream.request.body_bytes())?;

        let mut command = Command::new(&parts.mock_provider);
        command
            .args(["--listen", "127.0.0.1:0"])
            .arg(&exchange_dir)
            .env("RUST_LOG", "warn");
        let (mock, addr) = Process::spawn_until_line(
            "mock provider",
            command,
            &dir.join("mock.log"),
            "listening on ",
        )
        .await?;
        let mock_port = port_of(&addr)?;

        let filter_token = random_token();
        let control_plane = ControlPlane::start(dir, &random_token(), &filter_token).await?;
        let admin = &control_plane.admin;
        let team = admin.create_team("bench", Some("1000000")).await?;
        let team_id = team["id"].as_str().ok_or("no team id")?.to_owned();
        let (_, key) = admin.issue_key(&team_id, None).await?;
        for exchange in exchanges.all() {
            for (model, entry) in &exchange.prices {
                admin.set_price(model, entry).await?;
            }
        }

        let mut gateways = Vec::new();
        for setup in [Setup::Plain, Setup::Trimio] {
            let gateway_dir = dir.join(setup.slug());
            std::fs::create_dir_all(&gateway_dir).map_err(|e| e.to_string())?;
            let upstreams = Upstreams::Mock {
                host: "127.0.0.1".to_owned(),
                port: mock_port,
            };
            let mut options =
                EnvoyOptions::local(&parts.wasm.to_string_lossy(), control_plane.port, upstreams);
            if setup == Setup::Plain {
                options.title = "Plain Envoy on loopback, no Trimio filter.".to_owned();
                options.trimio_filter = false;
            }
            let envoy = Envoy::start(&gateway_dir, &options, &filter_token).await?;
            let pid = process_stats::child_with_arg(&gateway_dir.join("envoy.yaml"))?;
            gateways.push(Gateway {
                setup,
                server: Server::Envoy(envoy),
                pid,
                key: key.clone(),
            });
        }
        if let Some(bin) = &tools.litellm {
            let peer_dir = dir.join(Setup::Peer.slug());
            std::fs::create_dir_all(&peer_dir).map_err(|e| e.to_string())?;
            eprintln!("bench: starting LiteLLM {}", crate::setup::LITELLM_VERSION);
            let litellm = LiteLlm::start(bin, &peer_dir, mock_port, &exchanges).await?;
            let pid = litellm.pid().ok_or("LiteLLM is gone")?;
            gateways.push(Gateway {
                setup: Setup::Peer,
                key: litellm.key.clone(),
                server: Server::LiteLlm(litellm),
                pid,
            });
        }

        Ok(Bench {
            plan,
            hey: tools.hey,
            exchanges,
            json_body,
            stream_body,
            mock: Some(mock),
            mock_port,
            control_plane,
            gateways,
            http: streams::client()?,
        })
    }

    async fn stop(&mut self) {
        for gateway in &mut self.gateways {
            gateway.stop().await;
        }
        self.control_plane.stop(false).await;
        if let Some(mock) = self.mock.take() {
            mock.stop().await;
        }
    }

    async fn measure(&mut self) -> Result<Report, String> {
        let mut report = Report::new(self.plan);

        self.check_setups().await?;
        eprintln!(
            "bench: memory with {} long streams open, fresh gateways",
            self.plan.open_streams
        );
        for index in 0..self.gateways.len() {
            let count = self.plan.open_streams;
            let open =
                streams::open_streams(&self.gateways[index], &self.exchanges.long_stream, count)
                    .await?;
            report.memory[index] = Some(open);
            self.owe(index, Kind::LongStream, count as u64, 0)?;
            self.settle(index).await?;
        }

        eprintln!("bench: warming up");
        for index in 0..self.gateways.len() {
            let warm = self.plan.warm_seconds;
            self.load(index, Kind::Json, JSON_WORKERS, None, warm)
                .await?;
            self.load(index, Kind::Stream, STREAM_WORKERS, None, warm)
                .await?;
        }

        eprintln!("bench: throughput, non-streamed, {JSON_WORKERS} connections");
        report.json = self.rounds(Kind::Json, JSON_WORKERS, None).await?;
        eprintln!("bench: throughput, streamed, {STREAM_WORKERS} connections");
        report.stream = self.rounds(Kind::Stream, STREAM_WORKERS, None).await?;

        // The target rate, or the nearest below it that both sustain with room to spare.
        let sustained = report
            .json_rate(Setup::Plain)
            .min(report.json_rate(Setup::Trimio));
        let rate = if f64::from(TARGET_RATE) <= 0.8 * sustained {
            TARGET_RATE
        } else {
            ((0.8 * sustained / 50.0).floor() as u32 * 50).max(50)
        };
        report.rate_asked = rate;
        let per_worker = (rate / RATE_WORKERS).max(1);
        eprintln!("bench: latency at {rate} calls/s ({RATE_WORKERS} workers)");
        report.latency = self
            .rounds(Kind::Json, RATE_WORKERS as usize, Some(per_worker))
            .await?;

        eprintln!(
            "bench: time to first byte, {} streams per setup",
            self.plan.ttfb_calls
        );
        report.ttfb = self.first_bytes().await?;

        let trimio = &self.gateways[Setup::Trimio.index()];
        if let Some(envoy) = trimio.envoy() {
            report.filter_stats = envoy.stats("trimio").await;
        }
        if let Some(Server::LiteLlm(litellm)) =
            self.gateways.get(Setup::Peer.index()).map(|g| &g.server)
        {
            report.peer = Some(PeerRun {
                version: crate::setup::LITELLM_VERSION.to_owned(),
                calls_counted: litellm.calls_counted,
                spend_usd: litellm.spend().await?,
            });
        }
        Ok(report)
    }

    /// A call of each kind through each setup: the client gets the provider's answer (its
    /// bytes, through Envoy), through Trimio the ledger bills what the exchange expects, and
    /// through LiteLLM its budget counter grows by what the exchange costs.
    async fn check_setups(&mut self) -> Result<(), String> {
        for index in 0..self.gateways.len() {
            for kind in [Kind::Json, Kind::Stream] {
                let gateway = &self.gateways[index];
                let exchange = self.exchanges.of(kind);
                let base = gateway.url("");
                let outcome =
                    trimio_e2e::client::send(&self.http, &base, exchange, Some(&gateway.key))
                        .await?;
                gateway.check(exchange, &outcome)?;
                if gateway.setup == Setup::Peer {
                    check_litellm_version(&outcome)?;
                    self.owe(index, kind, 1, 0)?;
                    self.settle(index).await?;
                    continue;
                }
                if gateway.setup != Setup::Trimio {
                    continue;
                }
                let id = outcome
                    .request_id()
                    .ok_or("the Trimio gateway answered without a request id")?;
                let record = self
                    .control_plane
                    .admin
                    .wait_for_call(id, Duration::from_secs(20))
                    .await?;
                if let Some(expect) = &exchange.expect {
                    trimio_e2e::expect::check(expect, &record)
                        .map_err(|why| format!("{} billed wrongly: {why}", exchange.name))?;
                }
            }
        }
        Ok(())
    }

    /// `plan.rounds` runs of each setup, in turn, the order rotated every round (with two
    /// setups, flipped).
    async fn rounds(
        &mut self,
        kind: Kind,
        workers: usize,
        rate_per_worker: Option<u32>,
    ) -> Result<[Vec<Measured>; SETUPS], String> {
        let mut runs: [Vec<Measured>; SETUPS] = Default::default();
        for round in 0..self.plan.rounds {
            for index in rotated(self.gateways.len(), round) {
                let seconds = self.plan.seconds;
                let measured = self
                    .load(index, kind, workers, rate_per_worker, seconds)
                    .await?;
                eprintln!(
                    "bench:   round {} {:<7} {:>8.0} calls/s  p50 {:.1} ms  p99 {:.1} ms  \
                     failed {}",
                    round + 1,
                    self.gateways[index].setup.slug(),
                    measured.run.rate(),
                    measured.run.p50_ms,
                    measured.run.p99_ms,
                    measured.run.failed
                );
                runs[index].push(measured);
            }
        }
        Ok(runs)
    }

    /// One hey run against one setup, with the CPU time the gateway and the control plane
    /// used for it (the usage records it queued delivered, for Trimio; the calls' cost in its
    /// budget counter, for LiteLLM).
    async fn load(
        &mut self,
        index: usize,
        kind: Kind,
        workers: usize,
        rate_per_worker: Option<u32>,
        seconds: u64,
    ) -> Result<Measured, String> {
        let gateway = &self.gateways[index];
        let exchange = self.exchanges.of(kind);
        let body = match kind {
            Kind::Json => &self.json_body,
            Kind::Stream | Kind::LongStream => &self.stream_body,
        };
        let control_plane_pid = self
            .control_plane
            .pid()
            .ok_or("the control plane is gone")?;

        let gateway_before = gateway.cpu_seconds()?;
        let control_plane_before = process_stats::cpu_seconds(control_plane_pid)?;
        let run = hey::run(&hey::Load {
            hey: &self.hey,
            url: gateway.url(&exchange.request.path),
            method: &exchange.request.method,
            headers: headers(exchange, &gateway.key),
            body_file: Some(body),
            workers,
            rate_per_worker,
            seconds,
        })
        .await?;
        self.owe(index, kind, run.ok, run.failed)?;
        self.settle(index).await?;
        let gateway = &self.gateways[index];
        let gateway_cpu_s = gateway.cpu_seconds()? - gateway_before;
        let control_plane_cpu_s =
            process_stats::cpu_seconds(control_plane_pid)? - control_plane_before;

        Ok(Measured {
            run,
            gateway_cpu_s,
            control_plane_cpu_s,
        })
    }

    /// Notes calls of `kind` that a setup answered (`ok`) or not (`failed`); for LiteLLM,
    /// their cost, which its budget counter must hold at the next [`Bench::settle`].
    fn owe(&mut self, index: usize, kind: Kind, ok: u64, failed: u64) -> Result<(), String> {
        let exchange = self.exchanges.of(kind);
        match &mut self.gateways[index].server {
            Server::LiteLlm(litellm) => litellm.owe(exchange, ok, failed),
            Server::Envoy(_) => Ok(()),
        }
    }

    /// After a run: the Trimio gateway's usage delivered, LiteLLM's spend counted, the
    /// mock's request log emptied.
    async fn settle(&mut self, index: usize) -> Result<(), String> {
        let setup = self.gateways[index].setup;
        match &mut self.gateways[index].server {
            Server::Envoy(envoy) if setup == Setup::Trimio => {
                crate::chaos::wait_drained(envoy).await?;
            }
            Server::LiteLlm(litellm) => litellm.settle().await?,
            Server::Envoy(_) => {}
        }
        let url = format!("http://127.0.0.1:{}/__mock/requests", self.mock_port);
        self.http
            .delete(url)
            .send()
            .await
            .map_err(|e| format!("mock provider: {e}"))?;
        Ok(())
    }

    /// Time to the first byte of streamed calls, one at a time, in turn through each setup;
    /// milliseconds per setup.
    async fn first_bytes(&mut self) -> Result<[Vec<f64>; SETUPS], String> {
        let setups = self.gateways.len();
        let clients = (0..setups)
            .map(|_| streams::client())
            .collect::<Result<Vec<_>, _>>()?;
        let stream = &self.exchanges.stream;
        // One call each first, unmeasured, to open the connections.
        for (client, gateway) in clients.iter().zip(&self.gateways) {
            streams::first_byte(client, gateway, stream).await?;
        }
        let mut samples: [Vec<f64>; SETUPS] = Default::default();
        for call in 0..self.plan.ttfb_calls {
            for index in rotated(setups, call) {
                let first =
                    streams::first_byte(&clients[index], &self.gateways[index], stream).await?;
                samples[index].push(first.as_secs_f64() * 1000.0);
            }
        }
        for index in 0..setups {
            let calls = self.plan.ttfb_calls as u64 + 1;
            self.owe(index, Kind::Stream, calls, 0)?;
            self.settle(index).await?;
        }
        Ok(samples)
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Json,
    Stream,
    LongStream,
}

impl BenchExchanges {
    fn of(&self, kind: Kind) -> &Exchange {
        match kind {
            Kind::Json => &self.json,
            Kind::Stream => &self.stream,
            Kind::LongStream => &self.long_stream,
        }
    }
}

/// The indices `0..setups`, starting at `turn % setups`: each setup in turn goes first.
fn rotated(setups: usize, turn: usize) -> impl Iterator<Item = usize> {
    (0..setups).map(move |index| (index + turn) % setups.max(1))
}

/// Fails unless LiteLLM says it is the release the bench installs.
fn check_litellm_version(outcome: &trimio_e2e::client::Outcome) -> Result<(), String> {
    let version = crate::setup::LITELLM_VERSION;
    match outcome.header("x-litellm-version") {
        Some(got) if got == version => Ok(()),
        got => Err(format!(
            "LiteLLM answered as version {got:?}; the bench installs {version}"
        )),
    }
}

/// The headers hey sends: the exchange's own, the mock's exchange name, the key.
fn headers(exchange: &Exchange, key: &str) -> Vec<String> {
    let mut headers: Vec<String> = exchange
        .request
        .headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}"))
        .collect();
    headers.push(format!(
        "{}: {}",
        trimio_e2e::client::EXCHANGE_HEADER,
        exchange.name
    ));
    let (name, value) = trimio_e2e::client::key_header(exchange, key);
    headers.push(format!("{name}: {value}"));
    headers
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

fn port_of(addr: &str) -> Result<u16, String> {
    addr.rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| format!("no port in {addr}"))
}

/// The one-minute load average, from `/proc/loadavg`.
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
