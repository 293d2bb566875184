//! Errors of the entropy layer. Every decoder error says what was wrong and
//! where (byte offsets are relative to the start of the stream being decoded).

/// What went wrong while decoding an entropy-coded stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntropyError {
    /// The input ended before a field that must be there.
    #[error("entropy stream truncated: {what} needs {needed} bytes at offset {offset}, {available} available")]
    Truncated {
        /// The field.
        what: &'static str,
        /// Where it starts.
        offset: usize,
        /// Bytes it needs.
        needed: usize,
        /// Bytes left at `offset`.
        available: usize,
    },
    /// A field holds a value that no encoder writes.
    #[error("entropy stream corrupt at offset {offset}: {reason}")]
    Corrupt {
        /// Where the bad field starts.
        offset: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The stream decodes to a different number of symbols than the caller expects.
    #[error("entropy stream holds {found} symbols, expected {expected}")]
    LengthMismatch {
        /// Symbols the caller expects.
        expected: usize,
        /// Symbols the stream holds.
        found: usize,
    },
    /// The caller asked for something the coder does not support.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

/// Result of the entropy layer.
pub type Result<T> = std::result::Result<T, EntropyError>;

pub(crate) fn truncated(
    what: &'static str,
    offset: usize,
    needed: usize,
    available: usize,
) -> EntropyError {
    EntropyError::Truncated {
        what,
        offset,
        needed,
        available,
    }
}

pub(crate) fn corrupt(offset: usize, reason: impl Into<String>) -> EntropyError {
    EntropyError::Corrupt {
        offset,
        reason: reason.into(),
    }
}
