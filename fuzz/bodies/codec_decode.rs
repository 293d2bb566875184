// Body of the `codec_decode` fuzz target, included by
// fuzz/fuzz_targets/codec_decode.rs and by the replay test
// crates/weightzip/tests/fuzz_artifacts.rs, so both run the same code.
//
// Input: a codec (index into ALL_CODECS, modulo), the decoded length (u16 LE),
// then an encoding. Errors are fine; a panic is not.

pub fn fuzz_one(data: &[u8]) {
    let [pick, lo, hi, enc @ ..] = data else {
        return;
    };
    let codecs = weightzip_codec::ALL_CODECS;
    let codec = codecs[usize::from(*pick) % codecs.len()];
    let mut out = vec![0u8; usize::from(u16::from_le_bytes([*lo, *hi]))];
    let _ = codec.decode(enc, &mut out);
}
