//! Anthropic Messages.
//!
//! Streamed, usage arrives in `message_start` (`message.usage`: the input kinds, and a
//! placeholder output count) and in `message_delta` (`usage`: the output so far, often the input
//! kinds again). Every field is the running value, so fields are merged one by one and the last
//! value present wins; nothing is summed. A JSON body has `model` and `usage` at the top.
//!
//! Mapping: `input_tokens` is already uncached input; `cache_read_input_tokens` is a cache
//! read; `cache_creation.ephemeral_1h_input_tokens` is a 1-hour write and the rest of
//! `cache_creation_input_tokens` a 5-minute write (with no TTL split, every write is 5-minute;
//! with a split and no total, the split's 5-minute count); `output_tokens` is output, with
//! `output_tokens_details.thinking_tokens` as its reasoning part; and
//! `server_tool_use.web_search_requests` counts searches.

use serde_json::Value;
use trimio_wire::Usage;

use super::observed::{Observed, Report};
use super::{Framing, kind};
use crate::json::{count, parse};
use crate::sse::Event;

/// The raw counts, each the last value the provider reported.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    input: Option<u64>,
    cache_read: Option<u64>,
    cache_creation: Option<u64>,
    cache_5m: Option<u64>,
    cache_1h: Option<u64>,
    /// Only from `message_delta` or a JSON body: `message_start` carries a placeholder.
    output: Option<u64>,
    thinking: Option<u64>,
    web_search: Option<u64>,
}

#[derive(Debug, Default)]
pub(crate) struct Anthropic {
    seen: Observed,
    counts: Counts,
}

impl Anthropic {
    pub(crate) fn event(&mut self, event: Event<'_>) {
        let Event::Whole { data, .. } = event else {
            return;
        };
        match kind(&event) {
            b"message_start" => self.message_start(data),
            b"message_delta" => self.message_delta(data),
            b"message_stop" => self.seen.closed = true,
            b"content_block_delta" => {
                self.seen.estimate.add_text(data, br#""text""#);
                self.seen.estimate.add_text(data, br#""partial_json""#);
                self.seen.estimate.add_reasoning(data, br#""thinking""#);
            }
            b"error" => self.seen.stream_error = true,
            _ => {}
        }
    }

    fn message_start(&mut self, data: &[u8]) {
        let Some(event) = parse(data) else {
            self.seen.malformed = true;
            return;
        };
        let Some(message) = event.get("message") else {
            return;
        };
        self.seen.model(message.get("model"));
        self.seen.service_tier(message.get("service_tier"));
        self.seen.inference_geo(message.get("inference_geo"));
        if let Some(usage) = message.get("usage") {
            self.merge(usage, false);
        }
    }

    fn message_delta(&mut self, data: &[u8]) {
        let Some(event) = parse(data) else {
            self.seen.malformed = true;
            return;
        };
        if let Some(usage) = event.get("usage") {
            self.merge(usage, true);
        }
    }

    /// Merges one `usage` object; `output_is_final` when its output count is real.
    fn merge(&mut self, usage: &Value, output_is_final: bool) {
        let c = &mut self.counts;
        keep(&mut c.input, count(usage, &["input_tokens"]));
        keep(
            &mut c.cache_read,
            count(usage, &["cache_read_input_tokens"]),
        );
        keep(
            &mut c.cache_creation,
            count(usage, &["cache_creation_input_tokens"]),
        );
        keep(
            &mut c.cache_5m,
            count(usage, &["cache_creation", "ephemeral_5m_input_tokens"]),
        );
        keep(
            &mut c.cache_1h,
            count(usage, &["cache_creation", "ephemeral_1h_input_tokens"]),
        );
        keep(
            &mut c.web_search,
            count(usage, &["server_tool_use", "web_search_requests"]),
        );
        if output_is_final {
            keep(&mut c.output, count(usage, &["output_tokens"]));
            keep(
                &mut c.thinking,
                count(usage, &["output_tokens_details", "thinking_tokens"]),
            );
        }
        self.seen.service_tier(usage.get("service_tier"));
        self.seen.inference_geo(usage.get("inference_geo"));
    }

    fn usage(&self) -> Usage {
        let c = self.counts;
        let has_split = c.cache_5m.is_some() || c.cache_1h.is_some();
        let write_1h = c.cache_1h.unwrap_or(0);
        let write_5m = match (c.cache_creation, has_split) {
            (Some(total), true) => total.saturating_sub(write_1h),
            (Some(total), false) => total,
            (None, _) => c.cache_5m.unwrap_or(0),
        };
        Usage {
            input: c.input.unwrap_or(0),
            output: c.output.unwrap_or(0),
            cache_read: c.cache_read.unwrap_or(0),
            cache_write_5m: write_5m,
            cache_write_1h: write_1h,
            reasoning: c.thinking.unwrap_or(0),
            web_search_requests: c.web_search.unwrap_or(0),
        }
    }

    pub(crate) fn wants(&self, key: &[u8]) -> bool {
        matches!(
            key,
            b"model" | b"usage" | b"service_tier" | b"inference_geo"
        )
    }

    pub(crate) fn member(&mut self, key: &[u8], value: &[u8]) {
        let Some(value) = parse(value) else {
            self.seen.malformed = true;
            return;
        };
        match key {
            b"model" => self.seen.model(Some(&value)),
            b"usage" => self.merge(&value, true),
            b"service_tier" => self.seen.service_tier(Some(&value)),
            b"inference_geo" => self.seen.inference_geo(Some(&value)),
            _ => {}
        }
    }

    pub(crate) fn report(&self, framing: Framing) -> Report {
        let closed = match framing {
            Framing::Sse => self.seen.closed,
            Framing::Json { complete } => complete,
        };
        self.seen
            .report(self.usage(), self.counts.output.is_some(), closed)
    }
}

fn keep(slot: &mut Option<u64>, value: Option<u64>) {
    if value.is_some() {
        *slot = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(events: &[(&str, &str)]) -> Report {
        let mut reader = Anthropic::default();
        for (name, data) in events {
            reader.event(Event::Whole {
                name: name.as_bytes(),
                data: data.as_bytes(),
            });
        }
        reader.report(Framing::Sse)
    }

    #[test]
    fn later_fields_replace_earlier_ones_and_nothing_is_summed() {
        let report = stream(&[
            (
                "message_start",
                r#"{"message":{"model":"claude-x","usage":{"input_tokens":10,
                "cache_read_input_tokens":5,"output_tokens":1}}}"#,
            ),
            ("message_delta", r#"{"usage":{"output_tokens":7}}"#),
            (
                "message_delta",
                r#"{"usage":{"output_tokens":9,"input_tokens":12}}"#,
            ),
            ("message_stop", "{}"),
        ]);
        assert_eq!(report.model.as_deref(), Some("claude-x"));
        assert_eq!(
            report.usage,
            Usage {
                input: 12,
                cache_read: 5,
                output: 9,
                ..Usage::default()
            }
        );
        assert!(report.output_reported && report.closed);
    }

    #[test]
    fn splits_cache_writes_by_lifetime() {
        let report = stream(&[(
            "message_delta",
            r#"{"usage":{"cache_creation_input_tokens":300,"cache_creation":
            {"ephemeral_5m_input_tokens":100,"ephemeral_1h_input_tokens":200},
            "output_tokens":4,"output_tokens_details":{"thinking_tokens":3},
            "server_tool_use":{"web_search_requests":2},"service_tier":"priority",
            "inference_geo":"us"}}"#,
        )]);
        assert_eq!(
            report.usage,
            Usage {
                cache_write_5m: 100,
                cache_write_1h: 200,
                output: 4,
                reasoning: 3,
                web_search_requests: 2,
                ..Usage::default()
            }
        );
        assert_eq!(report.service_tier.as_deref(), Some("priority"));
        assert_eq!(report.inference_geo.as_deref(), Some("us"));
    }

    #[test]
    fn a_write_without_a_split_is_five_minute() {
        let report = stream(&[(
            "message_start",
            r#"{"message":{"usage":{"cache_creation_input_tokens":2048,"output_tokens":1}}}"#,
        )]);
        assert_eq!(report.usage.cache_write_5m, 2048);
        assert!(
            !report.output_reported,
            "the placeholder output is not a report"
        );
    }

    #[test]
    fn counts_streamed_text_for_the_estimate() {
        let report = stream(&[
            (
                "content_block_delta",
                r#"{"delta":{"type":"text_delta","text":"abcd"}}"#,
            ),
            (
                "content_block_delta",
                r#"{"delta":{"type":"thinking_delta","thinking":"ef"}}"#,
            ),
            (
                "error",
                r#"{"type":"error","error":{"type":"overloaded_error"}}"#,
            ),
        ]);
        assert_eq!(
            (
                report.estimate.output_tokens(),
                report.estimate.reasoning_tokens()
            ),
            (2, 1)
        );
        assert!(report.stream_error && !report.closed);
    }
}
