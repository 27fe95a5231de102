//! The request side: reading the fixtures' request bodies, and asking for stream usage.

mod common;

use common::fixtures;
use serde_json::Value;
use trimio_meter::request::{RequestReader, ask_for_stream_usage};
use trimio_wire::ApiFamily;

#[test]
fn reads_every_fixture_request_at_every_split() {
    for fixture in fixtures() {
        let body = &fixture.request_body;
        let parsed: Value = serde_json::from_slice(body).unwrap();

        let mut whole = RequestReader::new();
        whole.feed(body);
        let facts = whole.facts();
        assert_eq!(
            facts.model.as_deref(),
            parsed["model"].as_str(),
            "{}",
            fixture.name
        );
        assert_eq!(
            facts.stream,
            parsed["stream"] == Value::Bool(true),
            "{}",
            fixture.name
        );
        let max_tokens = [
            "/max_tokens",
            "/max_completion_tokens",
            "/max_output_tokens",
        ]
        .into_iter()
        .chain(["/generationConfig/maxOutputTokens"])
        .find_map(|pointer| parsed.pointer(pointer)?.as_u64());
        assert_eq!(facts.max_tokens, max_tokens, "{}", fixture.name);
        let include_usage = parsed["stream_options"]["include_usage"].as_bool();
        assert_eq!(facts.include_usage, include_usage, "{}", fixture.name);

        for split in (0..=body.len()).step_by((body.len() / 400).max(1)) {
            let mut reader = RequestReader::new();
            reader.feed(&body[..split]);
            reader.feed(&body[split..]);
            assert_eq!(reader.facts(), facts, "{} split at {split}", fixture.name);
        }
    }
}

#[test]
fn asks_for_usage_only_where_the_client_did_not() {
    for fixture in fixtures()
        .into_iter()
        .filter(|f| f.family == ApiFamily::OpenaiChat)
    {
        let asked = ask_for_stream_usage(&fixture.request_body);
        let parsed: Value = serde_json::from_slice(&fixture.request_body).unwrap();
        let wanted = parsed["stream"] == Value::Bool(true)
            && parsed.pointer("/stream_options/include_usage") != Some(&Value::Bool(true));
        assert_eq!(asked.is_some(), wanted, "{}", fixture.name);
    }
}

#[test]
fn the_rewritten_body_is_the_same_request_asking_for_usage() {
    let fixture = common::fixture("openai-chat-stream-no-usage-requested");
    let body = &fixture.request_body;
    let rewritten = ask_for_stream_usage(body).unwrap();

    let mut value: Value = serde_json::from_slice(&rewritten).unwrap();
    assert_eq!(value["stream_options"]["include_usage"], Value::Bool(true));
    value.as_object_mut().unwrap().remove("stream_options");
    assert_eq!(value, serde_json::from_slice::<Value>(body).unwrap());

    // Everything after the inserted member is byte for byte the client's body.
    assert!(rewritten.ends_with(&body[1..]));
}

#[test]
fn merges_into_an_existing_stream_options_and_stays_valid_json() {
    let cases = [
        (
            r#"{"model":"m","stream":true}"#,
            Some(r#"{"model":"m","stream":true,"stream_options":{"include_usage":true}}"#),
        ),
        (
            r#"{"model":"m","stream":true,"stream_options":{"continuous_usage_stats":false}}"#,
            Some(
                r#"{"model":"m","stream":true,"stream_options":{"include_usage":true,"continuous_usage_stats":false}}"#,
            ),
        ),
        (
            r#"{"stream":true,"stream_options":{"include_usage":false}}"#,
            Some(r#"{"stream":true,"stream_options":{"include_usage":true}}"#),
        ),
        (
            r#"{"stream":true,"stream_options":{"include_usage":true}}"#,
            None,
        ),
        (r#"{"model":"m"}"#, None),
        (r#"{"model":"m","stream":false}"#, None),
        (r#"{"stream":"true"}"#, None),
        ("not json", None),
    ];
    for (body, expected) in cases {
        let rewritten = ask_for_stream_usage(body.as_bytes());
        match expected {
            None => assert_eq!(rewritten, None, "{body}"),
            Some(expected) => {
                let rewritten = rewritten.unwrap();
                let got: Value = serde_json::from_slice(&rewritten).unwrap();
                let want: Value = serde_json::from_str(expected).unwrap();
                assert_eq!(got, want, "{body}");
            }
        }
    }
}
