//! `gzip` (RFC 1952): members one after another, each a header, a raw deflate stream and a
//! trailer whose CRC-32 and length of the data are checked.

use flate2::{Crc, Decompress};

use super::DecodeError;
use super::deflate::inflate_step;
use super::gzip_header::Header;
use super::output::{Sink, drive};

const CODING: &str = "gzip";
const TRAILER_BYTES: usize = 8;

/// The part of a member being read.
#[derive(Debug)]
enum Part {
    Header(Header),
    Data,
    /// The trailer, with the bytes of it read so far.
    Trailer([u8; TRAILER_BYTES], usize),
}

/// Decodes a `gzip` body.
#[derive(Debug)]
pub(super) struct Gzip {
    part: Part,
    inflate: Decompress,
    crc: Crc,
    /// Members read to their end.
    members: u32,
}

impl Gzip {
    pub(super) fn new() -> Self {
        Gzip {
            part: Part::Header(Header::new()),
            inflate: Decompress::new(false),
            crc: Crc::new(),
            members: 0,
        }
    }

    pub(super) fn feed(
        &mut self,
        input: &[u8],
        buffer: &mut [u8],
        sink: &mut Sink<'_>,
    ) -> Result<(), DecodeError> {
        let mut input = input;
        while !input.is_empty() {
            let read = match &mut self.part {
                Part::Header(header) => {
                    let read = header.read(input)?;
                    if header.is_done() {
                        self.part = Part::Data;
                    }
                    read
                }
                Part::Data => self.data(input, buffer, sink)?,
                Part::Trailer(trailer, have) => {
                    let take = input.len().min(TRAILER_BYTES - *have);
                    if let (Some(slot), Some(bytes)) =
                        (trailer.get_mut(*have..*have + take), input.get(..take))
                    {
                        slot.copy_from_slice(bytes);
                    }
                    *have += take;
                    if *have == TRAILER_BYTES {
                        let trailer = *trailer;
                        self.end_member(trailer)?;
                    }
                    take
                }
            };
            input = input.get(read..).unwrap_or_default();
        }
        Ok(())
    }

    /// Whether the last member read ended with its trailer and no other began.
    pub(super) fn is_ended(&self) -> bool {
        self.members > 0 && matches!(&self.part, Part::Header(h) if h.is_untouched())
    }

    fn data(
        &mut self,
        input: &[u8],
        buffer: &mut [u8],
        sink: &mut Sink<'_>,
    ) -> Result<usize, DecodeError> {
        let (inflate, crc) = (&mut self.inflate, &mut self.crc);
        let (read, ended) = drive(input, buffer, sink, CODING, |i, o| {
            let step = inflate_step(inflate, i, o, CODING)?;
            crc.update(o.get(..step.written).unwrap_or_default());
            Ok(step)
        })?;
        if ended {
            self.part = Part::Trailer([0; TRAILER_BYTES], 0);
        }
        Ok(read)
    }

    /// Checks a member's trailer, and readies for a member that may follow.
    fn end_member(&mut self, trailer: [u8; TRAILER_BYTES]) -> Result<(), DecodeError> {
        let [c0, c1, c2, c3, s0, s1, s2, s3] = trailer;
        let crc = u32::from_le_bytes([c0, c1, c2, c3]);
        let size = u32::from_le_bytes([s0, s1, s2, s3]);
        if crc != self.crc.sum() || size != self.crc.amount() {
            return Err(DecodeError::Corrupt(CODING));
        }

        self.members += 1;
        self.part = Part::Header(Header::new());
        self.inflate.reset(false);
        self.crc.reset();
        Ok(())
    }
}
