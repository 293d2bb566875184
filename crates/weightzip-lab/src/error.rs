//! The lab's one error type.

use std::path::PathBuf;

use thiserror::Error;

/// Everything that can go wrong in the lab. Every variant names the file,
/// key, item or method it is about, so a message is actionable on its own.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LabError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },

    /// The corpus manifest is malformed; `message` names the key.
    #[error("{path}: {message}")]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong, naming the key (e.g. `model[2].split: ...`).
        message: String,
    },

    /// A model file could not be parsed.
    #[error("{path}: {source}")]
    Format {
        /// The model file.
        path: PathBuf,
        /// The parser's error.
        source: weightzip_format::FormatError,
    },

    /// A method failed outside of a benchmarked round trip (training,
    /// loading or saving a profile).
    #[error("method {method}: {message}")]
    Method {
        /// The method's name.
        method: String,
        /// What went wrong.
        message: String,
    },

    /// A record file holds a line that is not a valid record.
    #[error("{path}:{line}: {message}")]
    Record {
        /// The record file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },

    /// Reading or writing a record file failed.
    #[error(transparent)]
    Records(#[from] weightzip_records::RecordError),

    /// An argument or a combination of inputs is invalid.
    #[error("{0}")]
    Invalid(String),

    /// At least one method did not reproduce its input byte for byte. The
    /// failures are recorded in the results file before this is returned.
    #[error("{count} failed round trip(s) (recorded in {path}); first: {first}")]
    RoundTripFailures {
        /// Number of failed (item, method) evaluations.
        count: usize,
        /// The results file holding the failure rows.
        path: PathBuf,
        /// Description of the first failure.
        first: String,
    },
}

/// Result alias of the lab.
pub type Result<T, E = LabError> = std::result::Result<T, E>;

impl LabError {
    /// Wraps an I/O error with the file it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        LabError::Io {
            path: path.into(),
            source,
        }
    }
}
