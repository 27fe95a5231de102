//! The meter fed arbitrary bytes as server-sent events, for each family, cut anywhere: it never
//! panics, and the cuts never change the reading.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    trimio_meter_fuzz::check_plain(data, "text/event-stream");
});
