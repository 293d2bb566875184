//! Arbitrary bytes into the safetensors / GGUF readers: errors, never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = weightzip_format::layout_of(data);
    let mut cursor = std::io::Cursor::new(data);
    let _ = weightzip_format::read_layout(&mut cursor, data.len() as u64);
});
