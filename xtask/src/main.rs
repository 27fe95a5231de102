//! Project tasks: `cargo xtask <command>`.
//!
//! - `up`: install what is missing, build, and run the gateway on embedded defaults
//! - `test`: every test, end-to-end ones on real Envoy included
//! - `replay`: send exchange files through a fresh, isolated stack and print what was billed
//! - `demo`: three teams of simulated agent traffic, then the spend report
//! - `chaos`: fault scenarios on real processes, then what was lost or counted twice
//! - `bench`: what the filter costs against plain Envoy (and, with `--peer litellm`, against
//!   LiteLLM's proxy), and the control plane's own rates
//! - `envoy-config`: write (or `--check`) the shipped Envoy configurations

mod bench;
mod chaos;
mod demo;
mod replay;
mod setup;
mod up;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Trimio project tasks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install what is missing, build, and run the control plane and Envoy on loopback.
    Up {
        /// Serve the providers' APIs from the bundled mock instead of the real providers.
        #[arg(long)]
        mock_provider: bool,
        /// Port of the gateway (Envoy's listener).
        #[arg(long, default_value_t = 10000)]
        port: u16,
        /// Port of the control plane (admin API).
        #[arg(long, default_value_t = 8081)]
        control_plane_port: u16,
    },
    /// Run every test: unit, property and end-to-end on real Envoy.
    Test {
        /// Extra arguments for `cargo test` (after `--`).
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Install the wasm target and Envoy (into .venv), then build every part.
    Build,
    /// Send exchange files through a fresh, isolated stack; one JSON line per call.
    Replay(replay::Args),
    /// Three teams of simulated agent traffic through the real stack, then the spend report.
    Demo,
    /// Fault scenarios on real processes; ends with a JSON line of calls, records, lost and
    /// duplicated.
    Chaos(chaos::Args),
    /// Measure the filter against plain Envoy (throughput, CPU, latency, first byte, memory)
    /// and the control plane alone; ends with a JSON line of the headline figures.
    Bench(bench::Args),
    /// Write the shipped Envoy configurations in envoy/ (or check they are current).
    EnvoyConfig {
        #[arg(long)]
        check: bool,
    },
    /// Check formatting and lints on the host and on wasm32-wasip1.
    Lint,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Up {
            mock_provider,
            port,
            control_plane_port,
        } => setup::prepare(setup::Profile::Release).and_then(|parts| {
            runtime()?.block_on(up::run(parts, mock_provider, port, control_plane_port))
        }),
        Command::Test { args } => {
            setup::prepare(setup::Profile::Debug).and_then(|parts| setup::test(&parts, &args))
        }
        Command::Build => setup::prepare(setup::Profile::Debug).map(|_| ()),
        Command::Replay(args) => setup::prepare(setup::Profile::Debug)
            .and_then(|parts| runtime()?.block_on(replay::run(parts, args))),
        Command::Demo => setup::prepare(setup::Profile::Debug)
            .and_then(|parts| runtime()?.block_on(demo::run(parts))),
        Command::Chaos(args) => setup::prepare(setup::Profile::Debug)
            .and_then(|parts| runtime()?.block_on(chaos::run(parts, args))),
        Command::Bench(args) => bench::prepare(&args).and_then(|tools| {
            let parts = setup::prepare(setup::Profile::Release)?;
            runtime()?.block_on(bench::run(parts, tools, args))
        }),
        Command::EnvoyConfig { check } => setup::envoy_config(check),
        Command::Lint => setup::lint(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))
}

/// Paths of the built parts, exported to the harness through its environment variables.
pub struct Parts {
    pub wasm: PathBuf,
    pub control_plane: PathBuf,
    pub mock_provider: PathBuf,
    pub envoy: PathBuf,
}
