//! The entropy atlas: per-tensor symbol statistics and their ceilings, and
//! the adjacent-layer experiment.
//!
//! Files written by [`write_atlas`] into the atlas directory:
//! - `bf16.jsonl` / `fp16.jsonl` / `fp32.jsonl`: one [`FloatRow`] per float tensor;
//! - `q4k.jsonl`: one [`Q4kRow`] per Q4_K tensor stream;
//! - `layer_pairs.jsonl`: one [`LayerPairRow`] per adjacent same-role pair;
//! - `summary.json`: medians and byte-weighted ceilings ([`Summary`]).
//!
//! Entropies are order-0 Shannon entropies in bits per symbol of the
//! empirical distribution of the tensor itself (the "per-file tables" bound).

use std::collections::BTreeMap;
use std::path::Path;

use rayon::prelude::*;
use serde::Serialize;
use weightzip_entropy::histogram::{conditional_entropy_bits, entropy_bits};

use crate::corpus::{f32_to_bf16_bits, Dataset, Item};
use crate::error::{LabError, Result};
use crate::manifest::CorpusKind;
use crate::progress::Progress;
use crate::records::jsonl::write_jsonl;
use crate::stats;

mod float;
mod layer_pairs;
mod q4k;
mod summary;

pub use float::*;
pub use layer_pairs::*;
pub use q4k::*;
pub use summary::*;

/// What the atlas computes.
#[derive(Clone, Debug, PartialEq)]
pub struct AtlasOptions {
    /// Corpora to cover (empty: all).
    pub kinds: Vec<CorpusKind>,
    /// Whether to run the adjacent-layer experiment.
    pub layer_pairs: bool,
}

impl Default for AtlasOptions {
    fn default() -> Self {
        AtlasOptions {
            kinds: Vec::new(),
            layer_pairs: true,
        }
    }
}

/// Everything the atlas computed.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Atlas {
    /// Float rows (bf16, fp16 and fp32 together, in item order).
    pub floats: Vec<FloatRow>,
    /// Q4_K rows.
    pub q4k: Vec<Q4kRow>,
    /// Layer pairs.
    pub pairs: Vec<LayerPairRow>,
    /// Summary.
    pub summary: Summary,
}

/// Computes the atlas of every item of the dataset (both splits), in parallel.
pub fn compute_atlas(ds: &Dataset, opts: &AtlasOptions, progress: &dyn Progress) -> Result<Atlas> {
    let wanted = |k: CorpusKind| opts.kinds.is_empty() || opts.kinds.contains(&k);
    let items: Vec<&Item> = ds
        .items
        .iter()
        .filter(|i| i.kind != CorpusKind::Gguf && wanted(i.kind))
        .collect();
    let pairs = if opts.layer_pairs {
        layer_pairs_of(ds)
            .into_iter()
            .filter(|(a, _, _)| wanted(a.kind))
            .collect()
    } else {
        Vec::new()
    };
    let total: u64 = items.iter().map(|i| i.input_bytes).sum::<u64>()
        + pairs.iter().map(|(a, _, _)| a.input_bytes).sum::<u64>();
    progress.start("atlas", total);
    enum Row {
        F(FloatRow),
        Q(Q4kRow),
    }
    let rows: Vec<Row> = items
        .par_iter()
        .map(|it| {
            let r = if it.kind == CorpusKind::Q4k {
                Row::Q(q4k_row(ds, it)?)
            } else {
                Row::F(float_row(ds, it)?)
            };
            progress.advance(it.input_bytes, &it.name);
            Ok(r)
        })
        .collect::<Result<_>>()?;
    let pair_rows: Vec<LayerPairRow> = pairs
        .par_iter()
        .map(|(a, b, t)| {
            let r = layer_pair(ds, a, b, t)?;
            progress.advance(a.input_bytes, t);
            Ok(r)
        })
        .collect::<Result<_>>()?;
    progress.finish();
    let mut atlas = Atlas::default();
    for r in rows {
        match r {
            Row::F(f) => atlas.floats.push(f),
            Row::Q(q) => atlas.q4k.push(q),
        }
    }
    atlas.pairs = pair_rows;
    atlas.summary = summarize(&atlas.floats, &atlas.q4k, &atlas.pairs);
    Ok(atlas)
}

/// Writes the atlas files into `dir` (created if needed).
pub fn write_atlas(atlas: &Atlas, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| LabError::io(dir, e))?;
    for (dtype, file) in [
        ("bf16", "bf16.jsonl"),
        ("fp16", "fp16.jsonl"),
        ("fp32", "fp32.jsonl"),
    ] {
        let rows: Vec<&FloatRow> = atlas.floats.iter().filter(|r| r.dtype == dtype).collect();
        write_jsonl(dir.join(file), &rows)?;
    }
    write_jsonl(dir.join("q4k.jsonl"), &atlas.q4k)?;
    write_jsonl(dir.join("layer_pairs.jsonl"), &atlas.pairs)?;
    let path = dir.join("summary.json");
    let text = serde_json::to_string_pretty(&atlas.summary)
        .map_err(|e| LabError::Invalid(format!("cannot serialise the summary: {e}")))?;
    std::fs::write(&path, text + "\n").map_err(|e| LabError::io(&path, e))
}

#[cfg(test)]
mod tests;
