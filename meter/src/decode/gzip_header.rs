//! The header of a gzip member (RFC 1952, section 2.3), skipped byte by byte as it streams
//! past: the fixed ten bytes, then the optional extra field, name, comment and header CRC.
//!
//! The header CRC, when present, is skipped unchecked; the data's CRC-32 is checked instead.

use super::DecodeError;

const CODING: &str = "gzip";

/// Flag bits of the header's FLG byte.
const FHCRC: u8 = 1 << 1;
const FEXTRA: u8 = 1 << 2;
const FNAME: u8 = 1 << 3;
const FCOMMENT: u8 = 1 << 4;
/// Bits that must be zero.
const RESERVED: u8 = 0b1110_0000;

/// Length of the fixed part: magic, method, flags, time, extra flags, system.
const FIXED_BYTES: u8 = 10;

/// The part of the header being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    /// The fixed part, with how many of its bytes were read.
    Fixed(u8),
    /// The extra field's length, with its low byte once read.
    ExtraLength(Option<u8>),
    /// The extra field, with how many bytes are left of it.
    Extra(u16),
    /// The zero-terminated file name.
    Name,
    /// The zero-terminated comment.
    Comment,
    /// The header CRC, with how many bytes are left of it.
    HeaderCrc(u8),
    Done,
}

/// Reads one member header.
#[derive(Debug)]
pub(super) struct Header {
    field: Field,
    flags: u8,
}

impl Header {
    pub(super) fn new() -> Self {
        Header {
            field: Field::Fixed(0),
            flags: 0,
        }
    }

    /// Reads header bytes from `input`, up to the end of the header, and says how many.
    pub(super) fn read(&mut self, input: &[u8]) -> Result<usize, DecodeError> {
        let mut read = 0;
        for &byte in input {
            if self.is_done() {
                break;
            }
            self.field = self.next(byte)?;
            read += 1;
        }
        Ok(read)
    }

    pub(super) fn is_done(&self) -> bool {
        self.field == Field::Done
    }

    /// Whether no byte of the header was read yet.
    pub(super) fn is_untouched(&self) -> bool {
        self.field == Field::Fixed(0)
    }

    /// The field that follows `byte`.
    fn next(&mut self, byte: u8) -> Result<Field, DecodeError> {
        let field = match self.field {
            Field::Fixed(at) => {
                let expected = match at {
                    0 => Some(0x1f),
                    1 => Some(0x8b),
                    // The only compression method: deflate.
                    2 => Some(8),
                    _ => None,
                };
                if expected.is_some_and(|e| e != byte) || (at == 3 && byte & RESERVED != 0) {
                    return Err(DecodeError::Corrupt(CODING));
                }
                if at == 3 {
                    self.flags = byte;
                }
                if at + 1 < FIXED_BYTES {
                    Field::Fixed(at + 1)
                } else {
                    self.after(FEXTRA)
                }
            }
            Field::ExtraLength(None) => Field::ExtraLength(Some(byte)),
            Field::ExtraLength(Some(low)) => match u16::from_le_bytes([low, byte]) {
                0 => self.after(FNAME),
                length => Field::Extra(length),
            },
            Field::Extra(1) => self.after(FNAME),
            Field::Extra(left) => Field::Extra(left.saturating_sub(1)),
            Field::Name if byte == 0 => self.after(FCOMMENT),
            Field::Comment if byte == 0 => self.after(FHCRC),
            Field::Name | Field::Comment => self.field,
            Field::HeaderCrc(1) | Field::Done => Field::Done,
            Field::HeaderCrc(left) => Field::HeaderCrc(left.saturating_sub(1)),
        };
        Ok(field)
    }

    /// The first optional field, from `flag`'s on in header order, that the flags say is
    /// present.
    fn after(&self, flag: u8) -> Field {
        let fields = [
            (FEXTRA, Field::ExtraLength(None)),
            (FNAME, Field::Name),
            (FCOMMENT, Field::Comment),
            (FHCRC, Field::HeaderCrc(2)),
        ];
        fields
            .into_iter()
            .skip_while(|(f, _)| *f != flag)
            .find(|(f, _)| self.flags & f != 0)
            .map_or(Field::Done, |(_, field)| field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_whole(bytes: &[u8]) -> Result<usize, DecodeError> {
        let mut header = Header::new();
        let mut read = 0;
        for byte in bytes.chunks(1) {
            read += header.read(byte)?;
        }
        assert!(header.is_done());
        Ok(read)
    }

    #[test]
    fn reads_the_fixed_part_alone() {
        let bytes = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xaa];
        assert_eq!(read_whole(&bytes[..10]), Ok(10));
        let mut header = Header::new();
        assert_eq!(header.read(&bytes), Ok(10));
    }

    #[test]
    fn skips_every_optional_field() {
        let mut bytes = vec![
            0x1f,
            0x8b,
            8,
            FEXTRA | FNAME | FCOMMENT | FHCRC,
            0,
            0,
            0,
            0,
            0,
            3,
        ];
        bytes.extend_from_slice(&[3, 0, b'a', 0, b'b']);
        bytes.extend_from_slice(b"name.json\0a comment\0");
        bytes.extend_from_slice(&[0x12, 0x34]);
        assert_eq!(read_whole(&bytes), Ok(bytes.len()));
    }

    #[test]
    fn refuses_what_is_not_gzip() {
        let mut header = Header::new();
        assert_eq!(header.read(b"{\"a\""), Err(DecodeError::Corrupt("gzip")));
        let mut header = Header::new();
        let reserved = [0x1f, 0x8b, 8, 0x20];
        assert_eq!(header.read(&reserved), Err(DecodeError::Corrupt("gzip")));
    }
}
