//! One (item, method) evaluation: a byte-exact round trip, sizes, and the
//! best single-thread compress and decompress times of up to `repeats` runs
//! (a run that takes longer than [`LONG_RUN_SECS`] is not repeated: its
//! timing noise is small, and slow methods dominate a bench's wall time).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use weightzip_methods::{Corpus, Method, Profile};

use crate::records::MethodRecord;

/// A compress or decompress run at least this long is timed once.
pub const LONG_RUN_SECS: f64 = 0.5;

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

fn mbps(bytes: usize, secs: f64) -> Option<f64> {
    let v = bytes as f64 / 1e6 / secs.max(1e-9);
    v.is_finite().then_some(v)
}

/// One (item, method) evaluation of an item of `item = (corpus, shape)`:
/// compress and decompress `repeats` times
/// each on this thread, check every decoded output byte for byte, keep the
/// best times. Never panics: errors and panics become failure records.
pub fn evaluate(
    m: &dyn Method,
    input: &[u8],
    item: (Corpus, &[u64]),
    profile: Option<&Profile>,
    repeats: usize,
) -> MethodRecord {
    let (corpus, shape) = item;
    let profile_bytes = profile.map_or(0, |p| p.bytes.len() as u64);
    let mut rec = MethodRecord {
        class: m.class().as_str().to_string(),
        profile_bytes,
        roundtrip_ok: false,
        threads: 1,
        note: profile.and_then(|p| m.profile_note(p)),
        ..MethodRecord::default()
    };
    let mut compressed: Option<Vec<u8>> = None;
    let mut best_c = f64::INFINITY;
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        let r = catch_unwind(AssertUnwindSafe(|| {
            m.compress_item(input, corpus, shape, profile)
        }));
        let secs = t.elapsed().as_secs_f64();
        match r {
            Ok(Ok(c)) => {
                best_c = best_c.min(secs);
                if compressed.is_none() {
                    compressed = Some(c);
                }
                if secs >= LONG_RUN_SECS {
                    break;
                }
            }
            Ok(Err(e)) => {
                rec.error = Some(format!("compress: {e}"));
                return rec;
            }
            Err(p) => {
                rec.error = Some(format!("compress panicked: {}", panic_message(p.as_ref())));
                return rec;
            }
        }
    }
    let Some(compressed) = compressed else {
        rec.error = Some("compress produced nothing".into());
        return rec;
    };
    rec.compressed_bytes = compressed.len() as u64;
    rec.compress_mbps = mbps(input.len(), best_c);
    let mut best_d = f64::INFINITY;
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        let r = catch_unwind(AssertUnwindSafe(|| {
            m.decompress(&compressed, input.len(), profile)
        }));
        let secs = t.elapsed().as_secs_f64();
        match r {
            Ok(Ok(d)) => {
                if d.as_slice() != input {
                    let at = d
                        .iter()
                        .zip(input)
                        .position(|(a, b)| a != b)
                        .unwrap_or(d.len().min(input.len()));
                    rec.error = Some(format!(
                        "round trip differs: {} bytes decoded for {}, first difference at byte {at}",
                        d.len(),
                        input.len()
                    ));
                    return rec;
                }
                best_d = best_d.min(secs);
                if secs >= LONG_RUN_SECS {
                    break;
                }
            }
            Ok(Err(e)) => {
                rec.error = Some(format!("decompress: {e}"));
                return rec;
            }
            Err(p) => {
                rec.error = Some(format!(
                    "decompress panicked: {}",
                    panic_message(p.as_ref())
                ));
                return rec;
            }
        }
    }
    rec.decompress_mbps = mbps(input.len(), best_d);
    rec.roundtrip_ok = true;
    let charged = rec.compressed_bytes + profile_bytes;
    rec.ratio = (charged > 0).then(|| input.len() as f64 / charged as f64);
    rec
}
