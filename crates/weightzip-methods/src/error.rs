//! The one error type of the method layer.

use weightzip_codec::CodecError;
use weightzip_entropy::EntropyError;

use crate::Corpus;

/// What went wrong in a method. Every variant names the method.
#[derive(Debug, thiserror::Error)]
pub enum MethodError {
    /// The method was asked to code a corpus it does not define.
    #[error("{method}: does not apply to {corpus:?}")]
    NotApplicable {
        /// Method name.
        method: &'static str,
        /// The corpus asked for.
        corpus: Corpus,
    },
    /// The input cannot be coded by this method (e.g. a Q4_K stream whose
    /// length is not a multiple of 144).
    #[error("{method}: invalid input: {reason}")]
    InvalidInput {
        /// Method name.
        method: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The compressed bytes are damaged or were not written by this method.
    #[error("{method}: corrupt data at offset {offset}: {reason}")]
    Corrupt {
        /// Method name.
        method: &'static str,
        /// Byte offset in the compressed input (0 when unknown).
        offset: usize,
        /// What is wrong.
        reason: String,
    },
    /// A trained method was called without its profile.
    #[error("{method}: needs a trained profile")]
    MissingProfile {
        /// Method name.
        method: &'static str,
    },
    /// The profile is damaged or belongs to another method.
    #[error("{method}: bad profile: {reason}")]
    BadProfile {
        /// Method name.
        method: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Training could not produce a profile (e.g. no train items).
    #[error("{method}: training failed: {reason}")]
    Training {
        /// Method name.
        method: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// An entropy-coded stream failed.
    #[error("{method}: {source}")]
    Entropy {
        /// Method name.
        method: &'static str,
        /// The entropy-layer error.
        #[source]
        source: EntropyError,
    },
    /// A weightzip codec failed.
    #[error("{method}: {source}")]
    Codec {
        /// Method name.
        method: &'static str,
        /// The codec-layer error.
        #[source]
        source: CodecError,
    },
    /// A general-purpose backend (gzip, brotli, xz, zstd) or the `.wz`
    /// container failed.
    #[error("{method}: {message}")]
    Backend {
        /// Method name.
        method: &'static str,
        /// The backend's message.
        message: String,
    },
    /// Decoding produced a different number of bytes than the caller expects.
    #[error("{method}: decoded {found} bytes, expected {expected}")]
    LengthMismatch {
        /// Method name.
        method: &'static str,
        /// Bytes the caller expects.
        expected: usize,
        /// Bytes the data holds.
        found: usize,
    },
    /// Reading or writing a profile file failed.
    #[error("profile file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A profile file is not one this crate writes.
    #[error("profile file {path}: {reason}")]
    ProfileFile {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// No method has this name.
    #[error("unknown method {0}")]
    UnknownMethod(String),
}

/// Result of the method layer.
pub type Result<T> = std::result::Result<T, MethodError>;

/// Attaches a method name to lower-layer errors.
pub(crate) trait Context<T> {
    fn in_method(self, method: &'static str) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, EntropyError> {
    fn in_method(self, method: &'static str) -> Result<T> {
        self.map_err(|source| MethodError::Entropy { method, source })
    }
}

impl<T> Context<T> for std::result::Result<T, CodecError> {
    fn in_method(self, method: &'static str) -> Result<T> {
        self.map_err(|source| MethodError::Codec { method, source })
    }
}

pub(crate) fn corrupt(
    method: &'static str,
    offset: usize,
    reason: impl Into<String>,
) -> MethodError {
    MethodError::Corrupt {
        method,
        offset,
        reason: reason.into(),
    }
}

pub(crate) fn backend(method: &'static str, message: impl std::fmt::Display) -> MethodError {
    MethodError::Backend {
        method,
        message: message.to_string(),
    }
}
