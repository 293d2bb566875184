//! Figure 4: histogram of adjacent-layer Pearson r, with the model-level
//! bootstrap CI of the median shaded.

use plotters::prelude::*;

use super::*;
use crate::data::fig4_data;
use crate::{stats, FigureError, FigureInputs};

const FIG: &str = "fig4";
/// Figure size in SVG px.
pub(crate) const SIZE: (u32, u32) = (820, 500);

pub(crate) fn render(inputs: &FigureInputs) -> Result<String, FigureError> {
    let data = fig4_data(inputs, stats::Bootstrap::default().resamples);
    svg(SIZE, FIG, |root| draw(root, &data))
}

/// Decimals that show a value of span `span` to about 1/1000 of it.
fn decimals(span: f64) -> usize {
    if span > 0.0 {
        ((-(span / 200.0).log10()).ceil().max(1.0) as usize).min(6)
    } else {
        4
    }
}

fn draw(root: &Area, data: &crate::data::CorrelationData) -> Result<(), FigureError> {
    let (w, h) = (SIZE.0 as i32, SIZE.1 as i32);
    let title = format!(
        "Adjacent same-role layers: Pearson r (n = {} pair{}, {} model{})",
        data.values.len(),
        if data.values.len() == 1 { "" } else { "s" },
        data.models,
        if data.models == 1 { "" } else { "s" }
    );
    let mut y = draw_title(root, &title, w, FIG)?;
    let range = bins(&data.values, 0.002);
    let span_guess = range.as_ref().map_or(0.01, |(lo, hi, _)| hi - lo);
    let d = decimals(span_guess);

    let mut legend = vec![LegendItem::new(
        Swatch::Patch(P_BLUE, 0.85),
        "layer pairs per bin",
    )];
    if let Some((a, b)) = data.ci {
        legend.push(LegendItem::new(
            Swatch::Patch(P_SKY, 0.35),
            format!(
                "95 % CI of the median, model-level bootstrap: [{}, {}]",
                fmt_signed(a, d),
                fmt_signed(b, d)
            ),
        ));
    }
    if let Some(m) = data.median {
        legend.push(LegendItem::new(
            Swatch::Line {
                color: P_VERMILLION,
                width: 2,
                dash: Some(DASH),
            },
            format!("median r = {}", fmt_signed(m, d)),
        ));
    }
    legend.push(LegendItem::new(
        Swatch::Line {
            color: INK,
            width: 1,
            dash: None,
        },
        "r = 0",
    ));
    y += draw_legend(root, (20, y), w - 40, &legend, LABEL_PX, FIG)? + 2;

    let Some((lo, hi, counts)) = range else {
        return no_data(
            root,
            (64, y + 6, w - 28, h - 46),
            "no data: the atlas has no layer pairs with corr_pearson",
            FIG,
        );
    };
    let (ci_lo, ci_hi) = data.ci.unwrap_or((0.0, 0.0));
    let (x_lo, x_hi) = stats::fit_range(
        lo.min(0.0).min(ci_lo),
        hi.max(0.0).max(ci_hi),
        0.06,
        0.06,
        0.002,
    );
    let span = x_hi - x_lo;
    let fmt = |v: &f64| fmt_tick(*v, span);
    let area = root
        .clone()
        .shrink((0, y), (w as u32, (h - y).max(1) as u32));
    let axes = HistAxes {
        x_desc: "Pearson r between layer K and layer K+1 (same role)",
        y_desc: "layer pairs",
        x_fmt: &fmt,
    };
    let max = counts.iter().copied().max().unwrap_or(0);
    let mut chart = histogram_chart(&area, x_lo..x_hi, max, &axes, FIG)?;
    if let Some((a, b)) = data.ci {
        let (_, ys) = chart.plotting_area().get_pixel_range();
        let (pa, _) = chart.backend_coord(&(a, 0.0));
        let (mut pb, _) = chart.backend_coord(&(b, 0.0));
        pb = pb.max(pa + 2);
        root.draw(&Rectangle::new(
            [(pa, ys.start), (pb, ys.end - 1)],
            P_SKY.mix(0.35).filled(),
        ))
        .fig(FIG)?;
    }
    histogram_bars(&mut chart, (lo, hi), &counts, P_BLUE, FIG)?;
    vline(root, &chart, 0.0, None, INK.stroke_width(1), FIG)?;
    if let Some(m) = data.median {
        vline(
            root,
            &chart,
            m,
            Some(DASH),
            P_VERMILLION.stroke_width(2),
            FIG,
        )?;
    }
    Ok(())
}
