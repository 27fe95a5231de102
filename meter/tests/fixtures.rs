//! Every provider exchange, shared and the project's own, reads as its expected usage,
//! whatever the chunking.

mod common;

use common::checks::{reading_of, seen_body};
use common::{Fixture, base64, checks, fixtures, with_line_endings};
use proptest::prelude::*;

#[test]
fn every_fixture_reads_as_expected() {
    fixtures().iter().for_each(checks::reads_as_expected);
}

#[test]
fn the_embedded_exchanges_are_the_ones_on_disk() {
    let mut on_disk: Vec<String> = common::fixture_paths()
        .iter()
        .filter_map(|p| p.file_name()?.to_str().map(str::to_owned))
        .collect();
    let mut embedded: Vec<String> = common::embedded::FILES
        .iter()
        .map(|(name, _)| (*name).to_owned())
        .collect();
    embedded.sort();
    on_disk.sort();
    assert_eq!(embedded, on_disk, "update tests/common/embedded.rs");
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
    fixtures().iter().for_each(checks::same_at_every_split);
}

#[test]
fn one_byte_at_a_time_gives_the_same_reading() {
    fixtures().iter().for_each(checks::same_one_byte_at_a_time);
}

#[test]
fn crlf_and_cr_framing_give_the_same_reading_at_every_split() {
    fixtures()
        .iter()
        .for_each(checks::same_with_other_line_endings_at_every_split);
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
