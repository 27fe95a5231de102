//! The price table in memory: shipped defaults under prices set through the admin API.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::pricing::entry::PriceEntry;
use crate::pricing::rates::Rates;

/// Where an entry of the table comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Shipped with the control plane (`prices/defaults.json`).
    Default,
    /// Set through the admin API and kept in the store; wins over a default.
    Custom,
}

/// One model key's price, as given and compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priced {
    pub entry: PriceEntry,
    pub rates: Rates,
    pub origin: Origin,
}

/// Every price known, by model key.
///
/// A response's model is matched against the keys as prefixes and the longest key wins, so
/// `claude-sonnet-4-5` prices `claude-sonnet-4-5-20250929` even though `claude-sonnet-4`
/// matches too.
#[derive(Debug, Clone, Default)]
pub struct PriceTable {
    defaults: BTreeMap<String, Priced>,
    custom: BTreeMap<String, Priced>,
}

impl PriceTable {
    pub fn with_defaults(defaults: BTreeMap<String, (PriceEntry, Rates)>) -> PriceTable {
        let defaults = defaults
            .into_iter()
            .map(|(model, (entry, rates))| {
                (
                    model,
                    Priced {
                        entry,
                        rates,
                        origin: Origin::Default,
                    },
                )
            })
            .collect();
        PriceTable {
            defaults,
            custom: BTreeMap::new(),
        }
    }

    /// Sets the price of a model key; it wins over any default for the same key.
    pub fn set(&mut self, model: String, entry: PriceEntry, rates: Rates) {
        self.custom.insert(
            model,
            Priced {
                entry,
                rates,
                origin: Origin::Custom,
            },
        );
    }

    /// Removes a price set through the API; a default for the same key applies again.
    pub fn remove(&mut self, model: &str) -> bool {
        self.custom.remove(model).is_some()
    }

    /// The entry of exactly this model key.
    pub fn get(&self, model: &str) -> Option<&Priced> {
        self.custom.get(model).or_else(|| self.defaults.get(model))
    }

    /// The entry whose key is the longest prefix of `model`, with that key.
    pub fn lookup(&self, model: &str) -> Option<(&str, &Priced)> {
        self.custom
            .keys()
            .chain(self.defaults.keys())
            .filter(|key| model.starts_with(key.as_str()))
            .max_by_key(|key| key.len())
            .and_then(|key| self.get(key).map(|priced| (key.as_str(), priced)))
    }

    /// Every model key with the entry that applies to it, in key order.
    pub fn entries(&self) -> Vec<(&str, &Priced)> {
        let mut keys: Vec<&String> = self.custom.keys().chain(self.defaults.keys()).collect();
        keys.sort();
        keys.dedup();
        keys.into_iter()
            .filter_map(|key| self.get(key).map(|priced| (key.as_str(), priced)))
            .collect()
    }

    pub fn custom_len(&self) -> usize {
        self.custom.len()
    }

    pub fn len(&self) -> usize {
        self.entries().len()
    }

    pub fn is_empty(&self) -> bool {
        self.defaults.is_empty() && self.custom.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn priced(input: &str) -> (PriceEntry, Rates) {
        let entry: PriceEntry =
            serde_json::from_str(&format!(r#"{{"input":"{input}","output":"1"}}"#)).unwrap();
        let rates = Rates::compile(&entry).unwrap();
        (entry, rates)
    }

    fn table() -> PriceTable {
        PriceTable::with_defaults(BTreeMap::from([
            ("claude-sonnet-4".to_owned(), priced("3")),
            ("claude-sonnet-4-5".to_owned(), priced("3.5")),
            ("gpt-4.1".to_owned(), priced("2")),
        ]))
    }

    #[test]
    fn the_longest_prefix_wins() {
        let table = table();
        let key = |model| table.lookup(model).map(|(key, _)| key.to_owned());
        assert_eq!(
            key("claude-sonnet-4-5-20250929").as_deref(),
            Some("claude-sonnet-4-5")
        );
        assert_eq!(
            key("claude-sonnet-4-20250514").as_deref(),
            Some("claude-sonnet-4")
        );
        assert_eq!(key("gpt-4.1-2025-04-14").as_deref(), Some("gpt-4.1"));
        assert_eq!(key("gpt-4o"), None);
        assert_eq!(key("Claude-sonnet-4"), None);
    }

    #[test]
    fn prices_set_through_the_api_win_and_defaults_return_when_removed() {
        let mut table = table();
        let (entry, rates) = priced("9");
        table.set("gpt-4.1".into(), entry.clone(), rates);
        table.set("gpt-4.1-mini".into(), entry, rates_of("0.4"));

        let (_, found) = table.lookup("gpt-4.1-2025").unwrap();
        assert_eq!(
            (found.origin, found.entry.input.as_str()),
            (Origin::Custom, "9")
        );
        assert_eq!(
            table.lookup("gpt-4.1-mini-x").map(|(key, _)| key),
            Some("gpt-4.1-mini")
        );
        assert_eq!(table.len(), 4);
        assert_eq!(table.custom_len(), 2);

        assert!(table.remove("gpt-4.1"));
        assert!(!table.remove("gpt-4.1"));
        let (_, found) = table.lookup("gpt-4.1-2025").unwrap();
        assert_eq!(
            (found.origin, found.entry.input.as_str()),
            (Origin::Default, "2")
        );
    }

    fn rates_of(input: &str) -> Rates {
        priced(input).1
    }
}
