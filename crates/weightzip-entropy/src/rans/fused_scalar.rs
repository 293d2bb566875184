//! The portable fused word decoders: [`super::fused::decode_pair_words`]
//! and [`super::fused::decode_pair_high_bytes`] in plain Rust, for every
//! CPU without a SIMD kernel (and the x86 ones when the kernels do not
//! apply).
//!
//! Per group of [`LANES`] values of each payload: every lane's packed
//! entry (`rank << 20 | freq << 8 | sym`), the state update, the refill
//! from the group's 64-byte window of words (a branch-free select, as the
//! plain scalar decoder), and the word (by its sink's [`PortableSink::word`]:
//! `tops[sym + 64 * bit] | field`, or a high byte and a low byte) written
//! at once — the symbols never go to memory. The two payloads run
//! lane by lane side by side: two independent chains through the word
//! positions.

use super::fused::{HighByteSink, WordSink};
use super::{Decoder, GROUP_WINDOW, LANES, RANS_L};

/// Slots of the 12-bit tables this decoder runs on.
const SLOTS: usize = 1 << 12;

/// One payload's sink as the portable decoder sees it (its output apart):
/// per group of 32 values, what the words need besides the symbols.
pub(super) trait PortableSink {
    /// A group's raw parts.
    type Group;
    /// The raw parts of 8 lanes of a group.
    type Lanes;
    /// Group `g`'s raw parts, if the sink holds them.
    fn group(&self, g: usize) -> Option<Self::Group>;
    /// Lanes `8c..8c + 8` of `group`.
    fn lanes(group: &Self::Group, c: usize) -> Self::Lanes;
    /// The word of lane `j` of `lanes`, whose symbol is `sym` (below 64).
    fn word(&self, lanes: &Self::Lanes, j: usize, sym: usize) -> u16;
}

/// The read-only parts of a [`WordSink`].
pub(super) struct WordParts<'a> {
    tops: &'a [u16; 128],
    plane: &'a [u8],
    fields: &'a [u8],
}

impl PortableSink for WordParts<'_> {
    /// Raw bit of value `l` at bit `l`; fields of values `8c..8c + 8` in
    /// the low 48 bits of `.1[c]`.
    type Group = (u32, [u64; 4]);

    fn group(&self, g: usize) -> Option<Self::Group> {
        let plane = self.plane.get(g * 4..g * 4 + 4)?;
        let packed = self.fields.get(g * 24..g * 24 + 24)?;
        let fields = std::array::from_fn(|c| {
            let mut b = [0u8; 8];
            b[..6].copy_from_slice(&packed[6 * c..6 * c + 6]);
            u64::from_le_bytes(b)
        });
        Some((
            u32::from_le_bytes([plane[0], plane[1], plane[2], plane[3]]),
            fields,
        ))
    }

    /// The 8 raw bits (bit `j`) and the 8 fields (bits `6j..6j + 6`).
    type Lanes = (u32, u64);

    #[inline(always)]
    fn lanes((bits, fields): &Self::Group, c: usize) -> Self::Lanes {
        (bits >> (8 * c), fields[c])
    }

    #[inline(always)]
    fn word(&self, (bits, fields): &Self::Lanes, j: usize, sym: usize) -> u16 {
        let top = sym | ((((bits >> j) & 1) as usize) << 6);
        self.tops[top] | ((fields >> (6 * j)) & 0x3f) as u16
    }
}

/// The read-only parts of a [`HighByteSink`].
pub(super) struct HighByteParts<'a> {
    highs: &'a [u8; 64],
    bits8: &'a [u8],
    bits9: &'a [u8],
    low: &'a [u8],
}

impl PortableSink for HighByteParts<'_> {
    /// Bits 8 and 9 of value `l` at bit `l`, and the 32 low bytes.
    type Group = (u32, u32, [u8; 32]);

    fn group(&self, g: usize) -> Option<Self::Group> {
        let word = |p: &[u8]| -> Option<u32> {
            let b = p.get(g * 4..g * 4 + 4)?;
            Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        let low = self.low.get(g * 32..g * 32 + 32)?.try_into().ok()?;
        Some((word(self.bits8)?, word(self.bits9)?, low))
    }

    /// Bits 8 and 9 of lane `j` at bit `j`, and the 8 low bytes.
    type Lanes = (u32, u32, [u8; 8]);

    #[inline(always)]
    fn lanes((b8, b9, low): &Self::Group, c: usize) -> Self::Lanes {
        let mut l = [0u8; 8];
        l.copy_from_slice(&low[8 * c..8 * c + 8]);
        (b8 >> (8 * c), b9 >> (8 * c), l)
    }

    #[inline(always)]
    fn word(&self, (b8, b9, low): &Self::Lanes, j: usize, sym: usize) -> u16 {
        let two = ((b8 >> j) & 1) | (((b9 >> j) & 1) << 1);
        (u16::from(self.highs[sym] | two as u8) << 8) | u16::from(low[j])
    }
}

/// Eight lanes `8c..8c + 8` of one payload's group (`states` and `out`
/// hold 8 lanes and 16 bytes): the next states and the values' words;
/// returns the bytes of words used from `used` on.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn eight<S: PortableSink>(
    packed: &[u32; SLOTS],
    sink: &S,
    group: &S::Group,
    window: &[u8; GROUP_WINDOW],
    states: &mut [u32],
    c: usize,
    mut used: usize,
    out: &mut [u8],
) -> usize {
    let lanes = S::lanes(group, c);
    for (j, (state, o)) in states
        .iter_mut()
        .zip(out.chunks_exact_mut(2))
        .take(8)
        .enumerate()
    {
        let x = *state;
        let e = packed[(x & (SLOTS as u32 - 1)) as usize];
        let xn = ((e >> 8) & 0xfff)
            .wrapping_mul(x >> 12)
            .wrapping_add(e >> 20);
        // `used` < 64 before the last lane; the mask only proves the bound.
        let at = used & (GROUP_WINDOW - 2);
        let w = u32::from(u16::from_le_bytes([window[at], window[at | 1]]));
        // A select (a conditional move), not a branch: a branch here
        // mispredicts on every other value.
        let refill = xn < RANS_L;
        *state = std::hint::select_unpredictable(refill, (xn << 16) | w, xn);
        used += usize::from(refill) << 1;
        let word = sink.word(&lanes, j, (e & 0x3f) as usize);
        o.copy_from_slice(&word.to_le_bytes());
    }
    used
}

/// Decodes whole groups of both payloads into their sinks (read-only parts
/// and outputs) while both decoders hold `64 * steps` more values, both
/// sinks `steps` steps and both payloads a group window; returns the
/// values written per payload (a multiple of 64). Both decoders must share
/// one table whose packed entries are at 12 bits with symbols below 64 (an
/// alias table); else it does nothing.
fn decode_pair_with<S: PortableSink>(
    decs: [&mut Decoder<'_>; 2],
    sinks: [(&S, &mut [u8]); 2],
    steps: usize,
) -> usize {
    let [a, b] = decs;
    let Ok(packed) = <&[u32; SLOTS]>::try_from(&a.table.packed[..]) else {
        return 0;
    };
    if !std::ptr::eq(a.table, b.table) || a.table.prob_bits != 12 || a.table.alias.is_none() {
        return 0;
    }
    let [(sa, out_a), (sb, out_b)] = sinks;
    let mut groups = 0;
    'groups: while groups < 2 * steps {
        // Whole steps of two groups: both windows of the step first.
        if groups % 2 == 0
            && (a.pos + 2 * GROUP_WINDOW > a.words.len()
                || b.pos + 2 * GROUP_WINDOW > b.words.len())
        {
            break 'groups;
        }
        let (Some(wa), Some(wb), Some(ga), Some(gb)) = (
            a.words
                .get(a.pos..a.pos + GROUP_WINDOW)
                .and_then(|w| <&[u8; GROUP_WINDOW]>::try_from(w).ok()),
            b.words
                .get(b.pos..b.pos + GROUP_WINDOW)
                .and_then(|w| <&[u8; GROUP_WINDOW]>::try_from(w).ok()),
            sa.group(groups),
            sb.group(groups),
        ) else {
            break 'groups;
        };
        let (Some(oa), Some(ob)) = (
            out_a.get_mut(groups * 64..groups * 64 + 64),
            out_b.get_mut(groups * 64..groups * 64 + 64),
        ) else {
            break 'groups;
        };
        let (mut ua, mut ub) = (0, 0);
        // Eight lanes of one payload, then of the other: two chains
        // through the word positions side by side.
        for (c, ((sa8, sb8), (oa8, ob8))) in a
            .states
            .chunks_exact_mut(8)
            .zip(b.states.chunks_exact_mut(8))
            .zip(oa.chunks_exact_mut(16).zip(ob.chunks_exact_mut(16)))
            .enumerate()
        {
            ua = eight(packed, sa, &ga, wa, sa8, c, ua, oa8);
            ub = eight(packed, sb, &gb, wb, sb8, c, ub, ob8);
        }
        a.pos += ua;
        b.pos += ub;
        groups += 1;
    }
    // With the step's windows checked and the sinks holding `steps`
    // steps, a step is never cut after its first group.
    groups * LANES
}

/// [`decode_pair_with`] for [`WordSink`]s.
pub(super) fn decode_pair_words(
    decs: [&mut Decoder<'_>; 2],
    sinks: [&mut WordSink<'_>; 2],
    steps: usize,
) -> usize {
    let [sa, sb] = sinks;
    let [pa, pb] = [&*sa, &*sb].map(|s| WordParts {
        tops: s.tops,
        plane: s.plane,
        fields: s.fields,
    });
    decode_pair_with(decs, [(&pa, &mut *sa.out), (&pb, &mut *sb.out)], steps)
}

/// [`decode_pair_with`] for [`HighByteSink`]s.
pub(super) fn decode_pair_high_bytes(
    decs: [&mut Decoder<'_>; 2],
    sinks: [&mut HighByteSink<'_>; 2],
    steps: usize,
) -> usize {
    let [sa, sb] = sinks;
    let [pa, pb] = [&*sa, &*sb].map(|s| HighByteParts {
        highs: s.highs,
        bits8: s.bits8,
        bits9: s.bits9,
        low: s.low,
    });
    decode_pair_with(decs, [(&pa, &mut *sa.out), (&pb, &mut *sb.out)], steps)
}
