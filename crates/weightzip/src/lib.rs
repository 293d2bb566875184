//! weightzip: lossless compression of LLM weight files into `.wz` archives.
//!
//! A `.wz` archive holds one file or a whole folder. Each file is cut into
//! segments (tensors found by the safetensors / GGUF readers, and the bytes
//! between them), tensors are coded in chunks by the codec that suits their
//! type, and an index at the end records how to replay every file byte for
//! byte. See `docs/FORMAT.md` for the layout.
//!
//! ```no_run
//! use weightzip::{compress_path, Archive, CompressOptions, ExtractOptions};
//! # fn main() -> Result<(), weightzip::WzError> {
//! compress_path("model.safetensors".as_ref(), "model.safetensors.wz".as_ref(), &CompressOptions::default())?;
//! let archive = Archive::open("model.safetensors.wz".as_ref())?;
//! archive.extract("restored.safetensors".as_ref(), &ExtractOptions::default())?;
//! # Ok(()) }
//! ```

pub mod base;
pub mod dedup;
pub mod delta;
pub mod error;
pub mod fs;
pub mod index;
pub mod pipeline;
pub mod read;
pub mod source;
pub mod tensor_read;
pub mod torch;
pub mod write;

pub use error::{Result, WzError};
pub use index::{
    Attrs, ChunkRef, Entry, Extra, ExtraKind, Index, Mtime, RootKind, Segment, SegmentKind,
};
pub use read::{Archive, ExtractOptions, ExtractSummary, VerifySummary};
pub use tensor_read::{DecodeStats, TensorTarget};
pub use weightzip_codec::Level;
pub use write::{
    compress_path, compress_to_writer, CompressOptions, CompressSummary, InputFile, Plan, Progress,
    MAX_THREADS,
};

/// Compresses one in-memory file (any format) into an in-memory `.wz`.
pub fn compress_bytes(input: &[u8], opts: &CompressOptions) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() / 2 + 1024);
    let plan = Plan {
        root: RootKind::File,
        files: vec![InputFile::from_bytes("input", input)],
        extras: Vec::new(),
    };
    compress_to_writer(plan, &mut out, opts)?;
    Ok(out)
}

/// Decompresses an in-memory `.wz` holding exactly one file, on all cores.
pub fn decompress_bytes(wz: &[u8]) -> Result<Vec<u8>> {
    decompress_bytes_with(wz, &ExtractOptions::default())
}

/// [`decompress_bytes`] with explicit options (e.g. one thread, as the lab
/// measures single-thread decode speed).
pub fn decompress_bytes_with(wz: &[u8], opts: &ExtractOptions) -> Result<Vec<u8>> {
    let archive = Archive::from_bytes(wz)?;
    let entry = match archive.index().entries.as_slice() {
        [entry] => entry,
        entries => {
            return Err(WzError::InvalidInput(format!(
                "archive holds {} files, expected exactly one",
                entries.len()
            )))
        }
    };
    let cap = usize::try_from(entry.size)
        .map_err(|_| WzError::InvalidInput("file too large for memory".into()))?;
    // The declared size is not trusted for a reservation: the vector grows
    // with what really decodes.
    let mut out = Vec::with_capacity(cap.min(64 << 20));
    archive.extract_entry_to(0, &mut out, opts)?;
    Ok(out)
}
