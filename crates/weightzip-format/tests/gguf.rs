//! GGUF reader: valid files, every ggml type, every value type, and malformed headers.

mod common;

use common::{bytes, gguf_str, small_gguf, GgBuilder, GgTensor, Val};
use weightzip_format::gguf::{parse_header, MAX_DIMS, MAX_TOTAL_ARRAY_ELEMENTS};
use weightzip_format::{
    layout_of, FileKind, FormatError, GgmlType, GgufFile, GgufValue, GgufView, TensorType,
};

#[test]
fn parses_small_file() {
    let b = small_gguf();
    let (file, o) = b.build_with_offsets();
    let v = GgufView::parse(&file).unwrap();
    let h = v.header();
    assert_eq!(h.version, 3);
    assert_eq!(h.alignment, 32);
    assert_eq!(h.infos_end, o.infos_end as u64);
    assert_eq!(h.data_start, o.data_start as u64);
    assert_eq!(h.header_len, h.data_start);
    assert_eq!(h.data_start % 32, 0);
    assert_eq!(
        v.get("general.architecture").and_then(GgufValue::as_str),
        Some("llama")
    );
    assert_eq!(
        v.get("llama.block_count").and_then(GgufValue::as_u64),
        Some(2)
    );
    assert_eq!(v.get("some.flag"), Some(&GgufValue::Bool(true)));
    let toks = v
        .get("tokenizer.ggml.tokens")
        .and_then(GgufValue::as_array)
        .unwrap();
    assert_eq!(toks.len(), 3);
    assert_eq!(toks[1].as_str(), Some("a"));
    assert!(v.get("missing").is_none());

    let names: Vec<_> = h.tensors.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "token_embd.weight",
            "blk.0.attn_norm.weight",
            "blk.0.ffn_down.weight"
        ]
    );
    for t in &b.tensors {
        assert_eq!(v.tensor_bytes(&t.name), Some(&t.data[..]), "{}", t.name);
    }
    let info = v.info("blk.0.ffn_down.weight").unwrap();
    assert_eq!(
        (info.ty, info.len, info.offset % 32),
        (GgmlType::Q4_K, 144, 0)
    );
    assert_eq!(v.iter().count(), 3);

    let layout = layout_of(&file).unwrap();
    assert_eq!(layout.kind, FileKind::Gguf);
    assert_eq!(layout.header_len, h.data_start);
    assert_eq!(layout.tensors[0].ty, TensorType::Ggml(GgmlType::Q8_0));
    assert_eq!(layout.tensors[0].shape, vec![32, 2]);
}

#[test]
fn every_ggml_type_size_is_used() {
    let mut b = GgBuilder::new();
    for (i, t) in GgmlType::ALL.iter().enumerate() {
        let row = t.block_size() as u64 * 2;
        let len = t.row_bytes(row).unwrap() * 3;
        b = b.tensor(
            &format!("t{i}.{}", t.name()),
            &[row, 3],
            t.id(),
            bytes(len as usize, i as u64),
        );
    }
    let file = b.build();
    let v = GgufView::parse(&file).unwrap();
    for (info, t) in v.header().tensors.iter().zip(GgmlType::ALL) {
        assert_eq!(info.ty, t);
        assert_eq!(info.len, 2 * 3 * t.type_size() as u64, "{t}");
    }
    for t in &b.tensors {
        assert_eq!(v.tensor_bytes(&t.name), Some(&t.data[..]), "{}", t.name);
    }
}

#[test]
fn every_value_type_round_trips() {
    let b = GgBuilder::new()
        .kv("u8", Val::U8(200))
        .kv("i8", Val::I8(-5))
        .kv("u16", Val::U16(60000))
        .kv("i16", Val::I16(-300))
        .kv("u32", Val::U32(4_000_000_000))
        .kv("i32", Val::I32(-7))
        .kv("f32", Val::F32(1.5))
        .kv("bool0", Val::Bool(0))
        .kv("bool2", Val::Bool(2))
        .kv("str", Val::str("héllo"))
        .kv("bad_utf8", Val::Str(vec![b'a', 0xFF, b'b']))
        .kv("u64", Val::U64(u64::MAX))
        .kv("i64", Val::I64(i64::MIN))
        .kv("f64", Val::F64(-2.25))
        .kv("empty", Val::Arr(4, vec![]))
        .kv(
            "nested",
            Val::Arr(
                9,
                vec![
                    Val::Arr(5, vec![Val::I32(1), Val::I32(2)]),
                    Val::Arr(8, vec![Val::str("x")]),
                ],
            ),
        )
        .kv("f32s", Val::Arr(6, vec![Val::F32(0.5), Val::F32(-1.0)]));
    let file = b.build();
    let h = parse_header(&file, file.len() as u64).unwrap();
    assert_eq!(h.tensors.len(), 0);
    assert_eq!(h.data_start, h.infos_end);
    assert_eq!(h.data_start, file.len() as u64);
    let get = |k: &str| h.get(k).unwrap().clone();
    assert_eq!(get("u8"), GgufValue::U8(200));
    assert_eq!(get("i8"), GgufValue::I8(-5));
    assert_eq!(get("u16"), GgufValue::U16(60000));
    assert_eq!(get("i16"), GgufValue::I16(-300));
    assert_eq!(get("u32"), GgufValue::U32(4_000_000_000));
    assert_eq!(get("i32"), GgufValue::I32(-7));
    assert_eq!(get("f32"), GgufValue::F32(1.5));
    assert_eq!(get("bool0"), GgufValue::Bool(false));
    assert_eq!(get("bool2"), GgufValue::Bool(true));
    assert_eq!(get("str").as_str(), Some("héllo"));
    assert_eq!(get("bad_utf8").as_str(), Some("a\u{FFFD}b"));
    assert_eq!(get("u64").as_u64(), Some(u64::MAX));
    assert_eq!(get("i64").as_i64(), Some(i64::MIN));
    assert_eq!(get("f64").as_f64(), Some(-2.25));
    assert_eq!(get("empty"), GgufValue::Array(vec![]));
    assert_eq!(
        get("nested"),
        GgufValue::Array(vec![
            GgufValue::Array(vec![GgufValue::I32(1), GgufValue::I32(2)]),
            GgufValue::Array(vec![GgufValue::String("x".into())]),
        ])
    );
    assert_eq!(get("f32s").as_array().map(<[_]>::len), Some(2));
    assert_eq!(get("i8").as_u64(), None);
    assert_eq!(get("u8").type_name(), "u8");
    // Order is preserved.
    assert_eq!(h.kv.first().map(|(k, _)| k.as_str()), Some("u8"));
}

#[test]
fn alignment_and_version_2() {
    let mut b = small_gguf().kv("general.alignment", Val::U32(64));
    b.align = 64;
    b.version = 2;
    let file = b.build();
    let h = parse_header(&file, file.len() as u64).unwrap();
    assert_eq!((h.version, h.alignment, h.data_start % 64), (2, 64, 0));
    for t in &h.tensors {
        assert_eq!((t.offset - h.data_start) % 64, 0);
    }
    // Alignment 1 is a power of two.
    let mut b = small_gguf().kv("general.alignment", Val::U32(1));
    b.align = 1;
    let file = b.build();
    assert_eq!(parse_header(&file, file.len() as u64).unwrap().alignment, 1);
}

#[test]
fn tensors_may_be_out_of_order_with_gaps() {
    let mut b = small_gguf();
    b.tensors[0].offset = Some(512);
    b.tensors[1].offset = Some(0);
    b.tensors[2].offset = Some(128);
    let file = b.build();
    let v = GgufView::parse(&file).unwrap();
    for t in &b.tensors {
        assert_eq!(v.tensor_bytes(&t.name), Some(&t.data[..]));
    }
    let layout = layout_of(&file).unwrap();
    let offs: Vec<_> = layout
        .tensors
        .iter()
        .map(|t| t.offset - layout.header_len)
        .collect();
    assert_eq!(offs, [0, 128, 512]);
}

#[test]
fn need_more_until_infos_end() {
    let (file, o) = small_gguf().build_with_offsets();
    let len = file.len() as u64;
    for k in 0..o.infos_end {
        match parse_header(&file[..k], len) {
            Err(FormatError::NeedMore { needed_at_least }) => assert!(
                needed_at_least > k as u64 && needed_at_least <= o.infos_end as u64,
                "k={k} needed={needed_at_least}"
            ),
            other => panic!("k={k}: {other:?}"),
        }
    }
    // The alignment padding need not be present.
    assert!(parse_header(&file[..o.infos_end], len).is_ok());
}

#[test]
fn truncation_at_every_byte_is_an_error() {
    let file = small_gguf().build();
    for k in 0..file.len() {
        match layout_of(&file[..k]) {
            Err(_) => {}
            Ok(l) => assert!(l.kind == FileKind::Unknown && k < 4, "k={k}: {l:?}"),
        }
    }
}

fn parse_err(file: &[u8]) -> FormatError {
    match parse_header(file, file.len() as u64) {
        Err(e) => e,
        Ok(h) => panic!("expected an error, got {h:?}"),
    }
}

fn invalid_header(e: &FormatError) -> bool {
    matches!(e, FormatError::InvalidHeader { .. })
}

#[test]
fn rejects_bad_magic_and_versions() {
    let mut f = small_gguf().build();
    f[0] = b'X';
    assert!(matches!(parse_err(&f), FormatError::BadMagic { .. }));
    for (version, what) in [
        (1u32, "version 1"),
        (4, "version 4"),
        (0, "version 0"),
        (0x0300_0000, "byte-swapped"),
    ] {
        let mut b = small_gguf();
        b.version = version;
        let e = parse_err(&b.build());
        assert!(invalid_header(&e), "{what}: {e}");
    }
}

#[test]
fn rejects_bad_alignment() {
    for v in [
        Val::U32(0),
        Val::U32(3),
        Val::U32(48),
        Val::U64(32),
        Val::str("32"),
    ] {
        let f = small_gguf().kv("general.alignment", v.clone()).build();
        let e = parse_err(&f);
        assert!(invalid_header(&e), "{v:?}: {e}");
    }
}

#[test]
fn rejects_bad_keys() {
    let f = small_gguf().kv("", Val::U8(1)).build();
    assert!(invalid_header(&parse_err(&f)));
    let f = small_gguf().kv("some.flag", Val::U8(1)).build();
    let e = parse_err(&f);
    assert!(
        invalid_header(&e) && e.to_string().contains("some.flag"),
        "{e}"
    );
    // Unknown value type.
    let mut b = small_gguf();
    b.kv.clear();
    let mut f = b.build();
    let mut kv = Vec::new();
    gguf_str(&mut kv, b"k");
    kv.extend_from_slice(&13u32.to_le_bytes());
    kv.extend_from_slice(&[0; 8]);
    f.splice(24..24, kv);
    f[16..24].copy_from_slice(&1u64.to_le_bytes());
    assert!(invalid_header(&parse_err(&f)));
}

#[test]
fn rejects_hostile_strings_and_arrays() {
    // String length far past EOF.
    let mut f = b"GGUF".to_vec();
    f.extend_from_slice(&3u32.to_le_bytes());
    f.extend_from_slice(&0u64.to_le_bytes());
    f.extend_from_slice(&1u64.to_le_bytes());
    let base = f.clone();
    f.extend_from_slice(&u64::MAX.to_le_bytes());
    f.extend_from_slice(&[b'k'; 8]);
    match parse_err(&f) {
        FormatError::Truncated { what, offset, .. } => {
            assert!(what.contains("key/value #0 key"), "{what}");
            assert_eq!(offset, 32);
        }
        e => panic!("{e}"),
    }
    // Array count huge (overflowing count * size) and merely larger than the file.
    for count in [u64::MAX, u64::MAX / 4, 1 << 40, 100] {
        let mut f = base.clone();
        gguf_str(&mut f, b"arr");
        f.extend_from_slice(&9u32.to_le_bytes());
        f.extend_from_slice(&10u32.to_le_bytes()); // u64 elements
        f.extend_from_slice(&count.to_le_bytes());
        f.extend_from_slice(&[0u8; 64]);
        assert!(
            matches!(parse_err(&f), FormatError::Truncated { .. }),
            "count {count}"
        );
    }
    // Arrays of arrays of strings with huge inner counts.
    let mut f = base.clone();
    gguf_str(&mut f, b"arr");
    f.extend_from_slice(&9u32.to_le_bytes());
    f.extend_from_slice(&9u32.to_le_bytes());
    f.extend_from_slice(&1u64.to_le_bytes());
    f.extend_from_slice(&8u32.to_le_bytes());
    f.extend_from_slice(&(u64::MAX / 8).to_le_bytes());
    f.extend_from_slice(&[0u8; 64]);
    assert!(matches!(parse_err(&f), FormatError::Truncated { .. }));
    // Unknown array element type.
    let mut f = base.clone();
    gguf_str(&mut f, b"arr");
    f.extend_from_slice(&9u32.to_le_bytes());
    f.extend_from_slice(&77u32.to_le_bytes());
    f.extend_from_slice(&0u64.to_le_bytes());
    assert!(invalid_header(&parse_err(&f)));
    // Nesting too deep (each level: type ARRAY, count 1).
    let mut f = base.clone();
    gguf_str(&mut f, b"deep");
    f.extend_from_slice(&9u32.to_le_bytes());
    for _ in 0..20 {
        f.extend_from_slice(&9u32.to_le_bytes());
        f.extend_from_slice(&1u64.to_le_bytes());
    }
    f.extend_from_slice(&[0u8; 64]);
    assert!(invalid_header(&parse_err(&f)));
}

#[test]
fn element_budget_is_enforced() {
    let n = MAX_TOTAL_ARRAY_ELEMENTS as usize + 1;
    let mut f = b"GGUF".to_vec();
    f.extend_from_slice(&3u32.to_le_bytes());
    f.extend_from_slice(&0u64.to_le_bytes());
    f.extend_from_slice(&1u64.to_le_bytes());
    gguf_str(&mut f, b"big");
    f.extend_from_slice(&9u32.to_le_bytes());
    f.extend_from_slice(&0u32.to_le_bytes());
    f.extend_from_slice(&(n as u64).to_le_bytes());
    f.resize(f.len() + n, 0);
    assert!(matches!(parse_err(&f), FormatError::HostileSize { .. }));
}

#[test]
fn rejects_hostile_counts() {
    for (tensors, kvs) in [
        (u64::MAX, 0u64),
        (0, u64::MAX),
        (1 << 40, 1 << 40),
        (1000, 0),
    ] {
        let mut f = b"GGUF".to_vec();
        f.extend_from_slice(&3u32.to_le_bytes());
        f.extend_from_slice(&tensors.to_le_bytes());
        f.extend_from_slice(&kvs.to_le_bytes());
        f.extend_from_slice(&[0u8; 100]);
        assert!(
            matches!(parse_err(&f), FormatError::HostileSize { .. }),
            "{tensors} {kvs}"
        );
    }
}

fn with_tensor(t: GgTensor) -> Vec<u8> {
    let mut b = small_gguf();
    b.tensors.push(t);
    b.build()
}

fn tensor(name: &str, dims: &[u64], ty: u32, len: usize) -> GgTensor {
    GgTensor {
        name: name.into(),
        dims: dims.to_vec(),
        ty,
        data: vec![0; len],
        offset: None,
    }
}

#[test]
fn rejects_bad_tensor_infos() {
    // Duplicate name.
    let e = parse_err(&with_tensor(tensor("blk.0.attn_norm.weight", &[3], 0, 12)));
    assert!(matches!(e, FormatError::InvalidTensor { .. }), "{e}");
    // Unknown / removed type ids.
    for id in [4u32, 5, 31, 36, 43, 1000] {
        match parse_err(&with_tensor(tensor("x", &[32], id, 64))) {
            FormatError::UnknownGgmlType { name, id: got } => {
                assert_eq!((name.as_str(), got), ("x", id))
            }
            e => panic!("{id}: {e}"),
        }
    }
    // Row not a multiple of the block size (also for a 0-dim tensor of a block type).
    assert!(matches!(
        parse_err(&with_tensor(tensor("x", &[100, 2], 12, 288))),
        FormatError::InvalidTensor { .. }
    ));
    assert!(matches!(
        parse_err(&with_tensor(tensor("x", &[], 8, 34))),
        FormatError::InvalidTensor { .. }
    ));
    // Dimension negative as int64, product overflow.
    assert!(matches!(
        parse_err(&with_tensor(tensor("x", &[1 << 63], 0, 4))),
        FormatError::InvalidTensor { .. }
    ));
    assert!(matches!(
        parse_err(&with_tensor(tensor("x", &[1 << 32, 1 << 32], 0, 4))),
        FormatError::InvalidTensor { .. }
    ));
    assert!(matches!(
        parse_err(&with_tensor(tensor("x", &[1 << 31, 1 << 31, 2], 0, 4))),
        FormatError::InvalidTensor { .. }
    ));
    // Byte size overflow (elements fit in i64, bytes do not).
    assert!(matches!(
        parse_err(&with_tensor(tensor("x", &[1 << 61], 28, 4))),
        FormatError::InvalidTensor { .. }
    ));
    // Too many dims.
    let dims = vec![1u64; MAX_DIMS as usize + 1];
    assert!(matches!(
        parse_err(&with_tensor(tensor("x", &dims, 0, 4))),
        FormatError::HostileSize { .. }
    ));
    // n_dims = u32::MAX with nothing behind it.
    let (mut f, o) = small_gguf().build_with_offsets();
    f[o.n_dims_at[0]..o.n_dims_at[0] + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(parse_err(&f), FormatError::HostileSize { .. }));
}

#[test]
fn rejects_bad_offsets() {
    let (file, o) = small_gguf().build_with_offsets();
    let patch = |rel: u64| {
        let mut f = file.clone();
        let at = o.rel_offset_at[1];
        f[at..at + 8].copy_from_slice(&rel.to_le_bytes());
        f
    };
    // Unaligned.
    let e = parse_err(&patch(4));
    assert!(
        matches!(&e, FormatError::InvalidTensor { reason, .. } if reason.contains("alignment")),
        "{e}"
    );
    // Past EOF, and overflowing.
    for rel in [1 << 20, u64::MAX - 31] {
        match parse_err(&patch(rel)) {
            FormatError::TensorOutOfBounds { name, file_len, .. } => {
                assert!(name.contains("blk.0.attn_norm.weight"));
                assert_eq!(file_len, file.len() as u64);
            }
            e => panic!("{e}"),
        }
    }
    // Overlapping another tensor (token_embd is at 0 with 68 bytes).
    let e = parse_err(&patch(32));
    assert!(matches!(e, FormatError::OverlappingTensors { .. }), "{e}");
    // Data section start past EOF: cut the file right after the infos.
    let cut = &file[..o.infos_end + 1];
    assert!(matches!(
        parse_header(cut, cut.len() as u64),
        Err(FormatError::Truncated { .. }) | Err(FormatError::TensorOutOfBounds { .. })
    ));
}

#[test]
fn error_message_is_specific() {
    let (file, o) = small_gguf().build_with_offsets();
    let mut f = file.clone();
    let at = o.rel_offset_at[2];
    f[at..at + 8].copy_from_slice(&(1u64 << 20).to_le_bytes());
    let msg = parse_err(&f).to_string();
    assert!(
        msg.contains("GGUF tensor info 'blk.0.ffn_down.weight'")
            && msg.contains("exceeds file length"),
        "{msg}"
    );
}

#[test]
fn mmap_file_matches_view() {
    let file = small_gguf().build();
    let path = std::env::temp_dir().join(format!("wz-format-gguf-{}.gguf", std::process::id()));
    std::fs::write(&path, &file).unwrap();
    let mapped = GgufFile::open(&path);
    let _ = std::fs::remove_file(&path);
    let mapped = mapped.unwrap();
    let view = GgufView::parse(&file).unwrap();
    assert_eq!(mapped.header(), view.header());
    assert_eq!(
        mapped.get("llama.block_count"),
        view.get("llama.block_count")
    );
    for (a, b) in mapped.iter().zip(view.iter()) {
        assert_eq!(a, b);
    }
    assert_eq!(
        mapped.tensor_bytes("token_embd.weight"),
        view.tensor_bytes("token_embd.weight")
    );
    assert!(mapped.info("token_embd.weight").is_some());
}
