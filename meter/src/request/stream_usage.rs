//! Asks an OpenAI Chat stream to report its usage, which the provider sends only on request.
//!
//! The body is edited as text so every other byte stays as the client sent it: the option is
//! inserted after the opening brace, or merged into an existing `stream_options` object.

use std::ops::Range;

use serde_json::Value;

use crate::json::{Object, is_json};

const STREAM_OPTIONS: &[u8] = br#""stream_options":{"include_usage":true},"#;
const OPTIONS_VALUE: &[u8] = br#"{"include_usage":true}"#;
const INCLUDE_USAGE: &[u8] = br#""include_usage":true"#;

/// When `body` has `"stream": true` and does not ask for usage, a body that also asks for it
/// (`"stream_options":{"include_usage":true}`); else `None`, also when the body is not a JSON
/// object.
///
/// The body is read as a JSON parser reads it (escaped key names decoded, the last of duplicate
/// keys winning), and the textual edit is checked against that reading. Where they disagree
/// (escapes, duplicate keys), the body is re-serialized whole instead: its key order is kept,
/// its whitespace is not.
pub fn ask_for_stream_usage(body: &[u8]) -> Option<Vec<u8>> {
    let Ok(parsed) = serde_json::from_slice::<Value>(body) else {
        // A body serde_json refuses (a lone surrogate escape, nesting past its depth limit)
        // may still be one the provider accepts: read it as text instead. One that is not JSON
        // at all is left as it is.
        return (is_json(body) && needs_usage_textually(body))
            .then(|| edit_text(body))
            .flatten();
    };
    if !parsed.is_object() || !needs_usage(&parsed) {
        return None;
    }
    if let Some(edited) = edit_text(body)
        && serde_json::from_slice::<Value>(&edited).is_ok_and(|v| asks_for_usage(&v))
    {
        return Some(edited);
    }
    let mut value = parsed;
    let options = value.get_mut("stream_options");
    match options {
        Some(Value::Object(options)) => {
            options.insert("include_usage".to_owned(), Value::Bool(true));
        }
        _ => {
            value["stream_options"] = serde_json::json!({"include_usage": true});
        }
    }
    serde_json::to_vec(&value).ok()
}

fn streams(value: &Value) -> bool {
    value.get("stream") == Some(&Value::Bool(true))
}

fn needs_usage(value: &Value) -> bool {
    streams(value) && value.pointer("/stream_options/include_usage") != Some(&Value::Bool(true))
}

fn asks_for_usage(value: &Value) -> bool {
    streams(value) && value.pointer("/stream_options/include_usage") == Some(&Value::Bool(true))
}

/// The same question as [`needs_usage`], for a body only the textual reader can read: the
/// first of duplicate keys is what it sees.
fn needs_usage_textually(body: &[u8]) -> bool {
    let Ok(object) = Object::parse(body) else {
        return false;
    };
    let value_of = |text: &[u8], member: Option<&crate::json::Member>| {
        member
            .and_then(|m| text.get(m.value.clone()))
            .map(<[u8]>::to_vec)
    };
    let streams =
        value_of(body, object.get(body, b"stream")).as_deref() == Some(b"true".as_slice());
    let asked = object.get(body, b"stream_options").is_some_and(|options| {
        let Some(value) = body.get(options.value.clone()) else {
            return false;
        };
        let Ok(inner) = Object::parse(value) else {
            return false;
        };
        value_of(value, inner.get(value, b"include_usage")).as_deref() == Some(b"true".as_slice())
    });
    streams && !asked
}

/// The edit made as text, leaving every other byte as it was.
fn edit_text(body: &[u8]) -> Option<Vec<u8>> {
    let object = Object::parse(body).ok()?;
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

    fn reads(body: &str) -> Value {
        serde_json::from_slice(&ask_for_stream_usage(body.as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn escaped_key_names_are_read_as_a_parser_reads_them() {
        let value = reads(r#"{"model":"m","str\u0065am":true}"#);
        assert_eq!(value["stream_options"]["include_usage"], true);
        let value = reads(r#"{"stream":true,"stream\u005foptions":{"include_usage":false}}"#);
        assert_eq!(value["stream_options"]["include_usage"], true);
        let value = reads(r#"{"stream":true,"stream_options":{"include\u005fusage":false}}"#);
        assert_eq!(value["stream_options"]["include_usage"], true);
    }

    #[test]
    fn the_last_of_duplicate_keys_wins() {
        let value = reads(r#"{"stream":false,"stream":true}"#);
        assert_eq!(value["stream_options"]["include_usage"], true);
        let body = r#"{"stream":true,"stream_options":{"include_usage":true},
            "stream_options":{"include_usage":false}}"#;
        assert_eq!(reads(body)["stream_options"]["include_usage"], true);
        assert_eq!(ask(r#"{"stream":true,"stream":false}"#), None);
    }

    #[test]
    fn bodies_serde_refuses_are_edited_as_text() {
        let lone = r#"{"model":"m","stream":true,"messages":[{"content":"half \ud83d"}]}"#;
        assert!(serde_json::from_str::<Value>(lone).is_err());
        let edited = ask(lone).unwrap();
        assert!(
            edited.starts_with(r#"{"stream_options":{"include_usage":true},"#),
            "{edited}"
        );

        let deep = format!(
            r#"{{"stream":true,"tools":{}1{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        assert!(serde_json::from_str::<Value>(&deep).is_err());
        assert!(ask(&deep).is_some());
        let asked = r#"{"stream":true,"stream_options":{"include_usage":true},"x":"\ud83d"}"#;
        assert_eq!(ask(asked), None);
    }

    #[test]
    fn bodies_that_are_not_json_are_left_alone() {
        // Found by fuzzing (`request`): the brackets balance in depth only, and the edit made
        // as text gave a body that was not JSON either.
        assert_eq!(
            ask(r#"{"contents": [{"ro": false}}, "stream": true}"#),
            None
        );
        assert_eq!(ask(r#"{"stream":true,"x":[1 2]}"#), None);
    }
}
