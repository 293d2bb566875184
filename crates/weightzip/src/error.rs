//! Errors of the container layer. Each names the place: the archive entry,
//! the tensor or segment, the chunk, and byte offsets where they help.

use std::path::PathBuf;

use weightzip_codec::CodecError;
use weightzip_format::FormatError;

/// What went wrong reading or writing a `.wz` archive.
#[derive(Debug, thiserror::Error)]
pub enum WzError {
    /// Reading or writing a file failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file, as the caller named it.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
    /// The file does not start with the `.wz` magic bytes.
    #[error("not a .wz archive (bad magic bytes at offset 0)")]
    BadMagic,
    /// Written by a newer weightzip.
    #[error(
        "unsupported .wz format version {found} (this build reads versions up to {supported})"
    )]
    UnsupportedVersion {
        /// The archive's version.
        found: u32,
        /// The highest this build reads.
        supported: u32,
    },
    /// The archive ends early.
    #[error("truncated .wz archive: {0}")]
    Truncated(String),
    /// A structure in the archive is inconsistent.
    #[error("corrupt .wz archive: {0}")]
    Corrupt(String),
    /// A chunk failed to decode.
    #[error("corrupt .wz archive: {place}: {source}")]
    Codec {
        /// File, tensor and chunk.
        place: String,
        /// What the codec found.
        #[source]
        source: CodecError,
    },
    /// Decoded bytes do not match their stored checksum.
    #[error("checksum mismatch in {place}: stored {expected:016x}, decoded data hashes to {actual:016x}")]
    Checksum {
        /// File, tensor and chunk (or the index).
        place: String,
        /// The checksum stored in the archive.
        expected: u64,
        /// The checksum of what decoded.
        actual: u64,
    },
    /// The output exists and overwriting was not allowed.
    #[error("{0} already exists (use --force to overwrite)")]
    OutputExists(PathBuf),
    /// No tensor of that name in the archive.
    #[error("no tensor named {0:?} in the archive")]
    NoSuchTensor(String),
    /// The input file could not be parsed as the format it claims.
    #[error("{path}: {source}")]
    Format {
        /// The file.
        path: String,
        /// What the format reader found.
        #[source]
        source: FormatError,
    },
    /// A caller error (bad options, unsupported input kind).
    #[error("{0}")]
    InvalidInput(String),
    /// An output that weightzip never replaces (a symbolic link, a device,
    /// a folder where a file goes, the input itself), with or without
    /// `--force`.
    #[error("{path}: {why}; not replaced")]
    Refused {
        /// The output.
        path: PathBuf,
        /// What it is.
        why: String,
    },
    /// An input changed while it was being read; nothing was written.
    #[error("{path} changed while it was being read ({what}); nothing was written")]
    InputChanged {
        /// The input.
        path: PathBuf,
        /// What changed.
        what: String,
    },
    /// A worker thread could not be started.
    #[error("cannot start a worker thread: {0}")]
    Thread(#[source] std::io::Error),
    /// The archive holds deltas against a base checkpoint, and none was
    /// given.
    #[error("this archive was coded against a base checkpoint ({label}); give it with --base ({tensors} of its tensors are needed)")]
    NeedsBase {
        /// The base's path when the archive was made.
        label: String,
        /// How many of its tensors the archive uses.
        tensors: usize,
    },
    /// The base given is not the one the archive was coded against.
    #[error("{path} is not the base this archive was coded against: {why} (the archive was made against {label})")]
    WrongBase {
        /// The base given.
        path: PathBuf,
        /// The base's path when the archive was made.
        label: String,
        /// What differs.
        why: String,
    },
    /// The archive's header sets flags this build does not know.
    #[error("unsupported .wz archive: header flags {0:#x} unknown to this build (written by a newer weightzip?)")]
    UnknownFlags(u32),
}

/// Result of the container layer.
pub type Result<T> = std::result::Result<T, WzError>;

impl WzError {
    /// Whether this error marks a damaged, truncated or foreign archive (as
    /// opposed to an I/O failure or a caller error).
    pub fn is_damaged_archive(&self) -> bool {
        matches!(
            self,
            WzError::BadMagic
                | WzError::UnsupportedVersion { .. }
                | WzError::UnknownFlags(_)
                | WzError::Truncated(_)
                | WzError::Corrupt(_)
                | WzError::Codec { .. }
                | WzError::Checksum { .. }
        )
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        WzError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
