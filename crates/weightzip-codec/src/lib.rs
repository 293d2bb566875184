//! Tensor codecs for weightzip.
//!
//! A codec is a pair of plain functions over slices: `encode(data, out)`
//! appends a self-contained encoding of `data` to `out`, and
//! `decode(input, out)` fills `out` (whose length the caller knows from the
//! container) from exactly one encoding. Every codec accepts any input length
//! (a tail that does not fill a whole element is stored verbatim), so a chunk
//! boundary can never make a codec fail.
//!
//! [`registry`] maps stable numeric ids (written in `.wz` files) and names to
//! codecs in one table ([`CODECS`]); [`select`](mod@select) holds every codec choice
//! (which codec codes a tensor, how it is cut into chunks, the fallbacks).
//! `docs/GLOSSARY.md` fixes the words (chunk, layout, plane, stream, ...).

pub mod ctx;
pub mod error;
pub mod float;
pub mod generic;
pub mod gguf;
pub mod registry;
pub mod select;

pub use error::{CodecError, Result};
pub use registry::{codec_by_id, codec_by_name, CodecId, CodecInfo, Level, ALL_CODECS, CODECS};
pub use select::{codec_for, select, ChunkPlan, TensorPlan};
