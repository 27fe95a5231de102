//! Ingestion of a usage batch: check, attribute and price every record, store the batch in
//! one transaction, then bring memory in step.
//!
//! A request id already held is ignored, so a batch retried after a lost acknowledgement
//! never counts twice. The acknowledgement is sent only after the commit.

use thiserror::Error;
use trimio_wire::{UsageAck, UsageBatch};

use crate::calendar::now_ms;
use crate::ledger::record::{LedgerRow, RecordError};
use crate::state::AppState;
use crate::store::StoreError;

/// Why a batch was not stored.
#[derive(Debug, Error)]
pub enum IngestError {
    /// One record cannot be stored; nothing in the batch was.
    #[error("record {index} (request_id \"{request_id}\"): {source}")]
    Record {
        index: usize,
        request_id: String,
        source: RecordError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Stores a batch and returns how many records were new and how many were already held.
pub async fn ingest(state: &AppState, batch: UsageBatch) -> Result<UsageAck, IngestError> {
    if batch.records.is_empty() {
        return Ok(UsageAck {
            accepted: 0,
            duplicates: 0,
        });
    }

    let _writes = state.write_lock().await;
    let rows = build_rows(state, batch)?;
    let (rows, new) = state
        .blocking(move |store| {
            let new = store.record_usage(&rows)?;
            Ok((rows, new))
        })
        .await?;

    let mut memory = state.memory_mut();
    let mut accepted: u32 = 0;
    for (row, new) in rows.iter().zip(new) {
        memory.reservations.settle(&row.request_id);
        if !new {
            continue;
        }
        accepted += 1;
        memory.spend.add_call(row);
        if row.team_id.is_none() {
            tracing::warn!(
                request_id = %row.request_id,
                key.hash_prefix = %row.key_hash.get(..12).unwrap_or(&row.key_hash),
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
    let duplicates = u32::try_from(rows.len())
        .unwrap_or(u32::MAX)
        .saturating_sub(accepted);
    tracing::debug!(accepted, duplicates, "usage batch stored");
    Ok(UsageAck {
        accepted,
        duplicates,
    })
}

/// Ledger rows for a batch, attributed through the keys in memory.
fn build_rows(state: &AppState, batch: UsageBatch) -> Result<Vec<LedgerRow>, IngestError> {
    let memory = state.memory();
    let received_at_ms = now_ms();
    batch
        .records
        .into_iter()
        .enumerate()
        .map(|(index, record)| {
            let request_id = record.request_id.chars().take(128).collect();
            let key = memory.registry.key_by_hash(&record.key_hash);
            LedgerRow::build(record, key, &memory.prices, received_at_ms).map_err(|source| {
                IngestError::Record {
                    index,
                    request_id,
                    source,
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use trimio_wire::UsageRecord;

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
            budget_pico: Some(10_000_000_000_000),
            created_at: "2025-12-01T00:00:00Z".into(),
        };
        store.insert_team(&team).unwrap();
        let issued = keys::issue("team_1", "laptop", None, "2025-12-01T00:00:00Z").unwrap();
        store.insert_key(&issued.key).unwrap();
        issued.key.key_hash
    }

    /// A record of the sonnet worked example, started now so it counts in this period.
    fn record(request_id: &str, key_hash: &str) -> UsageRecord {
        let mut record = record_for_tests(request_id, key_hash);
        record.started_at_ms = u64::try_from(now_ms()).unwrap();
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
                duplicates: 0
            }
        );
        assert_eq!(spend(&state), 2 * 18_369_000_000);

        let again = ingest(&state, batch).await.unwrap();
        assert_eq!(
            again,
            UsageAck {
                accepted: 0,
                duplicates: 2
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
    async fn a_bad_record_refuses_the_whole_batch() {
        let store = Arc::new(SqliteStore::in_memory().unwrap());
        let hash = seeded(store.as_ref());
        let state = AppState::load(store, defaults(), tokens()).unwrap();

        let mut bad = record("r2", &hash);
        bad.usage.input = u64::MAX;
        let batch = UsageBatch {
            records: vec![record("r1", &hash), bad],
        };
        let error = ingest(&state, batch).await.unwrap_err();
        assert!(
            matches!(error, IngestError::Record { index: 1, .. }),
            "{error}"
        );
        assert_eq!(
            state.blocking(|store| store.call("r1")).await.unwrap(),
            None
        );
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
                .priced_calls,
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
}
