//! Budgets, alert targets and the alert outbox in SQLite.

use rusqlite::types::ValueRef;
use rusqlite::{Connection, Row, Transaction, named_params, params};

use crate::alerts::{
    AlertKind, AlertRecord, AlertTarget, Attempt, DeliveryRecord, DueDelivery, NewAlert,
    TargetFormat,
};
use crate::budgets::{Budget, MAX_BUDGET_PICO, Mode, PeriodKind, PeriodRule, Scope};
use crate::store::StoreError;
use crate::store::sqlite::{Context, is_constraint, stored};

const BUDGET_COLUMNS: &str = "id, team_id, scope, project, key_id, amount_pico, period, \
     time_zone, start_day, mode, strict, default_max_tokens, thresholds, created_at, updated_at";

pub fn budgets(conn: &Connection) -> Result<Vec<Budget>, StoreError> {
    let mut statement = conn
        .prepare(&format!(
            "SELECT {BUDGET_COLUMNS} FROM budgets ORDER BY created_at, id"
        ))
        .context("read budgets")?;
    let rows = statement
        .query_map([], |row| Ok(read_budget(row)))
        .context("read budgets")?;
    let mut budgets = Vec::new();
    for row in rows {
        match row.context("read budgets")? {
            Ok(budget) => budgets.push(budget),
            // One damaged budget must not stop the control plane from starting.
            Err(error) => tracing::error!(
                %error,
                "a stored budget cannot be used and is skipped; set it again through the api"
            ),
        }
    }
    Ok(budgets)
}

fn read_budget(row: &Row<'_>) -> Result<Budget, String> {
    let get = |index: usize| -> Result<String, String> {
        row.get::<_, String>(index).map_err(|e| e.to_string())
    };
    let id = get(0)?;
    let scope = match get(2)?.as_str() {
        "team" => Scope::Team,
        "project" => Scope::Project(get(3)?),
        "key" => Scope::Key(get(4)?),
        other => return Err(format!("budget {id} has scope \"{other}\"")),
    };
    let amount_pico = stored::pico(
        row.get_ref(5).map_err(|e| e.to_string())?,
        MAX_BUDGET_PICO,
        || format!("the amount of budget {id}"),
    );
    let period = get(6)?;
    let kind = PeriodKind::parse(&period).ok_or_else(|| format!("budget {id}: period {period}"))?;
    let start_day: i64 = row.get(8).map_err(|e| e.to_string())?;
    let rule = PeriodRule::new(kind, &get(7)?, u8::try_from(start_day).ok())
        .map_err(|e| format!("budget {id}: {e}"))?;
    let mode = get(9)?;
    let mode = Mode::parse(&mode).ok_or_else(|| format!("budget {id}: mode {mode}"))?;
    let strict: bool = row.get(10).map_err(|e| e.to_string())?;
    let default_max_tokens: i64 = row.get(11).map_err(|e| e.to_string())?;
    let thresholds: Vec<u16> =
        serde_json::from_str(&get(12)?).map_err(|e| format!("budget {id}: thresholds: {e}"))?;
    Ok(Budget {
        team_id: get(1)?,
        scope,
        amount_pico,
        rule,
        mode,
        strict,
        default_max_tokens: u64::try_from(default_max_tokens).unwrap_or(0),
        thresholds,
        created_at: get(13)?,
        updated_at: get(14)?,
        id,
    })
}

/// Fails with a conflict when the team, project or key already has a budget.
pub fn insert_budget(conn: &Connection, budget: &Budget) -> Result<(), StoreError> {
    let sql = format!(
        "INSERT INTO budgets ({BUDGET_COLUMNS}) VALUES (:id, :team_id, :scope, :project, \
         :key_id, :amount_pico, :period, :time_zone, :start_day, :mode, :strict, \
         :default_max_tokens, :thresholds, :created_at, :updated_at)"
    );
    let inserted = write_budget(conn, &sql, budget)?;
    match inserted {
        Err(error) if is_constraint(&error) => Err(StoreError::Conflict(format!(
            "a budget for this {}",
            budget.scope.kind()
        ))),
        other => other.map(drop).context("insert a budget"),
    }
}

pub fn update_budget(conn: &Connection, budget: &Budget) -> Result<(), StoreError> {
    let sql = "UPDATE budgets SET amount_pico = :amount_pico, period = :period, \
         time_zone = :time_zone, start_day = :start_day, mode = :mode, strict = :strict, \
         default_max_tokens = :default_max_tokens, thresholds = :thresholds, \
         updated_at = :updated_at, team_id = :team_id, scope = :scope, project = :project, \
         key_id = :key_id, created_at = :created_at WHERE id = :id";
    let changed = write_budget(conn, sql, budget)?.context("update a budget")?;
    if changed == 0 {
        return Err(StoreError::NotFound(format!("budget {}", budget.id)));
    }
    Ok(())
}

pub fn delete_budget(conn: &Connection, id: &str) -> Result<bool, StoreError> {
    let changed = conn
        .execute("DELETE FROM budgets WHERE id = ?1", params![id])
        .context("delete a budget")?;
    Ok(changed > 0)
}

/// Runs `sql` with every column of `budget` bound by name. The outer error is a budget the
/// database cannot hold; the inner one is SQLite's, for the caller to tell apart.
fn write_budget(
    conn: &Connection,
    sql: &str,
    budget: &Budget,
) -> Result<rusqlite::Result<usize>, StoreError> {
    let thresholds = serde_json::to_string(&budget.thresholds)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let max_tokens = i64::try_from(budget.default_max_tokens)
        .map_err(|_| StoreError::OutOfRange("default_max_tokens"))?;
    Ok(conn.execute(
        sql,
        named_params! {
            ":id": budget.id,
            ":team_id": budget.team_id,
            ":scope": budget.scope.kind(),
            ":project": budget.scope.project().unwrap_or_default(),
            ":key_id": budget.scope.key_id().unwrap_or_default(),
            ":amount_pico": budget.amount_pico.to_string(),
            ":period": budget.rule.kind.as_str(),
            ":time_zone": budget.rule.time_zone,
            ":start_day": i64::from(budget.rule.start_day),
            ":mode": budget.mode.as_str(),
            ":strict": budget.strict,
            ":default_max_tokens": max_tokens,
            ":thresholds": thresholds,
            ":created_at": budget.created_at,
            ":updated_at": budget.updated_at,
        },
    ))
}

/// Pico-dollars of the calls of `team_id` covered by `scope` that started in
/// `[from_ms, to_ms)`.
pub fn spend_between(
    conn: &Connection,
    team_id: &str,
    scope: &Scope,
    from_ms: i64,
    to_ms: i64,
) -> Result<i128, StoreError> {
    const CALLS: &str = "SELECT cost_pico FROM ledger WHERE team_id = ?1 \
         AND started_at_ms >= ?2 AND started_at_ms < ?3 AND cost_pico > 0";
    let (sql, label) = match scope {
        Scope::Team => (CALLS.to_owned(), None),
        Scope::Project(project) => (format!("{CALLS} AND project = ?4"), Some(project)),
        Scope::Key(key_id) => (format!("{CALLS} AND key_id = ?4"), Some(key_id)),
    };
    let mut statement = conn.prepare_cached(&sql).context("prepare a spend query")?;
    let mut rows = match label {
        None => statement.query(params![team_id, from_ms, to_ms]),
        Some(label) => statement.query(params![team_id, from_ms, to_ms, label]),
    }
    .context("read spend")?;
    let mut sum: i128 = 0;
    while let Some(row) = rows.next().context("read spend")? {
        let cost: i64 = row.get(0).context("read spend")?;
        sum = crate::money::add_pico(sum, i128::from(cost));
    }
    Ok(sum)
}

pub fn targets(conn: &Connection) -> Result<Vec<AlertTarget>, StoreError> {
    let mut statement = conn
        .prepare(
            "SELECT id, team_id, name, format, url, created_at FROM alert_targets \
             WHERE deleted_at IS NULL ORDER BY created_at, id",
        )
        .context("read alert targets")?;
    let rows = statement
        .query_map([], read_target)
        .context("read alert targets")?;
    rows.collect::<Result<_, _>>().context("read alert targets")
}

fn read_target(row: &Row<'_>) -> rusqlite::Result<AlertTarget> {
    let format: String = row.get(3)?;
    Ok(AlertTarget {
        id: row.get(0)?,
        team_id: row.get(1)?,
        name: row.get(2)?,
        format: TargetFormat::parse(&format).unwrap_or_default(),
        url: row.get(4)?,
        created_at: row.get(5)?,
    })
}

pub fn insert_target(conn: &Connection, target: &AlertTarget) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO alert_targets (id, team_id, name, format, url, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            target.id,
            target.team_id,
            target.name,
            target.format.as_str(),
            target.url,
            target.created_at
        ],
    )
    .context("insert an alert target")?;
    Ok(())
}

/// Removes a target from use; its delivery history stays. Pending deliveries to it fail.
pub fn delete_target(conn: &mut Connection, id: &str, at: &str) -> Result<bool, StoreError> {
    let tx = conn.transaction().context("begin removing a target")?;
    let changed = tx
        .execute(
            "UPDATE alert_targets SET deleted_at = ?2 WHERE id = ?1 AND deleted_at IS NULL",
            params![id, at],
        )
        .context("remove an alert target")?;
    tx.execute(
        "UPDATE alert_deliveries SET state = 'failed', last_error = 'the target was removed' \
         WHERE target_id = ?1 AND state = 'pending'",
        params![id],
    )
    .context("cancel deliveries to a removed target")?;
    tx.commit().context("commit removing a target")?;
    Ok(changed > 0)
}

/// Writes alerts not written before (same budget, period and threshold), each with a
/// pending delivery to every target its team has now. Part of the caller's transaction.
pub fn insert_alerts(tx: &Transaction<'_>, alerts: &[NewAlert]) -> Result<(), StoreError> {
    for alert in alerts {
        let inserted = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO alerts (id, budget_id, team_id, scope, project, key_id, \
                 kind, threshold, period_key, period_start, period_end, spend_pico, \
                 amount_pico, projected_pico, exhausted_on, message, created_at, \
                 created_at_ms) VALUES (:id, :budget_id, :team_id, :scope, :project, :key_id, \
                 :kind, :threshold, :period_key, :period_start, :period_end, :spend_pico, \
                 :amount_pico, :projected_pico, :exhausted_on, :message, :created_at, \
                 :created_at_ms)",
            )
            .context("prepare an alert insert")?
            .execute(named_params! {
                ":id": alert.id,
                ":budget_id": alert.budget_id,
                ":team_id": alert.team_id,
                ":scope": alert.scope,
                ":project": alert.project,
                ":key_id": alert.key_id,
                ":kind": alert.kind.name(),
                ":threshold": alert.kind.threshold(),
                ":period_key": alert.period_key,
                ":period_start": alert.period_start,
                ":period_end": alert.period_end,
                ":spend_pico": alert.spend_pico.to_string(),
                ":amount_pico": alert.amount_pico.to_string(),
                ":projected_pico": alert.projected_pico.map(|p| p.to_string()),
                ":exhausted_on": alert.exhausted_on,
                ":message": alert.message,
                ":created_at": alert.created_at,
                ":created_at_ms": alert.created_at_ms,
            })
            .context("insert an alert")?;
        if inserted == 0 {
            continue;
        }
        tx.prepare_cached(
            "INSERT INTO alert_deliveries (alert_id, target_id, state, attempts, \
             next_attempt_ms) SELECT ?1, id, 'pending', 0, ?2 FROM alert_targets \
             WHERE team_id = ?3 AND deleted_at IS NULL",
        )
        .context("prepare a delivery insert")?
        .execute(params![alert.id, alert.created_at_ms, alert.team_id])
        .context("insert alert deliveries")?;
    }
    Ok(())
}

const ALERT_COLUMNS: &str = "a.id, a.budget_id, a.team_id, a.scope, a.project, a.key_id, \
     a.kind, a.threshold, a.period_start, a.period_end, a.spend_pico, a.amount_pico, \
     a.projected_pico, a.exhausted_on, a.message, a.created_at, a.created_at_ms";

fn read_alert(row: &Row<'_>) -> rusqlite::Result<NewAlert> {
    let id: String = row.get(0)?;
    let kind: String = row.get(6)?;
    let threshold: u16 = row.get(7)?;
    let money = |index: usize, what: &str| -> rusqlite::Result<i128> {
        Ok(stored::pico(row.get_ref(index)?, i128::MAX / 4, || {
            format!("the {what} of alert {id}")
        }))
    };
    let projected_pico = match row.get_ref(12)? {
        ValueRef::Null => None,
        _ => Some(money(12, "projection")?),
    };
    let scope: String = row.get(3)?;
    Ok(NewAlert {
        period_key: String::new(),
        budget_id: row.get(1)?,
        team_id: row.get(2)?,
        scope: match scope.as_str() {
            "project" => "project",
            "key" => "key",
            _ => "team",
        },
        project: row.get(4)?,
        key_id: row.get(5)?,
        kind: match kind.as_str() {
            "forecast" => AlertKind::Forecast,
            _ => AlertKind::Threshold(threshold),
        },
        period_start: row.get(8)?,
        period_end: row.get(9)?,
        spend_pico: money(10, "spend")?,
        amount_pico: money(11, "amount")?,
        projected_pico,
        exhausted_on: row.get(13)?,
        message: row.get(14)?,
        created_at: row.get(15)?,
        created_at_ms: row.get(16)?,
        id,
    })
}

/// Pending deliveries whose time has come, oldest first, with their alert and target.
pub fn due_deliveries(
    conn: &Connection,
    now_ms: i64,
    limit: usize,
) -> Result<Vec<DueDelivery>, StoreError> {
    let mut statement = conn
        .prepare_cached(&format!(
            "SELECT {ALERT_COLUMNS}, t.id, t.team_id, t.name, t.format, t.url, t.created_at, \
             d.attempts FROM alert_deliveries AS d JOIN alerts AS a ON a.id = d.alert_id \
             JOIN alert_targets AS t ON t.id = d.target_id \
             WHERE d.state = 'pending' AND d.next_attempt_ms <= ?1 \
             ORDER BY d.next_attempt_ms, a.created_at_ms LIMIT ?2"
        ))
        .context("prepare the outbox query")?;
    let rows = statement
        .query_map(params![now_ms, limit as i64], |row| {
            let alert = read_alert(row)?;
            let format: String = row.get(20)?;
            let target = AlertTarget {
                id: row.get(17)?,
                team_id: row.get(18)?,
                name: row.get(19)?,
                format: TargetFormat::parse(&format).unwrap_or_default(),
                url: row.get(21)?,
                created_at: row.get(22)?,
            };
            Ok(DueDelivery {
                alert,
                target,
                attempts: row.get(23)?,
            })
        })
        .context("read the outbox")?;
    rows.collect::<Result<_, _>>().context("read the outbox")
}

pub fn finish_delivery(
    conn: &Connection,
    alert_id: &str,
    target_id: &str,
    attempt: &Attempt,
) -> Result<(), StoreError> {
    let (state, next_ms, error, sent_at): (&str, i64, Option<&str>, Option<&str>) = match attempt {
        Attempt::Sent { at } => ("sent", 0, None, Some(at)),
        Attempt::Retry { error, next_ms } => ("pending", *next_ms, Some(error), None),
        Attempt::Failed { error } => ("failed", 0, Some(error), None),
    };
    conn.execute(
        "UPDATE alert_deliveries SET state = ?3, attempts = attempts + 1, \
         next_attempt_ms = ?4, last_error = ?5, sent_at = ?6 \
         WHERE alert_id = ?1 AND target_id = ?2 AND state = 'pending'",
        params![alert_id, target_id, state, next_ms, error, sent_at],
    )
    .context("record a delivery")?;
    Ok(())
}

/// Alerts, newest first, with their deliveries.
pub fn alerts(
    conn: &Connection,
    team_id: Option<&str>,
    limit: usize,
) -> Result<Vec<AlertRecord>, StoreError> {
    let mut statement = conn
        .prepare_cached(&format!(
            "SELECT {ALERT_COLUMNS} FROM alerts AS a WHERE ?1 IS NULL OR a.team_id = ?1 \
             ORDER BY a.created_at_ms DESC, a.rowid DESC LIMIT ?2"
        ))
        .context("prepare the alert history")?;
    let alerts: Vec<NewAlert> = statement
        .query_map(params![team_id, limit as i64], read_alert)
        .context("read alerts")?
        .collect::<Result<_, _>>()
        .context("read alerts")?;
    let mut deliveries = conn
        .prepare_cached(
            "SELECT target_id, state, attempts, last_error, sent_at FROM alert_deliveries \
             WHERE alert_id = ?1 ORDER BY target_id",
        )
        .context("prepare the delivery history")?;
    let mut records = Vec::with_capacity(alerts.len());
    for alert in alerts {
        let rows: Vec<DeliveryRecord> = deliveries
            .query_map(params![alert.id], |row| {
                Ok(DeliveryRecord {
                    target_id: row.get(0)?,
                    state: row.get(1)?,
                    attempts: row.get(2)?,
                    last_error: row.get(3)?,
                    sent_at: row.get(4)?,
                })
            })
            .context("read deliveries")?
            .collect::<Result<_, _>>()
            .context("read deliveries")?;
        records.push(AlertRecord {
            alert,
            deliveries: rows,
        });
    }
    Ok(records)
}
