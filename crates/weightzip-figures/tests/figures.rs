//! Every figure renders from the committed sample records, as PNG and PDF,
//! and from nothing at all; bad input fails with a useful error.
//!
//! Set `WEIGHTZIP_FIGURES_KEEP=/some/dir` to keep the rendered files.

use std::path::{Path, PathBuf};

use resvg::tiny_skia::Pixmap;
use weightzip_figures::{
    data, load_inputs, render_all, render_svg, svg_to_pdf, svg_to_png, FigureError, FigureId,
    FigureInputs, PNG_SCALE,
};

fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn sample() -> FigureInputs {
    let dir = sample_dir();
    load_inputs(
        Some(&dir.join("results.jsonl.zst")),
        Some(&dir.join("atlas")),
    )
    .unwrap()
}

/// (width, height) from the root `<svg ...>` element.
fn svg_size(svg: &str) -> (u32, u32) {
    let head = &svg[svg.find("<svg").unwrap()..];
    let head = &head[..head.find('>').unwrap()];
    let attr = |name: &str| -> u32 {
        let at = head.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
        head[at..].split('"').next().unwrap().parse().unwrap()
    };
    (attr("width"), attr("height"))
}

fn check_png(png: &[u8], svg: &str) {
    let pixmap = Pixmap::decode_png(png).unwrap();
    let (w, h) = svg_size(svg);
    assert_eq!(
        (pixmap.width(), pixmap.height()),
        ((w as f32 * PNG_SCALE) as u32, (h as f32 * PNG_SCALE) as u32)
    );
    let total = pixmap.pixels().len();
    let inked = pixmap
        .pixels()
        .iter()
        .filter(|p| p.red() < 235 || p.green() < 235 || p.blue() < 235)
        .count();
    assert!(
        inked * 100 > total,
        "only {inked} of {total} pixels are not white"
    );
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

fn check_pdf(pdf: &[u8]) {
    assert!(pdf.starts_with(b"%PDF-"));
    let pages = count(pdf, b"/Type /Page") - count(pdf, b"/Type /Pages");
    assert_eq!(pages, 1, "expected exactly one page");
    assert!(count(pdf, b"/FontFile2") >= 1, "no embedded TrueType font");
    assert!(count(pdf, b"/FontDescriptor") >= 1);
}

/// Records written by `weightzip-lab train/atlas/bench` over `examples/corpus.toml`
/// (the real demo corpus), committed in `tests/demo/`.
#[test]
fn every_figure_renders_from_the_demo_corpus_records() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/demo");
    let inputs = load_inputs(
        Some(&dir.join("results.jsonl.zst")),
        Some(&dir.join("atlas")),
    )
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("figures");
    render_all(&inputs, &out).unwrap();
    for fig in FigureId::ALL {
        let svg = render_svg(fig, &inputs).unwrap();
        assert!(
            !svg.contains("no data"),
            "{} has an empty panel",
            fig.stem()
        );
        check_png(
            &std::fs::read(out.join(format!("{}.png", fig.stem()))).unwrap(),
            &svg,
        );
        check_pdf(&std::fs::read(out.join(format!("{}.pdf", fig.stem()))).unwrap());
    }
}

#[test]
fn every_figure_renders_from_the_sample_records() {
    let inputs = sample();
    let keep = std::env::var_os("WEIGHTZIP_FIGURES_KEEP").map(PathBuf::from);
    let tmp = tempfile::tempdir().unwrap();
    let out = keep.unwrap_or_else(|| tmp.path().join("figures"));
    let written = render_all(&inputs, &out).unwrap();
    assert_eq!(written.len(), 10);
    for fig in FigureId::ALL {
        let svg = render_svg(fig, &inputs).unwrap();
        assert!(
            !svg.contains("no data"),
            "{} has an empty panel",
            fig.stem()
        );
        let png = std::fs::read(out.join(format!("{}.png", fig.stem()))).unwrap();
        check_png(&png, &svg);
        let pdf = std::fs::read(out.join(format!("{}.pdf", fig.stem()))).unwrap();
        check_pdf(&pdf);
    }
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn empty_inputs_render_no_data_panels() {
    let inputs = FigureInputs::default();
    let keep = std::env::var_os("WEIGHTZIP_FIGURES_KEEP").map(PathBuf::from);
    for fig in FigureId::ALL {
        let svg = render_svg(fig, &inputs).unwrap();
        assert!(
            svg.contains("no data"),
            "{} should say 'no data'",
            fig.stem()
        );
        check_pdf(&svg_to_pdf(&svg).unwrap());
        let png = svg_to_png(&svg, 1.0).unwrap();
        if let Some(dir) = &keep {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(dir.join(format!("{}-empty.png", fig.stem())), &png).unwrap();
        }
        let pixmap = Pixmap::decode_png(&png).unwrap();
        assert_eq!((pixmap.width(), pixmap.height()), svg_size(&svg));
    }
}

#[test]
fn sample_records_feed_every_panel() {
    let inputs = sample();
    // bf16_split rows: R_marginal in the records, or joined from the atlas (bench_7B).
    let bf16 = data::fig2_bf16(&inputs);
    let with_split = inputs
        .results
        .iter()
        .filter(|r| r.methods.contains_key("bf16_split"))
        .count();
    assert_eq!(bf16.points.len(), with_split);
    assert_eq!(bf16.missing_ceiling, 0);
    assert!(bf16.points.iter().any(|p| p.corpus == "bench_7B"));
    // qb_k4 rows: half carry nibble_ceiling, half are joined (8 / H_byte).
    let q4k = data::fig2_q4k(&inputs);
    assert!(!q4k.points.is_empty());
    assert_eq!(q4k.missing_ceiling, 0);
    let speed = data::fig5_data(&inputs);
    assert_eq!(speed.failed_entries, 1);
    assert!(speed.corpora.iter().all(|c| !c.front.is_empty()));
    let corr = data::fig4_data(&inputs, 200);
    let (lo, hi) = corr.ci.unwrap();
    let m = corr.median.unwrap();
    assert!(lo <= m && m <= hi);
    let svg = render_svg(FigureId::Fig2, &inputs).unwrap();
    assert!(svg.contains(&format!("(n = {})", bf16.points.len())));
}

#[test]
fn plain_jsonl_and_missing_atlas_files_are_fine() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results.jsonl");
    std::fs::write(
        &results,
        "{\"_kind\":\"bench_bf16_perfile\",\"input_bytes\":100,\"methods\":{\"x\":{\"ratio\":1.5,\"decompress_MBps\":10}}}\n\n",
    )
    .unwrap();
    let atlas = tmp.path().join("atlas");
    std::fs::create_dir(&atlas).unwrap();
    let inputs = load_inputs(Some(&results), Some(&atlas)).unwrap();
    assert_eq!(inputs.results.len(), 1);
    assert!(inputs.atlas_bf16.is_empty());
    let speed = data::fig5_data(&inputs);
    assert_eq!(speed.corpora[0].points.len(), 1);
    assert!((speed.corpora[0].points[0].ratio - 1.5).abs() < 1e-9);

    let missing = load_inputs(Some(&tmp.path().join("nope.jsonl")), None);
    assert!(matches!(missing, Err(FigureError::NotFound(_))));
}

#[test]
fn a_malformed_line_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let atlas = tmp.path().join("atlas");
    std::fs::create_dir(&atlas).unwrap();
    let path = atlas.join("layer_pairs.jsonl");
    std::fs::write(
        &path,
        "{\"model\":\"a\",\"K\":0,\"corr_pearson\":0.001}\n{\"model\":\"a\",\"K\":1,\"corr_pearson\":0.002}\n{\"model\":\"a\",\"K\":2,\"corr_pearson\":\n",
    )
    .unwrap();
    let err = load_inputs(None, Some(&atlas)).unwrap_err();
    assert!(
        matches!(
            err,
            FigureError::Results(weightzip_records::RecordError::Record { line: 3, .. })
        ),
        "{err}"
    );
    let msg = err.to_string();
    assert!(msg.contains("layer_pairs.jsonl:3:"), "{msg}");
}

#[test]
fn sparse_and_degenerate_inputs_still_render() {
    use weightzip_figures::{AtlasBf16Row, AtlasQ4kRow, BenchRecord, LayerPairRow, MethodRecord};
    let method = |ratio: f64, mbps: Option<f64>, ok: bool| MethodRecord {
        class: "general-purpose".into(),
        ratio: Some(ratio),
        decompress_mbps: mbps,
        roundtrip_ok: ok,
        ..Default::default()
    };
    let mut only = BenchRecord {
        kind: "odd_corpus".into(),
        input_bytes: 1000,
        r_marginal: Some(1.5),
        ..Default::default()
    };
    only.methods
        .insert("bf16_split".into(), method(1.49, Some(0.3), true));
    only.methods
        .insert("no_speed".into(), method(1.2, None, true));
    only.methods
        .insert("broken".into(), method(9.0, Some(5.0), false));
    let inputs = FigureInputs {
        results: vec![only],
        atlas_bf16: vec![AtlasBf16Row {
            h_byte0: Some(7.97),
            h_byte1: Some(2.7),
            ..Default::default()
        }],
        atlas_q4k: vec![
            AtlasQ4kRow {
                h_nibble: Some(3.86),
                ..Default::default()
            };
            3
        ],
        layer_pairs: vec![LayerPairRow {
            corr_pearson: Some(0.001),
            ..Default::default()
        }],
    };
    let speed = data::fig5_data(&inputs);
    assert_eq!(speed.failed_entries, 1);
    assert_eq!(speed.without_speed, 1);
    let keep = std::env::var_os("WEIGHTZIP_FIGURES_KEEP").map(PathBuf::from);
    for fig in FigureId::ALL {
        let svg = render_svg(fig, &inputs).unwrap();
        let png = svg_to_png(&svg, 1.0).unwrap();
        assert!(Pixmap::decode_png(&png).is_ok(), "{}", fig.stem());
        if let Some(dir) = &keep {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(dir.join(format!("{}-sparse.png", fig.stem())), &png).unwrap();
        }
    }
    // fig2's Q4_K panel has nothing: it says so, the bf16 panel does not.
    let svg = render_svg(FigureId::Fig2, &inputs).unwrap();
    assert_eq!(svg.matches("no data").count(), 1);
}
