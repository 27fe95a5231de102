//! The SQLite store: one file, WAL, `synchronous=FULL` so an acknowledged write survives a
//! crash or a power cut.
//!
//! One connection behind a mutex serves every request. Writes are serialized by SQLite
//! anyway; reads wait behind writes, which is fine at the rates one control plane sees.

mod budgets;
mod directory;
mod ledger;
mod schema;
mod stored;

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::{Connection, ErrorCode};

use crate::alerts::{AlertRecord, AlertTarget, Attempt, DueDelivery, NewAlert};
use crate::budgets::{Budget, Scope};
use crate::keys::Key;
use crate::ledger::{EstimateTotals, LedgerRow, RollupRow};
use crate::pricing::PriceEntry;
use crate::store::{Directory, Store, StoreError};
use crate::teams::Team;

/// Milliseconds a statement waits for a lock held by another connection to the same file.
const BUSY_TIMEOUT_MS: i64 = 5_000;

/// The SQLite implementation of [`Store`].
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (or creates) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let conn = Connection::open(path).context("open the database file")?;
        SqliteStore::prepare(conn)
    }

    /// A private database in memory, for tests.
    pub fn in_memory() -> Result<SqliteStore, StoreError> {
        let conn = Connection::open_in_memory().context("open an in-memory database")?;
        SqliteStore::prepare(conn)
    }

    fn prepare(mut conn: Connection) -> Result<SqliteStore, StoreError> {
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .context("switch to write-ahead logging")?;
        if mode != "wal" && mode != "memory" {
            tracing::warn!(journal_mode = %mode, "the database did not switch to WAL");
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .context("set synchronous=FULL")?;
        conn.pragma_update(None, "foreign_keys", true)
            .context("enable foreign keys")?;
        conn.pragma_update(None, "busy_timeout", BUSY_TIMEOUT_MS)
            .context("set busy_timeout")?;
        schema::migrate(&mut conn)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    /// The connection. A panic while it was held leaves SQLite consistent (an open
    /// transaction rolls back when dropped), so a poisoned lock is still usable.
    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Store for SqliteStore {
    fn load_directory(&self) -> Result<Directory, StoreError> {
        directory::load(&self.conn())
    }

    fn insert_team(&self, team: &Team, budget: Option<&Budget>) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().context("begin adding a team")?;
        directory::insert_team(&tx, team)?;
        if let Some(budget) = budget {
            budgets::insert_budget(&tx, budget)?;
        }
        tx.commit().context("commit a new team")
    }

    fn insert_budget(&self, budget: &Budget) -> Result<(), StoreError> {
        budgets::insert_budget(&self.conn(), budget)
    }

    fn update_budget(&self, budget: &Budget) -> Result<(), StoreError> {
        budgets::update_budget(&self.conn(), budget)
    }

    fn delete_budget(&self, id: &str) -> Result<bool, StoreError> {
        budgets::delete_budget(&self.conn(), id)
    }

    fn spend_between(
        &self,
        team_id: &str,
        scope: &Scope,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<i128, StoreError> {
        budgets::spend_between(&self.conn(), team_id, scope, from_ms, to_ms)
    }

    fn insert_target(&self, target: &AlertTarget) -> Result<(), StoreError> {
        budgets::insert_target(&self.conn(), target)
    }

    fn delete_target(&self, id: &str, at: &str) -> Result<bool, StoreError> {
        budgets::delete_target(&mut self.conn(), id, at)
    }

    fn due_deliveries(&self, now_ms: i64, limit: usize) -> Result<Vec<DueDelivery>, StoreError> {
        budgets::due_deliveries(&self.conn(), now_ms, limit)
    }

    fn finish_delivery(
        &self,
        alert_id: &str,
        target_id: &str,
        attempt: &Attempt,
    ) -> Result<(), StoreError> {
        budgets::finish_delivery(&self.conn(), alert_id, target_id, attempt)
    }

    fn alerts(&self, team_id: Option<&str>, limit: usize) -> Result<Vec<AlertRecord>, StoreError> {
        budgets::alerts(&self.conn(), team_id, limit)
    }

    fn estimate_totals(
        &self,
        from_day: &str,
        to_day: &str,
        team_id: Option<&str>,
    ) -> Result<EstimateTotals, StoreError> {
        ledger::estimate_totals(&self.conn(), from_day, to_day, team_id)
    }

    fn insert_key(&self, key: &Key) -> Result<(), StoreError> {
        directory::insert_key(&self.conn(), key)
    }

    fn revoke_key(&self, key_id: &str, revoked_at: &str) -> Result<(), StoreError> {
        directory::revoke_key(&self.conn(), key_id, revoked_at)
    }

    fn put_price(
        &self,
        model: &str,
        entry: &PriceEntry,
        updated_at: &str,
    ) -> Result<(), StoreError> {
        directory::put_price(&self.conn(), model, entry, updated_at)
    }

    fn put_prices(
        &self,
        prices: &[(String, PriceEntry)],
        updated_at: &str,
    ) -> Result<(), StoreError> {
        directory::put_prices(&mut self.conn(), prices, updated_at)
    }

    fn delete_price(&self, model: &str) -> Result<bool, StoreError> {
        directory::delete_price(&self.conn(), model)
    }

    fn record_usage(
        &self,
        rows: &[LedgerRow],
        plan: &mut dyn FnMut(&[bool]) -> Vec<NewAlert>,
    ) -> Result<Vec<bool>, StoreError> {
        ledger::record_usage(&mut self.conn(), rows, plan)
    }

    fn call(&self, request_id: &str) -> Result<Option<LedgerRow>, StoreError> {
        ledger::call(&self.conn(), request_id)
    }

    fn scan_rollups(
        &self,
        from_day: &str,
        to_day: &str,
        visit: &mut dyn FnMut(RollupRow),
    ) -> Result<(), StoreError> {
        ledger::scan_rollups(&self.conn(), from_day, to_day, visit)
    }
}

/// Names the step that failed, for the operator's log.
pub(crate) trait Context<T> {
    fn context(self, context: &'static str) -> Result<T, StoreError>;
}

impl<T> Context<T> for rusqlite::Result<T> {
    fn context(self, context: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Backend {
            context,
            source: Box::new(source),
        })
    }
}

/// Whether an error is a UNIQUE (or other) constraint failing.
fn is_constraint(error: &rusqlite::Error) -> bool {
    error.sqlite_error_code() == Some(ErrorCode::ConstraintViolation)
}

/// An unsigned count as SQLite's signed integer.
fn int(value: u64, what: &'static str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::OutOfRange(what))
}
