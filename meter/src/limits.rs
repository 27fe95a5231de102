//! Bounds on what the meter holds in memory for one response.

/// Memory bounds for one response. Anything larger passes through uninspected and the reading
/// is flagged `too_large`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest server-sent event (its joined `data:` lines) that is inspected, in bytes.
    pub max_event_bytes: usize,
    /// Largest top-level JSON member value that is captured from a JSON body, in bytes.
    pub max_json_value_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_event_bytes: 256 * 1024,
            max_json_value_bytes: 64 * 1024,
        }
    }
}
