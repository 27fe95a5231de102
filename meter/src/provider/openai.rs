//! What OpenAI's two APIs share: the top-level members of a JSON body, the mapping of a usage
//! object, and the report.
//!
//! Both count cached input inside the input total and reasoning inside the output total;
//! only the names differ (`prompt_tokens` / `completion_tokens` in Chat Completions,
//! `input_tokens` / `output_tokens` in Responses), each with a `…_details` object beside it.

use serde_json::Value;
use trimio_wire::Usage;

use super::Framing;
use super::observed::{Observed, Report};
use crate::json::{count, parse};

/// The names one API gives its input and output totals.
#[derive(Debug, Clone, Copy)]
pub(super) struct Names {
    pub input: &'static str,
    pub input_details: &'static str,
    pub output: &'static str,
    pub output_details: &'static str,
}

/// Uncached input, cache reads, output and its reasoning part, from a usage object.
pub(super) fn normalize(usage: &Value, names: Names) -> Usage {
    let input = count(usage, &[names.input]).unwrap_or(0);
    let cached = count(usage, &[names.input_details, "cached_tokens"]).unwrap_or(0);
    Usage {
        input: input.saturating_sub(cached),
        cache_read: cached,
        output: count(usage, &[names.output]).unwrap_or(0),
        reasoning: count(usage, &[names.output_details, "reasoning_tokens"]).unwrap_or(0),
        ..Usage::default()
    }
}

/// The top-level members of a JSON body worth capturing.
pub(super) fn wants(key: &[u8]) -> bool {
    matches!(key, b"model" | b"usage" | b"service_tier")
}

/// Reads one captured top-level member of a JSON body.
pub(super) fn member(
    seen: &mut Observed,
    usage: &mut Option<Usage>,
    names: Names,
    key: &[u8],
    value: &[u8],
) {
    let Some(value) = parse(value) else {
        seen.malformed = true;
        return;
    };
    match key {
        b"model" => seen.model(Some(&value)),
        b"usage" if value.is_object() => *usage = Some(normalize(&value, names)),
        b"service_tier" => seen.service_tier(Some(&value)),
        _ => {}
    }
}

/// The reading so far: closed by the stream's last event, or by the end of the JSON body.
pub(super) fn report(seen: &Observed, usage: Option<Usage>, framing: Framing) -> Report {
    let closed = match framing {
        Framing::Sse => seen.closed,
        Framing::Json { complete } => complete,
    };
    seen.report(usage.unwrap_or_default(), usage.is_some(), closed)
}
