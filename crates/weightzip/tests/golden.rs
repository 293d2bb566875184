//! Golden archives of every format version decode forever.
//!
//! `WZ_WRITE_GOLDEN=1 cargo test -p weightzip --test golden` writes the
//! archives of the current version (do this only when adding a version).

mod common;

use common::*;
use weightzip::{compress_path, decompress_bytes, Archive, CompressOptions, ExtractOptions};

const SOURCE: &str = "v1-minilm-slice.bf16.safetensors";

#[test]
fn v1_single_file_archive_decodes() {
    let src = golden_dir().join(SOURCE);
    let wz = golden_dir().join("v1-minilm-slice.bf16.safetensors.wz");
    if std::env::var_os("WZ_WRITE_GOLDEN").is_some() {
        let opts = CompressOptions {
            chunk_size: 16 << 10,
            overwrite: true,
            ..Default::default()
        };
        compress_path(&src, &wz, &opts).unwrap();
    }
    let original = std::fs::read(&src).unwrap();
    let archive = std::fs::read(&wz).unwrap();
    assert_eq!(decompress_bytes(&archive).unwrap(), original);
}

#[test]
fn v1_folder_archive_decodes() {
    let wz = golden_dir().join("v1-folder.wz");
    if std::env::var_os("WZ_WRITE_GOLDEN").is_some() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("model");
        std::fs::create_dir_all(&model).unwrap();
        std::fs::copy(golden_dir().join(SOURCE), model.join("model.safetensors")).unwrap();
        std::fs::write(
            model.join("config.json"),
            b"{\"model_type\": \"bert\", \"hidden_size\": 384}\n",
        )
        .unwrap();
        let opts = CompressOptions {
            overwrite: true,
            ..Default::default()
        };
        compress_path(&model, &wz, &opts).unwrap();
    }
    let archive = Archive::open(&wz).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("restored");
    archive.extract(&out, &ExtractOptions::default()).unwrap();
    assert_eq!(
        std::fs::read(out.join("model.safetensors")).unwrap(),
        std::fs::read(golden_dir().join(SOURCE)).unwrap()
    );
    assert_eq!(
        std::fs::read(out.join("config.json")).unwrap(),
        b"{\"model_type\": \"bert\", \"hidden_size\": 384}\n"
    );
}
