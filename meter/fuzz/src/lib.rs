//! What the fuzz targets share: how an input is laid out, where it is cut, and how a body is
//! metered.
//!
//! An input is one control byte, eight bytes that seed the cuts, then the body itself, so a
//! seed corpus is just bodies with [`HEADER_BYTES`] in front (see `run-all.sh`).

use trimio_meter::{End, Limits, Meter, Reading};
use trimio_wire::ApiFamily;

/// Bytes in front of the body: the control byte and the cut seed.
pub const HEADER_BYTES: usize = 9;

/// The families the meter reads, and two it does not.
pub const FAMILIES: [ApiFamily; 7] = [
    ApiFamily::AnthropicMessages,
    ApiFamily::OpenaiChat,
    ApiFamily::OpenaiResponses,
    ApiFamily::GeminiGenerate,
    ApiFamily::GeminiStreamGenerate,
    ApiFamily::AnthropicCountTokens,
    ApiFamily::Other,
];

/// One fuzz input, taken apart.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// Chooses what the target varies (family, limits, end, coding), bit by bit.
    pub control: u8,
    /// Seeds the cut points.
    pub seed: u64,
    pub body: &'a [u8],
}

impl<'a> Input<'a> {
    pub fn parse(data: &'a [u8]) -> Option<Input<'a>> {
        let (head, body) = data.split_at_checked(HEADER_BYTES)?;
        let (&control, seed) = head.split_first()?;
        let seed = u64::from_le_bytes(seed.try_into().ok()?);
        Some(Input {
            control,
            seed,
            body,
        })
    }

    pub fn family(&self) -> ApiFamily {
        FAMILIES[usize::from(self.control & 0x07) % FAMILIES.len()]
    }

    /// Small limits half of the time, so that oversize events and values are reached.
    pub fn limits(&self) -> Limits {
        if self.control & 0x08 == 0 {
            return Limits::default();
        }
        Limits {
            max_event_bytes: 64,
            max_json_value_bytes: 48,
            max_decoded_bytes_per_chunk: 4096,
        }
    }

    pub fn end(&self) -> End {
        match (self.control >> 4) & 0x03 {
            0 | 1 => End::Complete,
            2 => End::ClientAborted,
            _ => End::UpstreamReset,
        }
    }

    /// The body cut at up to eight points drawn from the seed, in order.
    pub fn pieces(&self) -> Vec<&'a [u8]> {
        cut(self.body, self.seed)
    }
}

/// `body` cut at up to eight points drawn from `seed`.
pub fn cut(body: &[u8], seed: u64) -> Vec<&[u8]> {
    let mut state = seed | 1;
    let count = (seed >> 60) as usize % 9;
    let mut points: Vec<usize> = (0..count)
        .map(|_| {
            // xorshift64: any spread of points will do.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % (body.len() as u64 + 1)) as usize
        })
        .collect();
    points.sort_unstable();

    let mut pieces = Vec::with_capacity(points.len() + 1);
    let mut from = 0;
    for point in points {
        pieces.push(&body[from..point]);
        from = point;
    }
    pieces.push(&body[from..]);
    pieces
}

/// Meters `pieces` as one response body.
pub fn read(
    family: ApiFamily,
    content_type: &str,
    content_encoding: Option<&str>,
    limits: Limits,
    pieces: &[&[u8]],
    end: End,
) -> Reading {
    let mut meter = Meter::with_encoding(family, 200, Some(content_type), content_encoding, limits);
    for piece in pieces {
        meter.feed(piece);
    }
    meter.finish(end)
}

/// Meters the input's body as `content_type`, whole and cut, and checks both read the same.
pub fn check_plain(data: &[u8], content_type: &str) {
    let Some(input) = Input::parse(data) else {
        return;
    };
    let (family, limits, end) = (input.family(), input.limits(), input.end());
    let whole = read(family, content_type, None, limits, &[input.body], end);
    let cut = read(family, content_type, None, limits, &input.pieces(), end);
    assert_eq!(whole, cut, "the reading depends on where the body was cut");
}
