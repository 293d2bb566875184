//! Measures what checkpoint deltas save on real checkpoints: for each NEW
//! safetensors file, its archive coded alone against the same archive with
//! every tensor of the base coded as a delta ([`weightzip::delta`], xor or
//! exponent-aware difference, whichever is smaller, and kept as coded
//! alone when neither wins; an identical tensor costs a reference).
//!
//! ```text
//! cargo run --release -p weightzip --example delta_curve -- BASE.safetensors NEW.safetensors...
//! ```
//! One line per NEW, then a JSON line for records.

use std::collections::HashMap;

use weightzip::delta::{self, DeltaKind};
use weightzip::{compress_bytes, Archive, CompressOptions, SegmentKind};
use weightzip_format::{layout_of, Dtype, TensorType};

/// Index bytes a delta chunk adds over a plain one: the base tensor's
/// number and checksum (u64).
const DELTA_ENTRY: u64 = 10;
/// Index bytes of a reference to a base tensor.
const REFERENCE: u64 = 12;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (base_path, news) = args.split_first().ok_or("usage: delta_curve BASE NEW...")?;
    let base = std::fs::read(base_path)?;
    let base_layout = layout_of(&base)?;
    let base_tensors: HashMap<&str, &[u8]> = base_layout
        .tensors
        .iter()
        .map(|t| (t.name.as_str(), &base[t.offset as usize..t.end() as usize]))
        .collect();
    let opts = CompressOptions::default();
    for path in news {
        let new = std::fs::read(path)?;
        let layout = layout_of(&new)?;
        let alone = compress_bytes(&new, &opts)?;
        let archive = Archive::from_bytes(&alone)?;
        let coded: HashMap<&str, u64> = archive.index().entries[0]
            .segments
            .iter()
            .filter_map(|s| match &s.kind {
                SegmentKind::Tensor { name, .. } => {
                    Some((name.as_str(), s.chunks.iter().map(|c| c.stored_len).sum()))
                }
                SegmentKind::Passthrough => None,
            })
            .collect();
        let (mut xor_total, mut sub_total, mut best_total) = (0u64, 0u64, 0u64);
        let (mut coded_total, mut same, mut changed_words, mut words) = (0u64, 0, 0u64, 0u64);
        for t in &layout.tensors {
            let plain = coded.get(t.name.as_str()).copied().unwrap_or(t.len);
            coded_total += plain;
            let bytes = &new[t.offset as usize..t.end() as usize];
            let Some(b) = base_tensors
                .get(t.name.as_str())
                .filter(|b| b.len() == bytes.len())
            else {
                xor_total += plain;
                sub_total += plain;
                best_total += plain;
                continue;
            };
            if bytes == *b {
                same += 1;
                xor_total += REFERENCE;
                sub_total += REFERENCE;
                best_total += REFERENCE;
                continue;
            }
            let sixteen = matches!(t.ty, TensorType::St(Dtype::BF16 | Dtype::F16));
            if !sixteen {
                xor_total += plain;
                sub_total += plain;
                best_total += plain;
                continue;
            }
            words += bytes.len() as u64 / 2;
            changed_words += bytes
                .chunks_exact(2)
                .zip(b.chunks_exact(2))
                .filter(|(x, y)| x != y)
                .count() as u64;
            let mut sizes = [0u64; 2];
            for (k, kind) in [DeltaKind::Xor, DeltaKind::Sub].into_iter().enumerate() {
                let mut payload = Vec::new();
                delta::encode(kind, bytes, b, &mut payload)?;
                let mut back = vec![0u8; bytes.len()];
                delta::decode(&payload, b, &mut back)?;
                assert!(back == bytes, "{}: delta does not round-trip", t.name);
                sizes[k] = payload.len() as u64 + DELTA_ENTRY;
            }
            xor_total += sizes[0].min(plain);
            sub_total += sizes[1].min(plain);
            best_total += sizes[0].min(sizes[1]).min(plain);
        }
        let rest = alone.len() as u64 - coded_total;
        let line = |tensors: u64| rest + tensors;
        println!(
            "{path}: alone {} B; delta xor {} B, sub {} B, best {} B ({:.2}x smaller than alone); \
             {same}/{} tensors identical, {:.2} % of 16-bit words changed",
            alone.len(),
            line(xor_total),
            line(sub_total),
            line(best_total),
            alone.len() as f64 / line(best_total) as f64,
            layout.tensors.len(),
            100.0 * changed_words as f64 / words.max(1) as f64
        );
        println!(
            "{{\"new\":{path:?},\"original\":{},\"alone\":{},\"delta_xor\":{},\"delta_sub\":{},\"delta_best\":{},\"changed_words\":{changed_words},\"words\":{words}}}",
            new.len(),
            alone.len(),
            line(xor_total),
            line(sub_total),
            line(best_total)
        );
    }
    Ok(())
}
