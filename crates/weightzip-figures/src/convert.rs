//! One SVG to PDF (svg2pdf) and PNG (resvg), both through the same usvg tree
//! and the embedded font.

use resvg::{tiny_skia, usvg};

use crate::font::{font_db, FONT_FAMILY};
use crate::FigureError;

fn parse(svg: &str) -> Result<usvg::Tree, FigureError> {
    let options = usvg::Options {
        font_family: FONT_FAMILY.to_string(),
        fontdb: font_db()?,
        ..usvg::Options::default()
    };
    usvg::Tree::from_str(svg, &options).map_err(|e| FigureError::Svg(e.to_string()))
}

/// A one-page PDF of `svg` (1 SVG px = 1 PDF pt), text embedded as a subset of
/// the committed font.
pub fn svg_to_pdf(svg: &str) -> Result<Vec<u8>, FigureError> {
    let tree = parse(svg)?;
    svg2pdf::to_pdf(
        &tree,
        svg2pdf::ConversionOptions::default(),
        svg2pdf::PageOptions::default(),
    )
    .map_err(|e| FigureError::Pdf(e.to_string()))
}

/// A PNG of `svg` on a white background, `scale` device pixels per SVG px.
pub fn svg_to_png(svg: &str, scale: f32) -> Result<Vec<u8>, FigureError> {
    if !(scale.is_finite() && scale > 0.0) {
        return Err(FigureError::Png(format!("invalid scale {scale}")));
    }
    let tree = parse(svg)?;
    let size = tree.size();
    let w = (size.width() * scale).ceil() as u32;
    let h = (size.height() * scale).ceil() as u32;
    let mut pixmap = tiny_skia::Pixmap::new(w, h)
        .ok_or_else(|| FigureError::Png(format!("cannot allocate {w}x{h} pixels")))?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    pixmap
        .encode_png()
        .map_err(|e| FigureError::Png(e.to_string()))
}
