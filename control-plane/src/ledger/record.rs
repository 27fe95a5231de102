//! A usage record checked, attributed and priced: one ledger row.
//!
//! A record is refused only when it is impossible: an id that cannot name a call, a count no
//! call reaches, or a cost no call runs up. Labels that are merely too long are cut and
//! stored. Every bound keeps counts and sums far inside the store's integers.

use thiserror::Error;
use trimio_wire::{ApiFamily, Provider, Usage, UsageFlags, UsageRecord};

use crate::calendar::day_of_ms;
use crate::keys::Key;
use crate::money::{PICO_PER_USD, format_usd};
use crate::pricing::{CostOverflow, PriceTable};

/// Longest request id accepted.
pub const MAX_REQUEST_ID_LEN: usize = 128;
/// Longest project or user kept, in bytes of UTF-8; a longer one is cut at a character
/// boundary.
pub const MAX_LABEL_BYTES: usize = 256;
/// Longest model, requested model, service tier or region kept, in bytes of UTF-8.
pub const MAX_NAME_BYTES: usize = 128;
/// Longest key hash kept (a SHA-256 in hex is 64 characters).
const MAX_KEY_HASH_BYTES: usize = 128;
/// Largest count of any token kind, or of web searches, on one call. The largest context
/// windows hold a few million tokens.
pub const MAX_COUNT: u64 = 100_000_000;
/// Dearest call accepted: 100,000 USD, in pico-dollars.
pub const MAX_CALL_COST_PICO: i128 = 100_000 * PICO_PER_USD;

/// Why a record is impossible. It is not stored; the rest of its batch is.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RecordError {
    #[error("request_id must be 1 to {MAX_REQUEST_ID_LEN} letters, digits, '.', '_', ':' or '-'")]
    RequestId,
    #[error("{field} is {count}, above the limit of {MAX_COUNT} per call")]
    TooLarge { field: &'static str, count: u64 },
    #[error(
        "the call costs {cost_usd} usd at the price of \"{price}\", above the limit of 100000 usd \
         per call"
    )]
    TooCostly { cost_usd: String, price: String },
    #[error("the cost of the call at the price of \"{price}\": {source}")]
    CostOverflow { price: String, source: CostOverflow },
    /// The entry of the batch is not a usage record at all.
    #[error("not a usage record: {0}")]
    Unreadable(String),
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
    /// Pico-dollars, at most [`MAX_CALL_COST_PICO`]; `None` when the model has no price.
    pub cost_pico: Option<i64>,
    pub unpriced: bool,
    pub started_at_ms: u64,
    pub duration_ms: u64,
    /// Milliseconds since the epoch when the control plane received the record.
    pub received_at_ms: i64,
    /// UTC day of `started_at_ms`, `YYYY-MM-DD`: the rollup the call counts in.
    pub day: String,
    /// Pico-dollars admission reserved for the call; `None` when it held no reservation.
    pub reserved_pico: Option<i64>,
    /// Size of the request body the client sent.
    pub request_bytes: u64,
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
        let record = clamp_labels(record);
        let (cost_pico, unpriced) = price(&record, prices)?;
        let (started_at_ms, day) = start(&record, received_at_ms);

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
            started_at_ms,
            duration_ms: record.duration_ms.min(i64::MAX.unsigned_abs()),
            received_at_ms,
            day,
            reserved_pico: None,
            request_bytes: record.request_bytes,
        })
    }
}

/// An id sent by a client (a request id, a key hash) as it may appear in a log line: the
/// characters of a request id kept, any other one shown as `?`, at most
/// [`MAX_REQUEST_ID_LEN`] characters. A line break in it cannot forge a log line.
pub fn loggable_id(request_id: &str) -> String {
    let mut shown: String = request_id
        .chars()
        .take(MAX_REQUEST_ID_LEN)
        .map(|c| if id_char(c) { c } else { '?' })
        .collect();
    if request_id.chars().nth(MAX_REQUEST_ID_LEN).is_some() {
        shown.push_str("...");
    }
    shown
}

fn id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-')
}

/// Refuses what no call can be.
fn check(record: &UsageRecord) -> Result<(), RecordError> {
    let id = &record.request_id;
    if id.is_empty() || id.len() > MAX_REQUEST_ID_LEN || !id.chars().all(id_char) {
        return Err(RecordError::RequestId);
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
    ];
    for (field, count) in counts {
        if count > MAX_COUNT {
            return Err(RecordError::TooLarge { field, count });
        }
    }
    Ok(())
}

/// Cuts every label longer than the ledger keeps.
fn clamp_labels(mut record: UsageRecord) -> UsageRecord {
    let id = record.request_id.clone();
    let cut = |field: &'static str, value: Option<String>, max: usize| {
        value.map(|value| clamp(&id, field, value, max))
    };
    record.project = cut("project", record.project.take(), MAX_LABEL_BYTES);
    record.user = cut("user", record.user.take(), MAX_LABEL_BYTES);
    record.model = cut("model", record.model.take(), MAX_NAME_BYTES);
    record.request_model = cut("request_model", record.request_model.take(), MAX_NAME_BYTES);
    record.service_tier = cut("service_tier", record.service_tier.take(), MAX_NAME_BYTES);
    record.inference_geo = cut("inference_geo", record.inference_geo.take(), MAX_NAME_BYTES);
    record.key_hash = clamp(&id, "key_hash", record.key_hash, MAX_KEY_HASH_BYTES);
    record
}

/// `value` cut to at most `max` bytes, at a character boundary.
fn clamp(request_id: &str, field: &'static str, mut value: String, max: usize) -> String {
    if value.len() <= max {
        return value;
    }
    let mut end = max;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    tracing::warn!(
        request_id,
        field,
        bytes = value.len(),
        "{field} is longer than {max} bytes; stored cut to its first {end}"
    );
    value.truncate(end);
    value
}

/// When the call started, and its day. A start outside the calendar (a broken gateway
/// clock) is replaced by the time the record arrived, so the call still counts somewhere.
fn start(record: &UsageRecord, received_at_ms: i64) -> (u64, String) {
    let storable = i64::try_from(record.started_at_ms).is_ok();
    if let Some(day) = storable
        .then(|| day_of_ms(record.started_at_ms).ok())
        .flatten()
    {
        return (record.started_at_ms, day);
    }

    let received = u64::try_from(received_at_ms).unwrap_or(0);
    tracing::warn!(
        request_id = %record.request_id,
        started_at_ms = record.started_at_ms,
        "started_at_ms is not a date; the call is dated when it was received"
    );
    (received, day_of_ms(received).unwrap_or_default())
}

/// The cost of a record and whether it is unpriced.
///
/// Families that are never billed, and calls whose response named no model, cost exactly 0.
/// A model with no price is unpriced: cost `None`, never zero.
fn price(record: &UsageRecord, prices: &PriceTable) -> Result<(Option<i64>, bool), RecordError> {
    let model = match &record.model {
        Some(model) if record.family.is_billable() => model,
        _ => return Ok((Some(0), false)),
    };
    let Some((key, priced)) = prices.lookup(model) else {
        return Ok((None, true));
    };

    let tier = record.service_tier.as_deref();
    let geo = record.inference_geo.as_deref();
    let cost = priced
        .rates
        .cost(&record.usage, tier, geo)
        .map_err(|source| RecordError::CostOverflow {
            price: key.to_owned(),
            source,
        })?;
    match i64::try_from(cost) {
        Ok(fits) if cost <= MAX_CALL_COST_PICO => Ok((Some(fits), false)),
        _ => Err(RecordError::TooCostly {
            cost_usd: format_usd(cost),
            price: key.to_owned(),
        }),
    }
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
            request_bytes: 64_690,
            lease: None,
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
    fn refuses_impossible_records() {
        let prices = sonnet_prices();
        let build = |record| LedgerRow::build(record, None, &prices, 7);

        let too_long = "r".repeat(MAX_REQUEST_ID_LEN + 1);
        for bad in ["", "r 1", "r/1", "r1\n", "é", too_long.as_str()] {
            assert_eq!(
                build(record(bad, "h")),
                Err(RecordError::RequestId),
                "{bad:?}"
            );
        }
        let longest = "r".repeat(MAX_REQUEST_ID_LEN);
        for good in ["0123456789abcdef", "a.b_c:d-E", longest.as_str()] {
            assert!(build(record(good, "h")).is_ok(), "{good}");
        }

        let mut huge = record("r1", "h");
        huge.usage.reasoning = MAX_COUNT + 1;
        let error = build(huge).unwrap_err();
        assert_eq!(
            error.to_string(),
            "usage.reasoning is 100000001, above the limit of 100000000 per call"
        );
        let mut most = record("r1", "h");
        most.usage.output = MAX_COUNT;
        assert!(build(most).is_ok());
    }

    #[test]
    fn refuses_a_call_dearer_than_the_limit() {
        let entry: PriceEntry = serde_json::from_str(r#"{"input":"10000","output":"0"}"#).unwrap();
        let rates = Rates::compile(&entry).unwrap();
        let prices = PriceTable::with_defaults(BTreeMap::from([(
            "claude-sonnet-4".to_owned(),
            (entry, rates),
        )]));
        let build = |input| {
            let mut sent = record("r1", "h");
            sent.usage = Usage {
                input,
                ..Usage::default()
            };
            LedgerRow::build(sent, None, &prices, 7)
        };

        assert_eq!(
            build(10_000_000).map(|row| row.cost_pico),
            Ok(Some(100_000 * 1_000_000_000_000))
        );
        assert_eq!(
            build(10_000_001).unwrap_err().to_string(),
            "the call costs 100000.01 usd at the price of \"claude-sonnet-4\", above the limit \
             of 100000 usd per call"
        );
    }

    #[test]
    fn cuts_long_labels_at_a_character_boundary() {
        let mut sent = record("r1", &"h".repeat(200));
        sent.user = Some(format!("{}{}", "u".repeat(255), "é"));
        sent.project = Some("p".repeat(300));
        // 17 bytes, then two bytes a character: the cut falls inside one.
        sent.model = Some(format!("claude-sonnet-4-x{}", "ü".repeat(100)));
        sent.request_model = Some("m".repeat(128));
        sent.inference_geo = Some("g".repeat(1000));
        let row = LedgerRow::build(sent, None, &sonnet_prices(), 7).unwrap();

        assert_eq!(row.user, Some("u".repeat(255)), "é would end past byte 256");
        assert_eq!(row.project, Some("p".repeat(256)));
        let model = row.model.unwrap();
        assert_eq!(model.len(), 127);
        assert!(model.starts_with("claude-sonnet-4-xü"));
        assert_eq!(row.request_model, Some("m".repeat(128)));
        assert_eq!(row.inference_geo, Some("g".repeat(128)));
        assert_eq!(row.key_hash.len(), 128);
        assert_eq!(row.cost_pico, Some(18_369_000_000), "priced after the cut");
    }

    #[test]
    fn a_start_outside_the_calendar_is_dated_on_arrival() {
        let mut sent = record("r1", "h");
        sent.started_at_ms = u64::MAX;
        sent.duration_ms = u64::MAX;
        let row = LedgerRow::build(sent, None, &sonnet_prices(), 1_764_864_000_000).unwrap();
        assert_eq!(
            (row.started_at_ms, row.day.as_str()),
            (1_764_864_000_000, "2025-12-04")
        );
        assert_eq!(row.duration_ms, i64::MAX.unsigned_abs());
    }

    #[test]
    fn ids_are_logged_without_what_could_forge_a_line() {
        assert_eq!(loggable_id("r1"), "r1");
        assert_eq!(loggable_id("r1\nERROR x"), "r1?ERROR?x");
        let long = loggable_id(&"r".repeat(500));
        assert_eq!(long, format!("{}...", "r".repeat(MAX_REQUEST_ID_LEN)));
    }
}
