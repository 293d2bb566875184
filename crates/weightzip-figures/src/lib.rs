//! weightzip-figures: the study's Figures 1–5, drawn from the lab's records
//! alone (results file and atlas), as PDF and PNG.
//!
//! Each figure is drawn once with plotters into an SVG string; that SVG is
//! parsed once per output by usvg with a font database holding only the
//! committed DejaVu Sans, then written as PDF (svg2pdf, text embedded as a font
//! subset) and PNG (resvg, at 2× scale). No network, no system fonts.
//!
//! | figure | shows |
//! |---|---|
//! | fig1 | per-tensor bf16 byte entropies (byte 1 below, byte 0 on top), grouped by category, 16-bit line |
//! | fig2 | `bf16_split` vs R_marginal (top) and `qb_k4` vs 8 / H_byte (bottom), y = x |
//! | fig3 | histogram of Q4_K H(nibble), 4-bit line, median |
//! | fig4 | histogram of adjacent-layer Pearson r, model-level bootstrap CI of the median |
//! | fig5 | decode MB/s (log) vs byte-weighted ratio per (corpus, method), by class, Pareto front |
//!
//! A figure (or panel) without data says so on the canvas instead of failing.

#![warn(missing_docs)]

mod convert;
pub mod data;
mod error;
mod font;
mod render;
pub mod stats;

use std::fs;
use std::path::{Path, PathBuf};

pub use convert::{svg_to_pdf, svg_to_png};
pub use error::FigureError;
pub use weightzip_records::atlas::{AtlasBf16Row, AtlasQ4kRow, LayerPairRow};
pub use weightzip_records::jsonl::read_jsonl;
/// The result rows (the lab's own record types).
pub use weightzip_records::{BenchRecord, MethodRecord};

/// Device pixels per SVG pixel in the PNGs.
pub const PNG_SCALE: f32 = 2.0;

/// Everything the figures read.
#[derive(Debug, Clone, Default)]
pub struct FigureInputs {
    /// Lines of `results.jsonl.zst` (with its journal, if a run was cut).
    pub results: Vec<BenchRecord>,
    /// `atlas/bf16.jsonl`.
    pub atlas_bf16: Vec<AtlasBf16Row>,
    /// `atlas/q4k.jsonl`.
    pub atlas_q4k: Vec<AtlasQ4kRow>,
    /// `atlas/layer_pairs.jsonl`.
    pub layer_pairs: Vec<LayerPairRow>,
}

/// The five figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FigureId {
    /// Byte-marginal entropy per tensor.
    Fig1,
    /// Achieved ratio vs ceiling, bf16 and Q4_K.
    Fig2,
    /// Q4_K H(nibble) histogram.
    Fig3,
    /// Adjacent-layer correlation histogram.
    Fig4,
    /// Speed vs ratio, Pareto front.
    Fig5,
}

impl FigureId {
    /// All five, in order.
    pub const ALL: [FigureId; 5] = [Self::Fig1, Self::Fig2, Self::Fig3, Self::Fig4, Self::Fig5];

    /// File stem: `fig1` ... `fig5`.
    pub fn stem(self) -> &'static str {
        match self {
            Self::Fig1 => "fig1",
            Self::Fig2 => "fig2",
            Self::Fig3 => "fig3",
            Self::Fig4 => "fig4",
            Self::Fig5 => "fig5",
        }
    }
}

/// Reads the results file (plain or zstd JSON Lines) and the atlas directory
/// (`bf16.jsonl`, `q4k.jsonl`, `layer_pairs.jsonl`; each may also be
/// `.jsonl.zst`). Either may be `None`; a named file or directory that does
/// not exist is an error, an atlas file that is absent just leaves its rows
/// empty.
pub fn load_inputs(
    results: Option<&Path>,
    atlas_dir: Option<&Path>,
) -> Result<FigureInputs, FigureError> {
    let mut inputs = FigureInputs::default();
    if let Some(path) = results {
        if !path.is_file() && !weightzip_records::results_file::journal_path(path).is_file() {
            return Err(FigureError::NotFound(path.to_path_buf()));
        }
        inputs.results = weightzip_records::read_results(path)?.rows;
    }
    if let Some(dir) = atlas_dir {
        if !dir.is_dir() {
            return Err(FigureError::NotFound(dir.to_path_buf()));
        }
        inputs.atlas_bf16 = read_atlas(dir, "bf16")?;
        inputs.atlas_q4k = read_atlas(dir, "q4k")?;
        inputs.layer_pairs = read_atlas(dir, "layer_pairs")?;
    }
    Ok(inputs)
}

fn read_atlas<T: serde::de::DeserializeOwned>(
    dir: &Path,
    stem: &str,
) -> Result<Vec<T>, FigureError> {
    for name in [format!("{stem}.jsonl"), format!("{stem}.jsonl.zst")] {
        let path = dir.join(name);
        if path.is_file() {
            return Ok(read_jsonl(&path)?);
        }
    }
    Ok(Vec::new())
}

/// One figure as an SVG document.
pub fn render_svg(fig: FigureId, inputs: &FigureInputs) -> Result<String, FigureError> {
    match fig {
        FigureId::Fig1 => render::fig1::render(inputs),
        FigureId::Fig2 => render::fig2::render(inputs),
        FigureId::Fig3 => render::fig3::render(inputs),
        FigureId::Fig4 => render::fig4::render(inputs),
        FigureId::Fig5 => render::fig5::render(inputs),
    }
}

/// One line saying what went into the figures and what was left out.
pub fn summary(inputs: &FigureInputs) -> String {
    let speed = data::fig5_data(inputs);
    format!(
        "figures: {} result records, {} bf16 / {} Q4_K atlas rows, {} layer pairs; \
         skipped {} method entries with roundtrip_ok=false and {} (corpus, method) without decode speed",
        inputs.results.len(),
        inputs.atlas_bf16.len(),
        inputs.atlas_q4k.len(),
        inputs.layer_pairs.len(),
        speed.failed_entries,
        speed.without_speed,
    )
}

/// Renders fig1..fig5 into `out_dir` (created if needed) as `figN.pdf` and
/// `figN.png`, each written to a temporary name and renamed into place.
/// Prints [`summary`] to stderr. Returns the files written.
pub fn render_all(inputs: &FigureInputs, out_dir: &Path) -> Result<Vec<PathBuf>, FigureError> {
    fs::create_dir_all(out_dir).map_err(|source| FigureError::Io {
        path: out_dir.to_path_buf(),
        source,
    })?;
    eprintln!("{}", summary(inputs));
    let mut written = Vec::new();
    for fig in FigureId::ALL {
        let svg = render_svg(fig, inputs)?;
        let pdf = svg_to_pdf(&svg)?;
        written.push(write_atomic(
            &out_dir.join(format!("{}.pdf", fig.stem())),
            &pdf,
        )?);
        let png = svg_to_png(&svg, PNG_SCALE)?;
        written.push(write_atomic(
            &out_dir.join(format!("{}.png", fig.stem())),
            &png,
        )?);
    }
    Ok(written)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<PathBuf, FigureError> {
    let io = |source| FigureError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    fs::write(&tmp, bytes).map_err(io)?;
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io(e)
    })?;
    Ok(path.to_path_buf())
}
