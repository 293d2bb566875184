//! Golden archives of every format version decode forever.
//!
//! `WZ_WRITE_GOLDEN=1 cargo test -p weightzip --test golden` writes the
//! archives of the current version (do this only when adding a version);
//! those of older versions were written by older builds and never change.

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
    if writing() {
        let opts = CompressOptions {
            chunk_size: 16 << 10,
            overwrite: true,
            ..Default::default()
        };
        compress_path(&src, &wz, &opts).unwrap();
    }
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
    if writing() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("model");
        std::fs::create_dir_all(model.join("empty")).unwrap();
        std::fs::create_dir_all(model.join("sub")).unwrap();
        std::fs::copy(golden_dir().join(SOURCE), model.join("model.safetensors")).unwrap();
        std::fs::write(model.join("config.json"), CONFIG).unwrap();
        let f = std::fs::File::options()
            .write(true)
            .open(model.join("config.json"))
            .unwrap();
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .unwrap();
        f.set_modified(when).unwrap();
        std::os::unix::fs::symlink("../model.safetensors", model.join("sub/link")).unwrap();
        std::fs::hard_link(model.join("config.json"), model.join("sub/config.json")).unwrap();
        let opts = CompressOptions {
            overwrite: true,
            ..Default::default()
        };
        compress_path(&model, &wz, &opts).unwrap();
    }
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
