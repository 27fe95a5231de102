//! A usage record checked, attributed and priced: one ledger row.

use thiserror::Error;
use trimio_wire::{ApiFamily, Provider, Usage, UsageFlags, UsageRecord};

use crate::calendar::{CalendarError, day_of_ms};
use crate::keys::Key;
use crate::pricing::PriceTable;

/// Longest request id accepted.
const MAX_REQUEST_ID_LEN: usize = 128;
/// Longest project, user, model, tier or region accepted.
const MAX_LABEL_LEN: usize = 256;
/// Largest token or search count accepted on one call (a thousand trillion). Keeps every
/// count and sum inside the store's 64-bit integers.
const MAX_COUNT: u64 = 1_000_000_000_000_000;

/// A record that cannot be stored as sent. The batch is refused so the sender sees it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RecordError {
    #[error("request_id must be 1 to {MAX_REQUEST_ID_LEN} characters")]
    RequestId,
    #[error("key_hash must be 1 to 128 characters")]
    KeyHash,
    #[error("{0} is longer than {MAX_LABEL_LEN} characters")]
    TooLong(&'static str),
    #[error("{0} is larger than {MAX_COUNT}")]
    TooLarge(&'static str),
    #[error("started_at_ms: {0}")]
    StartedAt(CalendarError),
}

/// One call as the ledger keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRow {
    pub request_id: String,
    /// Kept so a call whose key was unknown can be attributed later.
    pub key_hash: String,
    /// The team of the key whose hash the record carries; `None` when no key matches.
    pub team_id: Option<String>,
    pub key_id: Option<String>,
    pub project: Option<String>,
    pub user: Option<String>,
    pub provider: Provider,
    pub family: ApiFamily,
    pub model: Option<String>,
    pub request_model: Option<String>,
    pub usage: Usage,
    pub service_tier: Option<String>,
    pub inference_geo: Option<String>,
    pub status: u16,
    pub streamed: bool,
    pub flags: UsageFlags,
    /// Pico-dollars; `None` when the model has no price.
    pub cost_pico: Option<i64>,
    pub unpriced: bool,
    pub started_at_ms: u64,
    pub duration_ms: u64,
    /// Milliseconds since the epoch when the control plane received the record.
    pub received_at_ms: i64,
    /// UTC day of `started_at_ms`, `YYYY-MM-DD`: the rollup the call counts in.
    pub day: String,
}

impl LedgerRow {
    /// Checks, attributes and prices one record.
    ///
    /// The team charged is the team of `key` (found from the record's key hash), never
    /// anything the record claims. The key's project wins over the record's.
    pub fn build(
        record: UsageRecord,
        key: Option<&Key>,
        prices: &PriceTable,
        received_at_ms: i64,
    ) -> Result<LedgerRow, RecordError> {
        check(&record)?;
        let day = day_of_ms(record.started_at_ms).map_err(RecordError::StartedAt)?;
        let (cost_pico, unpriced) = price(&record, prices);

        let project = key
            .and_then(|key| key.project.clone())
            .or_else(|| record.project.filter(|project| !project.is_empty()));
        Ok(LedgerRow {
            request_id: record.request_id,
            key_hash: record.key_hash,
            team_id: key.map(|key| key.team_id.clone()),
            key_id: key.map(|key| key.id.clone()),
            project,
            user: record.user.filter(|user| !user.is_empty()),
            provider: record.provider,
            family: record.family,
            model: record.model,
            request_model: record.request_model,
            usage: record.usage,
            service_tier: record.service_tier,
            inference_geo: record.inference_geo,
            status: record.status,
            streamed: record.streamed,
            flags: record.flags,
            cost_pico,
            unpriced,
            started_at_ms: record.started_at_ms,
            duration_ms: record.duration_ms,
            received_at_ms,
            day,
        })
    }
}

/// The cost of a record and whether it is unpriced.
///
/// Families that are never billed, and calls whose response named no model, cost exactly 0.
/// A model with no price is unpriced: cost `None`, never zero.
fn price(record: &UsageRecord, prices: &PriceTable) -> (Option<i64>, bool) {
    let model = match &record.model {
        Some(model) if record.family.is_billable() => model,
        _ => return (Some(0), false),
    };
    let Some((key, priced)) = prices.lookup(model) else {
        return (None, true);
    };
    let tier = record.service_tier.as_deref();
    let geo = record.inference_geo.as_deref();
    match priced.rates.cost(&record.usage, tier, geo) {
        Ok(cost) => (Some(cost), false),
        Err(overflow) => {
            tracing::warn!(
                request_id = %record.request_id,
                model = %model,
                price.model = %key,
                "{overflow}; the call is recorded unpriced"
            );
            (None, true)
        }
    }
}

fn check(record: &UsageRecord) -> Result<(), RecordError> {
    if record.request_id.is_empty() || record.request_id.len() > MAX_REQUEST_ID_LEN {
        return Err(RecordError::RequestId);
    }
    if record.key_hash.is_empty() || record.key_hash.len() > 128 {
        return Err(RecordError::KeyHash);
    }

    let labels = [
        ("project", &record.project),
        ("user", &record.user),
        ("model", &record.model),
        ("request_model", &record.request_model),
        ("service_tier", &record.service_tier),
        ("inference_geo", &record.inference_geo),
    ];
    for (field, value) in labels {
        if value
            .as_ref()
            .is_some_and(|value| value.len() > MAX_LABEL_LEN)
        {
            return Err(RecordError::TooLong(field));
        }
    }

    let usage = &record.usage;
    let counts = [
        ("usage.input", usage.input),
        ("usage.output", usage.output),
        ("usage.cache_read", usage.cache_read),
        ("usage.cache_write_5m", usage.cache_write_5m),
        ("usage.cache_write_1h", usage.cache_write_1h),
        ("usage.reasoning", usage.reasoning),
        ("usage.web_search_requests", usage.web_search_requests),
        ("duration_ms", record.duration_ms),
        ("started_at_ms", record.started_at_ms),
    ];
    for (field, count) in counts {
        if count > MAX_COUNT {
            return Err(RecordError::TooLarge(field));
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::pricing::{PriceEntry, Rates};

    /// A clean Anthropic call; tests change what they need.
    pub(crate) fn record(request_id: &str, key_hash: &str) -> UsageRecord {
        UsageRecord {
            request_id: request_id.to_owned(),
            key_hash: key_hash.to_owned(),
            project: None,
            user: None,
            provider: Provider::Anthropic,
            family: ApiFamily::AnthropicMessages,
            model: Some("claude-sonnet-4-5-20250929".to_owned()),
            request_model: Some("claude-sonnet-4-5".to_owned()),
            usage: Usage {
                input: 3,
                output: 412,
                cache_read: 15000,
                cache_write_5m: 2048,
                ..Usage::default()
            },
            service_tier: Some("standard".to_owned()),
            inference_geo: None,
            status: 200,
            streamed: true,
            flags: UsageFlags::default(),
            started_at_ms: 1_764_864_000_000,
            duration_ms: 2100,
        }
    }

    pub(crate) fn sonnet_prices() -> PriceTable {
        let entry: PriceEntry = serde_json::from_str(
            r#"{"input":"3","output":"15","cache_read":"0.30","cache_write_5m":"3.75"}"#,
        )
        .unwrap();
        let rates = Rates::compile(&entry).unwrap();
        PriceTable::with_defaults(BTreeMap::from([(
            "claude-sonnet-4".to_owned(),
            (entry, rates),
        )]))
    }

    fn key(project: Option<&str>) -> Key {
        Key {
            id: "key_1".into(),
            team_id: "team_1".into(),
            name: "laptop".into(),
            project: project.map(str::to_owned),
            key_hash: "h".into(),
            prefix: "tmk_0000".into(),
            created_at: "2025-12-01T00:00:00Z".into(),
            revoked_at: None,
        }
    }

    #[test]
    fn prices_and_attributes_a_call_to_the_keys_team() {
        let mut sent = record("r1", "h");
        sent.project = Some("claimed".into());
        let row = LedgerRow::build(sent.clone(), Some(&key(None)), &sonnet_prices(), 7).unwrap();
        assert_eq!(row.team_id.as_deref(), Some("team_1"));
        assert_eq!(row.project.as_deref(), Some("claimed"));
        assert_eq!(row.cost_pico, Some(18_369_000_000));
        assert!(!row.unpriced);
        assert_eq!(row.day, "2025-12-04");

        let row =
            LedgerRow::build(sent, Some(&key(Some("checkout"))), &sonnet_prices(), 7).unwrap();
        assert_eq!(
            row.project.as_deref(),
            Some("checkout"),
            "the key's project wins"
        );
    }

    #[test]
    fn unknown_models_are_unpriced_never_zero() {
        let mut sent = record("r1", "h");
        sent.model = Some("mystery-1".into());
        let row = LedgerRow::build(sent, None, &sonnet_prices(), 7).unwrap();
        assert_eq!((row.cost_pico, row.unpriced), (None, true));
        assert_eq!(row.team_id, None);
        assert_eq!(row.usage.output, 412, "tokens are kept");
    }

    #[test]
    fn unbilled_families_and_missing_models_cost_zero() {
        let mut count = record("r1", "h");
        count.family = ApiFamily::AnthropicCountTokens;
        count.model = Some("mystery-1".into());
        let row = LedgerRow::build(count, None, &sonnet_prices(), 7).unwrap();
        assert_eq!((row.cost_pico, row.unpriced), (Some(0), false));

        let mut nameless = record("r2", "h");
        nameless.model = None;
        let row = LedgerRow::build(nameless, None, &sonnet_prices(), 7).unwrap();
        assert_eq!((row.cost_pico, row.unpriced), (Some(0), false));
    }

    #[test]
    fn refuses_records_the_store_cannot_hold() {
        let prices = sonnet_prices();
        let build = |record| LedgerRow::build(record, None, &prices, 7);

        assert_eq!(build(record("", "h")), Err(RecordError::RequestId));
        let mut huge = record("r1", "h");
        huge.usage.output = u64::MAX;
        assert_eq!(build(huge), Err(RecordError::TooLarge("usage.output")));
        let mut long = record("r1", "h");
        long.user = Some("u".repeat(300));
        assert_eq!(build(long), Err(RecordError::TooLong("user")));
    }
}
