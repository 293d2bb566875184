//! Medians and byte-weighted ceilings over the atlas rows (`summary.json`).

use super::*;

/// Median summaries of the atlas.
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
pub struct Summary {
    /// Per float dtype (`bf16`, `fp16`, `fp32`), all splits together and per split.
    pub float: BTreeMap<String, FloatSummary>,
    /// Q4_K streams.
    pub q4k: Option<Q4kSummary>,
    /// Adjacent layer pairs.
    pub layer_pairs: Option<PairSummary>,
}

/// Medians of float rows.
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
#[allow(non_snake_case)]
pub struct FloatSummary {
    /// Tensors.
    pub n: usize,
    /// Bytes.
    pub input_bytes: u64,
    /// Median H_byte0.
    pub median_H_byte0: Option<f64>,
    /// Median H_byte1.
    pub median_H_byte1: Option<f64>,
    /// Median per-tensor R_marginal.
    pub median_R_marginal: Option<f64>,
    /// Byte-weighted R_marginal: Σ bytes / Σ (bytes / R_marginal).
    pub byte_weighted_R_marginal: Option<f64>,
    /// Median R_exp_split.
    pub median_R_exp_split: Option<f64>,
    /// Median R_ctx.
    pub median_R_ctx: Option<f64>,
    /// Byte-weighted R_value.
    pub byte_weighted_R_value: Option<f64>,
    /// The same by split.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub by_split: BTreeMap<String, FloatSummary>,
    /// The same over weight matrices only (at least 2 dims and
    /// [`MATRIX_MIN_ELEMENTS`] elements): without biases and norm vectors,
    /// whose few hundred elements cannot show a byte plane's entropy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matrices: Option<Box<FloatSummary>>,
}

/// Smallest tensor counted as a weight matrix in the summaries.
pub const MATRIX_MIN_ELEMENTS: u64 = 1 << 16;

pub(crate) fn is_matrix(shape: &[u64], n: u64) -> bool {
    shape.len() >= 2 && n >= MATRIX_MIN_ELEMENTS
}

/// Medians of Q4_K rows.
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
#[allow(non_snake_case)]
pub struct Q4kSummary {
    /// Streams.
    pub n: usize,
    /// Bytes.
    pub input_bytes: u64,
    /// Median H_nibble.
    pub median_H_nibble: Option<f64>,
    /// Median H(nibble | previous).
    pub median_H_nibble_given_prev: Option<f64>,
    /// Median H_byte.
    pub median_H_byte: Option<f64>,
    /// Median entropy of the high byte of `d` (header byte 1).
    pub median_H_d_high: Option<f64>,
    /// Median adjacent-block correlation of d.
    pub median_d_corr_adjacent: Option<f64>,
    /// Median nibble ceiling.
    pub median_nibble_ceiling: Option<f64>,
    /// Median tensor-stream ceiling.
    pub median_ceiling_ratio: Option<f64>,
    /// Byte-weighted tensor-stream ceiling.
    pub byte_weighted_ceiling_ratio: Option<f64>,
}

/// Summary of the layer-pair rows.
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
pub struct PairSummary {
    /// Pairs.
    pub n: usize,
    /// Median r.
    pub median_r: Option<f64>,
    /// Median |r|.
    pub median_abs_r: Option<f64>,
    /// Largest |r|.
    pub max_abs_r: Option<f64>,
    /// Median affine gain (exact float-difference residual).
    pub median_affine_gain: Option<f64>,
    /// Median affine gain (key-difference residual).
    pub median_affine_gain_keydiff: Option<f64>,
    /// Median affine gain (XOR residual).
    pub median_affine_gain_xor: Option<f64>,
}

pub(crate) fn float_summary(rows: &[&FloatRow], by_split: bool) -> FloatSummary {
    let col = |f: &dyn Fn(&FloatRow) -> Option<f64>| -> Vec<f64> {
        rows.iter().filter_map(|r| f(r)).collect()
    };
    let bw = |f: &dyn Fn(&FloatRow) -> Option<f64>| {
        let pairs: Vec<(f64, f64)> = rows
            .iter()
            .filter_map(|r| f(r).map(|c| (r.input_bytes as f64, r.input_bytes as f64 / c)))
            .collect();
        stats::byte_weighted(&pairs)
    };
    let mut s = FloatSummary {
        n: rows.len(),
        input_bytes: rows.iter().map(|r| r.input_bytes).sum(),
        median_H_byte0: stats::median(&col(&|r| Some(r.H_byte0))),
        median_H_byte1: stats::median(&col(&|r| Some(r.H_byte1))),
        median_R_marginal: stats::median(&col(&|r| Some(r.R_marginal))),
        byte_weighted_R_marginal: bw(&|r| Some(r.R_marginal)),
        median_R_exp_split: stats::median(&col(&|r| r.R_exp_split)),
        median_R_ctx: stats::median(&col(&|r| r.R_ctx)),
        byte_weighted_R_value: bw(&|r| r.R_value),
        by_split: BTreeMap::new(),
        matrices: None,
    };
    if by_split {
        let m: Vec<&FloatRow> = rows
            .iter()
            .copied()
            .filter(|r| is_matrix(&r.shape, r.n_elements))
            .collect();
        if !m.is_empty() {
            s.matrices = Some(Box::new(float_summary(&m, false)));
        }
        for split in ["train", "test"] {
            let sub: Vec<&FloatRow> = rows.iter().copied().filter(|r| r.split == split).collect();
            if !sub.is_empty() {
                s.by_split.insert(split.into(), float_summary(&sub, false));
            }
        }
    }
    s
}

/// Summarises atlas rows.
pub fn summarize(floats: &[FloatRow], q4k: &[Q4kRow], pairs: &[LayerPairRow]) -> Summary {
    let mut summary = Summary::default();
    for (dtype, key) in [("bf16", "bf16"), ("fp16", "fp16"), ("fp32", "fp32")] {
        let rows: Vec<&FloatRow> = floats.iter().filter(|r| r.dtype == dtype).collect();
        if !rows.is_empty() {
            summary.float.insert(key.into(), float_summary(&rows, true));
        }
    }
    if !q4k.is_empty() {
        let col =
            |f: &dyn Fn(&Q4kRow) -> Option<f64>| -> Vec<f64> { q4k.iter().filter_map(f).collect() };
        let pairs_bw: Vec<(f64, f64)> = q4k
            .iter()
            .map(|r| (r.input_bytes as f64, r.input_bytes as f64 / r.ceiling_ratio))
            .collect();
        summary.q4k = Some(Q4kSummary {
            n: q4k.len(),
            input_bytes: q4k.iter().map(|r| r.input_bytes).sum(),
            median_H_nibble: stats::median(&col(&|r| Some(r.H_nibble))),
            median_H_nibble_given_prev: stats::median(&col(&|r| Some(r.H_nibble_given_prev))),
            median_H_byte: stats::median(&col(&|r| Some(r.H_byte))),
            median_H_d_high: stats::median(&col(&|r| r.H_header_bytes.get(1).copied())),
            median_d_corr_adjacent: stats::median(&col(&|r| r.d_corr_adjacent)),
            median_nibble_ceiling: stats::median(&col(&|r| Some(r.nibble_ceiling))),
            median_ceiling_ratio: stats::median(&col(&|r| Some(r.ceiling_ratio))),
            byte_weighted_ceiling_ratio: stats::byte_weighted(&pairs_bw),
        });
    }
    if !pairs.is_empty() {
        let rs: Vec<f64> = pairs.iter().filter_map(|p| p.corr_pearson).collect();
        let abs: Vec<f64> = rs.iter().map(|r| r.abs()).collect();
        let gains: Vec<f64> = pairs.iter().filter_map(|p| p.affine_gain).collect();
        let gx: Vec<f64> = pairs.iter().filter_map(|p| p.affine_gain_xor).collect();
        let gk: Vec<f64> = pairs.iter().filter_map(|p| p.affine_gain_keydiff).collect();
        summary.layer_pairs = Some(PairSummary {
            n: pairs.len(),
            median_r: stats::median(&rs),
            median_abs_r: stats::median(&abs),
            max_abs_r: stats::max(&abs),
            median_affine_gain: stats::median(&gains),
            median_affine_gain_keydiff: stats::median(&gk),
            median_affine_gain_xor: stats::median(&gx),
        });
    }
    summary
}
