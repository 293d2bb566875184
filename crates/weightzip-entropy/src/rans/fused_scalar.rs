//! The portable fused word decoder: [`super::fused::decode_pair_words`] in
//! plain Rust, for every CPU without a SIMD kernel (and the x86 ones when
//! the kernels do not apply).
//!
//! Per group of [`LANES`] values of each payload: every lane's packed
//! entry (`rank << 20 | freq << 8 | sym`), the state update, the refill
//! from the group's 64-byte window of words (a branch-free select, as the
//! plain scalar decoder), and the word `tops[sym + 64 * bit] | field`
//! written at once — the symbols never go to memory. The two payloads run
//! lane by lane side by side: two independent chains through the word
//! positions.

use super::fused::WordSink;
use super::{Decoder, GROUP_WINDOW, LANES, RANS_L};

/// Slots of the 12-bit tables this decoder runs on.
const SLOTS: usize = 1 << 12;

/// What one payload's group needs besides the states.
struct Group<'w> {
    window: &'w [u8; GROUP_WINDOW],
    /// Raw bit of value `l` at bit `l`.
    bits: u32,
    /// Fields of values `8c..8c + 8` in the low 48 bits of `fields[c]`.
    fields: [u64; 4],
}

impl<'w> Group<'w> {
    /// Group `g` of a sink's raw bits from word position `pos`, if its
    /// window of words is in `words`.
    fn at(words: &'w [u8], pos: usize, plane: &[u8], fields: &[u8], g: usize) -> Option<Self> {
        let window = words.get(pos..pos + GROUP_WINDOW)?.try_into().ok()?;
        let plane = plane.get(g * 4..g * 4 + 4)?;
        let packed = fields.get(g * 24..g * 24 + 24)?;
        let fields = std::array::from_fn(|c| {
            let mut b = [0u8; 8];
            b[..6].copy_from_slice(&packed[6 * c..6 * c + 6]);
            u64::from_le_bytes(b)
        });
        Some(Self {
            window,
            bits: u32::from_le_bytes([plane[0], plane[1], plane[2], plane[3]]),
            fields,
        })
    }
}

/// Eight lanes `8c..8c + 8` of one payload's group (`states` and `out`
/// hold 8 lanes and 16 bytes): the next states and the values' words;
/// returns the bytes of words used from `used` on.
#[inline(always)]
fn eight(
    packed: &[u32; SLOTS],
    tops: &[u16; 128],
    states: &mut [u32],
    g: &Group<'_>,
    c: usize,
    mut used: usize,
    out: &mut [u8],
) -> usize {
    let bits = g.bits >> (8 * c);
    let fields = g.fields[c];
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
        let w = u32::from(u16::from_le_bytes([g.window[at], g.window[at | 1]]));
        // A select (a conditional move), not a branch: a branch here
        // mispredicts on every other value.
        let refill = xn < RANS_L;
        *state = std::hint::select_unpredictable(refill, (xn << 16) | w, xn);
        used += usize::from(refill) << 1;
        let top = (e & 0x3f) as usize | (((bits >> j) & 1) << 6) as usize;
        let word = tops[top] | ((fields >> (6 * j)) & 0x3f) as u16;
        o.copy_from_slice(&word.to_le_bytes());
    }
    used
}

/// Decodes whole groups of both payloads into their sinks while both
/// decoders hold `64 * steps` more values, both sinks `steps` steps and
/// both payloads a group window; returns the values written per payload
/// (a multiple of 64). Both decoders must share one table whose packed
/// entries are at 12 bits with symbols below 64 (an alias table); else it
/// does nothing.
pub(super) fn decode_pair_words(
    decs: [&mut Decoder<'_>; 2],
    sinks: [&mut WordSink<'_>; 2],
    steps: usize,
) -> usize {
    let [a, b] = decs;
    let Ok(packed) = <&[u32; SLOTS]>::try_from(&a.table.packed[..]) else {
        return 0;
    };
    if !std::ptr::eq(a.table, b.table) || a.table.prob_bits != 12 || a.table.alias.is_none() {
        return 0;
    }
    let [sa, sb] = sinks;
    let tops = sa.tops;
    let (tops_b, out_a, out_b) = (sb.tops, &mut *sa.out, &mut *sb.out);
    let mut groups = 0;
    'groups: while groups < 2 * steps {
        // Whole steps of two groups: both windows of the step first.
        if groups % 2 == 0
            && (a.pos + 2 * GROUP_WINDOW > a.words.len()
                || b.pos + 2 * GROUP_WINDOW > b.words.len())
        {
            break 'groups;
        }
        let (Some(ga), Some(gb)) = (
            Group::at(a.words, a.pos, sa.plane, sa.fields, groups),
            Group::at(b.words, b.pos, sb.plane, sb.fields, groups),
        ) else {
            break 'groups;
        };
        let (oa, ob) = (
            &mut out_a[groups * 64..groups * 64 + 64],
            &mut out_b[groups * 64..groups * 64 + 64],
        );
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
            ua = eight(packed, tops, sa8, &ga, c, ua, oa8);
            ub = eight(packed, tops_b, sb8, &gb, c, ub, ob8);
        }
        a.pos += ua;
        b.pos += ub;
        groups += 1;
    }
    // With the step's windows checked and the sinks holding `steps`
    // steps, a step is never cut after its first group.
    groups * LANES
}
