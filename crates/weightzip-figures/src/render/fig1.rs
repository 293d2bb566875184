//! Figure 1: per-tensor bf16 byte-marginal entropy, stacked by byte, grouped
//! by tensor category.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::*;
use crate::data::{fig1_groups, EntropyGroup};
use crate::font::text_width;
use crate::{stats, FigureError, FigureInputs};

const FIG: &str = "fig1";
/// Figure size in SVG px.
pub(crate) const SIZE: (u32, u32) = (1000, 540);

const Y_AREA: u32 = 64;
const X_AREA: u32 = 50;
const RIGHT: u32 = 24;
const GAP_SLOTS: f64 = 1.6;
/// Bars no wider than this (px per slot), however few there are.
const MAX_SLOT_PX: f64 = 36.0;

/// Width in slots of every group, so that each group is at least as wide
/// as its label.
fn group_widths(groups: &[EntropyGroup], plot_px: f64) -> Vec<f64> {
    let need: Vec<f64> = groups
        .iter()
        .map(|g| text_width(g.category, LABEL_PX).max(text_width(&count_label(g), SMALL_PX)) + 14.0)
        .collect();
    let gaps = GAP_SLOTS * (groups.len() as f64 + 1.0);
    let mut widths: Vec<f64> = groups.iter().map(|g| g.bars.len() as f64).collect();
    for _ in 0..20 {
        let px_per_slot = (plot_px / (widths.iter().sum::<f64>() + gaps)).min(MAX_SLOT_PX);
        widths = groups
            .iter()
            .zip(&need)
            .map(|(g, n)| (g.bars.len() as f64).max(n / px_per_slot))
            .collect();
    }
    widths
}

fn count_label(g: &EntropyGroup) -> String {
    if g.bars.len() < g.total {
        format!("{} of {} shown", g.bars.len(), g.total)
    } else {
        format!("n = {}", g.total)
    }
}

pub(crate) fn render(inputs: &FigureInputs) -> Result<String, FigureError> {
    let groups = fig1_groups(inputs);
    svg(SIZE, FIG, |root| draw(root, &groups))
}

fn draw(root: &Area, groups: &[EntropyGroup]) -> Result<(), FigureError> {
    let (w, h) = (SIZE.0 as i32, SIZE.1 as i32);
    let mut y = draw_title(
        root,
        "bf16 byte-marginal entropy per tensor, by tensor category",
        w,
        FIG,
    )?;

    let all: Vec<&crate::data::EntropyBar> = groups.iter().flat_map(|g| &g.bars).collect();
    let med1 = stats::median(&all.iter().map(|b| b.h_byte1).collect::<Vec<_>>());
    let med0 = stats::median(&all.iter().map(|b| b.h_byte0).collect::<Vec<_>>());
    let with_median = |label: &str, m: Option<f64>| match m {
        Some(m) => format!("{label} (median {m:.2} bits)"),
        None => label.to_string(),
    };
    let legend = [
        LegendItem::new(
            Swatch::Patch(P_BLUE, 0.9),
            with_median("byte 1: sign + 7 high exponent bits", med1),
        ),
        LegendItem::new(
            Swatch::Patch(P_ORANGE, 0.9),
            with_median("byte 0: exponent LSB + 7 mantissa bits", med0),
        ),
        LegendItem::new(
            Swatch::Line {
                color: INK,
                width: 1,
                dash: Some(DASH),
            },
            "16 bits: raw bf16",
        ),
    ];
    y += draw_legend(root, (20, y), w - 40, &legend, LABEL_PX, FIG)? + 4;

    let plot_px = f64::from(w) - f64::from(Y_AREA + RIGHT);
    if groups.is_empty() {
        return no_data(
            root,
            (Y_AREA as i32, y + 6, w - RIGHT as i32, h - X_AREA as i32),
            "no data: the atlas has no BF16 rows with H_byte0 and H_byte1",
            FIG,
        );
    }
    let widths = group_widths(groups, plot_px);
    let content = widths.iter().sum::<f64>() + GAP_SLOTS * (groups.len() as f64 + 1.0);
    // With few bars, centre them rather than widen them.
    let pad = ((plot_px / MAX_SLOT_PX - content) / 2.0).max(0.0);
    let total = content + 2.0 * pad;
    let top = all
        .iter()
        .map(|b| b.h_byte0 + b.h_byte1)
        .fold(16.0f64, f64::max)
        .ceil()
        + 2.0;

    let area = root
        .clone()
        .shrink((0, y), (w as u32, (h - y).max(1) as u32));
    let mut chart = ChartBuilder::on(&area)
        .margin_right(RIGHT)
        .margin_top(6)
        .x_label_area_size(X_AREA)
        .y_label_area_size(Y_AREA)
        .build_cartesian_2d(0.0..total, 0.0..top)
        .fig(FIG)?;
    let (bold, light, axis) = mesh_style();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_labels(((top / 2.0) as usize) + 1)
        .y_label_formatter(&|v| format!("{v:.0}"))
        .y_desc("entropy (bits per weight)")
        .label_style(font(TICK_PX))
        .axis_desc_style(font(LABEL_PX))
        .bold_line_style(bold)
        .light_line_style(light)
        .axis_style(axis)
        .draw()
        .fig(FIG)?;

    let mut x = GAP_SLOTS + pad;
    for (g, gw) in groups.iter().zip(&widths) {
        let start = x + (gw - g.bars.len() as f64) / 2.0;
        chart
            .draw_series(g.bars.iter().enumerate().flat_map(|(i, b)| {
                let x0 = start + i as f64 + 0.12;
                let x1 = start + i as f64 + 0.88;
                [
                    Rectangle::new([(x0, 0.0), (x1, b.h_byte1)], P_BLUE.mix(0.9).filled()),
                    Rectangle::new(
                        [(x0, b.h_byte1), (x1, b.h_byte1 + b.h_byte0)],
                        P_ORANGE.mix(0.9).filled(),
                    ),
                ]
            }))
            .fig(FIG)?;
        let (cx, base) = chart.backend_coord(&(x + gw / 2.0, 0.0));
        text(
            root,
            g.category,
            (cx, base + 8),
            font_at(LABEL_PX, &INK, HPos::Center, VPos::Top),
            FIG,
        )?;
        text(
            root,
            &count_label(g),
            (cx, base + 8 + (LABEL_PX * 1.35) as i32),
            font_at(SMALL_PX, &GREY, HPos::Center, VPos::Top),
            FIG,
        )?;
        x += gw + GAP_SLOTS;
        if x < total - pad - GAP_SLOTS / 2.0 {
            let sep = x - GAP_SLOTS / 2.0;
            let a = chart.backend_coord(&(sep, 0.0));
            let b = chart.backend_coord(&(sep, top));
            root.draw(&PathElement::new(vec![a, b], LIGHT.stroke_width(1)))
                .fig(FIG)?;
        }
    }
    let a = chart.backend_coord(&(0.0, 16.0));
    let b = chart.backend_coord(&(total, 16.0));
    dashed(root, a, b, DASH, INK.stroke_width(1), FIG)
}
