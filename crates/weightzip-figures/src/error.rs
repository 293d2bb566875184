//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong while loading records or rendering figures.
#[derive(Debug, thiserror::Error)]
pub enum FigureError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A record file (results, its journal, or an atlas file) could not be
    /// read: the error names the file and line.
    #[error(transparent)]
    Results(#[from] weightzip_records::RecordError),
    /// A required input file or directory does not exist.
    #[error("{0}: not found")]
    NotFound(PathBuf),
    /// plotters failed while drawing a figure.
    #[error("drawing {figure}: {message}")]
    Draw {
        /// Which figure.
        figure: &'static str,
        /// plotters' message.
        message: String,
    },
    /// The SVG could not be parsed by usvg.
    #[error("parsing SVG: {0}")]
    Svg(String),
    /// svg2pdf failed.
    #[error("converting SVG to PDF: {0}")]
    Pdf(String),
    /// Rasterising or encoding the PNG failed.
    #[error("rendering PNG: {0}")]
    Png(String),
    /// The embedded font could not be parsed.
    #[error("embedded font could not be parsed")]
    Font,
}
