// Body of the `format_layout` fuzz target, included by
// fuzz/fuzz_targets/format_layout.rs and by the replay test
// crates/weightzip/tests/fuzz_artifacts.rs, so both run the same code.
//
// Arbitrary bytes into the safetensors / GGUF readers: errors, never panics;
// the in-memory and the streaming reader agree, and an accepted layout keeps
// every tensor inside the file, in order, without overlaps.

pub fn fuzz_one(data: &[u8]) {
    let file_len = data.len() as u64;
    let whole = weightzip_format::layout_of(data);
    let mut cursor = std::io::Cursor::new(data);
    let streamed = weightzip_format::read_layout(&mut cursor, file_len);
    match (&whole, &streamed) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "layout_of and read_layout disagree"),
        (Err(_), Err(_)) => {}
        (a, b) => panic!("layout_of {a:?} but read_layout {b:?}"),
    }
    let Ok(layout) = whole else {
        return;
    };
    assert!(
        layout.header_len <= file_len,
        "header past the end: {layout:?}"
    );
    for t in &layout.tensors {
        let end = t.offset.checked_add(t.len);
        assert!(t.offset >= layout.header_len, "tensor in the header: {t:?}");
        assert!(
            end.is_some_and(|e| e <= file_len),
            "tensor past the end: {t:?}"
        );
    }
    for w in layout.tensors.windows(2) {
        assert!(w[0].offset <= w[1].offset, "tensors out of order: {w:?}");
    }
    let non_empty: Vec<_> = layout.tensors.iter().filter(|t| t.len > 0).collect();
    for w in non_empty.windows(2) {
        assert!(w[0].end() <= w[1].offset, "tensors overlap: {w:?}");
    }
}
