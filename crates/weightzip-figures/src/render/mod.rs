//! Drawing: shared style (palette, text, markers, dashed lines, legends, "no
//! data" panels) and one module per figure. Everything draws with plotters
//! into an SVG string; `crate::convert` turns that into PDF and PNG.

pub(crate) mod fig1;
pub(crate) mod fig2;
pub(crate) mod fig3;
pub(crate) mod fig4;
pub(crate) mod fig5;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::font::text_width;
use crate::FigureError;

/// The drawing area every figure draws on: SVG, pixel coordinates.
pub(crate) type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// Maps plotters' errors into [`FigureError::Draw`] for one figure.
pub(crate) trait Drawn<T> {
    fn fig(self, figure: &'static str) -> Result<T, FigureError>;
}

impl<T, E: std::fmt::Display> Drawn<T> for Result<T, E> {
    fn fig(self, figure: &'static str) -> Result<T, FigureError> {
        self.map_err(|e| FigureError::Draw {
            figure,
            message: e.to_string(),
        })
    }
}

// Okabe–Ito, safe for the common colour-vision deficiencies.
pub(crate) const P_BLUE: RGBColor = RGBColor(0, 114, 178);
pub(crate) const P_ORANGE: RGBColor = RGBColor(230, 159, 0);
pub(crate) const P_SKY: RGBColor = RGBColor(86, 180, 233);
pub(crate) const P_GREEN: RGBColor = RGBColor(0, 158, 115);
pub(crate) const P_VERMILLION: RGBColor = RGBColor(213, 94, 0);
pub(crate) const P_PURPLE: RGBColor = RGBColor(204, 121, 167);
pub(crate) const INK: RGBColor = RGBColor(30, 30, 30);
pub(crate) const GREY: RGBColor = RGBColor(110, 110, 110);
pub(crate) const LIGHT: RGBColor = RGBColor(228, 228, 228);
/// Colours for series that are not classes (e.g. corpora in fig2), in order.
pub(crate) const SERIES: [RGBColor; 6] = [P_BLUE, P_ORANGE, P_GREEN, P_PURPLE, P_SKY, P_VERMILLION];

/// Font sizes in SVG pixels.
pub(crate) const TITLE_PX: f64 = 17.0;
pub(crate) const PANEL_TITLE_PX: f64 = 14.5;
pub(crate) const LABEL_PX: f64 = 13.0;
pub(crate) const TICK_PX: f64 = 12.0;
pub(crate) const SMALL_PX: f64 = 11.0;

/// A text style whose SVG font-size is `px` (plotters divides by 1.24).
pub(crate) fn font(px: f64) -> TextStyle<'static> {
    TextStyle::from(("sans-serif", px * 1.24).into_font()).color(&INK)
}

/// [`font`] in a colour with an anchor.
pub(crate) fn font_at(px: f64, color: &'static RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    font(px).color(color).pos(Pos::new(h, v))
}

/// Draws `text` at a pixel position.
pub(crate) fn text(
    area: &Area,
    s: &str,
    at: (i32, i32),
    style: TextStyle<'static>,
    figure: &'static str,
) -> Result<(), FigureError> {
    area.draw(&Text::new(s.to_string(), at, style)).fig(figure)
}

/// A dashed straight line in pixel space: `on` px drawn, `off` px skipped.
pub(crate) fn dashed(
    area: &Area,
    from: (i32, i32),
    to: (i32, i32),
    (on, off): (f64, f64),
    style: ShapeStyle,
    figure: &'static str,
) -> Result<(), FigureError> {
    let (dx, dy) = (f64::from(to.0 - from.0), f64::from(to.1 - from.1));
    let len = dx.hypot(dy);
    if len < 1.0 {
        return Ok(());
    }
    let point = |t: f64| {
        let t = t.min(len) / len;
        (
            (f64::from(from.0) + dx * t).round() as i32,
            (f64::from(from.1) + dy * t).round() as i32,
        )
    };
    let mut t = 0.0;
    while t < len {
        area.draw(&PathElement::new(vec![point(t), point(t + on)], style))
            .fig(figure)?;
        t += on + off;
    }
    Ok(())
}

/// Dash patterns.
pub(crate) const DASH: (f64, f64) = (7.0, 4.0);
pub(crate) const DOT: (f64, f64) = (2.0, 3.0);

/// Marker shapes for fig5's classes (and fig2's corpora).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Marker {
    Circle,
    Square,
    TriangleUp,
    Diamond,
    Star,
    TriangleDown,
}

impl Marker {
    fn polygon(self, r: f64) -> Vec<(i32, i32)> {
        let pts: Vec<(f64, f64)> = match self {
            Marker::Circle => Vec::new(),
            Marker::Square => {
                let s = r * 0.85;
                vec![(-s, -s), (s, -s), (s, s), (-s, s)]
            }
            Marker::TriangleUp => vec![
                (0.0, -r * 1.15),
                (r * 1.05, r * 0.75),
                (-r * 1.05, r * 0.75),
            ],
            Marker::TriangleDown => vec![
                (0.0, r * 1.15),
                (r * 1.05, -r * 0.75),
                (-r * 1.05, -r * 0.75),
            ],
            Marker::Diamond => vec![
                (0.0, -r * 1.2),
                (r * 1.0, 0.0),
                (0.0, r * 1.2),
                (-r * 1.0, 0.0),
            ],
            Marker::Star => (0..10)
                .map(|i| {
                    let a = std::f64::consts::PI * (f64::from(i) / 5.0 - 0.5);
                    let rr = if i % 2 == 0 { r * 1.35 } else { r * 0.6 };
                    (rr * a.cos(), rr * a.sin())
                })
                .collect(),
        };
        pts.into_iter()
            .map(|(x, y)| (x.round() as i32, y.round() as i32))
            .collect()
    }

    /// Draws the marker filled in `color` with a thin dark edge, centred at
    /// a pixel position.
    pub(crate) fn draw(
        self,
        area: &Area,
        at: (i32, i32),
        r: f64,
        color: RGBColor,
        opacity: f64,
        figure: &'static str,
    ) -> Result<(), FigureError> {
        let fill = color.mix(opacity).filled();
        let edge = ShapeStyle {
            color: INK.mix(0.8),
            filled: false,
            stroke_width: 1,
        };
        if self == Marker::Circle {
            let rr = r.round() as i32;
            area.draw(&Circle::new(at, rr, fill)).fig(figure)?;
            return area.draw(&Circle::new(at, rr, edge)).fig(figure);
        }
        let pts: Vec<(i32, i32)> = self
            .polygon(r)
            .into_iter()
            .map(|(x, y)| (at.0 + x, at.1 + y))
            .collect();
        area.draw(&Polygon::new(pts.clone(), fill)).fig(figure)?;
        let mut closed = pts.clone();
        closed.extend(pts.first().copied());
        area.draw(&PathElement::new(closed, edge)).fig(figure)
    }
}

/// What a legend entry shows left of its label.
#[derive(Debug, Clone)]
pub(crate) enum Swatch {
    Marker(Marker, RGBColor),
    Line {
        color: RGBColor,
        width: u32,
        dash: Option<(f64, f64)>,
    },
    Patch(RGBColor, f64),
    Ring,
}

/// One legend entry.
#[derive(Debug, Clone)]
pub(crate) struct LegendItem {
    pub swatches: Vec<Swatch>,
    pub label: String,
}

impl LegendItem {
    pub(crate) fn new(swatch: Swatch, label: impl Into<String>) -> Self {
        Self {
            swatches: vec![swatch],
            label: label.into(),
        }
    }
}

const SWATCH_W: i32 = 26;
const SWATCH_GAP: i32 = 6;
const ITEM_GAP: i32 = 20;

fn item_width(item: &LegendItem, px: f64) -> i32 {
    SWATCH_W + SWATCH_GAP + text_width(&item.label, px).ceil() as i32
}

/// Rows of item indices that fit in `width` pixels.
fn legend_rows(items: &[LegendItem], width: i32, px: f64) -> Vec<Vec<usize>> {
    let mut rows: Vec<Vec<usize>> = Vec::new();
    let mut used = 0;
    for (i, item) in items.iter().enumerate() {
        let w = item_width(item, px);
        match rows.last_mut() {
            Some(row) if used + ITEM_GAP + w <= width => {
                row.push(i);
                used += ITEM_GAP + w;
            }
            _ => {
                rows.push(vec![i]);
                used = w;
            }
        }
    }
    rows
}

fn row_height(px: f64) -> i32 {
    (px * 1.6).ceil() as i32
}

/// Draws a legend as centred rows in the band `x0..x0 + width` starting at
/// `y0`; returns the height used.
pub(crate) fn draw_legend(
    area: &Area,
    (x0, y0): (i32, i32),
    width: i32,
    items: &[LegendItem],
    px: f64,
    figure: &'static str,
) -> Result<i32, FigureError> {
    let rows = legend_rows(items, width, px);
    let rh = row_height(px);
    for (r, row) in rows.iter().enumerate() {
        let total: i32 = row.iter().map(|&i| item_width(&items[i], px)).sum::<i32>()
            + ITEM_GAP * (row.len() as i32 - 1);
        let mut x = x0 + (width - total).max(0) / 2;
        let cy = y0 + r as i32 * rh + rh / 2;
        for &i in row {
            let item = &items[i];
            for s in &item.swatches {
                draw_swatch(area, s, (x, cy), figure)?;
            }
            text(
                area,
                &item.label,
                (x + SWATCH_W + SWATCH_GAP, cy),
                font_at(px, &INK, HPos::Left, VPos::Center),
                figure,
            )?;
            x += item_width(item, px) + ITEM_GAP;
        }
    }
    Ok(rows.len() as i32 * rh)
}

fn draw_swatch(
    area: &Area,
    s: &Swatch,
    (x, cy): (i32, i32),
    figure: &'static str,
) -> Result<(), FigureError> {
    let mid = (x + SWATCH_W / 2, cy);
    match s {
        Swatch::Marker(m, c) => m.draw(area, mid, 4.5, *c, 0.9, figure),
        Swatch::Line { color, width, dash } => {
            let style = color.stroke_width(*width);
            let (a, b) = ((x, cy), (x + SWATCH_W, cy));
            match dash {
                Some(d) => dashed(area, a, b, *d, style, figure),
                None => area.draw(&PathElement::new(vec![a, b], style)).fig(figure),
            }
        }
        Swatch::Patch(c, opacity) => {
            let r = Rectangle::new(
                [(x + 2, cy - 6), (x + SWATCH_W - 2, cy + 6)],
                c.mix(*opacity).filled(),
            );
            area.draw(&r).fig(figure)?;
            let e = Rectangle::new(
                [(x + 2, cy - 6), (x + SWATCH_W - 2, cy + 6)],
                c.stroke_width(1),
            );
            area.draw(&e).fig(figure)
        }
        Swatch::Ring => area
            .draw(&Circle::new(mid, 8, INK.stroke_width(2)))
            .fig(figure),
    }
}

/// Draws the figure title centred in the top band; returns the y below it.
pub(crate) fn draw_title(
    area: &Area,
    title: &str,
    width: i32,
    figure: &'static str,
) -> Result<i32, FigureError> {
    text(
        area,
        title,
        (width / 2, 10),
        font_at(TITLE_PX, &INK, HPos::Center, VPos::Top),
        figure,
    )?;
    Ok(10 + (TITLE_PX * 1.5) as i32)
}

/// A panel with nothing to plot: a frame and a centred message.
pub(crate) fn no_data(
    area: &Area,
    (x0, y0, x1, y1): (i32, i32, i32, i32),
    message: &str,
    figure: &'static str,
) -> Result<(), FigureError> {
    area.draw(&Rectangle::new(
        [(x0, y0), (x1, y1)],
        LIGHT.mix(0.35).filled(),
    ))
    .fig(figure)?;
    area.draw(&Rectangle::new([(x0, y0), (x1, y1)], GREY.stroke_width(1)))
        .fig(figure)?;
    text(
        area,
        message,
        ((x0 + x1) / 2, (y0 + y1) / 2),
        font_at(LABEL_PX + 1.0, &GREY, HPos::Center, VPos::Center),
        figure,
    )
}

/// Tick label with as many decimals as a span of `span` needs.
pub(crate) fn fmt_tick(v: f64, span: f64) -> String {
    let decimals = if span <= 0.0 {
        2
    } else {
        ((-(span / 5.0).log10()).ceil().max(0.0) as usize).min(6)
    };
    let s = format!("{v:.decimals$}");
    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
        s[1..].to_string()
    } else {
        s
    }
}

/// Signed value with a fixed number of decimals ("+0.0004").
pub(crate) fn fmt_signed(v: f64, decimals: usize) -> String {
    let s = format!("{v:+.decimals$}");
    if s[1..].chars().all(|c| c == '0' || c == '.') {
        s[1..].to_string()
    } else {
        s
    }
}

/// A finished SVG document of `size`, drawn by `draw`.
pub(crate) fn svg(
    size: (u32, u32),
    figure: &'static str,
    draw: impl FnOnce(&Area) -> Result<(), FigureError>,
) -> Result<String, FigureError> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE).fig(figure)?;
        draw(&root)?;
        root.present().fig(figure)?;
    }
    Ok(out)
}

/// Standard mesh styling for a chart.
pub(crate) fn mesh_style() -> (ShapeStyle, ShapeStyle, ShapeStyle) {
    (
        LIGHT.stroke_width(1),
        WHITE.mix(0.0).stroke_width(0),
        INK.stroke_width(1),
    )
}

/// A 2-D chart with linear f64 axes on an SVG area.
pub(crate) type LinearChart<'a, 'b> = ChartContext<
    'a,
    SVGBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// Axis texts and tick formatting of a histogram.
pub(crate) struct HistAxes<'f> {
    pub x_desc: &'f str,
    pub y_desc: &'f str,
    pub x_fmt: &'f dyn Fn(&f64) -> String,
}

/// Builds a linear chart over `x` and counts up to a little above
/// `max_count`, with the standard mesh.
pub(crate) fn histogram_chart<'a, 'b>(
    area: &'a Area<'b>,
    x: std::ops::Range<f64>,
    max_count: usize,
    axes: &HistAxes,
    figure: &'static str,
) -> Result<LinearChart<'a, 'b>, FigureError> {
    let max = max_count.max(1) as f64;
    let y_max = (max * 1.22).ceil().max(max + 1.0);
    let mut chart = ChartBuilder::on(area)
        .margin_right(28)
        .margin_top(6)
        .x_label_area_size(46)
        .y_label_area_size(64)
        .build_cartesian_2d(x, 0.0..y_max)
        .fig(figure)?;
    let (bold, light, axis) = mesh_style();
    let y_fmt = |v: &f64| format!("{v:.0}");
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(9)
        .y_labels((y_max as usize + 1).min(7))
        .x_label_formatter(axes.x_fmt)
        .y_label_formatter(&y_fmt)
        .x_desc(axes.x_desc)
        .y_desc(axes.y_desc)
        .label_style(font(TICK_PX))
        .axis_desc_style(font(LABEL_PX))
        .bold_line_style(bold)
        .light_line_style(light)
        .axis_style(axis)
        .draw()
        .fig(figure)?;
    Ok(chart)
}

/// Draws histogram bars on a chart made by [`histogram_chart`].
pub(crate) fn histogram_bars(
    chart: &mut LinearChart,
    (bins_lo, bins_hi): (f64, f64),
    counts: &[usize],
    color: RGBColor,
    figure: &'static str,
) -> Result<(), FigureError> {
    let width = (bins_hi - bins_lo) / counts.len().max(1) as f64;
    chart
        .draw_series(
            counts
                .iter()
                .enumerate()
                .filter(|(_, c)| **c > 0)
                .flat_map(|(i, c)| {
                    let x0 = bins_lo + i as f64 * width;
                    let corners = [(x0, 0.0), (x0 + width, *c as f64)];
                    [
                        Rectangle::new(corners, color.mix(0.85).filled()),
                        Rectangle::new(corners, WHITE.stroke_width(1)),
                    ]
                }),
        )
        .fig(figure)?;
    Ok(())
}

/// Bins for a histogram of `values`: `(lo, hi, counts)`; a degenerate range
/// widens to `min_span`.
pub(crate) fn bins(values: &[f64], min_span: f64) -> Option<(f64, f64, Vec<usize>)> {
    let (lo, hi) = crate::stats::min_max(values.iter().copied())?;
    let (lo, hi) = crate::stats::fit_range(lo, hi, 0.0, 0.0, min_span);
    // Widen by a hair so the maximum falls inside the last bin.
    let hi = hi + (hi - lo) * 1e-9;
    let n = crate::stats::bin_count(values, lo, hi, 8, 40);
    Some((lo, hi, crate::stats::histogram(values, lo, hi, n)))
}

/// A vertical line at data x over the chart's full height, in pixel space.
pub(crate) fn vline(
    area: &Area,
    chart: &LinearChart,
    x: f64,
    dash: Option<(f64, f64)>,
    style: ShapeStyle,
    figure: &'static str,
) -> Result<(i32, i32, i32), FigureError> {
    let (_, ys) = chart.plotting_area().get_pixel_range();
    let (px, _) = chart.backend_coord(&(x, 0.0));
    let (a, b) = ((px, ys.start), (px, ys.end - 1));
    match dash {
        Some(d) => dashed(area, a, b, d, style, figure)?,
        None => area
            .draw(&PathElement::new(vec![a, b], style))
            .fig(figure)?,
    }
    Ok((px, ys.start, ys.end))
}
