//! The response side of an exchange: what the provider returns, chunk by chunk.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use super::ExchangeError;

/// The provider's response, byte for byte and chunk by chunk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Response {
    pub status: u16,
    /// Sent with these exact values. Framing headers (`content-length`, `transfer-encoding`)
    /// are the mock's own business and are not taken from here.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Body pieces, each written and flushed on its own.
    #[serde(default)]
    pub chunks: Vec<String>,
    /// Replaces `chunks` where a boundary falls inside a UTF-8 character or the bytes are not
    /// text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks_base64: Option<Vec<String>>,
    /// Served instead when the request asks for usage (`stream_options.include_usage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks_when_usage_requested: Option<Vec<String>>,
    /// Pause between two chunks, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunk_delay_ms: Option<u64>,
    /// `gzip`, `deflate` or `br`: applied when the request accepts it, as a provider does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    /// The mock resets the TCP connection after sending this many chunks, instead of ending
    /// the body. A number at or above the chunk count resets after the last chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_after_chunks: Option<usize>,
}

impl Response {
    /// The bytes the mock sends, before content encoding, for a request that does or does not
    /// ask for usage.
    pub fn body_chunks(&self, usage_requested: bool) -> Result<Vec<Vec<u8>>, ExchangeError> {
        if usage_requested && let Some(chunks) = &self.chunks_when_usage_requested {
            return Ok(chunks
                .iter()
                .map(|chunk| chunk.as_bytes().to_vec())
                .collect());
        }

        match &self.chunks_base64 {
            Some(chunks) => chunks
                .iter()
                .enumerate()
                .map(|(index, chunk)| {
                    BASE64
                        .decode(chunk)
                        .map_err(|source| ExchangeError::Base64 { index, source })
                })
                .collect(),
            None => Ok(self
                .chunks
                .iter()
                .map(|chunk| chunk.as_bytes().to_vec())
                .collect()),
        }
    }

    /// The content encoding asked for, parsed; `None` when the field is absent.
    pub fn encoding(&self) -> Result<Option<ContentEncoding>, UnknownEncoding> {
        self.content_encoding.as_deref().map(str::parse).transpose()
    }
}

/// A content encoding the mock can apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContentEncoding {
    Gzip,
    /// HTTP's `deflate`: a zlib stream (RFC 1950), not raw deflate.
    Deflate,
    Brotli,
}

impl ContentEncoding {
    /// The token used in `content-encoding` and `accept-encoding`.
    pub fn token(self) -> &'static str {
        match self {
            ContentEncoding::Gzip => "gzip",
            ContentEncoding::Deflate => "deflate",
            ContentEncoding::Brotli => "br",
        }
    }
}

impl fmt::Display for ContentEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.token())
    }
}

/// A `content_encoding` other than `gzip`, `deflate` or `br`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown content encoding `{0}`: expected gzip, deflate or br")]
pub struct UnknownEncoding(pub String);

impl FromStr for ContentEncoding {
    type Err = UnknownEncoding;

    fn from_str(token: &str) -> Result<Self, Self::Err> {
        match token {
            "gzip" => Ok(ContentEncoding::Gzip),
            "deflate" => Ok(ContentEncoding::Deflate),
            "br" => Ok(ContentEncoding::Brotli),
            other => Err(UnknownEncoding(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response() -> Response {
        Response {
            status: 200,
            chunks: vec!["a".to_owned(), "b".to_owned()],
            ..Response::default()
        }
    }

    #[test]
    fn chunks_by_default() {
        let response = response();

        assert_eq!(
            response.body_chunks(false).unwrap(),
            vec![b"a".to_vec(), b"b".to_vec()]
        );
        assert_eq!(
            response.body_chunks(true).unwrap(),
            vec![b"a".to_vec(), b"b".to_vec()]
        );
    }

    #[test]
    fn usage_chunks_only_when_usage_is_requested() {
        let response = Response {
            chunks_when_usage_requested: Some(vec!["a".to_owned(), "u".to_owned()]),
            ..response()
        };

        assert_eq!(
            response.body_chunks(false).unwrap(),
            vec![b"a".to_vec(), b"b".to_vec()]
        );
        assert_eq!(
            response.body_chunks(true).unwrap(),
            vec![b"a".to_vec(), b"u".to_vec()]
        );
    }

    #[test]
    fn base64_replaces_chunks() {
        // "é" split between two chunks.
        let with = |chunks: [&str; 2]| Response {
            chunks_base64: Some(chunks.map(str::to_owned).to_vec()),
            ..response()
        };

        assert!(with(["w6=", "qQ=="]).body_chunks(false).is_err());
        assert_eq!(
            with(["ww==", "qQ=="]).body_chunks(false).unwrap(),
            vec![vec![0xc3], vec![0xa9]]
        );
    }

    #[test]
    fn encodings_parse() {
        let mut response = response();
        assert_eq!(response.encoding(), Ok(None));

        response.content_encoding = Some("br".to_owned());
        assert_eq!(response.encoding(), Ok(Some(ContentEncoding::Brotli)));

        response.content_encoding = Some("zstd".to_owned());
        assert_eq!(response.encoding(), Err(UnknownEncoding("zstd".to_owned())));
    }
}
