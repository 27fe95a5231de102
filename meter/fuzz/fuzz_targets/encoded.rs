//! The meter on compressed bodies (gzip, deflate in both framings, br), cut anywhere.
//!
//! Half of the inputs are taken as the compressed stream itself: the meter never panics, and
//! unless the stream is corrupt or overgrown, the cuts never change the reading. The other
//! half are plain bodies compressed here, flushed at the cuts, and maybe with one byte
//! flipped: unflipped, they must read exactly as the plain body does.

#![no_main]

use std::io::Write;

use flate2::Compression;
use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
use libfuzzer_sys::fuzz_target;
use trimio_meter_fuzz::{Input, cut, read};

const SSE: &str = "text/event-stream";
const JSON: &str = "application/json";

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::parse(data) else {
        return;
    };
    let coding = input.seed & 0x03;
    let header = ["gzip", "deflate", "deflate", "br"][coding as usize];
    let content_type = if input.seed & 0x04 == 0 { SSE } else { JSON };
    let (family, limits, end) = (input.family(), input.limits(), input.end());

    if input.control & 0x40 == 0 {
        let whole = read(
            family,
            content_type,
            Some(header),
            limits,
            &[input.body],
            end,
        );
        let pieces = input.pieces();
        let cut = read(family, content_type, Some(header), limits, &pieces, end);
        if !whole.flags.malformed && !whole.flags.too_large {
            assert_eq!(
                whole, cut,
                "the reading depends on where the stream was cut"
            );
        }
        return;
    }

    let pieces = input.pieces();
    let mut coded = compress(coding, &pieces);
    let flip = (input.seed >> 8) as usize % (coded.len() * 2 + 1);
    if let Some(byte) = coded.get_mut(flip) {
        *byte ^= (input.seed >> 32) as u8 | 1;
    }
    let coded_pieces = cut(&coded, input.seed.rotate_left(17));
    let decoded = read(
        family,
        content_type,
        Some(header),
        limits,
        &coded_pieces,
        end,
    );
    if flip >= coded.len() && !decoded.flags.too_large {
        let plain = read(family, content_type, None, limits, &pieces, end);
        assert_eq!(
            decoded, plain,
            "a compressed body reads unlike the plain one"
        );
    }
});

/// The pieces as one stream in the coding, flushed after each piece and then ended.
fn compress(coding: u64, pieces: &[&[u8]]) -> Vec<u8> {
    match coding {
        0 => flate(
            GzEncoder::new(Vec::new(), Compression::fast()),
            pieces,
            |e| e.finish(),
        ),
        1 => flate(
            ZlibEncoder::new(Vec::new(), Compression::fast()),
            pieces,
            |e| e.finish(),
        ),
        2 => flate(
            DeflateEncoder::new(Vec::new(), Compression::fast()),
            pieces,
            |e| e.finish(),
        ),
        _ => {
            let encoder = brotli::CompressorWriter::new(Vec::new(), 4096, 4, 18);
            flate(encoder, pieces, |e| Ok(e.into_inner()))
        }
    }
}

fn flate<E: Write>(
    mut encoder: E,
    pieces: &[&[u8]],
    end: impl FnOnce(E) -> std::io::Result<Vec<u8>>,
) -> Vec<u8> {
    for piece in pieces {
        // Writing to a Vec does not fail.
        let _ = encoder.write_all(piece);
        let _ = encoder.flush();
    }
    end(encoder).unwrap_or_default()
}
