//! Start-up, serving and shutdown.

use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::net::TcpListener;

use crate::alerts::{DeliveryWorker, run_deliveries};
use crate::cli::Config;
use crate::http::app;
use crate::pricing::{DefaultsError, shipped_defaults};
use crate::state::{AppState, LoadError};
use crate::store::{SqliteStore, StoreError};

/// How often reservations are expired and budget periods are checked.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The server could not start or stopped with an error.
#[derive(Debug, Error)]
pub enum ServeError {
    #[error("cannot open the database {path}: {source}")]
    Database { path: String, source: StoreError },
    #[error(transparent)]
    Defaults(#[from] DefaultsError),
    #[error("cannot load state from the database: {0}")]
    Load(#[from] LoadError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("the server failed: {0}")]
    Serve(std::io::Error),
    #[error("cannot lock {path}: {reason}")]
    Lock { path: String, reason: String },
    #[error("cannot set up the webhook client: {0}")]
    Http(reqwest::Error),
    #[error("start-up was interrupted: {0}")]
    Interrupted(#[from] tokio::task::JoinError),
}

/// Opens the store, loads memory, serves until SIGTERM or SIGINT, then drains in-flight
/// requests and returns.
pub async fn run(config: Config) -> Result<(), ServeError> {
    let _lock = lock_database(&config.database)?;
    let path = config.database.clone();
    let store = tokio::task::spawn_blocking(move || SqliteStore::open(&path))
        .await?
        .map_err(|source| ServeError::Database {
            path: config.database.display().to_string(),
            source,
        })?;
    let defaults = shipped_defaults()?;
    let tokens = config.tokens.clone();
    let state =
        tokio::task::spawn_blocking(move || AppState::load(Arc::new(store), defaults, tokens))
            .await??;

    {
        let mut memory = state.memory_mut();
        memory.leases.valid = std::time::Duration::from_millis(config.lease_ms);
        memory.leases.max_calls = config.lease_calls;
    }
    {
        let memory = state.memory();
        tracing::info!(
            listen = %config.listen,
            database = %config.database.display(),
            teams = memory.registry.team_count(),
            keys = memory.registry.key_count(),
            prices = memory.prices.len(),
            prices.custom = memory.prices.custom_len(),
            budgets = memory.budgets.all().count(),
            alert_targets = memory.targets.len(),
            filter_token = config.tokens.filter.is_some(),
            lease_ms = config.lease_ms,
            lease_calls = config.lease_calls,
            "control plane loaded"
        );
    }
    if config.tokens.filter.is_none() {
        tracing::warn!(
            "no filter token is set: anyone who can reach this port may ask for admissions and \
             deliver usage. Set one with --filter-token-file PATH (or TRIMIO_FILTER_TOKEN_FILE) \
             or TRIMIO_FILTER_TOKEN, and give the filter the same token; production \
             deployments must"
        );
    }

    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.listen.to_string(),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServeError::Bind {
        addr: config.listen.to_string(),
        source,
    })?;
    // Scripts and tests wait for this exact line on stdout.
    println!("listening on {addr}");
    tracing::info!(%addr, "listening");

    let upkeep = tokio::spawn(upkeep(state.clone()));
    let worker = DeliveryWorker::new().map_err(ServeError::Http)?;
    let deliveries = tokio::spawn(run_deliveries(state.clone(), worker));
    let served = axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown_signal())
        .await;
    upkeep.abort();
    deliveries.abort();
    served.map_err(ServeError::Serve)?;
    tracing::info!("stopped");
    Ok(())
}

/// Holds `<database>.lock` for the life of the process: budgets are kept in memory, so two
/// control planes on one database would each admit against half of what was spent.
fn lock_database(database: &std::path::Path) -> Result<std::fs::File, ServeError> {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    let path = std::path::PathBuf::from(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| ServeError::Lock {
            path: path.display().to_string(),
            reason: source.to_string(),
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(ServeError::Lock {
            path: path.display().to_string(),
            reason: "another control plane holds it; run one control plane per database".into(),
        }),
        Err(std::fs::TryLockError::Error(source)) => Err(ServeError::Lock {
            path: path.display().to_string(),
            reason: source.to_string(),
        }),
    }
}

async fn upkeep(state: AppState) {
    let mut ticks = tokio::time::interval(UPKEEP_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Err(error) = state.upkeep().await {
            tracing::error!(
                %error,
                "upkeep failed; budgets may use last month's spend until it succeeds"
            );
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = interrupt => tracing::info!(signal = "SIGINT", "shutting down"),
        () = terminate => tracing::info!(signal = "SIGTERM", "shutting down"),
    }
}
