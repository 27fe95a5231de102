//! Reads a provider's usage from its response bytes as they pass, whatever the chunk
//! boundaries, in bounded memory. Compiled into the filter (wasm32) and tested natively.
//!
//! - [`Meter`] watches one response (JSON or server-sent events, plain or compressed with
//!   gzip, deflate or br) and, when it ends, gives a [`Reading`]: the model, the normalized
//!   [`trimio_wire::Usage`] and what was unusual.
//! - [`request`] reads the few request fields the gateway needs and, for OpenAI Chat streams,
//!   asks the provider to report usage.
//! - [`UsageStripper`] hides that extra usage from a client that did not ask for it.
//!
//! Nothing here blocks, spawns, reads a clock or panics on input: it runs inside Envoy.
//!
//! # Limitations
//! - Output that the provider never reported is estimated from the streamed text at four
//!   characters per token (see the `estimate` module); the reading is flagged `estimated`.
//! - A JSON body cut before its `usage` gets no output estimate (its text is not counted), and
//!   an OpenAI Chat stream that never carried usage reports no input at all.
//! - An event over [`Limits::max_event_bytes`] is not inspected; only the OpenAI Responses
//!   closing event is searched (in its last 16 KiB) for its usage. Its text is missing from
//!   the output estimate.
//! - JSON values that are skipped rather than captured are checked for balance only, so a
//!   malformed part of a body outside the members that matter may go unflagged.
//! - [`UsageStripper`] edits events whose JSON is on one `data:` line; on an event split over
//!   several `data:` lines it only drops the usage-only event and leaves `"usage":null` in place.
//!   It works on plain bytes only: it must not be given a compressed stream.
//! - A compressed body is decoded as it streams (see the `decode` module for what each coding
//!   costs in memory). A `br` body may cost up to 16 MiB while it streams, 24 MiB for a moment,
//!   when its header asks for the largest window; nothing bounds how many such bodies stream
//!   at once. A chunk that decodes to more than [`Limits::max_decoded_bytes_per_chunk`] ends
//!   the decoding: the rest of the body is not read and the reading is flagged `too_large`
//!   (and, its end unseen, usually `truncated` or `malformed` too). Other codings, and codings
//!   applied in turn, are not read at all.
//! - Corruption is caught by gzip's CRC-32 and zlib's Adler-32 only once the stream ends, after
//!   the bytes were read; raw deflate and br carry no checksum, so a corrupt stream that still
//!   decodes is read as it decodes. A gzip header's own CRC is not checked, and a zlib stream
//!   that needs a preset dictionary is refused as corrupt.

mod decode;
mod estimate;
mod json;
mod limits;
mod meter;
mod provider;
mod reading;
pub mod request;
mod sse;
mod usage_stripper;

pub use limits::Limits;
pub use meter::Meter;
pub use reading::{End, Reading};
pub use usage_stripper::UsageStripper;
