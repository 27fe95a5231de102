//! `trimio-control-plane`: see `--help`.

use std::process::ExitCode;

use clap::Parser;
use trimio_control_plane::cli::Cli;
use trimio_control_plane::{logging, server};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log_format);

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
