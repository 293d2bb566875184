//! Arbitrary bytes into the safetensors / GGUF readers: errors, never panics;
//! the in-memory and the streaming reader agree, and an accepted layout keeps
//! every tensor inside the file, in order, without overlaps.
//! The body lives in fuzz/bodies/format_layout.rs, shared with the replay test.
#![no_main]

include!("../bodies/format_layout.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_one(data));
