//! Round trips and rejections of the index serialisation.

use super::*;
use weightzip_codec::CodecId;
use weightzip_format::Dtype;

fn sample() -> Index {
    let chunk = |offset, raw_len| ChunkRef {
        offset,
        stored_len: 10,
        raw_len,
        codec: CodecId::Bf16 as u8,
        checksum: 0xdead_beef,
        base: None,
    };
    Index {
        root: RootKind::Dir,
        entries: vec![Entry {
            path: "sub/model.safetensors".into(),
            size: 108,
            checksum: 42,
            file_kind: 1,
            segments: vec![
                Segment {
                    kind: SegmentKind::Passthrough,
                    len: 8,
                    chunks: vec![],
                },
                Segment {
                    kind: SegmentKind::Tensor {
                        name: "w".into(),
                        ty: Some(TensorType::St(Dtype::BF16)),
                        shape: vec![10, 5],
                    },
                    len: 100,
                    chunks: vec![chunk(16, 60), chunk(26, 40)],
                },
            ],
            passthrough: vec![chunk(36, 8)],
            attrs: Attrs {
                mode: Some(0o644),
                mtime: Some(Mtime {
                    secs: -3,
                    nanos: 999_999_999,
                }),
            },
        }],
        extras: vec![
            Extra {
                path: "empty".into(),
                kind: ExtraKind::Dir,
                attrs: Attrs {
                    mode: Some(0o755),
                    mtime: None,
                },
            },
            Extra {
                path: "link".into(),
                kind: ExtraKind::Symlink {
                    target: "sub/model.safetensors".into(),
                },
                attrs: Attrs::default(),
            },
            Extra {
                path: "hard".into(),
                kind: ExtraKind::Hardlink { entry: 0 },
                attrs: Attrs::default(),
            },
        ],
        base: None,
    }
}

#[test]
fn index_round_trips() {
    let idx = sample();
    let b = idx.to_bytes();
    assert_eq!(Index::from_bytes(&b, 100).unwrap(), idx);
}

#[test]
fn every_truncation_and_many_flips_are_errors_not_panics() {
    let b = sample().to_bytes();
    for cut in 0..b.len() {
        assert!(Index::from_bytes(&b[..cut], 100).is_err(), "cut {cut}");
    }
    for i in 0..b.len() {
        for bit in 0..8 {
            let mut m = b.clone();
            m[i] ^= 1 << bit;
            let _ = Index::from_bytes(&m, 100);
        }
    }
}

#[test]
fn rejects_chunks_outside_the_area_and_unsafe_paths() {
    let b = sample().to_bytes();
    assert!(Index::from_bytes(&b, 40).is_err());
    for p in ["", "/etc/passwd", "a/../../b", "./x", "a//b", "C:x", "a\\b"] {
        assert!(check_relative_path(p).is_err(), "{p}");
    }
    assert!(check_relative_path("a/b.json").is_ok());
}

#[test]
fn header_and_footer_checks() {
    assert_eq!(check_header(&header_bytes()).unwrap(), FORMAT_VERSION);
    let mut flagged = header_bytes();
    flagged[12] = 1;
    assert!(matches!(
        check_header(&flagged),
        Err(WzError::UnknownFlags(1))
    ));
    assert!(matches!(
        check_header(b"GGUF0000000000000000"),
        Err(WzError::BadMagic)
    ));
    let mut h = header_bytes();
    h[8] = 9;
    assert!(matches!(
        check_header(&h),
        Err(WzError::UnsupportedVersion { .. })
    ));
    let f = Footer {
        version: FORMAT_VERSION,
        index_offset: 100,
        index_len: 50,
        index_checksum: 7,
    };
    assert_eq!(Footer::parse(&f.to_bytes(), 182).unwrap(), f);
    assert!(Footer::parse(&f.to_bytes(), 183).is_err());
}

#[test]
fn version_1_indexes_parse_without_attributes() {
    let mut idx = sample();
    let b = idx.to_bytes_version(1);
    idx.extras.clear();
    idx.entries[0].attrs = Attrs::default();
    let budget = index_memory_budget(100);
    assert_eq!(Index::from_bytes_version(&b, 100, 1, budget).unwrap(), idx);
    // Read as version 2, the same bytes end early.
    assert!(Index::from_bytes_version(&b, 100, 2, budget).is_err());
}

#[test]
fn overlapping_chunks_are_refused() {
    let mut idx = sample();
    idx.entries[0].passthrough[0].offset = 20;
    let b = idx.to_bytes();
    let err = Index::from_bytes(&b, 100).unwrap_err();
    assert!(err.to_string().contains("overlap"), "{err}");
}

#[test]
fn the_memory_budget_bounds_parsing() {
    let b = sample().to_bytes();
    assert!(Index::from_bytes_version(&b, 100, FORMAT_VERSION, 10_000).is_ok());
    let tight = b.len() as u64 + 100;
    assert!(Index::from_bytes_version(&b, 100, FORMAT_VERSION, tight).is_err());
}

#[test]
fn a_zstd_bomb_index_is_refused_without_decoding_it_whole() {
    let zeros = vec![0u8; 64 << 20];
    let stored = zstd::bulk::compress(&zeros, 19).unwrap();
    assert!(stored.len() < 64 << 10);
    let err = decode_stored_index(&stored, 1 << 20).unwrap_err();
    assert!(err.to_string().contains("more than"), "{err}");
    assert_eq!(
        decode_stored_index(&stored, 64 << 20).unwrap().len(),
        64 << 20
    );
}

#[test]
fn bad_links_and_paths_are_refused() {
    let mut idx = sample();
    idx.extras[2].kind = ExtraKind::Hardlink { entry: 5 };
    assert!(Index::from_bytes(&idx.to_bytes(), 100).is_err());
    let mut idx = sample();
    idx.extras[0].path = "sub/model.safetensors".into();
    assert!(Index::from_bytes(&idx.to_bytes(), 100).is_err());
    let mut idx = sample();
    idx.extras[1].path = "../escape".into();
    assert!(Index::from_bytes(&idx.to_bytes(), 100).is_err());
    let mut idx = sample();
    idx.root = RootKind::File;
    assert!(Index::from_bytes(&idx.to_bytes(), 100).is_err());
}

/// The sample with a second file whose tensor is the first file's: the
/// same chunks in two places.
fn with_a_copy() -> Index {
    let mut idx = sample();
    let mut copy = idx.entries[0].clone();
    copy.path = "copy.safetensors".into();
    idx.entries.push(copy);
    idx
}

#[test]
fn version_3_stores_shared_chunks_once_and_refers_to_them() {
    let idx = with_a_copy();
    let v3 = idx.to_bytes();
    let v2 = idx.to_bytes_version(2);
    // Three references of 2 bytes instead of three chunks of 12 or more.
    assert!(v3.len() + 20 < v2.len(), "{} vs {}", v3.len(), v2.len());
    let back = Index::from_bytes(&v3, 100).unwrap();
    assert_eq!(back, idx);
    // Version 2 lists every chunk in full, so its copies overlap.
    let budget = index_memory_budget(100);
    let err = Index::from_bytes_version(&v2, 100, 2, budget).unwrap_err();
    assert!(err.to_string().contains("overlap"), "{err}");
}

#[test]
fn version_2_indexes_still_parse() {
    let idx = sample();
    let b = idx.to_bytes_version(2);
    let budget = index_memory_budget(100);
    assert_eq!(Index::from_bytes_version(&b, 100, 2, budget).unwrap(), idx);
    assert!(Index::from_bytes_version(&b, 100, 3, budget).is_err());
}

#[test]
fn a_chunk_used_more_than_the_limit_is_refused() {
    let mut idx = sample();
    let first = idx.entries[0].segments[1].chunks[0].clone();
    let uses = usize::from(MAX_CHUNK_USES);
    let seg = &mut idx.entries[0].segments[1];
    seg.chunks = vec![first.clone(); uses];
    seg.len = first.raw_len * uses as u64;
    idx.entries[0].size = seg.len + 8;
    let b = idx.to_bytes();
    assert_eq!(Index::from_bytes(&b, 100).unwrap(), idx);
    let seg = &mut idx.entries[0].segments[1];
    seg.chunks.push(first.clone());
    seg.len += first.raw_len;
    idx.entries[0].size += first.raw_len;
    let err = Index::from_bytes(&idx.to_bytes(), 100).unwrap_err();
    assert!(err.to_string().contains("used more than"), "{err}");
}

#[test]
fn a_reference_must_name_an_earlier_stored_chunk() {
    let idx = with_a_copy();
    let b = idx.to_bytes();
    // The copy's passthrough list is its last chunk list but one: one
    // reference, `01 00` (to stored chunk 0). Point it past the end.
    let at = b
        .windows(3)
        .rposition(|w| w == [1, 1, 0])
        .expect("one-chunk list holding a reference");
    for target in [3u8, 100] {
        let mut m = b.clone();
        m[at + 2] = target;
        let err = Index::from_bytes(&m, 100).unwrap_err();
        assert!(err.to_string().contains("refers to stored chunk"), "{err}");
    }
}
