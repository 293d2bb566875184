//! A folder of checkpoints coded as a chain: the real fine-tune steps
//! (scripts/finetune_minilm.py) as `step-0000/model.safetensors` and
//! `step-0100/model.safetensors`; the later one is coded as deltas
//! against the earlier one's chunks, needs no base from outside, restores
//! byte for byte, and is smaller than the folder coded file by file.

mod common;

use common::*;
use weightzip::index::ChunkBase;
use weightzip::{compress_path, Archive, CompressOptions, ExtractOptions};

fn run_folder(dir: &std::path::Path) -> std::path::PathBuf {
    let root = dir.join("run");
    for (step, fixture) in [
        (
            "step-0000",
            "minilm-finetune-step0000.slice.bf16.safetensors",
        ),
        (
            "step-0100",
            "minilm-finetune-step0100.slice.bf16.safetensors",
        ),
    ] {
        std::fs::create_dir_all(root.join(step)).unwrap();
        std::fs::copy(
            fixtures_dir().join(fixture),
            root.join(step).join("model.safetensors"),
        )
        .unwrap();
    }
    root
}

#[test]
fn a_training_run_is_coded_as_a_chain() {
    let dir = tempfile::tempdir().unwrap();
    let root = run_folder(dir.path());
    let opts = CompressOptions {
        chunk_size: 64 << 10,
        ..Default::default()
    };
    let chained = dir.path().join("chain.wz");
    let s = compress_path(&root, &chained, &opts).unwrap();
    let apart = dir.path().join("apart.wz");
    let plain = CompressOptions {
        chain: false,
        ..opts.clone()
    };
    let p = compress_path(&root, &apart, &plain).unwrap();
    assert!(s.delta_chunks > 0 && p.delta_chunks == 0);
    // Measured on these fixtures: the chain saves about a fifth.
    assert!(
        (s.output_bytes as f64) < 0.9 * p.output_bytes as f64,
        "{} vs {}",
        s.output_bytes,
        p.output_bytes
    );

    let archive = Archive::open(&chained).unwrap();
    assert!(archive.index().base.is_none());
    archive.needs_base().unwrap();
    let later = archive
        .index()
        .entries
        .iter()
        .find(|e| e.path == "step-0100/model.safetensors")
        .unwrap();
    assert!(later
        .chunks()
        .any(|c| matches!(c.base, Some(ChunkBase::Chunk(_)))));
    let out = dir.path().join("restored");
    archive.extract(&out, &ExtractOptions::default()).unwrap();
    for step in ["step-0000", "step-0100"] {
        let f = format!("{step}/model.safetensors");
        assert!(std::fs::read(out.join(&f)).unwrap() == std::fs::read(root.join(&f)).unwrap());
    }
    // Random access into the later checkpoint follows the chain.
    let mut t = Vec::new();
    archive
        .read_tensor(
            Some("step-0100/model.safetensors"),
            "encoder.layer.0.intermediate.dense.weight",
            &mut t,
            &ExtractOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let new = std::fs::read(root.join("step-0100/model.safetensors")).unwrap();
    let layout = weightzip_format::layout_of(&new).unwrap();
    let r = layout
        .tensors
        .iter()
        .find(|r| r.name == "encoder.layer.0.intermediate.dense.weight")
        .unwrap();
    assert!(t == new[r.offset as usize..r.end() as usize]);
}
