//! Bounds on what the meter holds in memory, and does, for one response.

/// Bounds for one response. Anything larger passes through uninspected and the reading is
/// flagged `too_large`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest server-sent event (its joined `data:` lines) that is inspected, in bytes.
    pub max_event_bytes: usize,
    /// Largest top-level JSON member value that is captured from a JSON body, in bytes.
    pub max_json_value_bytes: usize,
    /// Most bytes one chunk of a compressed body may decode to. Decoded bytes are not held (they
    /// pass through a 16 KiB buffer), so this bounds the work a decompression bomb causes per
    /// chunk rather than memory; a chunk that decodes to more stops decoding for the rest of
    /// the response.
    pub max_decoded_bytes_per_chunk: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_event_bytes: 256 * 1024,
            max_json_value_bytes: 64 * 1024,
            // Well above what text compresses to in one network read (16 KiB at 20:1 is 320
            // KiB), and a bound on the inflating a chunk can cost: deflate alone reaches
            // 1032:1, br far more.
            max_decoded_bytes_per_chunk: 8 * 1024 * 1024,
        }
    }
}
