//! `br` (RFC 7932), decoded by `brotli-decompressor` with its standard allocator.
//!
//! The decoder is made strict, so a large-window stream (a window over 16 MiB, outside RFC 7932)
//! is refused rather than allocated; see the module above for what the window costs.

use std::fmt;

use brotli_decompressor::{BrotliDecompressStream, BrotliResult, BrotliState, StandardAlloc};

use super::DecodeError;
use super::output::{Progress, Sink, Step, drive};

const CODING: &str = "br";

/// Decodes a `br` body.
pub(super) struct Brotli {
    state: BrotliState<StandardAlloc, StandardAlloc, StandardAlloc>,
    /// Bytes decoded so far, which the decoder keeps count of.
    total_out: usize,
    ended: bool,
}

impl Brotli {
    pub(super) fn new() -> Self {
        let state = BrotliState::new_strict(
            StandardAlloc::default(),
            StandardAlloc::default(),
            StandardAlloc::default(),
        );
        Brotli {
            state,
            total_out: 0,
            ended: false,
        }
    }

    pub(super) fn feed(
        &mut self,
        input: &[u8],
        buffer: &mut [u8],
        sink: &mut Sink<'_>,
    ) -> Result<(), DecodeError> {
        if self.ended {
            // Bytes after the end of the stream.
            return Err(DecodeError::Corrupt(CODING));
        }
        let (state, total_out) = (&mut self.state, &mut self.total_out);
        let (read, ended) = drive(input, buffer, sink, CODING, |i, o| {
            step(state, total_out, i, o)
        })?;
        self.ended = ended;
        if read < input.len() {
            return Err(DecodeError::Corrupt(CODING));
        }
        Ok(())
    }

    pub(super) fn is_ended(&self) -> bool {
        self.ended
    }
}

impl fmt::Debug for Brotli {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Brotli")
            .field("total_out", &self.total_out)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

fn step(
    state: &mut BrotliState<StandardAlloc, StandardAlloc, StandardAlloc>,
    total_out: &mut usize,
    input: &[u8],
    output: &mut [u8],
) -> Result<Step, DecodeError> {
    let (mut available_in, mut read) = (input.len(), 0);
    let (mut available_out, mut written) = (output.len(), 0);
    let result = BrotliDecompressStream(
        &mut available_in,
        &mut read,
        input,
        &mut available_out,
        &mut written,
        output,
        total_out,
        state,
    );
    let progress = match result {
        BrotliResult::ResultSuccess => Progress::End,
        BrotliResult::NeedsMoreInput => Progress::NeedsInput,
        BrotliResult::NeedsMoreOutput => Progress::OutputFull,
        BrotliResult::ResultFailure => return Err(DecodeError::Corrupt(CODING)),
    };
    Ok(Step {
        read: read.min(input.len()),
        written: written.min(output.len()),
        progress,
    })
}
