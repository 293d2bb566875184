//! Arbitrary bytes into every codec's decoder: errors, never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use weightzip_codec::ALL_CODECS;

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let codec = ALL_CODECS[usize::from(data[0]) % ALL_CODECS.len()];
    let n = usize::from(u16::from_le_bytes([data[1], data[2]]));
    let mut out = vec![0u8; n];
    let _ = codec.decode(&data[3..], &mut out);
});
