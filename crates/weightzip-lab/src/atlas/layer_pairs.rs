//! The adjacent-layer experiment: W[K+1] predicted from W[K] by least
//! squares and coded as a residual (`layer_pairs.jsonl`).

use super::*;

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

pub(crate) fn name_template(name: &str, layer: u32) -> Option<String> {
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

pub(crate) fn layer_pair(ds: &Dataset, a: &Item, b: &Item, template: &str) -> Result<LayerPairRow> {
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
