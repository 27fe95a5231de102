//! `deflate`: a zlib stream (RFC 1950) as HTTP defines it, or a raw deflate stream (RFC 1951)
//! as some servers send instead, told apart by whether the first two bytes are a zlib header.

use flate2::{Decompress, FlushDecompress, Status};

use super::DecodeError;
use super::output::{Progress, Sink, Step, drive};

const CODING: &str = "deflate";

/// Decodes a `deflate` body.
#[derive(Debug)]
pub(super) struct Deflate {
    /// The first bytes, held until there are two to tell the framing by.
    head: [u8; 2],
    head_len: usize,
    inflate: Option<Decompress>,
    ended: bool,
}

impl Deflate {
    pub(super) fn new() -> Self {
        Deflate {
            head: [0; 2],
            head_len: 0,
            inflate: None,
            ended: false,
        }
    }

    pub(super) fn feed(
        &mut self,
        input: &[u8],
        buffer: &mut [u8],
        sink: &mut Sink<'_>,
    ) -> Result<(), DecodeError> {
        if self.inflate.is_some() {
            return self.inflate(input, buffer, sink);
        }

        let take = input.len().min(self.head.len() - self.head_len);
        let (first, rest) = input.split_at(take);
        if let Some(slot) = self.head.get_mut(self.head_len..self.head_len + take) {
            slot.copy_from_slice(first);
        }
        self.head_len += take;
        if self.head_len < self.head.len() {
            return Ok(());
        }

        self.inflate = Some(Decompress::new(is_zlib_header(self.head)));
        let head = self.head;
        self.inflate(&head, buffer, sink)?;
        self.inflate(rest, buffer, sink)
    }

    pub(super) fn is_ended(&self) -> bool {
        self.ended
    }

    fn inflate(
        &mut self,
        input: &[u8],
        buffer: &mut [u8],
        sink: &mut Sink<'_>,
    ) -> Result<(), DecodeError> {
        if input.is_empty() {
            return Ok(());
        }
        let Some(inflate) = self.inflate.as_mut().filter(|_| !self.ended) else {
            // Bytes after the end of the stream.
            return Err(DecodeError::Corrupt(CODING));
        };
        let (read, ended) = drive(input, buffer, sink, CODING, |i, o| {
            inflate_step(inflate, i, o, CODING)
        })?;
        self.ended = ended;
        if read < input.len() {
            return Err(DecodeError::Corrupt(CODING));
        }
        Ok(())
    }
}

/// Whether two bytes open a zlib stream: the deflate method, a window of at most 32 KiB, and
/// the check bits that make the pair a multiple of 31.
fn is_zlib_header([cmf, flg]: [u8; 2]) -> bool {
    cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(cmf) << 8 | u16::from(flg)) % 31 == 0
}

/// One step of `inflate` from `input` into `output`.
pub(super) fn inflate_step(
    inflate: &mut Decompress,
    input: &[u8],
    output: &mut [u8],
    coding: &'static str,
) -> Result<Step, DecodeError> {
    let (before_in, before_out) = (inflate.total_in(), inflate.total_out());
    let status = inflate
        .decompress(input, output, FlushDecompress::None)
        .map_err(|_| DecodeError::Corrupt(coding))?;
    let read = usize::try_from(inflate.total_in() - before_in).unwrap_or(input.len());
    let written = usize::try_from(inflate.total_out() - before_out).unwrap_or(output.len());

    let progress = match status {
        Status::StreamEnd => Progress::End,
        Status::Ok | Status::BufError if written == output.len() => Progress::OutputFull,
        Status::Ok | Status::BufError => Progress::NeedsInput,
    };
    Ok(Step {
        read: read.min(input.len()),
        written: written.min(output.len()),
        progress,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_zlib_headers() {
        // The usual zlib headers: default, fastest and best compression, 32 KiB window.
        for head in [[0x78, 0x9c], [0x78, 0x01], [0x78, 0xda], [0x58, 0x85]] {
            assert!(is_zlib_header(head), "{head:02x?}");
        }
        // Raw deflate: a fixed-code final block, a stored block, a dynamic block.
        for head in [[0x4b, 0x4c], [0x01, 0x05], [0xed, 0x9d], [0x78, 0x9d]] {
            assert!(!is_zlib_header(head), "{head:02x?}");
        }
    }
}
