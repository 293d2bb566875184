//! Checkpoint deltas through the container (`compress --base`): a real
//! fine-tune (MiniLM, scripts/finetune_minilm.py, step 100) coded against
//! its base (step 0) restores byte for byte with the base given as a
//! file, a folder or a `.wz`; it is smaller than the checkpoint coded
//! alone; a missing or wrong base is refused with its own errors, and a
//! hostile base table or delta chain is refused when the index is read.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::*;
use weightzip::base::Base;
use weightzip::index::{ChunkBase, MAX_DELTA_DEPTH};
use weightzip::{compress_path, Archive, CompressOptions, ExtractOptions, WzError};

const BASE: &str = "minilm-finetune-step0000.slice.bf16.safetensors";
const STEP: &str = "minilm-finetune-step0100.slice.bf16.safetensors";

fn small_chunks() -> CompressOptions {
    CompressOptions {
        chunk_size: 64 << 10,
        overwrite: true,
        ..Default::default()
    }
}

fn against(base: &Path) -> CompressOptions {
    CompressOptions {
        base: Some(Arc::new(Base::open(base).unwrap())),
        ..small_chunks()
    }
}

fn restore(wz: &Path, base: Option<&Path>) -> weightzip::Result<Vec<u8>> {
    let mut archive = Archive::open(wz)?;
    if let Some(b) = base {
        archive.set_base(&Arc::new(Base::open(b)?))?;
    }
    archive.needs_base()?;
    let mut out = Vec::new();
    archive.extract_entry_to(0, &mut out, &ExtractOptions::default())?;
    Ok(out)
}

struct Pair {
    _dir: tempfile::TempDir,
    base: PathBuf,
    new: PathBuf,
    wz: PathBuf,
    alone: u64,
}

fn coded_pair() -> Pair {
    let dir = tempfile::tempdir().unwrap();
    let base = fixtures_dir().join(BASE);
    let new = fixtures_dir().join(STEP);
    let wz = dir.path().join("step.wz");
    let summary = compress_path(&new, &wz, &against(&base)).unwrap();
    assert!(summary.delta_chunks > 0);
    let alone = compress_path(&new, &dir.path().join("alone.wz"), &small_chunks())
        .unwrap()
        .output_bytes;
    Pair {
        _dir: dir,
        base,
        new,
        wz,
        alone,
    }
}

#[test]
fn a_fine_tune_against_its_base_round_trips_and_beats_coding_alone() {
    let p = coded_pair();
    let size = std::fs::metadata(&p.wz).unwrap().len();
    // Measured on these fixtures: about 0.6 of the checkpoint coded alone.
    assert!(
        (size as f64) < 0.8 * p.alone as f64,
        "{size} vs {}",
        p.alone
    );
    let original = std::fs::read(&p.new).unwrap();
    assert!(restore(&p.wz, Some(&p.base)).unwrap() == original);

    let archive = Archive::open(&p.wz).unwrap();
    let table = archive.index().base.as_ref().unwrap();
    assert_eq!(table.tensors[0].file, BASE);
    let deltas = archive.index().entries[0]
        .chunks()
        .filter(|c| matches!(c.base, Some(ChunkBase::Tensor { .. })))
        .count();
    assert!(deltas > 0);
}

#[test]
fn the_base_may_be_a_folder_or_an_archive() {
    let p = coded_pair();
    let original = std::fs::read(&p.new).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // A base folder holding the base under the name the archive's entry
    // has (a folder base matches files by path).
    let folder = dir.path().join("base");
    std::fs::create_dir(&folder).unwrap();
    let new_name = p.new.file_name().unwrap();
    std::fs::copy(&p.base, folder.join(new_name)).unwrap();
    let wz_folder = dir.path().join("f.wz");
    compress_path(&p.new, &wz_folder, &against(&folder)).unwrap();
    assert!(restore(&wz_folder, Some(&folder)).unwrap() == original);

    // The base as an archive of it: coded against, and decoded with.
    let base_wz = dir.path().join("base.wz");
    compress_path(&p.base, &base_wz, &small_chunks()).unwrap();
    assert!(restore(&p.wz, Some(&base_wz)).unwrap() == original);
    let wz2 = dir.path().join("w.wz");
    compress_path(&p.new, &wz2, &against(&base_wz)).unwrap();
    assert!(restore(&wz2, Some(&p.base)).unwrap() == original);
}

#[test]
fn a_missing_or_wrong_base_is_refused() {
    let p = coded_pair();
    match restore(&p.wz, None) {
        Err(WzError::NeedsBase { label, tensors }) => {
            assert!(label.ends_with(BASE), "{label}");
            assert!(tensors > 0);
        }
        other => panic!("{:?}", other.map(|v| v.len())),
    }
    // Decoding a delta chunk without the base says the same, not "corrupt".
    let archive = Archive::open(&p.wz).unwrap();
    let err = archive.verify(&ExtractOptions::default()).unwrap_err();
    assert!(matches!(err, WzError::NeedsBase { .. }), "{err}");

    // The checkpoint itself is not its base: same names and lengths,
    // other bytes.
    let err = restore(&p.wz, Some(&p.new)).unwrap_err();
    match &err {
        WzError::WrongBase { why, .. } => assert!(why.contains("BLAKE3"), "{why}"),
        other => panic!("{other}"),
    }
    // Another model altogether lacks the tensors.
    let other = fixtures_dir().join("minilm-layer0-attention.fp32.safetensors");
    let err = restore(&p.wz, Some(&other)).unwrap_err();
    assert!(matches!(err, WzError::WrongBase { .. }), "{err}");
    // An archive made without a base takes none.
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.wz");
    compress_path(&p.new, &plain, &small_chunks()).unwrap();
    let mut a = Archive::open(&plain).unwrap();
    assert!(a.set_base(&Arc::new(Base::open(&p.base).unwrap())).is_err());
}

#[test]
fn a_tensor_read_follows_its_deltas() {
    let p = coded_pair();
    let mut archive = Archive::open(&p.wz).unwrap();
    archive
        .set_base(&Arc::new(Base::open(&p.base).unwrap()))
        .unwrap();
    let new = std::fs::read(&p.new).unwrap();
    let layout = weightzip_format::layout_of(&new).unwrap();
    let t = layout.tensors.iter().max_by_key(|t| t.len).unwrap();
    let mut out = Vec::new();
    archive
        .read_tensor(None, &t.name, &mut out, &ExtractOptions::default())
        .unwrap();
    assert!(out == new[t.offset as usize..t.end() as usize]);
    // A byte range in the middle, as the Python reader asks for it.
    let mut part = vec![0u8; 1000];
    archive
        .read_tensor_range_into(0, &t.name, 70_001, &mut part, 1)
        .unwrap();
    assert!(part == new[t.offset as usize + 70_001..t.offset as usize + 71_001]);
}

/// The index of `wz` with `edit` applied, written back as an archive.
fn with_index(wz: &[u8], edit: impl FnOnce(&mut weightzip::Index)) -> weightzip::Result<()> {
    let archive = Archive::from_bytes(wz)?;
    let mut index = archive.index().clone();
    edit(&mut index);
    let footer_at = wz.len() - weightzip::index::FOOTER_LEN as usize;
    let f: [u8; 32] = wz[footer_at..].try_into().unwrap();
    let footer = weightzip::index::Footer::parse(&f, wz.len() as u64)?;
    let raw = index.to_bytes();
    let stored = zstd::bulk::compress(&raw, 3).unwrap();
    let mut out = wz[..footer.index_offset as usize].to_vec();
    let new_footer = weightzip::index::Footer {
        index_offset: out.len() as u64,
        index_len: stored.len() as u64,
        index_checksum: xxhash_rust::xxh3::xxh3_64(&stored),
        ..footer
    };
    out.extend_from_slice(&stored);
    out.extend_from_slice(&new_footer.to_bytes());
    Archive::from_bytes(&out).map(|_| ())
}

#[test]
fn hostile_delta_chunks_are_refused_when_the_index_is_read() {
    let p = coded_pair();
    let wz = std::fs::read(&p.wz).unwrap();
    with_index(&wz, |_| {}).unwrap();
    // A delta reaching past its base tensor.
    let err = with_index(&wz, |ix| {
        let c = ix.entries[0]
            .segments
            .iter_mut()
            .flat_map(|s| s.chunks.iter_mut());
        for c in c {
            if let Some(ChunkBase::Tensor { offset, .. }) = &mut c.base {
                *offset = u64::MAX - 10;
            }
        }
    })
    .unwrap_err();
    assert!(err.to_string().contains("do not exist"), "{err}");
    // A delta against a base tensor the table does not have.
    let err = with_index(&wz, |ix| {
        ix.base.as_mut().unwrap().tensors.clear();
    })
    .unwrap_err();
    assert!(matches!(err, WzError::Corrupt(_)), "{err}");
}

#[test]
fn delta_chains_are_bounded_in_depth() {
    let p = coded_pair();
    let wz = std::fs::read(&p.wz).unwrap();
    let chain = |depth: u32| {
        with_index(&wz, |ix| {
            // Chunk k+1 of the largest tensor coded against chunk k, for
            // `depth` links (lengths permitting).
            let seg = ix.entries[0]
                .segments
                .iter_mut()
                .max_by_key(|s| s.chunks.len())
                .unwrap();
            for k in 0..depth as usize {
                let prev = seg.chunks[k].clone();
                let c = &mut seg.chunks[k + 1];
                c.raw_len = prev.raw_len;
                c.base = Some(ChunkBase::Chunk(Arc::new(prev)));
            }
        })
    };
    chain(2).unwrap();
    let too_deep = chain(MAX_DELTA_DEPTH + 1).unwrap_err();
    assert!(too_deep.to_string().contains("deltas deep"), "{too_deep}");
}
