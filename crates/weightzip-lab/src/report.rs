//! The report: per corpus and method, the study's aggregates with a seeded
//! model-level bootstrap CI, next to the ceilings; Markdown or JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::error::{LabError, Result};
use crate::records::BenchRecord;
use crate::stats::{self, Bootstrap};

/// Report settings.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ReportOptions {
    /// Bootstrap of the byte-weighted CI.
    pub bootstrap: Bootstrap,
}

/// The report of one results file.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Report {
    /// Rows read.
    pub rows: usize,
    /// Bootstrap resamples.
    pub bootstrap_resamples: usize,
    /// Bootstrap seed.
    pub bootstrap_seed: u64,
    /// CI coverage.
    pub coverage: f64,
    /// One entry per `_kind`, in a stable order.
    pub corpora: Vec<CorpusReport>,
    /// The atlas summary (`summary.json`), when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub atlas: Option<serde_json::Value>,
    /// The rows of `weightzip-lab archives` (whole folders and checkpoint
    /// deltas against their files coded apart), when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archives: Option<Vec<crate::archives::ArchiveRow>>,
}

/// Ceilings of a corpus from its rows.
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
#[allow(non_snake_case)]
pub struct Ceilings {
    /// Σ bytes / Σ (bytes / R_marginal).
    pub R_marginal_byte_weighted: Option<f64>,
    /// Median per-item R_marginal.
    pub R_marginal_median: Option<f64>,
    /// Σ bytes / Σ (bytes / nibble_ceiling).
    pub nibble_ceiling_byte_weighted: Option<f64>,
    /// Median per-item nibble ceiling.
    pub nibble_ceiling_median: Option<f64>,
    /// Σ bytes / Σ (bytes / stream_ceiling).
    pub stream_ceiling_byte_weighted: Option<f64>,
    /// Median per-item stream ceiling.
    pub stream_ceiling_median: Option<f64>,
}

/// One corpus (`_kind`).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CorpusReport {
    /// `_kind`.
    pub kind: String,
    /// Items.
    pub n_items: usize,
    /// Distinct models.
    pub n_models: usize,
    /// Σ input bytes.
    pub input_bytes: u64,
    /// Ceilings.
    pub ceilings: Ceilings,
    /// Methods, best byte-weighted ratio first.
    pub methods: Vec<MethodStats>,
}

/// One method on one corpus.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[allow(non_snake_case)]
pub struct MethodStats {
    /// Method name.
    pub method: String,
    /// Method class.
    pub class: String,
    /// Items with a successful round trip.
    pub n: usize,
    /// Items whose round trip failed.
    pub failures: usize,
    /// Σ input / Σ (compressed + profile) over successful items.
    pub byte_weighted: Option<f64>,
    /// CI lower bound of the byte-weighted ratio.
    pub ci_lo: Option<f64>,
    /// CI upper bound.
    pub ci_hi: Option<f64>,
    /// `model` or `item` (fewer than two models).
    pub ci_level: Option<String>,
    /// Geometric mean of per-item ratios.
    pub geomean: Option<f64>,
    /// CI of the geometric mean (same bootstrap and level as `ci_*`).
    pub geomean_ci: Option<[f64; 2]>,
    /// Median per-item ratio.
    pub median: Option<f64>,
    /// CI of the median (same bootstrap and level as `ci_*`).
    pub median_ci: Option<[f64; 2]>,
    /// Smallest per-item ratio.
    pub min: Option<f64>,
    /// Median decode MB/s.
    pub decompress_MBps_median: Option<f64>,
    /// Median encode MB/s.
    pub compress_MBps_median: Option<f64>,
    /// Profile bytes charged per item.
    pub profile_bytes: u64,
}

fn kind_order(kind: &str) -> usize {
    [
        "bench_bf16_perfile",
        "bench_7B",
        "bench_fp16",
        "bench_fp32",
        "Q4_K_benchmark",
        "gguf_whole",
    ]
    .iter()
    .position(|k| *k == kind)
    .unwrap_or(usize::MAX)
}

fn weighted_ceiling(rows: &[&BenchRecord], f: impl Fn(&BenchRecord) -> Option<f64>) -> Option<f64> {
    let pairs: Vec<(f64, f64)> = rows
        .iter()
        .filter_map(|r| {
            f(r).filter(|c| *c > 0.0 && c.is_finite())
                .map(|c| (r.input_bytes as f64, r.input_bytes as f64 / c))
        })
        .collect();
    stats::byte_weighted(&pairs)
}

fn median_of(rows: &[&BenchRecord], f: impl Fn(&BenchRecord) -> Option<f64>) -> Option<f64> {
    stats::median(&rows.iter().filter_map(|r| f(r)).collect::<Vec<_>>())
}

/// Builds the report of `rows`.
pub fn build_report(rows: &[BenchRecord], opts: &ReportOptions) -> Report {
    let mut by_kind: BTreeMap<(usize, &str), Vec<&BenchRecord>> = BTreeMap::new();
    for r in rows {
        by_kind
            .entry((kind_order(r.corpus()), r.corpus()))
            .or_default()
            .push(r);
    }
    let mut corpora = Vec::new();
    for ((_, kind), rs) in by_kind {
        let mut models: Vec<&str> = rs.iter().map(|r| r.model.as_str()).collect();
        models.sort_unstable();
        models.dedup();
        let ceilings = Ceilings {
            R_marginal_byte_weighted: weighted_ceiling(&rs, |r| r.r_marginal),
            R_marginal_median: median_of(&rs, |r| r.r_marginal),
            nibble_ceiling_byte_weighted: weighted_ceiling(&rs, |r| r.nibble_ceiling),
            nibble_ceiling_median: median_of(&rs, |r| r.nibble_ceiling),
            stream_ceiling_byte_weighted: weighted_ceiling(&rs, |r| r.stream_ceiling),
            stream_ceiling_median: median_of(&rs, |r| r.stream_ceiling),
        };
        let mut names: Vec<&str> = rs
            .iter()
            .flat_map(|r| r.methods.keys().map(String::as_str))
            .collect();
        names.sort_unstable();
        names.dedup();
        let mut methods: Vec<MethodStats> = names
            .into_iter()
            .map(|name| method_stats(name, &rs, &opts.bootstrap))
            .collect();
        methods.sort_by(|a, b| {
            let key = |m: &MethodStats| m.byte_weighted.unwrap_or(f64::NEG_INFINITY);
            key(b)
                .total_cmp(&key(a))
                .then_with(|| a.method.cmp(&b.method))
        });
        corpora.push(CorpusReport {
            kind: kind.to_string(),
            n_items: rs.len(),
            n_models: models.len(),
            input_bytes: rs.iter().map(|r| r.input_bytes).sum(),
            ceilings,
            methods,
        });
    }
    Report {
        rows: rows.len(),
        bootstrap_resamples: opts.bootstrap.resamples,
        bootstrap_seed: opts.bootstrap.seed,
        coverage: opts.bootstrap.coverage,
        corpora,
        atlas: None,
        archives: None,
    }
}

fn method_stats(name: &str, rows: &[&BenchRecord], boot: &Bootstrap) -> MethodStats {
    let mut class = String::new();
    let mut failures = 0;
    let mut profile_bytes = 0;
    let mut items: Vec<(&str, f64, f64)> = Vec::new();
    let mut ratios = Vec::new();
    let mut per_item: Vec<(&str, f64)> = Vec::new();
    let mut dec = Vec::new();
    let mut enc = Vec::new();
    for r in rows {
        let Some(m) = r.methods.get(name) else {
            continue;
        };
        if class.is_empty() {
            class = m.class.clone();
        }
        let charged = m.compressed_bytes + m.profile_bytes;
        if !m.roundtrip_ok || charged == 0 {
            failures += 1;
            continue;
        }
        profile_bytes = profile_bytes.max(m.profile_bytes);
        items.push((r.model.as_str(), r.input_bytes as f64, charged as f64));
        let ratio = m.ratio.unwrap_or(r.input_bytes as f64 / charged as f64);
        ratios.push(ratio);
        per_item.push((r.model.as_str(), ratio));
        dec.extend(m.decompress_mbps);
        enc.extend(m.compress_mbps);
    }
    let pairs: Vec<(f64, f64)> = items.iter().map(|&(_, i, o)| (i, o)).collect();
    let ci = boot.byte_weighted_ci(&items);
    MethodStats {
        method: name.to_string(),
        class,
        n: items.len(),
        failures,
        byte_weighted: stats::byte_weighted(&pairs),
        ci_lo: ci.map(|c| c.lo),
        ci_hi: ci.map(|c| c.hi),
        ci_level: ci.map(|c| c.level.as_str().to_string()),
        geomean: stats::geomean(&ratios),
        geomean_ci: boot.geomean_ci(&per_item).map(|c| [c.lo, c.hi]),
        median: stats::median(&ratios),
        median_ci: boot.median_ci(&per_item).map(|c| [c.lo, c.hi]),
        min: stats::min(&ratios),
        decompress_MBps_median: stats::median(&dec),
        compress_MBps_median: stats::median(&enc),
        profile_bytes,
    }
}

/// Reads `summary.json` of an atlas directory.
pub fn read_atlas_summary(dir: &Path) -> Result<serde_json::Value> {
    let path = dir.join("summary.json");
    let text = std::fs::read_to_string(&path).map_err(|e| LabError::io(&path, e))?;
    serde_json::from_str(&text).map_err(|e| LabError::Record {
        path,
        line: e.line(),
        message: e.to_string(),
    })
}

fn f(v: Option<f64>, digits: usize) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.digits$}"),
        _ => "–".into(),
    }
}

fn interval(ci: Option<[f64; 2]>) -> String {
    ci.map_or_else(|| "–".into(), |[lo, hi]| format!("[{lo:.4}, {hi:.4}]"))
}

fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// Renders the report as Markdown.
pub fn to_markdown(report: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# weightzip bench report\n");
    let _ = writeln!(
        s,
        "{} rows · ratio = input / (compressed + profile) · {:.0} % CIs of byte-weighted ratio, geomean and median: one cluster bootstrap over models (items, marked, with one model), B = {}, seed = {:#x}\n",
        report.rows,
        report.coverage * 100.0,
        report.bootstrap_resamples,
        report.bootstrap_seed
    );
    for c in &report.corpora {
        let _ = writeln!(
            s,
            "## {} — {} items, {} model(s), {}\n",
            c.kind,
            c.n_items,
            c.n_models,
            mb(c.input_bytes)
        );
        let ce = &c.ceilings;
        let mut ceil = Vec::new();
        if ce.R_marginal_byte_weighted.is_some() {
            ceil.push(format!(
                "R_marginal {} byte-weighted (median {})",
                f(ce.R_marginal_byte_weighted, 4),
                f(ce.R_marginal_median, 4)
            ));
        }
        if ce.nibble_ceiling_byte_weighted.is_some() {
            ceil.push(format!(
                "nibble ceiling {} (median {})",
                f(ce.nibble_ceiling_byte_weighted, 4),
                f(ce.nibble_ceiling_median, 4)
            ));
        }
        if ce.stream_ceiling_byte_weighted.is_some() {
            ceil.push(format!(
                "tensor-stream ceiling {} (median {})",
                f(ce.stream_ceiling_byte_weighted, 4),
                f(ce.stream_ceiling_median, 4)
            ));
        }
        if !ceil.is_empty() {
            let _ = writeln!(s, "Ceilings: {}.\n", ceil.join("; "));
        }
        let _ = writeln!(
            s,
            "| method | class | n | fail | byte-weighted | 95 % CI | geomean | 95 % CI | median | 95 % CI | min | decode MB/s | encode MB/s | profile B |"
        );
        let _ = writeln!(
            s,
            "|---|---|--:|--:|--:|---|--:|---|--:|---|--:|--:|--:|--:|"
        );
        for m in &c.methods {
            let ci = match (m.ci_lo, m.ci_hi) {
                (Some(lo), Some(hi)) => format!(
                    "[{lo:.4}, {hi:.4}]{}",
                    if m.ci_level.as_deref() == Some("item") {
                        " (item)"
                    } else {
                        ""
                    }
                ),
                _ => "–".into(),
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                m.method,
                m.class,
                m.n,
                m.failures,
                f(m.byte_weighted, 4),
                ci,
                f(m.geomean, 4),
                interval(m.geomean_ci),
                f(m.median, 4),
                interval(m.median_ci),
                f(m.min, 4),
                f(m.decompress_MBps_median, 1),
                f(m.compress_MBps_median, 1),
                m.profile_bytes
            );
        }
        let _ = writeln!(s);
    }
    if let Some(rows) = &report.archives {
        let _ = writeln!(s, "{}", crate::archives::summary_markdown(rows));
    }
    if let Some(a) = &report.atlas {
        let _ = writeln!(s, "## Atlas (all splits)\n");
        if let Some(fl) = a.get("float").and_then(|v| v.as_object()) {
            let _ = writeln!(
                s,
                "| dtype | tensors | median H_byte0 | median H_byte1 | R_marginal median | R_marginal byte-weighted | R_exp_split median | R_ctx median |"
            );
            let _ = writeln!(s, "|---|--:|--:|--:|--:|--:|--:|--:|");
            for (k, v) in fl {
                let mut rows = vec![(k.clone(), v)];
                if let Some(m) = v.get("matrices").filter(|m| !m.is_null()) {
                    rows.push((format!("{k} matrices"), m));
                }
                for (label, v) in rows {
                    let g = |key: &str| v.get(key).and_then(|x| x.as_f64());
                    let _ = writeln!(
                        s,
                        "| {label} | {} | {} | {} | {} | {} | {} | {} |",
                        v.get("n").and_then(|x| x.as_u64()).unwrap_or(0),
                        f(g("median_H_byte0"), 3),
                        f(g("median_H_byte1"), 3),
                        f(g("median_R_marginal"), 4),
                        f(g("byte_weighted_R_marginal"), 4),
                        f(g("median_R_exp_split"), 4),
                        f(g("median_R_ctx"), 4)
                    );
                }
            }
            let _ = writeln!(s);
        }
        if let Some(q) = a.get("q4k").filter(|v| !v.is_null()) {
            let g = |key: &str| q.get(key).and_then(|x| x.as_f64());
            let _ = writeln!(
                s,
                "Q4_K: {} streams, median H_nibble {}, H(nibble | prev) {}, d high-byte H {}, adjacent d r {}, nibble ceiling {}, tensor-stream ceiling {} (byte-weighted {}).\n",
                q.get("n").and_then(|x| x.as_u64()).unwrap_or(0),
                f(g("median_H_nibble"), 3),
                f(g("median_H_nibble_given_prev"), 3),
                f(g("median_H_d_high"), 3),
                f(g("median_d_corr_adjacent"), 3),
                f(g("median_nibble_ceiling"), 4),
                f(g("median_ceiling_ratio"), 4),
                f(g("byte_weighted_ceiling_ratio"), 4)
            );
        }
        if let Some(p) = a.get("layer_pairs").filter(|v| !v.is_null()) {
            let g = |key: &str| p.get(key).and_then(|x| x.as_f64());
            let _ = writeln!(
                s,
                "Adjacent layers: {} pairs, median r {}, median |r| {}, max |r| {}, exact float-difference affine residual gain median {} (key-difference {}, XOR {}).\n",
                p.get("n").and_then(|x| x.as_u64()).unwrap_or(0),
                f(g("median_r"), 4),
                f(g("median_abs_r"), 4),
                f(g("max_abs_r"), 4),
                f(g("median_affine_gain"), 4),
                f(g("median_affine_gain_keydiff"), 4),
                f(g("median_affine_gain_xor"), 4)
            );
        }
    }
    s
}
