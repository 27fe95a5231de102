//! Reading an answer's body with a cap, so a server (or a compressed body that inflates) cannot
//! make trimio hold more than it can use.

use std::io::{self, Read};

/// Bytes of a successful answer read at most. The largest answers are spend reports grouped
/// by day and user over a long range, far below this; anything longer fails.
pub const ANSWER_LIMIT: u64 = 64 * 1024 * 1024;

/// Bytes of a refusal read at most. The control plane's own are one line of JSON; the rest
/// of a longer body is not read, and the refusal is reported from what was.
pub const REFUSAL_LIMIT: u64 = 64 * 1024;

/// A body read up to a cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    /// The bytes read, at most the cap.
    pub bytes: Vec<u8>,
    /// Whether the body went on past the cap.
    pub cut: bool,
}

impl Body {
    /// The bytes as text; anything that is not UTF-8 becomes U+FFFD.
    pub fn into_text(self) -> String {
        String::from_utf8(self.bytes)
            .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
    }
}

/// Reads at most `limit` bytes, and one more to learn whether there was more; stops there
/// however long the body is.
pub fn read_capped(body: impl Read, limit: u64) -> io::Result<Body> {
    let mut bytes = Vec::new();
    body.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;

    let cut = bytes.len() as u64 > limit;
    if cut {
        // `limit` is below the length read, which is a usize.
        bytes.truncate(limit as usize);
    }
    Ok(Body { bytes, cut })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_short_body_whole() {
        let body = read_capped(&b"{\"teams\":[]}"[..], 12).unwrap();
        assert_eq!(
            body,
            Body {
                bytes: b"{\"teams\":[]}".to_vec(),
                cut: false
            }
        );
        assert_eq!(body.into_text(), "{\"teams\":[]}");
    }

    #[test]
    fn stops_at_the_cap_of_an_endless_body() {
        let body = read_capped(io::repeat(b'x'), REFUSAL_LIMIT).unwrap();
        assert!(body.cut);
        assert_eq!(body.bytes.len() as u64, REFUSAL_LIMIT);

        let body = read_capped(&b"abcdef"[..], 5).unwrap();
        assert_eq!((body.bytes.as_slice(), body.cut), (&b"abcde"[..], true));
    }

    #[test]
    fn text_survives_a_cut_inside_a_character() {
        let body = read_capped("é".as_bytes(), 1).unwrap();
        assert_eq!(body.into_text(), "\u{fffd}");
    }
}
