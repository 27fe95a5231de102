//! Reads string members out of event text by searching for their key, without parsing the
//! event: used where parsing every content delta would cost more than it tells.
//!
//! A key is found by its quoted form followed by a colon. Inside a JSON string every quote is
//! escaped, so the quoted key cannot match text inside a string value.

use memchr::memmem;

use super::is_space;

/// Total characters of every string value whose key is `quoted_key` (the key with its quotes,
/// such as `"text"`). An escape sequence counts as one character; non-string values are
/// skipped.
pub(crate) fn string_chars(data: &[u8], quoted_key: &[u8]) -> u64 {
    let mut total = 0;
    let mut from = 0;
    while let Some(at) = data
        .get(from..)
        .and_then(|rest| memmem::find(rest, quoted_key))
    {
        let after_key = from + at + quoted_key.len();
        match string_start(data, after_key) {
            Some(start) => {
                let (chars, end) = count_chars(data, start);
                total += chars;
                from = end;
            }
            None => from = after_key,
        }
    }
    total
}

/// The raw content of the first string value whose key is `quoted_key`.
pub(crate) fn first_string<'a>(data: &'a [u8], quoted_key: &[u8]) -> Option<&'a [u8]> {
    let mut from = 0;
    while let Some(at) = data
        .get(from..)
        .and_then(|rest| memmem::find(rest, quoted_key))
    {
        let after_key = from + at + quoted_key.len();
        if let Some(start) = string_start(data, after_key) {
            let (_, end) = count_chars(data, start);
            return data.get(start..end.saturating_sub(1));
        }
        from = after_key;
    }
    None
}

/// Index just past the opening quote of the value that follows a key ending at `at`, when that
/// value is a string.
fn string_start(data: &[u8], at: usize) -> Option<usize> {
    let mut i = skip_space(data, at);
    if data.get(i) != Some(&b':') {
        return None;
    }
    i = skip_space(data, i + 1);
    (data.get(i) == Some(&b'"')).then_some(i + 1)
}

/// Characters of the string whose content starts at `start`, and the index just past its
/// closing quote (or the end of the data).
fn count_chars(data: &[u8], start: usize) -> (u64, usize) {
    let mut chars = 0;
    let mut i = start;
    while let Some(&b) = data.get(i) {
        match b {
            b'"' => return (chars, i + 1),
            b'\\' => {
                chars += 1;
                i += if data.get(i + 1) == Some(&b'u') { 6 } else { 2 };
            }
            _ => {
                // UTF-8 continuation bytes do not start a character.
                if b & 0xC0 != 0x80 {
                    chars += 1;
                }
                i += 1;
            }
        }
    }
    (chars, data.len())
}

fn skip_space(data: &[u8], from: usize) -> usize {
    let rest = data.get(from..).unwrap_or_default();
    from + rest
        .iter()
        .position(|&b| !is_space(b))
        .unwrap_or(rest.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_characters_not_bytes() {
        let data = r#"{"delta":{"type":"text_delta","text":"héllo \"x\" \u00e9"}}"#;
        assert_eq!(string_chars(data.as_bytes(), br#""text""#), 11);
    }

    #[test]
    fn counts_every_occurrence_and_skips_other_types() {
        let data = br#"{"choices":[{"delta":{"content":"ab"}},{"delta":{"content":null}},
            {"delta":{"content" : "cd"}}],"logprobs":{"content":[]}}"#;
        assert_eq!(string_chars(data, br#""content""#), 4);
    }

    #[test]
    fn ignores_the_key_inside_a_string() {
        let data = br#"{"text":"say \"text\": \"no\"","other":1}"#;
        assert_eq!(string_chars(data, br#""text""#), 16);
    }

    #[test]
    fn finds_the_first_string() {
        let data = br#"{"type":"response.completed","response":{"type":"x"}}"#;
        assert_eq!(
            first_string(data, br#""type""#),
            Some(&b"response.completed"[..])
        );
        assert_eq!(first_string(b"{}", br#""type""#), None);
    }
}
