//! Compresses exchange bodies as a provider's server would: one coded stream, flushed after
//! every chunk so each can be decoded as it arrives, and finished only if the exchange was.

use std::io::Write;

use flate2::Compression;
use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};

/// A content coding, with the two framings `deflate` is sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gzip,
    /// `deflate` as HTTP defines it: a zlib stream.
    Zlib,
    /// `deflate` as some servers send it: raw deflate, without the zlib wrapper.
    RawDeflate,
    Brotli,
}

impl Encoding {
    pub const ALL: [Encoding; 4] = [
        Encoding::Gzip,
        Encoding::Zlib,
        Encoding::RawDeflate,
        Encoding::Brotli,
    ];

    /// The `content-encoding` header the body is sent with.
    pub fn header(self) -> &'static str {
        match self {
            Encoding::Gzip => "gzip",
            Encoding::Zlib | Encoding::RawDeflate => "deflate",
            Encoding::Brotli => "br",
        }
    }

    /// `chunks` as one coded stream, flushed after each chunk; `finish` ends the stream.
    pub fn compress(self, chunks: &[Vec<u8>], finish: bool) -> Vec<u8> {
        self.compress_in_pieces(chunks, finish).concat()
    }

    /// As [`Encoding::compress`], in the pieces a server sends: what each chunk's flush
    /// wrote, the end of the stream included in the last.
    pub fn compress_in_pieces(self, chunks: &[Vec<u8>], finish: bool) -> Vec<Vec<u8>> {
        match self {
            Encoding::Gzip => {
                let encoder = GzEncoder::new(Vec::new(), Compression::default());
                flate(encoder, chunks, finish, |e| e.finish(), |e| e.get_ref())
            }
            Encoding::Zlib => {
                let encoder = ZlibEncoder::new(Vec::new(), Compression::default());
                flate(encoder, chunks, finish, |e| e.finish(), |e| e.get_ref())
            }
            Encoding::RawDeflate => {
                let encoder = DeflateEncoder::new(Vec::new(), Compression::default());
                flate(encoder, chunks, finish, |e| e.finish(), |e| e.get_ref())
            }
            Encoding::Brotli => {
                let encoder = brotli::CompressorWriter::new(Vec::new(), 4096, 5, 22);
                flate(
                    encoder,
                    chunks,
                    finish,
                    |e| Ok(e.into_inner()),
                    |e| e.get_ref(),
                )
            }
        }
    }
}

/// Writes and flushes each chunk, noting what each flush added, and ends the stream with `end`
/// when `finish` is set.
fn flate<E: Write>(
    mut encoder: E,
    chunks: &[Vec<u8>],
    finish: bool,
    end: impl FnOnce(E) -> std::io::Result<Vec<u8>>,
    written: impl Fn(&E) -> &Vec<u8>,
) -> Vec<Vec<u8>> {
    let mut pieces = Vec::new();
    let mut sent = 0;
    for chunk in chunks {
        encoder.write_all(chunk).unwrap();
        encoder.flush().unwrap();
        let so_far = written(&encoder);
        pieces.push(so_far[sent..].to_vec());
        sent = so_far.len();
    }
    if finish {
        let whole = end(encoder).unwrap();
        match pieces.last_mut() {
            Some(last) => last.extend_from_slice(&whole[sent..]),
            None => pieces.push(whole),
        }
    }
    pieces
}
