//! The SQLite schema and its migrations, versioned with `PRAGMA user_version`.
//!
//! Migration `n` (1-based) moves the database from version `n - 1` to `n`. Migrations are
//! only ever appended; a released one never changes.

use std::collections::HashSet;

use rusqlite::{Connection, Transaction, params};

use crate::store::StoreError;
use crate::store::sqlite::Context;

/// One step of the schema: plain SQL, or SQL with work that needs code before it.
enum Migration {
    Sql(&'static str),
    Code(fn(&Transaction<'_>) -> Result<(), StoreError>),
}

const MIGRATIONS: &[Migration] = &[
    Migration::Sql(V1),
    Migration::Code(v2),
    Migration::Sql(V3),
    Migration::Sql(V4),
];

/// Absent values in rollup keys are stored as `''` so the composite primary key can match
/// them (SQLite treats every NULL as distinct in a key).
const V1: &str = r#"
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
"#;

/// Version 2: team names unique whatever their case; budgets and rollup costs as integer
/// text, since they pass 64 bits (SQLite would turn them into REALs); rollups count the calls
/// that cost something, which budget estimates divide by.
fn v2(tx: &Transaction<'_>) -> Result<(), StoreError> {
    rename_names_taken_in_another_case(tx)?;
    tx.execute_batch(V2).context("apply migration 2")
}

/// Charged calls of the rollups already written are counted from the ledger, which holds
/// every call's cost. A REAL cost left by an overflowing sum becomes text such as
/// `'1.8e+19'`, which is read clamped and logged.
const V2: &str = r#"
CREATE UNIQUE INDEX teams_by_name_any_case ON teams (name COLLATE NOCASE);

ALTER TABLE teams ADD COLUMN budget_text TEXT;
UPDATE teams SET budget_text = CAST(budget_pico AS TEXT) WHERE budget_pico IS NOT NULL;
ALTER TABLE teams DROP COLUMN budget_pico;
ALTER TABLE teams RENAME COLUMN budget_text TO budget_pico;

CREATE TEMP TABLE charged (
    day     TEXT NOT NULL,
    team_id TEXT NOT NULL,
    project TEXT NOT NULL,
    user    TEXT NOT NULL,
    model   TEXT NOT NULL,
    calls   INTEGER NOT NULL,
    PRIMARY KEY (day, team_id, project, user, model)
) WITHOUT ROWID;
INSERT INTO temp.charged
SELECT day, coalesce(team_id, ''), coalesce(project, ''), coalesce(user, ''),
    coalesce(model, ''), count(*)
FROM ledger WHERE cost_pico > 0
GROUP BY 1, 2, 3, 4, 5;

CREATE TABLE rollups_v2 (
    day                   TEXT NOT NULL,
    team_id               TEXT NOT NULL,
    project               TEXT NOT NULL,
    user                  TEXT NOT NULL,
    model                 TEXT NOT NULL,
    calls                 INTEGER NOT NULL,
    unpriced_calls        INTEGER NOT NULL,
    charged_calls         INTEGER NOT NULL,
    estimated_calls       INTEGER NOT NULL,
    input_tokens          INTEGER NOT NULL,
    output_tokens         INTEGER NOT NULL,
    cache_read_tokens     INTEGER NOT NULL,
    cache_write_5m_tokens INTEGER NOT NULL,
    cache_write_1h_tokens INTEGER NOT NULL,
    reasoning_tokens      INTEGER NOT NULL,
    web_search_requests   INTEGER NOT NULL,
    cost_pico             TEXT NOT NULL,
    PRIMARY KEY (day, team_id, project, user, model)
) WITHOUT ROWID;
INSERT INTO rollups_v2
SELECT r.day, r.team_id, r.project, r.user, r.model, r.calls, r.unpriced_calls,
    coalesce(c.calls, 0), r.estimated_calls, r.input_tokens, r.output_tokens,
    r.cache_read_tokens, r.cache_write_5m_tokens, r.cache_write_1h_tokens, r.reasoning_tokens,
    r.web_search_requests, CAST(r.cost_pico AS TEXT)
FROM rollups AS r LEFT JOIN temp.charged AS c
    ON c.day = r.day AND c.team_id = r.team_id AND c.project = r.project AND c.user = r.user
    AND c.model = r.model;
DROP TABLE rollups;
ALTER TABLE rollups_v2 RENAME TO rollups;
DROP TABLE temp.charged;
"#;

/// Version 3: budgets of teams, projects and keys with their own periods, replacing the
/// team's monthly budget column; webhook targets and the alert outbox; the reservation each
/// call held and its request size, for measuring estimates.
const V3: &str = r#"
CREATE TABLE budgets (
    id                 TEXT PRIMARY KEY,
    team_id            TEXT NOT NULL REFERENCES teams (id),
    scope              TEXT NOT NULL,
    project            TEXT NOT NULL,
    key_id             TEXT NOT NULL,
    amount_pico        TEXT NOT NULL,
    period             TEXT NOT NULL,
    time_zone          TEXT NOT NULL,
    start_day          INTEGER NOT NULL,
    mode               TEXT NOT NULL,
    strict             INTEGER NOT NULL,
    default_max_tokens INTEGER NOT NULL,
    thresholds         TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    UNIQUE (team_id, scope, project, key_id)
);
INSERT INTO budgets
SELECT 'bud_' || id, id, 'team', '', '', budget_pico, 'month', 'UTC', 1, 'hard', 0, 32000,
    '[50,80,100]', created_at, created_at
FROM teams WHERE budget_pico IS NOT NULL;
ALTER TABLE teams DROP COLUMN budget_pico;

CREATE TABLE alert_targets (
    id         TEXT PRIMARY KEY,
    team_id    TEXT NOT NULL REFERENCES teams (id),
    name       TEXT NOT NULL,
    format     TEXT NOT NULL,
    url        TEXT NOT NULL,
    created_at TEXT NOT NULL,
    deleted_at TEXT
);
CREATE INDEX alert_targets_by_team ON alert_targets (team_id);

CREATE TABLE alerts (
    id             TEXT PRIMARY KEY,
    budget_id      TEXT NOT NULL,
    team_id        TEXT NOT NULL,
    scope          TEXT NOT NULL,
    project        TEXT,
    key_id         TEXT,
    kind           TEXT NOT NULL,
    threshold      INTEGER NOT NULL,
    period_start   TEXT NOT NULL,
    period_end     TEXT NOT NULL,
    spend_pico     TEXT NOT NULL,
    amount_pico    TEXT NOT NULL,
    projected_pico TEXT,
    exhausted_on   TEXT,
    message        TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    created_at_ms  INTEGER NOT NULL,
    UNIQUE (budget_id, period_start, kind, threshold)
);
CREATE INDEX alerts_by_team ON alerts (team_id, created_at_ms);

CREATE TABLE alert_deliveries (
    alert_id        TEXT NOT NULL REFERENCES alerts (id),
    target_id       TEXT NOT NULL,
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_ms INTEGER NOT NULL,
    last_error      TEXT,
    sent_at         TEXT,
    PRIMARY KEY (alert_id, target_id)
) WITHOUT ROWID;
CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_ms) WHERE state = 'pending';

ALTER TABLE ledger ADD COLUMN reserved_pico INTEGER;
ALTER TABLE ledger ADD COLUMN request_bytes INTEGER NOT NULL DEFAULT 0;
CREATE INDEX ledger_by_team_start ON ledger (team_id, started_at_ms);
"#;

/// Version 4: an alert is once per budget, period, amount and threshold. The period is named
/// by its kind and first local day, so a new time zone for the same month does not raise
/// the month's alerts again; the amount is part of it, so a budget raised mid-period alerts
/// at its new thresholds. Alerts written before keep their old key.
const V4: &str = r#"
CREATE TABLE alerts_v4 (
    id             TEXT PRIMARY KEY,
    budget_id      TEXT NOT NULL,
    team_id        TEXT NOT NULL,
    scope          TEXT NOT NULL,
    project        TEXT,
    key_id         TEXT,
    kind           TEXT NOT NULL,
    threshold      INTEGER NOT NULL,
    period_key     TEXT NOT NULL,
    period_start   TEXT NOT NULL,
    period_end     TEXT NOT NULL,
    spend_pico     TEXT NOT NULL,
    amount_pico    TEXT NOT NULL,
    projected_pico TEXT,
    exhausted_on   TEXT,
    message        TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    created_at_ms  INTEGER NOT NULL,
    UNIQUE (budget_id, period_key, amount_pico, kind, threshold)
);
INSERT INTO alerts_v4
SELECT id, budget_id, team_id, scope, project, key_id, kind, threshold, 'v3:' || period_start,
    period_start, period_end, spend_pico, amount_pico, projected_pico, exhausted_on, message,
    created_at, created_at_ms
FROM alerts;
CREATE TABLE alert_deliveries_v4 (
    alert_id        TEXT NOT NULL REFERENCES alerts_v4 (id),
    target_id       TEXT NOT NULL,
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_ms INTEGER NOT NULL,
    last_error      TEXT,
    sent_at         TEXT,
    PRIMARY KEY (alert_id, target_id)
) WITHOUT ROWID;
INSERT INTO alert_deliveries_v4 SELECT * FROM alert_deliveries;
DROP TABLE alert_deliveries;
DROP TABLE alerts;
ALTER TABLE alerts_v4 RENAME TO alerts;
ALTER TABLE alert_deliveries_v4 RENAME TO alert_deliveries;
CREATE INDEX alerts_by_team ON alerts (team_id, created_at_ms);
CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_ms) WHERE state = 'pending';
"#;

/// Before names became unique whatever their case, `payments` and `Payments` could both
/// exist. The newer of such teams is renamed `<name>-<id>` (within 64 characters) so the
/// unique index can be built; its id, keys and spend are unchanged.
fn rename_names_taken_in_another_case(tx: &Transaction<'_>) -> Result<(), StoreError> {
    let teams: Vec<(String, String)> = {
        let mut statement = tx
            .prepare("SELECT id, name FROM teams ORDER BY created_at, id")
            .context("read team names")?;
        let rows = statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .context("read team names")?;
        rows.collect::<Result<_, _>>().context("read team names")?
    };

    let mut taken: HashSet<String> = HashSet::new();
    let mut renames = Vec::new();
    for (id, name) in &teams {
        if taken.insert(name.to_ascii_lowercase()) {
            continue;
        }
        let new_name = free_name(name, id, &teams, &taken);
        taken.insert(new_name.to_ascii_lowercase());
        renames.push((id, name, new_name));
    }

    for (id, name, new_name) in renames {
        tx.execute(
            "UPDATE teams SET name = ?2 WHERE id = ?1",
            params![id, new_name],
        )
        .context("rename a team")?;
        tracing::warn!(
            team.id = %id,
            team = %new_name,
            team.old_name = %name,
            "team names are now unique whatever their case; this team shared its name with an \
             older one and was renamed"
        );
    }
    Ok(())
}

/// `<name>-<id>`, cut to 64 characters, with a counter should even that be taken.
fn free_name(name: &str, id: &str, teams: &[(String, String)], taken: &HashSet<String>) -> String {
    let free = |candidate: &String| {
        let folded = candidate.to_ascii_lowercase();
        !taken.contains(&folded)
            && !teams
                .iter()
                .any(|(_, other)| other.to_ascii_lowercase() == folded)
    };
    (1u32..)
        .map(|n| {
            let suffix = match n {
                1 => format!("-{id}"),
                n => format!("-{id}-{n}"),
            };
            let keep = 64usize.saturating_sub(suffix.len()).max(1);
            let stem: String = name.chars().take(keep).collect();
            format!("{stem}{suffix}")
        })
        .find(free)
        .unwrap_or_else(|| id.to_owned())
}

/// The schema version this build writes.
pub const VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database to [`VERSION`], one transaction per migration. Returns the version
/// found before.
pub fn migrate(conn: &mut Connection) -> Result<i64, StoreError> {
    migrate_to(conn, VERSION)
}

/// Brings the database to `target` (at most [`VERSION`]).
fn migrate_to(conn: &mut Connection, target: i64) -> Result<i64, StoreError> {
    let found: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .context("read the schema version")?;
    if found > VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            known: VERSION,
        });
    }

    let pending = MIGRATIONS
        .iter()
        .enumerate()
        .take(usize::try_from(target).unwrap_or(0))
        .skip(usize::try_from(found).unwrap_or(0));
    for (index, migration) in pending {
        let version = index as i64 + 1;
        let tx = conn.transaction().context("begin a migration")?;
        match migration {
            Migration::Sql(sql) => tx.execute_batch(sql).context("apply a migration")?,
            Migration::Code(apply) => apply(&tx)?,
        }
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
    use crate::store::sqlite::{directory, ledger};

    /// A version 1 database as an older control plane left it: two teams whose names differ
    /// only in case, a budget and a rollup cost that overflowed into REALs, and a free call
    /// beside a priced one.
    fn legacy() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate_to(&mut conn, 1).unwrap();
        conn.execute_batch(
            "INSERT INTO teams VALUES ('team_a', 'payments', 1e30, '2025-12-01T00:00:00Z');
             INSERT INTO teams VALUES ('team_b', 'Payments', 5000, '2025-12-02T00:00:00Z');
             INSERT INTO teams VALUES ('team_c', 'search', NULL, '2025-12-03T00:00:00Z');
             INSERT INTO rollups VALUES ('2025-12-04', 'team_a', '', '', 'm', 2, 0, 0,
                 1, 2, 0, 0, 0, 0, 0, 18446744073709551616.0);
             INSERT INTO rollups VALUES ('2025-12-04', 'team_b', '', '', 'm', 1, 0, 0,
                 1, 2, 0, 0, 0, 0, 0, 700);",
        )
        .unwrap();
        for (request_id, team, cost) in [
            ("r1", "team_a", 0),
            ("r2", "team_a", 9),
            ("r3", "team_b", 700),
        ] {
            conn.execute(
                "INSERT INTO ledger VALUES (?1, 'h', ?2, NULL, NULL, NULL, 'openai', 'openai_chat',
                     'm', NULL, 1, 1, 0, 0, 0, 0, 0, NULL, NULL, 200, 0, 0, 0, 0, 0, 0, 0, ?3, 0,
                     1764806400000, 1, 1764806400000, '2025-12-04')",
                params![request_id, team, cost],
            )
            .unwrap();
        }
        conn
    }

    #[test]
    fn alerts_and_their_deliveries_keep_through_the_new_alert_key() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", true).unwrap();
        migrate_to(&mut conn, 3).unwrap();
        conn.execute_batch(
            "INSERT INTO teams VALUES ('team_a', 'payments', '2025-12-01T00:00:00Z');
             INSERT INTO alert_targets VALUES ('tgt_1', 'team_a', 'leads', 'json',
                 'http://127.0.0.1:9/', '2025-12-01T00:00:00Z', NULL);
             INSERT INTO alerts VALUES ('alt_1', 'bud_1', 'team_a', 'team', NULL, NULL,
                 'threshold', 50, '2025-12-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00',
                 '600', '1000', NULL, NULL, 'half', '2025-12-04T00:00:00Z', 1);
             INSERT INTO alert_deliveries VALUES ('alt_1', 'tgt_1', 'sent', 1, 0, NULL, 'x');",
        )
        .unwrap();
        assert_eq!(migrate(&mut conn).unwrap(), 3);
        let history = super::super::budgets::alerts(&conn, None, 10).unwrap();
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].alert.message, "half");
        assert_eq!(history[0].deliveries[0].state, "sent");
        let key: String = conn
            .query_row("SELECT period_key FROM alerts", [], |row| row.get(0))
            .unwrap();
        assert_eq!(key, "v3:2025-12-01T00:00:00+00:00");
        let orphan = conn.execute(
            "INSERT INTO alert_deliveries VALUES ('alt_9', 'tgt_1', 'pending', 0, 0, NULL, NULL)",
            [],
        );
        assert!(orphan.is_err(), "deliveries still reference alerts");
    }

    #[test]
    fn a_legacy_database_migrates_and_reads_back_clamped_never_failing() {
        let mut conn = legacy();
        assert_eq!(migrate(&mut conn).unwrap(), 1);

        let loaded = directory::load(&conn).unwrap();
        let names: Vec<(&str, &str)> = loaded
            .teams
            .iter()
            .map(|team| (team.id.as_str(), team.name.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("team_a", "payments"),
                ("team_b", "Payments-team_b"),
                ("team_c", "search"),
            ]
        );
        let budgets: Vec<(&str, i128, &str)> = loaded
            .budgets
            .iter()
            .map(|b| (b.team_id.as_str(), b.amount_pico, b.rule.kind.as_str()))
            .collect();
        assert_eq!(
            budgets,
            [
                ("team_a", crate::budgets::MAX_BUDGET_PICO, "month"),
                ("team_b", 5000, "month"),
            ],
            "the monthly budgets of teams became team budgets"
        );

        let mut rollups = Vec::new();
        ledger::scan_rollups(&conn, "2025-12-01", "2026-01-01", &mut |row| {
            rollups.push(row)
        })
        .unwrap();
        rollups.sort_by(|a, b| a.team_id.cmp(&b.team_id));
        let totals: Vec<(u64, u64, i128)> = rollups
            .iter()
            .map(|row| {
                (
                    row.totals.calls,
                    row.totals.charged_calls,
                    row.totals.cost_pico,
                )
            })
            .collect();
        assert_eq!(
            totals,
            [(2, 1, 2 * crate::ledger::MAX_CALL_COST_PICO), (1, 1, 700)],
            "the overflowed cost is clamped to what its calls could cost"
        );
    }

    #[test]
    fn names_taken_in_another_case_stay_refused_after_migrating() {
        let mut conn = legacy();
        migrate(&mut conn).unwrap();
        let taken = conn.execute(
            "INSERT INTO teams (id, name, created_at) VALUES ('team_d', 'SEARCH', 'x')",
            [],
        );
        assert!(taken.is_err());
    }

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
