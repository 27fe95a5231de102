//! The path decoded bytes take: a decoder fills a bounded window of the buffer, step by step,
//! and what it wrote goes to the reader while the current input chunk's allowance lasts.

use super::DecodeError;

/// Where decoded bytes go, with what the current input chunk may still yield.
pub(super) struct Sink<'a> {
    read: &'a mut dyn FnMut(&[u8]),
    left: usize,
    limit: usize,
}

impl<'a> Sink<'a> {
    pub(super) fn new(read: &'a mut dyn FnMut(&[u8]), limit: usize) -> Self {
        Sink {
            read,
            left: limit,
            limit,
        }
    }

    /// How much of a buffer a decoder may fill: one byte more than the allowance, so that a
    /// chunk that yields more than allowed is told from one that yields exactly that.
    fn room(&self, buffer: usize) -> usize {
        buffer.min(self.left.saturating_add(1))
    }

    /// Hands decoded bytes to the reader; past the allowance, only what fits, and an error.
    fn give(&mut self, bytes: &[u8]) -> Result<(), DecodeError> {
        if bytes.len() > self.left {
            (self.read)(bytes.get(..self.left).unwrap_or_default());
            self.left = 0;
            return Err(DecodeError::TooLarge(self.limit));
        }
        if !bytes.is_empty() {
            (self.read)(bytes);
        }
        self.left -= bytes.len();
        Ok(())
    }
}

/// What a decoder can do next after one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Progress {
    /// It wants more input.
    NeedsInput,
    /// It filled the output it was given and may have more.
    OutputFull,
    /// Its stream ended.
    End,
}

/// What one step of a decoder did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Step {
    /// Input bytes consumed.
    pub(super) read: usize,
    /// Output bytes written.
    pub(super) written: usize,
    pub(super) progress: Progress,
}

/// Runs `step` over `input` until the input is used up or the stream ends, handing its output
/// to `sink`. Gives the number of input bytes consumed and whether the stream ended; a stream
/// that ends leaves the rest of the input unread.
pub(super) fn drive(
    input: &[u8],
    buffer: &mut [u8],
    sink: &mut Sink<'_>,
    coding: &'static str,
    mut step: impl FnMut(&[u8], &mut [u8]) -> Result<Step, DecodeError>,
) -> Result<(usize, bool), DecodeError> {
    let mut read = 0;
    loop {
        let rest = input.get(read..).unwrap_or_default();
        let room = sink.room(buffer.len());
        let window = buffer.get_mut(..room).unwrap_or_default();
        let done = step(rest, window)?;
        read += done.read;
        sink.give(window.get(..done.written).unwrap_or_default())?;

        match done.progress {
            Progress::End => return Ok((read, true)),
            Progress::NeedsInput if read >= input.len() => return Ok((read, false)),
            // Input left and room to write, yet nothing happened: the decoder is stuck.
            _ if done.read == 0 && done.written == 0 => {
                return Err(DecodeError::Corrupt(coding));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_at_the_allowance_and_hands_over_what_fits() {
        let mut got = Vec::new();
        let mut read = |b: &[u8]| got.extend_from_slice(b);
        let mut sink = Sink::new(&mut read, 5);
        assert_eq!(sink.room(16), 6);
        assert_eq!(sink.give(b"abc"), Ok(()));
        assert_eq!(sink.room(16), 3);
        assert_eq!(sink.give(b"defg"), Err(DecodeError::TooLarge(5)));
        assert_eq!(sink.room(16), 1);
        assert_eq!(got, b"abcde");
    }

    #[test]
    fn a_stuck_decoder_is_an_error() {
        let mut read = |_: &[u8]| {};
        let mut sink = Sink::new(&mut read, 100);
        let mut buffer = [0; 8];
        let stuck = |_: &[u8], _: &mut [u8]| {
            Ok(Step {
                read: 0,
                written: 0,
                progress: Progress::OutputFull,
            })
        };
        assert_eq!(
            drive(b"x", &mut buffer, &mut sink, "test", stuck),
            Err(DecodeError::Corrupt("test"))
        );
    }
}
