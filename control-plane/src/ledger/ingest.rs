//! Ingestion of a usage batch: check, attribute and price every record, store the batch in
//! one transaction, then bring memory in step.
//!
//! A request id already held is ignored, so a batch retried after a lost acknowledgement
//! never counts twice. An impossible record is rejected alone, logged and counted in the
//! acknowledgement, so one bad record never blocks the gateway's later usage. The
//! acknowledgement is sent only after the commit.

use trimio_wire::{LeaseCharge, UsageAck};

use crate::admission::Sample;
use crate::alerts::{self, NewAlert};
use crate::budgets::CallCost;
use crate::calendar::timestamp_of_ms;
use crate::ledger::delivery::{Delivery, Rejected};
use crate::ledger::record::{LedgerRow, loggable_id};
use crate::pricing::PriceTable;
use crate::random;
use crate::state::AppState;
use crate::store::StoreError;

/// Stores the records of a batch that can be stored and returns how many were new, how many
/// were already held and how many were rejected. Fails only when the store does; then
/// nothing in the batch was stored.
///
/// The alerts the new calls raise are written in the same transaction, then memory (spend,
/// budgets, reservations, the estimator) is brought in step.
pub async fn ingest(
    state: &AppState,
    delivery: impl Into<Delivery>,
) -> Result<UsageAck, StoreError> {
    let entries = delivery.into().entries;
    if entries.is_empty() {
        return Ok(UsageAck {
            accepted: 0,
            duplicates: 0,
            rejected: 0,
        });
    }

    let _writes = state.write_lock().await;
    state.memory_mut().budgets.turn(state.now_ms());
    let Built {
        rows,
        samples,
        leases,
        rejected,
    } = build_rows(state, entries);
    let planner = state.clone();
    let (rows, new, alerts) = state
        .blocking(move |store| {
            let mut alerts = Vec::new();
            let new = store.record_usage(&rows, &mut |new| {
                alerts = plan_alerts(&planner, &rows, new);
                alerts.clone()
            })?;
            Ok((rows, new, alerts))
        })
        .await?;

    let mut memory = state.memory_mut();
    for rejected in &rejected {
        memory.settle(&rejected.request_id);
    }
    let mut accepted: u32 = 0;
    for (((row, new), sample), lease) in rows.iter().zip(new).zip(samples).zip(leases) {
        memory.settle(&row.request_id);
        if !new {
            continue;
        }
        if let Some(lease) = lease {
            memory.charge_lease(&lease.id, lease.pico);
        }
        accepted = accepted.saturating_add(1);
        memory.spend.add_call(row);
        if let Some(call) = call_cost(row) {
            memory.budgets.add_call(&call);
        }
        if let (Some(team_id), Some(sample)) = (&row.team_id, sample) {
            let model = row.request_model.as_deref().or(row.model.as_deref());
            memory.estimator.learn(team_id, model, sample);
        }
        warn_unattributed(row);
    }
    let alerts_written = !alerts.is_empty();
    for alert in &alerts {
        memory.alerted.insert(alert.once_key());
    }
    drop(memory);
    state.notify_settled();
    if alerts_written {
        state.notify_alerts();
    }

    let duplicates = count(rows.len()).saturating_sub(accepted);
    let rejected = count(rejected.len());
    tracing::debug!(accepted, duplicates, rejected, "usage batch stored");
    Ok(UsageAck {
        accepted,
        duplicates,
        rejected,
    })
}

/// A stored call as budgets count it; `None` without a team or a cost.
fn call_cost(row: &LedgerRow) -> Option<CallCost> {
    let team_id = row.team_id.clone()?;
    let cost_pico = i128::from(row.cost_pico.filter(|cost| *cost > 0)?);
    Some(CallCost {
        team_id,
        project: row.project.clone(),
        key_id: row.key_id.clone(),
        started_at_ms: i64::try_from(row.started_at_ms).unwrap_or(i64::MAX),
        cost_pico,
    })
}

/// The alerts the new calls among `rows` raise, from the budgets in memory (not yet moved
/// by these calls: writers are serialized).
fn plan_alerts(state: &AppState, rows: &[LedgerRow], new: &[bool]) -> Vec<NewAlert> {
    let calls: Vec<CallCost> = rows
        .iter()
        .zip(new)
        .filter(|(_, new)| **new)
        .filter_map(|(row, _)| call_cost(row))
        .collect();
    if calls.is_empty() {
        return Vec::new();
    }
    let memory = state.memory();
    let crossings = memory.budgets.preview(&calls);
    if crossings.is_empty() {
        return Vec::new();
    }
    let names = |team_id: &str, key_id: Option<&str>| {
        let team = memory
            .registry
            .team(team_id)
            .map_or_else(|| team_id.to_owned(), |team| team.name.clone());
        let key = key_id
            .and_then(|id| memory.registry.key(id))
            .map(|key| key.name.clone());
        (team, key)
    };
    let mut id = || match random::id("alt") {
        Ok(id) => Some(id),
        Err(error) => {
            tracing::error!(%error, "cannot make an alert id; the alert is not written");
            None
        }
    };
    let now_ms = state.now_ms();
    alerts::plan(
        &memory.budgets,
        &crossings,
        now_ms,
        &timestamp_of_ms(now_ms),
        &names,
        &mut id,
    )
    .into_iter()
    .filter(|alert| !memory.alerted.contains(&alert.once_key()))
    .collect()
}

/// Ledger rows for the entries that can be stored, attributed through the keys in memory,
/// with what the estimator can learn from each, and the entries rejected (each logged).
///
/// A record admitted under a lease comes with what the lease charged it, which is also its
/// estimate. (A rejected record's charge stays held until an hour after its lease ends.)
fn build_rows(state: &AppState, entries: Vec<Result<trimio_wire::UsageRecord, Rejected>>) -> Built {
    let memory = state.memory();
    let received_at_ms = state.now_ms();
    let mut rows = Vec::with_capacity(entries.len());
    let mut samples = Vec::with_capacity(entries.len());
    let mut leases = Vec::with_capacity(entries.len());
    let mut rejected = Vec::new();
    for (index, entry) in entries.into_iter().enumerate() {
        let mut lease = None;
        let built = entry.and_then(|mut record| {
            lease = record.lease.take();
            let request_id = record.request_id.clone();
            let key = memory.registry.key_by_hash(&record.key_hash);
            LedgerRow::build(record, key, &memory.prices, received_at_ms)
                .map_err(|error| Rejected { request_id, error })
        });
        match built {
            Ok(mut row) => {
                let reserved = match &lease {
                    Some(lease) => Some(i128::from(lease.pico)),
                    None => memory.reservations.estimate(&row.request_id),
                };
                row.reserved_pico = reserved.map(|pico| i64::try_from(pico).unwrap_or(i64::MAX));
                samples.push(sample(&row, &memory.prices));
                rows.push(row);
                leases.push(lease);
            }
            Err(refused) => {
                tracing::error!(
                    index,
                    request_id = %loggable_id(&refused.request_id),
                    reason = %refused.error,
                    "usage record rejected and not stored; the rest of its batch is"
                );
                rejected.push(refused);
            }
        }
    }
    Built {
        rows,
        samples,
        leases,
        rejected,
    }
}

/// A batch's records made into rows, each with what it teaches the estimator and the lease
/// charge it came with, and the records that could not be.
struct Built {
    rows: Vec<LedgerRow>,
    samples: Vec<Option<Sample>>,
    leases: Vec<Option<LeaseCharge>>,
    rejected: Vec<Rejected>,
}

/// What a priced, complete call teaches the estimator.
fn sample(row: &LedgerRow, prices: &PriceTable) -> Option<Sample> {
    if row.cost_pico.is_none_or(|cost| cost <= 0) || row.flags.estimated || row.status >= 300 {
        return None;
    }
    let (_, priced) = prices.lookup(row.model.as_deref()?)?;
    Sample::of(
        &priced.rates,
        &row.usage,
        row.service_tier.as_deref(),
        row.inference_geo.as_deref(),
        row.request_bytes,
    )
}

/// Says what an operator may want to fix about a call just stored.
fn warn_unattributed(row: &LedgerRow) {
    if row.team_id.is_none() {
        let prefix: String = row.key_hash.chars().take(12).collect();
        tracing::warn!(
            request_id = %row.request_id,
            key.hash_prefix = %loggable_id(&prefix),
            "usage for an unknown key stored without a team"
        );
    }
    if row.unpriced {
        tracing::warn!(
            request_id = %row.request_id,
            model = row.model.as_deref().unwrap_or_default(),
            "no price for the model; call stored unpriced"
        );
    }
}

fn count(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use trimio_wire::{UsageBatch, UsageRecord};

    use super::*;
    use crate::calendar::Period;
    use crate::keys;
    use crate::ledger::record_for_tests;
    use crate::secret::Secret;
    use crate::state::Tokens;
    use crate::store::{SqliteStore, Store};
    use crate::teams::Team;

    fn tokens() -> Tokens {
        Tokens {
            admin: Secret::new("admin".into()),
            filter: None,
        }
    }

    fn defaults() -> BTreeMap<String, (crate::pricing::PriceEntry, crate::pricing::Rates)> {
        crate::pricing::shipped_defaults().unwrap()
    }

    /// A store holding one team with one key; returns the key's hash.
    fn seeded(store: &dyn Store) -> String {
        let team = Team {
            id: "team_1".into(),
            name: "payments".into(),
            created_at: "2025-12-01T00:00:00Z".into(),
        };
        let budget = crate::budgets::budget_for_tests(
            "bud_1",
            "team_1",
            crate::budgets::Scope::Team,
            10_000_000_000_000,
        );
        store.insert_team(&team, Some(&budget)).unwrap();
        let issued = keys::issue("team_1", "laptop", None, "2025-12-01T00:00:00Z").unwrap();
        store.insert_key(&issued.key).unwrap();
        issued.key.key_hash
    }

    /// A record of the sonnet worked example, started now so it counts in this period.
    fn record(request_id: &str, key_hash: &str) -> UsageRecord {
        let mut record = record_for_tests(request_id, key_hash);
        record.started_at_ms = u64::try_from(crate::calendar::now_ms()).unwrap();
        record
    }

    fn spend(state: &AppState) -> i128 {
        state
            .memory()
            .spend
            .of("team_1", Period::current())
            .cost_pico
    }

    #[tokio::test]
    async fn the_same_batch_twice_counts_once() {
        let store = Arc::new(SqliteStore::in_memory().unwrap());
        let hash = seeded(store.as_ref());
        let state = AppState::load(store, defaults(), tokens()).unwrap();
        let batch = UsageBatch {
            records: vec![record("r1", &hash), record("r2", &hash)],
        };

        let first = ingest(&state, batch.clone()).await.unwrap();
        assert_eq!(
            first,
            UsageAck {
                accepted: 2,
                duplicates: 0,
                rejected: 0
            }
        );
        assert_eq!(spend(&state), 2 * 18_369_000_000);

        let again = ingest(&state, batch).await.unwrap();
        assert_eq!(
            again,
            UsageAck {
                accepted: 0,
                duplicates: 2,
                rejected: 0
            }
        );
        assert_eq!(spend(&state), 2 * 18_369_000_000);
    }

    #[tokio::test]
    async fn unknown_keys_are_stored_without_a_team() {
        let store = Arc::new(SqliteStore::in_memory().unwrap());
        seeded(store.as_ref());
        let state = AppState::load(store, defaults(), tokens()).unwrap();

        let batch = UsageBatch {
            records: vec![record("r1", "not-a-known-hash")],
        };
        assert_eq!(ingest(&state, batch).await.unwrap().accepted, 1);
        let row = state
            .blocking(|store| store.call("r1"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.team_id, None);
        assert_eq!(spend(&state), 0);
    }

    #[tokio::test]
    async fn a_bad_record_is_rejected_alone_and_its_reservation_released() {
        let store = Arc::new(SqliteStore::in_memory().unwrap());
        let hash = seeded(store.as_ref());
        let state = AppState::load(store, defaults(), tokens()).unwrap();
        let opened = state.memory_mut().reserve(
            "r2",
            "team_1",
            vec!["bud_1".into()],
            5,
            std::time::Instant::now(),
        );
        assert!(opened);
        assert_eq!(state.memory().budgets.get("bud_1").unwrap().held_pico, 5);

        let mut bad = record("r2", &hash);
        bad.usage.input = u64::MAX;
        let batch = UsageBatch {
            records: vec![record("r1", &hash), bad, record("r3", &hash)],
        };
        let ack = ingest(&state, batch).await.unwrap();
        assert_eq!(
            ack,
            UsageAck {
                accepted: 2,
                duplicates: 0,
                rejected: 1
            }
        );
        for (request_id, stored) in [("r1", true), ("r2", false), ("r3", true)] {
            let id = request_id.to_owned();
            let row = state.blocking(move |store| store.call(&id)).await.unwrap();
            assert_eq!(row.is_some(), stored, "{request_id}");
        }
        assert_eq!(spend(&state), 2 * 18_369_000_000);
        assert!(state.memory().reservations.is_empty());
    }

    #[tokio::test]
    async fn acknowledged_records_and_spend_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trimio.db");

        let store = Arc::new(SqliteStore::open(&path).unwrap());
        let hash = seeded(store.as_ref());
        let state = AppState::load(store, defaults(), tokens()).unwrap();
        let mut unpriced = record("r3", &hash);
        unpriced.model = Some("mystery-model".into());
        let batch = UsageBatch {
            records: vec![record("r1", &hash), record("r2", &hash), unpriced],
        };
        assert_eq!(ingest(&state, batch).await.unwrap().accepted, 3);
        let before = spend(&state);
        drop(state);

        let reopened = Arc::new(SqliteStore::open(&path).unwrap());
        let state = AppState::load(reopened, defaults(), tokens()).unwrap();
        assert_eq!(spend(&state), before);
        assert_eq!(
            state
                .memory()
                .spend
                .of("team_1", Period::current())
                .charged_calls,
            2
        );
        for request_id in ["r1", "r2", "r3"] {
            let id = request_id.to_owned();
            let row = state.blocking(move |store| store.call(&id)).await.unwrap();
            assert!(row.is_some(), "{request_id} was lost");
        }
        let r3 = state
            .blocking(|store| store.call("r3"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((r3.cost_pico, r3.unpriced), (None, true));
    }

    #[tokio::test]
    async fn free_calls_leave_the_mean_alone_before_and_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trimio.db");
        let store = Arc::new(SqliteStore::open(&path).unwrap());
        let hash = seeded(store.as_ref());
        let state = AppState::load(store, defaults(), tokens()).unwrap();

        let mut records: Vec<UsageRecord> = (0..3)
            .map(|n| {
                let mut free = record(&format!("count{n}"), &hash);
                free.family = trimio_wire::ApiFamily::AnthropicCountTokens;
                free
            })
            .collect();
        records.push(record("r1", &hash));
        ingest(&state, UsageBatch { records }).await.unwrap();
        let mean = |state: &AppState| {
            state
                .memory()
                .spend
                .of("team_1", Period::current())
                .mean_cost()
        };
        assert_eq!(mean(&state), 18_369_000_000);
        drop(state);

        let reopened = Arc::new(SqliteStore::open(&path).unwrap());
        let state = AppState::load(reopened, defaults(), tokens()).unwrap();
        assert_eq!(mean(&state), 18_369_000_000);
    }

    #[tokio::test]
    async fn real_or_oversized_money_in_the_database_never_stops_a_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trimio.db");
        let store = Arc::new(SqliteStore::open(&path).unwrap());
        let hash = seeded(store.as_ref());
        let state = AppState::load(store, defaults(), tokens()).unwrap();
        let batch = UsageBatch {
            records: vec![record("r1", &hash)],
        };
        ingest(&state, batch).await.unwrap();
        drop(state);

        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "UPDATE rollups SET cost_pico = 1.5e19; UPDATE budgets SET amount_pico = 1e30;",
        )
        .unwrap();
        drop(conn);

        let reopened = Arc::new(SqliteStore::open(&path).unwrap());
        let state = AppState::load(reopened, defaults(), tokens()).unwrap();
        let spend = state.memory().spend.of("team_1", Period::current());
        assert!(spend.cost_pico > 0 && spend.cost_pico <= 100_000 * 1_000_000_000_000);
        let memory = state.memory();
        let budget = memory.budgets.team_budget("team_1").unwrap();
        assert_eq!(budget.budget.amount_pico, 1_000_000_000 * 1_000_000_000_000);
    }

    #[tokio::test]
    async fn a_rejected_record_is_logged_at_error_with_a_safe_id_and_the_reason() {
        let store = Arc::new(SqliteStore::in_memory().unwrap());
        let hash = seeded(store.as_ref());
        let state = AppState::load(store, defaults(), tokens()).unwrap();
        let (log, _guard) = crate::logging::capture();

        let mut forged = record("r1\nERROR forged", &hash);
        forged.usage.output = 0;
        let mut huge = record("r2", &hash);
        huge.usage.cache_write_1h = 100_000_001;
        let batch = UsageBatch {
            records: vec![forged, huge],
        };
        assert_eq!(ingest(&state, batch).await.unwrap().rejected, 2);

        let text = log.text();
        let lines: Vec<&str> = text.lines().filter(|line| line.contains("ERROR")).collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(
            lines[0].contains("request_id=r1?ERROR?forged"),
            "{}",
            lines[0]
        );
        assert!(
            lines[0].contains("request_id must be 1 to 128"),
            "{}",
            lines[0]
        );
        assert!(lines[1].contains("request_id=r2"), "{}", lines[1]);
        assert!(
            lines[1].contains("usage.cache_write_1h is 100000001, above the limit"),
            "{}",
            lines[1]
        );
        assert!(!text.contains("\nERROR forged"), "{text}");
    }
}
