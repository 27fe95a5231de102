//! Reads the model, the stream flag and the output cap from a request body, chunk by chunk,
//! holding one small member value at a time.

use serde_json::Value;

use crate::json::{MemberScanner, MemberSink, count, parse, text};
use crate::limits::Limits;

/// What a request body says about the call. Fields the body does not have stay empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestFacts {
    /// The top-level `model` (Gemini names its model in the path instead).
    pub model: Option<String>,
    /// The top-level `stream` is `true`.
    pub stream: bool,
    /// `stream_options.include_usage`, when the body sets it.
    pub include_usage: Option<bool>,
    /// The cap on output tokens: `max_tokens`, `max_completion_tokens`, `max_output_tokens` or
    /// `generationConfig.maxOutputTokens`, whichever the body has.
    pub max_tokens: Option<u64>,
}

/// Reads [`RequestFacts`] from a request body fed in chunks split anywhere.
#[derive(Debug)]
pub struct RequestReader {
    scanner: MemberScanner,
    facts: RequestFacts,
}

impl RequestReader {
    pub fn new() -> Self {
        let limit = Limits::default().max_json_value_bytes;
        RequestReader {
            scanner: MemberScanner::new(limit),
            facts: RequestFacts::default(),
        }
    }

    pub fn feed(&mut self, chunk: &[u8]) {
        self.scanner.feed(chunk, &mut self.facts);
    }

    /// What has been read so far; complete once the whole body was fed.
    pub fn facts(&self) -> RequestFacts {
        self.facts.clone()
    }
}

impl Default for RequestReader {
    fn default() -> Self {
        RequestReader::new()
    }
}

impl MemberSink for RequestFacts {
    fn wants(&self, key: &[u8]) -> bool {
        matches!(
            key,
            b"model"
                | b"stream"
                | b"stream_options"
                | b"max_tokens"
                | b"max_completion_tokens"
                | b"max_output_tokens"
                | b"generationConfig"
        )
    }

    fn member(&mut self, key: &[u8], value: &[u8]) {
        let Some(value) = parse(value) else { return };
        match key {
            b"model" => self.model = text(Some(&value)),
            b"stream" => self.stream = value.as_bool().unwrap_or(false),
            b"stream_options" => {
                self.include_usage = value.get("include_usage").and_then(Value::as_bool);
            }
            b"max_tokens" | b"max_completion_tokens" | b"max_output_tokens" => {
                self.max_tokens = count(&value, &[]).or(self.max_tokens);
            }
            b"generationConfig" => {
                self.max_tokens = count(&value, &["maxOutputTokens"]).or(self.max_tokens);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_top_level_fields_at_every_split() {
        let body = br#"{"messages":[{"role":"user","content":"{\"model\":\"no\"}"}],
            "model":"gpt-4.1","stream":true,"stream_options":{"include_usage":false},
            "max_completion_tokens":512,"metadata":{"stream":false}}"#;
        let want = RequestFacts {
            model: Some("gpt-4.1".into()),
            stream: true,
            include_usage: Some(false),
            max_tokens: Some(512),
        };
        for split in 0..=body.len() {
            let mut reader = RequestReader::new();
            reader.feed(&body[..split]);
            reader.feed(&body[split..]);
            assert_eq!(reader.facts(), want, "split {split}");
        }
    }

    #[test]
    fn reads_gemini_output_cap() {
        let mut reader = RequestReader::new();
        reader.feed(br#"{"contents":[],"generationConfig":{"maxOutputTokens":64}}"#);
        assert_eq!(reader.facts().max_tokens, Some(64));
    }

    #[test]
    fn a_body_that_is_not_json_says_nothing() {
        let mut reader = RequestReader::new();
        reader.feed(b"model=x&stream=true");
        assert_eq!(reader.facts(), RequestFacts::default());
    }
}
