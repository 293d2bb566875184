//! Property tests: no input makes the readers panic, and whatever they accept
//! satisfies the layout invariants.

mod common;

use common::{small_gguf, small_st};
use proptest::prelude::*;
use std::io::Cursor;
use weightzip_format::{
    gguf, layout_of, read_layout, safetensors, GgufView, Layout, SafetensorsView,
};

fn check_layout(l: &Layout, file_len: u64) {
    assert!(l.header_len <= file_len);
    for t in &l.tensors {
        assert!(t.offset >= l.header_len, "{t:?}");
        assert!(
            t.offset.checked_add(t.len).is_some_and(|e| e <= file_len),
            "{t:?}"
        );
    }
    let non_empty: Vec<_> = l.tensors.iter().filter(|t| t.len > 0).collect();
    for w in non_empty.windows(2) {
        assert!(w[0].end() <= w[1].offset, "{:?} / {:?}", w[0], w[1]);
    }
    for w in l.tensors.windows(2) {
        assert!(w[0].offset <= w[1].offset);
    }
}

/// Runs every entry point on `file`; panics only on invariant violations.
fn exercise(file: &[u8]) {
    let len = file.len() as u64;
    let whole = layout_of(file);
    if let Ok(l) = &whole {
        check_layout(l, len);
    }
    let streamed = read_layout(&mut Cursor::new(file), len);
    match (&whole, &streamed) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(_), Err(_)) => {}
        (a, b) => panic!("layout_of {a:?} vs read_layout {b:?}"),
    }
    // Direct parsers on the whole file and on a prefix.
    let _ = safetensors::parse_header(file, len);
    let _ = gguf::parse_header(file, len);
    let half = &file[..file.len() / 2];
    let _ = safetensors::parse_header(half, len);
    let _ = gguf::parse_header(half, len);
    if let Ok(v) = SafetensorsView::parse(file) {
        for (info, bytes) in v.iter() {
            assert_eq!(bytes.len() as u64, info.len());
        }
    }
    if let Ok(v) = GgufView::parse(file) {
        for (info, bytes) in v.iter() {
            assert_eq!(bytes.len() as u64, info.len);
        }
    }
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    SetU64(usize, u64),
    SetU32(usize, u32),
    Truncate(usize),
    Insert(usize, Vec<u8>),
}

fn apply(file: &mut Vec<u8>, m: &Mutation) {
    if file.is_empty() {
        return;
    }
    let n = file.len();
    match m {
        Mutation::Flip(at, x) => file[at % n] ^= x | 1,
        Mutation::SetU64(at, v) => {
            let at = at % n;
            for (i, b) in v.to_le_bytes().iter().enumerate() {
                if let Some(slot) = file.get_mut(at + i) {
                    *slot = *b;
                }
            }
        }
        Mutation::SetU32(at, v) => {
            let at = at % n;
            for (i, b) in v.to_le_bytes().iter().enumerate() {
                if let Some(slot) = file.get_mut(at + i) {
                    *slot = *b;
                }
            }
        }
        Mutation::Truncate(at) => file.truncate(at % n),
        Mutation::Insert(at, bytes) => {
            let at = at % n;
            file.splice(at..at, bytes.iter().copied());
        }
    }
}

fn interesting_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        0u64..64,
        Just(u64::MAX),
        Just(u64::MAX / 2),
        Just(1u64 << 32),
        Just(i64::MAX as u64),
        Just(i64::MAX as u64 + 1),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(a, x)| Mutation::Flip(a, x)),
        (any::<usize>(), interesting_u64()).prop_map(|(a, v)| Mutation::SetU64(a, v)),
        (any::<usize>(), prop_oneof![any::<u32>(), 0u32..45])
            .prop_map(|(a, v)| Mutation::SetU32(a, v)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(a, b)| Mutation::Insert(a, b)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(file in prop::collection::vec(any::<u8>(), 0..2048)) {
        exercise(&file);
    }

    #[test]
    fn random_bytes_with_magic_never_panic(
        body in prop::collection::vec(any::<u8>(), 0..2048),
        n in 2u64..4096,
    ) {
        let mut g = b"GGUF\x03\0\0\0".to_vec();
        g.extend_from_slice(&body);
        exercise(&g);
        let mut s = n.to_le_bytes().to_vec();
        s.push(b'{');
        s.extend_from_slice(&body);
        exercise(&s);
    }

    #[test]
    fn mutated_gguf_never_panics(muts in prop::collection::vec(mutation(), 1..6)) {
        let mut file = small_gguf().build();
        for m in &muts {
            apply(&mut file, m);
        }
        exercise(&file);
    }

    #[test]
    fn mutated_safetensors_never_panics(muts in prop::collection::vec(mutation(), 1..6)) {
        let mut file = small_st().build();
        for m in &muts {
            apply(&mut file, m);
        }
        exercise(&file);
    }
}

#[test]
fn every_single_byte_corruption_is_handled() {
    // Exhaustive over header positions (plus a little data) with a few patterns.
    for file in [small_gguf().build(), small_st().build()] {
        let header_len = layout_of(&file).unwrap().header_len as usize;
        let mut accepted = 0;
        for at in 0..(header_len + 8).min(file.len()) {
            for x in [0x01u8, 0x80, 0xFF, 0x20] {
                let mut f = file.clone();
                f[at] ^= x;
                exercise(&f);
                accepted += usize::from(layout_of(&f).is_ok());
            }
        }
        // Some corruptions (string contents, metadata values, padding) are benign.
        assert!(accepted > 0);
    }
}
