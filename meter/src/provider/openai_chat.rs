//! OpenAI Chat Completions.
//!
//! Streamed, every chunk names the model and usage comes once, in a chunk of its own near the
//! end, and only when the request asked for it (`stream_options.include_usage`); before it,
//! chunks carry `"usage":null` or no usage at all. `data: [DONE]` closes the stream. A JSON
//! body has `model` and `usage` at the top.
//!
//! Mapping: `prompt_tokens` includes `prompt_tokens_details.cached_tokens`, so uncached input
//! is the difference and the cached part is a cache read; `completion_tokens` is output with
//! reasoning included, and `completion_tokens_details.reasoning_tokens` is that part.

use serde::Deserialize;
use serde_json::Value;
use trimio_wire::Usage;

use super::observed::{Observed, Report};
use super::{Framing, contains, openai};
use crate::json::{is_space, trim};
use crate::sse::Event;

/// The members of a chunk that matter; the rest (choices, content) is skipped unparsed.
#[derive(Deserialize)]
struct ChunkHead {
    model: Option<Value>,
    usage: Option<Value>,
    service_tier: Option<Value>,
    error: Option<Value>,
}

#[derive(Debug, Default)]
pub(crate) struct OpenaiChat {
    seen: Observed,
    usage: Option<Usage>,
}

impl OpenaiChat {
    pub(crate) fn event(&mut self, event: Event<'_>) {
        let Event::Whole { data, .. } = event else {
            return;
        };
        if trim(data) == b"[DONE]" {
            self.seen.closed = true;
            return;
        }

        let has_usage = usage_object_follows(data);
        let wanted = has_usage
            || self.seen.model.is_none() && contains(data, br#""model""#)
            || contains(data, br#""error""#);
        if wanted {
            match serde_json::from_slice::<ChunkHead>(data) {
                Ok(head) => self.chunk(head),
                Err(_) => self.seen.malformed = true,
            }
        }

        if !has_usage {
            self.seen.estimate.add_text(data, br#""content""#);
            self.seen.estimate.add_text(data, br#""refusal""#);
            self.seen.estimate.add_text(data, br#""arguments""#);
            self.seen
                .estimate
                .add_reasoning(data, br#""reasoning_content""#);
        }
    }

    fn chunk(&mut self, head: ChunkHead) {
        self.seen.model(head.model.as_ref());
        self.seen.service_tier(head.service_tier.as_ref());
        if let Some(usage) = head.usage.as_ref().filter(|u| u.is_object()) {
            self.usage = Some(normalize(usage));
        }
        if head.error.is_some_and(|e| !e.is_null()) {
            self.seen.stream_error = true;
        }
    }

    pub(crate) fn wants(&self, key: &[u8]) -> bool {
        openai::wants(key)
    }

    pub(crate) fn member(&mut self, key: &[u8], value: &[u8]) {
        openai::member(&mut self.seen, &mut self.usage, NAMES, key, value);
    }

    pub(crate) fn report(&self, framing: Framing) -> Report {
        openai::report(&self.seen, self.usage, framing)
    }
}

/// The names Chat Completions gives its totals.
const NAMES: openai::Names = openai::Names {
    input: "prompt_tokens",
    input_details: "prompt_tokens_details",
    output: "completion_tokens",
    output_details: "completion_tokens_details",
};

fn normalize(usage: &Value) -> Usage {
    openai::normalize(usage, NAMES)
}

/// Whether some `"usage"` key in `data` is followed by an object (not `null`).
fn usage_object_follows(data: &[u8]) -> bool {
    const KEY: &[u8] = br#""usage""#;
    memchr::memmem::find_iter(data, KEY).any(|at| {
        let rest = data.get(at + KEY.len()..).unwrap_or_default();
        let mut bytes = rest.iter().copied().filter(|&b| !is_space(b));
        bytes.next() == Some(b':') && bytes.next() == Some(b'{')
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse;

    #[test]
    fn finds_a_usage_object_but_not_a_null() {
        assert!(usage_object_follows(br#"{"usage" : {"prompt_tokens":1}}"#));
        assert!(!usage_object_follows(br#"{"usage":null,"x":{}}"#));
        assert!(!usage_object_follows(br#"{"content":"\"usage\":{"}"#));
    }

    #[test]
    fn cached_tokens_are_taken_out_of_the_prompt() {
        let usage = parse(
            br#"{"prompt_tokens":1500,"completion_tokens":300,
            "prompt_tokens_details":{"cached_tokens":1024},
            "completion_tokens_details":{"reasoning_tokens":100}}"#,
        )
        .unwrap();
        assert_eq!(
            normalize(&usage),
            Usage {
                input: 476,
                cache_read: 1024,
                output: 300,
                reasoning: 100,
                ..Usage::default()
            }
        );
    }

    #[test]
    fn an_error_chunk_is_a_stream_error() {
        let mut reader = OpenaiChat::default();
        let data = br#"{"error":{"message":"server_error","type":"server_error"}}"#;
        reader.event(Event::Whole { name: b"", data });
        assert!(reader.report(Framing::Sse).stream_error);
    }
}
