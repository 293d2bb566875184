//! Arbitrary bytes into the entropy stream decoder.
//! Input: the symbol count (u16 LE), then an entropy stream. Errors are fine;
//! a panic is not.
//! The body lives in fuzz/bodies/stream_decode.rs, shared with the replay test.
#![no_main]

include!("../bodies/stream_decode.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_one(data));
