//! Estimates output tokens that the provider never reported.
//!
//! When a stream ends before its final usage (the client went away, the upstream reset, an
//! error event arrived), the output that was generated is still billed by the provider. The
//! estimate is built from the text the client actually received: every character of text,
//! thinking and tool-argument deltas is counted (an escape sequence or a multi-byte UTF-8
//! character is one character), and output tokens are that count divided by four, rounded up.
//!
//! Four characters per token is the usual rule for English prose and code under current
//! tokenizers; it under-counts text in scripts that take about one token per character (CJK)
//! and ignores output the client never received. The reading is flagged `estimated`, so reports
//! can tell it from a reported count.

use crate::json::string_chars;

/// Characters per token assumed by the estimate.
const CHARS_PER_TOKEN: u64 = 4;

/// Characters of output seen so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct OutputEstimate {
    /// Characters of visible text and tool arguments.
    text_chars: u64,
    /// Characters of thinking or reasoning text.
    reasoning_chars: u64,
}

impl OutputEstimate {
    /// Counts the string values of `quoted_key` in `data` as visible output.
    pub(crate) fn add_text(&mut self, data: &[u8], quoted_key: &[u8]) {
        self.text_chars = self
            .text_chars
            .saturating_add(string_chars(data, quoted_key));
    }

    /// Counts the string values of `quoted_key` in `data` as reasoning output.
    pub(crate) fn add_reasoning(&mut self, data: &[u8], quoted_key: &[u8]) {
        self.reasoning_chars = self
            .reasoning_chars
            .saturating_add(string_chars(data, quoted_key));
    }

    /// Estimated output tokens, reasoning included.
    pub(crate) fn output_tokens(&self) -> u64 {
        tokens(self.text_chars.saturating_add(self.reasoning_chars))
    }

    /// Estimated reasoning tokens (a part of [`Self::output_tokens`]).
    pub(crate) fn reasoning_tokens(&self) -> u64 {
        tokens(self.reasoning_chars)
    }
}

fn tokens(chars: u64) -> u64 {
    chars.div_ceil(CHARS_PER_TOKEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_up_per_four_characters() {
        let mut estimate = OutputEstimate::default();
        assert_eq!(estimate.output_tokens(), 0);
        estimate.add_text(br#"{"text":"Hello"}"#, br#""text""#);
        assert_eq!(estimate.output_tokens(), 2);
        estimate.add_reasoning(br#"{"thinking":"abc"}"#, br#""thinking""#);
        assert_eq!(
            (estimate.output_tokens(), estimate.reasoning_tokens()),
            (2, 1)
        );
        estimate.add_text(br#"{"text":"!"}"#, br#""text""#);
        assert_eq!(estimate.output_tokens(), 3);
    }
}
