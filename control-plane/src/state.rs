//! The control plane's state: the store, and what is held in memory in step with it.
//!
//! Reads on the decision path take the memory lock only. Every write takes the write lock,
//! commits to the store and then updates memory before releasing it, so memory never runs
//! ahead of the store and two writers never interleave.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

use thiserror::Error;

use crate::admission::{Estimator, Leases, Release, Reservations};
use crate::alerts::{AlertKey, AlertTarget};
use crate::budgets::{Budget, BudgetBook};
use crate::calendar::Period;
use crate::clock::{Clock, SystemClock};
use crate::pricing::{DefaultsError, PriceEntry, PriceTable, Rates, validate_model};
use crate::registry::Registry;
use crate::secret::Secret;
use crate::spend::Spend;
use crate::store::{Store, StoreError};

/// Everything held in memory.
#[derive(Debug)]
pub struct Memory {
    pub registry: Registry,
    /// Each team's spend in the calendar month (UTC), budget or not.
    pub spend: Spend,
    pub budgets: BudgetBook,
    pub reservations: Reservations,
    pub leases: Leases,
    pub estimator: Estimator,
    pub targets: Vec<AlertTarget>,
    /// Alerts already written (see [`crate::alerts::NewAlert::once_key`]), so a batch does not
    /// try to write them again.
    pub alerted: HashSet<AlertKey>,
    pub prices: PriceTable,
}

impl Memory {
    /// Holds `estimate` on `budget_ids` for a call until it settles.
    pub fn reserve(
        &mut self,
        request_id: &str,
        team_id: &str,
        budget_ids: Vec<String>,
        estimate_pico: i128,
        now: Instant,
    ) -> bool {
        let held = budget_ids.clone();
        match self
            .reservations
            .open(request_id, team_id, budget_ids, estimate_pico, now)
        {
            Ok(replaced) => {
                if let Some(old) = replaced {
                    self.budgets.hold(&old.budget_ids, -old.estimate_pico);
                }
                self.budgets.hold(&held, estimate_pico);
                true
            }
            Err(_) => false,
        }
    }

    /// Releases what a call held; its estimate, if it held one.
    pub fn settle(&mut self, request_id: &str) -> Option<i128> {
        let reservation = self.reservations.settle(request_id)?;
        self.budgets
            .hold(&reservation.budget_ids, -reservation.estimate_pico);
        Some(reservation.estimate_pico)
    }

    /// Releases reservations whose usage never came, and leases never given back. Returns
    /// how many.
    pub fn expire(&mut self, now: Instant) -> usize {
        let expired = self.reservations.expire(now);
        for reservation in &expired {
            self.budgets
                .hold(&reservation.budget_ids, -reservation.estimate_pico);
        }
        let leases = self.leases.expire(now);
        let count = expired.len() + leases.len();
        for release in leases {
            self.release(release);
        }
        count
    }

    /// Holds `limit_pico` on `budget_ids` for a new lease of `slot` (a key and project).
    pub fn open_lease(
        &mut self,
        (id, slot): (String, String),
        budget_ids: Vec<String>,
        limit_pico: i128,
        now: Instant,
    ) {
        self.budgets.hold(&budget_ids, limit_pico);
        self.leases.open(id, slot, budget_ids, limit_pico, now);
    }

    /// A usage record charged `pico` to lease `id`.
    pub fn charge_lease(&mut self, id: &str, pico: u64) {
        if let Some(release) = self.leases.charge(id, pico) {
            self.release(release);
        }
    }

    /// The filter gave lease `id` back having charged `used_pico` under it.
    pub fn give_back_lease(&mut self, id: &str, used_pico: u64, now: Instant) {
        if let Some(release) = self.leases.give_back(id, used_pico, now) {
            self.release(release);
        }
    }

    fn release(&mut self, release: Release) {
        if release.pico != 0 {
            self.budgets.hold(&release.budget_ids, -release.pico);
        }
    }
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
    clock: Arc<dyn Clock>,
    /// Woken when reservations are released, for admissions waiting on them.
    settled: tokio::sync::Notify,
    /// Woken when alerts are written, for the delivery worker.
    alerts: tokio::sync::Notify,
    /// Places for admissions waiting on calls in flight.
    waiters: Arc<tokio::sync::Semaphore>,
}

/// Admissions that may wait on calls in flight at once; beyond it a call that would wait is
/// decided at once. Every release wakes every waiter, so the bound keeps that cheap.
pub const MAX_WAITERS: usize = 256;

impl AppState {
    /// Reads teams, keys, prices and this period's spend from the store. Blocks.
    pub fn load(
        store: Arc<dyn Store>,
        defaults: BTreeMap<String, (PriceEntry, Rates)>,
        tokens: Tokens,
    ) -> Result<AppState, LoadError> {
        AppState::load_with_clock(store, defaults, tokens, Arc::new(SystemClock))
    }

    /// [`AppState::load`] with a clock of the caller's.
    pub fn load_with_clock(
        store: Arc<dyn Store>,
        defaults: BTreeMap<String, (PriceEntry, Rates)>,
        tokens: Tokens,
        clock: Arc<dyn Clock>,
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
        let now_ms = clock.now_ms();
        let spend = load_spend(store.as_ref(), Period::at_ms(now_ms))?;
        let mut budgets = BudgetBook::default();
        for budget in directory.budgets {
            let (window, spent) = budget_spend(store.as_ref(), &budget, now_ms)?;
            budgets.put(budget, window, spent);
        }

        let memory = Memory {
            registry: Registry::new(directory.teams, directory.keys),
            spend,
            budgets,
            reservations: Reservations::default(),
            leases: Leases::default(),
            estimator: Estimator::default(),
            targets: directory.targets,
            alerted: HashSet::new(),
            prices,
        };
        let shared = Shared {
            store,
            memory: RwLock::new(memory),
            writes: tokio::sync::Mutex::new(()),
            tokens,
            clock,
            settled: tokio::sync::Notify::new(),
            alerts: tokio::sync::Notify::new(),
            waiters: Arc::new(tokio::sync::Semaphore::new(MAX_WAITERS)),
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

    /// Milliseconds since the epoch by the state's clock.
    pub fn now_ms(&self) -> i64 {
        self.shared.clock.now_ms()
    }

    /// Wakes admissions waiting for reservations to be released.
    pub fn notify_settled(&self) {
        self.shared.settled.notify_waiters();
    }

    /// Resolves at the next [`AppState::notify_settled`] after it was created and enabled.
    pub fn settled(&self) -> tokio::sync::futures::Notified<'_> {
        self.shared.settled.notified()
    }

    /// A place to wait on calls in flight, if one is free.
    pub fn wait_place(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        Arc::clone(&self.shared.waiters).try_acquire_owned().ok()
    }

    /// Wakes the alert delivery worker.
    pub fn notify_alerts(&self) {
        self.shared.alerts.notify_one();
    }

    /// Resolves when alerts were written since it was last awaited.
    pub async fn alerts_written(&self) {
        self.shared.alerts.notified().await;
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

    /// Periodic upkeep: expires reservations, turns budgets whose period ended and reads
    /// their spend again, and reloads the teams' monthly spend when the month turns.
    pub async fn upkeep(&self) -> Result<(), StoreError> {
        let now_ms = self.now_ms();
        let expired = {
            let mut memory = self.memory_mut();
            let expired = memory.expire(Instant::now());
            memory.budgets.turn(now_ms);
            expired
        };
        if expired > 0 {
            tracing::debug!(expired, "reservations expired without usage");
            self.notify_settled();
        }

        let _writes = self.write_lock().await;
        let stale: Vec<Budget> = self
            .memory()
            .budgets
            .all()
            .filter(|state| state.stale)
            .map(|state| state.budget.clone())
            .collect();
        for budget in stale {
            let (window, spent) = {
                let budget = budget.clone();
                self.blocking(move |store| budget_spend(store, &budget, now_ms))
                    .await?
            };
            tracing::info!(budget.id = %budget.id, period = %window, "budget period turned");
            self.memory_mut().budgets.reload(&budget.id, &window, spent);
        }

        let period = Period::at_ms(now_ms);
        if self.memory().spend.period() == period {
            return Ok(());
        }
        let spend = self
            .blocking(move |store| load_spend(store, period))
            .await?;
        self.memory_mut().spend = spend;
        tracing::info!(period = %period, "month turned; team spend reloaded");
        Ok(())
    }
}

/// The window of a budget holding `now_ms` and what its calls in it cost, from the ledger.
pub fn budget_spend(
    store: &dyn Store,
    budget: &Budget,
    now_ms: i64,
) -> Result<(crate::budgets::Window, i128), StoreError> {
    let window = budget.rule.window_at(now_ms);
    let spent = store.spend_between(
        &budget.team_id,
        &budget.scope,
        window.start_ms,
        window.end_ms,
    )?;
    Ok((window, spent))
}

/// Spend of every team in `period`, summed from the rollups.
fn load_spend(store: &dyn Store, period: Period) -> Result<Spend, StoreError> {
    let mut spend = Spend::new(period);
    store.scan_rollups(&period.start_day(), &period.end_day(), &mut |rollup| {
        spend.add_rollup(&rollup);
    })?;
    Ok(spend)
}
