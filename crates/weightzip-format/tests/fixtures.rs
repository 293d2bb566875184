//! Tiny real-weight slices committed under `tests/fixtures/` (cut from the
//! weightzip corpus with `tests/fixtures/make_fixtures.py`): the readers must
//! parse them, and the quantized blocks must look like real llama.cpp output.

use std::path::PathBuf;
use weightzip_format::ggml::{
    f16_to_f32, pack_q4k_scales, q4k_blocks, q6k_blocks, q8_0_blocks, unpack_q4k_scales,
};
use weightzip_format::{
    layout_of, Dtype, FileKind, GgmlType, GgufFile, GgufValue, SafetensorsFile,
};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
fn minilm_gguf_slice() {
    let f = GgufFile::open(fixture("minilm-slice.Q4_K_M.gguf")).unwrap();
    assert_eq!(
        f.get("general.architecture").and_then(GgufValue::as_str),
        Some("bert")
    );
    let types: Vec<_> = f.header().tensors.iter().map(|t| t.ty).collect();
    assert_eq!(
        types,
        [
            GgmlType::F32,
            GgmlType::Q5_0,
            GgmlType::Q4_K,
            GgmlType::Q6_K,
            GgmlType::Q8_0,
            GgmlType::F32
        ]
    );

    let q4k = f.tensor_bytes("blk.0.ffn_down.weight").unwrap();
    assert_eq!(q4k.len(), 4 * 6 * 144);
    for b in q4k_blocks(q4k).unwrap() {
        assert!(f16_to_f32(b.d).is_finite() && f16_to_f32(b.d) >= 0.0);
        assert!(f16_to_f32(b.dmin).is_finite());
        let (sc, mn) = unpack_q4k_scales(b.scales);
        assert!(sc.iter().chain(&mn).all(|&x| x < 64));
        assert_eq!(&pack_q4k_scales(&sc, &mn), b.scales);
    }
    let q6k = f.tensor_bytes("blk.2.ffn_down.weight").unwrap();
    assert_eq!(q6k_blocks(q6k).unwrap().count(), 4 * 6);
    for b in q6k_blocks(q6k).unwrap() {
        assert!(f16_to_f32(b.d).is_finite());
    }
    let q8 = f.tensor_bytes("blk.2.attn_v.weight").unwrap();
    assert_eq!(q8_0_blocks(q8).unwrap().count(), 4 * 12);

    let bias = f.tensor_bytes("blk.0.attn_q.bias").unwrap();
    assert!(bias
        .chunks_exact(4)
        .all(|c| f32::from_le_bytes(c.try_into().unwrap()).abs() < 100.0));
}

#[test]
fn whisper_gguf_slice() {
    let f = GgufFile::open(fixture("whisper-slice.Q4_K.gguf")).unwrap();
    let w = f
        .info("decoder/layer_0/self_attention/linear_0/weight")
        .unwrap();
    assert_eq!(
        (w.ty, w.dims.as_slice()),
        (GgmlType::Q4_K, &[768u64, 4][..])
    );
    for (_, bytes) in f.iter() {
        assert!(!bytes.is_empty());
    }
}

#[test]
fn safetensors_slices() {
    let f = SafetensorsFile::open(fixture("minilm-slice.bf16.safetensors")).unwrap();
    assert_eq!(
        f.header().metadata.get("format").map(String::as_str),
        Some("pt")
    );
    let q = f
        .info("encoder.layer.0.attention.self.query.weight")
        .unwrap();
    assert_eq!(
        (q.dtype, q.shape.as_slice()),
        (Dtype::BF16, &[8u64, 384][..])
    );
    let f = SafetensorsFile::open(fixture("whisper-slice.fp16.safetensors")).unwrap();
    let g = f
        .tensor_bytes("decoder/layer_0/self_attention/layer_norm/gamma")
        .unwrap();
    // Layer-norm gains of a trained model sit around 1.
    let mean = g
        .chunks_exact(2)
        .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
        .sum::<f32>()
        / 768.0;
    assert!(mean > 0.1 && mean < 10.0, "{mean}");
}

#[test]
fn layouts_of_all_fixtures() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let expected = match ext {
            "gguf" => FileKind::Gguf,
            "safetensors" => FileKind::Safetensors,
            _ => continue,
        };
        let bytes = std::fs::read(&path).unwrap();
        let l = layout_of(&bytes).unwrap();
        assert_eq!(l.kind, expected);
        // The slices are packed: the last tensor ends at EOF.
        assert_eq!(l.tensors.last().unwrap().end(), bytes.len() as u64);
        seen += 1;
    }
    assert_eq!(seen, 4);
}
