//! The ledger and its rollups in SQLite.

use rusqlite::{Connection, OptionalExtension, Row, named_params, params};
use serde::de::DeserializeOwned;
use trimio_wire::{Usage, UsageFlags};

use crate::ledger::{LedgerRow, RollupRow, Totals};
use crate::store::StoreError;
use crate::store::sqlite::{Context, count, int};

const INSERT_CALL: &str = "
INSERT OR IGNORE INTO ledger (
    request_id, key_hash, team_id, key_id, project, user, provider, family, model,
    request_model, input_tokens, output_tokens, cache_read_tokens, cache_write_5m_tokens,
    cache_write_1h_tokens, reasoning_tokens, web_search_requests, service_tier, inference_geo,
    status, streamed, estimated, malformed, too_large, client_aborted, truncated, stream_error,
    cost_pico, unpriced, started_at_ms, duration_ms, received_at, day
) VALUES (
    :request_id, :key_hash, :team_id, :key_id, :project, :user, :provider, :family, :model,
    :request_model, :input, :output, :cache_read, :cache_write_5m,
    :cache_write_1h, :reasoning, :web_search_requests, :service_tier, :inference_geo,
    :status, :streamed, :estimated, :malformed, :too_large, :client_aborted, :truncated,
    :stream_error, :cost_pico, :unpriced, :started_at_ms, :duration_ms, :received_at, :day
)";

const ADD_TO_ROLLUP: &str = "
INSERT INTO rollups (
    day, team_id, project, user, model, calls, unpriced_calls, estimated_calls, input_tokens,
    output_tokens, cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens,
    reasoning_tokens, web_search_requests, cost_pico
) VALUES (
    :day, :team_id, :project, :user, :model, 1, :unpriced, :estimated, :input,
    :output, :cache_read, :cache_write_5m, :cache_write_1h,
    :reasoning, :web_search_requests, :cost_pico
)
ON CONFLICT (day, team_id, project, user, model) DO UPDATE SET
    calls = calls + 1,
    unpriced_calls = unpriced_calls + excluded.unpriced_calls,
    estimated_calls = estimated_calls + excluded.estimated_calls,
    input_tokens = input_tokens + excluded.input_tokens,
    output_tokens = output_tokens + excluded.output_tokens,
    cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
    cache_write_5m_tokens = cache_write_5m_tokens + excluded.cache_write_5m_tokens,
    cache_write_1h_tokens = cache_write_1h_tokens + excluded.cache_write_1h_tokens,
    reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens,
    web_search_requests = web_search_requests + excluded.web_search_requests,
    cost_pico = cost_pico + excluded.cost_pico";

const SELECT_CALL: &str = "
SELECT request_id, key_hash, team_id, key_id, project, user, provider, family, model,
    request_model, input_tokens, output_tokens, cache_read_tokens, cache_write_5m_tokens,
    cache_write_1h_tokens, reasoning_tokens, web_search_requests, service_tier, inference_geo,
    status, streamed, estimated, malformed, too_large, client_aborted, truncated, stream_error,
    cost_pico, unpriced, started_at_ms, duration_ms, received_at, day
FROM ledger WHERE request_id = ?1";

const SELECT_ROLLUPS: &str = "
SELECT day, team_id, project, user, model, calls, unpriced_calls, estimated_calls,
    input_tokens, output_tokens, cache_read_tokens, cache_write_5m_tokens,
    cache_write_1h_tokens, reasoning_tokens, web_search_requests, cost_pico
FROM rollups WHERE day >= ?1 AND day < ?2";

/// One transaction: each new call goes into the ledger and its rollup; a request id already
/// held changes nothing.
pub fn record_usage(conn: &mut Connection, rows: &[LedgerRow]) -> Result<Vec<bool>, StoreError> {
    let tx = conn.transaction().context("begin recording usage")?;
    let mut inserted = Vec::with_capacity(rows.len());
    {
        let mut insert = tx
            .prepare_cached(INSERT_CALL)
            .context("prepare the ledger insert")?;
        let mut rollup = tx
            .prepare_cached(ADD_TO_ROLLUP)
            .context("prepare the rollup update")?;
        for row in rows {
            let usage = Columns::of(&row.usage)?;
            let new = insert
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
                })
                .context("insert a call")?
                == 1;
            if new {
                rollup
                    .execute(named_params! {
                        ":day": row.day,
                        ":team_id": row.team_id.as_deref().unwrap_or_default(),
                        ":project": row.project.as_deref().unwrap_or_default(),
                        ":user": row.user.as_deref().unwrap_or_default(),
                        ":model": row.model.as_deref().unwrap_or_default(),
                        ":unpriced": row.unpriced,
                        ":estimated": row.flags.estimated,
                        ":input": usage.input,
                        ":output": usage.output,
                        ":cache_read": usage.cache_read,
                        ":cache_write_5m": usage.cache_write_5m,
                        ":cache_write_1h": usage.cache_write_1h,
                        ":reasoning": usage.reasoning,
                        ":web_search_requests": usage.web_search_requests,
                        ":cost_pico": row.cost_pico.unwrap_or(0),
                    })
                    .context("update a rollup")?;
            }
            inserted.push(new);
        }
    }
    tx.commit().context("commit usage")?;
    Ok(inserted)
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
        .prepare_cached(SELECT_ROLLUPS)
        .context("prepare a rollup scan")?;
    let mut rows = statement
        .query(params![from_day, to_day])
        .context("scan rollups")?;
    while let Some(row) = rows.next().context("scan rollups")? {
        visit(rollup(row)?);
    }
    Ok(())
}

fn rollup(row: &Row<'_>) -> Result<RollupRow, StoreError> {
    let text = |index: usize| -> Result<Option<String>, StoreError> {
        let value: String = row.get(index).context("read a rollup")?;
        Ok(Some(value).filter(|value| !value.is_empty()))
    };
    let number = |index: usize, what: &'static str| -> Result<u64, StoreError> {
        count(row.get(index).context("read a rollup")?, what)
    };
    Ok(RollupRow {
        day: row.get(0).context("read a rollup")?,
        team_id: text(1)?,
        project: text(2)?,
        user: text(3)?,
        model: text(4)?,
        totals: Totals {
            calls: number(5, "calls")?,
            unpriced_calls: number(6, "unpriced_calls")?,
            estimated_calls: number(7, "estimated_calls")?,
            usage: Usage {
                input: number(8, "input_tokens")?,
                output: number(9, "output_tokens")?,
                cache_read: number(10, "cache_read_tokens")?,
                cache_write_5m: number(11, "cache_write_5m_tokens")?,
                cache_write_1h: number(12, "cache_write_1h_tokens")?,
                reasoning: number(13, "reasoning_tokens")?,
                web_search_requests: number(14, "web_search_requests")?,
            },
            cost_pico: i128::from(row.get::<_, i64>(15).context("read a rollup")?),
        },
    })
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
    fn of(usage: &Usage) -> Result<Columns, StoreError> {
        Ok(Columns {
            input: int(usage.input, "usage.input")?,
            output: int(usage.output, "usage.output")?,
            cache_read: int(usage.cache_read, "usage.cache_read")?,
            cache_write_5m: int(usage.cache_write_5m, "usage.cache_write_5m")?,
            cache_write_1h: int(usage.cache_write_1h, "usage.cache_write_1h")?,
            reasoning: int(usage.reasoning, "usage.reasoning")?,
            web_search_requests: int(usage.web_search_requests, "usage.web_search_requests")?,
        })
    }

    fn into_usage(self) -> Result<Usage, StoreError> {
        Ok(Usage {
            input: count(self.input, "input_tokens")?,
            output: count(self.output, "output_tokens")?,
            cache_read: count(self.cache_read, "cache_read_tokens")?,
            cache_write_5m: count(self.cache_write_5m, "cache_write_5m_tokens")?,
            cache_write_1h: count(self.cache_write_1h, "cache_write_1h_tokens")?,
            reasoning: count(self.reasoning, "reasoning_tokens")?,
            web_search_requests: count(self.web_search_requests, "web_search_requests")?,
        })
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
    usage: Columns,
    service_tier: Option<String>,
    inference_geo: Option<String>,
    status: u16,
    streamed: bool,
    flags: UsageFlags,
    cost_pico: Option<i64>,
    unpriced: bool,
    started_at_ms: i64,
    duration_ms: i64,
    received_at_ms: i64,
    day: String,
}

impl RawCall {
    fn read(row: &Row<'_>) -> rusqlite::Result<RawCall> {
        Ok(RawCall {
            request_id: row.get(0)?,
            key_hash: row.get(1)?,
            team_id: row.get(2)?,
            key_id: row.get(3)?,
            project: row.get(4)?,
            user: row.get(5)?,
            provider: row.get(6)?,
            family: row.get(7)?,
            model: row.get(8)?,
            request_model: row.get(9)?,
            usage: Columns {
                input: row.get(10)?,
                output: row.get(11)?,
                cache_read: row.get(12)?,
                cache_write_5m: row.get(13)?,
                cache_write_1h: row.get(14)?,
                reasoning: row.get(15)?,
                web_search_requests: row.get(16)?,
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
            cost_pico: row.get(27)?,
            unpriced: row.get(28)?,
            started_at_ms: row.get(29)?,
            duration_ms: row.get(30)?,
            received_at_ms: row.get(31)?,
            day: row.get(32)?,
        })
    }

    fn into_row(self) -> Result<LedgerRow, StoreError> {
        Ok(LedgerRow {
            provider: name(&self.provider, "provider")?,
            family: name(&self.family, "family")?,
            usage: self.usage.into_usage()?,
            started_at_ms: count(self.started_at_ms, "started_at_ms")?,
            duration_ms: count(self.duration_ms, "duration_ms")?,
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
        store.record_usage(std::slice::from_ref(&written)).unwrap();
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
        assert_eq!(store.record_usage(&batch).unwrap(), vec![true, true]);
        assert_eq!(store.record_usage(&batch).unwrap(), vec![false, false]);
        let within = [
            row("r3", Some("t1"), Some(5)),
            row("r3", Some("t1"), Some(5)),
        ];
        assert_eq!(store.record_usage(&within).unwrap(), vec![true, false]);

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
            .record_usage(&[row("r1", None, Some(1)), row("r2", Some("t1"), Some(2))])
            .unwrap();
        let mut found = rollups(&store);
        found.sort_by(|a, b| a.team_id.cmp(&b.team_id));
        assert_eq!(found[0].team_id, None);
        assert_eq!(found[0].project, None);
        assert_eq!(found[1].team_id.as_deref(), Some("t1"));
    }
}
