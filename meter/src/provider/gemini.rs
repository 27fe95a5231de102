//! Gemini `generateContent` and `streamGenerateContent`.
//!
//! Every chunk (a JSON body, an element of the JSON array stream, or an SSE event with
//! `?alt=sse`) may carry `usageMetadata`, the running total so far: the last chunk with usage
//! wins, and a chunk without usage never erases it. The model is `modelVersion`.
//!
//! Mapping: `promptTokenCount` includes `cachedContentTokenCount`, so uncached input is the
//! difference, plus `toolUsePromptTokenCount`; the cached part is a cache read; output is
//! `candidatesTokenCount` plus `thoughtsTokenCount`, which is billed as output and is its
//! reasoning part.

use serde::Deserialize;
use serde_json::Value;
use trimio_wire::Usage;

use super::observed::{Observed, Report};
use super::{Framing, contains};
use crate::json::{count, parse};
use crate::reading::End;
use crate::sse::Event;

/// The members of a chunk that matter; candidate content is skipped unparsed.
#[derive(Deserialize)]
struct ChunkHead {
    #[serde(rename = "usageMetadata")]
    usage_metadata: Option<Value>,
    #[serde(rename = "modelVersion")]
    model_version: Option<Value>,
    candidates: Option<Vec<Candidate>>,
    error: Option<Value>,
}

#[derive(Deserialize)]
struct Candidate {
    #[serde(rename = "finishReason")]
    finish_reason: Option<Value>,
}

#[derive(Debug, Default)]
pub(crate) struct Gemini {
    seen: Observed,
    usage: Option<Usage>,
    /// A candidate reported why it finished: the last chunk arrived.
    finished: bool,
}

impl Gemini {
    pub(crate) fn event(&mut self, event: Event<'_>) {
        let Event::Whole { data, .. } = event else {
            return;
        };
        let wanted = contains(data, br#""usageMetadata""#)
            || self.seen.model.is_none() && contains(data, br#""modelVersion""#)
            || contains(data, br#""finishReason""#)
            || contains(data, br#""error""#);
        if wanted {
            match serde_json::from_slice::<ChunkHead>(data) {
                Ok(head) => self.chunk(head),
                Err(_) => self.seen.malformed = true,
            }
        }
        self.seen.estimate.add_text(data, br#""text""#);
    }

    fn chunk(&mut self, head: ChunkHead) {
        if let Some(usage) = head.usage_metadata.as_ref() {
            self.usage_metadata(usage);
        }
        self.seen.model(head.model_version.as_ref());
        let finished = head.candidates.unwrap_or_default().iter().any(|c| {
            c.finish_reason
                .as_ref()
                .is_some_and(|r| r.as_str().is_some_and(|s| !s.is_empty()))
        });
        self.finished |= finished;
        if head.error.is_some_and(|e| !e.is_null()) {
            self.seen.stream_error = true;
        }
    }

    fn usage_metadata(&mut self, usage: &Value) {
        if !usage.is_object() {
            return;
        }
        let prompt = count(usage, &["promptTokenCount"]).unwrap_or(0);
        let cached = count(usage, &["cachedContentTokenCount"]).unwrap_or(0);
        let tool_prompt = count(usage, &["toolUsePromptTokenCount"]).unwrap_or(0);
        let candidates = count(usage, &["candidatesTokenCount"]).unwrap_or(0);
        let thoughts = count(usage, &["thoughtsTokenCount"]).unwrap_or(0);
        self.usage = Some(Usage {
            input: prompt.saturating_sub(cached).saturating_add(tool_prompt),
            cache_read: cached,
            output: candidates.saturating_add(thoughts),
            reasoning: thoughts,
            ..Usage::default()
        });
    }

    pub(crate) fn wants(&self, key: &[u8]) -> bool {
        matches!(key, b"usageMetadata" | b"modelVersion" | b"error")
    }

    pub(crate) fn member(&mut self, key: &[u8], value: &[u8]) {
        let Some(value) = parse(value) else {
            self.seen.malformed = true;
            return;
        };
        match key {
            b"usageMetadata" => self.usage_metadata(&value),
            b"modelVersion" => self.seen.model(Some(&value)),
            b"error" if !value.is_null() => self.seen.stream_error = true,
            _ => {}
        }
    }

    /// A server-sent stream has no closing event: it ended as it should when the last chunk
    /// said why it finished, or when the body ended.
    pub(crate) fn report(&self, end: End, framing: Framing) -> Report {
        let closed = match framing {
            Framing::Sse => self.finished || end == End::Complete,
            Framing::Json { complete } => complete,
        };
        let reported = self.usage.is_some() && closed;
        self.seen
            .report(self.usage.unwrap_or_default(), reported, closed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sse(chunks: &[&str], end: End) -> Report {
        let mut reader = Gemini::default();
        for data in chunks {
            reader.event(Event::Whole {
                name: b"",
                data: data.as_bytes(),
            });
        }
        reader.report(end, Framing::Sse)
    }

    #[test]
    fn the_last_chunk_with_usage_wins() {
        let report = sse(
            &[
                r#"{"candidates":[{"content":{"parts":[{"text":"Hi"}]}}],"usageMetadata":
                {"promptTokenCount":100,"cachedContentTokenCount":60,"candidatesTokenCount":1},
                "modelVersion":"gemini-2.5-flash"}"#,
                r#"{"candidates":[{"content":{"parts":[{"text":" there"}]},"finishReason":"STOP"}],
                "usageMetadata":{"promptTokenCount":100,"cachedContentTokenCount":60,
                "toolUsePromptTokenCount":5,"candidatesTokenCount":4,"thoughtsTokenCount":10}}"#,
                r#"{"candidates":[]}"#,
            ],
            End::ClientAborted,
        );
        assert_eq!(
            report.usage,
            Usage {
                input: 45,
                cache_read: 60,
                output: 14,
                reasoning: 10,
                ..Usage::default()
            }
        );
        assert_eq!(report.model.as_deref(), Some("gemini-2.5-flash"));
        assert!(report.output_reported && report.closed);
    }

    #[test]
    fn a_cut_stream_has_only_a_running_total() {
        let report = sse(
            &[r#"{"candidates":[{"content":{"parts":[{"text":"Hi"}]}}],
            "usageMetadata":{"promptTokenCount":9,"candidatesTokenCount":1}}"#],
            End::UpstreamReset,
        );
        assert!(!report.output_reported && !report.closed);
        assert_eq!(report.usage.input, 9);
    }
}
