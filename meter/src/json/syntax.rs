//! Whether bytes are exactly one JSON text (RFC 8259), checked in one pass without recursion,
//! so without a depth limit. Escapes are checked for their form only: a lone surrogate such as
//! `\ud83d` is JSON by the grammar, though serde_json refuses it.

use super::is_space;

/// What may come next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    /// A value: at the start, after `:`, or after `,` in an array.
    Value,
    /// A value or `]`, just after `[`.
    ValueOrEnd,
    /// A key, after `,` in an object.
    Key,
    /// A key or `}`, just after `{`.
    KeyOrEnd,
    Colon,
    /// `,` or the end of the open container, after a value.
    Next,
}

/// Whether `text` is one JSON value, with only whitespace around it.
pub(crate) fn is_json(text: &[u8]) -> bool {
    if std::str::from_utf8(text).is_err() {
        return false;
    }
    // The open containers, innermost last: `{` or `[`.
    let mut open: Vec<u8> = Vec::new();
    let mut want = Want::Value;
    let mut at = 0;
    loop {
        at += text
            .get(at..)
            .unwrap_or_default()
            .iter()
            .take_while(|&&b| is_space(b))
            .count();
        let Some(&b) = text.get(at) else {
            return want == Want::Next && open.is_empty();
        };
        if want == Want::Next && open.is_empty() {
            return false;
        }

        let innermost = open.last().copied();
        want = match (want, b) {
            (Want::ValueOrEnd, b']') | (Want::KeyOrEnd, b'}') => {
                open.pop();
                at += 1;
                Want::Next
            }
            (Want::Next, b']') if innermost == Some(b'[') => {
                open.pop();
                at += 1;
                Want::Next
            }
            (Want::Next, b'}') if innermost == Some(b'{') => {
                open.pop();
                at += 1;
                Want::Next
            }
            (Want::Next, b',') => {
                at += 1;
                if innermost == Some(b'{') {
                    Want::Key
                } else {
                    Want::Value
                }
            }
            (Want::Key | Want::KeyOrEnd | Want::Value | Want::ValueOrEnd, b'"') => {
                let Some(end) = string_end(text, at) else {
                    return false;
                };
                at = end;
                if matches!(want, Want::Key | Want::KeyOrEnd) {
                    Want::Colon
                } else {
                    Want::Next
                }
            }
            (Want::Colon, b':') => {
                at += 1;
                Want::Value
            }
            (Want::Value | Want::ValueOrEnd, b'{' | b'[') => {
                open.push(b);
                at += 1;
                if b == b'{' {
                    Want::KeyOrEnd
                } else {
                    Want::ValueOrEnd
                }
            }
            (Want::Value | Want::ValueOrEnd, _) => {
                let Some(end) = scalar_end(text, at) else {
                    return false;
                };
                at = end;
                Want::Next
            }
            _ => return false,
        };
    }
}

/// Where the string that opens at `at` ends (just after its closing quote).
fn string_end(text: &[u8], at: usize) -> Option<usize> {
    let mut i = at + 1;
    loop {
        match *text.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' => {
                i += match *text.get(i + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => 2,
                    b'u' => {
                        let hex = text.get(i + 2..i + 6)?;
                        hex.iter().all(u8::is_ascii_hexdigit).then_some(6)?
                    }
                    _ => return None,
                };
            }
            0x00..=0x1f => return None,
            _ => i += 1,
        }
    }
}

/// Where the number or literal that starts at `at` ends.
fn scalar_end(text: &[u8], at: usize) -> Option<usize> {
    let rest = text.get(at..)?;
    for literal in [&b"true"[..], b"false", b"null"] {
        if rest.starts_with(literal) {
            return Some(at + literal.len());
        }
    }

    let digits = |from: usize| {
        text.get(from..)
            .unwrap_or_default()
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    let mut i = at;
    if text.get(i) == Some(&b'-') {
        i += 1;
    }
    match text.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i += digits(i),
        _ => return None,
    }
    if text.get(i) == Some(&b'.') {
        let n = digits(i + 1);
        if n == 0 {
            return None;
        }
        i += 1 + n;
    }
    if matches!(text.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(text.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let n = digits(i);
        if n == 0 {
            return None;
        }
        i += n;
    }
    Some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_what_serde_json_takes() {
        let texts = [
            r#"{"a":[1,-2.5e+3,0,true,false,null,"x\"\\\/\b\f\n\r\t\u00e9"],"b":{}}"#,
            " [ ] ",
            "0",
            r#""""#,
            r#"{"a":{"b":[[],{}]}}"#,
        ];
        for text in texts {
            assert!(
                serde_json::from_str::<serde_json::Value>(text).is_ok(),
                "{text}"
            );
            assert!(is_json(text.as_bytes()), "{text}");
        }
    }

    #[test]
    fn refuses_what_is_not_json() {
        let texts = [
            // Found by fuzzing (`request`): brackets that balance in depth only.
            r#"{"contents": [{"ro": false}}, "stream": true}"#,
            "",
            "{",
            "{}}",
            "{} {}",
            r#"{"a" 1}"#,
            r#"{"a":1,}"#,
            "[1,]",
            "[1 2]",
            "[01]",
            "[1.]",
            "[.5]",
            "[1e]",
            "[-]",
            "[tru]",
            "[truex]",
            r#"["\x"]"#,
            r#"["\u12g4"]"#,
            "[\"a\nb\"]",
            r#"{1:2}"#,
        ];
        for text in texts {
            assert!(!is_json(text.as_bytes()), "{text}");
        }
        assert!(!is_json(b"[\"\xff\"]"));
    }

    #[test]
    fn takes_lone_surrogates_and_any_depth() {
        assert!(is_json(br#"{"x":"half \ud83d"}"#));
        let deep = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(is_json(deep.as_bytes()));
    }
}
