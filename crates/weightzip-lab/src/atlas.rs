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
fn ratio(bits: f64, h: f64) -> f64 {
    if h > 0.0 {
        bits / h
    } else {
        f64::INFINITY
    }
}

/// Histogram of the little-endian u16 values of `data`.
fn u16_histogram(data: &[u8]) -> Vec<u64> {
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

fn float_row(ds: &Dataset, item: &Item) -> Result<FloatRow> {
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

/// One row of `q4k.jsonl`.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[allow(non_snake_case)]
pub struct Q4kRow {
    /// Source model.
    pub model: String,
    /// `train` or `test`.
    pub split: String,
    /// Tensor name.
    pub tensor_name: String,
    /// embedding, attention, mlp, lm_head, norm, other.
    pub tensor_category: String,
    /// Role inside the layer.
    pub role: Option<String>,
    /// Layer index.
    pub layer: Option<u32>,
    /// Shape, outermost first.
    pub shape: Vec<u64>,
    /// Number of 144-byte blocks.
    pub n_blocks: u64,
    /// Stream bytes.
    pub input_bytes: u64,
    /// Entropy of the 4-bit quants (16 symbols).
    pub H_nibble: f64,
    /// Entropy of the 128 quant bytes of each block read as bytes.
    pub H_byte: f64,
    /// 8 / H_byte.
    pub nibble_ceiling: f64,
    /// Entropy of each of the 16 header bytes (d: 0-1, dmin: 2-3, scales: 4-15).
    pub H_header_bytes: Vec<f64>,
    /// H(nibble | previous nibble), nibbles in dequantisation (weight) order,
    /// the previous of a block's first weight being the last weight of the
    /// block before.
    pub H_nibble_given_prev: f64,
    /// Pearson correlation of `d` (as a float) between adjacent blocks.
    pub d_corr_adjacent: Option<f64>,
    /// Pearson correlation of `dmin` between adjacent blocks.
    pub dmin_corr_adjacent: Option<f64>,
    /// Tensor-stream ceiling: `144·8 / (Σ_{j<16} H_header_bytes[j] + 256·H_nibble)`,
    /// i.e. every header byte at its own per-position order-0 entropy and
    /// every quant at the nibble entropy.
    pub ceiling_ratio: f64,
    /// The same with the quants at the byte entropy:
    /// `144·8 / (Σ H_header_bytes + 128·H_byte)`.
    pub ceiling_ratio_bytes: f64,
}

/// Q4_K block size.
const Q4K: usize = weightzip_format::ggml::Q4_K_BLOCK_BYTES;

/// Atlas statistics of one Q4_K stream (model / name fields left empty).
pub fn q4k_stats(data: &[u8]) -> Result<Q4kRow> {
    if !data.len().is_multiple_of(Q4K) {
        return Err(LabError::Invalid(format!(
            "Q4_K stream of {} bytes is not a whole number of {Q4K}-byte blocks",
            data.len()
        )));
    }
    let n_blocks = data.len() / Q4K;
    let mut header = vec![[0u64; 256]; 16];
    let mut nib = [0u64; 16];
    let mut qbytes = [0u64; 256];
    let mut pair = vec![0u64; 256];
    let mut prev: Option<u8> = None;
    let mut ds = Vec::with_capacity(n_blocks);
    let mut dmins = Vec::with_capacity(n_blocks);
    for b in data.chunks_exact(Q4K) {
        for (j, h) in header.iter_mut().enumerate() {
            h[usize::from(b[j])] += 1;
        }
        ds.push(f64::from(weightzip_format::ggml::f16_to_f32(
            u16::from_le_bytes([b[0], b[1]]),
        )));
        dmins.push(f64::from(weightzip_format::ggml::f16_to_f32(
            u16::from_le_bytes([b[2], b[3]]),
        )));
        let qs = &b[16..];
        for &q in qs {
            qbytes[usize::from(q)] += 1;
        }
        // Weight order: for each 32-byte chunk, its low nibbles then its high nibbles.
        for chunk in qs.chunks_exact(32) {
            for shift in [0u8, 4] {
                for &q in chunk {
                    let v = (q >> shift) & 0x0F;
                    nib[usize::from(v)] += 1;
                    if let Some(p) = prev {
                        pair[usize::from(p) * 16 + usize::from(v)] += 1;
                    }
                    prev = Some(v);
                }
            }
        }
    }
    let h_header: Vec<f64> = header.iter().map(|h| entropy_bits(h)).collect();
    let h_nibble = entropy_bits(&nib);
    let h_byte = entropy_bits(&qbytes);
    let hdr_bits: f64 = h_header.iter().sum();
    Ok(Q4kRow {
        model: String::new(),
        split: String::new(),
        tensor_name: String::new(),
        tensor_category: String::new(),
        role: None,
        layer: None,
        shape: Vec::new(),
        n_blocks: n_blocks as u64,
        input_bytes: data.len() as u64,
        H_nibble: h_nibble,
        H_byte: h_byte,
        nibble_ceiling: ratio(8.0, h_byte),
        H_header_bytes: h_header,
        H_nibble_given_prev: conditional_entropy_bits(&pair, 16),
        d_corr_adjacent: pearson_adjacent(&ds),
        dmin_corr_adjacent: pearson_adjacent(&dmins),
        ceiling_ratio: ratio((Q4K * 8) as f64, hdr_bits + 256.0 * h_nibble),
        ceiling_ratio_bytes: ratio((Q4K * 8) as f64, hdr_bits + 128.0 * h_byte),
    })
}

fn pearson_adjacent(v: &[f64]) -> Option<f64> {
    if v.len() < 3 {
        return None;
    }
    let m = Moments::of(v[..v.len() - 1].iter().copied().zip(v[1..].iter().copied()));
    m.pearson()
}

fn q4k_row(ds: &Dataset, item: &Item) -> Result<Q4kRow> {
    let data = ds.bytes(item)?;
    let mut row = q4k_stats(&data).map_err(|e| match e {
        LabError::Invalid(m) => {
            LabError::Invalid(format!("{}: {}: {m}", item.path.display(), item.name))
        }
        other => other,
    })?;
    row.model = item.model.clone();
    row.split = item.split.as_str().into();
    row.tensor_name = item.name.clone();
    row.tensor_category = item.category.clone();
    row.role = item.role.clone();
    row.layer = item.layer;
    row.shape = item.shape.clone();
    Ok(row)
}

/// Centered second moments of paired samples (two-pass, in f64).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Moments {
    /// Pairs counted.
    pub n: u64,
    /// Mean of x.
    pub mean_x: f64,
    /// Mean of y.
    pub mean_y: f64,
    /// Σ (x − x̄)².
    pub sxx: f64,
    /// Σ (y − ȳ)².
    pub syy: f64,
    /// Σ (x − x̄)(y − ȳ).
    pub sxy: f64,
}

impl Moments {
    /// Moments of the finite pairs of `pairs` (a cloneable iterator: read twice).
    pub fn of(pairs: impl Iterator<Item = (f64, f64)> + Clone) -> Moments {
        let (mut n, mut sx, mut sy) = (0u64, 0.0, 0.0);
        for (x, y) in pairs.clone() {
            if x.is_finite() && y.is_finite() {
                n += 1;
                sx += x;
                sy += y;
            }
        }
        if n == 0 {
            return Moments::default();
        }
        let (mx, my) = (sx / n as f64, sy / n as f64);
        let (mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0);
        for (x, y) in pairs {
            if x.is_finite() && y.is_finite() {
                let (dx, dy) = (x - mx, y - my);
                sxx += dx * dx;
                syy += dy * dy;
                sxy += dx * dy;
            }
        }
        Moments {
            n,
            mean_x: mx,
            mean_y: my,
            sxx,
            syy,
            sxy,
        }
    }

    /// Pearson r; `None` if either side has no variance.
    pub fn pearson(&self) -> Option<f64> {
        (self.sxx > 0.0 && self.syy > 0.0).then(|| self.sxy / (self.sxx * self.syy).sqrt())
    }

    /// Least-squares fit y ≈ a·x + b.
    pub fn affine(&self) -> (f64, f64) {
        let a = if self.sxx > 0.0 {
            self.sxy / self.sxx
        } else {
            0.0
        };
        (a, self.mean_y - a * self.mean_x)
    }
}

/// A float element type the layer-pair experiment handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloatType {
    /// bfloat16.
    Bf16,
    /// IEEE half.
    Fp16,
    /// IEEE single.
    Fp32,
}

impl FloatType {
    /// Bytes per element.
    pub fn width(self) -> usize {
        match self {
            FloatType::Fp32 => 4,
            _ => 2,
        }
    }

    fn of(kind: CorpusKind) -> Option<FloatType> {
        match kind {
            CorpusKind::Bf16 => Some(FloatType::Bf16),
            CorpusKind::Fp16 => Some(FloatType::Fp16),
            CorpusKind::Fp32 => Some(FloatType::Fp32),
            _ => None,
        }
    }

    /// The element bits at `i`.
    fn bits(self, data: &[u8], i: usize) -> u32 {
        match self {
            FloatType::Fp32 => u32::from_le_bytes([
                data[4 * i],
                data[4 * i + 1],
                data[4 * i + 2],
                data[4 * i + 3],
            ]),
            _ => u32::from(u16::from_le_bytes([data[2 * i], data[2 * i + 1]])),
        }
    }

    /// Element bits as a float.
    fn value(self, bits: u32) -> f32 {
        match self {
            FloatType::Bf16 => f32::from_bits(bits << 16),
            FloatType::Fp16 => weightzip_format::ggml::f16_to_f32(bits as u16),
            FloatType::Fp32 => f32::from_bits(bits),
        }
    }

    /// A float rounded to this type (nearest even), as element bits.
    fn round(self, x: f32) -> u32 {
        match self {
            FloatType::Bf16 => u32::from(f32_to_bf16_bits(x.to_bits())),
            FloatType::Fp16 => u32::from(f32_to_f16_bits(x)),
            FloatType::Fp32 => x.to_bits(),
        }
    }

    /// An f64 rounded to this type (via f32), as element bits.
    fn round_f64(self, v: f64) -> u32 {
        self.round(v as f32)
    }

    /// `round(value(d) + value(p))` computed in f64.
    fn float_sum(self, d: u32, p: u32) -> u32 {
        self.round_f64(f64::from(self.value(d)) + f64::from(self.value(p)))
    }

    fn sign_bit(self) -> u32 {
        match self {
            FloatType::Fp32 => 0x8000_0000,
            _ => 0x8000,
        }
    }

    fn mask(self) -> u32 {
        match self {
            FloatType::Fp32 => u32::MAX,
            _ => 0xFFFF,
        }
    }

    /// Monotone order key of sign-magnitude bits (a bijection).
    fn key(self, bits: u32) -> u32 {
        if bits & self.sign_bit() != 0 {
            !bits & self.mask()
        } else {
            bits | self.sign_bit()
        }
    }

    /// Inverse of [`FloatType::key`].
    fn unkey(self, k: u32) -> u32 {
        if k & self.sign_bit() != 0 {
            k & !self.sign_bit() & self.mask()
        } else {
            !k & self.mask()
        }
    }

    fn put(self, out: &mut Vec<u8>, bits: u32) {
        match self {
            FloatType::Fp32 => out.extend_from_slice(&bits.to_le_bytes()),
            _ => out.extend_from_slice(&(bits as u16).to_le_bytes()),
        }
    }
}

/// Rounds an f32 to IEEE half bits, to nearest even (overflow to infinity,
/// NaN kept as a quiet NaN).
pub fn f32_to_f16_bits(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xFF) as i32;
    let mant = bits & 0x7F_FFFF;
    if exp == 0xFF {
        return if mant == 0 {
            sign | 0x7C00
        } else {
            sign | 0x7E00 | (mant >> 13) as u16
        };
    }
    let e = exp - 127 + 15;
    if e >= 0x1F {
        return sign | 0x7C00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        let m = mant | 0x80_0000;
        let shift = (14 - e) as u32;
        let q = m >> shift;
        let rem = m & ((1 << shift) - 1);
        let half = 1 << (shift - 1);
        let q = if rem > half || (rem == half && q & 1 == 1) {
            q + 1
        } else {
            q
        };
        return sign | q as u16;
    }
    let q = ((e as u32) << 10) | (mant >> 13);
    let rem = mant & 0x1FFF;
    let q = if rem > 0x1000 || (rem == 0x1000 && q & 1 == 1) {
        q + 1
    } else {
        q
    };
    sign | q as u16
}

/// How the residual of the affine prediction is formed from element bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Residual {
    /// The float difference, made exact: `d = round(y − p)` in the element
    /// type, then the correction `e = key(y) − key(round(d + p))` (mostly
    /// zero). The residual holds the `d` elements followed by the `e`
    /// elements; each half is coded on its own. When the prediction is
    /// useless (`|p|` far below `|y|`), `d = y` and `e = 0`, so the
    /// experiment costs only the near-empty correction stream.
    FloatDiff,
    /// `key(y) − key(p)` modulo 2^width, with `key` the monotone order key
    /// of the sign-magnitude bits: small when the prediction is close.
    KeyDiff,
    /// `y XOR p` on the raw bits.
    Xor,
}

/// The exactly invertible residual of `y` against the prediction
/// `p = round(a·x + b)` (computed in f32, rounded to the element type).
/// `x` and `y` are little-endian elements of `ty`, of equal length.
pub fn affine_residual(
    ty: FloatType,
    x: &[u8],
    y: &[u8],
    a: f32,
    b: f32,
    mode: Residual,
) -> Vec<u8> {
    let n = x.len().min(y.len()) / ty.width();
    let mut out = Vec::with_capacity(2 * n * ty.width());
    let mut corrections = Vec::new();
    for i in 0..n {
        let p = ty.round(a * ty.value(ty.bits(x, i)) + b);
        let yb = ty.bits(y, i);
        let r = match mode {
            Residual::FloatDiff => {
                let d = ty.round_f64(f64::from(ty.value(yb)) - f64::from(ty.value(p)));
                let back = ty.float_sum(d, p);
                ty.put(
                    &mut corrections,
                    ty.key(yb).wrapping_sub(ty.key(back)) & ty.mask(),
                );
                d
            }
            Residual::KeyDiff => ty.key(yb).wrapping_sub(ty.key(p)) & ty.mask(),
            Residual::Xor => yb ^ p,
        };
        ty.put(&mut out, r);
    }
    out.extend_from_slice(&corrections);
    out
}

/// Inverse of [`affine_residual`]: rebuilds `y` from `x`, the residual and
/// the stored coefficients.
pub fn affine_unresidual(
    ty: FloatType,
    x: &[u8],
    r: &[u8],
    a: f32,
    b: f32,
    mode: Residual,
) -> Vec<u8> {
    let w = ty.width();
    let n = match mode {
        Residual::FloatDiff => x.len().min(r.len() / 2) / w,
        _ => x.len().min(r.len()) / w,
    };
    let mut out = Vec::with_capacity(n * w);
    for i in 0..n {
        let p = ty.round(a * ty.value(ty.bits(x, i)) + b);
        let rb = ty.bits(r, i);
        let y = match mode {
            Residual::FloatDiff => {
                let back = ty.float_sum(rb, p);
                let e = ty.bits(&r[n * w..], i);
                ty.unkey(e.wrapping_add(ty.key(back)) & ty.mask())
            }
            Residual::KeyDiff => ty.unkey(rb.wrapping_add(ty.key(p)) & ty.mask()),
            Residual::Xor => rb ^ p,
        };
        ty.put(&mut out, y);
    }
    out
}

/// Bytes of `data` coded as `width` byte planes, each a self-describing
/// order-0 rANS stream with its table inline (the `bf16_split` coder class).
pub fn plane_coded_bytes(data: &[u8], width: usize) -> Result<u64> {
    let mut total = 0u64;
    let mut plane = Vec::with_capacity(data.len() / width.max(1));
    let mut out = Vec::new();
    for k in 0..width {
        plane.clear();
        plane.extend(data.chunks_exact(width).map(|c| c[k]));
        out.clear();
        weightzip_entropy::encode_stream(&plane, &mut out)
            .map_err(|e| LabError::Invalid(format!("plane coder: {e}")))?;
        total += out.len() as u64;
    }
    Ok(total)
}

/// Bytes of a residual from [`affine_residual`] coded by the byte-plane
/// order-0 coder (the two halves of a [`Residual::FloatDiff`] residual apart).
pub fn residual_coded_bytes(r: &[u8], width: usize, mode: Residual) -> Result<u64> {
    match mode {
        Residual::FloatDiff => {
            let (d, e) = r.split_at(r.len() / 2);
            Ok(plane_coded_bytes(d, width)? + plane_coded_bytes(e, width)?)
        }
        _ => plane_coded_bytes(r, width),
    }
}

/// One row of `layer_pairs.jsonl`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LayerPairRow {
    /// Source model.
    pub model: String,
    /// `train` or `test`.
    pub split: String,
    /// Role (from the name classifier, else the name template).
    pub role: String,
    /// The tensor name with the layer index replaced by `{}`.
    pub name_template: String,
    /// Dtype of both tensors.
    pub dtype: String,
    /// Layer index of the pair's first tensor.
    #[serde(rename = "K")]
    pub k: u32,
    /// Elements compared.
    pub n: u64,
    /// Pearson r between layer K and layer K+1.
    pub corr_pearson: Option<f64>,
    /// Least-squares slope of W[K+1] ≈ a·W[K] + b.
    pub affine_a: f64,
    /// Least-squares intercept.
    pub affine_b: f64,
    /// Ratio of W[K+1] coded alone by the byte-plane order-0 coder.
    pub ratio_alone: Option<f64>,
    /// Ratio of the exact float-difference residual ([`Residual::FloatDiff`])
    /// coded by the same coder (the 8 bytes of a and b as f32 are charged).
    pub ratio_residual: Option<f64>,
    /// `ratio_residual − ratio_alone`.
    pub affine_gain: Option<f64>,
    /// The same gain with the key-difference residual ([`Residual::KeyDiff`]).
    pub affine_gain_keydiff: Option<f64>,
    /// The same gain with the XOR residual.
    pub affine_gain_xor: Option<f64>,
}

fn name_template(name: &str, layer: u32) -> Option<String> {
    let digits = layer.to_string();
    let bytes = name.as_bytes();
    let mut i = 0;
    while let Some(pos) = name[i..].find(&digits) {
        let s = i + pos;
        let e = s + digits.len();
        let before_ok = s == 0 || !bytes[s - 1].is_ascii_digit();
        let after_ok = e == bytes.len() || !bytes[e].is_ascii_digit();
        let sep_before = s == 0 || matches!(bytes[s - 1], b'.' | b'/' | b'_');
        if before_ok && after_ok && sep_before {
            return Some(format!("{}{{}}{}", &name[..s], &name[e..]));
        }
        i = s + 1;
    }
    None
}

/// Dequantises a Q4_K stream to f32 (ggml's `dequantize_row_q4_K`).
pub fn dequantize_q4k(data: &[u8]) -> Vec<f32> {
    use weightzip_format::ggml::{f16_to_f32, unpack_q4k_scales};
    let mut out = Vec::with_capacity(data.len() / Q4K * 256);
    for b in data.chunks_exact(Q4K) {
        let d = f16_to_f32(u16::from_le_bytes([b[0], b[1]]));
        let dmin = f16_to_f32(u16::from_le_bytes([b[2], b[3]]));
        let mut sc = [0u8; 12];
        sc.copy_from_slice(&b[4..16]);
        let (scales, mins) = unpack_q4k_scales(&sc);
        for (j, chunk) in b[16..].chunks_exact(32).enumerate() {
            for (half, shift) in [(0usize, 0u8), (1, 4)] {
                let s = f32::from(scales[2 * j + half]) * d;
                let m = f32::from(mins[2 * j + half]) * dmin;
                out.extend(
                    chunk
                        .iter()
                        .map(|&q| s * f32::from((q >> shift) & 0x0F) - m),
                );
            }
        }
    }
    out
}

fn layer_pair(ds: &Dataset, a: &Item, b: &Item, template: &str) -> Result<LayerPairRow> {
    let xa = ds.bytes(a)?;
    let yb = ds.bytes(b)?;
    let k = a.layer.unwrap_or(0);
    let mut row = LayerPairRow {
        model: a.model.clone(),
        split: a.split.as_str().into(),
        role: a.role.clone().unwrap_or_else(|| template.to_string()),
        name_template: template.to_string(),
        dtype: a.dtype.clone(),
        k,
        n: 0,
        corr_pearson: None,
        affine_a: 0.0,
        affine_b: 0.0,
        ratio_alone: None,
        ratio_residual: None,
        affine_gain: None,
        affine_gain_keydiff: None,
        affine_gain_xor: None,
    };
    if let Some(ty) = FloatType::of(a.kind) {
        let n = xa.len().min(yb.len()) / ty.width();
        let pairs = (0..n).map(|i| {
            (
                f64::from(ty.value(ty.bits(&xa, i))),
                f64::from(ty.value(ty.bits(&yb, i))),
            )
        });
        let m = Moments::of(pairs);
        let (fa, fb) = m.affine();
        let (fa, fb) = (fa as f32, fb as f32);
        row.n = n as u64;
        row.corr_pearson = m.pearson();
        row.affine_a = f64::from(fa);
        row.affine_b = f64::from(fb);
        let w = ty.width();
        let y = &yb[..n * w];
        let alone = plane_coded_bytes(y, w)?;
        let len = y.len() as f64;
        let r_alone = len / alone.max(1) as f64;
        let gain = |mode| -> Result<(f64, f64)> {
            let r = affine_residual(ty, &xa, y, fa, fb, mode);
            let coded = residual_coded_bytes(&r, w, mode)? + 8;
            let rr = len / coded as f64;
            Ok((rr, rr - r_alone))
        };
        let (rr, g) = gain(Residual::FloatDiff)?;
        let (_, gk) = gain(Residual::KeyDiff)?;
        let (_, gx) = gain(Residual::Xor)?;
        row.affine_gain_keydiff = Some(gk);
        row.ratio_alone = Some(r_alone);
        row.ratio_residual = Some(rr);
        row.affine_gain = Some(g);
        row.affine_gain_xor = Some(gx);
    } else {
        // Q4_K: correlation and fit of the dequantised values only.
        let x = dequantize_q4k(&xa);
        let y = dequantize_q4k(&yb);
        let m = Moments::of(
            x.iter()
                .zip(y.iter())
                .map(|(&p, &q)| (f64::from(p), f64::from(q))),
        );
        let (fa, fb) = m.affine();
        row.n = x.len().min(y.len()) as u64;
        row.corr_pearson = m.pearson();
        row.affine_a = fa;
        row.affine_b = fb;
    }
    Ok(row)
}

/// The adjacent same-role pairs of the dataset: for each model, weight
/// matrices (at least 2 dims; biases and norm vectors are left out) of one
/// corpus whose names differ only in the layer index, at layers K and K+1,
/// with equal shapes.
pub fn layer_pairs_of(ds: &Dataset) -> Vec<(&Item, &Item, String)> {
    let mut groups: BTreeMap<(&str, CorpusKind, String), BTreeMap<u32, &Item>> = BTreeMap::new();
    for it in &ds.items {
        if !matches!(
            it.kind,
            CorpusKind::Bf16 | CorpusKind::Fp16 | CorpusKind::Fp32 | CorpusKind::Q4k
        ) {
            continue;
        }
        if it.shape.len() < 2 {
            continue;
        }
        let Some(layer) = it.layer else { continue };
        let Some(t) = name_template(&it.name, layer) else {
            continue;
        };
        groups
            .entry((it.model.as_str(), it.kind, t))
            .or_default()
            .insert(layer, it);
    }
    let mut out = Vec::new();
    for ((_, _, t), layers) in groups {
        for (&k, &a) in &layers {
            if let Some(&b) = k.checked_add(1).and_then(|k1| layers.get(&k1)) {
                if a.shape == b.shape && a.input_bytes == b.input_bytes {
                    out.push((a, b, t.clone()));
                }
            }
        }
    }
    out
}

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

fn is_matrix(shape: &[u64], n: u64) -> bool {
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

fn float_summary(rows: &[&FloatRow], by_split: bool) -> FloatSummary {
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
mod tests {
    use super::*;

    #[test]
    fn f16_rounding_inverts_f16_to_f32() {
        for h in 0..=u16::MAX {
            let f = weightzip_format::ggml::f16_to_f32(h);
            if f.is_nan() {
                assert!(weightzip_format::ggml::f16_to_f32(f32_to_f16_bits(f)).is_nan());
            } else {
                assert_eq!(f32_to_f16_bits(f), h, "{h:#06x}");
            }
        }
        // Halfway between 1 and the next half: ties to even.
        assert_eq!(f32_to_f16_bits(f32::from_bits(0x3F80_1000)), 0x3C00);
        assert_eq!(f32_to_f16_bits(f32::from_bits(0x3F80_3000)), 0x3C02);
        assert_eq!(f32_to_f16_bits(1e6), 0x7C00);
        assert_eq!(f32_to_f16_bits(1e-9), 0);
    }

    #[test]
    fn templates() {
        assert_eq!(
            name_template("model.layers.12.mlp.up_proj.weight", 12).as_deref(),
            Some("model.layers.{}.mlp.up_proj.weight")
        );
        assert_eq!(
            name_template("decoder/layer_1/ffn/linear_1/weight", 1).as_deref(),
            Some("decoder/layer_{}/ffn/linear_1/weight")
        );
        assert_eq!(
            name_template("blk.1.ffn_down.weight", 1).as_deref(),
            Some("blk.{}.ffn_down.weight")
        );
    }

    #[test]
    fn bf16_stats_of_known_values() {
        // Two values with different exponents and mantissas, equally often.
        let mut d = Vec::new();
        for _ in 0..8 {
            d.extend_from_slice(&0x3F80u16.to_le_bytes());
            d.extend_from_slice(&0xBF01u16.to_le_bytes());
        }
        let s = float16_stats(&d, Float16::Bf16);
        assert!((s.h_byte0 - 1.0).abs() < 1e-12);
        assert!((s.h_byte1 - 1.0).abs() < 1e-12);
        assert!((s.h_sign - 1.0).abs() < 1e-12);
        assert!((s.h_exp - 1.0).abs() < 1e-12);
        assert!(s.h_mant_given_exp.abs() < 1e-12);
        assert!((s.h_value - 1.0).abs() < 1e-12);
        assert!((s.r_marginal() - 8.0).abs() < 1e-12);
    }
}
