//! Golden archives of every format version decode forever.
//!
//! `WZ_WRITE_GOLDEN=1 cargo test -p weightzip --test golden` writes the
//! archives of the current version (do this only when adding a version);
//! those of older versions were written by older builds and never change
//! (their tests no longer write them).

mod common;

use common::*;
use weightzip::{
    compress_path, decompress_bytes, Archive, CompressOptions, ExtraKind, ExtractOptions,
};

const SOURCE: &str = "v1-minilm-slice.bf16.safetensors";
const CONFIG: &[u8] = b"{\"model_type\": \"bert\", \"hidden_size\": 384}\n";

fn writing() -> bool {
    std::env::var_os("WZ_WRITE_GOLDEN").is_some()
}

#[test]
fn v1_single_file_archive_decodes() {
    let src = golden_dir().join(SOURCE);
    let wz = golden_dir().join("v1-minilm-slice.bf16.safetensors.wz");
    let original = std::fs::read(&src).unwrap();
    let archive = std::fs::read(&wz).unwrap();
    assert_eq!(Archive::from_bytes(&archive).unwrap().version(), 1);
    assert_eq!(decompress_bytes(&archive).unwrap(), original);
}

#[test]
fn v1_folder_archive_decodes() {
    let wz = golden_dir().join("v1-folder.wz");
    let archive = Archive::open(&wz).unwrap();
    assert_eq!(archive.version(), 1);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("restored");
    archive.extract(&out, &ExtractOptions::default()).unwrap();
    assert_eq!(
        std::fs::read(out.join("model.safetensors")).unwrap(),
        std::fs::read(golden_dir().join(SOURCE)).unwrap()
    );
    assert_eq!(std::fs::read(out.join("config.json")).unwrap(), CONFIG);
}

#[test]
fn v2_single_file_archive_decodes() {
    let src = golden_dir().join(SOURCE);
    let wz = golden_dir().join("v2-minilm-slice.bf16.safetensors.wz");
    let original = std::fs::read(&src).unwrap();
    let archive = std::fs::read(&wz).unwrap();
    assert_eq!(Archive::from_bytes(&archive).unwrap().version(), 2);
    assert_eq!(decompress_bytes(&archive).unwrap(), original);
}

/// A folder with a model, a config of mode 0600 and a fixed time, an empty
/// folder, a symbolic link and a hard link.
#[cfg(unix)]
#[test]
fn v2_folder_archive_decodes_with_its_members() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let wz = golden_dir().join("v2-folder.wz");
    let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    // Written by the version-2 build: a folder with a model, a config of
    // mode 0600 and this time, an empty folder, `sub/link` →
    // `../model.safetensors` and `sub/config.json` hard-linked to the config.
    let archive = Archive::open(&wz).unwrap();
    assert_eq!(archive.version(), 2);
    let kinds: Vec<(&str, &ExtraKind)> = archive
        .index()
        .extras
        .iter()
        .map(|x| (x.path.as_str(), &x.kind))
        .collect();
    assert!(kinds.contains(&("empty", &ExtraKind::Dir)));
    assert!(kinds
        .iter()
        .any(|(p, k)| *p == "sub/config.json" && matches!(k, ExtraKind::Hardlink { .. })));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("restored");
    archive.extract(&out, &ExtractOptions::default()).unwrap();
    assert_eq!(
        std::fs::read(out.join("model.safetensors")).unwrap(),
        std::fs::read(golden_dir().join(SOURCE)).unwrap()
    );
    let config = std::fs::metadata(out.join("config.json")).unwrap();
    assert_eq!(config.permissions().mode() & 0o777, 0o600);
    assert_eq!(config.modified().unwrap(), when);
    assert_eq!(config.nlink(), 2, "the hard link is a hard link again");
    assert_eq!(std::fs::read(out.join("sub/config.json")).unwrap(), CONFIG);
    assert!(out.join("empty").is_dir());
    assert_eq!(
        std::fs::read_link(out.join("sub/link")).unwrap(),
        std::path::Path::new("../model.safetensors")
    );
}

/// A folder holding the same model twice: version 3 stores its content
/// once and refers to it.
#[test]
fn v3_folder_with_references_decodes() {
    let wz = golden_dir().join("v3-folder-dedup.wz");
    let model = std::fs::read(golden_dir().join(SOURCE)).unwrap();
    let archive = Archive::open(&wz).unwrap();
    assert_eq!(archive.version(), 3);
    let index = archive.index();
    let first = index.entries.iter().find(|e| e.path == "model.safetensors");
    let copy = index
        .entries
        .iter()
        .find(|e| e.path == "copy/model.safetensors");
    let (first, copy) = (first.unwrap(), copy.unwrap());
    // The copy's chunks are the first file's: same payloads.
    assert!(copy.chunks().eq(first.chunks()));
    let single = std::fs::metadata(golden_dir().join("v2-minilm-slice.bf16.safetensors.wz"))
        .unwrap()
        .len();
    assert!(
        archive.size() < single + 4096,
        "the copy costs only its index entries"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("restored");
    archive.extract(&out, &ExtractOptions::default()).unwrap();
    assert_eq!(std::fs::read(out.join("model.safetensors")).unwrap(), model);
    assert_eq!(
        std::fs::read(out.join("copy/model.safetensors")).unwrap(),
        model
    );
    assert_eq!(std::fs::read(out.join("config.json")).unwrap(), CONFIG);
}

/// A training run of two real fine-tune steps, the later coded as deltas
/// against the earlier (a chain, Sub deltas), and a config file: version 4.
#[test]
fn v4_folder_with_a_delta_chain_decodes() {
    folder_chain_decodes("v4-folder-chain.wz", 4);
}

/// The same run in version 5: the chain's deltas escape-coded.
#[test]
fn v5_folder_with_an_escape_delta_chain_decodes() {
    folder_chain_decodes("v5-folder-chain.wz", 5);
}

/// The same run in version 6: the chain's deltas split (raw low bits).
#[test]
fn v6_folder_with_a_split_delta_chain_decodes() {
    folder_chain_decodes("v6-folder-chain.wz", 6);
}

/// Checks the golden chain archive `file` of format `version` (writes it
/// first with `WZ_WRITE_GOLDEN` when it is the current version's).
fn folder_chain_decodes(file: &str, version: u32) {
    let wz = golden_dir().join(file);
    let steps = [
        (
            "step-0000",
            "minilm-finetune-step0000.slice.bf16.safetensors",
        ),
        (
            "step-0100",
            "minilm-finetune-step0100.slice.bf16.safetensors",
        ),
    ];
    if writing() && version == weightzip::index::FORMAT_VERSION {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("run");
        for (step, fixture) in steps {
            std::fs::create_dir_all(root.join(step)).unwrap();
            std::fs::copy(
                fixtures_dir().join(fixture),
                root.join(step).join("model.safetensors"),
            )
            .unwrap();
        }
        std::fs::write(root.join("config.json"), CONFIG).unwrap();
        let opts = CompressOptions {
            chunk_size: 256 << 10,
            overwrite: true,
            ..Default::default()
        };
        let summary = compress_path(&root, &wz, &opts).unwrap();
        assert!(summary.delta_chunks > 0);
    }
    let archive = Archive::open(&wz).unwrap();
    assert_eq!(archive.version(), version);
    let later = archive
        .index()
        .entries
        .iter()
        .find(|e| e.path == "step-0100/model.safetensors")
        .unwrap();
    assert!(later
        .chunks()
        .any(|c| matches!(c.base, Some(weightzip::index::ChunkBase::Chunk(_)))));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("restored");
    archive.extract(&out, &ExtractOptions::default()).unwrap();
    for (step, fixture) in steps {
        assert!(
            std::fs::read(out.join(step).join("model.safetensors")).unwrap()
                == std::fs::read(fixtures_dir().join(fixture)).unwrap()
        );
    }
    assert_eq!(std::fs::read(out.join("config.json")).unwrap(), CONFIG);
}
