//! `trimio-control-plane import-prices`: an import straight into the database, without the
//! HTTP server.
//!
//! A control plane reads prices from the database at start only; one already running on the
//! same database keeps its old prices until restarted. Use the admin route to change the
//! prices of a running control plane.

use std::io;
use std::path::PathBuf;

use clap::Args;
use thiserror::Error;

use crate::calendar::now_timestamp;
use crate::pricing::import::{ImportAnswer, ImportError, Options, convert, stored};
use crate::store::{SqliteStore, Store, StoreError};

/// Import prices from LiteLLM's model_prices_and_context_window.json into the database and
/// print what was imported as JSON.
#[derive(Debug, Args)]
pub struct ImportPricesArgs {
    /// SQLite database file, created if missing; not opened on a dry run.
    #[arg(long, env = "TRIMIO_DATABASE")]
    pub database: PathBuf,

    /// A downloaded copy of LiteLLM's model_prices_and_context_window.json.
    #[arg(long, value_name = "FILE")]
    pub litellm: PathBuf,

    /// Print what would be imported; store nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Providers to import, comma-separated (default: anthropic,openai,gemini).
    #[arg(long)]
    pub providers: Option<String>,

    /// Where the file was downloaded from; kept in each imported entry's source.
    #[arg(long)]
    pub source_url: Option<String>,
}

/// The command failed; nothing was stored.
#[derive(Debug, Error)]
pub enum CommandError {
    #[error("cannot read the price map {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path}: {source}")]
    Import { path: PathBuf, source: ImportError },
    #[error("cannot open the database {path}: {source}")]
    Database { path: PathBuf, source: StoreError },
    #[error("cannot store the imported prices: {0}")]
    Store(StoreError),
}

/// Runs the import. Blocks.
pub fn run(args: &ImportPricesArgs) -> Result<ImportAnswer, CommandError> {
    let import_error = |source| CommandError::Import {
        path: args.litellm.clone(),
        source,
    };
    let options = Options::new(args.providers.as_deref(), args.source_url.as_deref())
        .map_err(import_error)?;
    let json = std::fs::read(&args.litellm).map_err(|source| CommandError::Read {
        path: args.litellm.clone(),
        source,
    })?;
    let conversion = convert(&json, &options).map_err(import_error)?;

    if !args.dry_run {
        let store = SqliteStore::open(&args.database).map_err(|source| CommandError::Database {
            path: args.database.clone(),
            source,
        })?;
        store
            .put_prices(&stored(&conversion), &now_timestamp())
            .map_err(CommandError::Store)?;
    }

    tracing::info!(
        source = "litellm",
        dry_run = args.dry_run,
        database = %args.database.display(),
        imported = conversion.prices.len(),
        skipped = conversion.skipped.len(),
        other_providers = conversion.other_providers,
        "prices imported"
    );
    Ok(ImportAnswer::new(conversion, args.dry_run))
}
