//! What every exchange must satisfy, written once and run natively (`tests/fixtures.rs`,
//! `tests/encodings.rs`) and compiled to wasm (`tests/wasm.rs`).

use trimio_meter::{End, Reading};
use trimio_wire::UsageFlags;

use super::coding::Encoding;
use super::{Fixture, check, with_line_endings};

/// Bodies up to this size are tried at every split point (and every corrupted byte); larger
/// ones at a spread of points.
pub const EVERY_POINT_UP_TO: usize = 8 * 1024;
/// Bytes that the tries of a larger body add up to reading, roughly: the more one try reads,
/// the fewer points are tried, from 4 to 512 of them.
const SPREAD_BYTES: usize = 4 * 1024 * 1024;
/// Points tried at each end of a larger body.
const ENDS: usize = 8;

/// The points of a body of `len` bytes to split (or corrupt) it at: all of them when the body
/// is small, else a spread of them plus the first and last few. One try reads `plain` bytes
/// (more than `len` when the body is compressed).
pub fn points(len: usize, plain: usize) -> Vec<usize> {
    if len <= EVERY_POINT_UP_TO {
        return (0..=len).collect();
    }
    let spread = (SPREAD_BYTES / plain.max(len)).clamp(4, 512);
    let mut points: Vec<usize> = (0..=len).step_by(len / spread).collect();
    points.extend(0..ENDS);
    points.extend(len - ENDS..=len);
    points.sort_unstable();
    points.dedup();
    points
}

/// The reading of the chunks the gateway sees, as they were sent.
pub fn reading_of(fixture: &Fixture) -> Reading {
    fixture.read(fixture.seen_chunks().iter().map(Vec::as_slice))
}

/// The bytes the gateway sees before the exchange ends, in one piece.
pub fn seen_body(fixture: &Fixture) -> Vec<u8> {
    fixture.seen_chunks().concat()
}

/// The body as a provider's server would compress it: flushed chunk by chunk, and ended only
/// if the exchange was.
pub fn compressed_body(fixture: &Fixture, encoding: Encoding) -> Vec<u8> {
    let complete = fixture.end() == End::Complete;
    encoding.compress(fixture.seen_chunks(), complete)
}

/// The body compressed in one go, as a server compresses a body it has whole: fewer blocks,
/// so quicker to try at every point. (Feeding the flushed body a byte at a time tries the
/// block boundaries.)
pub fn compressed_in_one_go(fixture: &Fixture, encoding: Encoding) -> Vec<u8> {
    let complete = fixture.end() == End::Complete;
    encoding.compress(&[seen_body(fixture)], complete)
}

pub fn reads_as_expected(fixture: &Fixture) {
    let reading = reading_of(fixture);
    check(fixture, &reading);
    if !fixture.expect_estimated {
        // An oversize event is flagged while its usage is still read exactly.
        let flags = UsageFlags {
            too_large: false,
            ..reading.flags
        };
        assert_eq!(flags, UsageFlags::default(), "{}: flags", fixture.name);
    }
    assert_eq!(
        reading.streamed,
        fixture.is_streamed(),
        "{}: streamed",
        fixture.name
    );
}

pub fn same_at_every_split(fixture: &Fixture) {
    let expected = reading_of(fixture);
    let body = seen_body(fixture);
    for split in points(body.len(), body.len()) {
        let (a, b) = body.split_at(split);
        let reading = fixture.read([a, b]);
        assert_eq!(reading, expected, "{} split at {split}", fixture.name);
    }
}

pub fn same_one_byte_at_a_time(fixture: &Fixture) {
    let body = seen_body(fixture);
    let reading = fixture.read(body.chunks(1));
    assert_eq!(reading, reading_of(fixture), "{}", fixture.name);
}

/// CRLF and CR line breaks read as LF does, at every split; event streams only.
pub fn same_with_other_line_endings_at_every_split(fixture: &Fixture) {
    if !fixture.is_sse() {
        return;
    }
    let expected = reading_of(fixture);
    for ending in [&b"\r\n"[..], b"\r"] {
        let body = with_line_endings(&seen_body(fixture), ending);
        for split in points(body.len(), body.len()) {
            let (a, b) = body.split_at(split);
            let reading = fixture.read([a, b]);
            assert_eq!(
                reading, expected,
                "{} {ending:?} split at {split}",
                fixture.name
            );
        }
    }
}

/// The compressed body reads as the plain one, in the chunks it was flushed in and in one
/// piece.
pub fn compressed_reads_as_plain(fixture: &Fixture, encoding: Encoding) {
    let expected = reading_of(fixture);
    let complete = fixture.end() == End::Complete;
    let pieces = encoding.compress_in_pieces(fixture.seen_chunks(), complete);

    let name = &fixture.name;
    let header = encoding.header();
    let reading = fixture.read_encoded(header, pieces.iter().map(Vec::as_slice));
    assert_eq!(reading, expected, "{name} {encoding:?} as flushed");
    let body = compressed_body(fixture, encoding);
    let reading = fixture.read_encoded(header, [body.as_slice()]);
    assert_eq!(reading, expected, "{name} {encoding:?} whole");
}

pub fn compressed_same_at_every_split(fixture: &Fixture, encoding: Encoding) {
    let expected = reading_of(fixture);
    let body = compressed_in_one_go(fixture, encoding);
    let header = encoding.header();
    for split in points(body.len(), seen_body(fixture).len()) {
        let (a, b) = body.split_at(split);
        let reading = fixture.read_encoded(header, [a, b]);
        assert_eq!(
            reading, expected,
            "{} {encoding:?} split at {split}",
            fixture.name
        );
    }
}

pub fn compressed_same_one_byte_at_a_time(fixture: &Fixture, encoding: Encoding) {
    let body = compressed_body(fixture, encoding);
    let reading = fixture.read_encoded(encoding.header(), body.chunks(1));
    assert_eq!(
        reading,
        reading_of(fixture),
        "{} {encoding:?}",
        fixture.name
    );
}

/// A compressed body cut short, in a response that ended, is flagged malformed.
pub fn compressed_cut_short_is_malformed(fixture: &Fixture, encoding: Encoding) {
    if fixture.end() != End::Complete || !fixture.is_billed() {
        return;
    }
    let body = compressed_in_one_go(fixture, encoding);
    for cut in points(body.len(), seen_body(fixture).len()) {
        if cut == 0 || cut == body.len() {
            continue;
        }
        let reading = fixture.read_encoded(encoding.header(), [&body[..cut]]);
        assert!(
            reading.flags.malformed,
            "{} {encoding:?} cut at {cut}",
            fixture.name
        );
    }
}
