// Body of the `stream_decode` fuzz target, included by
// fuzz/fuzz_targets/stream_decode.rs and by the replay test
// crates/weightzip/tests/fuzz_artifacts.rs, so both run the same code.
//
// Input: the symbol count (u16 LE), then an entropy stream. Errors are fine;
// a panic is not.

pub fn fuzz_one(data: &[u8]) {
    let [lo, hi, stream @ ..] = data else {
        return;
    };
    let mut out = vec![0u8; usize::from(u16::from_le_bytes([*lo, *hi]))];
    let _ = weightzip_entropy::decode_stream(&mut weightzip_entropy::ByteReader::new(stream), &mut out);
}
