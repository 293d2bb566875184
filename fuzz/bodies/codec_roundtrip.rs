// Body of the `codec_roundtrip` fuzz target, included by
// fuzz/fuzz_targets/codec_roundtrip.rs and by the replay test
// crates/weightzip/tests/fuzz_artifacts.rs, so both run the same code.
//
// Input: a codec (index into ALL_CODECS, modulo), then any bytes. Every codec
// encodes any bytes and decodes its own encoding to exactly those bytes.

pub fn fuzz_one(data: &[u8]) {
    let [pick, input @ ..] = data else {
        return;
    };
    let codecs = weightzip_codec::ALL_CODECS;
    let codec = codecs[usize::from(*pick) % codecs.len()];
    let mut enc = Vec::new();
    if let Err(e) = codec.encode(input, weightzip_codec::Level::Fast, &mut enc) {
        panic!("{} refuses {} bytes: {e}", codec.name(), input.len());
    }
    let mut out = vec![0u8; input.len()];
    if let Err(e) = codec.decode(&enc, &mut out) {
        panic!("{} cannot decode its own encoding: {e}", codec.name());
    }
    assert!(out == input, "{} decodes other bytes", codec.name());
}
