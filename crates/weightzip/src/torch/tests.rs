use weightzip_format::{layout_of, Dtype};

use super::*;

fn fixture(name: &str) -> Vec<u8> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/");
    std::fs::read(format!("{dir}{name}")).unwrap()
}

const BIN: &str = "minilm-layers0-1.bf16.pytorch_model.bin";
const ST: &str = "lab-minilm-layers0-1.bf16.safetensors";

/// The `torch.save` twin of the safetensors fixture lists the same tensors
/// with the same bytes, types and shapes.
#[test]
fn the_torch_twin_holds_the_safetensors_tensors() {
    let bin = fixture(BIN);
    let st = fixture(ST);
    let regions = read_layout(&bin.as_slice()).expect("a torch.save zip");
    let st_layout = layout_of(&st).unwrap();
    assert_eq!(regions.len(), st_layout.tensors.len());
    for r in &regions {
        let t = st_layout.tensors.iter().find(|t| t.name == r.name).unwrap();
        assert_eq!(
            (&r.ty, &r.shape, r.len),
            (&t.ty, &t.shape, t.len),
            "{}",
            r.name
        );
        let a = &bin[r.offset as usize..(r.offset + r.len) as usize];
        let b = &st[t.offset as usize..(t.offset + t.len) as usize];
        assert!(a == b, "{}: bytes differ", r.name);
    }
    assert!(regions.windows(2).all(|w| w[0].end() <= w[1].offset));
}

#[test]
fn damaged_or_foreign_zips_are_opaque_not_errors() {
    let bin = fixture(BIN);
    // Every truncation, and bytes flipped across the pickle and the
    // central directory: never a panic, and what is found stays inside.
    for cut in [0, 4, 100, bin.len() / 2, bin.len() - 30, bin.len() - 1] {
        let r = read_layout(&&bin[..cut]);
        assert!(r.is_none_or(|v| v.iter().all(|t| t.end() <= cut as u64)));
    }
    let dir_at = bin.len() - 2000;
    for i in (0..400).chain(dir_at..bin.len()) {
        for bit in [0, 3, 7] {
            let mut m = bin.clone();
            m[i] ^= 1 << bit;
            if let Some(v) = read_layout(&m.as_slice()) {
                assert!(v.iter().all(|t| t.end() <= m.len() as u64));
            }
        }
    }
    assert!(read_layout(&b"PK\x03\x04 not really".as_slice()).is_none());
}

#[test]
fn contiguity() {
    assert!(contiguous(&[4, 3], &[3, 1]));
    assert!(!contiguous(&[4, 3], &[1, 4]));
    assert!(contiguous(&[1, 3], &[7, 1]));
    assert!(!contiguous(&[3], &[1, 1]));
    assert_eq!(Dtype::BF16.bytes_for(3), Some(6));
}
