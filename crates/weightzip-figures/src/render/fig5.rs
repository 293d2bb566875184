//! Figure 5: decode speed (log) against byte-weighted ratio, one point per
//! (corpus, method), one panel per corpus, each with its Pareto front.
//!
//! The corpora are drawn as separate panels because their ratios live on
//! different scales (about 1.5 for bf16, about 1.04 for Q4_K): in one panel
//! the quantized corpora would collapse into an unreadable strip. The speed
//! axis is shared so panels compare directly.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::*;
use crate::data::{fig5_data, CorpusPoints, MethodClass, SpeedData};
use crate::font::text_width;
use crate::{stats, FigureError, FigureInputs};

const FIG: &str = "fig5";
const PANEL_H: i32 = 390;
const MARKER_R: f64 = 5.0;
const RING_R: f64 = MARKER_R + 4.0;
const LABEL: f64 = SMALL_PX;

/// Marker and colour of a class.
pub(crate) fn class_style(c: MethodClass) -> (Marker, RGBColor) {
    match c {
        MethodClass::GeneralPurpose => (Marker::Circle, P_BLUE),
        MethodClass::ByteGrouped => (Marker::Square, P_ORANGE),
        MethodClass::FormatAware => (Marker::TriangleUp, P_GREEN),
        MethodClass::TrainedProfile => (Marker::Diamond, P_PURPLE),
        MethodClass::Weightzip => (Marker::Star, P_VERMILLION),
        MethodClass::Other => (Marker::TriangleDown, P_SKY),
    }
}

/// Figure size for `panels` corpora.
pub(crate) fn size(panels: usize) -> (u32, u32, usize) {
    let cols = if panels <= 1 { 1 } else { 2 };
    let rows = panels.max(1).div_ceil(cols);
    let w = if cols == 1 { 900 } else { 1180 };
    (w, 96 + (rows as u32) * PANEL_H as u32, cols)
}

pub(crate) fn render(inputs: &FigureInputs) -> Result<String, FigureError> {
    let data = fig5_data(inputs);
    let panels: Vec<&CorpusPoints> = data
        .corpora
        .iter()
        .filter(|c| !c.points.is_empty())
        .collect();
    let (w, h, cols) = size(panels.len());
    svg((w, h), FIG, |root| {
        draw(root, &data, &panels, (w as i32, h as i32), cols)
    })
}

fn fmt_mbps(v: f64) -> String {
    if v >= 1.0 {
        format!("{v:.0}")
    } else {
        let decimals = (-v.log10()).ceil().clamp(1.0, 6.0) as usize;
        format!("{v:.decimals$}")
    }
}

/// Tick values for a log axis over `[lo, hi]`: powers of ten when they give
/// three or more ticks, else 1-3, 1-2-5 or 1..9 steps per decade.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo > 0.0 && hi > lo) {
        return Vec::new();
    }
    let (d0, d1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let steps: [&[f64]; 4] = [
        &[1.0],
        &[1.0, 3.0],
        &[1.0, 2.0, 5.0],
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
    ];
    let mut ticks = Vec::new();
    for mults in steps {
        ticks = (d0..=d1)
            .flat_map(|d| mults.iter().map(move |m| m * 10f64.powi(d)))
            .filter(|v| *v >= lo * (1.0 - 1e-9) && *v <= hi * (1.0 + 1e-9))
            .collect();
        if ticks.len() >= 3 {
            break;
        }
    }
    ticks
}

fn draw(
    root: &Area,
    data: &SpeedData,
    panels: &[&CorpusPoints],
    (w, h): (i32, i32),
    cols: usize,
) -> Result<(), FigureError> {
    let mut y = draw_title(
        root,
        "Decode speed vs byte-weighted ratio, per corpus and method",
        w,
        FIG,
    )?;
    let mut classes: Vec<MethodClass> = panels
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.class))
        .collect();
    classes.sort();
    classes.dedup();
    let mut legend: Vec<LegendItem> = classes
        .iter()
        .map(|c| {
            let (m, col) = class_style(*c);
            LegendItem::new(Swatch::Marker(m, col), c.label())
        })
        .collect();
    if !panels.is_empty() {
        legend.push(LegendItem {
            swatches: vec![
                Swatch::Line {
                    color: GREY,
                    width: 1,
                    dash: None,
                },
                Swatch::Ring,
            ],
            label: "Pareto front (ratio vs decode speed)".to_string(),
        });
    }
    y += draw_legend(root, (20, y), w - 40, &legend, LABEL_PX, FIG)?;
    let mut notes = Vec::new();
    if data.failed_entries > 0 {
        notes.push(format!(
            "{} failed round trip{} left out",
            data.failed_entries,
            if data.failed_entries == 1 { "" } else { "s" }
        ));
    }
    if data.without_speed > 0 {
        notes.push(format!(
            "{} method{} without decode speed left out",
            data.without_speed,
            if data.without_speed == 1 { "" } else { "s" }
        ));
    }
    if !notes.is_empty() {
        text(
            root,
            &notes.join("; "),
            (w / 2, y),
            font_at(SMALL_PX, &GREY, HPos::Center, VPos::Top),
            FIG,
        )?;
    }
    y += (SMALL_PX * 1.4) as i32;

    if panels.is_empty() {
        return no_data(
            root,
            (70, y + 24, w - 30, h - 50),
            "no data: no (corpus, method) with a valid ratio and a decode speed",
            FIG,
        );
    }
    let speeds = panels
        .iter()
        .flat_map(|c| c.points.iter().map(|p| p.decode_mbps));
    let (s_lo, s_hi) = stats::min_max(speeds).unwrap_or((1.0, 10.0));
    let (x_lo, x_hi) = (s_lo / 1.8, s_hi * 1.8);
    let panel_w = (w / cols as i32).max(1);
    for (i, c) in panels.iter().enumerate() {
        let (col, row) = ((i % cols) as i32, (i / cols) as i32);
        let rect = (
            col * panel_w,
            y + row * PANEL_H,
            (col + 1) * panel_w,
            y + (row + 1) * PANEL_H,
        );
        draw_panel(root, rect, c, (x_lo, x_hi))?;
    }
    Ok(())
}

type Box2 = (f64, f64, f64, f64);

fn overlap(a: Box2, b: Box2) -> f64 {
    let w = (a.2.min(b.2) - a.0.max(b.0)).max(0.0);
    let h = (a.3.min(b.3) - a.1.max(b.1)).max(0.0);
    w * h
}

/// Greedy label placement: for each point, the first candidate position that
/// touches no marker, no placed label and stays in the plot; else the least
/// bad. Returns the chosen top-left corner and whether it is far enough from
/// its point to want a leader line.
fn place_labels(
    points: &[(f64, f64)],
    radii: &[f64],
    sizes: &[(f64, f64)],
    order: &[usize],
    plot: Box2,
) -> Vec<((f64, f64), bool)> {
    let obstacles: Vec<Box2> = points
        .iter()
        .zip(radii)
        .map(|(&(x, y), r)| (x - r, y - r, x + r, y + r))
        .collect();
    let mut placed: Vec<Box2> = Vec::new();
    let mut out = vec![((0.0, 0.0), false); points.len()];
    for &i in order {
        let (px, py) = points[i];
        let (w, h) = sizes[i];
        let r = radii[i];
        let mut best: Option<(f64, (f64, f64), bool)> = None;
        'search: for (level, d) in [r + 1.0, r + 12.0, r + 26.0].into_iter().enumerate() {
            let k = d * 0.72;
            let candidates = [
                (px + d, py - h / 2.0),
                (px - d - w, py - h / 2.0),
                (px - w / 2.0, py - d - h),
                (px - w / 2.0, py + d),
                (px + k, py - k - h),
                (px + k, py + k),
                (px - k - w, py - k - h),
                (px - k - w, py + k),
            ];
            for (x, y) in candidates {
                let b = (x, y, x + w, y + h);
                let inside = overlap(b, plot);
                let mut score = (w * h - inside) * 10.0;
                score += placed.iter().map(|p| overlap(b, *p)).sum::<f64>() * 3.0;
                score += obstacles.iter().map(|o| overlap(b, *o)).sum::<f64>();
                score += level as f64 * 0.5;
                if level > 0 {
                    // A leader line must not cross another label.
                    let (tx, ty) = (px.clamp(x, x + w), py.clamp(y, y + h));
                    let hit =
                        |b: &Box2, x: f64, y: f64| x >= b.0 && x <= b.2 && y >= b.1 && y <= b.3;
                    let crosses = (1..10).any(|k| {
                        let t = f64::from(k) / 10.0;
                        let (sx, sy) = (px + (tx - px) * t, py + (ty - py) * t);
                        placed.iter().any(|b| hit(b, sx, sy))
                            || obstacles
                                .iter()
                                .enumerate()
                                .any(|(j, b)| j != i && hit(b, sx, sy))
                    });
                    if crosses {
                        score += 200.0;
                    }
                }
                if best.as_ref().is_none_or(|(s, _, _)| score < *s) {
                    best = Some((score, (x, y), level > 0));
                }
                if score <= level as f64 * 0.5 {
                    break 'search;
                }
            }
        }
        if let Some((_, at, far)) = best {
            placed.push((at.0, at.1, at.0 + w, at.1 + h));
            out[i] = (at, far);
        }
    }
    out
}

fn draw_panel(
    root: &Area,
    (x0, y0, x1, y1): (i32, i32, i32, i32),
    c: &CorpusPoints,
    (x_lo, x_hi): (f64, f64),
) -> Result<(), FigureError> {
    let title = format!(
        "{}: {} method{}, {} record{}",
        c.corpus,
        c.points.len(),
        if c.points.len() == 1 { "" } else { "s" },
        c.records,
        if c.records == 1 { "" } else { "s" }
    );
    text(
        root,
        &title,
        ((x0 + x1) / 2, y0 + 12),
        font_at(PANEL_TITLE_PX, &INK, HPos::Center, VPos::Top),
        FIG,
    )?;
    let top = y0 + 12 + (PANEL_TITLE_PX * 1.6) as i32;
    let Some((r_lo, r_hi)) = stats::min_max(c.points.iter().map(|p| p.ratio)) else {
        return no_data(root, (x0 + 70, top + 6, x1 - 24, y1 - 50), "no data", FIG);
    };
    let (r_lo, r_hi) = stats::fit_range(r_lo, r_hi, 0.12, 0.16, 0.004);
    let span = r_hi - r_lo;
    let area = root
        .clone()
        .shrink((x0, top), ((x1 - x0) as u32, (y1 - top).max(1) as u32));
    let mut chart = ChartBuilder::on(&area)
        .margin_right(22)
        .margin_left(4)
        .margin_top(4)
        .margin_bottom(6)
        .x_label_area_size(44)
        .y_label_area_size(68)
        .build_cartesian_2d((x_lo..x_hi).log_scale(), r_lo..r_hi)
        .fig(FIG)?;
    let (bold, light, axis) = mesh_style();
    let y_fmt = |v: &f64| fmt_tick(*v, span);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(2)
        .x_label_formatter(&|_| String::new())
        .y_labels(6)
        .y_label_formatter(&y_fmt)
        .x_desc("decompress MB/s (log scale)")
        .y_desc("byte-weighted ratio")
        .label_style(font(TICK_PX))
        .axis_desc_style(font(LABEL_PX))
        .bold_line_style(bold)
        .light_line_style(light)
        .axis_style(axis)
        .draw()
        .fig(FIG)?;

    // Speed ticks of our own: plotters labels log axes at powers of ten only.
    let (_, ys) = chart.plotting_area().get_pixel_range();
    for t in log_ticks(x_lo, x_hi) {
        let (x, _) = chart.backend_coord(&(t, r_lo));
        root.draw(&PathElement::new(
            vec![(x, ys.start), (x, ys.end - 1)],
            LIGHT.stroke_width(1),
        ))
        .fig(FIG)?;
        root.draw(&PathElement::new(
            vec![(x, ys.end), (x, ys.end + 5)],
            INK.stroke_width(1),
        ))
        .fig(FIG)?;
        text(
            root,
            &fmt_mbps(t),
            (x, ys.end + 8),
            font_at(TICK_PX, &INK, HPos::Center, VPos::Top),
            FIG,
        )?;
    }

    let px: Vec<(i32, i32)> = c
        .points
        .iter()
        .map(|p| chart.backend_coord(&(p.decode_mbps, p.ratio)))
        .collect();
    let front: Vec<(i32, i32)> = c.front.iter().map(|&i| px[i]).collect();
    if front.len() > 1 {
        root.draw(&PathElement::new(front.clone(), GREY.stroke_width(1)))
            .fig(FIG)?;
    }
    for (p, at) in c.points.iter().zip(&px) {
        let (m, col) = class_style(p.class);
        m.draw(root, *at, MARKER_R, col, 0.9, FIG)?;
    }
    for at in &front {
        root.draw(&Circle::new(*at, RING_R as i32, INK.stroke_width(2)))
            .fig(FIG)?;
    }

    let (xs, ys) = chart.plotting_area().get_pixel_range();
    let plot = (
        f64::from(xs.start) + 2.0,
        f64::from(ys.start) + 2.0,
        f64::from(xs.end) - 2.0,
        f64::from(ys.end) - 2.0,
    );
    let centres: Vec<(f64, f64)> = px
        .iter()
        .map(|&(x, y)| (f64::from(x), f64::from(y)))
        .collect();
    let sizes: Vec<(f64, f64)> = c
        .points
        .iter()
        .map(|p| (text_width(&p.method, LABEL), LABEL * 1.15))
        .collect();
    let mut order: Vec<usize> = c.front.clone();
    let mut rest: Vec<usize> = (0..c.points.len())
        .filter(|i| !c.front.contains(i))
        .collect();
    rest.sort_by(|&a, &b| c.points[b].ratio.total_cmp(&c.points[a].ratio));
    order.extend(rest);
    let radii: Vec<f64> = (0..c.points.len())
        .map(|i| {
            if c.front.contains(&i) {
                RING_R + 2.0
            } else {
                MARKER_R + 2.0
            }
        })
        .collect();
    let spots = place_labels(&centres, &radii, &sizes, &order, plot);
    for (i, ((lx, ly), far)) in spots.into_iter().enumerate() {
        let (w, h) = sizes[i];
        if far {
            let (cx, cy) = centres[i];
            let tx = cx.clamp(lx, lx + w);
            let ty = cy.clamp(ly, ly + h);
            // From the marker's edge to the label's nearest point.
            let (dx, dy) = (tx - cx, ty - cy);
            let len = dx.hypot(dy).max(1.0);
            let (sx, sy) = (cx + dx / len * radii[i], cy + dy / len * radii[i]);
            root.draw(&PathElement::new(
                vec![(sx as i32, sy as i32), (tx as i32, ty as i32)],
                GREY.mix(0.7).stroke_width(1),
            ))
            .fig(FIG)?;
        }
        text(
            root,
            &c.points[i].method,
            (lx.round() as i32, ly.round() as i32),
            font_at(LABEL, &INK, HPos::Left, VPos::Top),
            FIG,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_ticks_always_label_the_axis() {
        assert_eq!(log_ticks(8.0, 2700.0), vec![10.0, 100.0, 1000.0]);
        assert!(log_ticks(0.17, 0.54).len() >= 3);
        assert!(log_ticks(700.0, 1600.0).len() >= 3);
        assert!(log_ticks(0.0, 1.0).is_empty());
        assert_eq!(fmt_mbps(0.3), "0.3");
        assert_eq!(fmt_mbps(0.05), "0.05");
        assert_eq!(fmt_mbps(2000.0), "2000");
    }
}
