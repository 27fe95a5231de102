//! The accounting compiled to wasm32 and run there: every exchange reads as expected, plain and
//! compressed, at every split point. The exchanges are embedded in the binary, as wasm has no
//! files to read. Run with `meter/wasm-test.sh`; natively the same checks run from
//! `fixtures.rs` and `encodings.rs`, so this file is empty there.

#![cfg(all(target_arch = "wasm32", target_os = "unknown"))]

mod common;

use common::checks;
use common::coding::Encoding;
use common::embedded::embedded;
use wasm_bindgen_test::wasm_bindgen_test as test;

#[test]
fn every_exchange_reads_as_expected() {
    embedded().iter().for_each(checks::reads_as_expected);
}

#[test]
fn every_split_point_gives_the_same_reading() {
    embedded().iter().for_each(checks::same_at_every_split);
}

#[test]
fn one_byte_at_a_time_gives_the_same_reading() {
    embedded().iter().for_each(checks::same_one_byte_at_a_time);
}

#[test]
fn crlf_and_cr_framing_give_the_same_reading_at_every_split() {
    embedded()
        .iter()
        .for_each(checks::same_with_other_line_endings_at_every_split);
}

#[test]
fn every_exchange_compressed_reads_as_plain() {
    for fixture in embedded() {
        for encoding in Encoding::ALL {
            checks::compressed_reads_as_plain(&fixture, encoding);
        }
    }
}

#[test]
fn every_split_point_of_a_compressed_body_gives_the_same_reading() {
    for fixture in embedded() {
        for encoding in Encoding::ALL {
            checks::compressed_same_at_every_split(&fixture, encoding);
        }
    }
}

#[test]
fn one_compressed_byte_at_a_time_gives_the_same_reading() {
    for fixture in embedded() {
        for encoding in Encoding::ALL {
            checks::compressed_same_one_byte_at_a_time(&fixture, encoding);
        }
    }
}

#[test]
fn a_compressed_body_cut_short_is_malformed() {
    for fixture in embedded() {
        for encoding in Encoding::ALL {
            checks::compressed_cut_short_is_malformed(&fixture, encoding);
        }
    }
}
