//! OpenAI Responses.
//!
//! Streamed, usage is in `response.usage` of the closing event: `response.completed`,
//! `response.incomplete` or `response.failed` (the last two still bill what they report). The
//! model and service tier are in `response` of every lifecycle event. A JSON body is the
//! response object itself.
//!
//! Mapping: `input_tokens` includes `input_tokens_details.cached_tokens`, so uncached input is
//! the difference and the cached part is a cache read; `output_tokens` is output with
//! `output_tokens_details.reasoning_tokens` as its reasoning part.
//!
//! The closing event repeats the whole response, output included, so it can exceed the event
//! bound. Then the usage is looked for in the event's last bytes, where the response object
//! puts it after its output.

use serde::Deserialize;
use serde_json::Value;
use trimio_wire::Usage;

use super::observed::{Observed, Report};
use super::{Framing, contains, kind, openai};
use crate::json::{first_string, is_space};
use crate::sse::Event;

/// A lifecycle event, with only the members that matter; the rest is skipped unparsed.
#[derive(Deserialize)]
struct Envelope {
    response: Option<ResponseHead>,
}

#[derive(Deserialize)]
struct ResponseHead {
    model: Option<Value>,
    service_tier: Option<Value>,
    usage: Option<Value>,
}

#[derive(Debug, Default)]
pub(crate) struct OpenaiResponses {
    seen: Observed,
    usage: Option<Usage>,
}

impl OpenaiResponses {
    pub(crate) fn event(&mut self, event: Event<'_>) {
        let kind = kind(&event);
        match (kind, event) {
            (
                b"response.created" | b"response.in_progress" | b"response.queued",
                Event::Whole { data, .. },
            ) if self.seen.model.is_none() => self.lifecycle(data),
            (b"response.completed" | b"response.incomplete" | b"response.failed", event) => {
                self.seen.closed = true;
                match event {
                    Event::Whole { data, .. } => self.lifecycle(data),
                    Event::Oversize { tail, .. } => self.salvage(tail),
                }
                if kind == b"response.failed" && self.usage.is_none() {
                    self.seen.stream_error = true;
                }
            }
            (b"error", _) => self.seen.stream_error = true,
            (kind, Event::Whole { data, .. }) if kind.ends_with(b".delta") => {
                if contains(kind, b"reasoning") {
                    self.seen.estimate.add_reasoning(data, br#""delta""#);
                } else if !contains(kind, b"audio") {
                    self.seen.estimate.add_text(data, br#""delta""#);
                }
            }
            _ => {}
        }
    }

    fn lifecycle(&mut self, data: &[u8]) {
        let Ok(envelope) = serde_json::from_slice::<Envelope>(data) else {
            self.seen.malformed = true;
            return;
        };
        let Some(response) = envelope.response else {
            return;
        };
        self.seen.model(response.model.as_ref());
        self.seen.service_tier(response.service_tier.as_ref());
        if let Some(usage) = response.usage.as_ref().filter(|u| u.is_object()) {
            self.usage = Some(normalize(usage));
        }
    }

    /// Reads the usage and service tier from the last bytes of an oversize closing event.
    fn salvage(&mut self, tail: &[u8]) {
        if let Some(usage) = last_object(tail, br#""usage""#) {
            self.usage = Some(normalize(&usage));
        }
        let tier = memchr::memmem::rfind(tail, br#""service_tier""#)
            .and_then(|at| tail.get(at..))
            .and_then(|from| first_string(from, br#""service_tier""#))
            .and_then(|raw| std::str::from_utf8(raw).ok())
            .map(|s| Value::String(s.to_owned()));
        self.seen.service_tier(tier.as_ref());
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

/// The names Responses gives its totals.
const NAMES: openai::Names = openai::Names {
    input: "input_tokens",
    input_details: "input_tokens_details",
    output: "output_tokens",
    output_details: "output_tokens_details",
};

fn normalize(usage: &Value) -> Usage {
    openai::normalize(usage, NAMES)
}

/// The object value of the last `quoted_key` in `text` whose value parses as an object.
fn last_object(text: &[u8], quoted_key: &[u8]) -> Option<Value> {
    memchr::memmem::rfind_iter(text, quoted_key).find_map(|at| {
        let rest = text.get(at + quoted_key.len()..)?;
        let colon = rest.iter().position(|&b| !is_space(b))?;
        if rest.get(colon) != Some(&b':') {
            return None;
        }
        let value = rest.get(colon + 1..)?;
        let mut values = serde_json::Deserializer::from_slice(value).into_iter::<Value>();
        values.next()?.ok().filter(Value::is_object)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::parse;

    #[test]
    fn cached_tokens_are_taken_out_of_the_input() {
        let usage = parse(
            br#"{"input_tokens":5000,"input_tokens_details":{"cached_tokens":4096},
            "output_tokens":800,"output_tokens_details":{"reasoning_tokens":512}}"#,
        )
        .unwrap();
        assert_eq!(
            normalize(&usage),
            Usage {
                input: 904,
                cache_read: 4096,
                output: 800,
                reasoning: 512,
                ..Usage::default()
            }
        );
    }

    #[test]
    fn salvages_usage_from_the_tail_of_an_oversize_closing_event() {
        let mut reader = OpenaiResponses::default();
        let tail = br#"xt":"..."}]}],"usage":{"input_tokens":10,"output_tokens":3},
            "service_tier":"flex","user":null}}"#;
        reader.event(Event::Oversize {
            name: b"response.completed",
            head: b"",
            tail,
        });
        let report = reader.report(Framing::Sse);
        assert_eq!(
            report.usage,
            Usage {
                input: 10,
                output: 3,
                ..Usage::default()
            }
        );
        assert_eq!(report.service_tier.as_deref(), Some("flex"));
        assert!(report.output_reported && report.closed);
    }

    #[test]
    fn a_failed_response_without_usage_is_a_stream_error() {
        let mut reader = OpenaiResponses::default();
        let data = br#"{"type":"response.failed","response":{"status":"failed","usage":null}}"#;
        reader.event(Event::Whole {
            name: b"response.failed",
            data,
        });
        let report = reader.report(Framing::Sse);
        assert!(report.stream_error && !report.output_reported);
    }

    #[test]
    fn counts_text_and_reasoning_deltas() {
        let mut reader = OpenaiResponses::default();
        let text = br#"{"type":"response.output_text.delta","delta":"abcdefgh"}"#;
        reader.event(Event::Whole {
            name: b"response.output_text.delta",
            data: text,
        });
        let thought = br#"{"type":"response.reasoning_summary_text.delta","delta":"abcd"}"#;
        reader.event(Event::Whole {
            name: b"",
            data: thought,
        });
        let report = reader.report(Framing::Sse);
        assert_eq!(
            (
                report.estimate.output_tokens(),
                report.estimate.reasoning_tokens()
            ),
            (3, 1)
        );
    }
}
