//! Codec errors.

use weightzip_entropy::EntropyError;

/// What went wrong in a codec.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// An entropy-coded stream inside the encoding is damaged.
    #[error("{codec}: {source}")]
    Entropy {
        /// The codec's name.
        codec: &'static str,
        /// The entropy layer's error.
        #[source]
        source: EntropyError,
    },
    /// The encoding is structurally wrong (bad header, wrong sizes).
    #[error("{codec}: corrupt encoding at offset {offset}: {reason}")]
    Corrupt {
        /// The codec's name.
        codec: &'static str,
        /// Where in the encoding.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
    /// A general-purpose backend (zstd) failed.
    #[error("{codec}: {message}")]
    Backend {
        /// The codec's name.
        codec: &'static str,
        /// The backend's message.
        message: String,
    },
    /// The caller named a codec this build does not have.
    #[error("unknown codec {0}")]
    UnknownCodec(String),
}

/// Result of the codec layer.
pub type Result<T> = std::result::Result<T, CodecError>;

/// Attaches the codec name to entropy-layer errors.
pub(crate) trait EntropyContext<T> {
    fn in_codec(self, codec: &'static str) -> Result<T>;
}

impl<T> EntropyContext<T> for std::result::Result<T, EntropyError> {
    fn in_codec(self, codec: &'static str) -> Result<T> {
        self.map_err(|source| CodecError::Entropy { codec, source })
    }
}
