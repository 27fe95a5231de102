//! The usage stripper on arbitrary bytes, cut anywhere: it never panics, and a stream that
//! never says "usage" passes through unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use trimio_meter::UsageStripper;
use trimio_meter_fuzz::Input;

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::parse(data) else {
        return;
    };

    let mut stripper = UsageStripper::new();
    let mut out = Vec::new();
    for piece in input.pieces() {
        stripper.push(piece, &mut out);
    }
    stripper.finish(&mut out);

    let says_usage = input.body.windows(5).any(|w| w == b"usage");
    if !says_usage {
        assert_eq!(out, input.body, "a stream without usage was changed");
    }
});
