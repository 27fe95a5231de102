//! One model's price as people write it: decimal strings, USD per million tokens.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::calendar::{CalendarError, parse_date};
use crate::money::DecimalError;

/// Longest model key accepted.
const MAX_MODEL_LEN: usize = 128;
/// Longest source URL accepted.
const MAX_SOURCE_LEN: usize = 2048;

/// A price entry. Every amount is a decimal string in USD per million tokens, except
/// `web_search_per_1k` (USD per 1000 searches) and the multipliers (plain factors).
///
/// Only `input` and `output` are required; see [`crate::pricing::Rates`] for how missing
/// kinds fall back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceEntry {
    pub input: String,
    pub output: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_5m: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_1h: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_search_per_1k: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_context: Option<LongContextEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multipliers: Option<MultiplierEntry>,
    /// `YYYY-MM-DD` from which the price applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effective_date: Option<String>,
    /// Where the price was read (the provider's pricing page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// Prices that replace the base ones for a whole call once its prompt passes a size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LongContextEntry {
    /// Prompt tokens (uncached input plus every cache kind) above which the tier applies.
    pub above_input_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_5m: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_1h: Option<String>,
}

/// Factors on every token price, chosen by what the provider reports for the call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultiplierEntry {
    /// By the reported service tier (`priority`, `flex`, `batch`, ...), matched exactly.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub service_tier: BTreeMap<String, String>,
    /// By the reported inference region (`us`, ...), matched exactly.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inference_geo: BTreeMap<String, String>,
}

/// A price entry or model key that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PriceError {
    /// An amount is not an exact, non-negative decimal.
    #[error("{field}: {source}")]
    Amount { field: String, source: DecimalError },
    /// An amount is larger than any real price; `limit` says the largest accepted.
    #[error("{field}: \"{text}\" is above the limit of {limit}")]
    AboveLimit {
        field: String,
        text: String,
        limit: &'static str,
    },
    #[error("effective_date: {0}")]
    EffectiveDate(CalendarError),
    #[error("source is longer than {MAX_SOURCE_LEN} characters")]
    SourceTooLong,
    /// The model key is empty, too long or holds characters no model name has.
    #[error(
        "model \"{0}\" is not a model name; use 1 to {MAX_MODEL_LEN} letters, digits and . _ - : @"
    )]
    Model(String),
}

impl PriceEntry {
    /// Checks the parts that [`crate::pricing::Rates::compile`] does not read.
    pub(crate) fn check_metadata(&self) -> Result<(), PriceError> {
        if let Some(date) = &self.effective_date {
            parse_date(date).map_err(PriceError::EffectiveDate)?;
        }
        if self
            .source
            .as_ref()
            .is_some_and(|source| source.len() > MAX_SOURCE_LEN)
        {
            return Err(PriceError::SourceTooLong);
        }
        Ok(())
    }
}

/// Model keys are matched as prefixes of the model a response names.
pub fn validate_model(model: &str) -> Result<(), PriceError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '@');
    if model.is_empty() || model.len() > MAX_MODEL_LEN || !model.chars().all(allowed) {
        return Err(PriceError::Model(model.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_shape() {
        let json = r#"{"input":"3","output":"15","cache_read":"0.30","cache_write_5m":"3.75",
            "cache_write_1h":"6","web_search_per_1k":"10",
            "long_context":{"above_input_tokens":200000,"input":"6","output":"22.5",
                "cache_read":"0.6","cache_write_5m":"7.5","cache_write_1h":"12"},
            "multipliers":{"service_tier":{"priority":"1.75","flex":"0.5"},
                "inference_geo":{"us":"1.1"}},
            "effective_date":"2025-11-24","source":"https://example.com/pricing"}"#;
        let entry: PriceEntry = serde_json::from_str(json).unwrap();
        assert_eq!(
            entry.long_context.as_ref().map(|l| l.above_input_tokens),
            Some(200_000)
        );
        assert_eq!(entry.check_metadata(), Ok(()));

        let back = serde_json::to_value(&entry).unwrap();
        assert_eq!(back["multipliers"]["inference_geo"]["us"], "1.1");
    }

    #[test]
    fn refuses_unknown_fields_and_bad_metadata() {
        let unknown = serde_json::from_str::<PriceEntry>(r#"{"input":"1","output":"2","x":"3"}"#);
        assert!(unknown.is_err());

        let entry: PriceEntry =
            serde_json::from_str(r#"{"input":"1","output":"2","effective_date":"2025-1-1"}"#)
                .unwrap();
        assert!(matches!(
            entry.check_metadata(),
            Err(PriceError::EffectiveDate(_))
        ));
    }

    #[test]
    fn model_keys_are_plain_names() {
        assert_eq!(validate_model("claude-sonnet-4-5"), Ok(()));
        assert_eq!(validate_model("gpt-4.1-mini"), Ok(()));
        for bad in ["", "a b", "a/b", "x\n"] {
            assert!(validate_model(bad).is_err(), "{bad:?}");
        }
    }
}
