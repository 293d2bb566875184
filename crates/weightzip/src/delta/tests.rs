use super::*;

fn fixture() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/lab-minilm-layers0-1.bf16.safetensors"
    );
    std::fs::read(path).unwrap()
}

#[test]
fn the_word_maps_are_inverses() {
    for w in 0..=u16::MAX {
        assert_eq!(unordered(ordered(w)), w);
        assert_eq!(unzigzag(zigzag(w as i16)), w as i16);
    }
    // Ordered integers follow the floats: -2 < -1 < -0 < +0 < 1 < 2 (bf16).
    let floats = [0xc000u16, 0xbf80, 0x8000, 0x0000, 0x3f80, 0x4000];
    assert!(floats.windows(2).all(|p| ordered(p[0]) < ordered(p[1])));
}

#[test]
fn deltas_round_trip_on_real_weights() {
    let f = fixture();
    // Two real weight regions of 256 KiB (bf16 words), even-aligned.
    let start = (f.len() / 4) & !1;
    let base = &f[start..start + (256 << 10)];
    let other = &f[start + (256 << 10)..start + (512 << 10)];
    // A fine-tune-like change: every 16th word one ulp up, from real bytes.
    let mut nudged = base.to_vec();
    for i in (0..nudged.len() / 2).step_by(16) {
        let w = word(base, i).wrapping_add(1);
        nudged[2 * i..2 * i + 2].copy_from_slice(&w.to_le_bytes());
    }
    for kind in [
        DeltaKind::Xor,
        DeltaKind::Sub,
        DeltaKind::SubEscape,
        DeltaKind::SubEscapeSplit,
    ] {
        for new in [base, other, nudged.as_slice()] {
            let mut payload = Vec::new();
            encode(kind, new, base, &mut payload).unwrap();
            let mut back = vec![0u8; new.len()];
            decode(&payload, base, &mut back).unwrap();
            assert!(back == new, "{kind:?}");
        }
        let mut same = Vec::new();
        encode(kind, base, base, &mut same).unwrap();
        assert!(same.len() < 16, "{kind:?} identical: {} bytes", same.len());
        let mut small = Vec::new();
        encode(kind, &nudged, base, &mut small).unwrap();
        assert!(small.len() < base.len() / 20, "{kind:?}: {}", small.len());
    }
}

#[test]
fn bad_payloads_and_lengths_are_errors() {
    let f = fixture();
    let base = &f[1000..9000];
    let new = &f[9000..17000];
    let mut out = vec![0u8; new.len()];
    for kind in [
        DeltaKind::Sub,
        DeltaKind::SubEscape,
        DeltaKind::SubEscapeSplit,
    ] {
        let mut payload = Vec::new();
        encode(kind, new, base, &mut payload).unwrap();
        for cut in 0..payload.len() {
            assert!(
                decode(&payload[..cut], base, &mut out).is_err(),
                "{kind:?} cut {cut}"
            );
        }
        for i in 0..payload.len().min(300) {
            let mut m = payload.clone();
            m[i] ^= 0x5a;
            let _ = decode(&m, base, &mut out);
        }
        assert!(decode(&payload, &base[..100], &mut out).is_err());
    }
    assert!(encode(DeltaKind::Xor, &new[..3], &base[..3], &mut Vec::new()).is_err());
    assert!(encode(DeltaKind::Xor, new, &base[..100], &mut Vec::new()).is_err());
}

#[test]
fn blocks_and_the_rest_decode_alike() {
    // Word counts around the block of 32, from real weights: the block
    // loop and the word-by-word rest restore the same words.
    let f = fixture();
    let start = (f.len() / 3) & !1;
    for words in [1usize, 31, 32, 33, 64, 101, 1000] {
        let base = &f[start..start + 2 * words];
        let new = &f[start + 4096..start + 4096 + 2 * words];
        for kind in [
            DeltaKind::Xor,
            DeltaKind::Sub,
            DeltaKind::SubEscape,
            DeltaKind::SubEscapeSplit,
        ] {
            let mut payload = Vec::new();
            encode(kind, new, base, &mut payload).unwrap();
            let mut back = vec![0u8; new.len()];
            decode(&payload, base, &mut back).unwrap();
            assert_eq!(back, new, "{words} words, {kind:?}");
        }
        let mut same = Vec::new();
        encode(DeltaKind::Same, base, base, &mut same).unwrap();
        let mut back = vec![0u8; base.len()];
        decode(&same, base, &mut back).unwrap();
        assert_eq!(back, base);
        assert!(encode(DeltaKind::Same, new, base, &mut Vec::new()).is_err());
    }
}

fn fixture_named(name: &str) -> Vec<u8> {
    let path = format!("{}/../../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(path).unwrap()
}

/// On a real fine-tune (step 100 against step 0), the escape-coded deltas
/// (whole and split) restore the step and are within 1 % of Sub's size.
#[test]
fn escape_deltas_are_as_small_as_sub_on_a_real_fine_tune() {
    let base = fixture_named("minilm-finetune-step0000.slice.bf16.safetensors");
    let new = fixture_named("minilm-finetune-step0100.slice.bf16.safetensors");
    // The tensor data, past the header (same layout in both).
    let start = 8 + u64::from_le_bytes(base[..8].try_into().unwrap()) as usize;
    let (base, new) = (&base[start..], &new[start..]);
    let len = base.len().min(new.len()) & !1;
    let (base, new) = (&base[..len], &new[..len]);
    let (mut sizes, mut split) = (Vec::new(), Vec::new());
    for kind in [
        DeltaKind::Sub,
        DeltaKind::SubEscape,
        DeltaKind::SubEscapeSplit,
    ] {
        let mut payload = Vec::new();
        encode(kind, new, base, &mut payload).unwrap();
        let mut back = vec![0u8; len];
        decode(&payload, base, &mut back).unwrap();
        assert!(back == new, "{kind:?}");
        sizes.push(payload.len());
        split = payload;
    }
    assert!(
        sizes[1] * 100 <= sizes[0] * 101,
        "sub {} escape {}",
        sizes[0],
        sizes[1]
    );
    // This step's delta words are spread enough to split off raw bits.
    let mut r = ByteReader::new(&split);
    assert_eq!(r.u8("kind").unwrap(), DeltaKind::SubEscapeSplit as u8);
    r.varint().unwrap();
    assert!(r.u8("k").unwrap() > 0);
    assert!(
        sizes[2] * 100 <= sizes[0] * 101,
        "sub {} split {}",
        sizes[0],
        sizes[2]
    );
    assert!(sizes[1] < len / 2, "escape {} of {len}", sizes[1]);
}

/// Words whose deltas are all one symbol (every word one ulp up), none
/// (no words) or all escaped (far apart) round-trip.
#[test]
fn escape_deltas_of_one_symbol_none_or_all_escaped_round_trip() {
    let f = fixture();
    let base = &f[(f.len() / 2) & !1..][..4096];
    let up: Vec<u8> = base
        .chunks_exact(2)
        .flat_map(|w| {
            let w = u16::from_le_bytes([w[0], w[1]]);
            unordered(ordered(w).wrapping_add(1)).to_le_bytes()
        })
        .collect();
    let far: Vec<u8> = base
        .chunks_exact(2)
        .flat_map(|w| (u16::from_le_bytes([w[0], w[1]]) ^ 0x4000).to_le_bytes())
        .collect();
    for (new, old) in [(&up[..], base), (&[][..], &[][..]), (&far[..], base)] {
        for kind in [DeltaKind::SubEscape, DeltaKind::SubEscapeSplit] {
            let mut payload = Vec::new();
            encode(kind, new, old, &mut payload).unwrap();
            let mut back = vec![0u8; new.len()];
            decode(&payload, old, &mut back).unwrap();
            assert!(back == new, "{kind:?} {} words", new.len() / 2);
        }
    }
}
