//! Content stored once: identical files, and the same tensors in a
//! safetensors file and its `torch.save` twin, become references (format
//! version 3); every copy restores, verifies and reads by tensor.

mod common;

use common::*;
use weightzip::{compress_path, Archive, CompressOptions, ExtractOptions};
use weightzip_format::layout_of;

const ST: &str = "lab-minilm-layers0-1.bf16.safetensors";
const BIN: &str = "minilm-layers0-1.bf16.pytorch_model.bin";

fn compressed_size(dir: &std::path::Path, name: &str, opts: &CompressOptions) -> u64 {
    let wz = dir.with_extension(format!("{name}.wz"));
    compress_path(dir, &wz, opts).unwrap();
    std::fs::metadata(&wz).unwrap().len()
}

#[test]
fn twins_and_copies_are_stored_once() {
    let tmp = tempfile::tempdir().unwrap();
    let alone = tmp.path().join("alone");
    let folder = tmp.path().join("model");
    std::fs::create_dir_all(&alone).unwrap();
    std::fs::create_dir_all(folder.join("copy")).unwrap();
    let st = std::fs::read(fixtures_dir().join(ST)).unwrap();
    let bin = std::fs::read(fixtures_dir().join(BIN)).unwrap();
    std::fs::write(alone.join("model.safetensors"), &st).unwrap();
    std::fs::write(folder.join("model.safetensors"), &st).unwrap();
    std::fs::write(folder.join("copy/model.safetensors"), &st).unwrap();
    std::fs::write(folder.join("pytorch_model.bin"), &bin).unwrap();

    let opts = CompressOptions::default();
    let single = compressed_size(&alone, "a", &opts);
    let deduped = compressed_size(&folder, "d", &opts);
    let plain = compressed_size(
        &folder,
        "p",
        &CompressOptions {
            dedup: false,
            ..Default::default()
        },
    );
    // Bars of issue 14 on the fixture pair: the copy and the twin cost
    // their headers and index entries only.
    assert!(
        (deduped as f64) <= single as f64 * 1.01,
        "{deduped} vs {single}"
    );
    assert!(
        plain > 2 * single,
        "{plain}: without dedup all three are coded"
    );

    let archive = Archive::open(&folder.with_extension("d.wz")).unwrap();
    assert_eq!(archive.version(), weightzip::index::FORMAT_VERSION);
    let bin_entry = archive
        .index()
        .entries
        .iter()
        .find(|e| e.path == "pytorch_model.bin")
        .unwrap();
    assert_eq!(bin_entry.file_kind, 3);
    let layout = layout_of(&st).unwrap();
    assert_eq!(bin_entry.tensors().count(), layout.tensors.len());

    // Whole restore, verify, and one tensor read from each copy.
    let opts = ExtractOptions::default();
    archive.verify(&opts).unwrap();
    let out = tmp.path().join("restored");
    archive.extract(&out, &opts).unwrap();
    assert!(std::fs::read(out.join("pytorch_model.bin")).unwrap() == bin);
    assert!(std::fs::read(out.join("copy/model.safetensors")).unwrap() == st);
    let t = &layout.tensors[layout.tensors.len() / 2];
    let want = &st[t.offset as usize..(t.offset + t.len) as usize];
    for path in [
        "model.safetensors",
        "copy/model.safetensors",
        "pytorch_model.bin",
    ] {
        let mut got = Vec::new();
        archive
            .read_tensor(Some(path), &t.name, &mut got, &opts)
            .unwrap();
        assert!(got == want, "{path}: {}", t.name);
        let entry = archive.entry_index(path).unwrap();
        let mut part = vec![0u8; 100];
        archive
            .read_tensor_range_into(entry, &t.name, 10, &mut part, 1)
            .unwrap();
        assert_eq!(part, want[10..110]);
    }
}
