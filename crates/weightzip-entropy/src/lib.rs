//! Entropy measurement and static rANS coding for weightzip.
//!
//! The crate knows nothing of tensors or files: it codes byte-symbol streams.
//!
//! - [`histogram`](mod@histogram): symbol counts and Shannon entropies (the atlas numbers).
//! - [`FreqTable`]: frequency tables normalised to a power of two and their
//!   compact serialisation; [`EncodeTable`] / [`DecodeTable`] are the lookup
//!   tables the coders run on (optionally in an [`AliasShape`] layout).
//! - [`rans`]: a 32-lane interleaved rANS coder over one shared 16-bit word
//!   stream, with scalar, AVX2 and AVX-512 [`Kernel`]s; [`rans::fused`] holds
//!   the paths that fuse coding with the float codecs' word assembly.
//! - [`ctx_rans`]: the same construction with a table per symbol chosen by a
//!   context byte (and [`ctx_rans::periodic`], a table per position pattern).
//! - [`stream`]: a self-describing stream (raw, constant or rANS, whichever is
//!   smallest) that the codecs use for every symbol plane.
//! - [`ByteReader`]: the bounds-checked cursor every decoder reads with.
//!
//! `unsafe` code lives only in the `x86` modules (SIMD kernels behind
//! run-time CPU detection); the rest of the crate denies it.

#![deny(unsafe_code)]

pub mod bytes;
pub mod ctx_rans;
mod error;
pub mod histogram;
pub mod rans;
pub mod stream;
mod table;

pub use bytes::{read_at, write_varint, ByteReader};
pub use error::{EntropyError, Result};
pub use histogram::{conditional_entropy_bits, entropy_bits, histogram, Histogram};
pub use rans::Kernel;
pub use stream::{decode_stream, encode_stream, encode_stream_with, parse_stream, StreamMode};
pub use table::{
    AliasShape, DecodeTable, EncodeTable, FreqTable, ALIAS_BITS, ALIAS_SYMBOLS, DEFAULT_PROB_BITS,
    MAX_PROB_BITS, MIN_PROB_BITS,
};
