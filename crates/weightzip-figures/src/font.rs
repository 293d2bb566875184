//! The one font every figure uses, embedded in the binary: text widths for
//! layout, and the font database handed to usvg (no system fonts, ever).

use std::sync::{Arc, OnceLock};

use resvg::usvg::fontdb;

use crate::FigureError;

/// DejaVu Sans, committed at `assets/DejaVuSans.ttf`.
pub static FONT_BYTES: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
/// The font's family name.
pub const FONT_FAMILY: &str = "DejaVu Sans";

/// Advance widths of ASCII 32..127 in em, and a fallback for anything else.
struct Metrics {
    ascii: [f32; 95],
    fallback: f32,
}

fn metrics() -> Option<&'static Metrics> {
    static METRICS: OnceLock<Option<Metrics>> = OnceLock::new();
    METRICS
        .get_or_init(|| {
            let face = ttf_parser::Face::parse(FONT_BYTES, 0).ok()?;
            let upem = f32::from(face.units_per_em());
            let advance = |c: char| -> Option<f32> {
                let g = face.glyph_index(c)?;
                Some(f32::from(face.glyph_hor_advance(g)?) / upem)
            };
            let mut ascii = [0.0f32; 95];
            for (i, w) in ascii.iter_mut().enumerate() {
                *w = advance(char::from(32 + i as u8)).unwrap_or(0.6);
            }
            Some(Metrics {
                ascii,
                fallback: advance('M').unwrap_or(0.8),
            })
        })
        .as_ref()
}

/// Width in pixels of `text` set at `px` pixels (no kerning: a slight
/// overestimate, which is the safe side for layout).
pub fn text_width(text: &str, px: f64) -> f64 {
    let em: f32 = match metrics() {
        Some(m) => text
            .chars()
            .map(|c| {
                let i = c as usize;
                if (32..127).contains(&i) {
                    m.ascii[i - 32]
                } else {
                    m.fallback
                }
            })
            .sum(),
        None => 0.62 * text.chars().count() as f32,
    };
    f64::from(em) * px
}

/// A font database holding only the embedded font, with every generic family
/// (sans-serif, serif, monospace, ...) mapped to it.
pub fn font_db() -> Result<Arc<fontdb::Database>, FigureError> {
    static DB: OnceLock<Option<Arc<fontdb::Database>>> = OnceLock::new();
    DB.get_or_init(|| {
        let mut db = fontdb::Database::new();
        db.load_font_data(FONT_BYTES.to_vec());
        if db.len() != 1 {
            return None;
        }
        db.set_sans_serif_family(FONT_FAMILY);
        db.set_serif_family(FONT_FAMILY);
        db.set_monospace_family(FONT_FAMILY);
        db.set_cursive_family(FONT_FAMILY);
        db.set_fantasy_family(FONT_FAMILY);
        Some(Arc::new(db))
    })
    .clone()
    .ok_or(FigureError::Font)
}
