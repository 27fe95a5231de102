//! The client gets exactly the OpenAI Chat stream it asked for, whatever the chunking.

mod common;

use common::{fixture, with_line_endings};
use proptest::prelude::*;
use trimio_meter::UsageStripper;

fn strip(pieces: &[&[u8]]) -> Vec<u8> {
    let mut stripper = UsageStripper::new();
    let mut out = Vec::new();
    for piece in pieces {
        stripper.push(piece, &mut out);
    }
    stripper.finish(&mut out);
    out
}

/// The provider's stream when usage was requested, and what the client asked for.
fn streams() -> (Vec<u8>, Vec<u8>) {
    let fixture = fixture("openai-chat-stream-no-usage-requested");
    let provider = fixture
        .chunks_when_usage_requested
        .clone()
        .unwrap_or_default()
        .concat();
    (provider, fixture.chunks.concat())
}

#[test]
fn gives_the_client_its_stream_at_every_split() {
    let (provider, client) = streams();
    assert_eq!(strip(&[&provider]), client);
    for split in 0..=provider.len() {
        let (a, b) = provider.split_at(split);
        assert_eq!(strip(&[a, b]), client, "split at {split}");
    }
}

#[test]
fn keeps_crlf_and_cr_framing_at_every_split() {
    let (provider, client) = streams();
    for ending in [&b"\r\n"[..], b"\r"] {
        let provider = with_line_endings(&provider, ending);
        let client = with_line_endings(&client, ending);
        for split in 0..=provider.len() {
            let (a, b) = provider.split_at(split);
            assert_eq!(strip(&[a, b]), client, "{ending:?} split at {split}");
        }
    }
}

#[test]
fn writes_each_event_as_soon_as_it_ends() {
    let (provider, client) = streams();
    let mut stripper = UsageStripper::new();
    let mut out = Vec::new();
    let first_event_end = provider.windows(2).position(|w| w == b"\n\n").unwrap() + 2;
    stripper.push(&provider[..first_event_end], &mut out);
    let client_first_end = client.windows(2).position(|w| w == b"\n\n").unwrap() + 2;
    assert_eq!(out, &client[..client_first_end]);
}

#[test]
fn a_stream_that_asked_for_usage_itself_is_unchanged_apart_from_usage() {
    // The stripper only runs when the gateway asked; it never touches a stream without usage.
    let (_, client) = streams();
    assert_eq!(strip(&[&client]), client);
}

proptest! {
    #[test]
    fn random_multi_splits_give_the_client_its_stream(
        points in proptest::collection::vec(any::<usize>(), 0..40),
    ) {
        let (provider, client) = streams();
        let mut points: Vec<usize> = points.into_iter().map(|p| p % (provider.len() + 1)).collect();
        points.sort_unstable();
        let mut pieces = Vec::new();
        let mut from = 0;
        for p in points {
            pieces.push(&provider[from..p]);
            from = p;
        }
        pieces.push(&provider[from..]);
        prop_assert_eq!(strip(&pieces), client);
    }

    #[test]
    fn any_event_text_strips_the_same_in_any_chunks(
        text in "(data: |data:|event: x|: c|\\r|\\n|\\{|\\}|\\[\\]|\"usage\"|\"choices\"|:|,|null|1|\"a\"| ){0,60}",
        points in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let body = text.as_bytes();
        let mut points: Vec<usize> = points.into_iter().map(|p| p % (body.len() + 1)).collect();
        points.sort_unstable();
        let mut pieces = Vec::new();
        let mut from = 0;
        for p in points {
            pieces.push(&body[from..p]);
            from = p;
        }
        pieces.push(&body[from..]);
        prop_assert_eq!(strip(&pieces), strip(&[body]));
    }
}
