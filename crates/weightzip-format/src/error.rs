//! Typed errors for every reader in this crate.
//!
//! Each variant carries enough context (what was being read, where, and how
//! many bytes were needed versus available) that a caller only has to prepend
//! the file name to get an actionable message.

use thiserror::Error;

/// Everything that can go wrong while reading a safetensors or GGUF file.
#[derive(Debug, Error)]
pub enum FormatError {
    /// The file (or the in-memory buffer holding the whole file) ends before a
    /// structure that the header says is there.
    #[error(
        "{what}: truncated at offset {offset}: needs {needed} bytes but only {available} remain"
    )]
    Truncated {
        /// What was being read, e.g. `"GGUF tensor info #12 name"`.
        what: String,
        /// Absolute file offset where the read started.
        offset: u64,
        /// Bytes the structure needs.
        needed: u64,
        /// Bytes actually left in the file from `offset`.
        available: u64,
    },

    /// The prefix handed to a `parse_header` function ends before the header
    /// does, but the file is long enough: read at least `needed_at_least`
    /// bytes from the start of the file and call again.
    #[error("header continues past the bytes provided: need at least {needed_at_least} bytes")]
    NeedMore {
        /// Minimum prefix length (from the start of the file) for parsing to progress.
        needed_at_least: u64,
    },

    /// The magic bytes do not match the expected format.
    #[error("bad magic: expected {expected}, found {found:02x?}")]
    BadMagic {
        /// The magic that was expected, e.g. `"GGUF"`.
        expected: &'static str,
        /// The bytes found instead (at most the magic's length).
        found: Vec<u8>,
    },

    /// The header is structurally invalid at a known offset.
    #[error("invalid header at offset {offset}: {reason}")]
    InvalidHeader {
        /// Absolute file offset of the offending field.
        offset: u64,
        /// Human-readable explanation.
        reason: String,
    },

    /// One tensor's description is inconsistent (shape vs. byte size, alignment, duplicates ...).
    #[error("tensor '{name}': {reason}")]
    InvalidTensor {
        /// Tensor name as written in the header (lossily decoded if not UTF-8).
        name: String,
        /// Human-readable explanation.
        reason: String,
    },

    /// A size, count or length field exceeds what this reader is willing to
    /// allocate or what the file could possibly hold.
    #[error("{what}: value {value} exceeds limit {limit}")]
    HostileSize {
        /// What the number describes, e.g. `"safetensors header length"`.
        what: String,
        /// The value found in the file.
        value: u64,
        /// The largest acceptable value.
        limit: u64,
    },

    /// Two tensors claim overlapping byte ranges.
    #[error(
        "tensors '{a}' (bytes {a_start}..{a_end}) and '{b}' (bytes {b_start}..{b_end}) overlap"
    )]
    OverlappingTensors {
        /// Name of the tensor that starts first.
        a: String,
        /// Absolute start offset of `a`.
        a_start: u64,
        /// Absolute end offset (exclusive) of `a`.
        a_end: u64,
        /// Name of the tensor that starts inside `a`.
        b: String,
        /// Absolute start offset of `b`.
        b_start: u64,
        /// Absolute end offset (exclusive) of `b`.
        b_end: u64,
    },

    /// A tensor's data runs past the end of the file.
    #[error("{name}: data offset {offset} + size {len} = {end} exceeds file length {file_len}")]
    TensorOutOfBounds {
        /// Tensor description, e.g. `"GGUF tensor 'blk.3.attn_q.weight'"`.
        name: String,
        /// Absolute start offset of the tensor data.
        offset: u64,
        /// Tensor byte size.
        len: u64,
        /// Absolute end offset (saturated at `u64::MAX` on overflow).
        end: u64,
        /// Length of the file.
        file_len: u64,
    },

    /// A safetensors dtype string this crate does not know.
    #[error("tensor '{name}': unknown safetensors dtype '{dtype}'")]
    UnknownDtype {
        /// Tensor name.
        name: String,
        /// The dtype string found in the header.
        dtype: String,
    },

    /// A ggml tensor type id this crate does not know (or one that was removed from ggml).
    #[error("GGUF tensor '{name}': unknown ggml type id {id}")]
    UnknownGgmlType {
        /// Tensor name.
        name: String,
        /// The type id found in the tensor info.
        id: u32,
    },

    /// Block data whose length is not a whole number of blocks.
    #[error("{ty} block data of {len} bytes is not a multiple of the {block_bytes}-byte block")]
    BlockLength {
        /// Block type name, e.g. `"Q4_K"`.
        ty: &'static str,
        /// Length of the data given.
        len: u64,
        /// Bytes per block.
        block_bytes: u64,
    },

    /// The safetensors JSON header is not valid JSON.
    #[error("safetensors header JSON: {0}")]
    Json(#[from] serde_json::Error),

    /// Reading the file failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Result alias used throughout this crate.
pub type Result<T> = std::result::Result<T, FormatError>;
