//! Reads counts and names from parsed values, taking what makes sense and ignoring the rest:
//! a count of the wrong type is absent, never an error.

use serde_json::Value;

/// Longest name (model, tier, region) kept; anything longer is not a name.
const MAX_NAME_BYTES: usize = 256;

/// Parses one JSON value; `None` when the bytes are not JSON.
pub(crate) fn parse(bytes: &[u8]) -> Option<Value> {
    serde_json::from_slice(bytes).ok()
}

/// The non-negative integer at `path` under `value`. A float is truncated; a negative number, a
/// string or anything else is absent.
pub(crate) fn count(value: &Value, path: &[&str]) -> Option<u64> {
    let mut at = value;
    for key in path {
        at = at.get(key)?;
    }
    match at.as_u64() {
        Some(n) => Some(n),
        None => at
            .as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .map(|f| f as u64),
    }
}

/// A short non-empty string, else `None`.
pub(crate) fn text(value: Option<&Value>) -> Option<String> {
    let s = value?.as_str()?;
    (!s.is_empty() && s.len() <= MAX_NAME_BYTES).then(|| s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_lenient() {
        let v = parse(br#"{"a":{"b":7},"f":2.9,"neg":-1,"s":"3","big":1e300}"#).unwrap();
        assert_eq!(count(&v, &["a", "b"]), Some(7));
        assert_eq!(count(&v, &["f"]), Some(2));
        assert_eq!(count(&v, &["neg"]), None);
        assert_eq!(count(&v, &["s"]), None);
        assert_eq!(count(&v, &["a", "missing"]), None);
        assert_eq!(count(&v, &["big"]), Some(u64::MAX));
    }

    #[test]
    fn names_are_short_strings() {
        let v = parse(br#"{"m":"gpt","e":"","n":3}"#).unwrap();
        assert_eq!(text(v.get("m")), Some("gpt".to_owned()));
        assert_eq!(text(v.get("e")), None);
        assert_eq!(text(v.get("n")), None);
    }
}
