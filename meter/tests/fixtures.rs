//! Every shared provider exchange reads as its expected usage, whatever the chunking.

mod common;

use common::{Fixture, base64, check, fixtures, with_line_endings};
use proptest::prelude::*;
use trimio_meter::Reading;

fn reading_of(fixture: &Fixture) -> Reading {
    fixture.read(fixture.seen_chunks().iter().map(Vec::as_slice))
}

/// The bytes the gateway sees before the exchange ends, in one piece.
fn seen_body(fixture: &Fixture) -> Vec<u8> {
    fixture.seen_chunks().concat()
}

#[test]
fn every_fixture_reads_as_expected() {
    for fixture in fixtures() {
        let reading = reading_of(&fixture);
        check(&fixture, &reading);
        if !fixture.expect_estimated {
            assert_eq!(reading.flags, Default::default(), "{}: flags", fixture.name);
        }
        assert_eq!(
            reading.streamed,
            fixture.is_sse(),
            "{}: streamed",
            fixture.name
        );
    }
}

#[test]
fn a_stream_without_its_usage_is_estimated_from_its_text() {
    let fixture = common::fixture("openai-chat-stream-no-usage-requested");
    let reading = fixture.read(fixture.chunks.iter().map(Vec::as_slice));

    // "Here is" and " the fix." are 16 characters: 4 tokens. The input was never reported.
    assert_eq!(reading.model.as_deref(), Some("gpt-4.1-2025-04-14"));
    assert_eq!(
        reading.usage,
        trimio_wire::Usage {
            output: 4,
            ..Default::default()
        }
    );
    assert!(reading.flags.estimated && !reading.flags.truncated);
}

#[test]
fn every_split_point_gives_the_same_reading() {
    for fixture in fixtures() {
        let expected = reading_of(&fixture);
        let body = seen_body(&fixture);
        for split in 0..=body.len() {
            let (a, b) = body.split_at(split);
            assert_eq!(
                fixture.read([a, b]),
                expected,
                "{} split at {split}",
                fixture.name
            );
        }
    }
}

#[test]
fn one_byte_at_a_time_gives_the_same_reading() {
    for fixture in fixtures() {
        let body = seen_body(&fixture);
        let reading = fixture.read(body.chunks(1));
        assert_eq!(reading, reading_of(&fixture), "{}", fixture.name);
    }
}

#[test]
fn crlf_and_cr_framing_give_the_same_reading_at_every_split() {
    for fixture in fixtures().into_iter().filter(Fixture::is_sse) {
        let expected = reading_of(&fixture);
        for ending in [&b"\r\n"[..], b"\r"] {
            let body = with_line_endings(&seen_body(&fixture), ending);
            for split in 0..=body.len() {
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
}

#[test]
fn decodes_base64_chunks() {
    assert_eq!(base64("aGk="), b"hi");
    assert_eq!(base64("4pyTIMOg"), "✓ à".as_bytes());
}

/// Cuts `body` at the given points (any order, repeats allowed).
fn cut(body: &[u8], mut points: Vec<usize>) -> Vec<&[u8]> {
    points.iter_mut().for_each(|p| *p %= body.len() + 1);
    points.sort_unstable();
    let mut pieces = Vec::new();
    let mut from = 0;
    for p in points {
        pieces.push(&body[from..p]);
        from = p;
    }
    pieces.push(&body[from..]);
    pieces
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_multi_splits_give_the_same_reading(
        points in proptest::collection::vec(any::<usize>(), 0..40),
    ) {
        for fixture in fixtures() {
            let body = seen_body(&fixture);
            let pieces = cut(&body, points.clone());
            prop_assert_eq!(fixture.read(pieces), reading_of(&fixture), "{}", fixture.name);
        }
    }

    #[test]
    fn random_multi_splits_of_crlf_streams_give_the_same_reading(
        points in proptest::collection::vec(any::<usize>(), 0..40),
    ) {
        for fixture in fixtures().into_iter().filter(Fixture::is_sse) {
            let body = with_line_endings(&seen_body(&fixture), b"\r\n");
            let pieces = cut(&body, points.clone());
            prop_assert_eq!(fixture.read(pieces), reading_of(&fixture), "{}", fixture.name);
        }
    }
}
