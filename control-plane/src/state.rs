//! The control plane's state: the store, and what is held in memory in step with it.
//!
//! Reads on the decision path take the memory lock only. Every write takes the write lock,
//! commits to the store and then updates memory before releasing it, so memory never runs
//! ahead of the store and two writers never interleave.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

use thiserror::Error;

use crate::admission::Reservations;
use crate::calendar::Period;
use crate::pricing::{DefaultsError, PriceEntry, PriceTable, Rates, validate_model};
use crate::registry::Registry;
use crate::secret::Secret;
use crate::spend::Spend;
use crate::store::{Store, StoreError};

/// Everything held in memory.
#[derive(Debug)]
pub struct Memory {
    pub registry: Registry,
    pub spend: Spend,
    pub reservations: Reservations,
    pub prices: PriceTable,
}

/// The bearer tokens callers must present.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// Required on every `/v1/admin/*` route.
    pub admin: Secret,
    /// Required on `/v1/filter/*` when set.
    pub filter: Option<Secret>,
}

/// The state could not be loaded at start.
#[derive(Debug, Error)]
pub enum LoadError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Defaults(#[from] DefaultsError),
}

/// Shared by every request handler; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    shared: Arc<Shared>,
}

struct Shared {
    store: Arc<dyn Store>,
    memory: RwLock<Memory>,
    writes: tokio::sync::Mutex<()>,
    tokens: Tokens,
}

impl AppState {
    /// Reads teams, keys, prices and this period's spend from the store. Blocks.
    pub fn load(
        store: Arc<dyn Store>,
        defaults: BTreeMap<String, (PriceEntry, Rates)>,
        tokens: Tokens,
    ) -> Result<AppState, LoadError> {
        let directory = store.load_directory()?;
        let mut prices = PriceTable::with_defaults(defaults);
        for (model, entry) in directory.prices {
            match validate_model(&model).and_then(|()| Rates::compile(&entry)) {
                Ok(rates) => prices.set(model, entry, rates),
                Err(error) => tracing::error!(
                    model = %model,
                    %error,
                    "stored price cannot be used and is skipped; set it again through the api"
                ),
            }
        }
        let spend = load_spend(store.as_ref(), Period::current())?;

        let memory = Memory {
            registry: Registry::new(directory.teams, directory.keys),
            spend,
            reservations: Reservations::default(),
            prices,
        };
        let shared = Shared {
            store,
            memory: RwLock::new(memory),
            writes: tokio::sync::Mutex::new(()),
            tokens,
        };
        Ok(AppState {
            shared: Arc::new(shared),
        })
    }

    /// Memory for reading. Never held across an `.await`.
    pub fn memory(&self) -> RwLockReadGuard<'_, Memory> {
        self.shared
            .memory
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Memory for changing. Never held across an `.await`.
    pub fn memory_mut(&self) -> RwLockWriteGuard<'_, Memory> {
        self.shared
            .memory
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Serializes writers: hold it from before the store write until memory is updated.
    pub async fn write_lock(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.shared.writes.lock().await
    }

    pub fn tokens(&self) -> &Tokens {
        &self.shared.tokens
    }

    /// Runs store work on the blocking pool, off the async runtime.
    pub async fn blocking<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = Arc::clone(&self.shared.store);
        tokio::task::spawn_blocking(move || work(store.as_ref()))
            .await
            .map_err(|error| StoreError::Backend {
                context: "run store work",
                source: error.into(),
            })?
    }

    /// Periodic upkeep: expires reservations and, when the month has turned, reloads spend
    /// for the new period.
    pub async fn upkeep(&self) -> Result<(), StoreError> {
        let expired = self.memory_mut().reservations.expire(Instant::now());
        if expired > 0 {
            tracing::debug!(expired, "reservations expired without usage");
        }

        let period = Period::current();
        if self.memory().spend.period() == period {
            return Ok(());
        }
        let _writes = self.write_lock().await;
        let spend = self
            .blocking(move |store| load_spend(store, period))
            .await?;
        self.memory_mut().spend = spend;
        tracing::info!(period = %period, "budget period turned; spend reloaded");
        Ok(())
    }
}

/// Spend of every team in `period`, summed from the rollups.
fn load_spend(store: &dyn Store, period: Period) -> Result<Spend, StoreError> {
    let mut spend = Spend::new(period);
    store.scan_rollups(&period.start_day(), &period.end_day(), &mut |rollup| {
        spend.add_rollup(&rollup);
    })?;
    Ok(spend)
}
