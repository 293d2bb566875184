//! Q4_K tensor streams: nibble and header-byte entropies and the
//! nibble-only and stream ceilings (`q4k.jsonl`).

use super::*;

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
pub(crate) const Q4K: usize = weightzip_format::ggml::Q4_K_BLOCK_BYTES;

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

pub(crate) fn pearson_adjacent(v: &[f64]) -> Option<f64> {
    if v.len() < 3 {
        return None;
    }
    let m = Moments::of(v[..v.len() - 1].iter().copied().zip(v[1..].iter().copied()));
    m.pearson()
}

pub(crate) fn q4k_row(ds: &Dataset, item: &Item) -> Result<Q4kRow> {
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
