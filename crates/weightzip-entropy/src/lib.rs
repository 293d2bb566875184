//! Entropy measurement and static order-0 rANS coding for weightzip.
//!
//! The crate knows nothing of tensors or files: it codes byte-symbol streams.
//!
//! - [`histogram`]: symbol counts and Shannon entropies (the atlas numbers).
//! - [`table`]: frequency tables normalised to a power of two, their compact
//!   serialisation, and the encode / decode lookup tables built from them.
//! - [`rans`]: a 32-lane interleaved rANS coder over one shared 16-bit word stream.
//! - [`stream`]: a self-describing stream (raw, constant or rANS, whichever is
//!   smallest) that the codecs use for every symbol plane.

pub mod alias;
pub mod error;
pub mod histogram;
pub mod multi;
pub mod rans;
pub mod stream;
pub mod table;
pub mod varint;
pub mod words;

pub use error::{EntropyError, Result};
pub use histogram::{entropy_bits, histogram, Histogram};
pub use stream::{decode_stream, encode_stream, encode_stream_with, StreamMode};
pub use table::{DecodeTable, EncodeTable, FreqTable};
