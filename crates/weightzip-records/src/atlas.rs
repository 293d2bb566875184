//! The atlas rows as their readers see them: reading views of the files
//! the lab's `atlas` writes (`bf16.jsonl`, `q4k.jsonl`, `layer_pairs.jsonl`),
//! holding the fields the figures draw. Every field beyond the few that
//! identify a row is optional: a missing field means "not available", never
//! a failure. Unknown fields are ignored (the lab writes many more, and so
//! did the study). Numbers are accepted as integers or floats wherever
//! either reading makes sense; infinite ceilings are written `null`.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

/// One row of `atlas/bf16.jsonl`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AtlasBf16Row {
    /// Source model.
    #[serde(default)]
    pub model: Option<String>,
    /// `train` or `test`.
    #[serde(default)]
    pub split: Option<String>,
    /// Expected `BF16`.
    #[serde(default)]
    pub dtype: Option<String>,
    /// Tensor name.
    #[serde(default)]
    pub tensor_name: Option<String>,
    /// embedding, attention, mlp, lm_head, norm, other.
    #[serde(default)]
    pub tensor_category: Option<String>,
    /// Tensor size in bytes.
    #[serde(default, deserialize_with = "opt_u64")]
    pub input_bytes: Option<u64>,
    /// Entropy (bits) of the low byte: exponent LSB + 7 mantissa bits.
    #[serde(
        default,
        rename = "H_byte0",
        alias = "h_byte0",
        deserialize_with = "opt_f64"
    )]
    pub h_byte0: Option<f64>,
    /// Entropy (bits) of the high byte: sign + 7 exponent bits.
    #[serde(
        default,
        rename = "H_byte1",
        alias = "h_byte1",
        deserialize_with = "opt_f64"
    )]
    pub h_byte1: Option<f64>,
    /// 16 / (H_byte0 + H_byte1).
    #[serde(default, deserialize_with = "opt_f64")]
    pub ceiling_ratio: Option<f64>,
    /// Same as `ceiling_ratio`.
    #[serde(
        default,
        rename = "R_marginal",
        alias = "r_marginal",
        deserialize_with = "opt_f64"
    )]
    pub r_marginal: Option<f64>,
}

impl AtlasBf16Row {
    /// The byte-marginal ceiling: `R_marginal`, else `ceiling_ratio`, else
    /// computed from the two byte entropies.
    pub fn ceiling(&self) -> Option<f64> {
        self.r_marginal
            .or(self.ceiling_ratio)
            .or_else(|| match (self.h_byte0, self.h_byte1) {
                (Some(a), Some(b)) if a + b > 0.0 => Some(16.0 / (a + b)),
                _ => None,
            })
            .filter(|v| v.is_finite() && *v > 0.0)
    }
}

/// One row of `atlas/q4k.jsonl`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AtlasQ4kRow {
    /// Source model.
    #[serde(default)]
    pub model: Option<String>,
    /// `train` or `test`.
    #[serde(default)]
    pub split: Option<String>,
    /// Tensor name.
    #[serde(default)]
    pub tensor_name: Option<String>,
    /// Tensor stream size in bytes.
    #[serde(default, deserialize_with = "opt_u64")]
    pub input_bytes: Option<u64>,
    /// Number of 144-byte Q4_K blocks.
    #[serde(default, deserialize_with = "opt_u64")]
    pub n_blocks: Option<u64>,
    /// Entropy (bits) of the 4-bit quants.
    #[serde(
        default,
        rename = "H_nibble",
        alias = "h_nibble",
        deserialize_with = "opt_f64"
    )]
    pub h_nibble: Option<f64>,
    /// Entropy (bits) of the nibble stream read as bytes.
    #[serde(
        default,
        rename = "H_byte",
        alias = "h_byte",
        deserialize_with = "opt_f64"
    )]
    pub h_byte: Option<f64>,
    /// 8 / H_byte.
    #[serde(default, deserialize_with = "opt_f64")]
    pub nibble_ceiling: Option<f64>,
    /// The tensor-stream ceiling.
    #[serde(default, deserialize_with = "opt_f64")]
    pub ceiling_ratio: Option<f64>,
}

impl AtlasQ4kRow {
    /// The nibble-stream marginal ceiling: `nibble_ceiling`, else 8 / H_byte.
    pub fn ceiling(&self) -> Option<f64> {
        self.nibble_ceiling
            .or_else(|| self.h_byte.filter(|h| *h > 0.0).map(|h| 8.0 / h))
            .filter(|v| v.is_finite() && *v > 0.0)
    }
}

/// One row of `atlas/layer_pairs.jsonl`: two adjacent same-role layers.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LayerPairRow {
    /// Source model.
    #[serde(default)]
    pub model: Option<String>,
    /// Tensor role (q_proj, up_proj, ...).
    #[serde(default)]
    pub role: Option<String>,
    /// Layer index of the pair's first layer.
    #[serde(default, rename = "K", alias = "k", deserialize_with = "opt_u64")]
    pub k: Option<u64>,
    /// Pearson correlation of the two layers' weights.
    #[serde(default, deserialize_with = "opt_f64")]
    pub corr_pearson: Option<f64>,
    /// Ratio gain of the scalar-affine residual experiment.
    #[serde(default, deserialize_with = "opt_f64")]
    pub affine_gain: Option<f64>,
}

/// Any JSON number (or null) as an `f64`.
fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let n = Option::<serde_json::Number>::deserialize(d)?;
    Ok(n.and_then(|n| n.as_f64()).filter(|v| v.is_finite()))
}

/// A non-negative integer, also when written as an integral float (`294912.0`).
fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let Some(n) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    if let Some(v) = n.as_u64() {
        return Ok(Some(v));
    }
    match n.as_f64() {
        Some(v) if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < 1.8e19 => {
            Ok(Some(v as u64))
        }
        _ => Err(D::Error::custom(format!(
            "expected a non-negative integer, found {n}"
        ))),
    }
}
