//! Figure 2: per-tensor achieved ratio against the tensor's marginal ceiling,
//! bf16 (`bf16_split`) on top and Q4_K (`qb_k4`) below, with y = x.

use std::collections::BTreeMap;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::*;
use crate::data::{fig2_bf16, fig2_q4k, RatioPanel};
use crate::{stats, FigureError, FigureInputs};

const FIG: &str = "fig2";
/// Figure size in SVG px.
pub(crate) const SIZE: (u32, u32) = (820, 900);
const MARKERS: [Marker; 6] = [
    Marker::Circle,
    Marker::Square,
    Marker::TriangleUp,
    Marker::Diamond,
    Marker::TriangleDown,
    Marker::Star,
];

struct PanelText {
    title: String,
    x_desc: &'static str,
    y_desc: &'static str,
    empty: &'static str,
}

pub(crate) fn render(inputs: &FigureInputs) -> Result<String, FigureError> {
    let top = fig2_bf16(inputs);
    let bottom = fig2_q4k(inputs);
    svg(SIZE, FIG, |root| {
        let (w, h) = (SIZE.0 as i32, SIZE.1 as i32);
        let y = draw_title(
            root,
            "Achieved ratio vs the tensor's marginal ceiling",
            w,
            FIG,
        )?;
        let mid = y + (h - y) / 2;
        draw_panel(
            root,
            (0, y, w, mid - 14),
            &top,
            &PanelText {
                title: format!(
                    "bf16: bf16_split vs byte-marginal ceiling (n = {})",
                    top.points.len()
                ),
                x_desc: "R_marginal = 16 / (H_byte0 + H_byte1)",
                y_desc: "bf16_split achieved ratio",
                empty: "no data: no bf16_split ratios with a known R_marginal",
            },
        )?;
        draw_panel(
            root,
            (0, mid, w, h),
            &bottom,
            &PanelText {
                title: format!(
                    "Q4_K: qb_k4 vs nibble-stream ceiling (n = {})",
                    bottom.points.len()
                ),
                x_desc: "nibble-stream marginal ceiling 8 / H_byte",
                y_desc: "qb_k4 achieved ratio",
                empty: "no data: no qb_k4 ratios with a known nibble ceiling",
            },
        )
    })
}

/// The shared x/y range: all points, unless a few small tensors (norm
/// weights, biases) sit far from the bulk of the bytes; then the range covers
/// the byte-weighted 0.5–99.5 % of the values and the rest are drawn on the
/// edge. Returns `(lo, hi, points outside)`.
fn axis_range(panel: &RatioPanel) -> Option<(f64, f64, usize)> {
    let pairs: Vec<(f64, f64)> = panel
        .points
        .iter()
        .flat_map(|p| [(p.ceiling, p.bytes), (p.achieved, p.bytes)])
        .collect();
    let (min, max) = stats::min_max(pairs.iter().map(|(v, _)| *v))?;
    let core_lo = stats::weighted_percentile(&pairs, 0.5)?;
    let core_hi = stats::weighted_percentile(&pairs, 99.5)?;
    let core = core_hi - core_lo;
    let (lo, hi) = if core > 0.0 && max - min > 2.5 * core {
        (core_lo - 0.15 * core, core_hi + 0.15 * core)
    } else {
        (min, max)
    };
    let (lo, hi) = stats::fit_range(lo, hi, 0.08, 0.08, 0.004);
    let inside = |v: f64| (lo..=hi).contains(&v);
    let outside = panel
        .points
        .iter()
        .filter(|p| !(inside(p.ceiling) && inside(p.achieved)))
        .count();
    Some((lo, hi, outside))
}

fn draw_panel(
    root: &Area,
    (x0, y0, x1, y1): (i32, i32, i32, i32),
    panel: &RatioPanel,
    t: &PanelText,
) -> Result<(), FigureError> {
    let mut y = y0 + 6;
    text(
        root,
        &t.title,
        ((x0 + x1) / 2, y),
        font_at(PANEL_TITLE_PX, &INK, HPos::Center, VPos::Top),
        FIG,
    )?;
    y += (PANEL_TITLE_PX * 1.45) as i32;
    let range = axis_range(panel);
    let achieved: Vec<f64> = panel.points.iter().map(|p| p.achieved).collect();
    let ceilings: Vec<f64> = panel.points.iter().map(|p| p.ceiling).collect();
    let mut notes = Vec::new();
    if let (Some(a), Some(c)) = (stats::median(&achieved), stats::median(&ceilings)) {
        notes.push(format!("median achieved {a:.4}, median ceiling {c:.4}"));
    }
    if panel.missing_ceiling > 0 {
        notes.push(format!(
            "{} without a ceiling left out",
            panel.missing_ceiling
        ));
    }
    if let Some((_, _, outside @ 1..)) = range {
        notes.push(format!(
            "{outside} tensor{} beyond the axes drawn hollow on the edge",
            if outside == 1 { "" } else { "s" }
        ));
    }
    if !notes.is_empty() {
        text(
            root,
            &notes.join("; "),
            ((x0 + x1) / 2, y),
            font_at(SMALL_PX, &GREY, HPos::Center, VPos::Top),
            FIG,
        )?;
        y += (SMALL_PX * 1.5) as i32;
    }

    let (y_area, x_area, right) = (78u32, 46u32, 24i32);
    let Some((lo, hi, _)) = range else {
        return no_data(
            root,
            (x0 + y_area as i32, y + 8, x1 - right, y1 - x_area as i32),
            t.empty,
            FIG,
        );
    };

    let mut corpora: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &panel.points {
        *corpora.entry(p.corpus.as_str()).or_default() += 1;
    }
    let style_of: BTreeMap<&str, (Marker, RGBColor)> = corpora
        .keys()
        .enumerate()
        .map(|(i, c)| (*c, (MARKERS[i % MARKERS.len()], SERIES[i % SERIES.len()])))
        .collect();
    let mut legend: Vec<LegendItem> = corpora
        .iter()
        .map(|(c, n)| {
            let (m, col) = style_of[c];
            LegendItem::new(Swatch::Marker(m, col), format!("{c} (n = {n})"))
        })
        .collect();
    legend.push(LegendItem::new(
        Swatch::Line {
            color: GREY,
            width: 1,
            dash: Some(DASH),
        },
        "y = x (achieved = ceiling)",
    ));
    y += draw_legend(
        root,
        (x0 + 20, y),
        x1 - x0 - 40,
        &legend,
        LABEL_PX - 1.0,
        FIG,
    )?;

    let span = hi - lo;
    let area = root
        .clone()
        .shrink((x0, y), ((x1 - x0) as u32, (y1 - y).max(1) as u32));
    let mut chart = ChartBuilder::on(&area)
        .margin_right(right as u32)
        .margin_top(4)
        .margin_bottom(4)
        .x_label_area_size(x_area)
        .y_label_area_size(y_area)
        .build_cartesian_2d(lo..hi, lo..hi)
        .fig(FIG)?;
    let (bold, light, axis) = mesh_style();
    let fmt = |v: &f64| fmt_tick(*v, span);
    chart
        .configure_mesh()
        .x_labels(8)
        .y_labels(6)
        .x_label_formatter(&fmt)
        .y_label_formatter(&fmt)
        .x_desc(t.x_desc)
        .y_desc(t.y_desc)
        .label_style(font(TICK_PX))
        .axis_desc_style(font(LABEL_PX))
        .bold_line_style(bold)
        .light_line_style(light)
        .axis_style(axis)
        .draw()
        .fig(FIG)?;
    let a = chart.backend_coord(&(lo, lo));
    let b = chart.backend_coord(&(hi, hi));
    dashed(root, a, b, DASH, GREY.stroke_width(1), FIG)?;
    // The biggest corpus first, so that small ones stay visible on top.
    let mut order: Vec<(&str, usize)> = corpora.iter().map(|(c, n)| (*c, *n)).collect();
    order.sort_by_key(|c| std::cmp::Reverse(c.1));
    for (corpus, _) in order {
        let (m, c) = style_of[corpus];
        for p in panel.points.iter().filter(|p| p.corpus == corpus) {
            let (x, y) = (p.ceiling.clamp(lo, hi), p.achieved.clamp(lo, hi));
            let hollow = x != p.ceiling || y != p.achieved;
            let at = chart.backend_coord(&(x, y));
            m.draw(root, at, 3.2, c, if hollow { 0.0 } else { 0.55 }, FIG)?;
        }
    }
    Ok(())
}
