//! Importing many prices at once from a public price map, through the admin API
//! (`POST /v1/admin/prices/import`) or the command line (`import-prices`).
//!
//! An imported entry is stored as a price set through the API is: it replaces an earlier
//! price of the same model key and leaves every other key alone. Prices set through the API
//! for models the map does not name stay, and shipped defaults keep pricing the models nobody
//! named. One import is one transaction.

mod api;
mod command;
mod litellm;
mod number;

#[cfg(test)]
mod tests;

pub use api::routes;
pub use command::{CommandError, ImportPricesArgs, run};
pub use litellm::{Conversion, Converted, Options, Provider, SOURCE, SkipReason, convert};

use serde::Serialize;
use thiserror::Error;

use crate::pricing::{Origin, PriceEntry, PriceView};

/// Longest `source_url` accepted; keeps the stored source well inside an entry's limit.
const MAX_SOURCE_URL_LEN: usize = 1024;

/// An import that cannot run at all; nothing was stored.
#[derive(Debug, Error)]
pub enum ImportError {
    #[error("unknown source \"{0}\"; the only source is litellm")]
    Source(String),
    #[error(
        "unknown provider \"{0}\" in providers; use anthropic, openai or gemini, comma-separated"
    )]
    Provider(String),
    #[error("providers names no provider; use anthropic, openai or gemini, comma-separated")]
    NoProvider,
    #[error(
        "source_url must be 1 to {MAX_SOURCE_URL_LEN} characters without spaces or control \
         characters"
    )]
    SourceUrl,
    #[error("the body is not a litellm price map (a json object of model names to entries): {0}")]
    NotAMap(serde_json::Error),
}

/// An entry of the map that was not imported, by its key in the map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub model: String,
    pub reason: String,
}

/// What an import answers, the same through the API and on the command line.
#[derive(Debug, Serialize)]
pub struct ImportAnswer {
    /// Entries imported, or that a dry run would import.
    pub imported: usize,
    pub dry_run: bool,
    /// Entries of the chosen providers that were not imported, with the reason.
    pub skipped: Vec<Skipped>,
    /// Entries of other providers, or of providers left out by `providers`; not listed.
    pub other_providers: usize,
    /// The entries imported, as `GET /v1/admin/prices` shows them.
    pub prices: Vec<PriceView>,
}

impl ImportAnswer {
    pub fn new(conversion: Conversion, dry_run: bool) -> ImportAnswer {
        let prices: Vec<PriceView> = conversion
            .prices
            .into_iter()
            .map(|converted| PriceView {
                model: converted.model,
                entry: converted.entry,
                origin: Origin::Custom,
            })
            .collect();
        ImportAnswer {
            imported: prices.len(),
            dry_run,
            skipped: conversion.skipped,
            other_providers: conversion.other_providers,
            prices,
        }
    }
}

/// The model keys and entries of a conversion, as the store takes them.
fn stored(conversion: &Conversion) -> Vec<(String, PriceEntry)> {
    conversion
        .prices
        .iter()
        .map(|converted| (converted.model.clone(), converted.entry.clone()))
        .collect()
}
