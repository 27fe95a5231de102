//! The request side on arbitrary bytes: the reader never panics and reads the same facts
//! whatever the cuts, and when the body is rewritten to ask for stream usage, the rewrite is
//! JSON.
//!
//! JSON as RFC 8259 has it: the rewrite may keep a lone surrogate escape or nesting deeper
//! than serde_json's limit, which the body had and a provider may accept. serde_json checks
//! the rest, skipping values (which lets lone surrogates through); a rewrite too deep for it
//! goes unchecked.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::de::IgnoredAny;
use trimio_meter::request::{RequestReader, ask_for_stream_usage};
use trimio_meter_fuzz::Input;

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::parse(data) else {
        return;
    };

    let mut whole = RequestReader::new();
    whole.feed(input.body);
    let mut cut = RequestReader::new();
    for piece in input.pieces() {
        cut.feed(piece);
    }
    assert_eq!(whole.facts(), cut.facts(), "the facts depend on the cuts");

    if let Some(rewritten) = ask_for_stream_usage(input.body)
        && let Err(error) = serde_json::from_slice::<IgnoredAny>(&rewritten)
    {
        assert!(
            error.to_string().starts_with("recursion limit exceeded"),
            "the rewrite is not JSON ({error}): {:?}",
            String::from_utf8_lossy(&rewritten)
        );
    }
});
