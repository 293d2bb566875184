//! Every codec round-trips any input exactly.
//! Input: a codec (index into ALL_CODECS, modulo), then any bytes.
//! The body lives in fuzz/bodies/codec_roundtrip.rs, shared with the replay test.
#![no_main]

include!("../bodies/codec_roundtrip.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_one(data));
