//! One event as the framer hands it over.

/// An event whose `data:` lines ended with a blank line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event<'a> {
    /// An event within the size bound.
    Whole {
        /// The `event:` field; empty when the event named none.
        name: &'a [u8],
        /// The `data:` lines joined with `\n`.
        data: &'a [u8],
    },
    /// An event larger than the bound: only its first and last bytes were kept.
    Oversize {
        name: &'a [u8],
        /// The first bytes of the data (up to [`crate::sse::Framer`]'s head size).
        head: &'a [u8],
        /// The last bytes of the data (up to its tail size).
        tail: &'a [u8],
    },
}

impl<'a> Event<'a> {
    pub(crate) fn name(&self) -> &'a [u8] {
        match self {
            Event::Whole { name, .. } | Event::Oversize { name, .. } => name,
        }
    }
}
