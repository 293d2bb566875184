//! Every codec round-trips any input exactly.
#![no_main]
use libfuzzer_sys::fuzz_target;
use weightzip_codec::{Level, ALL_CODECS};

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let codec = ALL_CODECS[usize::from(data[0]) % ALL_CODECS.len()];
    let input = &data[1..];
    let mut enc = Vec::new();
    codec.encode(input, Level::Fast, &mut enc).expect("encode accepts any input");
    let mut out = vec![0u8; input.len()];
    codec.decode(&enc, &mut out).expect("own encoding decodes");
    assert_eq!(out, input);
});
