//! Serialised indexes into weightzip's index parser (`Index::from_bytes`).
//! Input: the chunk area's end (u64 LE) then a serialised index (the bytes
//! `Archive` gets after decompressing the index). Errors are fine; a panic is
//! not, and an index that parses serialises to bytes that parse back to it.
//! The body lives in fuzz/bodies/index_decode.rs, shared with the replay test.
#![no_main]

include!("../bodies/index_decode.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_one(data));
