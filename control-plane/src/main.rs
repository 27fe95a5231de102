//! `trimio-control-plane`: see `--help`.

use std::process::ExitCode;

use clap::Parser;
use trimio_control_plane::cli::{Cli, Command};
use trimio_control_plane::pricing::import::{self, ImportPricesArgs};
use trimio_control_plane::{logging, server};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log_format);
    if let Some(Command::ImportPrices(args)) = cli.command {
        return import_prices(args).await;
    }

    let config = match cli.resolve(|name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(error) => {
            tracing::error!("{error}");
            return ExitCode::FAILURE;
        }
    };
    match server::run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `import-prices` and prints its answer on stdout.
async fn import_prices(args: ImportPricesArgs) -> ExitCode {
    let answer = match tokio::task::spawn_blocking(move || import::run(&args)).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(error)) => {
            tracing::error!("{error}");
            return ExitCode::FAILURE;
        }
        Err(error) => {
            tracing::error!("the price import stopped before it finished: {error}");
            return ExitCode::FAILURE;
        }
    };
    match serde_json::to_string_pretty(&answer) {
        Ok(json) => {
            println!("{json}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!("cannot write the import's answer: {error}");
            ExitCode::FAILURE
        }
    }
}
