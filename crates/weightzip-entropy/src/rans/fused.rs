//! Coding fused with the 16-bit word assembly of the float codecs.
//!
//! The bf16 codecs split each value into a coded symbol, a raw bit and a
//! raw 6-bit field. These paths skip the symbol planes in memory:
//! [`encode_pair_keyed`] codes the symbols straight from the values (each
//! value's key looked up in a [`KeyedEncodeTable`]), and
//! [`decode_pair_words`] writes the values back straight from the decoder
//! states (through a [`WordSink`]). Both produce exactly the bytes of the
//! plain [`encode_pair`](super::encode_pair) / [`decode_pair`](super::decode_pair)
//! path plus the caller's own assembly.

use super::encode::EncodeState;
#[cfg(target_arch = "x86_64")]
use super::x86;
use super::{Decoder, Kernel, Payload};
use crate::error::{EntropyError, Result};
use crate::table::{EncodeTable, FastEncodeSymbol};

#[cfg(target_arch = "x86_64")]
pub use super::x86::words as simd;

/// Where a fused decoder writes one payload's values: value `i` becomes the
/// little-endian word `tops[symbol_i + 64 * bit_i] | field_i` at
/// `out[2 * i..]`, where `bit_i` is bit `i % 8` of `plane[i / 8]` and
/// `field_i` the 6 bits at bit `6 * i` of `fields` (little-endian bit
/// order). Symbols must be below 64.
pub struct WordSink<'a> {
    /// Top part of every (symbol, raw bit) pair at `symbol + 64 * bit`.
    pub tops: &'a [u16; 128],
    /// One raw bit per value.
    pub plane: &'a [u8],
    /// One 6-bit field per value.
    pub fields: &'a [u8],
    /// Two bytes per value.
    pub out: &'a mut [u8],
}

impl WordSink<'_> {
    /// Whole steps of 64 values the sink's slices hold (the fields are read
    /// 48 bytes per step).
    pub(crate) fn steps(&self) -> usize {
        (self.plane.len() / 8)
            .min(self.fields.len() / 48)
            .min(self.out.len() / 128)
    }
}

/// Codes the symbols of two runs of 16-bit little-endian values — each
/// value's symbol is that of its key `value >> shift` in a
/// [`KeyedEncodeTable`] — exactly as [`encode_pair`](super::encode_pair) codes the symbol
/// planes, without materialising them.
pub fn encode_pair_keyed<R>(
    values_a: &[u8],
    table_a: &KeyedEncodeTable,
    values_b: &[u8],
    table_b: &KeyedEncodeTable,
    kernel: Kernel,
    f: impl FnOnce(Payload<'_>, Payload<'_>) -> R,
) -> Result<R> {
    let kernel = kernel.or_supported();
    let (na, nb) = (values_a.len() / 2, values_b.len() / 2);
    super::encode::ENCODE_WORDS.with(|cell| {
        let mut scratch = cell.borrow_mut();
        if scratch.len() < na + nb {
            scratch.resize(na + nb, 0);
        }
        let (words_a, words_b) = scratch.split_at_mut(na);
        let mut ea = EncodeState::keyed(&values_a[..na * 2], table_a, words_a);
        let mut eb = EncodeState::keyed(&values_b[..nb * 2], table_b, &mut words_b[..nb]);
        #[cfg(target_arch = "x86_64")]
        if kernel == Kernel::Avx512 && ea.simd_ok() && eb.simd_ok() {
            let common = ea.groups_left.min(eb.groups_left);
            let (extra_a, extra_b) = (ea.groups_left - common, eb.groups_left - common);
            ea.groups(extra_a, kernel);
            eb.groups(extra_b, kernel);
            x86::encode_groups_avx512::<2>([&mut ea, &mut eb], common);
        }
        let (ga, gb) = (ea.groups_left, eb.groups_left);
        ea.groups(ga, kernel);
        eb.groups(gb, kernel);
        let (pa, pb) = (ea.finish()?, eb.finish()?);
        Ok(f(pa, pb))
    })
}

/// An encoder table looked up by a key of each 16-bit value (`value >>
/// shift`) instead of by a symbol byte.
#[derive(Clone, Debug)]
pub struct KeyedEncodeTable {
    pub(super) prob_bits: u32,
    pub(super) shift: u32,
    pub(super) fast: Vec<FastEncodeSymbol>,
    pub(super) start_freq: Vec<u32>,
    pub(super) slot_of_rank: Option<Vec<u32>>,
}

impl KeyedEncodeTable {
    /// `symbol_of_key[k]` is the symbol (in `table`) of the values whose key
    /// is `k`, or any value above 255 for keys without a symbol (coding
    /// such a value is an error). Its length must be `2^(16 - shift)`.
    pub fn new(table: &EncodeTable, symbol_of_key: &[u16], shift: u32) -> Result<Self> {
        if shift > 15 || symbol_of_key.len() != 1 << (16 - shift) {
            return Err(EntropyError::InvalidArgument(format!(
                "{} keys for a shift of {shift}",
                symbol_of_key.len()
            )));
        }
        let none = FastEncodeSymbol::default();
        let fast: Vec<FastEncodeSymbol> = symbol_of_key
            .iter()
            .map(|&s| table.fast.get(usize::from(s)).copied().unwrap_or(none))
            .collect();
        let start_freq = fast.iter().map(|f| f.start_freq).collect();
        Ok(Self {
            prob_bits: table.prob_bits,
            shift,
            fast,
            start_freq,
            slot_of_rank: table.slot_of_rank.clone(),
        })
    }
}

/// Decodes the next symbols of two decoders that share one alias table
/// ([`DecodeTable::alias`](crate::DecodeTable::alias)) straight into 16-bit words (see
/// [`WordSink`]), in whole steps of 64 values of each, as many as both
/// decoders and sinks hold and the payloads' words allow. Returns how many
/// values of each it wrote (a multiple of 64; 0 if the decoders do not
/// share one 12-bit alias table). The decoders continue after those
/// values; the caller decodes the rest (with
/// [`decode_pair`](super::decode_pair)) and assembles it itself. Kernels:
/// AVX-512 VBMI, AVX2 (when `tops[s + 64] = tops[s] ^ D` for one `D` with
/// no bit below 6, as in the float codecs), else portable code.
///
/// This is [`decode_pair`](super::decode_pair) plus the assembly of the words in one pass: the
/// symbols never go to memory, and the stores of the words overlap the
/// arithmetic of the next steps.
pub fn decode_pair_words<'a, 's>(
    a: &mut Decoder<'a>,
    sink_a: &mut WordSink<'s>,
    b: &mut Decoder<'a>,
    sink_b: &mut WordSink<'s>,
    kernel: Kernel,
) -> usize {
    #[cfg(target_arch = "x86_64")]
    let done = x86::decode_pair_words(
        kernel.or_supported(),
        [&mut *a, &mut *b],
        [&mut *sink_a, &mut *sink_b],
    );
    #[cfg(not(target_arch = "x86_64"))]
    let done = {
        let _ = kernel;
        0
    };
    a.left -= done;
    b.left -= done;
    if done > 0 {
        return done;
    }
    // No SIMD kernel ran: the portable one.
    let steps = (a.left / 64)
        .min(b.left / 64)
        .min(sink_a.steps())
        .min(sink_b.steps());
    let done = super::fused_scalar::decode_pair_words([&mut *a, &mut *b], [sink_a, sink_b], steps);
    a.left -= done;
    b.left -= done;
    done
}

/// Where a fused decoder writes the new words of one payload of an
/// escape-coded 16-bit delta: the decoded symbol `s` of value `i` gives its
/// delta word `z = v << k | raw` — `v` is `s` itself below `escape`, else
/// the next escaped word `hi[used] << 8 | lo[used]` (then `used` counts
/// it); `k` is the number of `raw_bits` planes and bit `j` of `raw` is bit
/// `i % 8` of byte `i / 8` of plane `j` — and the base word
/// `b` at `words[2 * i..]` (or `base[2 * i..]`) gives the new word
/// `unordered(ordered(b) + unzigzag(z))` at `words[2 * i..]`
/// (`ordered(w) = w ^ (sign fill | 0x8000)`, its inverse
/// `o ^ (!sign fill | 0x8000)`, `unzigzag(z) = (z >> 1) ^ -(z & 1)`, all
/// modulo 2^16).
pub struct EscapeSink<'a> {
    /// Two bytes per value: the new ones on return; on entry the base's,
    /// unless `base` holds them.
    pub words: &'a mut [u8],
    /// The base words, when they are not in `words` (at least as long).
    pub base: Option<&'a [u8]>,
    /// The escape symbol.
    pub escape: u8,
    /// High bytes of the escaped words, from this payload's first.
    pub hi: &'a [u8],
    /// Their low bytes.
    pub lo: &'a [u8],
    /// Escaped words taken so far.
    pub used: usize,
    /// The raw low bits of the delta words, one plane per bit (at most
    /// [`MAX_RAW_BITS`]; none: `z = v`), from this sink's first value.
    pub raw_bits: &'a [&'a [u8]],
}

/// Most raw low-bit planes of an [`EscapeSink`].
pub const MAX_RAW_BITS: usize = 4;

impl EscapeSink<'_> {
    /// Whole steps of 64 values the sink's words (and base, and raw-bit
    /// planes) hold; none with more than [`MAX_RAW_BITS`] planes.
    pub(crate) fn steps(&self) -> usize {
        if self.raw_bits.len() > MAX_RAW_BITS {
            return 0;
        }
        let planes = self.raw_bits.iter().map(|p| p.len() / 8).min();
        (self
            .words
            .len()
            .min(self.base.map_or(usize::MAX, <[u8]>::len))
            / 128)
            .min(planes.unwrap_or(usize::MAX))
    }
}

/// Decodes the next symbols of two decoders that share one alias table
/// straight into the new words of an escape-coded delta (see
/// [`EscapeSink`]), in whole steps of 64 values of each, as many as both
/// decoders and sinks hold and the escaped words allow. Returns how many
/// values of each it wrote (a multiple of 64; 0 where the kernel does not
/// run: AVX-512 VBMI and VBMI2 and one shared 12-bit alias table are
/// needed). The decoders continue after those values, and the sinks'
/// `used` after the escaped words taken; the caller decodes and combines
/// the rest.
pub fn decode_pair_escaped<'a, 's>(
    a: &mut Decoder<'a>,
    sink_a: &mut EscapeSink<'s>,
    b: &mut Decoder<'a>,
    sink_b: &mut EscapeSink<'s>,
    kernel: Kernel,
) -> usize {
    #[cfg(target_arch = "x86_64")]
    let done =
        x86::decode_pair_escaped(kernel.or_supported(), [&mut *a, &mut *b], [sink_a, sink_b]);
    #[cfg(not(target_arch = "x86_64"))]
    let done = {
        let _ = (kernel, sink_a, sink_b);
        0
    };
    a.left -= done;
    b.left -= done;
    done
}

/// Where a fused decoder writes one payload's 16-bit values with a coded
/// high part: value `i` becomes the little-endian word whose high byte is
/// `highs[symbol_i] | bit8_i | bit9_i << 1` and low byte `low[i]`, where
/// `bit8_i` and `bit9_i` are bit `i % 8` of byte `i / 8` of `bits8` and
/// `bits9`. Symbols must be below 64, and `highs` have their low two bits
/// clear.
pub struct HighByteSink<'a> {
    /// High byte of every symbol (its low two bits clear).
    pub highs: &'a [u8; 64],
    /// Bit 8 of every value.
    pub bits8: &'a [u8],
    /// Bit 9 of every value.
    pub bits9: &'a [u8],
    /// One raw low byte per value.
    pub low: &'a [u8],
    /// Two bytes per value.
    pub out: &'a mut [u8],
}

impl HighByteSink<'_> {
    /// Whole steps of 64 values the sink's slices hold.
    pub(crate) fn steps(&self) -> usize {
        (self.bits8.len() / 8)
            .min(self.bits9.len() / 8)
            .min(self.low.len() / 64)
            .min(self.out.len() / 128)
    }
}

/// Decodes the next symbols of two decoders that share one alias table
/// straight into 16-bit values (see [`HighByteSink`]), in whole steps of 64
/// values of each, as many as both decoders and sinks hold and the
/// payloads' words allow. Returns how many values of each it wrote (a
/// multiple of 64; 0 unless both decoders share one 12-bit alias table).
/// Kernels: AVX-512 VBMI, AVX2, else portable code. The decoders continue
/// after those values; the caller decodes and assembles the rest.
pub fn decode_pair_high_bytes<'a, 's>(
    a: &mut Decoder<'a>,
    sink_a: &mut HighByteSink<'s>,
    b: &mut Decoder<'a>,
    sink_b: &mut HighByteSink<'s>,
    kernel: Kernel,
) -> usize {
    #[cfg(target_arch = "x86_64")]
    let done = x86::decode_pair_high_bytes(
        kernel.or_supported(),
        [&mut *a, &mut *b],
        [&mut *sink_a, &mut *sink_b],
    );
    #[cfg(not(target_arch = "x86_64"))]
    let done = {
        let _ = kernel;
        0
    };
    a.left -= done;
    b.left -= done;
    if done > 0 {
        return done;
    }
    // No SIMD kernel ran: the portable one.
    let steps = (a.left / 64)
        .min(b.left / 64)
        .min(sink_a.steps())
        .min(sink_b.steps());
    let done =
        super::fused_scalar::decode_pair_high_bytes([&mut *a, &mut *b], [sink_a, sink_b], steps);
    a.left -= done;
    b.left -= done;
    done
}
