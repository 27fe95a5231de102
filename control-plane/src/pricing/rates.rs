//! A price entry compiled to integers, and the cost of one call.
//!
//! Token prices are pico-dollars per token: a price of 1 USD per million tokens is 1_000_000
//! pico-dollars per token, so six decimal places in USD per million tokens are exact.
//! Multipliers are parts per million. A call's cost is one fraction computed in `i128` and
//! rounded half up once, to the pico-dollar.

use std::collections::BTreeMap;

use thiserror::Error;
use trimio_wire::Usage;

use crate::money::{DecimalError, parse_scaled};
use crate::pricing::entry::{PriceEntry, PriceError};

/// Decimal places read from prices and multipliers.
const PLACES: u32 = 6;
/// One multiplier of 1.0, in parts per million.
const PPM: i128 = 1_000_000;
/// Dearest token price accepted: 10,000 USD per million tokens, some hundred times the dearest
/// real model. With the ledger's bounds on tokens, every cost stays far inside `i128`.
const MAX_TOKEN_PRICE: i128 = 10_000 * 1_000_000;
/// Largest multiplier accepted: 100.
const MAX_MULTIPLIER: i128 = 100 * PPM;
/// Dearest web search price accepted: 10,000 USD per 1000 searches.
const MAX_SEARCH_PRICE: i128 = 10_000 * 1_000_000;
/// A web search price of 1 micro-dollar per 1000 searches is 1000 pico-dollars per search, so
/// search fees are exact without rounding.
const PICO_PER_SEARCH_PER_MICRO_PER_1K: i128 = 1_000;

/// The cost of a call overflows `i128` (absurd token counts or prices).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("the cost of this call overflows the ledger's range")]
pub struct CostOverflow;

/// What an amount of an entry is, and so its upper limit.
#[derive(Debug, Clone, Copy)]
enum Unit {
    /// USD per million tokens.
    TokenPrice,
    /// USD per 1000 web searches.
    SearchPrice,
    /// A plain factor.
    Multiplier,
}

impl Unit {
    /// The largest amount accepted, scaled by `10^PLACES`.
    fn max(self) -> i128 {
        match self {
            Unit::TokenPrice => MAX_TOKEN_PRICE,
            Unit::SearchPrice => MAX_SEARCH_PRICE,
            Unit::Multiplier => MAX_MULTIPLIER,
        }
    }

    /// The limit as the error message states it.
    fn limit(self) -> &'static str {
        match self {
            Unit::TokenPrice => "10000 usd per million tokens",
            Unit::SearchPrice => "10000 usd per 1000 searches",
            Unit::Multiplier => "100",
        }
    }
}

/// Pico-dollars per token of each kind, fallbacks already applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TokenRates {
    input: i128,
    output: i128,
    cache_read: i128,
    cache_write_5m: i128,
    cache_write_1h: i128,
}

/// An entry as given: `None` where the entry names no price for the kind.
#[derive(Debug, Clone, Copy, Default)]
struct Given {
    input: Option<i128>,
    output: Option<i128>,
    cache_read: Option<i128>,
    cache_write_5m: Option<i128>,
    cache_write_1h: Option<i128>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct LongContext {
    above_prompt_tokens: u64,
    rates: TokenRates,
}

/// One model's prices as integers, ready to price calls.
///
/// Fallbacks: a missing `cache_read` or `cache_write_5m` costs as `input`; a missing
/// `cache_write_1h` costs as `cache_write_5m`. In the long-context tier a kind the tier does
/// not name takes the base entry's own price for that kind when the base names one, and
/// otherwise follows the same fallbacks inside the tier (so an unnamed cache read costs the
/// tier's input price, not the base input price).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rates {
    base: TokenRates,
    long_context: Option<LongContext>,
    /// Micro-dollars per 1000 web searches; never scaled by multipliers.
    web_search_per_1k: i128,
    /// Parts per million, by reported service tier.
    service_tier: BTreeMap<String, i128>,
    /// Parts per million, by reported inference region.
    inference_geo: BTreeMap<String, i128>,
}

impl Rates {
    /// Compiles an entry, refusing any amount that is not exact. The error names the field.
    pub fn compile(entry: &PriceEntry) -> Result<Rates, PriceError> {
        entry.check_metadata()?;

        let base = Given {
            input: Some(amount("input", &entry.input, Unit::TokenPrice)?),
            output: Some(amount("output", &entry.output, Unit::TokenPrice)?),
            cache_read: optional("cache_read", entry.cache_read.as_deref())?,
            cache_write_5m: optional("cache_write_5m", entry.cache_write_5m.as_deref())?,
            cache_write_1h: optional("cache_write_1h", entry.cache_write_1h.as_deref())?,
        };
        let long_context = match &entry.long_context {
            None => None,
            Some(long) => {
                let given = Given {
                    input: optional("long_context.input", long.input.as_deref())?,
                    output: optional("long_context.output", long.output.as_deref())?,
                    cache_read: optional("long_context.cache_read", long.cache_read.as_deref())?,
                    cache_write_5m: optional(
                        "long_context.cache_write_5m",
                        long.cache_write_5m.as_deref(),
                    )?,
                    cache_write_1h: optional(
                        "long_context.cache_write_1h",
                        long.cache_write_1h.as_deref(),
                    )?,
                };
                Some(LongContext {
                    above_prompt_tokens: long.above_input_tokens,
                    rates: resolve(overlay(given, base)),
                })
            }
        };

        let multipliers = entry.multipliers.clone().unwrap_or_default();
        Ok(Rates {
            base: resolve(base),
            long_context,
            web_search_per_1k: search_price(entry.web_search_per_1k.as_deref())?.unwrap_or(0),
            service_tier: factors("multipliers.service_tier", &multipliers.service_tier)?,
            inference_geo: factors("multipliers.inference_geo", &multipliers.inference_geo)?,
        })
    }

    /// The cost of one call in pico-dollars, every step checked.
    ///
    /// `reasoning` is part of `output` and never priced on its own. The ledger decides
    /// whether the cost is believable; this only refuses what `i128` cannot hold.
    pub fn cost(
        &self,
        usage: &Usage,
        service_tier: Option<&str>,
        inference_geo: Option<&str>,
    ) -> Result<i128, CostOverflow> {
        let prompt = u128::from(usage.input)
            + u128::from(usage.cache_read)
            + u128::from(usage.cache_write_5m)
            + u128::from(usage.cache_write_1h);
        let rates = match &self.long_context {
            Some(long) if prompt > u128::from(long.above_prompt_tokens) => &long.rates,
            _ => &self.base,
        };

        let mut numerator = [
            (usage.input, rates.input),
            (usage.output, rates.output),
            (usage.cache_read, rates.cache_read),
            (usage.cache_write_5m, rates.cache_write_5m),
            (usage.cache_write_1h, rates.cache_write_1h),
        ]
        .into_iter()
        .try_fold(0i128, |sum, (tokens, rate)| {
            i128::from(tokens)
                .checked_mul(rate)
                .and_then(|part| sum.checked_add(part))
        })
        .ok_or(CostOverflow)?;

        let mut denominator: i128 = 1;
        let applied = [
            service_tier.and_then(|tier| self.service_tier.get(tier)),
            inference_geo.and_then(|geo| self.inference_geo.get(geo)),
        ];
        for factor in applied.into_iter().flatten() {
            numerator = numerator.checked_mul(*factor).ok_or(CostOverflow)?;
            denominator = denominator.checked_mul(PPM).ok_or(CostOverflow)?;
        }
        let tokens = numerator
            .checked_add(denominator / 2)
            .and_then(|rounded| rounded.checked_div(denominator))
            .ok_or(CostOverflow)?;

        let searches = self
            .web_search_per_1k
            .checked_mul(PICO_PER_SEARCH_PER_MICRO_PER_1K)
            .and_then(|per_search| i128::from(usage.web_search_requests).checked_mul(per_search))
            .ok_or(CostOverflow)?;
        tokens.checked_add(searches).ok_or(CostOverflow)
    }
}

/// An exact amount no larger than the limit of its unit.
fn amount(field: &str, text: &str, unit: Unit) -> Result<i128, PriceError> {
    let value = parse_scaled(text, PLACES).map_err(|source| field_error(field, source))?;
    if value > unit.max() {
        return Err(PriceError::AboveLimit {
            field: field.to_owned(),
            text: text.to_owned(),
            limit: unit.limit(),
        });
    }
    Ok(value)
}

/// A token price the entry may leave out.
fn optional(field: &str, text: Option<&str>) -> Result<Option<i128>, PriceError> {
    text.map(|text| amount(field, text, Unit::TokenPrice))
        .transpose()
}

fn search_price(text: Option<&str>) -> Result<Option<i128>, PriceError> {
    text.map(|text| amount("web_search_per_1k", text, Unit::SearchPrice))
        .transpose()
}

fn factors(
    field: &str,
    given: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, i128>, PriceError> {
    given
        .iter()
        .map(|(name, text)| {
            let factor = amount(&format!("{field}.{name}"), text, Unit::Multiplier)?;
            Ok((name.clone(), factor))
        })
        .collect()
}

fn field_error(field: &str, source: DecimalError) -> PriceError {
    PriceError::Amount {
        field: field.to_owned(),
        source,
    }
}

/// Kinds the tier names win; the rest take what the base entry names itself.
fn overlay(tier: Given, base: Given) -> Given {
    Given {
        input: tier.input.or(base.input),
        output: tier.output.or(base.output),
        cache_read: tier.cache_read.or(base.cache_read),
        cache_write_5m: tier.cache_write_5m.or(base.cache_write_5m),
        cache_write_1h: tier.cache_write_1h.or(base.cache_write_1h),
    }
}

fn resolve(given: Given) -> TokenRates {
    let input = given.input.unwrap_or(0);
    let cache_write_5m = given.cache_write_5m.unwrap_or(input);
    TokenRates {
        input,
        output: given.output.unwrap_or(0),
        cache_read: given.cache_read.unwrap_or(input),
        cache_write_5m,
        cache_write_1h: given.cache_write_1h.unwrap_or(cache_write_5m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::format_usd;

    fn rates(json: &str) -> Rates {
        let entry: PriceEntry = serde_json::from_str(json).unwrap();
        Rates::compile(&entry).unwrap()
    }

    fn usd(rates: &Rates, usage: Usage) -> String {
        format_usd(rates.cost(&usage, None, None).unwrap())
    }

    const SONNET: &str = r#"{"input":"3","output":"15","cache_read":"0.30",
        "cache_write_5m":"3.75","cache_write_1h":"6","web_search_per_1k":"10",
        "long_context":{"above_input_tokens":200000,"input":"6","output":"22.5",
            "cache_read":"0.6","cache_write_5m":"7.5","cache_write_1h":"12"},
        "multipliers":{"service_tier":{"priority":"1.75","flex":"0.5"},
            "inference_geo":{"us":"1.1"}}}"#;

    #[test]
    fn sonnet_with_cache_reads_and_writes() {
        let usage = Usage {
            input: 3,
            output: 412,
            cache_read: 15000,
            cache_write_5m: 2048,
            ..Usage::default()
        };
        assert_eq!(usd(&rates(SONNET), usage), "0.018369");
    }

    #[test]
    fn opus_with_cache_reads() {
        let opus = rates(r#"{"input":"5","output":"25","cache_read":"0.50"}"#);
        let usage = Usage {
            input: 1200,
            output: 350,
            cache_read: 8000,
            ..Usage::default()
        };
        assert_eq!(usd(&opus, usage), "0.01875");
    }

    #[test]
    fn haiku_plain() {
        let haiku = rates(r#"{"input":"1","output":"5"}"#);
        assert_eq!(
            usd(
                &haiku,
                Usage {
                    input: 25,
                    output: 15,
                    ..Usage::default()
                }
            ),
            "0.0001"
        );
    }

    #[test]
    fn gpt_4_1_with_cached_input() {
        let gpt = rates(r#"{"input":"2","output":"8","cache_read":"0.50"}"#);
        let usage = Usage {
            input: 476,
            output: 300,
            cache_read: 1024,
            ..Usage::default()
        };
        assert_eq!(usd(&gpt, usage), "0.003864");
    }

    #[test]
    fn gpt_5_codex_with_reasoning_inside_output() {
        let codex = rates(r#"{"input":"1.25","output":"10","cache_read":"0.125"}"#);
        let usage = Usage {
            input: 904,
            output: 800,
            cache_read: 4096,
            reasoning: 640,
            ..Usage::default()
        };
        assert_eq!(usd(&codex, usage), "0.009642");
    }

    const GEMINI_PRO: &str = r#"{"input":"1.25","output":"10","cache_read":"0.3125",
        "long_context":{"above_input_tokens":200000,"input":"2.50","output":"15",
            "cache_read":"0.625"}}"#;

    #[test]
    fn gemini_pro_below_the_long_context_tier() {
        let usage = Usage {
            input: 55021,
            output: 1708,
            ..Usage::default()
        };
        assert_eq!(usd(&rates(GEMINI_PRO), usage), "0.08585625");
    }

    #[test]
    fn long_context_prices_every_token_of_the_call() {
        let gemini = rates(GEMINI_PRO);
        // 200_000 prompt tokens is not above the threshold; one more is.
        let at = Usage {
            input: 150_000,
            cache_read: 50_000,
            output: 1000,
            ..Usage::default()
        };
        let above = Usage {
            input: 150_001,
            ..at
        };
        // (150000 × 1.25 + 50000 × 0.3125 + 1000 × 10) / 1e6 USD
        assert_eq!(usd(&gemini, at), "0.213125");
        // (150001 × 2.5 + 50000 × 0.625 + 1000 × 15) / 1e6 USD
        assert_eq!(usd(&gemini, above), "0.4212525");
    }

    #[test]
    fn missing_kinds_fall_back() {
        let plain = rates(r#"{"input":"2","output":"8","cache_write_5m":"2.5"}"#);
        let usage = Usage {
            cache_read: 1_000_000,
            ..Usage::default()
        };
        assert_eq!(usd(&plain, usage), "2", "cache read costs as input");
        let usage = Usage {
            cache_write_1h: 1_000_000,
            ..Usage::default()
        };
        assert_eq!(usd(&plain, usage), "2.5", "1 h write costs as 5 min write");

        let tiered = rates(
            r#"{"input":"2","output":"8","cache_read":"0.2",
                "long_context":{"above_input_tokens":10,"input":"4"}}"#,
        );
        let usage = Usage {
            cache_read: 1_000_000,
            output: 1_000_000,
            ..Usage::default()
        };
        assert_eq!(
            usd(&tiered, usage),
            "8.2",
            "tier keeps the base's own cache and output"
        );
        let usage = Usage {
            cache_write_5m: 1_000_000,
            ..Usage::default()
        };
        assert_eq!(
            usd(&tiered, usage),
            "4",
            "unnamed writes cost the tier's input"
        );
    }

    #[test]
    fn multipliers_scale_tokens_but_not_searches() {
        let sonnet = rates(SONNET);
        let usage = Usage {
            input: 100_000,
            web_search_requests: 3,
            ..Usage::default()
        };
        let cost = |tier, geo| format_usd(sonnet.cost(&usage, tier, geo).unwrap());
        // 100000 × 3 / 1e6 = 0.30 of tokens, 3 × 10 / 1000 = 0.03 of searches.
        assert_eq!(cost(None, None), "0.33");
        assert_eq!(cost(Some("priority"), None), "0.555");
        assert_eq!(cost(Some("flex"), Some("us")), "0.195");
        assert_eq!(cost(Some("standard"), Some("eu")), "0.33");
        assert_eq!(
            cost(Some("Priority"), None),
            "0.33",
            "values match case-sensitively"
        );
    }

    #[test]
    fn rounds_half_up_once() {
        let odd = rates(
            r#"{"input":"0.000001","output":"0","multipliers":{"service_tier":{"x":"1.5"}}}"#,
        );
        let one = Usage {
            input: 1,
            ..Usage::default()
        };
        // 1 pico × 1.5 = 1.5 pico → 2
        assert_eq!(odd.cost(&one, Some("x"), None), Ok(2));
        let three = Usage {
            input: 3,
            ..Usage::default()
        };
        // 3 × 1.5 = 4.5 → 5, not 2 + 2 + 2
        assert_eq!(odd.cost(&three, Some("x"), None), Ok(5));
    }

    #[test]
    fn refuses_inexact_amounts_naming_the_field() {
        let entry: PriceEntry =
            serde_json::from_str(r#"{"input":"1","output":"2","cache_read":"0.0000001"}"#).unwrap();
        let error = Rates::compile(&entry).unwrap_err().to_string();
        assert_eq!(
            error,
            "cache_read: \"0.0000001\" has more than 6 decimal places"
        );

        let entry: PriceEntry = serde_json::from_str(
            r#"{"input":"1","output":"2","multipliers":{"service_tier":{"priority":"-2"}}}"#,
        )
        .unwrap();
        let error = Rates::compile(&entry).unwrap_err().to_string();
        assert!(
            error.starts_with("multipliers.service_tier.priority: "),
            "{error}"
        );
    }

    #[test]
    fn the_dearest_prices_stay_exact_and_absurd_counts_overflow_without_panicking() {
        let dearest = rates(
            r#"{"input":"10000","output":"10000","web_search_per_1k":"10000",
                "multipliers":{"service_tier":{"p":"100"},"inference_geo":{"g":"100"}}}"#,
        );
        let count = 100_000_000;
        let usage = Usage {
            input: count,
            output: count,
            cache_read: count,
            cache_write_5m: count,
            cache_write_1h: count,
            reasoning: count,
            web_search_requests: count,
        };
        // 5 × 1e8 tokens × 0.01 usd × 100 × 100, plus 1e8 searches × 10 usd.
        let pico = 1_000_000_000_000;
        let expected = 5 * 100_000_000 * pico / 100 * 10_000 + 100_000_000 * 10 * pico;
        assert_eq!(dearest.cost(&usage, Some("p"), Some("g")), Ok(expected));

        let absurd = Usage {
            input: u64::MAX,
            ..Usage::default()
        };
        assert_eq!(
            dearest.cost(&absurd, Some("p"), Some("g")),
            Err(CostOverflow)
        );
    }

    #[test]
    fn refuses_amounts_above_the_limits_naming_the_field() {
        let refused = |json: &str| {
            let entry: PriceEntry = serde_json::from_str(json).unwrap();
            Rates::compile(&entry).unwrap_err().to_string()
        };
        assert_eq!(
            refused(r#"{"input":"10000.000001","output":"1"}"#),
            "input: \"10000.000001\" is above the limit of 10000 usd per million tokens"
        );
        assert_eq!(
            refused(r#"{"input":"1","output":"1","web_search_per_1k":"10001"}"#),
            "web_search_per_1k: \"10001\" is above the limit of 10000 usd per 1000 searches"
        );
        assert_eq!(
            refused(r#"{"input":"1","output":"1","multipliers":{"inference_geo":{"us":"101"}}}"#),
            "multipliers.inference_geo.us: \"101\" is above the limit of 100"
        );
        assert_eq!(
            refused(
                r#"{"input":"1","output":"1",
                    "long_context":{"above_input_tokens":1,"cache_read":"10000.1"}}"#
            ),
            "long_context.cache_read: \"10000.1\" is above the limit of 10000 usd per million \
             tokens"
        );
    }
}
