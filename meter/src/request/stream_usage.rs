//! Asks an OpenAI Chat stream to report its usage, which the provider sends only on request.
//!
//! The body is edited as text so every other byte stays as the client sent it: the option is
//! inserted after the opening brace, or merged into an existing `stream_options` object.

use std::ops::Range;

use serde::de::IgnoredAny;

use crate::json::Object;

const STREAM_OPTIONS: &[u8] = br#""stream_options":{"include_usage":true},"#;
const OPTIONS_VALUE: &[u8] = br#"{"include_usage":true}"#;
const INCLUDE_USAGE: &[u8] = br#""include_usage":true"#;

/// When `body` has `"stream": true` and does not ask for usage, a body that also asks for it
/// (`"stream_options":{"include_usage":true}`); else `None`, also when the body is not a JSON
/// object.
pub fn ask_for_stream_usage(body: &[u8]) -> Option<Vec<u8>> {
    serde_json::from_slice::<IgnoredAny>(body).ok()?;
    let object = Object::parse(body).ok()?;
    let stream = object.get(body, b"stream")?;
    if body.get(stream.value.clone())? != b"true" {
        return None;
    }

    let Some(options) = object.get(body, b"stream_options") else {
        let at = object.open + 1;
        return Some(splice(body, at..at, STREAM_OPTIONS));
    };
    let value = body.get(options.value.clone())?;
    if value.first() != Some(&b'{') {
        return Some(splice(body, options.value.clone(), OPTIONS_VALUE));
    }

    let inner = Object::parse(value).ok()?;
    let base = options.value.start;
    match inner.get(value, b"include_usage") {
        Some(member) if value.get(member.value.clone()) == Some(b"true") => None,
        Some(member) => {
            let range = base + member.value.start..base + member.value.end;
            Some(splice(body, range, b"true"))
        }
        None => {
            let at = base + inner.open + 1;
            let separator: &[u8] = if inner.members.is_empty() { b"" } else { b"," };
            Some(splice(body, at..at, &[INCLUDE_USAGE, separator].concat()))
        }
    }
}

/// `body` with `range` replaced by `insert`.
fn splice(body: &[u8], range: Range<usize>, insert: &[u8]) -> Vec<u8> {
    let before = body.get(..range.start).unwrap_or_default();
    let after = body.get(range.end..).unwrap_or_default();
    [before, insert, after].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(body: &str) -> Option<String> {
        ask_for_stream_usage(body.as_bytes()).map(|b| String::from_utf8(b).unwrap())
    }

    #[test]
    fn inserts_the_option_after_the_opening_brace() {
        assert_eq!(
            ask(r#" {"model":"m","stream":true}"#).as_deref(),
            Some(r#" {"stream_options":{"include_usage":true},"model":"m","stream":true}"#)
        );
    }

    #[test]
    fn merges_into_existing_options() {
        assert_eq!(
            ask(r#"{"stream":true,"stream_options":{ }}"#).as_deref(),
            Some(r#"{"stream":true,"stream_options":{"include_usage":true }}"#)
        );
        assert_eq!(
            ask(r#"{"stream":true,"stream_options":{"x":1}}"#).as_deref(),
            Some(r#"{"stream":true,"stream_options":{"include_usage":true,"x":1}}"#)
        );
        assert_eq!(
            ask(r#"{"stream":true,"stream_options":{"include_usage": false}}"#).as_deref(),
            Some(r#"{"stream":true,"stream_options":{"include_usage": true}}"#)
        );
        assert_eq!(
            ask(r#"{"stream":true,"stream_options":null}"#).as_deref(),
            Some(r#"{"stream":true,"stream_options":{"include_usage":true}}"#)
        );
    }

    #[test]
    fn leaves_bodies_that_need_nothing() {
        assert_eq!(ask(r#"{"model":"m"}"#), None);
        assert_eq!(ask(r#"{"stream":false}"#), None);
        assert_eq!(
            ask(r#"{"stream":true,"stream_options":{"include_usage":true}}"#),
            None
        );
        assert_eq!(ask(r#"{"stream":true"#), None);
        assert_eq!(ask(r#"[{"stream":true}]"#), None);
    }
}
