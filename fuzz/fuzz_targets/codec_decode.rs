//! Arbitrary bytes into every codec's decoder.
//! Input: a codec (index into ALL_CODECS, modulo), the decoded length (u16 LE),
//! then an encoding. Errors are fine; a panic is not.
//! The body lives in fuzz/bodies/codec_decode.rs, shared with the replay test.
#![no_main]

include!("../bodies/codec_decode.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_one(data));
