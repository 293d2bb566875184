//! Figure 3: histogram of per-tensor H(nibble) over the Q4_K corpus.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::*;
use crate::data::fig3_values;
use crate::font::text_width;
use crate::{stats, FigureError, FigureInputs};

const FIG: &str = "fig3";
/// Figure size in SVG px.
pub(crate) const SIZE: (u32, u32) = (820, 500);
/// The uniform ceiling of a 4-bit symbol.
const CEILING: f64 = 4.0;

pub(crate) fn render(inputs: &FigureInputs) -> Result<String, FigureError> {
    let values = fig3_values(inputs);
    svg(SIZE, FIG, |root| draw(root, &values))
}

fn draw(root: &Area, values: &[f64]) -> Result<(), FigureError> {
    let (w, h) = (SIZE.0 as i32, SIZE.1 as i32);
    let title = format!(
        "Q4_K: per-tensor nibble entropy H(nibble) (n = {} tensor{})",
        values.len(),
        if values.len() == 1 { "" } else { "s" }
    );
    let mut y = draw_title(root, &title, w, FIG)?;
    let median = stats::median(values);
    let mut legend = vec![
        LegendItem::new(Swatch::Patch(P_BLUE, 0.85), "tensors per bin"),
        LegendItem::new(
            Swatch::Line {
                color: INK,
                width: 1,
                dash: Some(DASH),
            },
            "uniform ceiling: 4.0 bits",
        ),
    ];
    if let Some(m) = median {
        legend.push(LegendItem::new(
            Swatch::Line {
                color: P_VERMILLION,
                width: 2,
                dash: Some(DOT),
            },
            format!("median: {m:.3} bits"),
        ));
    }
    y += draw_legend(root, (20, y), w - 40, &legend, LABEL_PX, FIG)? + 2;

    let Some((lo, hi, counts)) = bins(values, 0.01) else {
        return no_data(
            root,
            (64, y + 6, w - 28, h - 46),
            "no data: the atlas has no Q4_K rows with H_nibble",
            FIG,
        );
    };
    let (x_lo, x_hi) = stats::fit_range(lo.min(CEILING), hi.max(CEILING), 0.06, 0.06, 0.02);
    let span = x_hi - x_lo;
    let fmt = |v: &f64| fmt_tick(*v, span);
    let area = root
        .clone()
        .shrink((0, y), (w as u32, (h - y).max(1) as u32));
    let axes = HistAxes {
        x_desc: "H(nibble), bits per 4-bit quant",
        y_desc: "tensors",
        x_fmt: &fmt,
    };
    let max = counts.iter().copied().max().unwrap_or(0);
    let mut chart = histogram_chart(&area, x_lo..x_hi, max, &axes, FIG)?;
    histogram_bars(&mut chart, (lo, hi), &counts, P_BLUE, FIG)?;
    vline(root, &chart, CEILING, Some(DASH), INK.stroke_width(1), FIG)?;
    if let Some(m) = median {
        let (px, top, _) = vline(
            root,
            &chart,
            m,
            Some(DOT),
            P_VERMILLION.stroke_width(2),
            FIG,
        )?;
        // The value beside the line, on the side with room.
        let label = format!("median {m:.3}");
        let (xs, _) = chart.plotting_area().get_pixel_range();
        let (ceiling_px, _) = chart.backend_coord(&(CEILING, 0.0));
        let lw = text_width(&label, SMALL_PX) as i32 + 6;
        let right_ok = px + lw < xs.end && !(px < ceiling_px && px + lw > ceiling_px);
        let (x, anchor) = if right_ok {
            (px + 5, HPos::Left)
        } else {
            (px - 5, HPos::Right)
        };
        text(
            root,
            &label,
            (x, top + 6),
            font_at(SMALL_PX, &P_VERMILLION, anchor, VPos::Top),
            FIG,
        )?;
    }
    Ok(())
}
