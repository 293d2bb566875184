//! `read_layout` (streaming, header only) against `layout_of` (whole file).

mod common;

use common::{bytes, small_gguf, small_st, GgBuilder, StBuilder, Val};
use std::io::{Cursor, Read, Seek, SeekFrom};
use weightzip_format::{layout_of, read_layout, FileKind, FormatError, Layout, INITIAL_READ};

/// Reader that records how many bytes were read and the furthest position touched.
struct Counting<R> {
    inner: R,
    read: u64,
    furthest: u64,
}

impl<R: Read + Seek> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        let pos = self.inner.stream_position()?;
        self.furthest = self.furthest.max(pos);
        Ok(n)
    }
}

impl<R: Seek> Seek for Counting<R> {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}

fn streamed(file: &[u8]) -> (Layout, u64) {
    let mut r = Counting {
        inner: Cursor::new(file),
        read: 0,
        furthest: 0,
    };
    let l = read_layout(&mut r, file.len() as u64).unwrap();
    (l, r.furthest)
}

#[test]
fn small_files_agree() {
    for file in [small_st().build(), small_gguf().build()] {
        let whole = layout_of(&file).unwrap();
        let (s, _) = streamed(&file);
        assert_eq!(s, whole);
        assert_ne!(s.kind, FileKind::Unknown);
    }
}

#[test]
fn reads_only_the_header_of_a_big_safetensors() {
    // A header longer than the first read, followed by 4 MB of data.
    let mut b = StBuilder::new();
    for i in 0..2000 {
        b = b.tensor(
            &format!("model.layers.{i}.mlp.up_proj.bias"),
            "U8",
            &[2],
            vec![1, 2],
        );
    }
    b = b.tensor("big", "U8", &[4 << 20], vec![7; 4 << 20]);
    let file = b.build();
    let header_len = 8 + u64::from_le_bytes(file[..8].try_into().unwrap());
    assert!(header_len > INITIAL_READ);
    let (s, furthest) = streamed(&file);
    assert_eq!(s, layout_of(&file).unwrap());
    assert_eq!(s.header_len, header_len);
    // Exactly the header: the length field tells us how much to read.
    assert_eq!(furthest, header_len);
}

#[test]
fn reads_only_the_header_of_a_big_gguf() {
    // A ~1 MB vocabulary forces several doublings of the prefix.
    let vocab: Vec<Val> = (0..60_000)
        .map(|i| Val::str(&format!("tok{i:08}")))
        .collect();
    let b = GgBuilder::new()
        .kv("general.architecture", Val::str("llama"))
        .kv("tokenizer.ggml.tokens", Val::Arr(8, vocab))
        .tensor("token_embd.weight", &[256, 64], 12, bytes(144 * 64, 9))
        .tensor("blk.0.attn_q.weight", &[1 << 20], 30, vec![3; 2 << 20]);
    let (file, o) = b.build_with_offsets();
    let (s, furthest) = streamed(&file);
    assert_eq!(s, layout_of(&file).unwrap());
    assert_eq!(s.tensors.len(), 2);
    // Never more than twice the header.
    assert!(
        furthest <= 2 * o.infos_end as u64,
        "read {furthest} for a {}-byte header",
        o.infos_end
    );
    assert!(furthest >= o.infos_end as u64);
}

#[test]
fn unknown_and_empty_files() {
    for file in [
        vec![],
        vec![1, 2, 3],
        b"hello world, not a model".to_vec(),
        vec![0u8; 100],
    ] {
        assert_eq!(layout_of(&file).unwrap(), Layout::unknown());
        assert_eq!(streamed(&file).0, Layout::unknown());
    }
}

#[test]
fn stream_shorter_than_stated_length() {
    let file = small_gguf().build();
    let mut r = Cursor::new(&file[..file.len() / 2]);
    let e = read_layout(&mut r, file.len() as u64).unwrap_err();
    assert!(matches!(e, FormatError::Truncated { .. }), "{e}");
    // Stated length shorter than the real file: the header is judged against it.
    let mut r = Cursor::new(&file[..]);
    assert!(read_layout(&mut r, 40).is_err());
}

#[test]
fn reader_position_does_not_matter() {
    let file = small_st().build();
    let mut r = Cursor::new(&file[..]);
    r.seek(SeekFrom::Start(17)).unwrap();
    assert_eq!(
        read_layout(&mut r, file.len() as u64).unwrap(),
        layout_of(&file).unwrap()
    );
}

#[test]
fn layout_invariants_hold() {
    for file in [small_st().build(), small_gguf().build()] {
        let l = layout_of(&file).unwrap();
        assert!(l.header_len <= file.len() as u64);
        for w in l.tensors.windows(2) {
            assert!(w[0].offset <= w[1].offset && w[0].end() <= w[1].offset);
        }
        for t in &l.tensors {
            assert!(t.offset >= l.header_len && t.end() <= file.len() as u64);
        }
    }
}
