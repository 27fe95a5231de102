//! Compressed bodies read as their plain form, whatever the chunking, and a corrupt or
//! overgrown stream is flagged rather than trusted.

mod common;

use common::checks::{self, compressed_in_one_go, points, reading_of, seen_body};
use common::coding::Encoding;
use common::fixtures;
use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::Write;
use trimio_meter::{End, Limits, Meter, Reading};
use trimio_wire::ApiFamily;

const JSON: Option<&str> = Some("application/json");

#[test]
fn every_fixture_compressed_reads_as_plain() {
    for fixture in fixtures() {
        for encoding in Encoding::ALL {
            checks::compressed_reads_as_plain(&fixture, encoding);
        }
    }
}

#[test]
fn every_split_point_of_a_compressed_body_gives_the_same_reading() {
    for fixture in fixtures() {
        for encoding in Encoding::ALL {
            checks::compressed_same_at_every_split(&fixture, encoding);
        }
    }
}

#[test]
fn one_compressed_byte_at_a_time_gives_the_same_reading() {
    for fixture in fixtures() {
        for encoding in Encoding::ALL {
            checks::compressed_same_one_byte_at_a_time(&fixture, encoding);
        }
    }
}

#[test]
fn a_compressed_body_cut_short_is_malformed() {
    for fixture in fixtures() {
        for encoding in Encoding::ALL {
            checks::compressed_cut_short_is_malformed(&fixture, encoding);
        }
    }
}

/// Flips each byte of each compressed fixture in turn. Nothing panics; where the coding carries
/// a checksum (gzip's CRC-32, zlib's Adler-32), the flip is either caught or changed nothing.
#[test]
fn a_corrupt_stream_is_flagged_and_never_panics() {
    for fixture in fixtures().into_iter().filter(|f| f.is_billed()) {
        let expected = reading_of(&fixture);
        let complete = fixture.end() == End::Complete;
        for encoding in Encoding::ALL {
            let body = compressed_in_one_go(&fixture, encoding);
            // gzip's header carries a time and a system byte that nothing checks.
            let checked_from = match encoding {
                Encoding::Gzip => 10,
                Encoding::Zlib => 2,
                Encoding::RawDeflate | Encoding::Brotli => usize::MAX,
            };
            let plain = seen_body(&fixture).len();
            for at in points(body.len(), plain)
                .into_iter()
                .filter(|&at| at < body.len())
            {
                let mut corrupt = body.clone();
                corrupt[at] ^= 0x55;
                let reading = fixture.read_encoded(encoding.header(), [corrupt.as_slice()]);
                if at >= checked_from && complete {
                    assert!(
                        reading.flags.malformed || reading == expected,
                        "{} {encoding:?} flipped at {at}: {reading:?}",
                        fixture.name
                    );
                }
            }
        }
    }
}

#[test]
fn garbage_in_a_coding_is_malformed() {
    let body = br#"{"model":"m","usage":{"prompt_tokens":1,"completion_tokens":2}}"#;
    for encoding in ["gzip", "deflate", "br"] {
        let reading = read_encoded(encoding, Limits::default(), &[body]);
        assert!(reading.flags.malformed, "{encoding}");
        assert_eq!(reading.usage.output, 0, "{encoding}");
    }
}

#[test]
fn bytes_after_the_end_of_a_stream_are_malformed_but_what_came_before_counts() {
    let body = br#"{"model":"m","usage":{"prompt_tokens":1,"completion_tokens":2}}"#.to_vec();
    for encoding in Encoding::ALL {
        let mut coded = encoding.compress(std::slice::from_ref(&body), true);
        coded.extend_from_slice(b"\x00trailing");
        let reading = read_encoded(encoding.header(), Limits::default(), &[&coded]);
        assert!(reading.flags.malformed, "{encoding:?}");
        assert_eq!(reading.usage.output, 2, "{encoding:?}");
    }
}

#[test]
fn gzip_members_one_after_another_read_as_one_body() {
    let body = br#"{"model":"m","usage":{"prompt_tokens":1,"completion_tokens":2}}"#;
    let (first, second) = body.split_at(20);
    let mut coded = Encoding::Gzip.compress(&[first.to_vec()], true);
    coded.extend(Encoding::Gzip.compress(&[second.to_vec()], true));
    for split in 0..=coded.len() {
        let (a, b) = coded.split_at(split);
        let reading = read_encoded("gzip", Limits::default(), &[a, b]);
        assert_eq!(reading.usage.output, 2, "split at {split}");
        assert_eq!(reading.flags, Default::default(), "split at {split}");
    }
}

#[test]
fn a_gzip_header_with_every_optional_field_is_skipped() {
    let body = br#"{"model":"m","usage":{"prompt_tokens":1,"completion_tokens":2}}"#;
    let mut encoder = flate2::GzBuilder::new()
        .filename("body.json")
        .comment("a comment")
        .extra(vec![1, 2, 3])
        .write(Vec::new(), Compression::default());
    encoder.write_all(body).unwrap();
    let coded = encoder.finish().unwrap();
    for split in 0..=coded.len() {
        let (a, b) = coded.split_at(split);
        let reading = read_encoded("gzip", Limits::default(), &[a, b]);
        assert_eq!(reading.usage.output, 2, "split at {split}");
        assert!(!reading.flags.malformed, "split at {split}");
    }
}

#[test]
fn unknown_and_stacked_codings_are_not_read_and_say_so() {
    let body = br#"{"model":"m","usage":{"prompt_tokens":1,"completion_tokens":2}}"#;
    for encoding in ["zstd", "gzip, br", "compress"] {
        let reading = read_encoded(encoding, Limits::default(), &[body]);
        assert_eq!(reading.model, None, "{encoding}");
        assert_eq!(reading.usage, Default::default(), "{encoding}");
        assert!(
            reading.flags.malformed && reading.flags.estimated,
            "{encoding}"
        );
    }
    for encoding in ["identity", "", " Identity "] {
        let reading = read_encoded(encoding, Limits::default(), &[body]);
        assert_eq!(reading.usage.output, 2, "{encoding:?}");
        assert_eq!(reading.flags, Default::default(), "{encoding:?}");
    }
}

#[test]
fn errors_and_unbilled_calls_ignore_their_coding() {
    let mut meter = Meter::with_encoding(
        ApiFamily::OpenaiChat,
        500,
        JSON,
        Some("zstd"),
        Limits::default(),
    );
    meter.feed(b"\x28\xb5\x2f\xfd");
    assert_eq!(meter.finish(End::Complete), Reading::default());
}

#[test]
fn an_empty_compressed_body_is_an_empty_body() {
    for encoding in ["gzip", "deflate", "br"] {
        let plain = read_encoded("identity", Limits::default(), &[]);
        assert_eq!(read_encoded(encoding, Limits::default(), &[]), plain);
    }
}

/// A decompression bomb: a chunk that decodes to more than the bound stops the decoding, is
/// flagged, and keeps what the bound let through.
#[test]
fn a_chunk_that_decodes_past_the_bound_stops_decoding() {
    let mut body =
        br#"{"model":"m","usage":{"prompt_tokens":1,"completion_tokens":2},"pad":""#.to_vec();
    let usage_end = body.len();
    body.extend(std::iter::repeat_n(b' ', 1 << 20));
    body.extend_from_slice(b"\"}");
    let limits = Limits {
        max_decoded_bytes_per_chunk: 64 * 1024,
        ..Limits::default()
    };
    for encoding in Encoding::ALL {
        let coded = encoding.compress(std::slice::from_ref(&body), true);
        assert!(coded.len() < 64 * 1024, "{encoding:?} {}", coded.len());
        let reading = read_encoded(encoding.header(), limits, &[&coded]);
        assert!(reading.flags.too_large, "{encoding:?}");
        assert_eq!(reading.usage.output, 2, "{encoding:?}");
        assert!(usage_end < limits.max_decoded_bytes_per_chunk);
    }
}

#[test]
fn a_chunk_that_decodes_to_exactly_the_bound_is_read_whole() {
    let body = br#"{"model":"m","usage":{"prompt_tokens":1,"completion_tokens":2}}"#.to_vec();
    let limits = Limits {
        max_decoded_bytes_per_chunk: body.len(),
        ..Limits::default()
    };
    for encoding in Encoding::ALL {
        let coded = encoding.compress(std::slice::from_ref(&body), true);
        let reading = read_encoded(encoding.header(), limits, &[&coded]);
        assert_eq!(reading.flags, Default::default(), "{encoding:?}");
        assert_eq!(reading.usage.output, 2, "{encoding:?}");
    }
}

/// The default bound stops a real bomb: 16 MiB of one byte, gzip-compressed to about 16 KiB.
#[test]
fn the_default_bound_stops_a_bomb() {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(b"[").unwrap();
    let block = vec![b' '; 1 << 20];
    for _ in 0..16 {
        encoder.write_all(&block).unwrap();
    }
    let coded = encoder.finish().unwrap();

    let mut meter = Meter::with_encoding(
        ApiFamily::GeminiStreamGenerate,
        200,
        JSON,
        Some("gzip"),
        Limits::default(),
    );
    meter.feed(&coded);
    let reading = meter.finish(End::Complete);
    assert!(reading.flags.too_large && reading.flags.malformed);
}

fn read_encoded(encoding: &str, limits: Limits, pieces: &[&[u8]]) -> Reading {
    let mut meter = Meter::with_encoding(ApiFamily::OpenaiChat, 200, JSON, Some(encoding), limits);
    for piece in pieces {
        meter.feed(piece);
    }
    meter.finish(End::Complete)
}
