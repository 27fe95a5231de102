//! Storage: the durable side of teams, keys, prices and the ledger.
//!
//! [`Store`] is narrow on purpose, so a PostgreSQL implementation can sit beside
//! [`SqliteStore`]. Every method blocks; callers run them off the async runtime. Whatever the
//! store acknowledges has been committed durably.

mod sqlite;

pub use sqlite::SqliteStore;

use thiserror::Error;

use crate::alerts::{AlertRecord, AlertTarget, Attempt, DueDelivery, NewAlert};
use crate::budgets::{Budget, Scope};
use crate::keys::Key;
use crate::ledger::{EstimateTotals, LedgerRow, RollupRow};
use crate::pricing::PriceEntry;
use crate::teams::Team;

/// Any error a backend can carry.
pub type BackendError = Box<dyn std::error::Error + Send + Sync>;

/// What went wrong in the store. Only [`StoreError::Conflict`] and [`StoreError::NotFound`]
/// are the caller's doing; the rest are for the operator's log, never for clients.
#[derive(Debug, Error)]
pub enum StoreError {
    /// A unique value (a team name, a key hash) is taken.
    #[error("{0} already exists")]
    Conflict(String),
    #[error("{0} was not found")]
    NotFound(String),
    /// A value does not fit the database's integers.
    #[error("{0} does not fit the database")]
    OutOfRange(&'static str),
    /// Stored data cannot be read back.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The database was written by a newer control plane.
    #[error(
        "the database is at schema version {found} but this control plane knows up to {known}; \
         run a newer control plane"
    )]
    SchemaTooNew { found: i64, known: i64 },
    /// The backend failed while doing `context`.
    #[error("{context}: {source}")]
    Backend {
        context: &'static str,
        source: BackendError,
    },
}

/// Teams, keys, budgets, alert targets and prices: everything the control plane holds in
/// memory, read at start.
#[derive(Debug, Default)]
pub struct Directory {
    pub teams: Vec<Team>,
    pub keys: Vec<Key>,
    pub budgets: Vec<Budget>,
    pub targets: Vec<AlertTarget>,
    pub prices: Vec<(String, PriceEntry)>,
}

/// The durable store behind the control plane.
pub trait Store: Send + Sync + 'static {
    /// Teams, keys and prices set through the API.
    fn load_directory(&self) -> Result<Directory, StoreError>;

    /// Stores a team and, in the same transaction, its own budget. Fails with
    /// [`StoreError::Conflict`] when the name is taken, in any case.
    fn insert_team(&self, team: &Team, budget: Option<&Budget>) -> Result<(), StoreError>;

    /// Fails with [`StoreError::Conflict`] when the team, project or key has a budget.
    fn insert_budget(&self, budget: &Budget) -> Result<(), StoreError>;

    /// Replaces a budget's settings.
    fn update_budget(&self, budget: &Budget) -> Result<(), StoreError>;

    /// Whether there was a budget to delete.
    fn delete_budget(&self, id: &str) -> Result<bool, StoreError>;

    /// Pico-dollars of the team's calls covered by `scope` that started in
    /// `[from_ms, to_ms)`, summed from the ledger.
    fn spend_between(
        &self,
        team_id: &str,
        scope: &Scope,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<i128, StoreError>;

    fn insert_target(&self, target: &AlertTarget) -> Result<(), StoreError>;

    /// Takes a target out of use at `at` (RFC 3339); its pending deliveries fail. Whether
    /// there was one.
    fn delete_target(&self, id: &str, at: &str) -> Result<bool, StoreError>;

    /// Pending alert deliveries due at `now_ms`, at most `limit`.
    fn due_deliveries(&self, now_ms: i64, limit: usize) -> Result<Vec<DueDelivery>, StoreError>;

    /// Records how a delivery attempt ended.
    fn finish_delivery(
        &self,
        alert_id: &str,
        target_id: &str,
        attempt: &Attempt,
    ) -> Result<(), StoreError>;

    /// Alerts, newest first, of one team or of all.
    fn alerts(&self, team_id: Option<&str>, limit: usize) -> Result<Vec<AlertRecord>, StoreError>;

    /// Estimates against costs over the calls of `[from_day, to_day)`.
    fn estimate_totals(
        &self,
        from_day: &str,
        to_day: &str,
        team_id: Option<&str>,
    ) -> Result<EstimateTotals, StoreError>;

    /// Fails with [`StoreError::Conflict`] when the hash is taken.
    fn insert_key(&self, key: &Key) -> Result<(), StoreError>;

    /// Marks a key revoked at `revoked_at` (RFC 3339).
    fn revoke_key(&self, key_id: &str, revoked_at: &str) -> Result<(), StoreError>;

    /// Sets the price of a model key, replacing any earlier one.
    fn put_price(
        &self,
        model: &str,
        entry: &PriceEntry,
        updated_at: &str,
    ) -> Result<(), StoreError>;

    /// Sets the prices of many model keys in one transaction, replacing earlier ones of the
    /// same keys; on failure none is set.
    fn put_prices(
        &self,
        prices: &[(String, PriceEntry)],
        updated_at: &str,
    ) -> Result<(), StoreError>;

    /// Whether there was a price to delete.
    fn delete_price(&self, model: &str) -> Result<bool, StoreError>;

    /// Stores calls and their rollups in one transaction, ignoring request ids already held,
    /// and the alerts `plan` raises given which calls were new (an alert already written for
    /// its budget, period and threshold is left alone).
    ///
    /// Returns, for each row in order, whether it was new. Nothing is applied twice.
    fn record_usage(
        &self,
        rows: &[LedgerRow],
        plan: &mut dyn FnMut(&[bool]) -> Vec<NewAlert>,
    ) -> Result<Vec<bool>, StoreError>;

    /// One call by its request id.
    fn call(&self, request_id: &str) -> Result<Option<LedgerRow>, StoreError>;

    /// Visits every rollup with `from_day <= day < to_day` (days as `YYYY-MM-DD`). A value
    /// the store cannot hold as it should (a damaged or legacy amount) is read clamped and
    /// logged, never an error.
    fn scan_rollups(
        &self,
        from_day: &str,
        to_day: &str,
        visit: &mut dyn FnMut(RollupRow),
    ) -> Result<(), StoreError>;
}
