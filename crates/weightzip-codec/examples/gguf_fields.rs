//! Per-field entropy atlas of the GGUF block codecs on real files: for every
//! quantized block type with a weightzip codec, what each field of the
//! blocks carries (order-0 entropy of its symbols, entropy given the context
//! the codec uses) and what its stream costs, summed over the file's tensors
//! cut into the container's 4 MiB chunks.
//!
//! `cargo run --release -p weightzip-codec --example gguf_fields -- FILE.gguf...`

use std::collections::BTreeMap;

use weightzip_codec::gguf::field_report;
use weightzip_codec::{codec_for, CodecId, Level};
use weightzip_format::{layout_of, TensorType};

#[derive(Default)]
struct Acc {
    in_bits: u32,
    symbols: usize,
    h0: f64,
    h_ctx: f64,
    coded: usize,
}

/// Bytes, field order and per-field sums of one block type.
type PerType = (usize, Vec<&'static str>, BTreeMap<&'static str, Acc>);

fn main() {
    for path in std::env::args().skip(1) {
        let bytes = std::fs::read(&path).expect("read");
        let layout = layout_of(&bytes).expect("layout");
        let mut types: BTreeMap<String, PerType> = BTreeMap::new();
        for t in &layout.tensors {
            let TensorType::Ggml(g) = t.ty else { continue };
            let codec = codec_for(t.ty, Level::Max);
            if (codec as u8) < 16 || codec == CodecId::Zstd {
                continue;
            }
            let data = &bytes[t.offset as usize..(t.offset + t.len) as usize];
            let step = (4 << 20) / g.type_size() * g.type_size();
            let entry = types
                .entry(format!("{} ({})", g.name(), codec.name()))
                .or_default();
            for chunk in data.chunks(step) {
                entry.0 += chunk.len();
                for f in field_report(codec, chunk).expect("encode") {
                    if !entry.1.contains(&f.field) {
                        entry.1.push(f.field);
                    }
                    let a = entry.2.entry(f.field).or_default();
                    a.in_bits = f.input_bits_per_symbol;
                    a.h0 += f.h0 * f.symbols as f64;
                    a.h_ctx += f.h_ctx * f.symbols as f64;
                    a.symbols += f.symbols;
                    a.coded += f.coded_bytes;
                }
            }
        }
        println!("== {path}");
        for (ty, (raw, order, fields)) in &types {
            let coded: usize = fields.values().map(|a| a.coded).sum();
            println!(
                "{ty}: {raw} bytes -> {coded} (fields only, {:.4}x)",
                *raw as f64 / coded as f64
            );
            println!(
                "  {:28} {:>6} {:>10} {:>7} {:>7} {:>10} {:>7}",
                "field", "bits", "symbols", "H0", "H|ctx", "coded B", "bits/s"
            );
            for f in order {
                let a = &fields[f];
                let n = a.symbols.max(1) as f64;
                println!(
                    "  {:28} {:>6} {:>10} {:>7.3} {:>7.3} {:>10} {:>7.3}",
                    f,
                    a.in_bits,
                    a.symbols,
                    a.h0 / n,
                    a.h_ctx / n,
                    a.coded,
                    a.coded as f64 * 8.0 / n
                );
            }
        }
    }
}
