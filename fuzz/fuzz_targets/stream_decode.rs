//! Arbitrary bytes into the entropy stream decoder: errors, never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use weightzip_entropy::stream::decode_stream;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let n = usize::from(u16::from_le_bytes([data[0], data[1]]));
    let mut out = vec![0u8; n];
    let _ = decode_stream(&mut weightzip_entropy::ByteReader::new(&data[2..]), &mut out);
});
