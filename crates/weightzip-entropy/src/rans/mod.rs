//! Static order-0 rANS with [`LANES`] interleaved states over one shared
//! stream of 16-bit words (the "rans_word" construction).
//!
//! Symbol `i` belongs to lane `i % LANES`. The encoder walks the symbols
//! backwards and the decoder forwards, so the decoder reads words in exactly
//! the order it needs them, and lanes that are independent in the decoder
//! let the CPU (or SIMD lanes) overlap their table lookups.
//!
//! Payload layout: `LANES` final encoder states (u32 LE, lane order), then
//! the words (u16 LE) in decode order. Every state starts and ends at
//! [`RANS_L`], so a decoder that ends elsewhere has seen corrupt data.
//!
//! State invariants: states live in `[RANS_L, 2^32)`. With precision
//! `p <= 15` a decode step leaves the state at `>= 2^(16-p) >= 2`, so one
//! 16-bit refill always restores the invariant: exactly zero or one word per
//! symbol, which keeps the decode loop branch-free.
//!
//! # Kernels
//!
//! The hot loops exist in several implementations ([`Kernel`]): portable
//! scalar code, AVX2 (8 lanes per register, `vpgatherdd` table lookups and a
//! permutation table for the refill) and AVX-512 (16 lanes per register,
//! `vpexpandd` for the refill). They produce identical output and errors;
//! [`Kernel::best`] picks the fastest one the CPU supports at run time. A
//! group of 32 symbols takes the fast path only when the 64 bytes it may
//! read are in the payload, so no kernel reads out of bounds; the last
//! groups of a payload run the checked scalar code.
//!
//! [`Decoder`] decodes a payload block by block (no allocation, resumable),
//! and [`decode_pair`] runs two payloads in lock step, which gives the CPU
//! twice as many independent dependency chains to overlap.

mod decode;
mod encode;
pub mod fused;
mod fused_scalar;
mod kernel;
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
pub(crate) mod x86;

#[cfg(test)]
mod tests;

pub use decode::{decode, decode_many, decode_pair, decode_with, Decoder};
pub use encode::{encode, encode_pair, encode_then, encode_with, Payload};
pub use kernel::{Kernel, ALL_KERNELS};

/// Number of interleaved rANS states.
pub const LANES: usize = 32;
/// Lower bound of the normalised state interval.
pub const RANS_L: u32 = 1 << 16;
/// Bytes of the state header at the start of every payload.
pub const STATE_BYTES: usize = LANES * 4;
/// Bytes of words one group of [`LANES`] symbols reads at most.
const GROUP_WINDOW: usize = LANES * 2;
