//! Reading fields out of the API's JSON for people: tolerant of what is missing, so an answer
//! from a newer or older control plane still prints. What is read here for showing comes out
//! [`printable`]; [`str_of`] is for comparing and gives the field as it is.

use serde_json::Value;

use crate::printable::printable;

/// Shown where a field is null or missing.
pub const NONE: &str = "-";

/// A field as text to show: strings as they are, numbers and booleans written out, [`NONE`]
/// for null or missing; escaped by [`printable`].
pub fn text(value: &Value, key: &str) -> String {
    match value.get(key) {
        None | Some(Value::Null) => NONE.to_owned(),
        Some(Value::String(text)) => printable(text),
        Some(other) => printable(&other.to_string()),
    }
}

/// A string field to show, escaped by [`printable`], if there is one.
pub fn text_of(value: &Value, key: &str) -> Option<String> {
    str_of(value, key).map(printable)
}

/// A string field as it is, if there is one: for comparing, not for showing.
pub fn str_of<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// An array field, or nothing.
pub fn items<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// An RFC 3339 timestamp cut to its day.
pub fn day(value: &Value, key: &str) -> String {
    let full = text(value, key);
    match full.get(..10) {
        Some(date) if full.as_bytes().get(10) == Some(&b'T') => date.to_owned(),
        _ => full,
    }
}

/// An RFC 3339 timestamp to the moment, short where it can be: `2026-12-01` for a UTC
/// midnight, `2026-12-03 10:11` for another UTC time, `2026-12-02 00:00+01:00` elsewhere.
/// Anything else is shown as it is.
pub fn moment(value: &Value, key: &str) -> String {
    let full = text(value, key);
    let (Some(date), Some(time)) = (full.get(..10), full.get(11..16)) else {
        return full;
    };
    if full.as_bytes().get(10) != Some(&b'T') {
        return full;
    }
    let offset = if full.ends_with('Z') || full.ends_with('z') {
        None
    } else {
        full.get(full.len().saturating_sub(6)..)
            .filter(|tail| tail.starts_with(['+', '-']) && tail.as_bytes().get(3) == Some(&b':'))
            .filter(|tail| !tail.ends_with("00:00"))
    };
    match offset {
        None if time == "00:00" => date.to_owned(),
        None => format!("{date} {time}"),
        Some(offset) => format!("{date} {time}{offset}"),
    }
}

/// An estimate in USD (a burn rate, a projection) rounded half up to cents for people;
/// `<0.01` when it is above zero but rounds to nothing. Exact figures (spend, budgets) are
/// shown as the API gives them; anything that is not a plain decimal is shown as it is.
pub fn estimate(value: &Value, key: &str) -> String {
    let full = text(value, key);
    match round_cents(&full) {
        Some(rounded) if rounded == "0.00" && full.bytes().any(|b| (b'1'..=b'9').contains(&b)) => {
            "<0.01".to_owned()
        }
        Some(rounded) => rounded,
        None => full,
    }
}

/// `"491.189197"` to `"491.19"`, by digits, so nothing is lost to floating point.
fn round_cents(text: &str) -> Option<String> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) {
        return None;
    }

    let mut kept: Vec<u8> = whole
        .bytes()
        .chain(fraction.bytes().chain(*b"00").take(2))
        .collect();
    if fraction
        .as_bytes()
        .get(2)
        .is_some_and(|digit| *digit >= b'5')
    {
        let mut index = kept.len();
        loop {
            if index == 0 {
                kept.insert(0, b'1');
                break;
            }
            index -= 1;
            if kept[index] == b'9' {
                kept[index] = b'0';
            } else {
                kept[index] += 1;
                break;
            }
        }
    }
    let split = kept.len() - 2;
    let (whole, cents) = kept.split_at(split);
    Some(format!(
        "{}.{}",
        String::from_utf8_lossy(whole),
        String::from_utf8_lossy(cents)
    ))
}

/// `1 call`, `2 calls`.
pub fn plural(count: u64, noun: &str) -> String {
    if count == 1 {
        format!("1 {noun}")
    } else {
        format!("{count} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn writes_every_kind_of_field() {
        let value = json!({"s": "12.5", "n": 3, "b": true, "z": null, "a": [1]});
        assert_eq!(text(&value, "s"), "12.5");
        assert_eq!(text(&value, "n"), "3");
        assert_eq!(text(&value, "b"), "true");
        assert_eq!(text(&value, "z"), "-");
        assert_eq!(text(&value, "missing"), "-");
        assert_eq!(items(&value, "a").len(), 1);
        assert!(items(&value, "s").is_empty());
    }

    #[test]
    fn fields_for_showing_are_escaped() {
        let value = json!({"e": "http 500\n\u{1b}]0;pwned\u{7}", "a": ["\u{9b}2J"]});
        assert_eq!(text(&value, "e"), "http 500\\n\\u{1b}]0;pwned\\u{7}");
        assert_eq!(text(&value, "a"), "[\"\\u{9b}2J\"]");
        assert_eq!(text_of(&value, "e"), Some(text(&value, "e")));
        assert_eq!(str_of(&value, "e"), Some("http 500\n\u{1b}]0;pwned\u{7}"));
        let clear = json!({"t": "\u{1b}[2J"});
        assert_eq!(moment(&clear, "t"), "\\u{1b}[2J");
        assert_eq!(day(&clear, "t"), "\\u{1b}[2J");
    }

    #[test]
    fn rounds_estimates_to_cents_by_digits() {
        let value = json!({"a": "491.189197490764", "b": "15.845", "c": "9.995", "d": "99.999",
            "e": "0.002", "f": "0", "g": "7", "h": "0.5", "i": null, "j": "n/a"});
        let shown: Vec<String> = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]
            .iter()
            .map(|key| estimate(&value, key))
            .collect();
        assert_eq!(
            shown,
            [
                "491.19", "15.85", "10.00", "100.00", "<0.01", "0.00", "7.00", "0.50", "-", "n/a"
            ]
        );
    }

    #[test]
    fn shortens_timestamps() {
        let value = json!({"t": "2026-12-03T10:11:12Z", "d": "2026-12-03", "x": "soon"});
        assert_eq!(day(&value, "t"), "2026-12-03");
        assert_eq!(moment(&value, "t"), "2026-12-03 10:11");
        assert_eq!(day(&value, "d"), "2026-12-03");
        assert_eq!(moment(&value, "d"), "2026-12-03");
        assert_eq!(moment(&value, "x"), "soon");
        assert_eq!(moment(&value, "missing"), "-");

        let zones = json!({"utc": "2026-12-01T00:00:00+00:00", "z": "2026-12-01T00:00:00Z",
            "berlin": "2026-12-02T00:00:00+01:00", "ny": "2026-12-01T19:00:00.5-05:00"});
        assert_eq!(moment(&zones, "utc"), "2026-12-01");
        assert_eq!(moment(&zones, "z"), "2026-12-01");
        assert_eq!(moment(&zones, "berlin"), "2026-12-02 00:00+01:00");
        assert_eq!(moment(&zones, "ny"), "2026-12-01 19:00-05:00");
    }
}
