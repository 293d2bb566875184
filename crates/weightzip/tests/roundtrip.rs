//! Byte-exact round trips of real model files and of arbitrary files,
//! through memory and through the file system, with several chunkings.

mod common;

use common::*;
use weightzip::{
    compress_bytes, compress_path, decompress_bytes, Archive, CompressOptions, ExtractOptions,
    Level, RootKind,
};

fn opts(chunk: usize, threads: usize, level: Level) -> CompressOptions {
    CompressOptions {
        chunk_size: chunk,
        threads,
        level,
        ..Default::default()
    }
}

#[test]
fn every_fixture_round_trips_in_memory() {
    let files = fixture_files();
    assert!(files.len() >= 3, "expected real fixtures in tests/fixtures");
    for f in files {
        let data = std::fs::read(&f).unwrap();
        for (chunk, threads) in [(4 << 20, 2), (64 << 10, 1), (100_003, 2)] {
            let wz = compress_bytes(&data, &opts(chunk, threads, Level::Fast)).unwrap();
            assert_eq!(
                decompress_bytes(&wz).unwrap(),
                data,
                "{} chunk {chunk}",
                f.display()
            );
            assert!(wz.len() < data.len(), "{} did not shrink", f.display());
        }
    }
}

#[test]
fn arbitrary_files_round_trip() {
    let cases: Vec<Vec<u8>> = vec![
        vec![],
        vec![0],
        b"{\"architectures\": [\"BertModel\"]}".to_vec(),
        pseudo_random(100_000, 1),
        b"GGUF\x03\x00\x00\x00 truncated gguf header".to_vec(),
        // A safetensors-looking header that lies about its length.
        [&1000u64.to_le_bytes()[..], b"{\"a\":1}"].concat(),
        vec![7u8; 300_000],
    ];
    for data in cases {
        for threads in [1, 2] {
            let wz = compress_bytes(&data, &opts(65_536, threads, Level::Fast)).unwrap();
            assert_eq!(decompress_bytes(&wz).unwrap(), data);
        }
    }
}

#[test]
fn bf16_fixture_reaches_the_byte_marginal_ceiling() {
    // Bar: byte-weighted ratio within 0.5 % of the file's byte-marginal
    // ceiling. The file's ratio includes headers, index and tables.
    for f in fixture_files() {
        let data = std::fs::read(&f).unwrap();
        let (ceiling, bf16_bytes) = bf16_ceiling(&data);
        if bf16_bytes < data.len() as u64 * 9 / 10 {
            continue;
        }
        let wz = compress_bytes(&data, &CompressOptions::default()).unwrap();
        let ratio = data.len() as f64 / wz.len() as f64;
        assert!(
            ratio >= ceiling * 0.995,
            "{}: ratio {ratio:.4} vs ceiling {ceiling:.4}",
            f.display()
        );
    }
}

#[test]
fn files_and_folders_round_trip_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    std::fs::create_dir_all(model.join("sub")).unwrap();
    let fixtures = fixture_files();
    let first = std::fs::read(&fixtures[0]).unwrap();
    std::fs::write(model.join("weights.bin"), &first).unwrap();
    std::fs::write(model.join("config.json"), b"{\"hidden_size\": 384}").unwrap();
    std::fs::write(model.join("sub/empty"), b"").unwrap();
    std::fs::copy(&fixtures[1], model.join("sub/second")).unwrap();

    let wz = dir.path().join("model.wz");
    let summary = compress_path(&model, &wz, &opts(1 << 20, 2, Level::Fast)).unwrap();
    assert_eq!(summary.files, 4);
    let archive = Archive::open(&wz).unwrap();
    assert_eq!(archive.index().root, RootKind::Dir);
    let paths: Vec<&str> = archive
        .index()
        .entries
        .iter()
        .map(|e| e.path.as_str())
        .collect();
    assert_eq!(
        paths,
        ["config.json", "sub/empty", "sub/second", "weights.bin"]
    );
    let out = dir.path().join("restored");
    archive.extract(&out, &ExtractOptions::default()).unwrap();
    for p in ["weights.bin", "config.json", "sub/empty", "sub/second"] {
        assert_eq!(
            std::fs::read(out.join(p)).unwrap(),
            std::fs::read(model.join(p)).unwrap(),
            "{p}"
        );
    }
    // No temporary files are left behind.
    assert_no_temporaries(dir.path());

    // A single file keeps its name as the entry path.
    let single = dir.path().join("one.wz");
    compress_path(
        &model.join("weights.bin"),
        &single,
        &CompressOptions::default(),
    )
    .unwrap();
    let archive = Archive::open(&single).unwrap();
    assert_eq!(archive.index().root, RootKind::File);
    assert_eq!(archive.index().entries[0].path, "weights.bin");
    let back = dir.path().join("weights.back");
    archive.extract(&back, &ExtractOptions::default()).unwrap();
    assert_eq!(std::fs::read(&back).unwrap(), first);
}

#[test]
fn never_overwrites_without_permission() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.bin");
    std::fs::write(&input, pseudo_random(5000, 3)).unwrap();
    let out = dir.path().join("in.bin.wz");
    std::fs::write(&out, b"precious").unwrap();
    let err = compress_path(&input, &out, &CompressOptions::default()).unwrap_err();
    assert!(matches!(err, weightzip::WzError::OutputExists(_)), "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), b"precious");
    let force = CompressOptions {
        overwrite: true,
        ..Default::default()
    };
    compress_path(&input, &out, &force).unwrap();
    let archive = Archive::open(&out).unwrap();
    let err = archive
        .extract(&input, &ExtractOptions::default())
        .unwrap_err();
    assert!(matches!(err, weightzip::WzError::OutputExists(_)));
}

#[test]
fn random_access_returns_each_tensor_exactly() {
    let f = fixture_files()
        .into_iter()
        .find(|p| p.to_string_lossy().ends_with(".gguf"))
        .unwrap();
    for f in [f, fixture_files()[0].clone()] {
        let data = std::fs::read(&f).unwrap();
        let layout = weightzip_format::layout_of(&data).unwrap();
        let wz = compress_bytes(&data, &opts(200_000, 2, Level::Fast)).unwrap();
        let archive = Archive::from_bytes(&wz).unwrap();
        for t in &layout.tensors {
            let mut out = Vec::new();
            let n = archive
                .read_tensor(None, &t.name, &mut out, &ExtractOptions::default())
                .unwrap();
            assert_eq!(n, t.len);
            assert_eq!(
                out,
                &data[t.offset as usize..(t.offset + t.len) as usize],
                "{}",
                t.name
            );
        }
        let mut sink = Vec::new();
        assert!(matches!(
            archive.read_tensor(
                None,
                "no.such.tensor",
                &mut sink,
                &ExtractOptions::default()
            ),
            Err(weightzip::WzError::NoSuchTensor(_))
        ));
    }
}

/// Extraction into a file writes each tensor chunk at its place from the
/// worker that decoded it: real files (tensors between non-tensor bytes),
/// small chunks, one and two threads give the original bytes; a damaged
/// chunk in the middle fails the extraction and leaves neither the output
/// nor a temporary file.
#[test]
fn extraction_to_files_writes_every_chunk_in_place() {
    let dir = tempfile::tempdir().unwrap();
    for (n, f) in fixture_files().into_iter().enumerate() {
        let data = std::fs::read(&f).unwrap();
        let wz = dir.path().join(format!("{n}.wz"));
        std::fs::write(
            &wz,
            compress_bytes(&data, &opts(64 << 10, 2, Level::Fast)).unwrap(),
        )
        .unwrap();
        let archive = Archive::open(&wz).unwrap();
        for threads in [1, 2] {
            let out = dir.path().join(format!("{n}.{threads}.out"));
            let eo = ExtractOptions {
                threads,
                ..Default::default()
            };
            archive.extract(&out, &eo).unwrap();
            assert_eq!(
                std::fs::read(&out).unwrap(),
                data,
                "{} T{threads}",
                f.display()
            );
        }
        let entry = &archive.index().entries[0];
        let (_, seg) = entry.tensors().max_by_key(|(_, s)| s.chunks.len()).unwrap();
        let chunk = &seg.chunks[seg.chunks.len() / 2];
        let mut bad = std::fs::read(&wz).unwrap();
        bad[(chunk.offset + chunk.stored_len / 2) as usize] ^= 0x40;
        let bad_wz = dir.path().join(format!("{n}.bad.wz"));
        std::fs::write(&bad_wz, bad).unwrap();
        let out = dir.path().join(format!("{n}.bad.out"));
        let eo = ExtractOptions {
            threads: 2,
            ..Default::default()
        };
        assert!(Archive::open(&bad_wz).unwrap().extract(&out, &eo).is_err());
        assert!(!out.exists());
    }
    assert_no_temporaries(dir.path());
}

/// No temporary file or folder is left in `dir`.
fn assert_no_temporaries(dir: &std::path::Path) {
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.contains(".tmp-") || n.ends_with(weightzip::fs::TEMP_SUFFIX)
        })
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
