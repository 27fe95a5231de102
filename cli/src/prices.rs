//! `trimio prices`: the price table, and prices set through the API over the shipped ones.

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::api::{Api, Request};
use crate::error::CliError;
use crate::reply::Reply;
use crate::table::{Align, Table};
use crate::view::{items, text};

#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum PricesCommand {
    /// Every model's price, in USD per million tokens, with where it comes from.
    List,
    /// Set a model's price; it prices calls from the next one on.
    ///
    /// This replaces the model's whole entry. Kinds left out fall back: cache reads and
    /// 5-minute cache writes cost as input, 1-hour cache writes as 5-minute ones.
    Set(Box<SetPriceArgs>),
    /// Delete a price set through the API; the shipped default, if any, applies again.
    Delete {
        /// The model key the price was set for.
        #[arg(value_parser = crate::args::model)]
        model: String,
    },
}

/// Amounts are decimal strings in USD per million tokens unless a flag says otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Args)]
pub struct SetPriceArgs {
    /// The model key, matched as a prefix of the model a response names
    /// (claude-sonnet-4-5 prices claude-sonnet-4-5-20250929).
    #[arg(value_parser = crate::args::model)]
    pub model: String,

    /// Uncached input.
    #[arg(long, value_name = "USD")]
    pub input: String,

    /// Output, reasoning included.
    #[arg(long, value_name = "USD")]
    pub output: String,

    /// Input read from the prompt cache.
    #[arg(long, value_name = "USD")]
    pub cache_read: Option<String>,

    /// Input written to a cache that lives 5 minutes.
    #[arg(long = "cache-write-5m", value_name = "USD")]
    pub cache_write_5m: Option<String>,

    /// Input written to a cache that lives 1 hour.
    #[arg(long = "cache-write-1h", value_name = "USD")]
    pub cache_write_1h: Option<String>,

    /// USD per 1000 server-side web searches.
    #[arg(long = "web-search-per-1k", value_name = "USD")]
    pub web_search_per_1k: Option<String>,

    /// The day from which the price applies, for the record.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub effective_date: Option<String>,

    /// Where the price was read, such as the provider's pricing page.
    #[arg(long, value_name = "URL")]
    pub source: Option<String>,

    /// Prompt tokens (input plus every cache kind) above which the long-context prices
    /// replace the ones above for the whole call.
    #[arg(long, value_name = "TOKENS")]
    pub long_context_above: Option<u64>,

    /// Long-context input price.
    #[arg(long, value_name = "USD", requires = "long_context_above")]
    pub long_context_input: Option<String>,

    /// Long-context output price.
    #[arg(long, value_name = "USD", requires = "long_context_above")]
    pub long_context_output: Option<String>,

    /// Long-context cache read price.
    #[arg(long, value_name = "USD", requires = "long_context_above")]
    pub long_context_cache_read: Option<String>,

    /// Long-context 5-minute cache write price.
    #[arg(
        long = "long-context-cache-write-5m",
        value_name = "USD",
        requires = "long_context_above"
    )]
    pub long_context_cache_write_5m: Option<String>,

    /// Long-context 1-hour cache write price.
    #[arg(
        long = "long-context-cache-write-1h",
        value_name = "USD",
        requires = "long_context_above"
    )]
    pub long_context_cache_write_1h: Option<String>,

    /// A factor on every token price for a reported service tier, such as priority=1.75;
    /// repeat for more tiers.
    #[arg(long = "tier-multiplier", value_name = "TIER=FACTOR", value_parser = pair)]
    pub tier_multipliers: Vec<(String, String)>,

    /// A factor on every token price for a reported inference region, such as us=1.1;
    /// repeat for more regions.
    #[arg(long = "geo-multiplier", value_name = "GEO=FACTOR", value_parser = pair)]
    pub geo_multipliers: Vec<(String, String)>,
}

impl SetPriceArgs {
    /// The body of `PUT /v1/admin/prices/{model}`: the entry, with only the parts given.
    pub fn entry(&self) -> Value {
        let mut entry = Map::new();
        entry.insert("input".into(), json!(self.input));
        entry.insert("output".into(), json!(self.output));
        let optional = [
            ("cache_read", &self.cache_read),
            ("cache_write_5m", &self.cache_write_5m),
            ("cache_write_1h", &self.cache_write_1h),
            ("web_search_per_1k", &self.web_search_per_1k),
            ("effective_date", &self.effective_date),
            ("source", &self.source),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                entry.insert(name.into(), json!(value));
            }
        }

        if let Some(above) = self.long_context_above {
            let mut tier = Map::new();
            tier.insert("above_input_tokens".into(), json!(above));
            let tier_prices = [
                ("input", &self.long_context_input),
                ("output", &self.long_context_output),
                ("cache_read", &self.long_context_cache_read),
                ("cache_write_5m", &self.long_context_cache_write_5m),
                ("cache_write_1h", &self.long_context_cache_write_1h),
            ];
            for (name, value) in tier_prices {
                if let Some(value) = value {
                    tier.insert(name.into(), json!(value));
                }
            }
            entry.insert("long_context".into(), Value::Object(tier));
        }

        let mut multipliers = Map::new();
        for (name, pairs) in [
            ("service_tier", &self.tier_multipliers),
            ("inference_geo", &self.geo_multipliers),
        ] {
            if !pairs.is_empty() {
                let factors: Map<String, Value> = pairs
                    .iter()
                    .map(|(key, factor)| (key.clone(), json!(factor)))
                    .collect();
                multipliers.insert(name.into(), Value::Object(factors));
            }
        }
        if !multipliers.is_empty() {
            entry.insert("multipliers".into(), Value::Object(multipliers));
        }
        Value::Object(entry)
    }
}

/// `NAME=VALUE`, both non-empty.
fn pair(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() && !value.is_empty() => {
            Ok((name.to_owned(), value.to_owned()))
        }
        _ => Err(format!(
            "\"{text}\" is not NAME=FACTOR, such as priority=1.75"
        )),
    }
}

impl PricesCommand {
    pub fn request(&self) -> Request {
        match self {
            PricesCommand::List => Request::admin(Method::GET, &["prices"]),
            PricesCommand::Set(args) => {
                Request::admin(Method::PUT, &["prices", &args.model]).body(args.entry())
            }
            PricesCommand::Delete { model } => Request::admin(Method::DELETE, &["prices", model]),
        }
    }

    pub fn run(&self, api: &Api) -> Result<Reply, CliError> {
        let (json, value) = api.json(&self.request())?;
        let text = match self {
            PricesCommand::List => list_text(&value),
            PricesCommand::Set(args) => format!(
                "set the price of {}: input {}, output {} USD per million tokens; it prices \
                 calls from the next one on\n",
                args.model,
                text(&value, "input"),
                text(&value, "output")
            ),
            PricesCommand::Delete { model } => deleted_text(model, &value),
        };
        Ok(Reply::document(json, text))
    }
}

fn list_text(value: &Value) -> String {
    let prices = items(value, "prices");
    if prices.is_empty() {
        return "no prices; set one with `trimio prices set MODEL --input USD --output USD`\n"
            .to_owned();
    }
    let mut table = Table::new(&[
        ("MODEL", Align::Left),
        ("INPUT", Align::Right),
        ("OUTPUT", Align::Right),
        ("CACHE READ", Align::Right),
        ("CACHE WRITE 5M", Align::Right),
        ("CACHE WRITE 1H", Align::Right),
        ("ORIGIN", Align::Left),
        ("EFFECTIVE", Align::Left),
    ]);
    for price in prices {
        table.row(vec![
            text(price, "model"),
            text(price, "input"),
            text(price, "output"),
            text(price, "cache_read"),
            text(price, "cache_write_5m"),
            text(price, "cache_write_1h"),
            text(price, "origin"),
            text(price, "effective_date"),
        ]);
    }
    format!("USD per million tokens\n\n{}", table.render())
}

fn deleted_text(model: &str, value: &Value) -> String {
    match value.get("default").filter(|default| !default.is_null()) {
        Some(default) => format!(
            "deleted the price set for {model}; the shipped default applies again: input {}, \
             output {} USD per million tokens\n",
            text(default, "input"),
            text(default, "output")
        ),
        None => format!(
            "deleted the price set for {model}; it has no price now, so its calls are recorded \
             unpriced\n"
        ),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::args::{Cli, Command};

    fn parse(args: &[&str]) -> SetPriceArgs {
        let argv = ["trimio", "prices", "set"].iter().chain(args);
        match Cli::try_parse_from(argv).map(|cli| cli.command) {
            Ok(Command::Prices(PricesCommand::Set(args))) => *args,
            other => panic!("{args:?} parsed as {other:?}"),
        }
    }

    #[test]
    fn sends_input_and_output_and_only_the_rest_given() {
        let args = parse(&["claude-sonnet-4-5", "--input", "3", "--output", "15"]);
        assert_eq!(args.entry(), json!({"input": "3", "output": "15"}));

        let args = parse(&[
            "claude-sonnet-4-5",
            "--input",
            "3",
            "--output",
            "15",
            "--cache-read",
            "0.30",
            "--cache-write-5m",
            "3.75",
            "--cache-write-1h",
            "6",
        ]);
        assert_eq!(
            args.entry(),
            json!({"input": "3", "output": "15", "cache_read": "0.30",
                "cache_write_5m": "3.75", "cache_write_1h": "6"})
        );
    }

    #[test]
    fn sends_the_long_context_tier_and_multipliers() {
        let args = parse(&[
            "gemini-2.5-pro",
            "--input",
            "1.25",
            "--output",
            "10",
            "--web-search-per-1k",
            "35",
            "--effective-date",
            "2025-11-24",
            "--source",
            "https://example.com/pricing",
            "--long-context-above",
            "200000",
            "--long-context-input",
            "2.5",
            "--long-context-output",
            "15",
            "--tier-multiplier",
            "priority=1.75",
            "--tier-multiplier",
            "flex=0.5",
            "--geo-multiplier",
            "us=1.1",
        ]);
        assert_eq!(
            args.entry(),
            json!({"input": "1.25", "output": "10", "web_search_per_1k": "35",
                "effective_date": "2025-11-24", "source": "https://example.com/pricing",
                "long_context": {"above_input_tokens": 200000, "input": "2.5", "output": "15"},
                "multipliers": {"service_tier": {"priority": "1.75", "flex": "0.5"},
                    "inference_geo": {"us": "1.1"}}})
        );
    }

    #[test]
    fn refuses_incomplete_flags() {
        for args in [
            &["m", "--input", "3"][..],
            &[
                "m",
                "--input",
                "3",
                "--output",
                "15",
                "--long-context-input",
                "6",
            ],
            &[
                "m",
                "--input",
                "3",
                "--output",
                "15",
                "--tier-multiplier",
                "priority",
            ],
        ] {
            let argv = ["trimio", "prices", "set"].iter().chain(args);
            assert!(Cli::try_parse_from(argv).is_err(), "{args:?}");
        }
    }

    #[test]
    fn lists_prices() {
        let prices = json!({"prices": [
            {"model": "claude-sonnet-4-5", "input": "3", "output": "15", "cache_read": "0.30",
             "cache_write_5m": "3.75", "cache_write_1h": "6", "effective_date": "2025-09-29",
             "source": "https://example.com", "origin": "default"},
            {"model": "my-model", "input": "1", "output": "2", "origin": "custom"}]});
        let rendered = list_text(&prices);
        let lines: Vec<&str> = rendered.lines().collect();
        assert_eq!(lines[0], "USD per million tokens");
        assert_eq!(
            lines[2],
            "MODEL              INPUT  OUTPUT  CACHE READ  CACHE WRITE 5M  CACHE WRITE 1H  \
             ORIGIN   EFFECTIVE"
        );
        assert_eq!(
            lines[3],
            "claude-sonnet-4-5      3      15        0.30            3.75               6  \
             default  2025-09-29"
        );
        assert_eq!(
            lines[4],
            "my-model               1       2           -               -               -  \
             custom   -"
        );
    }

    #[test]
    fn says_what_applies_after_a_delete() {
        let with_default = json!({"model": "m", "deleted": true,
            "default": {"model": "m", "input": "3", "output": "15", "origin": "default"}});
        assert!(deleted_text("m", &with_default).contains("input 3, output 15"));
        let without = json!({"model": "m", "deleted": true, "default": null});
        assert!(deleted_text("m", &without).contains("recorded unpriced"));
    }
}
