//! The request side on arbitrary bytes: the reader never panics and reads the same facts
//! whatever the cuts, and when the body is rewritten to ask for stream usage, the rewrite is
//! JSON.

#![no_main]

use libfuzzer_sys::fuzz_target;
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

    if let Some(rewritten) = ask_for_stream_usage(input.body) {
        let parsed = serde_json::from_slice::<serde_json::Value>(&rewritten);
        assert!(
            parsed.is_ok(),
            "the rewrite is not JSON: {:?}",
            String::from_utf8_lossy(&rewritten)
        );
    }
});
