//! Inputs the fuzz targets (`meter/fuzz`) once failed on, cut as the target cut them. Each
//! must read the same cut as whole.

use trimio_meter::{End, Limits, Meter, Reading};
use trimio_wire::ApiFamily;

/// The small limits the fuzz targets use half of the time.
const SMALL: Limits = Limits {
    max_event_bytes: 64,
    max_json_value_bytes: 48,
    max_decoded_bytes_per_chunk: 4096,
};

fn read(family: ApiFamily, content_type: &str, pieces: &[&[u8]], end: End) -> Reading {
    let mut meter = Meter::new(family, 200, Some(content_type), SMALL);
    for piece in pieces {
        meter.feed(piece);
    }
    meter.finish(end)
}

fn same_whole_and_cut(family: ApiFamily, content_type: &str, pieces: &[&[u8]], end: End) {
    let whole = pieces.concat();
    assert_eq!(
        read(family, content_type, pieces, end),
        read(family, content_type, &[&whole], end)
    );
}

/// `json`: a captured value over the limit, then a byte that is not JSON. Only the cut body
/// was flagged too large.
#[test]
fn json_value_over_the_limit_then_malformed() {
    let pieces: [&[u8]; 4] = [
        b"{\n  \"error\":2222222222222",
        b"2222222222222",
        b"2222222222222222222222222",
        b"\xff2\x00\x00\n",
    ];
    same_whole_and_cut(
        ApiFamily::GeminiGenerate,
        "application/json",
        &pieces,
        End::Complete,
    );
}

/// `sse`: an oversize OpenAI Responses event whose type comes after the first piece. The cut
/// body missed the closing event and was flagged truncated.
#[test]
fn sse_oversize_event_named_after_the_limit() {
    let pieces: [&[u8]; 5] = [
        b"\ndata: {y\"tpe\":s",
        b"ponse.comp",
        b"\x01\x00\x00\x00\x00\x00\x00vent: mt_to{\"type\":\"respons",
        b"e.completede",
        b"o\n\ne",
    ];
    same_whole_and_cut(
        ApiFamily::OpenaiResponses,
        "text/event-stream",
        &pieces,
        End::UpstreamReset,
    );
}
