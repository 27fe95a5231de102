//! What can go wrong while reading exchange files.

use std::io;
use std::path::PathBuf;

/// An exchange file that cannot be read, parsed or trusted.
///
/// Every variant names the file, so an operator can open it and fix it.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// The file or folder cannot be read from disk.
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },

    /// The file is not valid JSON, or does not have the shape of an exchange. `field` is the
    /// dotted path to the offending value (`response.chunks[2]`), `.` for the top level.
    #[error("cannot parse exchange file {}: at `{field}`: {source}", path.display())]
    Parse {
        path: PathBuf,
        field: String,
        source: serde_json::Error,
    },

    /// The file parses, but a value in it cannot be served.
    #[error("invalid exchange file {}: `{field}` {reason}", path.display())]
    Invalid {
        path: PathBuf,
        field: String,
        reason: String,
    },

    /// Two files claim the same name, so `x-mock-exchange` could not tell them apart.
    #[error(
        "exchange name `{name}` is used by both {} and {}",
        first.display(),
        second.display()
    )]
    DuplicateName {
        name: String,
        first: PathBuf,
        second: PathBuf,
    },

    /// A chunk in `response.chunks_base64` is not base64. Loading reports this as
    /// [`ExchangeError::Invalid`] with the file; this variant is for exchanges built in code.
    #[error("chunk {index} of `response.chunks_base64` is not base64: {source}")]
    Base64 {
        index: usize,
        source: base64::DecodeError,
    },
}
