//! The lab measures what users get: `wz_default` / `wz_max` code every
//! tensor of the real fixtures into exactly the chunk payloads that
//! `weightzip compress` (at `--level fast` / `max`) stores for it.

use std::path::Path;

use weightzip::{Archive, CompressOptions, Level};
use weightzip_entropy::ByteReader;
use weightzip_format::{layout_of, Dtype, GgmlType, TensorType};
use weightzip_methods::{method_by_name, Corpus};

fn fixture(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn corpus_of(ty: TensorType) -> Option<Corpus> {
    match ty {
        TensorType::St(Dtype::BF16) => Some(Corpus::Bf16Tensor),
        TensorType::St(Dtype::F16) => Some(Corpus::Fp16Tensor),
        TensorType::St(Dtype::F32) => Some(Corpus::Fp32Tensor),
        TensorType::Ggml(GgmlType::Q4_K) => Some(Corpus::Q4kStream),
        _ => None,
    }
}

/// (codec id, payload) of every chunk of a `wz_default` / `wz_max` encoding.
fn frames(coded: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut r = ByteReader::new(coded);
    let mut out = Vec::new();
    while r.remaining() > 0 {
        let id = r.u8("id").unwrap();
        r.varint().unwrap();
        out.push((id, r.prefixed("payload").unwrap().to_vec()));
    }
    out
}

#[test]
fn lab_rows_are_the_archive_bytes_of_every_fixture_tensor() {
    let mut checked = [0usize; 4];
    for file in [
        "lab-minilm-layers0-1.bf16.safetensors",
        "lab-whisper-small-layer0-selfattn.fp16.safetensors",
        "minilm-layer0-attention.fp32.safetensors",
        "lab-minilm-layers0-1.Q4_K_M.gguf",
    ] {
        let bytes = fixture(file);
        let layout = layout_of(&bytes).unwrap();
        for (method, level) in [("wz_default", Level::Fast), ("wz_max", Level::Max)] {
            let m = method_by_name(method).unwrap();
            let opts = CompressOptions {
                level,
                threads: 1,
                ..CompressOptions::default()
            };
            let wz = weightzip::compress_bytes(&bytes, &opts).unwrap();
            let archive = Archive::from_bytes(&wz).unwrap();
            for t in &layout.tensors {
                let Some(corpus) = corpus_of(t.ty) else {
                    continue;
                };
                if t.len == 0 {
                    continue;
                }
                let raw = &bytes[t.offset as usize..(t.offset + t.len) as usize];
                // The lab's shapes are outermost-first: GGUF dims reversed.
                let mut shape = t.shape.clone();
                if matches!(t.ty, TensorType::Ggml(_)) {
                    shape.reverse();
                }
                let coded = m.compress_item(raw, corpus, &shape, None).unwrap();
                let (_, seg) = archive.index().entries[0]
                    .tensors()
                    .find(|(n, _)| *n == t.name)
                    .unwrap_or_else(|| panic!("{file}: {} not in the archive", t.name));
                let stored: Vec<(u8, Vec<u8>)> = seg
                    .chunks
                    .iter()
                    .map(|c| {
                        let at = c.offset as usize;
                        (c.codec, wz[at..at + c.stored_len as usize].to_vec())
                    })
                    .collect();
                assert!(
                    frames(&coded) == stored,
                    "{file} {method}: {} differs from the archive",
                    t.name
                );
                assert_eq!(m.decompress(&coded, raw.len(), None).unwrap(), raw);
                checked[corpus as usize] += 1;
            }
        }
    }
    // Every corpus had tensors: bf16, fp16, fp32, Q4_K (both levels).
    assert!(checked.iter().all(|&n| n >= 2), "{checked:?}");
}

#[test]
fn damaged_encodings_are_errors() {
    let bytes = fixture("lab-minilm-layers0-1.bf16.safetensors");
    let layout = layout_of(&bytes).unwrap();
    let t = layout.tensors.iter().max_by_key(|t| t.len).unwrap();
    let raw = &bytes[t.offset as usize..(t.offset + t.len) as usize];
    let m = method_by_name("wz_default").unwrap();
    let coded = m
        .compress_item(raw, Corpus::Bf16Tensor, &t.shape, None)
        .unwrap();
    // Truncated anywhere, a wrong codec id, a length past the output.
    for cut in [0, 1, 2, coded.len() / 2, coded.len() - 1] {
        assert!(
            m.decompress(&coded[..cut], raw.len(), None).is_err(),
            "cut {cut}"
        );
    }
    let mut bad_id = coded.clone();
    bad_id[0] = 250;
    assert!(m.decompress(&bad_id, raw.len(), None).is_err());
    assert!(m.decompress(&coded, raw.len() - 2, None).is_err());
    assert!(m.decompress(&coded, raw.len() + 2, None).is_err());
}
