//! Float tensors: byte-plane and 16-bit value entropies, and the ceilings
//! they imply (`bf16.jsonl`, `fp16.jsonl`, `fp32.jsonl`).

use super::*;

/// A 16-bit float layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Float16 {
    /// 1 sign, 8 exponent, 7 mantissa bits.
    Bf16,
    /// 1 sign, 5 exponent, 10 mantissa bits.
    Fp16,
}

impl Float16 {
    fn mant_bits(self) -> u32 {
        match self {
            Float16::Bf16 => 7,
            Float16::Fp16 => 10,
        }
    }
}

/// One row of `bf16.jsonl`, `fp16.jsonl` or `fp32.jsonl`.
///
/// Byte planes are little-endian: `H_byte0` is the low byte. For bf16 the
/// high byte is sign + 7 exponent bits and the low byte is the exponent LSB +
/// 7 mantissa bits. Fields that do not exist for a width are omitted.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[allow(non_snake_case)]
pub struct FloatRow {
    /// Source model.
    pub model: String,
    /// `train` or `test`.
    pub split: String,
    /// `bf16`, `fp16` or `fp32` (the study's spelling).
    pub dtype: String,
    /// Dtype in the source file when the tensor was cast.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_dtype: Option<String>,
    /// Tensor name.
    pub tensor_name: String,
    /// embedding, attention, mlp, lm_head, norm, other.
    pub tensor_category: String,
    /// Role inside the layer (q, k, up, ...).
    pub role: Option<String>,
    /// Layer index.
    pub layer: Option<u32>,
    /// Shape, outermost first.
    pub shape: Vec<u64>,
    /// Element count.
    pub n_elements: u64,
    /// Bytes.
    pub input_bytes: u64,
    /// Entropy of byte plane 0 (the low byte).
    pub H_byte0: f64,
    /// Entropy of byte plane 1.
    pub H_byte1: f64,
    /// Entropy of byte plane 2 (fp32 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub H_byte2: Option<f64>,
    /// Entropy of byte plane 3 (fp32 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub H_byte3: Option<f64>,
    /// Byte-marginal ceiling: `8·width / Σ H_byte` (bf16: 16 / (H_byte0 + H_byte1)).
    pub ceiling_ratio: f64,
    /// Same as `ceiling_ratio`.
    pub R_marginal: f64,
    /// Entropy of the exponent field (8 bits bf16 / fp32, 5 bits fp16).
    pub H_exp: f64,
    /// Entropy of the sign bit.
    pub H_sign: f64,
    /// Entropy of the sign + mantissa symbol (16-bit floats).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub H_sign_mant: Option<f64>,
    /// H(mantissa | exponent) (16-bit floats).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub H_mant_given_exp: Option<f64>,
    /// H(sign, mantissa | exponent) = H(value) − H(exponent) (16-bit floats).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub H_sign_mant_given_exp: Option<f64>,
    /// Order-0 entropy of the whole 16-bit value (16-bit floats).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub H_value: Option<f64>,
    /// Ceiling of the exponent / sign+mantissa split: 16 / (H_exp + H_sign_mant).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub R_exp_split: Option<f64>,
    /// Ceiling of an exponent-conditioned mantissa coder with a separate
    /// sign: 16 / (H_exp + H_sign + H_mant_given_exp).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub R_ctx: Option<f64>,
    /// Ceiling of a whole-value order-0 coder: 16 / H_value (equal to
    /// 16 / (H_exp + H_sign_mant_given_exp)).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub R_value: Option<f64>,
}

/// Statistics of a 16-bit float tensor (the entropy part of a [`FloatRow`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Float16Stats {
    /// H(low byte).
    pub h_byte0: f64,
    /// H(high byte).
    pub h_byte1: f64,
    /// H(exponent).
    pub h_exp: f64,
    /// H(sign).
    pub h_sign: f64,
    /// H(sign, mantissa).
    pub h_sign_mant: f64,
    /// H(mantissa | exponent).
    pub h_mant_given_exp: f64,
    /// H(value).
    pub h_value: f64,
}

impl Float16Stats {
    /// 16 / (H_byte0 + H_byte1).
    pub fn r_marginal(&self) -> f64 {
        ratio(16.0, self.h_byte0 + self.h_byte1)
    }
}

/// `bits / h`; infinite for a constant stream (written as JSON `null`).
pub(crate) fn ratio(bits: f64, h: f64) -> f64 {
    if h > 0.0 {
        bits / h
    } else {
        f64::INFINITY
    }
}

/// Histogram of the little-endian u16 values of `data`.
pub(crate) fn u16_histogram(data: &[u8]) -> Vec<u64> {
    let mut h = vec![0u64; 1 << 16];
    for c in data.chunks_exact(2) {
        h[usize::from(u16::from_le_bytes([c[0], c[1]]))] += 1;
    }
    h
}

/// Entropy statistics of a 16-bit float tensor.
pub fn float16_stats(data: &[u8], fmt: Float16) -> Float16Stats {
    let h = u16_histogram(data);
    let mb = fmt.mant_bits();
    let exp_bits = 15 - mb;
    let n_exp = 1usize << exp_bits;
    let n_mant = 1usize << mb;
    let mut b0 = [0u64; 256];
    let mut b1 = [0u64; 256];
    let mut exp = vec![0u64; n_exp];
    let mut sign = [0u64; 2];
    let mut sign_mant = vec![0u64; 2 * n_mant];
    let mut exp_mant = vec![0u64; n_exp * n_mant];
    for (v, &c) in h.iter().enumerate() {
        if c == 0 {
            continue;
        }
        let s = v >> 15;
        let e = (v >> mb) & (n_exp - 1);
        let m = v & (n_mant - 1);
        b0[v & 0xFF] += c;
        b1[v >> 8] += c;
        exp[e] += c;
        sign[s] += c;
        sign_mant[(s << mb) | m] += c;
        exp_mant[e * n_mant + m] += c;
    }
    let h_exp = entropy_bits(&exp);
    Float16Stats {
        h_byte0: entropy_bits(&b0),
        h_byte1: entropy_bits(&b1),
        h_exp,
        h_sign: entropy_bits(&sign),
        h_sign_mant: entropy_bits(&sign_mant),
        h_mant_given_exp: conditional_entropy_bits(&exp_mant, n_mant),
        h_value: entropy_bits(&h),
    }
}

/// Byte-marginal ceiling `8·width / Σ H(byte plane)` of little-endian
/// elements of `width` bytes.
pub fn marginal_ceiling(data: &[u8], width: usize) -> f64 {
    let hs = plane_entropies(data, width);
    ratio(8.0 * width as f64, hs.iter().sum())
}

/// Entropy of each byte plane of `width`-byte elements.
pub fn plane_entropies(data: &[u8], width: usize) -> Vec<f64> {
    let mut counts = vec![[0u64; 256]; width.max(1)];
    for c in data.chunks_exact(width.max(1)) {
        for (k, &b) in c.iter().enumerate() {
            counts[k][usize::from(b)] += 1;
        }
    }
    counts.iter().map(|c| entropy_bits(c)).collect()
}

pub(crate) fn float_row(ds: &Dataset, item: &Item) -> Result<FloatRow> {
    let data = ds.bytes(item)?;
    let mut row = FloatRow {
        model: item.model.clone(),
        split: item.split.as_str().into(),
        dtype: item.dtype.clone(),
        source_dtype: item.source_dtype.clone(),
        tensor_name: item.name.clone(),
        tensor_category: item.category.clone(),
        role: item.role.clone(),
        layer: item.layer,
        shape: item.shape.clone(),
        n_elements: item.n_elements(),
        input_bytes: data.len() as u64,
        H_byte0: 0.0,
        H_byte1: 0.0,
        H_byte2: None,
        H_byte3: None,
        ceiling_ratio: 0.0,
        R_marginal: 0.0,
        H_exp: 0.0,
        H_sign: 0.0,
        H_sign_mant: None,
        H_mant_given_exp: None,
        H_sign_mant_given_exp: None,
        H_value: None,
        R_exp_split: None,
        R_ctx: None,
        R_value: None,
    };
    match item.kind {
        CorpusKind::Bf16 | CorpusKind::Fp16 => {
            let fmt = if item.kind == CorpusKind::Bf16 {
                Float16::Bf16
            } else {
                Float16::Fp16
            };
            let s = float16_stats(&data, fmt);
            row.H_byte0 = s.h_byte0;
            row.H_byte1 = s.h_byte1;
            row.R_marginal = s.r_marginal();
            row.H_exp = s.h_exp;
            row.H_sign = s.h_sign;
            row.H_sign_mant = Some(s.h_sign_mant);
            row.H_mant_given_exp = Some(s.h_mant_given_exp);
            row.H_sign_mant_given_exp = Some((s.h_value - s.h_exp).max(0.0));
            row.H_value = Some(s.h_value);
            row.R_exp_split = Some(ratio(16.0, s.h_exp + s.h_sign_mant));
            row.R_ctx = Some(ratio(16.0, s.h_exp + s.h_sign + s.h_mant_given_exp));
            row.R_value = Some(ratio(16.0, s.h_value));
        }
        _ => {
            let hs = plane_entropies(&data, 4);
            row.H_byte0 = hs[0];
            row.H_byte1 = hs[1];
            row.H_byte2 = Some(hs[2]);
            row.H_byte3 = Some(hs[3]);
            row.R_marginal = ratio(32.0, hs.iter().sum());
            let mut exp = [0u64; 256];
            let mut sign = [0u64; 2];
            for c in data.chunks_exact(4) {
                let v = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
                exp[((v >> 23) & 0xFF) as usize] += 1;
                sign[(v >> 31) as usize] += 1;
            }
            row.H_exp = entropy_bits(&exp);
            row.H_sign = entropy_bits(&sign);
        }
    }
    row.ceiling_ratio = row.R_marginal;
    Ok(row)
}
