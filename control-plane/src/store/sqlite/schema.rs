//! The SQLite schema and its migrations, versioned with `PRAGMA user_version`.
//!
//! Migration `n` (1-based) moves the database from version `n - 1` to `n`. Migrations are
//! only ever appended; a released one never changes.

use rusqlite::Connection;

use crate::store::StoreError;
use crate::store::sqlite::Context;

/// Absent values in rollup keys are stored as `''` so the composite primary key can match
/// them (SQLite treats every NULL as distinct in a key).
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE teams (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    budget_pico INTEGER,
    created_at  TEXT NOT NULL
);

CREATE TABLE keys (
    id         TEXT PRIMARY KEY,
    team_id    TEXT NOT NULL REFERENCES teams (id),
    name       TEXT NOT NULL,
    project    TEXT,
    key_hash   TEXT NOT NULL UNIQUE,
    prefix     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX keys_by_team ON keys (team_id);

CREATE TABLE prices (
    model          TEXT PRIMARY KEY,
    json           TEXT NOT NULL,
    effective_date TEXT,
    source         TEXT,
    updated_at     TEXT NOT NULL
);

CREATE TABLE ledger (
    request_id            TEXT PRIMARY KEY,
    key_hash              TEXT NOT NULL,
    team_id               TEXT,
    key_id                TEXT,
    project               TEXT,
    user                  TEXT,
    provider              TEXT NOT NULL,
    family                TEXT NOT NULL,
    model                 TEXT,
    request_model         TEXT,
    input_tokens          INTEGER NOT NULL,
    output_tokens         INTEGER NOT NULL,
    cache_read_tokens     INTEGER NOT NULL,
    cache_write_5m_tokens INTEGER NOT NULL,
    cache_write_1h_tokens INTEGER NOT NULL,
    reasoning_tokens      INTEGER NOT NULL,
    web_search_requests   INTEGER NOT NULL,
    service_tier          TEXT,
    inference_geo         TEXT,
    status                INTEGER NOT NULL,
    streamed              INTEGER NOT NULL,
    estimated             INTEGER NOT NULL,
    malformed             INTEGER NOT NULL,
    too_large             INTEGER NOT NULL,
    client_aborted        INTEGER NOT NULL,
    truncated             INTEGER NOT NULL,
    stream_error          INTEGER NOT NULL,
    cost_pico             INTEGER,
    unpriced              INTEGER NOT NULL,
    started_at_ms         INTEGER NOT NULL,
    duration_ms           INTEGER NOT NULL,
    received_at           INTEGER NOT NULL,
    day                   TEXT NOT NULL
);
CREATE INDEX ledger_by_team_day ON ledger (team_id, day);
CREATE INDEX ledger_by_key_hash ON ledger (key_hash) WHERE team_id IS NULL;

CREATE TABLE rollups (
    day                   TEXT NOT NULL,
    team_id               TEXT NOT NULL,
    project               TEXT NOT NULL,
    user                  TEXT NOT NULL,
    model                 TEXT NOT NULL,
    calls                 INTEGER NOT NULL,
    unpriced_calls        INTEGER NOT NULL,
    estimated_calls       INTEGER NOT NULL,
    input_tokens          INTEGER NOT NULL,
    output_tokens         INTEGER NOT NULL,
    cache_read_tokens     INTEGER NOT NULL,
    cache_write_5m_tokens INTEGER NOT NULL,
    cache_write_1h_tokens INTEGER NOT NULL,
    reasoning_tokens      INTEGER NOT NULL,
    web_search_requests   INTEGER NOT NULL,
    cost_pico             INTEGER NOT NULL,
    PRIMARY KEY (day, team_id, project, user, model)
) WITHOUT ROWID;
"#];

/// The schema version this build writes.
pub const VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database to [`VERSION`], one transaction per migration. Returns the version
/// found before.
pub fn migrate(conn: &mut Connection) -> Result<i64, StoreError> {
    let found: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .context("read the schema version")?;
    if found > VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            known: VERSION,
        });
    }

    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        let version = index as i64 + 1;
        let tx = conn.transaction().context("begin a migration")?;
        tx.execute_batch(sql).context("apply a migration")?;
        tx.pragma_update(None, "user_version", version)
            .context("record the schema version")?;
        tx.commit().context("commit a migration")?;
        tracing::info!(schema.version = version, "database migrated");
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_and_refuses_newer_databases() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), 0);
        assert_eq!(migrate(&mut conn).unwrap(), VERSION);

        conn.pragma_update(None, "user_version", VERSION + 1)
            .unwrap();
        assert!(matches!(
            migrate(&mut conn),
            Err(StoreError::SchemaTooNew { .. })
        ));
    }
}
