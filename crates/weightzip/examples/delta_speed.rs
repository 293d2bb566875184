//! In-process decode speed of the checkpoint delta against the plain bf16
//! codec on the same words, one thread, interleaved rounds:
//!
//!     cargo run --release -p weightzip --example delta_speed -- BASE.safetensors NEW.safetensors [ROUNDS]
//!
//! The data regions of the two safetensors files (same layout) are cut
//! into pieces of 4 MiB (`PIECE_KIB` sets another size); each piece of
//! NEW is coded alone (`wz_bf16a`) and as a delta (the writer's kind)
//! against BASE's piece. Prints the best time
//! of each decode over the rounds (the delta's with its base already in
//! the output buffer, as the reader does it), and their ratio.

use std::time::Instant;

use weightzip::delta::{self, DeltaKind};
use weightzip::Level;
use weightzip_codec::registry::CodecId;

fn piece() -> usize {
    std::env::var("PIECE_KIB")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(4096)
        << 10
}

fn data_region(path: &str) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let bytes = std::fs::read(path)?;
    let head: [u8; 8] = bytes.get(..8).ok_or("short file")?.try_into()?;
    let start = usize::try_from(u64::from_le_bytes(head))? + 8;
    Ok(bytes.get(start..).ok_or("header past the end")?.to_vec())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, base, new, rest @ ..] = args.as_slice() else {
        return Err("usage: delta_speed BASE NEW [ROUNDS]".into());
    };
    let rounds: usize = rest.first().map_or(Ok(15), |r| r.parse())?;
    let (base, new) = (data_region(base)?, data_region(new)?);
    if base.len() != new.len() {
        return Err("the two files' data regions differ in length".into());
    }
    let len = new.len() & !1;
    let pieces: Vec<(usize, usize)> = (0..len)
        .step_by(piece())
        .map(|at| (at, (at + piece()).min(len)))
        .collect();
    let mut plain = Vec::new();
    let mut deltas = Vec::new();
    for &(a, b) in &pieces {
        let mut p = Vec::new();
        CodecId::Bf16Alias.encode(&new[a..b], Level::default(), &mut p)?;
        plain.push(p);
        let mut d = Vec::new();
        delta::encode(DeltaKind::SubEscapeSplit, &new[a..b], &base[a..b], &mut d)?;
        deltas.push(d);
    }
    let size = |v: &[Vec<u8>]| v.iter().map(Vec::len).sum::<usize>();
    println!(
        "{} MB in {} pieces: plain {} B, delta {} B",
        len as f64 / 1e6,
        pieces.len(),
        size(&plain),
        size(&deltas)
    );
    let mut out = vec![0u8; len];
    let (mut best_plain, mut best_delta) = (f64::MAX, f64::MAX);
    for _ in 0..rounds {
        let t = Instant::now();
        for (&(a, b), p) in pieces.iter().zip(&plain) {
            CodecId::Bf16Alias.decode(p, &mut out[a..b])?;
        }
        best_plain = best_plain.min(t.elapsed().as_secs_f64());
        if out[..len] != new[..len] {
            return Err("plain decode differs".into());
        }
        out[..len].copy_from_slice(&base[..len]);
        let t = Instant::now();
        for (&(a, b), d) in pieces.iter().zip(&deltas) {
            delta::decode_in_place(d, &mut out[a..b])?;
        }
        best_delta = best_delta.min(t.elapsed().as_secs_f64());
        if out[..len] != new[..len] {
            return Err("delta decode differs".into());
        }
    }
    let mbps = |s: f64| len as f64 / 1e6 / s;
    println!(
        "decode: plain {:.0} MB/s, delta {:.0} MB/s (base in place); delta/plain {:.3}",
        mbps(best_plain),
        mbps(best_delta),
        best_plain / best_delta
    );
    Ok(())
}
