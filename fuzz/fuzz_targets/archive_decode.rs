//! Arbitrary (or mutated) archives: open, verify, extract in memory.
//! Errors are fine; a panic is not.
//! The body lives in fuzz/bodies/archive_decode.rs, shared with the replay test.
#![no_main]

include!("../bodies/archive_decode.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_one(data));
