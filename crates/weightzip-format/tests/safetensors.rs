//! safetensors reader: valid files, every dtype, and malformed headers.

mod common;

use common::{bytes, small_st, st_raw, StBuilder};
use serde_json::json;
use weightzip_format::safetensors::{parse_header, MAX_HEADER_LEN};
use weightzip_format::{layout_of, Dtype, FileKind, FormatError, SafetensorsFile, SafetensorsView};

#[test]
fn parses_small_file_sorted_by_offset() {
    let b = small_st();
    let file = b.build();
    let v = SafetensorsView::parse(&file).unwrap();
    let h = v.header();
    assert_eq!(h.metadata.get("format").map(String::as_str), Some("pt"));
    let names: Vec<_> = h.tensors.iter().map(|t| t.name.as_str()).collect();
    // JSON lists them in reverse; the header is sorted by offset.
    assert_eq!(
        names,
        [
            "model.embed_tokens.weight",
            "model.norm.weight",
            "lm_head.weight"
        ]
    );
    assert_eq!(
        h.header_len,
        8 + u64::from_le_bytes(file[..8].try_into().unwrap())
    );
    for t in &b.tensors {
        assert_eq!(v.tensor_bytes(&t.name), Some(&t.data[..]), "{}", t.name);
    }
    let info = v.info("model.embed_tokens.weight").unwrap();
    assert_eq!(info.dtype, Dtype::BF16);
    assert_eq!(info.shape, vec![4, 3]);
    assert_eq!(info.data_start, h.header_len);
    assert_eq!(info.n_elements(), 12);
    assert_eq!(v.iter().count(), 3);
    assert!(v.tensor_bytes("nope").is_none());

    let layout = layout_of(&file).unwrap();
    assert_eq!(layout.kind, FileKind::Safetensors);
    assert_eq!(layout.header_len, h.header_len);
    assert_eq!(layout.tensors.len(), 3);
    assert!(layout.tensors.windows(2).all(|w| w[0].end() <= w[1].offset));
}

#[test]
fn every_dtype_size_is_used() {
    // Shape [2, 4]: 8 elements; sub-byte dtypes still fill whole bytes.
    let mut b = StBuilder::new();
    for (i, d) in Dtype::ALL.iter().enumerate() {
        let n = d.bytes_for(8).unwrap() as usize;
        b = b.tensor(
            &format!("t{i}.{}", d.name()),
            d.name(),
            &[2, 4],
            bytes(n, i as u64),
        );
    }
    let file = b.build();
    let v = SafetensorsView::parse(&file).unwrap();
    for (t, d) in v.header().tensors.iter().zip(Dtype::ALL) {
        assert_eq!(t.dtype, d);
        assert_eq!(t.len() * 8, 8 * u64::from(d.bits()), "{d}");
    }
    // A one-byte-too-long tensor is rejected for every dtype.
    for d in Dtype::ALL {
        let n = d.bytes_for(8).unwrap() as usize + 1;
        let file = StBuilder::new()
            .tensor("x", d.name(), &[8], bytes(n, 0))
            .build();
        assert!(
            matches!(
                SafetensorsView::parse(&file),
                Err(FormatError::InvalidTensor { .. })
            ),
            "{d}"
        );
    }
}

#[test]
fn gaps_padding_and_scalars_are_fine() {
    let mut b = small_st();
    b.gap = 5;
    b.trailing = 17;
    b.header_pad = 7;
    let file = b.build();
    let v = SafetensorsView::parse(&file).unwrap();
    for t in &b.tensors {
        assert_eq!(v.tensor_bytes(&t.name), Some(&t.data[..]));
    }
    // Scalar (shape []) is one element; empty tensors take no bytes.
    let file = StBuilder::new()
        .tensor("scalar", "F64", &[], bytes(8, 1))
        .tensor("empty", "F32", &[0, 5], vec![])
        .tensor("after", "U8", &[2], vec![1, 2])
        .build();
    let v = SafetensorsView::parse(&file).unwrap();
    assert_eq!(v.tensor_bytes("scalar").unwrap().len(), 8);
    assert_eq!(v.tensor_bytes("empty"), Some(&[][..]));
    assert_eq!(v.tensor_bytes("after"), Some(&[1u8, 2][..]));
    // No tensors at all.
    let file = st_raw("{}", &[]);
    assert!(SafetensorsView::parse(&file)
        .unwrap()
        .header()
        .tensors
        .is_empty());
}

#[test]
fn need_more_for_short_prefix() {
    let file = small_st().build();
    let n = u64::from_le_bytes(file[..8].try_into().unwrap());
    let len = file.len() as u64;
    for k in 0..(8 + n as usize) {
        match parse_header(&file[..k], len) {
            Err(FormatError::NeedMore { needed_at_least }) => {
                assert!(
                    needed_at_least > k as u64 && needed_at_least <= 8 + n,
                    "k={k}"
                )
            }
            other => panic!("k={k}: {other:?}"),
        }
    }
    assert!(parse_header(&file[..8 + n as usize], len).is_ok());
}

fn err(file: &[u8]) -> FormatError {
    match SafetensorsView::parse(file) {
        Err(e) => e,
        Ok(v) => panic!("expected an error, got {:?}", v.header()),
    }
}

#[test]
fn rejects_bad_header_lengths() {
    // Shorter than the length field.
    assert!(matches!(err(&[1, 0, 0]), FormatError::Truncated { .. }));
    // Length past EOF.
    let mut f = st_raw("{}", &[]);
    f[0] = 200;
    match err(&f) {
        FormatError::Truncated {
            offset,
            needed,
            available,
            ..
        } => {
            assert_eq!((offset, needed, available), (8, 200, 2))
        }
        e => panic!("{e}"),
    }
    // Length above the cap.
    let mut f = st_raw("{}", &[]);
    f[..8].copy_from_slice(&(MAX_HEADER_LEN + 1).to_le_bytes());
    assert!(matches!(err(&f), FormatError::HostileSize { .. }));
    f[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(err(&f), FormatError::HostileSize { .. }));
}

#[test]
fn rejects_bad_json() {
    assert!(matches!(err(&st_raw("{\"a\":", &[])), FormatError::Json(_)));
    assert!(matches!(
        err(&st_raw("[1, 2]", &[])),
        FormatError::InvalidHeader { .. }
    ));
    assert!(matches!(
        err(&st_raw("\"s\"", &[])),
        FormatError::Json(_) | FormatError::InvalidHeader { .. }
    ));
    let bad_utf8 = {
        let mut f = st_raw("{\"\u{e9}\":1}", &[]);
        f[10] = 0xFF;
        f
    };
    assert!(matches!(err(&bad_utf8), FormatError::Json(_)));
    // Non-string metadata.
    let f = st_raw(r#"{"__metadata__":{"a":1}}"#, &[]);
    assert!(matches!(err(&f), FormatError::InvalidHeader { .. }));
    let f = st_raw(r#"{"__metadata__":[]}"#, &[]);
    assert!(matches!(err(&f), FormatError::InvalidHeader { .. }));
}

#[test]
fn rejects_bad_tensor_entries() {
    let data = [0u8; 64];
    let cases: &[(&str, &str)] = &[
        (r#"{"t":1}"#, "not an object"),
        (
            r#"{"t":{"shape":[1],"data_offsets":[0,4]}}"#,
            "missing dtype",
        ),
        (
            r#"{"t":{"dtype":7,"shape":[1],"data_offsets":[0,4]}}"#,
            "numeric dtype",
        ),
        (
            r#"{"t":{"dtype":"F32","data_offsets":[0,4]}}"#,
            "missing shape",
        ),
        (
            r#"{"t":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#,
            "negative dim",
        ),
        (
            r#"{"t":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#,
            "float dim",
        ),
        (r#"{"t":{"dtype":"F32","shape":[1]}}"#, "missing offsets"),
        (
            r#"{"t":{"dtype":"F32","shape":[1],"data_offsets":[0]}}"#,
            "one offset",
        ),
        (
            r#"{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}"#,
            "three offsets",
        ),
        (
            r#"{"t":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#,
            "begin > end",
        ),
        (
            r#"{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#,
            "size mismatch",
        ),
        (
            r#"{"t":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}"#,
            "half byte",
        ),
        (
            r#"{"t":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}"#,
            "element overflow",
        ),
        (
            r#"{"t":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,4]}}"#,
            "byte overflow",
        ),
    ];
    for (hdr, why) in cases {
        assert!(
            matches!(err(&st_raw(hdr, &data)), FormatError::InvalidTensor { .. }),
            "{why}"
        );
    }
    let f = st_raw(
        r#"{"t":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}"#,
        &data,
    );
    match err(&f) {
        FormatError::UnknownDtype { name, dtype } => assert_eq!((&*name, &*dtype), ("t", "F33")),
        e => panic!("{e}"),
    }
}

#[test]
fn rejects_out_of_bounds_and_overlaps() {
    let data = [0u8; 16];
    let f = st_raw(
        r#"{"t":{"dtype":"F32","shape":[5],"data_offsets":[0,20]}}"#,
        &data,
    );
    match err(&f) {
        FormatError::TensorOutOfBounds { end, file_len, .. } => {
            assert_eq!(file_len, f.len() as u64);
            assert!(end > file_len);
        }
        e => panic!("{e}"),
    }
    let f = st_raw(
        r#"{"t":{"dtype":"U8","shape":[1],"data_offsets":[18446744073709551614,18446744073709551615]}}"#,
        &data,
    );
    assert!(matches!(err(&f), FormatError::TensorOutOfBounds { .. }));
    let f = st_raw(
        r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
        &data,
    );
    match err(&f) {
        FormatError::OverlappingTensors { a, b, .. } => assert_eq!((&*a, &*b), ("a", "b")),
        e => panic!("{e}"),
    }
    // Same range twice is an overlap too.
    let f = st_raw(
        r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}}"#,
        &data,
    );
    assert!(matches!(err(&f), FormatError::OverlappingTensors { .. }));
    // A zero-size tensor inside another occupies nothing.
    let f = st_raw(
        r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}"#,
        &data,
    );
    assert!(SafetensorsView::parse(&f).is_ok());
}

#[test]
fn error_messages_name_the_tensor() {
    let f = st_raw(
        r#"{"blk.w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#,
        &[0; 4],
    );
    let msg = err(&f).to_string();
    assert!(
        msg.contains("blk.w") && msg.contains("needs 8 bytes"),
        "{msg}"
    );
}

#[test]
fn truncation_at_every_byte_is_an_error() {
    let file = small_st().build();
    for k in 0..file.len() {
        match layout_of(&file[..k]) {
            Err(_) => {}
            Ok(l) => assert!(l.kind == FileKind::Unknown && k < 8, "k={k}: {l:?}"),
        }
    }
}

#[test]
fn duplicate_json_key_keeps_last() {
    let f = st_raw(
        r#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}"#,
        &[9, 8, 7],
    );
    let v = SafetensorsView::parse(&f).unwrap();
    assert_eq!(v.tensor_bytes("a"), Some(&[8u8, 7][..]));
}

#[test]
fn mmap_file_matches_view() {
    let file = small_st().build();
    let path =
        std::env::temp_dir().join(format!("wz-format-st-{}.safetensors", std::process::id()));
    std::fs::write(&path, &file).unwrap();
    let mapped = SafetensorsFile::open(&path);
    let _ = std::fs::remove_file(&path);
    let mapped = mapped.unwrap();
    let view = SafetensorsView::parse(&file).unwrap();
    assert_eq!(mapped.header(), view.header());
    for (a, b) in mapped.iter().zip(view.iter()) {
        assert_eq!(a, b);
    }
    assert_eq!(
        mapped.tensor_bytes("model.norm.weight"),
        view.tensor_bytes("model.norm.weight")
    );
    assert!(SafetensorsFile::open("/nonexistent/wz.safetensors").is_err());
}

#[test]
fn header_trailing_whitespace_and_json_builder() {
    let b = small_st();
    let mut j = serde_json::Value::Object(b.json());
    j["extra_field_tensor"] = json!({"dtype":"U8","shape":[0],"data_offsets":[0,0],"note":"x"});
    let file = b.build_with_json(&j);
    let v = SafetensorsView::parse(&file).unwrap();
    assert_eq!(v.header().tensors.len(), 4);
}
