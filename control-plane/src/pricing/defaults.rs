//! The prices shipped with the control plane, read from `prices/defaults.json` at start.
//!
//! They fill in every model the store has no price for. Each entry carries the date it took
//! effect and the provider page it was read from, so an operator can check it.

use std::collections::BTreeMap;

use thiserror::Error;

use crate::pricing::entry::{PriceEntry, PriceError, validate_model};
use crate::pricing::rates::Rates;

const SHIPPED: &str = include_str!("../../prices/defaults.json");

/// The shipped defaults cannot be used; the build itself is broken.
#[derive(Debug, Error)]
pub enum DefaultsError {
    #[error("shipped price defaults are not valid json: {0}")]
    Json(#[from] serde_json::Error),
    #[error("shipped price default for \"{model}\" is invalid: {source}")]
    Entry { model: String, source: PriceError },
}

/// Reads and compiles the shipped defaults.
pub fn shipped_defaults() -> Result<BTreeMap<String, (PriceEntry, Rates)>, DefaultsError> {
    parse(SHIPPED)
}

fn parse(json: &str) -> Result<BTreeMap<String, (PriceEntry, Rates)>, DefaultsError> {
    let entries: BTreeMap<String, PriceEntry> = serde_json::from_str(json)?;
    entries
        .into_iter()
        .map(|(model, entry)| {
            let compiled = validate_model(&model).and_then(|()| Rates::compile(&entry));
            match compiled {
                Ok(rates) => Ok((model, (entry, rates))),
                Err(source) => Err(DefaultsError::Entry { model, source }),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use trimio_wire::Usage;

    use super::*;
    use crate::money::format_usd;
    use crate::pricing::PriceTable;

    #[test]
    fn every_shipped_entry_compiles_with_a_date_and_a_source() {
        let defaults = shipped_defaults().unwrap();
        for (model, (entry, _)) in &defaults {
            assert!(
                entry.effective_date.is_some(),
                "{model} has no effective_date"
            );
            let source = entry.source.as_deref().unwrap_or_default();
            assert!(source.starts_with("https://"), "{model} has no source");
        }
    }

    #[test]
    fn the_current_lineups_are_priced() {
        let table = PriceTable::with_defaults(shipped_defaults().unwrap());
        let expected = [
            ("claude-opus-4-5-20251101", "claude-opus-4-5"),
            ("claude-opus-4-1-20250805", "claude-opus-4-1"),
            ("claude-opus-4-20250514", "claude-opus-4"),
            ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
            ("claude-sonnet-4-20250514", "claude-sonnet-4"),
            ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
            ("claude-3-5-haiku-20241022", "claude-3-5-haiku"),
            ("gpt-5-2025-08-07", "gpt-5"),
            ("gpt-5-mini-2025-08-07", "gpt-5-mini"),
            ("gpt-5-nano", "gpt-5-nano"),
            ("gpt-5-codex", "gpt-5-codex"),
            ("gpt-4.1-2025-04-14", "gpt-4.1"),
            ("gpt-4.1-mini-2025-04-14", "gpt-4.1-mini"),
            ("gpt-4.1-nano", "gpt-4.1-nano"),
            ("gpt-4o-2024-08-06", "gpt-4o"),
            ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
            ("o3-2025-04-16", "o3"),
            ("o4-mini-2025-04-16", "o4-mini"),
            ("gemini-2.5-pro", "gemini-2.5-pro"),
            ("gemini-2.5-flash", "gemini-2.5-flash"),
            ("gemini-2.5-flash-lite", "gemini-2.5-flash-lite"),
        ];
        for (model, key) in expected {
            assert_eq!(
                table.lookup(model).map(|(found, _)| found),
                Some(key),
                "{model}"
            );
        }
    }

    #[test]
    fn shipped_sonnet_matches_the_worked_example() {
        let table = PriceTable::with_defaults(shipped_defaults().unwrap());
        let (_, sonnet) = table.lookup("claude-sonnet-4-5-20250929").unwrap();
        let usage = Usage {
            input: 3,
            output: 412,
            cache_read: 15000,
            cache_write_5m: 2048,
            ..Usage::default()
        };
        let cost = sonnet.rates.cost(&usage, None, None).unwrap();
        assert_eq!(format_usd(cost), "0.018369");
    }

    #[test]
    fn a_broken_entry_names_its_model() {
        let error = parse(r#"{"m":{"input":"x","output":"1"}}"#)
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("shipped price default for \"m\" is invalid: input:"),
            "{error}"
        );
    }
}
