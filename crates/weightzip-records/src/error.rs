//! The records crate's error type.

use std::path::PathBuf;

use thiserror::Error;

/// What can go wrong reading or writing records; every variant names the file.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RecordError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// A line is not a valid record.
    #[error("{path}:{line}: {message}")]
    Record {
        /// The record file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },

    /// A record could not be serialised.
    #[error("cannot serialise record: {0}")]
    Serialise(String),
}

/// Result alias of the records crate.
pub type Result<T, E = RecordError> = std::result::Result<T, E>;

impl RecordError {
    /// Wraps an I/O error with the file it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        RecordError::Io {
            path: path.into(),
            source,
        }
    }
}
