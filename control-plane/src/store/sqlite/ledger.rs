//! The ledger and its rollups in SQLite.
//!
//! Rollups are summed in Rust, never in SQL: SQLite turns an integer sum that overflows into
//! a REAL, which no longer reads back as an amount. Rollup costs are kept as integer text,
//! since the sums of a day can pass 64 bits.

use rusqlite::{Connection, OptionalExtension, Row, Transaction, named_params, params};
use serde::de::DeserializeOwned;
use trimio_wire::{Usage, UsageFlags};

use crate::alerts::NewAlert;
use crate::ledger::{EstimateTotals, LedgerRow, MAX_CALL_COST_PICO, RollupRow, Totals};
use crate::store::StoreError;
use crate::store::sqlite::{Context, budgets, int, stored};

const INSERT_CALL: &str = "
INSERT OR IGNORE INTO ledger (
    request_id, key_hash, team_id, key_id, project, user, provider, family, model,
    request_model, input_tokens, output_tokens, cache_read_tokens, cache_write_5m_tokens,
    cache_write_1h_tokens, reasoning_tokens, web_search_requests, service_tier, inference_geo,
    status, streamed, estimated, malformed, too_large, client_aborted, truncated, stream_error,
    cost_pico, unpriced, started_at_ms, duration_ms, received_at, day, reserved_pico,
    request_bytes
) VALUES (
    :request_id, :key_hash, :team_id, :key_id, :project, :user, :provider, :family, :model,
    :request_model, :input, :output, :cache_read, :cache_write_5m,
    :cache_write_1h, :reasoning, :web_search_requests, :service_tier, :inference_geo,
    :status, :streamed, :estimated, :malformed, :too_large, :client_aborted, :truncated,
    :stream_error, :cost_pico, :unpriced, :started_at_ms, :duration_ms, :received_at, :day,
    :reserved_pico, :request_bytes
)";

/// The totals are read by [`totals`] in this order, in both selects.
const SELECT_ROLLUP: &str = "
SELECT calls, unpriced_calls, charged_calls, estimated_calls, input_tokens,
    output_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens,
    reasoning_tokens, web_search_requests, cost_pico
FROM rollups
WHERE day = :day AND team_id = :team_id AND project = :project AND user = :user
    AND model = :model";

const PUT_ROLLUP: &str = "
INSERT INTO rollups (
    day, team_id, project, user, model, calls, unpriced_calls, charged_calls, estimated_calls,
    input_tokens, output_tokens, cache_read_tokens, cache_write_5m_tokens,
    cache_write_1h_tokens, reasoning_tokens, web_search_requests, cost_pico
) VALUES (
    :day, :team_id, :project, :user, :model, :calls, :unpriced_calls, :charged_calls,
    :estimated_calls, :input, :output, :cache_read, :cache_write_5m, :cache_write_1h,
    :reasoning, :web_search_requests, :cost_pico
)
ON CONFLICT (day, team_id, project, user, model) DO UPDATE SET
    calls = excluded.calls,
    unpriced_calls = excluded.unpriced_calls,
    charged_calls = excluded.charged_calls,
    estimated_calls = excluded.estimated_calls,
    input_tokens = excluded.input_tokens,
    output_tokens = excluded.output_tokens,
    cache_read_tokens = excluded.cache_read_tokens,
    cache_write_5m_tokens = excluded.cache_write_5m_tokens,
    cache_write_1h_tokens = excluded.cache_write_1h_tokens,
    reasoning_tokens = excluded.reasoning_tokens,
    web_search_requests = excluded.web_search_requests,
    cost_pico = excluded.cost_pico";

const SCAN_ROLLUPS: &str = "
SELECT day, team_id, project, user, model, calls, unpriced_calls, charged_calls,
    estimated_calls, input_tokens, output_tokens, cache_read_tokens, cache_write_5m_tokens,
    cache_write_1h_tokens, reasoning_tokens, web_search_requests, cost_pico
FROM rollups WHERE day >= ?1 AND day < ?2";

const SELECT_CALL: &str = "
SELECT request_id, key_hash, team_id, key_id, project, user, provider, family, model,
    request_model, input_tokens, output_tokens, cache_read_tokens, cache_write_5m_tokens,
    cache_write_1h_tokens, reasoning_tokens, web_search_requests, service_tier, inference_geo,
    status, streamed, estimated, malformed, too_large, client_aborted, truncated, stream_error,
    cost_pico, unpriced, started_at_ms, duration_ms, received_at, day, reserved_pico,
    request_bytes
FROM ledger WHERE request_id = ?1";

/// One transaction: each new call goes into the ledger and its rollup; a request id already
/// held changes nothing. The alerts `plan` raises from the calls that were new are written
/// in the same transaction.
pub fn record_usage(
    conn: &mut Connection,
    rows: &[LedgerRow],
    plan: &mut dyn FnMut(&[bool]) -> Vec<NewAlert>,
) -> Result<Vec<bool>, StoreError> {
    let tx = conn.transaction().context("begin recording usage")?;
    let mut inserted = Vec::with_capacity(rows.len());
    for row in rows {
        let new = insert_call(&tx, row)?;
        if new {
            add_to_rollup(&tx, row)?;
        }
        inserted.push(new);
    }
    let alerts = plan(&inserted);
    budgets::insert_alerts(&tx, &alerts)?;
    tx.commit().context("commit usage")?;
    Ok(inserted)
}

/// What the calls of `[from_day, to_day)` reserved at admission against what they cost,
/// over the calls that held a reservation; of one team when `team_id` is given.
pub fn estimate_totals(
    conn: &Connection,
    from_day: &str,
    to_day: &str,
    team_id: Option<&str>,
) -> Result<EstimateTotals, StoreError> {
    let mut statement = conn
        .prepare_cached(
            "SELECT reserved_pico, coalesce(cost_pico, 0) FROM ledger \
             WHERE reserved_pico IS NOT NULL AND day >= ?1 AND day < ?2 \
             AND (?3 IS NULL OR team_id = ?3)",
        )
        .context("prepare the estimate query")?;
    let mut rows = statement
        .query(params![from_day, to_day, team_id])
        .context("read estimates")?;
    let mut totals = EstimateTotals::default();
    while let Some(row) = rows.next().context("read estimates")? {
        let reserved = i128::from(row.get::<_, i64>(0).context("read estimates")?);
        let cost = i128::from(row.get::<_, i64>(1).context("read estimates")?);
        totals.add(reserved, cost);
    }
    Ok(totals)
}

/// Whether the call was new.
fn insert_call(tx: &Transaction<'_>, row: &LedgerRow) -> Result<bool, StoreError> {
    let usage = Columns::of(&row.usage);
    let mut insert = tx
        .prepare_cached(INSERT_CALL)
        .context("prepare the ledger insert")?;
    let changed = insert
        .execute(named_params! {
            ":request_id": row.request_id,
            ":key_hash": row.key_hash,
            ":team_id": row.team_id,
            ":key_id": row.key_id,
            ":project": row.project,
            ":user": row.user,
            ":provider": row.provider.as_str(),
            ":family": row.family.as_str(),
            ":model": row.model,
            ":request_model": row.request_model,
            ":input": usage.input,
            ":output": usage.output,
            ":cache_read": usage.cache_read,
            ":cache_write_5m": usage.cache_write_5m,
            ":cache_write_1h": usage.cache_write_1h,
            ":reasoning": usage.reasoning,
            ":web_search_requests": usage.web_search_requests,
            ":service_tier": row.service_tier,
            ":inference_geo": row.inference_geo,
            ":status": row.status,
            ":streamed": row.streamed,
            ":estimated": row.flags.estimated,
            ":malformed": row.flags.malformed,
            ":too_large": row.flags.too_large,
            ":client_aborted": row.flags.client_aborted,
            ":truncated": row.flags.truncated,
            ":stream_error": row.flags.stream_error,
            ":cost_pico": row.cost_pico,
            ":unpriced": row.unpriced,
            ":started_at_ms": int(row.started_at_ms, "started_at_ms")?,
            ":duration_ms": int(row.duration_ms, "duration_ms")?,
            ":received_at": row.received_at_ms,
            ":day": row.day,
            ":reserved_pico": row.reserved_pico,
            ":request_bytes": int(row.request_bytes, "request_bytes")?,
        })
        .context("insert a call")?;
    Ok(changed == 1)
}

/// Reads the call's rollup, adds the call in Rust and writes the sums back.
fn add_to_rollup(tx: &Transaction<'_>, row: &LedgerRow) -> Result<(), StoreError> {
    let key = [
        row.day.as_str(),
        row.team_id.as_deref().unwrap_or_default(),
        row.project.as_deref().unwrap_or_default(),
        row.user.as_deref().unwrap_or_default(),
        row.model.as_deref().unwrap_or_default(),
    ];
    let key_params = named_params! {
        ":day": key[0], ":team_id": key[1], ":project": key[2], ":user": key[3], ":model": key[4],
    };

    let mut select = tx
        .prepare_cached(SELECT_ROLLUP)
        .context("prepare a rollup lookup")?;
    let held = select
        .query_row(key_params, |stored| Ok(totals(stored, 0, &key)))
        .optional()
        .context("read a rollup")?;
    let mut sum = held.unwrap_or_default();
    sum.add(&Totals::of(row));

    let usage = Columns::of(&sum.usage);
    let mut put = tx
        .prepare_cached(PUT_ROLLUP)
        .context("prepare the rollup update")?;
    put.execute(named_params! {
        ":day": key[0],
        ":team_id": key[1],
        ":project": key[2],
        ":user": key[3],
        ":model": key[4],
        ":calls": saturated(sum.calls),
        ":unpriced_calls": saturated(sum.unpriced_calls),
        ":charged_calls": saturated(sum.charged_calls),
        ":estimated_calls": saturated(sum.estimated_calls),
        ":input": usage.input,
        ":output": usage.output,
        ":cache_read": usage.cache_read,
        ":cache_write_5m": usage.cache_write_5m,
        ":cache_write_1h": usage.cache_write_1h,
        ":reasoning": usage.reasoning,
        ":web_search_requests": usage.web_search_requests,
        ":cost_pico": sum.cost_pico.to_string(),
    })
    .context("update a rollup")?;
    Ok(())
}

pub fn call(conn: &Connection, request_id: &str) -> Result<Option<LedgerRow>, StoreError> {
    let mut statement = conn
        .prepare_cached(SELECT_CALL)
        .context("prepare a call lookup")?;
    let raw = statement
        .query_row(params![request_id], RawCall::read)
        .optional()
        .context("read a call")?;
    raw.map(RawCall::into_row).transpose()
}

pub fn scan_rollups(
    conn: &Connection,
    from_day: &str,
    to_day: &str,
    visit: &mut dyn FnMut(RollupRow),
) -> Result<(), StoreError> {
    let mut statement = conn
        .prepare_cached(SCAN_ROLLUPS)
        .context("prepare a rollup scan")?;
    let mut rows = statement
        .query(params![from_day, to_day])
        .context("scan rollups")?;
    while let Some(row) = rows.next().context("scan rollups")? {
        visit(rollup(row).context("read a rollup")?);
    }
    Ok(())
}

fn rollup(row: &Row<'_>) -> rusqlite::Result<RollupRow> {
    let key: [String; 5] = [
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
    ];
    let key_ref = key.each_ref().map(String::as_str);
    let totals = totals(row, 5, &key_ref);
    let [day, team_id, project, user, model] = key;
    let present = |value: String| Some(value).filter(|value| !value.is_empty());
    Ok(RollupRow {
        day,
        team_id: present(team_id),
        project: present(project),
        user: present(user),
        model: present(model),
        totals,
    })
}

/// The totals of a rollup row, read from the columns of [`SELECT_ROLLUP`] starting at
/// `first`. A damaged value is clamped and logged (see [`stored`]).
fn totals(row: &Row<'_>, first: usize, key: &[&str; 5]) -> Totals {
    let what = |column: &'static str| move || format!("{column} of the rollup {}", key.join("/"));
    let value = |offset: usize| {
        row.get_ref(first + offset)
            .unwrap_or(rusqlite::types::ValueRef::Null)
    };
    let number = |offset: usize, column: &'static str| stored::count(value(offset), what(column));

    let calls = number(0, "calls");
    let most = MAX_CALL_COST_PICO.saturating_mul(i128::from(calls));
    Totals {
        calls,
        unpriced_calls: number(1, "unpriced_calls"),
        charged_calls: number(2, "charged_calls"),
        estimated_calls: number(3, "estimated_calls"),
        usage: Usage {
            input: number(4, "input_tokens"),
            output: number(5, "output_tokens"),
            cache_read: number(6, "cache_read_tokens"),
            cache_write_5m: number(7, "cache_write_5m_tokens"),
            cache_write_1h: number(8, "cache_write_1h_tokens"),
            reasoning: number(9, "reasoning_tokens"),
            web_search_requests: number(10, "web_search_requests"),
        },
        cost_pico: stored::pico(value(11), most, what("cost_pico")),
    }
}

/// A sum as SQLite's signed integer, held at its bound rather than refused: a rollup that
/// cannot be written would refuse every later batch.
fn saturated(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Token counts as the database's signed integers.
struct Columns {
    input: i64,
    output: i64,
    cache_read: i64,
    cache_write_5m: i64,
    cache_write_1h: i64,
    reasoning: i64,
    web_search_requests: i64,
}

impl Columns {
    fn of(usage: &Usage) -> Columns {
        Columns {
            input: saturated(usage.input),
            output: saturated(usage.output),
            cache_read: saturated(usage.cache_read),
            cache_write_5m: saturated(usage.cache_write_5m),
            cache_write_1h: saturated(usage.cache_write_1h),
            reasoning: saturated(usage.reasoning),
            web_search_requests: saturated(usage.web_search_requests),
        }
    }
}

/// A ledger row as SQLite hands it back, before the checks that need more than a column.
struct RawCall {
    request_id: String,
    key_hash: String,
    team_id: Option<String>,
    key_id: Option<String>,
    project: Option<String>,
    user: Option<String>,
    provider: String,
    family: String,
    model: Option<String>,
    request_model: Option<String>,
    usage: Usage,
    service_tier: Option<String>,
    inference_geo: Option<String>,
    status: u16,
    streamed: bool,
    flags: UsageFlags,
    cost_pico: Option<i64>,
    unpriced: bool,
    started_at_ms: u64,
    duration_ms: u64,
    received_at_ms: i64,
    day: String,
    reserved_pico: Option<i64>,
    request_bytes: u64,
}

impl RawCall {
    fn read(row: &Row<'_>) -> rusqlite::Result<RawCall> {
        let request_id: String = row.get(0)?;
        let id = &request_id;
        let what = |column: &'static str| move || format!("{column} of the call {id}");
        let number = |index: usize, column: &'static str| -> rusqlite::Result<u64> {
            Ok(stored::count(row.get_ref(index)?, what(column)))
        };
        let cost_pico = match row.get_ref(27)? {
            rusqlite::types::ValueRef::Null => None,
            cost => {
                let cost = stored::pico(cost, MAX_CALL_COST_PICO, what("cost_pico"));
                Some(i64::try_from(cost).unwrap_or(i64::MAX))
            }
        };
        Ok(RawCall {
            key_hash: row.get(1)?,
            team_id: row.get(2)?,
            key_id: row.get(3)?,
            project: row.get(4)?,
            user: row.get(5)?,
            provider: row.get(6)?,
            family: row.get(7)?,
            model: row.get(8)?,
            request_model: row.get(9)?,
            usage: Usage {
                input: number(10, "input_tokens")?,
                output: number(11, "output_tokens")?,
                cache_read: number(12, "cache_read_tokens")?,
                cache_write_5m: number(13, "cache_write_5m_tokens")?,
                cache_write_1h: number(14, "cache_write_1h_tokens")?,
                reasoning: number(15, "reasoning_tokens")?,
                web_search_requests: number(16, "web_search_requests")?,
            },
            service_tier: row.get(17)?,
            inference_geo: row.get(18)?,
            status: row.get(19)?,
            streamed: row.get(20)?,
            flags: UsageFlags {
                estimated: row.get(21)?,
                malformed: row.get(22)?,
                too_large: row.get(23)?,
                client_aborted: row.get(24)?,
                truncated: row.get(25)?,
                stream_error: row.get(26)?,
            },
            cost_pico,
            unpriced: row.get(28)?,
            started_at_ms: number(29, "started_at_ms")?,
            duration_ms: number(30, "duration_ms")?,
            received_at_ms: row.get(31)?,
            day: row.get(32)?,
            reserved_pico: row.get(33)?,
            request_bytes: number(34, "request_bytes")?,
            request_id,
        })
    }

    fn into_row(self) -> Result<LedgerRow, StoreError> {
        Ok(LedgerRow {
            provider: name(&self.provider, "provider")?,
            family: name(&self.family, "family")?,
            usage: self.usage,
            started_at_ms: self.started_at_ms,
            duration_ms: self.duration_ms,
            request_id: self.request_id,
            key_hash: self.key_hash,
            team_id: self.team_id,
            key_id: self.key_id,
            project: self.project,
            user: self.user,
            model: self.model,
            request_model: self.request_model,
            service_tier: self.service_tier,
            inference_geo: self.inference_geo,
            status: self.status,
            streamed: self.streamed,
            flags: self.flags,
            cost_pico: self.cost_pico,
            unpriced: self.unpriced,
            received_at_ms: self.received_at_ms,
            day: self.day,
            reserved_pico: self.reserved_pico,
            request_bytes: self.request_bytes,
        })
    }
}

/// A provider or family read back from its stored name.
fn name<T: DeserializeOwned>(stored: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_value(serde_json::Value::String(stored.to_owned()))
        .map_err(|_| StoreError::Corrupt(format!("unknown {what} \"{stored}\"")))
}

#[cfg(test)]
mod tests {
    use crate::ledger::{LedgerRow, RollupRow};
    use crate::store::{SqliteStore, Store};

    fn row(request_id: &str, team_id: Option<&str>, cost_pico: Option<i64>) -> LedgerRow {
        let record = crate::ledger::record_for_tests(request_id, "h");
        let mut row = LedgerRow::build(record, None, &Default::default(), 9).unwrap();
        row.team_id = team_id.map(str::to_owned);
        row.cost_pico = cost_pico;
        row.unpriced = cost_pico.is_none();
        row
    }

    fn rollups(store: &SqliteStore) -> Vec<RollupRow> {
        let mut found = Vec::new();
        store
            .scan_rollups("2025-12-01", "2026-01-01", &mut |row| found.push(row))
            .unwrap();
        found
    }

    #[test]
    fn a_call_reads_back_as_written() {
        let store = SqliteStore::in_memory().unwrap();
        let mut written = row("r1", Some("t1"), Some(18_369_000_000));
        written.flags.truncated = true;
        written.user = Some("alice".into());
        store
            .record_usage(std::slice::from_ref(&written), &mut |_| Vec::new())
            .unwrap();
        assert_eq!(store.call("r1").unwrap(), Some(written));
        assert_eq!(store.call("r2").unwrap(), None);
    }

    #[test]
    fn duplicates_are_ignored_and_never_rolled_up_twice() {
        let store = SqliteStore::in_memory().unwrap();
        let batch = [
            row("r1", Some("t1"), Some(100)),
            row("r2", Some("t1"), None),
        ];
        assert_eq!(
            store.record_usage(&batch, &mut |_| Vec::new()).unwrap(),
            vec![true, true]
        );
        assert_eq!(
            store.record_usage(&batch, &mut |_| Vec::new()).unwrap(),
            vec![false, false]
        );
        let within = [
            row("r3", Some("t1"), Some(5)),
            row("r3", Some("t1"), Some(5)),
        ];
        assert_eq!(
            store.record_usage(&within, &mut |_| Vec::new()).unwrap(),
            vec![true, false]
        );

        let found = rollups(&store);
        assert_eq!(found.len(), 1);
        let totals = found[0].totals;
        assert_eq!(
            (totals.calls, totals.unpriced_calls, totals.cost_pico),
            (3, 1, 105)
        );
        assert_eq!(totals.usage.output, 3 * 412);
    }

    #[test]
    fn calls_without_a_team_keep_their_own_rollup() {
        let store = SqliteStore::in_memory().unwrap();
        store
            .record_usage(
                &[row("r1", None, Some(1)), row("r2", Some("t1"), Some(2))],
                &mut |_| Vec::new(),
            )
            .unwrap();
        let mut found = rollups(&store);
        found.sort_by(|a, b| a.team_id.cmp(&b.team_id));
        assert_eq!(found[0].team_id, None);
        assert_eq!(found[0].project, None);
        assert_eq!(found[1].team_id.as_deref(), Some("t1"));
    }
}
