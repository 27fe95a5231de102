//! Just enough JSON to meter a call without holding its body: find where a value ends, hand
//! over chosen top-level members as a body streams past, locate members in a complete object
//! for textual edits, and read counts leniently from the few values that are parsed.

mod lenient;
mod members;
mod object;
mod strings;
mod syntax;
mod value_end;

pub(crate) use lenient::{count, parse, text};
pub(crate) use members::{MemberScanner, MemberSink};
pub(crate) use object::{Member, Object};
pub(crate) use strings::{first_string, string_chars};
pub(crate) use syntax::is_json;

/// The bytes are not JSON where JSON was expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed json")]
pub(crate) struct Malformed;

pub(crate) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// `bytes` without leading and trailing JSON whitespace.
pub(crate) fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| !is_space(b))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| !is_space(b))
        .map_or(start, |i| i + 1);
    bytes.get(start..end).unwrap_or_default()
}
