//! Content encoding as a provider applies it: only when the client accepts it, and flushed after
//! every chunk so that a compressed stream still arrives chunk by chunk.

use std::io::{self, Write};

use flate2::Compression;
use flate2::write::{GzEncoder, ZlibEncoder};

use crate::exchange::ContentEncoding;

/// Brotli window and quality: what providers' front ends commonly use for text streams.
const BROTLI_QUALITY: u32 = 5;
const BROTLI_WINDOW_BITS: u32 = 22;
const BROTLI_BUFFER_BYTES: usize = 4096;

/// Whether an `accept-encoding` header value accepts `encoding` (RFC 9110 §12.5.3): the
/// encoding's own entry decides, else `*`; a weight of zero refuses.
pub(super) fn accepts(accept_encoding: Option<&str>, encoding: ContentEncoding) -> bool {
    let Some(header) = accept_encoding else {
        return false;
    };

    let mut wildcard = None;
    for entry in header.split(',') {
        let mut parts = entry.split(';');
        let token = parts.next().unwrap_or_default().trim();
        let weight = parts
            .filter_map(|param| {
                param
                    .trim()
                    .strip_prefix("q=")
                    .or(param.trim().strip_prefix("Q="))
            })
            .map(|q| q.trim().parse::<f32>().unwrap_or(0.0))
            .next()
            .unwrap_or(1.0);

        let named = token.eq_ignore_ascii_case(encoding.token())
            || (encoding == ContentEncoding::Gzip && token.eq_ignore_ascii_case("x-gzip"));
        if named {
            return weight > 0.0;
        }
        if token == "*" {
            wildcard = Some(weight > 0.0);
        }
    }
    wildcard.unwrap_or(false)
}

/// A streaming compressor whose output is drained after every chunk.
pub(super) struct Encoder(Inner);

enum Inner {
    Gzip(GzEncoder<Vec<u8>>),
    Deflate(ZlibEncoder<Vec<u8>>),
    Brotli(Box<brotli::CompressorWriter<Vec<u8>>>),
}

impl Encoder {
    pub fn new(encoding: ContentEncoding) -> Self {
        Encoder(match encoding {
            ContentEncoding::Gzip => {
                Inner::Gzip(GzEncoder::new(Vec::new(), Compression::default()))
            }
            ContentEncoding::Deflate => {
                Inner::Deflate(ZlibEncoder::new(Vec::new(), Compression::default()))
            }
            ContentEncoding::Brotli => Inner::Brotli(Box::new(brotli::CompressorWriter::new(
                Vec::new(),
                BROTLI_BUFFER_BYTES,
                BROTLI_QUALITY,
                BROTLI_WINDOW_BITS,
            ))),
        })
    }

    /// Compresses one chunk and flushes the compressor: the returned bytes let a decoder
    /// produce the whole chunk without waiting for more.
    pub fn push(&mut self, chunk: &[u8]) -> io::Result<Vec<u8>> {
        let writer: &mut dyn Write = match &mut self.0 {
            Inner::Gzip(encoder) => encoder,
            Inner::Deflate(encoder) => encoder,
            Inner::Brotli(encoder) => encoder.as_mut(),
        };
        writer.write_all(chunk)?;
        writer.flush()?;

        Ok(std::mem::take(self.output()))
    }

    /// Ends the compressed stream; the returned bytes are its trailer.
    pub fn finish(self) -> io::Result<Vec<u8>> {
        match self.0 {
            Inner::Gzip(encoder) => encoder.finish(),
            Inner::Deflate(encoder) => encoder.finish(),
            Inner::Brotli(encoder) => Ok(encoder.into_inner()),
        }
    }

    /// Compresses a whole body at once.
    pub fn whole(encoding: ContentEncoding, body: &[u8]) -> io::Result<Vec<u8>> {
        let mut encoder = Encoder::new(encoding);
        let mut compressed = encoder.push(body)?;
        compressed.extend(encoder.finish()?);
        Ok(compressed)
    }

    fn output(&mut self) -> &mut Vec<u8> {
        match &mut self.0 {
            Inner::Gzip(encoder) => encoder.get_mut(),
            Inner::Deflate(encoder) => encoder.get_mut(),
            Inner::Brotli(encoder) => encoder.get_mut(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const ALL: [ContentEncoding; 3] = [
        ContentEncoding::Gzip,
        ContentEncoding::Deflate,
        ContentEncoding::Brotli,
    ];

    #[test]
    fn accept_encoding_is_negotiated() {
        use ContentEncoding::{Brotli, Deflate, Gzip};

        assert!(!accepts(None, Gzip));
        assert!(accepts(Some("gzip"), Gzip));
        assert!(accepts(Some("GZIP"), Gzip));
        assert!(accepts(Some("x-gzip"), Gzip));
        assert!(accepts(Some("deflate, gzip;q=1.0, *;q=0.5"), Gzip));
        assert!(accepts(Some("gzip, deflate, br, zstd"), Brotli));
        assert!(accepts(Some("identity, *"), Deflate));
        assert!(!accepts(Some("identity"), Gzip));
        assert!(!accepts(Some("gzip;q=0"), Gzip));
        assert!(!accepts(Some("*;q=0.5, gzip;q=0"), Gzip));
        assert!(!accepts(Some("br, *;q=0"), Gzip));
        assert!(!accepts(Some(""), Gzip));
    }

    /// A decoder fed with bytes as they arrive, whose output can be read at any point.
    fn decoder(encoding: ContentEncoding) -> Box<dyn Decoder> {
        match encoding {
            ContentEncoding::Gzip => Box::new(flate2::write::GzDecoder::new(Vec::new())),
            ContentEncoding::Deflate => Box::new(flate2::write::ZlibDecoder::new(Vec::new())),
            ContentEncoding::Brotli => Box::new(brotli::DecompressorWriter::new(Vec::new(), 4096)),
        }
    }

    trait Decoder: Write {
        fn decoded(&mut self) -> &[u8];
    }

    impl Decoder for flate2::write::GzDecoder<Vec<u8>> {
        fn decoded(&mut self) -> &[u8] {
            self.get_ref()
        }
    }

    impl Decoder for flate2::write::ZlibDecoder<Vec<u8>> {
        fn decoded(&mut self) -> &[u8] {
            self.get_ref()
        }
    }

    impl Decoder for brotli::DecompressorWriter<Vec<u8>> {
        fn decoded(&mut self) -> &[u8] {
            self.get_ref()
        }
    }

    #[test]
    fn each_pushed_chunk_decodes_on_its_own() {
        let chunks: [&[u8]; 3] = [b"event: a\ndata: {}\n\n", b"event: b\n", b"data: {}\n\n"];

        for encoding in ALL {
            let mut encoder = Encoder::new(encoding);
            let mut decoder = decoder(encoding);
            let mut expected = Vec::new();

            for chunk in chunks {
                decoder.write_all(&encoder.push(chunk).unwrap()).unwrap();
                decoder.flush().unwrap();
                expected.extend_from_slice(chunk);
                assert_eq!(decoder.decoded(), expected, "{encoding}");
            }
            decoder.write_all(&encoder.finish().unwrap()).unwrap();
            decoder.flush().unwrap();
            assert_eq!(decoder.decoded(), expected, "{encoding}");
        }
    }

    #[test]
    fn whole_bodies_round_trip() {
        let body = b"{\"input_tokens\":2095}";

        for encoding in ALL {
            let compressed = Encoder::whole(encoding, body).unwrap();
            let mut decoder = decoder(encoding);
            decoder.write_all(&compressed).unwrap();
            decoder.flush().unwrap();

            assert_eq!(decoder.decoded(), body, "{encoding}");
        }
    }
}
