//! The exchanges compiled into the test binary, for targets that cannot read files (wasm). A
//! native test checks this list against the folders, so a new exchange cannot be left out.

use super::{Fixture, parse};

macro_rules! exchanges {
    ($($dir:literal => [$($file:literal),* $(,)?]),* $(,)?) => {
        /// Every embedded exchange: its file name and its text.
        pub const FILES: &[(&str, &str)] = &[
            $($(($file, include_str!(concat!($dir, $file))),)*)*
        ];
    };
}

exchanges! {
    "../../../../shared/fixtures/" => [
        "anthropic-agent-loop.exchange.json",
        "anthropic-claude-code-stream.exchange.json",
        "anthropic-count-tokens.exchange.json",
        "anthropic-json.exchange.json",
        "anthropic-rate-limited.exchange.json",
        "anthropic-stream-cumulative.exchange.json",
        "gemini-thoughts.exchange.json",
        "openai-chat-stream-no-usage-requested.exchange.json",
        "openai-chat-stream-usage.exchange.json",
        "openai-responses-stream.exchange.json",
    ],
    "../../../tests/exchanges/" => [
        "anthropic-api-error-500.exchange.json",
        "anthropic-cache-write-1h.exchange.json",
        "anthropic-cache-write-both-ttls.exchange.json",
        "anthropic-cache-write-no-split.exchange.json",
        "anthropic-client-abort.exchange.json",
        "anthropic-delta-output-only.exchange.json",
        "anthropic-delta-repeats-input.exchange.json",
        "anthropic-error-event-overloaded.exchange.json",
        "anthropic-inference-geo-us.exchange.json",
        "anthropic-json-gzip.exchange.json",
        "anthropic-json-provider-headers.exchange.json",
        "anthropic-long-context-at-threshold.exchange.json",
        "anthropic-long-context-via-cache.exchange.json",
        "anthropic-long-context.exchange.json",
        "anthropic-many-events-one-chunk.exchange.json",
        "anthropic-models-list.exchange.json",
        "anthropic-overloaded-529.exchange.json",
        "anthropic-paced-stream.exchange.json",
        "anthropic-service-tier-batch-web-search.exchange.json",
        "anthropic-service-tier-batch.exchange.json",
        "anthropic-service-tier-priority.exchange.json",
        "anthropic-split-between-line-breaks.exchange.json",
        "anthropic-split-inside-data.exchange.json",
        "anthropic-sse-crlf.exchange.json",
        "anthropic-stream-br.exchange.json",
        "anthropic-thinking-json.exchange.json",
        "anthropic-tool-use-stream-deflate.exchange.json",
        "anthropic-unpriced-model.exchange.json",
        "anthropic-upstream-reset.exchange.json",
        "anthropic-utf8-split.exchange.json",
        "anthropic-web-search-stream.exchange.json",
        "anthropic-web-search.exchange.json",
        "gemini-cached-content.exchange.json",
        "gemini-generate-gzip.exchange.json",
        "gemini-long-context-at-threshold.exchange.json",
        "gemini-long-context.exchange.json",
        "gemini-max-tokens-thoughts-only.exchange.json",
        "gemini-resource-exhausted-429.exchange.json",
        "gemini-stream-json-array.exchange.json",
        "gemini-stream-sse-gzip.exchange.json",
        "gemini-stream-sse-reset.exchange.json",
        "gemini-stream-sse-running-totals.exchange.json",
        "gemini-thoughts-flash.exchange.json",
        "gemini-tool-use-prompt.exchange.json",
        "openai-chat-json.exchange.json",
        "openai-chat-priority-downgraded.exchange.json",
        "openai-chat-rate-limited-429.exchange.json",
        "openai-chat-reasoning-json.exchange.json",
        "openai-chat-service-tier-flex.exchange.json",
        "openai-chat-service-tier-priority.exchange.json",
        "openai-chat-stream-gzip.exchange.json",
        "openai-chat-stream-include-usage-false.exchange.json",
        "openai-chat-stream-no-usage-requested-4o-mini.exchange.json",
        "openai-chat-stream-reset.exchange.json",
        "openai-chat-stream-usage-reasoning.exchange.json",
        "openai-chat-unauthorized-401.exchange.json",
        "openai-responses-completed-cached-reasoning.exchange.json",
        "openai-responses-completed-oversize.exchange.json",
        "openai-responses-failed.exchange.json",
        "openai-responses-incomplete.exchange.json",
        "openai-responses-json-deflate.exchange.json",
        "openai-responses-json-function-call.exchange.json",
        "openai-responses-json.exchange.json",
        "openai-responses-service-tier-flex.exchange.json",
        "openai-responses-service-tier-priority.exchange.json",
    ],
}

/// Every embedded exchange.
pub fn embedded() -> Vec<Fixture> {
    FILES
        .iter()
        .map(|(_, text)| parse(text.as_bytes()))
        .collect()
}
