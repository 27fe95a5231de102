//! What a call will cost, guessed at admission from its request and the team's recent calls.
//!
//! The prompt is priced from the request body's size: at the cost per byte the team's
//! recent calls to the same model ran up on their prompts (which carries how much of them
//! the provider served from its cache), or, before there are any, at four bytes a token at
//! the model's input price. The output is priced at what those recent calls produced, capped
//! by the request's `max_tokens`. A strict budget reserves the worst case instead: the body
//! as one token a byte at the model's dearest prompt price, and every output token the
//! request allows.

use std::collections::{HashMap, VecDeque};

use trimio_wire::Usage;

use crate::money::add_pico;
use crate::pricing::{PriceTable, Rates};

/// Recent calls kept per team and model.
const WINDOW: usize = 32;
/// Output tokens assumed for a model the team has not called yet.
pub const DEFAULT_OUTPUT_TOKENS: u64 = 1024;
/// Least a call reserves when nothing better is known: 0.01 USD, in pico-dollars.
pub const FALLBACK_PICO: i128 = 10_000_000_000;
/// Team-and-model pairs remembered; beyond it the oldest learning is dropped.
const MAX_PAIRS: usize = 100_000;
/// Body size a strict budget assumes when a request's size is unknown (no `content-length`
/// when admission is asked from the headers): the largest body the filter reads.
const UNKNOWN_BODY_BYTES: u64 = 8 * 1024 * 1024;

/// The parts of a stored call's cost the estimator learns from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Pico-dollars of everything but the output.
    pub prompt_pico: i128,
    pub output_pico: i128,
    pub output_tokens: u64,
    pub request_bytes: u64,
}

impl Sample {
    /// Splits a priced call's cost into prompt and output.
    pub fn of(
        rates: &Rates,
        usage: &Usage,
        tier: Option<&str>,
        geo: Option<&str>,
        request_bytes: u64,
    ) -> Option<Sample> {
        let total = rates.cost(usage, tier, geo).ok()?;
        let prompt_only = Usage {
            output: 0,
            reasoning: 0,
            ..*usage
        };
        let prompt_pico = rates.cost(&prompt_only, tier, geo).ok()?;
        Some(Sample {
            prompt_pico,
            output_pico: total - prompt_pico,
            output_tokens: usage.output,
            request_bytes,
        })
    }
}

#[derive(Debug, Default)]
struct Recent {
    samples: VecDeque<Sample>,
}

impl Recent {
    fn push(&mut self, sample: Sample) {
        if self.samples.len() == WINDOW {
            self.samples.pop_front();
        }
        self.samples.push_back(sample);
    }

    fn len(&self) -> i128 {
        self.samples.len() as i128
    }

    /// Prompt pico-dollars per byte of request, as `(pico, bytes)` summed.
    fn prompt_rate(&self) -> Option<(i128, i128)> {
        let bytes: i128 = self
            .samples
            .iter()
            .map(|s| i128::from(s.request_bytes))
            .sum();
        let pico = self
            .samples
            .iter()
            .fold(0, |sum, s| add_pico(sum, s.prompt_pico));
        (bytes > 0).then_some((pico, bytes))
    }

    fn mean_prompt(&self) -> i128 {
        self.samples
            .iter()
            .fold(0, |sum, s| add_pico(sum, s.prompt_pico))
            / self.len().max(1)
    }

    fn mean_output_tokens(&self) -> u64 {
        let sum: u128 = self
            .samples
            .iter()
            .map(|s| u128::from(s.output_tokens))
            .sum();
        u64::try_from(sum / self.samples.len().max(1) as u128).unwrap_or(u64::MAX)
    }

    fn mean_output_pico(&self) -> i128 {
        self.samples
            .iter()
            .fold(0, |sum, s| add_pico(sum, s.output_pico))
            / self.len().max(1)
    }
}

/// What admission knows of one call.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallFacts<'a> {
    pub model: Option<&'a str>,
    pub prompt_bytes: Option<u64>,
    pub max_tokens: Option<u64>,
}

/// Recent calls per team and model ("" for calls whose model admission could not know).
#[derive(Debug, Default)]
pub struct Estimator {
    recent: HashMap<(String, String), Recent>,
}

impl Estimator {
    /// Learns from a stored call of `team_id` to `model` (the model its request named).
    pub fn learn(&mut self, team_id: &str, model: Option<&str>, sample: Sample) {
        if self.recent.len() >= MAX_PAIRS {
            self.recent.clear();
        }
        for model in [model.unwrap_or_default(), ""] {
            self.recent
                .entry((team_id.to_owned(), model.to_owned()))
                .or_default()
                .push(sample);
            if model.is_empty() {
                break;
            }
        }
    }

    /// What a call of the team costs, from its recent calls of any model: pico-dollars of
    /// output a call, and pico-dollars of prompt per KiB of request body. `None` before the
    /// team has priced calls.
    pub fn team_rates(&self, team_id: &str) -> Option<(i128, i128)> {
        let recent = self
            .recent
            .get(&(team_id.to_owned(), String::new()))
            .filter(|recent| !recent.samples.is_empty())?;
        let per_kib = recent
            .prompt_rate()
            .map_or(0, |(pico, bytes)| pico.saturating_mul(1024) / bytes);
        Some((recent.mean_output_pico(), per_kib))
    }

    /// The estimated cost of a call in pico-dollars. `strict_max_tokens` asks for the worst
    /// case, with the output cap to assume when the request names none.
    ///
    /// A model the price table does not know is estimated from the team's recent calls of
    /// any model (the response may name a priced model the request did not); in strict mode
    /// it is priced at the dearest entry of the table.
    pub fn estimate(
        &self,
        team_id: &str,
        call: CallFacts<'_>,
        prices: &PriceTable,
        strict_max_tokens: Option<u64>,
    ) -> i128 {
        let rates = call
            .model
            .and_then(|model| prices.lookup(model))
            .map(|(_, priced)| &priced.rates);
        // Learning is kept under the model the request named, or "" for any model.
        let model = match rates {
            Some(_) => call.model.unwrap_or_default(),
            None => "",
        };
        let recent = self
            .recent
            .get(&(team_id.to_owned(), model.to_owned()))
            .filter(|recent| !recent.samples.is_empty());

        let prompt = match (recent.and_then(Recent::prompt_rate), call.prompt_bytes) {
            (Some((pico, bytes)), Some(size)) => pico * i128::from(size) / bytes,
            _ => match (rates, call.prompt_bytes, recent) {
                (Some(rates), Some(size), _) => cost(
                    rates,
                    Usage {
                        input: size.div_ceil(4),
                        ..Usage::default()
                    },
                ),
                (_, _, Some(recent)) => recent.mean_prompt(),
                _ => 0,
            },
        };
        let output = match (rates, recent) {
            (Some(rates), recent) => {
                let tokens = recent.map_or(DEFAULT_OUTPUT_TOKENS, Recent::mean_output_tokens);
                let tokens = call.max_tokens.map_or(tokens, |max| tokens.min(max));
                cost(
                    rates,
                    Usage {
                        output: tokens,
                        ..Usage::default()
                    },
                )
            }
            (None, Some(recent)) => recent.mean_output_pico(),
            (None, None) => 0,
        };
        let mut estimate = add_pico(prompt, output);
        if rates.is_none() && recent.is_none() {
            estimate = FALLBACK_PICO;
        }

        if let Some(default_max) = strict_max_tokens {
            let bytes = call.prompt_bytes.unwrap_or(UNKNOWN_BODY_BYTES);
            let output_tokens = call.max_tokens.unwrap_or(default_max);
            let worst = match rates {
                Some(rates) => worst_case(rates, bytes, output_tokens),
                None => prices
                    .entries()
                    .into_iter()
                    .map(|(_, priced)| worst_case(&priced.rates, bytes, output_tokens))
                    .max()
                    .unwrap_or(FALLBACK_PICO),
            };
            estimate = estimate.max(worst);
        }
        estimate
    }
}

/// The most a call can cost at `rates`: the body as one token a byte at the dearest prompt
/// price, and every output token allowed.
fn worst_case(rates: &Rates, bytes: u64, output_tokens: u64) -> i128 {
    [
        Usage {
            input: bytes,
            ..Usage::default()
        },
        Usage {
            cache_write_5m: bytes,
            ..Usage::default()
        },
        Usage {
            cache_write_1h: bytes,
            ..Usage::default()
        },
    ]
    .into_iter()
    .map(|prompt| {
        cost(
            rates,
            Usage {
                output: output_tokens,
                ..prompt
            },
        )
    })
    .max()
    .unwrap_or(0)
}

/// The cost of `usage` at `rates`, at the standard tier; a cost past `i128` counts as the
/// largest.
fn cost(rates: &Rates, usage: Usage) -> i128 {
    rates.cost(&usage, None, None).unwrap_or(i128::MAX / 4)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::record_for_tests;

    fn prices() -> PriceTable {
        crate::ledger::sonnet_prices_for_tests()
    }

    fn sonnet<'a>(bytes: u64, max_tokens: Option<u64>) -> CallFacts<'a> {
        CallFacts {
            model: Some("claude-sonnet-4-5-20250929"),
            prompt_bytes: Some(bytes),
            max_tokens,
        }
    }

    #[test]
    fn learns_the_cost_per_prompt_byte_and_the_output_of_recent_calls() {
        let prices = prices();
        let mut estimator = Estimator::default();
        // Before any call: 64,690 bytes as 16,173 input tokens at 3 USD/Mtok, and 1,024
        // output tokens at 15 USD/Mtok.
        let first = estimator.estimate("t1", sonnet(64_690, Some(32_000)), &prices, None);
        assert_eq!(first, 16_173 * 3_000_000 + 1_024 * 15_000_000);

        // The worked example: 0.018369 USD, 412 output tokens, mostly cache reads.
        let record = record_for_tests("r1", "h");
        let (_, priced) = prices.lookup("claude-sonnet-4-5-20250929").unwrap();
        let sample = Sample::of(&priced.rates, &record.usage, None, None, 64_690).unwrap();
        assert_eq!(sample.prompt_pico + sample.output_pico, 18_369_000_000);
        estimator.learn("t1", Some("claude-sonnet-4-5-20250929"), sample);

        let same = estimator.estimate("t1", sonnet(64_690, Some(32_000)), &prices, None);
        assert_eq!(same, 18_369_000_000);
        let capped = estimator.estimate("t1", sonnet(64_690, Some(100)), &prices, None);
        assert_eq!(capped, sample.prompt_pico + 100 * 15_000_000);
        let bigger = estimator.estimate("t1", sonnet(129_380, Some(32_000)), &prices, None);
        assert_eq!(bigger, 2 * sample.prompt_pico + sample.output_pico);
        // Another team learns nothing from this one.
        assert_eq!(
            estimator.estimate("t2", sonnet(64_690, Some(32_000)), &prices, None),
            first
        );
    }

    #[test]
    fn strict_reserves_the_whole_body_at_the_dearest_prompt_price_and_every_output_token() {
        let prices = prices();
        let estimator = Estimator::default();
        let strict = estimator.estimate("t1", sonnet(64_690, Some(32_000)), &prices, Some(4096));
        // Cache writes at 3.75 USD/Mtok are the dearest prompt price of these rates.
        assert_eq!(strict, 64_690 * 3_750_000 + 32_000 * 15_000_000);
        let uncapped = estimator.estimate("t1", sonnet(1_000, None), &prices, Some(4096));
        assert_eq!(uncapped, 1_000 * 3_750_000 + 4_096 * 15_000_000);
    }

    #[test]
    fn models_the_table_does_not_know_learn_from_any_model_and_strict_takes_the_dearest() {
        let prices = prices();
        let mut estimator = Estimator::default();
        let alias = CallFacts {
            model: Some("sonnet-latest-alias"),
            prompt_bytes: Some(64_690),
            max_tokens: Some(32_000),
        };
        assert_eq!(
            estimator.estimate("t1", alias, &prices, None),
            FALLBACK_PICO
        );
        let unknown = CallFacts {
            prompt_bytes: Some(10_000),
            ..CallFacts::default()
        };
        assert_eq!(
            estimator.estimate("t1", unknown, &prices, None),
            FALLBACK_PICO
        );

        // The alias answered as a priced model: learned under "any model".
        let record = record_for_tests("r1", "h");
        let (_, priced) = prices.lookup("claude-sonnet-4-5-20250929").unwrap();
        let sample = Sample::of(&priced.rates, &record.usage, None, None, 64_690).unwrap();
        estimator.learn("t1", Some("sonnet-latest-alias"), sample);
        assert_eq!(
            estimator.estimate("t1", alias, &prices, None),
            18_369_000_000
        );

        // Strict: the dearest entry of the table, here the only one.
        let strict = estimator.estimate("t1", alias, &prices, Some(4096));
        assert_eq!(strict, 64_690 * 3_750_000 + 32_000 * 15_000_000);
        let sizeless = CallFacts::default();
        let strict = estimator.estimate("t1", sizeless, &prices, Some(4096));
        assert_eq!(strict, 8 * 1024 * 1024 * 3_750_000 + 4_096 * 15_000_000);
    }
}
