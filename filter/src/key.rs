//! The virtual key: where each API family carries it, and how the provider credential takes
//! its place.

use sha2::{Digest, Sha256};
use trimio_wire::Provider;

/// Why no single virtual key could be read from a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// no key in any header the provider's clients use
    #[error("no api key in the request")]
    Missing,
    /// two key headers with different values: which one would be charged is ambiguous
    #[error("the request carries conflicting api keys")]
    Conflicting,
}

/// Reads the virtual key from the request headers (names lowercase) and the query string.
///
/// Every place any provider's clients put a key is read, whatever the family, so that a key
/// sent twice in two places with two values is refused rather than guessed at.
pub fn read_key(headers: &[(String, String)], query: Option<&str>) -> Result<String, KeyError> {
    let mut found: Option<String> = None;
    let mut consider = |candidate: &str| -> Result<(), KeyError> {
        let candidate = candidate.trim();
        match &found {
            _ if candidate.is_empty() => Ok(()),
            Some(existing) if existing != candidate => Err(KeyError::Conflicting),
            Some(_) => Ok(()),
            None => {
                found = Some(candidate.to_owned());
                Ok(())
            }
        }
    };
    for (name, value) in headers {
        match name.as_str() {
            "x-api-key" | "x-goog-api-key" => consider(value)?,
            "authorization" => {
                if let Some(token) = bearer(value) {
                    consider(token)?;
                }
            }
            _ => {}
        }
    }
    if let Some(query) = query {
        for (name, value) in query_pairs(query) {
            if is_key_param(name) {
                consider(value)?;
            }
        }
    }
    found.ok_or(KeyError::Missing)
}

fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token)
}

fn query_pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split(['&', ';'])
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
}

/// Whether a query parameter's name is `key` as a server might read it: any case, spaces or
/// `+` around it, percent-encoded or not.
fn is_key_param(name: &str) -> bool {
    let decoded = percent_decode(name);
    decoded
        .trim_matches(|c: char| c == '+' || c.is_whitespace())
        .eq_ignore_ascii_case("key")
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (byte, hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(decoded)) => {
                out.push(decoded);
                i += 3;
            }
            _ => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Lowercase hex SHA-256 of a key: the only form of it that leaves the gateway.
pub fn key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The path with every `key` query parameter removed (Gemini's key in the URL).
pub fn strip_key_param(path: &str) -> Option<String> {
    let (base, query) = path.split_once('?')?;
    if !query_pairs(query).any(|(name, _)| is_key_param(name)) {
        return None;
    }
    let kept: Vec<&str> = query
        .split(['&', ';'])
        .filter(|pair| !pair.is_empty() && !is_key_param(pair.split('=').next().unwrap_or("")))
        .collect();
    Some(if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    })
}

/// The header that carries the provider credential upstream, and its value.
pub fn credential_header(provider: Provider, credential: &str) -> (&'static str, String) {
    match provider {
        Provider::Anthropic => ("x-api-key", credential.to_owned()),
        Provider::Openai => ("authorization", format!("Bearer {credential}")),
        Provider::Gemini => ("x-goog-api-key", credential.to_owned()),
    }
}

/// Headers that may carry a client's key; all are removed before the credential is set.
pub const KEY_HEADERS: [&str; 3] = ["x-api-key", "authorization", "x-goog-api-key"];

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn reads_each_place() {
        assert_eq!(
            read_key(&headers(&[("x-api-key", "tmk_a")]), None),
            Ok("tmk_a".into())
        );
        let bearer = headers(&[("authorization", "Bearer tmk_b")]);
        assert_eq!(read_key(&bearer, None), Ok("tmk_b".into()));
        let goog = headers(&[("x-goog-api-key", "tmk_c")]);
        assert_eq!(read_key(&goog, None), Ok("tmk_c".into()));
        assert_eq!(read_key(&[], Some("alt=sse&key=tmk_d")), Ok("tmk_d".into()));
        assert_eq!(read_key(&[], Some("%6Bey=tmk_e")), Ok("tmk_e".into()));
        let twice = headers(&[("x-api-key", "tmk_a")]);
        assert_eq!(
            read_key(&twice, Some("KEY=tmk_b")),
            Err(KeyError::Conflicting)
        );
    }

    #[test]
    fn same_key_twice_is_fine_two_keys_are_not() {
        let same = headers(&[("x-api-key", "tmk_a"), ("authorization", "Bearer tmk_a")]);
        assert_eq!(read_key(&same, None), Ok("tmk_a".into()));
        let two = headers(&[("x-api-key", "tmk_a"), ("x-api-key", "tmk_b")]);
        assert_eq!(read_key(&two, None), Err(KeyError::Conflicting));
        let query = headers(&[("x-goog-api-key", "tmk_a")]);
        assert_eq!(
            read_key(&query, Some("key=tmk_b")),
            Err(KeyError::Conflicting)
        );
    }

    #[test]
    fn missing_or_non_bearer_is_missing() {
        assert_eq!(read_key(&[], None), Err(KeyError::Missing));
        let basic = headers(&[("authorization", "Basic abc")]);
        assert_eq!(read_key(&basic, None), Err(KeyError::Missing));
    }

    #[test]
    fn strips_the_key_parameter_only() {
        let stripped = strip_key_param("/v1beta/models/m:streamGenerateContent?alt=sse&key=k");
        assert_eq!(
            stripped.as_deref(),
            Some("/v1beta/models/m:streamGenerateContent?alt=sse")
        );
        assert_eq!(
            strip_key_param("/v1beta/x?key=k").as_deref(),
            Some("/v1beta/x")
        );
        assert_eq!(strip_key_param("/v1beta/x?alt=sse"), None);
        for variant in ["KEY=k", "%6Bey=k", "+key=k", "a=1;key=k"] {
            let stripped = strip_key_param(&format!("/v1beta/x?{variant}")).unwrap();
            assert!(!stripped.contains("=k"), "{variant}: {stripped}");
        }
        assert_eq!(strip_key_param("/v1/messages"), None);
    }

    #[test]
    fn hashes_as_lowercase_hex() {
        assert_eq!(
            key_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
