//! LiteLLM's `model_prices_and_context_window.json` read into price entries.
//!
//! The map is one JSON object of model names to entries; an entry names its provider
//! (`litellm_provider`), its `mode` and its costs in USD per token as JSON numbers. Only the
//! providers the gateway meters and the chat modes are read. Every amount is converted from
//! its literal text (see [`super::number`]), so no price passes through a float.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::value::RawValue;
use thiserror::Error;

use crate::calendar::today;
use crate::pricing::import::number::{NumberError, shift_decimal};
use crate::pricing::import::{ImportError, MAX_SOURCE_URL_LEN, Skipped};
use crate::pricing::{LongContextEntry, PriceEntry, PriceError, Rates, validate_model};

/// What every imported entry names as its `source`, before an optional URL.
pub const SOURCE: &str = "litellm model_prices_and_context_window.json";

/// LiteLLM writes per-token costs; entries hold USD per million tokens.
const TOKEN_SHIFT: i64 = 6;
/// LiteLLM writes a search's cost; entries hold USD per 1000 searches.
const SEARCH_SHIFT: i64 = 3;
/// Decimal places an entry's amounts hold exactly.
const PLACES: u32 = 6;
const PER_MILLION: &str = "in usd per million tokens";
const PER_1K_SEARCHES: &str = "in usd per 1000 searches";
/// The search context size whose price is read; the gateway does not see which one a call
/// used.
const SEARCH_CONTEXT_SIZE: &str = "search_context_size_medium";
/// The modes priced per token that the gateway meters.
const MODES: [&str; 2] = ["chat", "responses"];

/// LiteLLM's cost fields and the kind of token each prices. The long-context variants are the
/// same names followed by `_above_<N>k_tokens`.
const INPUT: &str = "input_cost_per_token";
const OUTPUT: &str = "output_cost_per_token";
const CACHE_READ: &str = "cache_read_input_token_cost";
const CACHE_WRITE_5M: &str = "cache_creation_input_token_cost";
const CACHE_WRITE_1H: &str = "cache_creation_input_token_cost_above_1hr";
const SEARCH: &str = "search_context_cost_per_query";
const TIERED: [&str; 5] = [INPUT, OUTPUT, CACHE_READ, CACHE_WRITE_5M, CACHE_WRITE_1H];

/// A provider whose entries can be imported, by its `litellm_provider` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Provider {
    Anthropic,
    OpenAi,
    Gemini,
}

impl Provider {
    pub const ALL: [Provider; 3] = [Provider::Anthropic, Provider::OpenAi, Provider::Gemini];

    /// The `litellm_provider` value, also the name used in `providers=`.
    pub fn name(self) -> &'static str {
        match self {
            Provider::Anthropic => "anthropic",
            Provider::OpenAi => "openai",
            Provider::Gemini => "gemini",
        }
    }

    fn named(name: &str) -> Option<Provider> {
        Provider::ALL
            .into_iter()
            .find(|provider| provider.name() == name)
    }

    /// Reads a comma-separated list such as `anthropic,gemini`; `None` is every provider.
    pub fn parse_list(list: Option<&str>) -> Result<BTreeSet<Provider>, ImportError> {
        let Some(list) = list else {
            return Ok(Provider::ALL.into_iter().collect());
        };
        let mut providers = BTreeSet::new();
        for name in list
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
        {
            let provider =
                Provider::named(name).ok_or_else(|| ImportError::Provider(name.to_owned()))?;
            providers.insert(provider);
        }
        if providers.is_empty() {
            return Err(ImportError::NoProvider);
        }
        Ok(providers)
    }
}

/// Which entries an import takes and what it stamps on them.
#[derive(Debug, Clone)]
pub struct Options {
    pub providers: BTreeSet<Provider>,
    /// `YYYY-MM-DD`, the day of the import.
    pub effective_date: String,
    pub source: String,
}

impl Options {
    /// Options for an import made today (UTC) from the providers listed (`None`: all three),
    /// naming in each entry's source the URL the map was downloaded from, if given.
    pub fn new(providers: Option<&str>, source_url: Option<&str>) -> Result<Options, ImportError> {
        let source = match source_url {
            None => SOURCE.to_owned(),
            Some(url) => {
                let printable = url.chars().all(|c| !c.is_whitespace() && !c.is_control());
                if url.is_empty() || url.len() > MAX_SOURCE_URL_LEN || !printable {
                    return Err(ImportError::SourceUrl);
                }
                format!("{SOURCE} ({url})")
            }
        };
        Ok(Options {
            providers: Provider::parse_list(providers)?,
            effective_date: today(),
            source,
        })
    }
}

/// One entry ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Converted {
    pub model: String,
    pub entry: PriceEntry,
    pub rates: Rates,
}

/// What a map yields.
#[derive(Debug, Clone, Default)]
pub struct Conversion {
    /// By model key.
    pub prices: Vec<Converted>,
    /// Entries of the chosen providers that were not imported, by map key.
    pub skipped: Vec<Skipped>,
    /// Entries of providers not imported (not metered here, or left out by `providers`).
    pub other_providers: usize,
}

/// Why one entry of a chosen provider was not imported.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SkipReason {
    #[error("the entry is not a json object")]
    NotAnObject,
    #[error("mode {0} is not chat or responses; only models priced per token are imported")]
    Mode(String),
    #[error("no {0}; an entry needs input and output prices")]
    Missing(&'static str),
    #[error("{field}: {source}")]
    Amount { field: String, source: NumberError },
    #[error("{0} is not a json object")]
    NotAnObjectField(&'static str),
    /// Only one long-context tier is held per model.
    #[error("names long-context prices above several thresholds ({0}); one tier is supported")]
    SeveralTiers(String),
    #[error(transparent)]
    Price(#[from] PriceError),
    #[error("same model as \"{0}\", which is imported instead")]
    Duplicate(String),
}

/// An entry's fields, each as the JSON text it was written with.
type Fields<'a> = BTreeMap<String, &'a RawValue>;

/// Reads a whole map. Only a body that is not a JSON object fails; every entry that cannot be
/// imported is listed in [`Conversion::skipped`] with its reason.
pub fn convert(json: &[u8], options: &Options) -> Result<Conversion, ImportError> {
    let map: BTreeMap<String, &RawValue> =
        serde_json::from_slice(json).map_err(ImportError::NotAMap)?;

    let mut conversion = Conversion::default();
    // Model key → the map key it came from, and the entry.
    let mut chosen: BTreeMap<String, (String, Converted)> = BTreeMap::new();
    for (key, raw) in &map {
        let Ok(fields) = serde_json::from_str::<Fields>(raw.get()) else {
            conversion.skip(key, &SkipReason::NotAnObject);
            continue;
        };
        let Some(provider) = provider(&fields).filter(|p| options.providers.contains(p)) else {
            conversion.other_providers += 1;
            continue;
        };

        match convert_entry(key, provider, &fields, options) {
            Ok(converted) => conversion.keep(&mut chosen, key, converted),
            Err(reason) => conversion.skip(key, &reason),
        }
    }

    conversion.prices = chosen
        .into_values()
        .map(|(_, converted)| converted)
        .collect();
    Ok(conversion)
}

impl Conversion {
    fn skip(&mut self, key: &str, reason: &SkipReason) {
        self.skipped.push(Skipped {
            model: key.to_owned(),
            reason: reason.to_string(),
        });
    }

    /// Keeps an entry unless another one maps to the same model key. The entry written under
    /// the bare model name wins over a provider-prefixed one; otherwise the first one wins.
    fn keep(
        &mut self,
        chosen: &mut BTreeMap<String, (String, Converted)>,
        key: &str,
        converted: Converted,
    ) {
        let Some((held_key, _)) = chosen.get(&converted.model) else {
            chosen.insert(converted.model.clone(), (key.to_owned(), converted));
            return;
        };
        let held_key = held_key.clone();
        if key == converted.model && held_key != converted.model {
            self.skip(&held_key, &SkipReason::Duplicate(key.to_owned()));
            chosen.insert(converted.model.clone(), (key.to_owned(), converted));
        } else {
            self.skip(key, &SkipReason::Duplicate(held_key));
        }
    }
}

fn provider(fields: &Fields) -> Option<Provider> {
    let name: String = serde_json::from_str(fields.get("litellm_provider")?.get()).ok()?;
    Provider::named(&name)
}

fn convert_entry(
    key: &str,
    provider: Provider,
    fields: &Fields,
    options: &Options,
) -> Result<Converted, SkipReason> {
    if let Some(mode) = fields.get("mode") {
        let known = serde_json::from_str::<String>(mode.get())
            .is_ok_and(|mode| MODES.contains(&mode.as_str()));
        if !known {
            return Err(SkipReason::Mode(mode.get().to_owned()));
        }
    }

    let prefix = format!("{}/", provider.name());
    let model = key.strip_prefix(&prefix).unwrap_or(key);
    validate_model(model)?;

    let web_search_per_1k = match provider {
        Provider::Anthropic => web_search(fields)?,
        Provider::OpenAi | Provider::Gemini => None,
    };
    let entry = PriceEntry {
        input: per_million(fields, INPUT)?.ok_or(SkipReason::Missing(INPUT))?,
        output: per_million(fields, OUTPUT)?.ok_or(SkipReason::Missing(OUTPUT))?,
        cache_read: per_million(fields, CACHE_READ)?,
        cache_write_5m: per_million(fields, CACHE_WRITE_5M)?,
        cache_write_1h: per_million(fields, CACHE_WRITE_1H)?,
        web_search_per_1k,
        long_context: long_context(fields)?,
        multipliers: None,
        effective_date: Some(options.effective_date.clone()),
        source: Some(options.source.clone()),
    };
    let rates = Rates::compile(&entry)?;
    Ok(Converted {
        model: model.to_owned(),
        entry,
        rates,
    })
}

/// A per-token cost as USD per million tokens; `None` when absent or null.
fn per_million(fields: &Fields, field: &str) -> Result<Option<String>, SkipReason> {
    amount(fields.get(field).copied(), field, TOKEN_SHIFT, PER_MILLION)
}

fn amount(
    raw: Option<&RawValue>,
    field: &str,
    shift: i64,
    unit: &'static str,
) -> Result<Option<String>, SkipReason> {
    let Some(raw) = raw.filter(|raw| raw.get() != "null") else {
        return Ok(None);
    };
    shift_decimal(raw.get(), shift, PLACES, unit)
        .map(Some)
        .map_err(|source| SkipReason::Amount {
            field: field.to_owned(),
            source,
        })
}

/// The medium search context's cost per query, as USD per 1000 searches.
fn web_search(fields: &Fields) -> Result<Option<String>, SkipReason> {
    let Some(raw) = fields.get(SEARCH).filter(|raw| raw.get() != "null") else {
        return Ok(None);
    };
    let sizes: Fields =
        serde_json::from_str(raw.get()).map_err(|_| SkipReason::NotAnObjectField(SEARCH))?;
    let field = format!("{SEARCH}.{SEARCH_CONTEXT_SIZE}");
    amount(
        sizes.get(SEARCH_CONTEXT_SIZE).copied(),
        &field,
        SEARCH_SHIFT,
        PER_1K_SEARCHES,
    )
}

/// The tier named by `<cost field>_above_<N>k_tokens` fields, all with the same `N`.
fn long_context(fields: &Fields) -> Result<Option<LongContextEntry>, SkipReason> {
    let mut thresholds = BTreeSet::new();
    let mut tier: BTreeMap<&str, String> = BTreeMap::new();
    for (name, raw) in fields {
        let Some((base, thousands)) = tiered_field(name) else {
            continue;
        };
        if let Some(price) = amount(Some(raw), name, TOKEN_SHIFT, PER_MILLION)? {
            thresholds.insert(thousands);
            tier.insert(base, price);
        }
    }

    if thresholds.len() > 1 {
        let all: Vec<String> = thresholds.iter().map(|n| format!("{n}k")).collect();
        return Err(SkipReason::SeveralTiers(all.join(", ")));
    }
    let Some(thousands) = thresholds.pop_first() else {
        return Ok(None);
    };
    Ok(Some(LongContextEntry {
        above_input_tokens: thousands.saturating_mul(1000),
        input: tier.remove(INPUT),
        output: tier.remove(OUTPUT),
        cache_read: tier.remove(CACHE_READ),
        cache_write_5m: tier.remove(CACHE_WRITE_5M),
        cache_write_1h: tier.remove(CACHE_WRITE_1H),
    }))
}

/// `input_cost_per_token_above_200k_tokens` is `(input_cost_per_token, 200)`. Variants with a
/// further suffix (`..._tokens_priority`) are not tiers of the standard price and give `None`.
fn tiered_field(name: &str) -> Option<(&'static str, u64)> {
    TIERED.into_iter().find_map(|base| {
        let thousands = name
            .strip_prefix(base)?
            .strip_prefix("_above_")?
            .strip_suffix("k_tokens")?;
        let all_digits = !thousands.is_empty() && thousands.bytes().all(|b| b.is_ascii_digit());
        all_digits
            .then(|| thousands.parse().ok())
            .flatten()
            .map(|thousands| (base, thousands))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn options() -> Options {
        Options {
            providers: Provider::ALL.into_iter().collect(),
            effective_date: "2025-12-04".into(),
            source: SOURCE.into(),
        }
    }

    /// Converts a map written as a `json!` value. Numbers in `json!` pass through `f64`, so
    /// the exactness tests below use literal text instead.
    fn convert_value(map: &Value) -> Conversion {
        convert(map.to_string().as_bytes(), &options()).unwrap()
    }

    fn only(conversion: &Conversion) -> &PriceEntry {
        assert_eq!(conversion.prices.len(), 1, "{:?}", conversion.skipped);
        &conversion.prices[0].entry
    }

    #[test]
    fn reads_every_mapped_field_from_its_literal_text() {
        let text = r#"{"claude-sonnet-4-5": {
            "litellm_provider": "anthropic", "mode": "chat", "max_tokens": 64000,
            "input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05,
            "cache_read_input_token_cost": 3e-07,
            "cache_creation_input_token_cost": 3.75e-06,
            "cache_creation_input_token_cost_above_1hr": 0.000006,
            "input_cost_per_token_above_200k_tokens": 6e-06,
            "output_cost_per_token_above_200k_tokens": 2.25e-05,
            "cache_read_input_token_cost_above_200k_tokens": 6e-07,
            "cache_creation_input_token_cost_above_200k_tokens": 7.5e-06,
            "cache_creation_input_token_cost_above_1hr_above_200k_tokens": 1.2e-05,
            "input_cost_per_token_above_200k_tokens_priority": 1e-05,
            "input_cost_per_token_batches": 1.5e-06,
            "search_context_cost_per_query": {"search_context_size_low": 0.01,
                "search_context_size_medium": 0.01, "search_context_size_high": 0.01},
            "supports_vision": true}}"#;
        let conversion = convert(text.as_bytes(), &options()).unwrap();
        let expected: PriceEntry = serde_json::from_value(json!({
            "input": "3", "output": "15", "cache_read": "0.3", "cache_write_5m": "3.75",
            "cache_write_1h": "6", "web_search_per_1k": "10",
            "long_context": {"above_input_tokens": 200000, "input": "6", "output": "22.5",
                "cache_read": "0.6", "cache_write_5m": "7.5", "cache_write_1h": "12"},
            "effective_date": "2025-12-04",
            "source": "litellm model_prices_and_context_window.json"
        }))
        .unwrap();
        assert_eq!(only(&conversion), &expected);
        assert_eq!(conversion.prices[0].model, "claude-sonnet-4-5");
    }

    #[test]
    fn strips_the_provider_prefix_and_prefers_the_bare_name() {
        let map = json!({
            "gemini/gemini-2.5-flash": {"litellm_provider": "gemini", "mode": "chat",
                "input_cost_per_token": 3e-07, "output_cost_per_token": 2.5e-06},
            "gemini-2.5-flash": {"litellm_provider": "gemini",
                "input_cost_per_token": 1e-07, "output_cost_per_token": 2.5e-06},
            "openai/gpt-4.1": {"litellm_provider": "gemini",
                "input_cost_per_token": 2e-06, "output_cost_per_token": 8e-06}
        });
        let conversion = convert_value(&map);
        let models: Vec<(&str, &str)> = conversion
            .prices
            .iter()
            .map(|c| (c.model.as_str(), c.entry.input.as_str()))
            .collect();
        assert_eq!(models, [("gemini-2.5-flash", "0.1")]);
        let skipped: Vec<(&str, &str)> = conversion
            .skipped
            .iter()
            .map(|s| (s.model.as_str(), s.reason.as_str()))
            .collect();
        assert_eq!(
            skipped,
            [
                (
                    "gemini/gemini-2.5-flash",
                    "same model as \"gemini-2.5-flash\", which is imported instead"
                ),
                (
                    "openai/gpt-4.1",
                    "model \"openai/gpt-4.1\" is not a model name; use 1 to 128 letters, \
                     digits and . _ - : @"
                ),
            ]
        );
    }

    #[test]
    fn keeps_chosen_providers_and_token_priced_modes() {
        let entry = |provider: &str, mode: Value| {
            json!({"litellm_provider": provider, "mode": mode,
                "input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06})
        };
        let map = json!({
            "a-chat": entry("anthropic", json!("chat")),
            "o-responses": entry("openai", json!("responses")),
            "g-no-mode": {"litellm_provider": "gemini",
                "input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06},
            "o-embedding": entry("openai", json!("embedding")),
            "o-odd-mode": entry("openai", json!(3)),
            "bedrock-chat": entry("bedrock", json!("chat")),
            "vertex-chat": entry("vertex_ai-language-models", json!("chat")),
            "no-provider": {"input_cost_per_token": 1e-06},
            "sample_spec": {"litellm_provider": "one of https://docs.litellm.ai/docs/providers"},
            "not-an-entry": 3
        });
        let conversion = convert_value(&map);
        let models: Vec<&str> = conversion.prices.iter().map(|c| c.model.as_str()).collect();
        assert_eq!(models, ["a-chat", "g-no-mode", "o-responses"]);
        assert_eq!(conversion.other_providers, 4);
        let reasons: BTreeMap<&str, &str> = conversion
            .skipped
            .iter()
            .map(|s| (s.model.as_str(), s.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            BTreeMap::from([
                ("not-an-entry", "the entry is not a json object"),
                (
                    "o-embedding",
                    "mode \"embedding\" is not chat or responses; only models priced per \
                     token are imported"
                ),
                (
                    "o-odd-mode",
                    "mode 3 is not chat or responses; only models priced per token are \
                     imported"
                ),
            ])
        );

        let gemini_only = Options {
            providers: Provider::parse_list(Some("gemini")).unwrap(),
            ..options()
        };
        let conversion = convert(map.to_string().as_bytes(), &gemini_only).unwrap();
        assert_eq!(conversion.prices.len(), 1);
        assert_eq!(conversion.other_providers, 8);
    }

    #[test]
    fn skips_entries_priced_above_the_limits() {
        let text = r#"{
            "costly-input": {"litellm_provider": "openai", "input_cost_per_token": 0.0100001,
                "output_cost_per_token": 1.5e-05},
            "costly-search": {"litellm_provider": "anthropic", "input_cost_per_token": 1e-06,
                "output_cost_per_token": 1e-06,
                "search_context_cost_per_query": {"search_context_size_medium": 10.5}},
            "at-the-limit": {"litellm_provider": "openai", "input_cost_per_token": 0.01,
                "output_cost_per_token": 0.01}
        }"#;
        let conversion = convert(text.as_bytes(), &options()).unwrap();
        let models: Vec<&str> = conversion.prices.iter().map(|c| c.model.as_str()).collect();
        assert_eq!(models, ["at-the-limit"]);
        let reasons: BTreeMap<&str, &str> = conversion
            .skipped
            .iter()
            .map(|s| (s.model.as_str(), s.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            BTreeMap::from([
                (
                    "costly-input",
                    "input: \"10000.1\" is above the limit of 10000 usd per million tokens"
                ),
                (
                    "costly-search",
                    "web_search_per_1k: \"10500\" is above the limit of 10000 usd per 1000 \
                     searches"
                ),
            ])
        );
    }

    #[test]
    fn skips_entries_whose_prices_are_not_exact() {
        let text = r#"{
            "negative": {"litellm_provider": "openai", "input_cost_per_token": -5e-07,
                "output_cost_per_token": 1.5e-06},
            "too-precise": {"litellm_provider": "openai", "input_cost_per_token": 5.0000001e-06,
                "output_cost_per_token": 1.5e-05},
            "a-string": {"litellm_provider": "openai", "input_cost_per_token": "3e-06",
                "output_cost_per_token": 1.5e-05},
            "no-output": {"litellm_provider": "openai", "input_cost_per_token": 1e-06},
            "null-output": {"litellm_provider": "openai", "input_cost_per_token": 1e-06,
                "output_cost_per_token": null},
            "odd-search": {"litellm_provider": "anthropic", "input_cost_per_token": 1e-06,
                "output_cost_per_token": 1e-06, "search_context_cost_per_query": 0.01},
            "two-tiers": {"litellm_provider": "gemini", "input_cost_per_token": 1e-06,
                "output_cost_per_token": 1e-06, "input_cost_per_token_above_128k_tokens": 2e-06,
                "output_cost_per_token_above_200k_tokens": 2e-06}
        }"#;
        let conversion = convert(text.as_bytes(), &options()).unwrap();
        assert!(conversion.prices.is_empty());
        let reasons: BTreeMap<&str, &str> = conversion
            .skipped
            .iter()
            .map(|s| (s.model.as_str(), s.reason.as_str()))
            .collect();
        let expected = BTreeMap::from([
            (
                "a-string",
                "input_cost_per_token: \"3e-06\" is not a json number",
            ),
            (
                "negative",
                "input_cost_per_token: -5e-07 is negative; prices are zero or more",
            ),
            (
                "no-output",
                "no output_cost_per_token; an entry needs input and output prices",
            ),
            (
                "null-output",
                "no output_cost_per_token; an entry needs input and output prices",
            ),
            (
                "odd-search",
                "search_context_cost_per_query is not a json object",
            ),
            (
                "too-precise",
                "input_cost_per_token: 5.0000001e-06 needs more than 6 decimal places in usd \
                 per million tokens",
            ),
            (
                "two-tiers",
                "names long-context prices above several thresholds (128k, 200k); one tier \
                 is supported",
            ),
        ]);
        assert_eq!(reasons, expected);
    }

    #[test]
    fn web_search_is_read_for_anthropic_only_and_tiers_of_any_size() {
        let map = json!({
            "gpt-5.4": {"litellm_provider": "openai", "mode": "chat",
                "input_cost_per_token": 2.5e-06, "output_cost_per_token": 1.5e-05,
                "input_cost_per_token_above_272k_tokens": 5e-06,
                "search_context_cost_per_query": {"search_context_size_medium": 0.035}}
        });
        let entry = only(&convert_value(&map)).clone();
        assert_eq!(entry.web_search_per_1k, None);
        let tier = entry.long_context.unwrap();
        assert_eq!(
            (tier.above_input_tokens, tier.input.as_deref(), tier.output),
            (272_000, Some("5"), None)
        );
    }

    #[test]
    fn a_body_that_is_not_an_object_fails_whole() {
        for bad in ["[]", "3", "{", "", "{\"a\": 1,}"] {
            let error = convert(bad.as_bytes(), &options()).unwrap_err();
            assert!(matches!(error, ImportError::NotAMap(_)), "{bad}");
        }
    }

    #[test]
    fn provider_lists_name_known_providers() {
        assert_eq!(
            Provider::parse_list(Some("gemini, anthropic,")).unwrap(),
            BTreeSet::from([Provider::Anthropic, Provider::Gemini])
        );
        assert_eq!(Provider::parse_list(None).unwrap().len(), 3);
        assert!(matches!(
            Provider::parse_list(Some("bedrock")),
            Err(ImportError::Provider(name)) if name == "bedrock"
        ));
        assert!(matches!(
            Provider::parse_list(Some(" , ")),
            Err(ImportError::NoProvider)
        ));
    }
}
