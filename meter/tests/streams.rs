//! Responses that end badly, grow large or arrive in less common shapes.

use proptest::prelude::*;
use trimio_meter::{End, Limits, Meter, Reading};
use trimio_wire::{ApiFamily, Usage, UsageFlags};

const SSE: Option<&str> = Some("text/event-stream; charset=utf-8");
const JSON: Option<&str> = Some("application/json");

fn read(family: ApiFamily, content_type: Option<&str>, body: &[u8], end: End) -> Reading {
    read_with(family, content_type, Limits::default(), &[body], end)
}

fn read_with(
    family: ApiFamily,
    content_type: Option<&str>,
    limits: Limits,
    pieces: &[&[u8]],
    end: End,
) -> Reading {
    let mut meter = Meter::new(family, 200, content_type, limits);
    for piece in pieces {
        meter.feed(piece);
    }
    meter.finish(end)
}

/// Asserts that every two-piece split of `body` reads as `expected`.
fn same_at_every_split(family: ApiFamily, content_type: Option<&str>, body: &[u8], end: End) {
    let expected = read(family, content_type, body, end);
    for split in 0..=body.len() {
        let (a, b) = body.split_at(split);
        let reading = read_with(family, content_type, Limits::default(), &[a, b], end);
        assert_eq!(reading, expected, "split at {split}");
    }
}

fn anthropic_event(name: &str, data: &str) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

fn message_start() -> String {
    anthropic_event(
        "message_start",
        r#"{"type":"message_start","message":{"model":"claude-sonnet-4-5","usage":{"input_tokens":3,"cache_read_input_tokens":15000,"cache_creation_input_tokens":2048,"output_tokens":1}}}"#,
    )
}

fn text_delta(text: &str) -> String {
    let data = format!(
        r#"{{"type":"content_block_delta","index":0,"delta":{{"type":"text_delta","text":"{text}"}}}}"#
    );
    anthropic_event("content_block_delta", &data)
}

fn message_end() -> String {
    let delta = r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":40}}"#;
    anthropic_event("message_delta", delta)
        + &anthropic_event("message_stop", r#"{"type":"message_stop"}"#)
}

fn input_kinds() -> Usage {
    Usage {
        input: 3,
        cache_read: 15000,
        cache_write_5m: 2048,
        ..Usage::default()
    }
}

#[test]
fn a_giant_line_is_skipped_and_the_usage_still_read() {
    let giant = text_delta(&"x".repeat(300 * 1024));
    let body = message_start() + &giant + &text_delta("ok") + &message_end();

    let reading = read(
        ApiFamily::AnthropicMessages,
        SSE,
        body.as_bytes(),
        End::Complete,
    );
    assert_eq!(
        reading.usage,
        Usage {
            output: 40,
            ..input_kinds()
        }
    );
    assert_eq!(
        reading.flags,
        UsageFlags {
            too_large: true,
            ..UsageFlags::default()
        }
    );

    let pieces: Vec<&[u8]> = body.as_bytes().chunks(997).collect();
    let limits = Limits::default();
    let again = read_with(
        ApiFamily::AnthropicMessages,
        SSE,
        limits,
        &pieces,
        End::Complete,
    );
    assert_eq!(again, reading);
}

#[test]
fn a_truncated_stream_estimates_output_from_the_streamed_text() {
    // 10 + 7 characters were streamed: 5 tokens, never the placeholder 1 of message_start.
    let body = message_start() + &text_delta("0123456789") + &text_delta("abcdefg");
    for end in [End::UpstreamReset, End::Complete] {
        let reading = read(ApiFamily::AnthropicMessages, SSE, body.as_bytes(), end);
        assert_eq!(reading.model.as_deref(), Some("claude-sonnet-4-5"));
        assert_eq!(
            reading.usage,
            Usage {
                output: 5,
                ..input_kinds()
            }
        );
        let flags = UsageFlags {
            estimated: true,
            truncated: true,
            ..UsageFlags::default()
        };
        assert_eq!(reading.flags, flags, "{end:?}");
    }
    same_at_every_split(
        ApiFamily::AnthropicMessages,
        SSE,
        body.as_bytes(),
        End::UpstreamReset,
    );
}

#[test]
fn a_client_abort_is_estimated_and_flagged() {
    let body = message_start() + &text_delta("héllo wörld ✓✓");
    let reading = read(
        ApiFamily::AnthropicMessages,
        SSE,
        body.as_bytes(),
        End::ClientAborted,
    );
    assert_eq!(
        reading.usage,
        Usage {
            output: 4,
            ..input_kinds()
        }
    );
    let flags = UsageFlags {
        estimated: true,
        client_aborted: true,
        ..UsageFlags::default()
    };
    assert_eq!(reading.flags, flags);
    same_at_every_split(
        ApiFamily::AnthropicMessages,
        SSE,
        body.as_bytes(),
        End::ClientAborted,
    );
}

#[test]
fn an_abort_after_the_final_usage_keeps_the_reported_output() {
    let delta = r#"{"type":"message_delta","usage":{"output_tokens":40}}"#;
    let body = message_start() + &text_delta("hi") + &anthropic_event("message_delta", delta);
    let reading = read(
        ApiFamily::AnthropicMessages,
        SSE,
        body.as_bytes(),
        End::ClientAborted,
    );
    assert_eq!(
        reading.usage,
        Usage {
            output: 40,
            ..input_kinds()
        }
    );
    assert_eq!(
        reading.flags,
        UsageFlags {
            client_aborted: true,
            ..UsageFlags::default()
        }
    );
}

#[test]
fn an_error_event_mid_stream_estimates_output() {
    let error = r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
    let thinking = r#"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"abcdefgh"}}"#;
    let body = message_start()
        + &anthropic_event("content_block_delta", thinking)
        + &text_delta("abcd")
        + &anthropic_event("error", error);
    let reading = read(
        ApiFamily::AnthropicMessages,
        SSE,
        body.as_bytes(),
        End::Complete,
    );
    assert_eq!(
        reading.usage,
        Usage {
            output: 3,
            reasoning: 2,
            ..input_kinds()
        }
    );
    let flags = UsageFlags {
        estimated: true,
        stream_error: true,
        truncated: true,
        ..UsageFlags::default()
    };
    assert_eq!(reading.flags, flags);
}

#[test]
fn events_without_names_are_told_by_their_type() {
    let body = message_start() + &text_delta("abc") + &message_end();
    let unnamed: String = body
        .lines()
        .filter(|l| !l.starts_with("event:"))
        .map(|l| format!("{l}\n"))
        .collect();
    let reading = read(
        ApiFamily::AnthropicMessages,
        SSE,
        unnamed.as_bytes(),
        End::Complete,
    );
    assert_eq!(
        reading.usage,
        Usage {
            output: 40,
            ..input_kinds()
        }
    );
    assert_eq!(reading.flags, UsageFlags::default());
}

#[test]
fn gemini_sse_keeps_the_last_running_total() {
    let chunk = |text: &str, usage: &str, finish: &str| {
        format!(
            "data: {{\"candidates\": [{{\"content\": {{\"parts\": [{{\"text\": \"{text}\"}}],\"role\": \"model\"}}{finish}}}]{usage}, \"modelVersion\": \"gemini-2.5-flash\"}}\r\n\r\n"
        )
    };
    let body = chunk(
        "Hel",
        r#","usageMetadata": {"promptTokenCount": 120, "cachedContentTokenCount": 100, "candidatesTokenCount": 1, "totalTokenCount": 121}"#,
        "",
    ) + &chunk("lo", "", "")
        + &chunk(
            "!",
            r#","usageMetadata": {"promptTokenCount": 120, "cachedContentTokenCount": 100, "candidatesTokenCount": 3, "thoughtsTokenCount": 7}"#,
            r#","finishReason": "STOP""#,
        );
    let family = ApiFamily::GeminiStreamGenerate;

    let reading = read(family, SSE, body.as_bytes(), End::Complete);
    assert_eq!(reading.model.as_deref(), Some("gemini-2.5-flash"));
    assert_eq!(
        reading.usage,
        Usage {
            input: 20,
            cache_read: 100,
            output: 10,
            reasoning: 7,
            ..Usage::default()
        }
    );
    assert!(reading.streamed);
    assert_eq!(reading.flags, UsageFlags::default());
    same_at_every_split(family, SSE, body.as_bytes(), End::Complete);
}

#[test]
fn gemini_json_array_stream_is_read_element_by_element() {
    let body = r#"[{"candidates": [{"content": {"parts": [{"text": "Hi"}],"role": "model"}}],"usageMetadata": {"promptTokenCount": 50,"candidatesTokenCount": 1},"modelVersion": "gemini-2.5-pro"}
,
{"candidates": [{"content": {"parts": [{"text": " there"}],"role": "model"},"finishReason": "STOP"}],"usageMetadata": {"promptTokenCount": 50,"candidatesTokenCount": 4,"thoughtsTokenCount": 2},"modelVersion": "gemini-2.5-pro"}
]"#;
    let family = ApiFamily::GeminiStreamGenerate;
    let reading = read(family, JSON, body.as_bytes(), End::Complete);
    assert_eq!(
        reading.usage,
        Usage {
            input: 50,
            output: 6,
            reasoning: 2,
            ..Usage::default()
        }
    );
    assert!(reading.streamed);
    assert_eq!(reading.flags, UsageFlags::default());
    same_at_every_split(family, JSON, body.as_bytes(), End::Complete);

    let cut = &body.as_bytes()[..body.len() / 2 + 40];
    let reading = read(family, JSON, cut, End::UpstreamReset);
    assert_eq!(reading.usage.input, 50);
    assert!(reading.flags.estimated && reading.flags.truncated && !reading.flags.malformed);
}

#[test]
fn responses_incomplete_still_bills_what_it_reports() {
    let body = "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"model\":\"gpt-5\",\"usage\":null}}\n\n\
        event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"abc\"}\n\n\
        event: response.incomplete\ndata: {\"type\":\"response.incomplete\",\"response\":{\"model\":\"gpt-5\",\"status\":\"incomplete\",\"service_tier\":\"flex\",\"usage\":{\"input_tokens\":100,\"output_tokens\":64,\"input_tokens_details\":{\"cached_tokens\":0}}}}\n\n";
    let reading = read(
        ApiFamily::OpenaiResponses,
        SSE,
        body.as_bytes(),
        End::Complete,
    );
    assert_eq!(
        reading.usage,
        Usage {
            input: 100,
            output: 64,
            ..Usage::default()
        }
    );
    assert_eq!(reading.service_tier.as_deref(), Some("flex"));
    assert_eq!(reading.flags, UsageFlags::default());
}

#[test]
fn an_oversize_closing_event_still_gives_its_usage() {
    let output = "y".repeat(4096);
    let completed = format!(
        "event: response.completed\ndata: {{\"type\":\"response.completed\",\"response\":{{\"model\":\"gpt-5\",\"output\":[{{\"type\":\"message\",\"content\":[{{\"type\":\"output_text\",\"text\":\"{output}\"}}]}}],\"usage\":{{\"input_tokens\":10,\"input_tokens_details\":{{\"cached_tokens\":4}},\"output_tokens\":1024}},\"service_tier\":\"default\"}}}}\n\n"
    );
    let limits = Limits {
        max_event_bytes: 1024,
        ..Limits::default()
    };
    let pieces: Vec<&[u8]> = completed.as_bytes().chunks(100).collect();
    let reading = read_with(
        ApiFamily::OpenaiResponses,
        SSE,
        limits,
        &pieces,
        End::Complete,
    );
    assert_eq!(
        reading.usage,
        Usage {
            input: 6,
            cache_read: 4,
            output: 1024,
            ..Usage::default()
        }
    );
    assert_eq!(reading.service_tier.as_deref(), Some("default"));
    assert_eq!(
        reading.flags,
        UsageFlags {
            too_large: true,
            ..UsageFlags::default()
        }
    );
}

#[test]
fn malformed_json_keeps_what_was_read() {
    let body = br#"{"model":"gpt-4.1","usage":{"prompt_tokens":9,"completion_tokens":2}, oops"#;
    let reading = read(ApiFamily::OpenaiChat, JSON, body, End::Complete);
    assert_eq!(reading.model.as_deref(), Some("gpt-4.1"));
    assert_eq!(
        reading.usage,
        Usage {
            input: 9,
            output: 2,
            ..Usage::default()
        }
    );
    assert!(reading.flags.malformed && !reading.flags.estimated);
}

#[test]
fn a_json_value_over_the_bound_is_skipped_and_flagged() {
    let body = format!(
        r#"{{"content":[{{"type":"text","text":"{}"}}],"model":"claude-opus-4-5","usage":{{"input_tokens":5,"output_tokens":7,"x":"{}"}}}}"#,
        "a".repeat(5000),
        "b".repeat(2000)
    );
    let limits = Limits {
        max_json_value_bytes: 1024,
        ..Limits::default()
    };
    let reading = read_with(
        ApiFamily::AnthropicMessages,
        None,
        limits,
        &[body.as_bytes()],
        End::Complete,
    );
    assert_eq!(reading.model.as_deref(), Some("claude-opus-4-5"));
    assert!(reading.flags.too_large && reading.flags.estimated && !reading.flags.malformed);
}

#[test]
fn calls_that_are_never_billed_read_nothing() {
    let body = br#"{"model":"claude-x","usage":{"input_tokens":5,"output_tokens":7}}"#;
    for family in [ApiFamily::AnthropicCountTokens, ApiFamily::Other] {
        let reading = read(family, JSON, body, End::Complete);
        assert_eq!(reading, Reading::default());
    }
}

#[test]
fn chat_json_reads_top_level_usage() {
    let body = br#"{"id":"x","model":"gpt-4.1-mini","choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":2006,"completion_tokens":300,"prompt_tokens_details":{"cached_tokens":1920},"completion_tokens_details":{"reasoning_tokens":64}},"service_tier":"default"}"#;
    same_at_every_split(ApiFamily::OpenaiChat, JSON, body, End::Complete);
    let reading = read(ApiFamily::OpenaiChat, JSON, body, End::Complete);
    assert_eq!(
        reading.usage,
        Usage {
            input: 86,
            cache_read: 1920,
            output: 300,
            reasoning: 64,
            ..Usage::default()
        }
    );
    assert_eq!(reading.service_tier.as_deref(), Some("default"));
    assert!(!reading.streamed);
}

const FAMILIES: [ApiFamily; 7] = [
    ApiFamily::AnthropicMessages,
    ApiFamily::AnthropicCountTokens,
    ApiFamily::OpenaiChat,
    ApiFamily::OpenaiResponses,
    ApiFamily::GeminiGenerate,
    ApiFamily::GeminiStreamGenerate,
    ApiFamily::Other,
];

proptest! {
    #[test]
    fn any_bytes_in_any_chunks_read_without_panicking(
        body in proptest::collection::vec(any::<u8>(), 0..600),
        cuts in proptest::collection::vec(1usize..64, 0..8),
        limit in 1usize..128,
    ) {
        let limits = Limits {
            max_event_bytes: limit,
            max_json_value_bytes: limit,
            ..Limits::default()
        };
        for family in FAMILIES {
            for content_type in [SSE, JSON] {
                let mut meter = Meter::new(family, 200, content_type, limits);
                let mut rest = body.as_slice();
                for cut in &cuts {
                    let (a, b) = rest.split_at((*cut).min(rest.len()));
                    meter.feed(a);
                    rest = b;
                }
                meter.feed(rest);
                let _ = meter.finish(End::Complete);
            }
        }
    }

    #[test]
    fn json_like_bytes_read_without_panicking(
        body in r#"[\[\]{}":, a-z0-9\\\r\n-]{0,300}"#,
        limit in 1usize..64,
    ) {
        let limits = Limits {
            max_event_bytes: limit,
            max_json_value_bytes: limit,
            ..Limits::default()
        };
        for family in FAMILIES {
            for content_type in [SSE, JSON] {
                let mut meter = Meter::new(family, 200, content_type, limits);
                meter.feed(body.as_bytes());
                let _ = meter.finish(End::Complete);
            }
        }
    }

    #[test]
    fn any_event_text_reads_the_same_in_any_chunks(
        text in concat!(
            "(data: |data:|event: |message_start|message_delta|content_block_delta|error|",
            "response.completed|\\r|\\n|\\{|\\}|:|,|1|\"usage\"|\"message\"|",
            "\"input_tokens\"|\"output_tokens\"|\"text\"|\"model\"|\"m\"|\"é\"| ){0,80}"
        ),
        points in proptest::collection::vec(any::<usize>(), 0..12),
        limit in 8usize..256,
    ) {
        let body = text.as_bytes();
        let mut points: Vec<usize> = points.into_iter().map(|p| p % (body.len() + 1)).collect();
        points.sort_unstable();
        let mut pieces: Vec<&[u8]> = Vec::new();
        let mut from = 0;
        for p in points {
            pieces.push(&body[from..p]);
            from = p;
        }
        pieces.push(&body[from..]);

        let limits = Limits {
            max_event_bytes: limit,
            max_json_value_bytes: limit,
            ..Limits::default()
        };
        for family in FAMILIES {
            for content_type in [SSE, JSON] {
                for end in [End::Complete, End::UpstreamReset] {
                    let whole = read_with(family, content_type, limits, &[body], end);
                    let split = read_with(family, content_type, limits, &pieces, end);
                    prop_assert_eq!(split, whole);
                }
            }
        }
    }
}
