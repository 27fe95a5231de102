//! `trimio-mock-provider`: serves exchange files as a mock LLM provider until SIGTERM or SIGINT.
//!
//! ```text
//! trimio-mock-provider --listen 127.0.0.1:0 shared/fixtures more/case.exchange.json
//! ```
//!
//! Prints `listening on ADDR` on stdout once it accepts connections; logs go to stderr
//! (`RUST_LOG` sets the level, `info` by default).

use std::io::{self, IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use tokio::signal::unix::{SignalKind, signal};
use tracing::info;
use tracing_subscriber::EnvFilter;
use trimio_mock_provider::exchange::{self, ExchangeError};
use trimio_mock_provider::server::MockProvider;

/// A mock LLM provider that replays exchange files byte for byte.
#[derive(Debug, Parser)]
#[command(name = "trimio-mock-provider", version)]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,

    /// Exchange files, or folders searched recursively for `*.exchange.json`.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error(transparent)]
    Exchanges(#[from] ExchangeError),
    #[error("cannot serve on {addr}: {source}")]
    Serve { addr: SocketAddr, source: io::Error },
    #[error("cannot announce the listening address: {0}")]
    Announce(io::Error),
    #[error("cannot wait for signals: {0}")]
    Signals(io::Error),
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(io::stderr)
        .with_ansi(io::stderr().is_terminal())
        .init();

    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("trimio-mock-provider: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), RunError> {
    let exchanges = exchange::load_all(&args.paths)?;
    info!(exchanges = exchanges.len(), "exchanges loaded");

    // Signal handlers first, so that a signal sent right after the announcement is not lost.
    let mut terminate = signal(SignalKind::terminate()).map_err(RunError::Signals)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(RunError::Signals)?;

    let provider = MockProvider::start(args.listen, exchanges)
        .await
        .map_err(|source| RunError::Serve {
            addr: args.listen,
            source,
        })?;
    announce(provider.addr()).map_err(RunError::Announce)?;

    tokio::select! {
        _ = terminate.recv() => info!(signal = "SIGTERM", "stopping"),
        _ = interrupt.recv() => info!(signal = "SIGINT", "stopping"),
    }
    provider.shutdown().await;
    Ok(())
}

/// The line test harnesses wait for.
fn announce(addr: SocketAddr) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "listening on {addr}")?;
    stdout.flush()
}
