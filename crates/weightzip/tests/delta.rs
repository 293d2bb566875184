//! The delta codecs on a real fine-tune: MiniLM trained by
//! scripts/finetune_minilm.py, sliced by scripts/slice_safetensors.py
//! (base = step 0, and a later step, both bf16). Each tensor's delta
//! against the base restores it exactly and is smaller than the tensor
//! coded alone.

mod common;

use common::*;
use weightzip::delta::{self, DeltaKind};
use weightzip::{compress_bytes, Archive, CompressOptions};
use weightzip_format::layout_of;

const BASE: &str = "minilm-finetune-step0000.slice.bf16.safetensors";
const STEP: &str = "minilm-finetune-step0100.slice.bf16.safetensors";

#[test]
fn real_fine_tune_deltas_round_trip_and_beat_coding_alone() {
    let base = std::fs::read(fixtures_dir().join(BASE)).unwrap();
    let new = std::fs::read(fixtures_dir().join(STEP)).unwrap();
    let (bl, nl) = (layout_of(&base).unwrap(), layout_of(&new).unwrap());
    let alone = compress_bytes(&new, &CompressOptions::default()).unwrap();
    let archive = Archive::from_bytes(&alone).unwrap();
    let entry = &archive.index().entries[0];
    let (mut coded, mut best) = (0u64, [0u64; 2]);
    for t in &nl.tensors {
        let b = bl.tensors.iter().find(|b| b.name == t.name).unwrap();
        let nb = &new[t.offset as usize..t.end() as usize];
        let bb = &base[b.offset as usize..b.end() as usize];
        assert!(nb != bb, "{}: the fine-tune changed every tensor", t.name);
        let (_, seg) = entry.tensors().find(|(n, _)| *n == t.name).unwrap();
        coded += seg.chunks.iter().map(|c| c.stored_len).sum::<u64>();
        for (k, kind) in [DeltaKind::Xor, DeltaKind::Sub].into_iter().enumerate() {
            let mut payload = Vec::new();
            delta::encode(kind, nb, bb, &mut payload).unwrap();
            let mut back = vec![0u8; nb.len()];
            delta::decode(&payload, bb, &mut back).unwrap();
            assert!(back == nb, "{}: {kind:?}", t.name);
            best[k] += payload.len() as u64;
        }
    }
    // Measured when the fixtures were made (step 100 against step 0): the
    // exponent-aware difference wins over xor, and both over coding alone.
    assert!(best[1] < best[0], "sub {} vs xor {}", best[1], best[0]);
    assert!(best[0] < coded, "xor {} vs alone {coded}", best[0]);
}
