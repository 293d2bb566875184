//! What each figure plots, computed from the records alone (no drawing here).

use std::collections::{BTreeMap, HashMap};

use crate::stats;
use crate::FigureInputs;

/// Tensor categories in the order fig1 shows them.
pub const CATEGORIES: [&str; 6] = ["embedding", "attention", "mlp", "lm_head", "norm", "other"];
/// At most this many bars per category in fig1.
pub const MAX_BARS_PER_GROUP: usize = 30;

/// Index into [`CATEGORIES`] of a recorded category, or of one guessed from
/// the tensor name when the category is absent or unknown.
pub fn category_index(category: Option<&str>, tensor_name: Option<&str>) -> usize {
    let by_word = |s: &str| -> Option<usize> {
        let s = s.to_ascii_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| s.contains(w));
        if has(&["lm_head", "lm-head", "output.weight"]) || s == "output" {
            Some(3)
        } else if has(&["embed", "wte", "wpe", "token_embd"]) {
            Some(0)
        } else if has(&["norm", "ln_", "layernorm"]) {
            Some(4)
        } else if has(&[
            "attn",
            "attention",
            "q_proj",
            "k_proj",
            "v_proj",
            "o_proj",
            "query",
            "key",
            "value",
        ]) {
            Some(1)
        } else if has(&[
            "mlp",
            "ffn",
            "feed_forward",
            "up_proj",
            "down_proj",
            "gate_proj",
            "fc1",
            "fc2",
            "intermediate",
            "c_fc",
        ]) {
            Some(2)
        } else {
            None
        }
    };
    if let Some(c) = category {
        let c = c.trim().to_ascii_lowercase();
        if let Some(i) = CATEGORIES.iter().position(|k| *k == c) {
            return i;
        }
        if let Some(i) = by_word(&c) {
            return i;
        }
    }
    tensor_name.and_then(by_word).unwrap_or(5)
}

/// One fig1 bar: the two byte entropies of one tensor, in bits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EntropyBar {
    /// High byte: sign + 7 exponent bits.
    pub h_byte1: f64,
    /// Low byte: exponent LSB + 7 mantissa bits.
    pub h_byte0: f64,
}

/// One fig1 group.
#[derive(Debug, Clone)]
pub struct EntropyGroup {
    /// Category name.
    pub category: &'static str,
    /// Tensors of this category in the atlas.
    pub total: usize,
    /// The bars shown (evenly spaced over the group when `total` is larger
    /// than [`MAX_BARS_PER_GROUP`]).
    pub bars: Vec<EntropyBar>,
}

/// fig1: BF16 atlas rows with both byte entropies, grouped by category, in
/// atlas order; a group larger than the cap is sampled evenly.
pub fn fig1_groups(inputs: &FigureInputs) -> Vec<EntropyGroup> {
    let mut per: Vec<Vec<EntropyBar>> = vec![Vec::new(); CATEGORIES.len()];
    for row in &inputs.atlas_bf16 {
        if row
            .dtype
            .as_deref()
            .is_some_and(|d| !d.eq_ignore_ascii_case("bf16"))
        {
            continue;
        }
        let (Some(h0), Some(h1)) = (row.h_byte0, row.h_byte1) else {
            continue;
        };
        let i = category_index(row.tensor_category.as_deref(), row.tensor_name.as_deref());
        per[i].push(EntropyBar {
            h_byte1: h1,
            h_byte0: h0,
        });
    }
    CATEGORIES
        .iter()
        .zip(per)
        .filter(|(_, bars)| !bars.is_empty())
        .map(|(cat, bars)| EntropyGroup {
            category: cat,
            total: bars.len(),
            bars: evenly_spaced(&bars, MAX_BARS_PER_GROUP),
        })
        .collect()
}

fn evenly_spaced<T: Clone>(items: &[T], max: usize) -> Vec<T> {
    if items.len() <= max {
        return items.to_vec();
    }
    (0..max)
        .map(|i| items[i * (items.len() - 1) / (max - 1).max(1)].clone())
        .collect()
}

/// One fig2 point: one tensor's ceiling (x) and achieved ratio (y).
#[derive(Debug, Clone, PartialEq)]
pub struct RatioPoint {
    /// The corpus (`_kind`) of the record.
    pub corpus: String,
    /// The ceiling.
    pub ceiling: f64,
    /// The method's achieved ratio.
    pub achieved: f64,
    /// Input bytes of the record (1 when not recorded).
    pub bytes: f64,
}

/// One fig2 panel's points.
#[derive(Debug, Clone, Default)]
pub struct RatioPanel {
    /// Points with both coordinates.
    pub points: Vec<RatioPoint>,
    /// Records that had a valid ratio for the method but no ceiling.
    pub missing_ceiling: usize,
}

fn key(model: Option<&str>, name: Option<&str>) -> Option<(String, String)> {
    Some((model.unwrap_or("").to_string(), name?.to_string()))
}

/// fig2, top: `bf16_split` vs the byte-marginal ceiling.
pub fn fig2_bf16(inputs: &FigureInputs) -> RatioPanel {
    let atlas: HashMap<(String, String), f64> = inputs
        .atlas_bf16
        .iter()
        .filter_map(|r| {
            Some((
                key(r.model.as_deref(), r.tensor_name.as_deref())?,
                r.ceiling()?,
            ))
        })
        .collect();
    ratio_panel(inputs, "bf16_split", |rec| {
        rec.r_marginal.or_else(|| {
            atlas
                .get(&key(Some(&rec.model), Some(&rec.tensor_name))?)
                .copied()
        })
    })
}

/// fig2, bottom: `qb_k4` vs the nibble-stream ceiling 8 / H_byte.
pub fn fig2_q4k(inputs: &FigureInputs) -> RatioPanel {
    let atlas: HashMap<(String, String), f64> = inputs
        .atlas_q4k
        .iter()
        .filter_map(|r| {
            Some((
                key(r.model.as_deref(), r.tensor_name.as_deref())?,
                r.ceiling()?,
            ))
        })
        .collect();
    ratio_panel(inputs, "qb_k4", |rec| {
        rec.nibble_ceiling.or_else(|| {
            atlas
                .get(&key(Some(&rec.model), Some(&rec.tensor_name))?)
                .copied()
        })
    })
}

fn ratio_panel(
    inputs: &FigureInputs,
    method: &str,
    ceiling: impl Fn(&crate::BenchRecord) -> Option<f64>,
) -> RatioPanel {
    let mut panel = RatioPanel::default();
    for rec in &inputs.results {
        let Some(achieved) = rec
            .methods
            .get(method)
            .and_then(|m| m.effective_ratio(rec.input_bytes))
        else {
            continue;
        };
        match ceiling(rec).filter(|c| c.is_finite() && *c > 0.0) {
            Some(c) => panel.points.push(RatioPoint {
                corpus: rec.corpus().to_string(),
                ceiling: c,
                achieved,
                bytes: rec.input_bytes.max(1) as f64,
            }),
            None => panel.missing_ceiling += 1,
        }
    }
    panel
}

/// fig3: H(nibble) of every Q4_K atlas row that has it.
pub fn fig3_values(inputs: &FigureInputs) -> Vec<f64> {
    inputs
        .atlas_q4k
        .iter()
        .filter_map(|r| r.h_nibble)
        .filter(|v| v.is_finite())
        .collect()
}

/// fig4: adjacent-layer correlations and the model-level CI of their median.
#[derive(Debug, Clone, Default)]
pub struct CorrelationData {
    /// Every pair's Pearson r.
    pub values: Vec<f64>,
    /// Distinct models.
    pub models: usize,
    /// Median r over all pairs.
    pub median: Option<f64>,
    /// 95 % model-level bootstrap interval of the median.
    pub ci: Option<(f64, f64)>,
}

/// fig4's data, with `b` bootstrap resamples at the fixed seed.
pub fn fig4_data(inputs: &FigureInputs, b: usize) -> CorrelationData {
    let mut clusters: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for row in &inputs.layer_pairs {
        if let Some(r) = row.corr_pearson.filter(|r| r.is_finite()) {
            clusters
                .entry(row.model.as_deref().unwrap_or(""))
                .or_default()
                .push(r);
        }
    }
    let values: Vec<f64> = clusters.values().flatten().copied().collect();
    let clusters: Vec<Vec<f64>> = clusters.into_values().collect();
    CorrelationData {
        median: stats::median(&values),
        ci: stats::Bootstrap {
            resamples: b,
            ..stats::Bootstrap::default()
        }
        .median_ci_of_clusters(&clusters)
        .map(|c| (c.lo, c.hi)),
        models: clusters.len(),
        values,
    }
}

/// Method classes, in legend order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MethodClass {
    /// Off-the-shelf compressors on raw bytes.
    GeneralPurpose,
    /// Byte planes / field streams, then a coder.
    ByteGrouped,
    /// Coders that parse the tensor format.
    FormatAware,
    /// Methods with trained side data (charged).
    TrainedProfile,
    /// weightzip's own codecs.
    Weightzip,
    /// A class string this crate does not know.
    Other,
}

impl MethodClass {
    /// Every class, legend order.
    pub const ALL: [MethodClass; 6] = [
        Self::GeneralPurpose,
        Self::ByteGrouped,
        Self::FormatAware,
        Self::TrainedProfile,
        Self::Weightzip,
        Self::Other,
    ];

    /// Reads a recorded class; methods named `wz_*` count as weightzip's.
    pub fn parse(class: Option<&str>, method: &str) -> Self {
        let c = class
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
            .replace('_', "-");
        match c.as_str() {
            "general-purpose" | "general" => Self::GeneralPurpose,
            "byte-grouped" => Self::ByteGrouped,
            "format-aware" => Self::FormatAware,
            "trained-profile" | "trained" => Self::TrainedProfile,
            "weightzip" => Self::Weightzip,
            _ if method.starts_with("wz_") => Self::Weightzip,
            _ => Self::Other,
        }
    }

    /// Legend label.
    pub fn label(self) -> &'static str {
        match self {
            Self::GeneralPurpose => "general-purpose",
            Self::ByteGrouped => "byte-grouped",
            Self::FormatAware => "format-aware",
            Self::TrainedProfile => "trained-profile",
            Self::Weightzip => "weightzip",
            Self::Other => "other",
        }
    }
}

/// One fig5 point: one method over one corpus.
#[derive(Debug, Clone, PartialEq)]
pub struct MethodPoint {
    /// Method name.
    pub method: String,
    /// Its class.
    pub class: MethodClass,
    /// Σ input / Σ (compressed + profile).
    pub ratio: f64,
    /// Σ input / Σ decode time, MB/s.
    pub decode_mbps: f64,
    /// Records aggregated.
    pub rows: usize,
}

/// fig5's points of one corpus, and which of them form the Pareto front.
#[derive(Debug, Clone)]
pub struct CorpusPoints {
    /// `_kind`.
    pub corpus: String,
    /// Records of this corpus.
    pub records: usize,
    /// One point per method with a ratio and a decode speed.
    pub points: Vec<MethodPoint>,
    /// Indices into `points` of the non-dominated ones, fastest first.
    pub front: Vec<usize>,
}

/// fig5's data and what was left out.
#[derive(Debug, Clone, Default)]
pub struct SpeedData {
    /// Corpora in display order.
    pub corpora: Vec<CorpusPoints>,
    /// Method entries skipped for `roundtrip_ok: false`.
    pub failed_entries: usize,
    /// (corpus, method) pairs with a ratio but no decode speed.
    pub without_speed: usize,
}

fn corpus_rank(kind: &str) -> usize {
    const ORDER: [&str; 5] = [
        "bench_bf16_perfile",
        "bench_7B",
        "bench_fp16",
        "Q4_K_benchmark",
        "gguf_whole",
    ];
    ORDER.iter().position(|k| *k == kind).unwrap_or(ORDER.len())
}

#[derive(Default)]
struct Acc {
    class: Option<String>,
    input: f64,
    output: f64,
    rows: usize,
    speed_input: f64,
    speed_time: f64,
}

/// fig5: byte-weighted ratio and aggregate decode speed per (corpus, method).
pub fn fig5_data(inputs: &FigureInputs) -> SpeedData {
    // (display rank, corpus) -> (records, method -> sums)
    type PerCorpus<'a> = (usize, BTreeMap<&'a str, Acc>);
    let mut acc: BTreeMap<(usize, &str), PerCorpus> = BTreeMap::new();
    let mut failed = 0;
    for rec in &inputs.results {
        let entry = acc
            .entry((corpus_rank(rec.corpus()), rec.corpus()))
            .or_default();
        entry.0 += 1;
        let Some(input) = Some(rec.input_bytes).filter(|b| *b > 0) else {
            continue;
        };
        for (name, m) in &rec.methods {
            if !m.roundtrip_ok {
                failed += 1;
                continue;
            }
            let Some(out) = m.charged_bytes(input) else {
                continue;
            };
            let a = entry.1.entry(name.as_str()).or_default();
            if a.class.is_none() && !m.class.is_empty() {
                a.class = Some(m.class.clone());
            }
            a.input += input as f64;
            a.output += out;
            a.rows += 1;
            if let Some(s) = m.decompress_mbps.filter(|s| *s > 0.0) {
                a.speed_input += input as f64;
                a.speed_time += input as f64 / s;
            }
        }
    }
    let mut data = SpeedData {
        failed_entries: failed,
        ..Default::default()
    };
    for ((_, kind), (records, methods)) in acc {
        let mut points = Vec::new();
        for (name, a) in methods {
            if a.output <= 0.0 {
                continue;
            }
            if a.speed_time <= 0.0 {
                data.without_speed += 1;
                continue;
            }
            points.push(MethodPoint {
                method: name.to_string(),
                class: MethodClass::parse(a.class.as_deref(), name),
                ratio: a.input / a.output,
                decode_mbps: a.speed_input / a.speed_time,
                rows: a.rows,
            });
        }
        let front = pareto_front(&points);
        data.corpora.push(CorpusPoints {
            corpus: kind.to_string(),
            records,
            points,
            front,
        });
    }
    data
}

/// Indices of the points no other point beats on both ratio and speed (ties
/// on both count once), sorted by speed, fastest first.
pub fn pareto_front(points: &[MethodPoint]) -> Vec<usize> {
    let mut front: Vec<usize> = (0..points.len())
        .filter(|&i| {
            let p = &points[i];
            !points.iter().enumerate().any(|(j, q)| {
                let ge = q.ratio >= p.ratio && q.decode_mbps >= p.decode_mbps;
                let gt = q.ratio > p.ratio || q.decode_mbps > p.decode_mbps;
                j != i && ge && (gt || j < i)
            })
        })
        .collect();
    front.sort_by(|&a, &b| points[b].decode_mbps.total_cmp(&points[a].decode_mbps));
    front
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(ratio: f64, mbps: f64) -> MethodPoint {
        MethodPoint {
            method: String::new(),
            class: MethodClass::Other,
            ratio,
            decode_mbps: mbps,
            rows: 1,
        }
    }

    #[test]
    fn pareto_keeps_only_undominated() {
        let pts = [
            pt(1.5, 10.0),
            pt(1.4, 100.0),
            pt(1.3, 50.0),
            pt(1.45, 100.0),
            pt(1.5, 10.0),
        ];
        assert_eq!(pareto_front(&pts), vec![3, 0]);
    }

    #[test]
    fn categories_from_names() {
        assert_eq!(category_index(Some("MLP"), None), 2);
        assert_eq!(category_index(None, Some("model.embed_tokens.weight")), 0);
        assert_eq!(
            category_index(None, Some("model.layers.0.self_attn.q_proj.weight")),
            1
        );
        assert_eq!(category_index(Some("weird"), Some("x.bias")), 5);
    }

    #[test]
    fn class_parsing() {
        assert_eq!(
            MethodClass::parse(Some("byte-grouped"), "x"),
            MethodClass::ByteGrouped
        );
        assert_eq!(MethodClass::parse(None, "wz_bf16"), MethodClass::Weightzip);
        assert_eq!(MethodClass::parse(Some("??"), "x"), MethodClass::Other);
    }
}
