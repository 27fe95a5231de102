//! Undoes the content coding of a response body as it streams past: gzip, deflate (zlib-wrapped
//! or raw) and br, whatever the chunk boundaries.
//!
//! Decoded bytes are never collected. Each input chunk is decoded through one buffer of
//! [`BUFFER_BYTES`] straight into the reader above, and one input chunk may yield at most a
//! set number of bytes ([`crate::Limits::max_decoded_bytes_per_chunk`]): that bounds the work a
//! decompression bomb can cause per chunk. Once a stream turns out corrupt or a chunk goes over
//! that bound, decoding stops for the rest of the response and what was read is kept.
//!
//! # Memory per response
//! - gzip and deflate: the inflate state, about 43 KiB (its 32 KiB window and code tables),
//!   plus the output buffer.
//! - br: the window the stream's header asks for, from 1 KiB to 16 MiB. The ring buffer grows
//!   with the output, so a short response costs little, but a stream can ask for its whole
//!   window at once, and while the ring buffer grows the old one is held too, so a br response
//!   can cost up to 24 MiB for a moment and 16 MiB after. Its prefix-code tables take tens of
//!   KiB in usual streams and about 3 MiB at worst (256 trees of each kind). Large-window
//!   streams (windows up to 1 GiB, which HTTP's `br` does not allow) are refused as corrupt.

mod brotli;
mod coding;
mod deflate;
mod gzip;
mod gzip_header;
mod output;

use self::brotli::Brotli;
use self::deflate::Deflate;
use self::gzip::Gzip;
use self::output::Sink;

pub(crate) use coding::Coding;

/// Size of the buffer decoded bytes pass through on their way to the reader.
pub(crate) const BUFFER_BYTES: usize = 16 * 1024;

/// Why decoding stopped before the body ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DecodeError {
    /// The bytes are not a valid stream of their coding (the coding is named).
    #[error("corrupt {0} stream")]
    Corrupt(&'static str),
    /// One input chunk decoded to more than the bound (in bytes).
    #[error("a body chunk decoded to more than {0} bytes")]
    TooLarge(usize),
}

#[derive(Debug)]
enum Codec {
    Gzip(Gzip),
    Deflate(Deflate),
    Brotli(Box<Brotli>),
}

/// Decodes one response body, chunk by chunk, into a reader.
#[derive(Debug)]
pub(crate) struct Decoder {
    codec: Codec,
    buffer: Box<[u8]>,
    /// Some input arrived: an empty body is complete without any coded stream.
    started: bool,
    stopped: Option<DecodeError>,
}

impl Decoder {
    /// A decoder for `coding`; `None` for no coding and for codings that are not supported.
    pub(crate) fn new(coding: Coding) -> Option<Decoder> {
        let codec = match coding {
            Coding::Gzip => Codec::Gzip(Gzip::new()),
            Coding::Deflate => Codec::Deflate(Deflate::new()),
            Coding::Brotli => Codec::Brotli(Box::new(Brotli::new())),
            Coding::Identity | Coding::Unsupported => return None,
        };
        Some(Decoder {
            codec,
            buffer: vec![0; BUFFER_BYTES].into_boxed_slice(),
            started: false,
            stopped: None,
        })
    }

    /// Decodes the next input chunk, handing what it yields to `read`, at most `limit` bytes.
    pub(crate) fn feed(&mut self, input: &[u8], limit: usize, read: &mut dyn FnMut(&[u8])) {
        if self.stopped.is_some() || input.is_empty() {
            return;
        }
        self.started = true;

        let mut sink = Sink::new(read, limit);
        let buffer = &mut self.buffer;
        let result = match &mut self.codec {
            Codec::Gzip(gzip) => gzip.feed(input, buffer, &mut sink),
            Codec::Deflate(deflate) => deflate.feed(input, buffer, &mut sink),
            Codec::Brotli(brotli) => brotli.feed(input, buffer, &mut sink),
        };
        if let Err(error) = result {
            self.stopped = Some(error);
        }
    }

    /// Why decoding stopped, if it did.
    pub(crate) fn error(&self) -> Option<DecodeError> {
        self.stopped
    }

    /// Whether the coded stream ended as its format says it must (or the body was empty).
    pub(crate) fn is_complete(&self) -> bool {
        let ended = match &self.codec {
            Codec::Gzip(gzip) => gzip.is_ended(),
            Codec::Deflate(deflate) => deflate.is_ended(),
            Codec::Brotli(brotli) => brotli.is_ended(),
        };
        !self.started || ended
    }
}
