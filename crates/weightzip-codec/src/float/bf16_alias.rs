//! `wz_bf16a`: bf16 as one alias-coded symbol of 9 bits per value, one raw
//! bit and 6 raw low mantissa bits — the fastest bf16 codec to decode.
//!
//! The 9 coded bits are the exponent and one neighbour: the top mantissa
//! bit (layouts [`EXP_M6`], [`EXP_M6_WIDE`]) or the sign ([`SIGN_EXP`],
//! [`SIGN_EXP_WIDE`]), whichever gives the smaller entropy for the chunk
//! (the sign depends on the exponent in norms and biases, the top mantissa
//! bit in weight matrices). The symbols are coded with an alias-layout
//! rANS table ([`weightzip_entropy::AliasShape`]), which an AVX-512 decoder
//! looks up with register permutes instead of gathers:
//! - the wide layouts keep the 32 most frequent 9-bit values (a 32-bucket
//!   table, the fastest to decode) and list every other value as a patch,
//!   chosen while patches are at most one value in 2048; in
//!   trained tensors (~45–55 values present) they are ~0.02 %;
//! - else layouts 2 and 3 code every 9-bit value present if there are at
//!   most 64 (a 64-bucket table);
//! - else the chunk is coded as [`super::bf16_joint`] (layout bytes 0 and 1,
//!   that codec's bytes exactly).
//!
//! Layout after the common header (`n`, tail): `layout: u8`, then for
//! layouts 2 to 5: `count - 1: u8` (2..=64 symbols, 2..=32 for the wide
//! layouts 4 and 5); the `count` coded 9-bit values in ascending order as
//! varints (the first, then each difference); the frequency table (12-bit
//! precision, symbols below `count`); `m: varint`, the values in the first
//! half (a multiple of 32, not above `n - m`); `len: varint` and the rANS
//! payload of the symbols of values `0..m`, then the same for `m..n` (both
//! coded with the one table, decoded in lock step); for layouts 4 and 5
//! only, the patches: their count as a varint, then per patch the gap from
//! the previous patched value's index + 1 (from 0 for the first) and its
//! 9-bit value, both varints (the symbol coded for a patched value is the
//! most frequent one, and the patch replaces its 9 bits); the raw bit of
//! every value (`ceil(n / 8)` bytes, value `i` at bit `i % 8` of byte
//! `i / 8`); the low 6 bits of every value as in `wz_bf16j`
//! (`ceil(6n / 8)` bytes, value `i` at bit `6i`).

use std::cell::RefCell;

use weightzip_entropy::rans;
use weightzip_entropy::rans::fused::{self, WordSink};
use weightzip_entropy::{entropy_bits, read_at, write_varint, ByteReader, EncodeTable};
use weightzip_entropy::{AliasShape, ALIAS_BITS, ALIAS_SYMBOLS};

use super::*;

const NAME: &str = "wz_bf16a";
/// Layout byte: the symbol is bits 14..6 (exponent, top mantissa bit); the
/// raw bit is the sign.
pub const EXP_M6: u8 = 2;
/// Layout byte: the symbol is bits 15..7 (sign, exponent); the raw bit is
/// the top mantissa bit.
pub const SIGN_EXP: u8 = 3;
/// Layout byte: as [`EXP_M6`], with at most 32 symbols (a 32-bucket alias
/// table) and the rarer fields as patches.
pub const EXP_M6_WIDE: u8 = 4;
/// Layout byte: as [`SIGN_EXP`], with at most 32 symbols and patches.
pub const SIGN_EXP_WIDE: u8 = 5;
/// Symbols of a wide layout's table.
const WIDE_SYMBOLS: usize = 32;
/// A wide layout is chosen while its patched values are at most one in
/// this many: each costs ~3 bytes more than a coded symbol, so this keeps
/// the cost below ~0.1 % of the output.
const PATCH_RARITY: usize = 2048;
/// Raw low bits per value besides the raw bit.
const LOW: usize = 6;
/// Keys of the histogram: the top 10 bits of a value.
const KEYS: usize = 1 << 10;

/// The 9-bit symbol value of a 10-bit key under `layout`.
fn field_of_key(layout: u8, key: usize) -> usize {
    if layout == EXP_M6 {
        key & 0x1ff
    } else {
        key >> 1
    }
}

/// Bit position of the raw bit under `layout`.
fn raw_bit(layout: u8) -> u32 {
    if layout == EXP_M6 {
        15
    } else {
        6
    }
}

/// The top 10 bits of value `(field, raw bit)` under `layout`, in place.
fn top_of(layout: u8, field: u16, bit: u16) -> u16 {
    if layout == EXP_M6 {
        (bit << 15) | (field << 6)
    } else {
        (field << 7) | (bit << 6)
    }
}

/// Appends the encoding of `data` (little-endian bf16 values).
pub fn encode(data: &[u8], out: &mut Vec<u8>) -> Result<()> {
    let n = write_header::<2>(data, out);
    let values = &data[..n * 2];
    // The first half is a whole number of rANS groups.
    let m = n / 64 * 32;
    // A wide layout needs no exact counts (a value outside its alphabet is
    // patched, and the table only needs the proportions): try one chosen
    // from every fourth value first, a quarter of the exact histogram's
    // cost. It stands unless its patches pass twice the rarity limit (the
    // sample missed too much); then, as for the other layouts, the exact
    // histogram decides.
    let start = out.len();
    let sample = sampled_keys(values);
    let sampled = sample.iter().sum::<u64>() as usize;
    if let Some((layout, alphabet)) = choose_layout(&sample, sampled) {
        if layout != base(layout) {
            let fields = field_histogram(&sample, base(layout));
            let limit = 2 * (n / PATCH_RARITY);
            if encode_alias(values, m, &fields, &alphabet, layout, limit, out)? {
                return Ok(());
            }
            out.truncate(start);
        }
    }
    let (ha, hb) = bf16_joint::top_histograms(values, m);
    let mut keys = [0u64; KEYS];
    for (k, (a, b)) in keys.iter_mut().zip(ha.iter().zip(&hb)) {
        *k = a + b;
    }
    match choose_layout(&keys, n) {
        Some((layout, alphabet)) => {
            let fields = field_histogram(&keys, base(layout));
            encode_alias(values, m, &fields, &alphabet, layout, n, out).map(|_| ())
        }
        None => bf16_joint::encode_body(values, out),
    }
}

/// The histogram of the top 10 bits of every fourth value (values 0 and 4
/// of every 8, two tables against store-to-load chains).
fn sampled_keys(values: &[u8]) -> [u64; KEYS] {
    let mut sub = [[0u64; KEYS]; 2];
    let mut eights = values.chunks_exact(16);
    for v in &mut eights {
        sub[0][usize::from(u16::from_le_bytes([v[0], v[1]]) >> 6)] += 1;
        sub[1][usize::from(u16::from_le_bytes([v[8], v[9]]) >> 6)] += 1;
    }
    if let [a, b, ..] = eights.remainder() {
        sub[0][usize::from(u16::from_le_bytes([*a, *b]) >> 6)] += 1;
    }
    let [mut keys, other] = sub;
    for (k, o) in keys.iter_mut().zip(other) {
        *k += o;
    }
    keys
}

/// The wide layout of a 64-symbol `layout`.
fn wide(layout: u8) -> u8 {
    if layout == EXP_M6 {
        EXP_M6_WIDE
    } else {
        SIGN_EXP_WIDE
    }
}

/// The 64-symbol layout whose fields and raw bit `layout` uses.
fn base(layout: u8) -> u8 {
    match layout {
        EXP_M6_WIDE => EXP_M6,
        SIGN_EXP_WIDE => SIGN_EXP,
        other => other,
    }
}

/// The 9-bit value histogram of `layout`.
fn field_histogram(keys: &[u64; KEYS], layout: u8) -> [u64; 512] {
    let mut h = [0u64; 512];
    for (k, &c) in keys.iter().enumerate() {
        h[field_of_key(layout, k)] += c;
    }
    h
}

/// The layout with the smaller entropy of the fields among [`EXP_M6`] and
/// [`SIGN_EXP`], in its wide form if at most one value in
/// [`PATCH_RARITY`] of `n` has a field outside the 32 most frequent, else
/// as is if its alphabet fits (2..=64 symbols); and its alphabet
/// (ascending). `None` if neither fits.
fn choose_layout(keys: &[u64; KEYS], n: usize) -> Option<(u8, Vec<u16>)> {
    [EXP_M6, SIGN_EXP]
        .into_iter()
        .filter_map(|layout| {
            let h = field_histogram(keys, layout);
            let mut alphabet: Vec<u16> = (0..512u16).filter(|&f| h[f as usize] > 0).collect();
            if alphabet.len() < 2 {
                return None;
            }
            // Most frequent first; ties by value, so the choice is a pure
            // function of the histogram.
            alphabet.sort_by_key(|&f| (std::cmp::Reverse(h[f as usize]), f));
            let patched: u64 = alphabet[WIDE_SYMBOLS.min(alphabet.len())..]
                .iter()
                .map(|&f| h[f as usize])
                .sum();
            let layout = if patched <= (n / PATCH_RARITY) as u64 {
                alphabet.truncate(WIDE_SYMBOLS);
                wide(layout)
            } else if alphabet.len() <= ALIAS_SYMBOLS {
                layout
            } else {
                return None;
            };
            alphabet.sort_unstable();
            Some((entropy_bits(&h), layout, alphabet))
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, layout, alphabet)| (layout, alphabet))
}

/// Codes `values` under `layout` with `alphabet` (ascending) and the
/// proportions of the `fields` histogram. With a wide layout, values whose
/// field is not in the alphabet are coded as its most frequent symbol and
/// listed as patches; if there are more than `patch_limit`, it stops and
/// returns `false`, leaving a partial encoding in `out`.
fn encode_alias(
    values: &[u8],
    m: usize,
    fields: &[u64; 512],
    alphabet: &[u16],
    layout: u8,
    patch_limit: usize,
    out: &mut Vec<u8>,
) -> Result<bool> {
    let n = values.len() / 2;
    let shape = if layout == base(layout) {
        AliasShape::Narrow
    } else {
        AliasShape::Wide
    };
    out.push(layout);
    write_alphabet(alphabet, out);
    // Fields outside the alphabet map to a symbol the table lacks.
    let mut symbol_of_field = [u8::MAX; 512];
    let mut counts = [0u64; 256];
    for (i, &f) in alphabet.iter().enumerate() {
        symbol_of_field[f as usize] = i as u8;
        counts[i] = fields[f as usize];
    }
    let patched: u64 = fields.iter().sum::<u64>() - counts.iter().sum::<u64>();
    // Patched values are coded as the most frequent symbol (the first of
    // equals), the cheapest.
    let common = (0..alphabet.len())
        .max_by_key(|&i| (counts[i], std::cmp::Reverse(i)))
        .unwrap_or(0) as u8;
    counts[usize::from(common)] += patched;
    let table = FreqTable::from_counts(&counts, ALIAS_BITS).in_codec(NAME)?;
    table.write(out);
    write_varint(out, m as u64);
    let encode_table = EncodeTable::alias(&table, shape).in_codec(NAME)?;
    // The symbols as bytes first (64 per step with byte permutes): the rANS
    // encoder then finds a symbol's entry in registers, not by a gather.
    let coded = SYMBOLS.with(|cell| {
        let mut symbols = cell.borrow_mut();
        symbols.resize(n, 0);
        symbol_bytes(values, base(layout), &symbol_of_field, &mut symbols);
        let mut patches = Vec::new();
        if shape == AliasShape::Wide {
            // Patched values are rare: skip the blocks without one. (A
            // maximum of bytes vectorises; `contains` stops early and does
            // not.)
            let shift = field_shift(base(layout));
            for (b, block) in symbols.chunks_mut(256).enumerate() {
                if block.iter().fold(0u8, |m, &s| m.max(s)) != u8::MAX {
                    continue;
                }
                for (j, s) in block.iter_mut().enumerate() {
                    if *s == u8::MAX {
                        let i = b * 256 + j;
                        let v = u16::from_le_bytes([values[2 * i], values[2 * i + 1]]);
                        patches.push((i, (v >> shift) & 0x1ff));
                        *s = common;
                    }
                }
                if patches.len() > patch_limit {
                    return Ok(false);
                }
            }
        }
        let (a, b) = symbols.split_at(m);
        rans::encode_pair(
            a,
            &encode_table,
            b,
            &encode_table,
            Kernel::best(),
            |pa, pb| {
                for p in [pa, pb] {
                    write_varint(out, p.len() as u64);
                    p.write_to(out);
                }
            },
        )
        .in_codec(NAME)?;
        if shape == AliasShape::Wide {
            write_patches(&patches, out);
        }
        Ok(true)
    })?;
    if !coded {
        return Ok(false);
    }
    let at = out.len();
    out.resize(at + n.div_ceil(8) + (n * LOW).div_ceil(8), 0);
    let (plane, low) = out[at..].split_at_mut(n.div_ceil(8));
    pack_raw(values, raw_bit(base(layout)), plane, low);
    Ok(true)
}

/// Writes the patches of a wide layout: their count, then per patch the
/// gap to the previous patched value (the index of the first) and the
/// field, as varints.
fn write_patches(patches: &[(usize, u16)], out: &mut Vec<u8>) {
    write_varint(out, patches.len() as u64);
    let mut next = 0;
    for &(i, field) in patches {
        write_varint(out, (i - next) as u64);
        write_varint(out, u64::from(field));
        next = i + 1;
    }
}

/// Reads the patches written by [`write_patches`] for `n` values: indices
/// ascending and below `n`, fields below 512.
fn read_patches(input: &[u8], pos: &mut usize, n: usize) -> Result<Vec<(usize, u16)>> {
    let corrupt = |offset: usize, reason: String| CodecError::Corrupt {
        codec: NAME,
        offset,
        reason,
    };
    let at = *pos;
    let count = read_at(input, pos, ByteReader::varint).in_codec(NAME)?;
    // Each patch takes at least two bytes: bound the count before allocating.
    let count = usize::try_from(count)
        .ok()
        .filter(|&c| c <= n && c <= input.len().saturating_sub(*pos) / 2)
        .ok_or_else(|| corrupt(at, format!("{count} patches")))?;
    let mut patches = Vec::with_capacity(count);
    let mut next = 0usize;
    for _ in 0..count {
        let at = *pos;
        let gap = read_at(input, pos, ByteReader::varint).in_codec(NAME)?;
        let field = read_at(input, pos, ByteReader::varint).in_codec(NAME)?;
        let i = usize::try_from(gap)
            .ok()
            .and_then(|g| next.checked_add(g))
            .filter(|&i| i < n)
            .ok_or_else(|| corrupt(at, format!("patch {gap} values past {next} of {n}")))?;
        let field = u16::try_from(field)
            .ok()
            .filter(|&f| f < 512)
            .ok_or_else(|| corrupt(at, format!("patch field {field}")))?;
        patches.push((i, field));
        next = i + 1;
    }
    Ok(patches)
}

thread_local! {
    /// Symbol scratch of the encoder, reused across chunks.
    static SYMBOLS: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Writes the symbol of every value (`symbol_of_field` of its 9-bit field
/// under `layout`) to `out`.
fn symbol_bytes(values: &[u8], layout: u8, symbol_of_field: &[u8; 512], out: &mut [u8]) {
    // Only x86 has SIMD parts to do first.
    #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if Kernel::best() == Kernel::Avx512 {
        done = x86::symbol_bytes(values, field_shift(layout), symbol_of_field, out);
    }
    let shift = field_shift(layout);
    for (o, v) in out[done..]
        .iter_mut()
        .zip(values[done * 2..].chunks_exact(2))
    {
        let field = (u16::from_le_bytes([v[0], v[1]]) >> shift) & 0x1ff;
        *o = symbol_of_field[usize::from(field)];
    }
}

/// The shift that brings a value's 9-bit field to bit 0 under `layout`.
fn field_shift(layout: u8) -> u32 {
    if layout == EXP_M6 {
        6
    } else {
        7
    }
}

/// Writes the raw bit (`bit`) of every value to `plane` and its low 6 bits
/// to `low` (see the layout; both zeroed past the last value).
fn pack_raw(values: &[u8], bit: u32, plane: &mut [u8], low: &mut [u8]) {
    // Only x86 has SIMD parts to do first.
    #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if Kernel::best() == Kernel::Avx512 {
        done = x86::pack_raw(values, bit, plane, low);
    }
    let values = &values[done * 2..];
    pack_bit(values, bit, &mut plane[done / 8..]);
    bf16_joint::pack_low(values, &mut low[done / 8 * LOW..]);
}

/// Writes bit `bit` of every value to `plane`, value `i` at bit `i % 8` of
/// byte `i / 8` (`plane` is zeroed beyond the last value).
pub(super) fn pack_bit(values: &[u8], bit: u32, plane: &mut [u8]) {
    // The bits of four values, 16 apart after the shift, meet in bits
    // 48..52 of one product: the partial products land on distinct bits,
    // so nothing carries into them.
    const GATHER: u64 = (1 << 48) | (1 << 33) | (1 << 18) | (1 << 3);
    let four =
        |x: u64| ((((x >> bit) & 0x0001_0001_0001_0001).wrapping_mul(GATHER) >> 48) & 0xf) as u8;
    let mut eights = values.chunks_exact(16);
    for (v, o) in (&mut eights).zip(plane.iter_mut()) {
        let lo = u64::from_le_bytes(v[..8].try_into().expect("8 bytes"));
        let hi = u64::from_le_bytes(v[8..].try_into().expect("8 bytes"));
        *o = four(lo) | (four(hi) << 4);
    }
    let rest = eights.remainder();
    if !rest.is_empty() {
        let mut byte = 0u8;
        for (k, v) in rest.chunks_exact(2).enumerate() {
            byte |= (((u16::from_le_bytes([v[0], v[1]]) >> bit) & 1) as u8) << k;
        }
        plane[values.len() / 16] = byte;
    }
}

/// Decodes one encoding into `out`.
pub fn decode(input: &[u8], out: &mut [u8]) -> Result<()> {
    decode_with(input, out, Kernel::best())
}

/// [`decode`] with an explicit kernel (tests run every one).
pub fn decode_with(input: &[u8], out: &mut [u8], kernel: Kernel) -> Result<()> {
    let (n, tail, pos) = parse_header::<2>(NAME, input, out.len())?;
    let (body, rest) = out.split_at_mut(n * 2);
    let layout = *input.get(pos).ok_or_else(|| CodecError::Corrupt {
        codec: NAME,
        offset: pos,
        reason: "truncated layout byte".into(),
    })?;
    match layout {
        EXP_M6 | SIGN_EXP | EXP_M6_WIDE | SIGN_EXP_WIDE => {
            decode_alias(input, pos + 1, layout, body, kernel)?
        }
        _ => bf16_joint::decode_body(input, pos, body, kernel)?,
    }
    rest.copy_from_slice(tail);
    Ok(())
}

fn decode_alias(
    input: &[u8],
    mut pos: usize,
    layout: u8,
    body: &mut [u8],
    kernel: Kernel,
) -> Result<()> {
    let n = body.len() / 2;
    let corrupt = |offset: usize, reason: String| CodecError::Corrupt {
        codec: NAME,
        offset,
        reason,
    };
    let at = pos;
    let alphabet = read_alphabet(NAME, input, &mut pos, 512)?;
    let count = alphabet.len();
    let (shape, fields) = if layout == base(layout) {
        (AliasShape::Narrow, layout)
    } else {
        (AliasShape::Wide, base(layout))
    };
    if !(2..=shape.buckets()).contains(&count) {
        return Err(corrupt(at, format!("alphabet of {count} symbols")));
    }
    // Top part of every (symbol, raw bit) pair, at index symbol + 64 * bit.
    let mut tops = [0u16; 2 * ALIAS_SYMBOLS];
    for (i, &f) in alphabet.iter().enumerate() {
        tops[i] = top_of(fields, f, 0);
        tops[ALIAS_SYMBOLS + i] = top_of(fields, f, 1);
    }
    let at = pos;
    let table = read_at(input, &mut pos, FreqTable::read).in_codec(NAME)?;
    if !shape.fits(&table) || table.freqs()[count..].iter().any(|&f| f != 0) {
        return Err(corrupt(
            at,
            "frequency table outside the alphabet or not an alias table".into(),
        ));
    }
    let m = read_first_half(NAME, input, &mut pos, n)?;
    let payloads = read_payload_pair(NAME, input, &mut pos)?;
    let patches = if shape == AliasShape::Wide {
        read_patches(input, &mut pos, n)?
    } else {
        Vec::new()
    };
    let (plane_len, low_len) = (n.div_ceil(8), (n * LOW).div_ceil(8));
    if input.len() != pos + plane_len + low_len {
        return Err(corrupt(
            pos,
            format!(
                "{} bytes of raw bits, expected {}",
                input.len().saturating_sub(pos),
                plane_len + low_len
            ),
        ));
    }
    let (plane, low) = input[pos..].split_at(plane_len);
    let dt = DecodeTable::alias(&table, shape).in_codec(NAME)?;
    let mut da = Decoder::new(payloads[0], &dt, m).in_codec(NAME)?;
    let mut db = Decoder::new(payloads[1], &dt, n - m).in_codec(NAME)?;
    let (body_a, body_b) = body.split_at_mut(m * 2);
    // The bulk in one fused pass where the CPU has it, then the rest block
    // by block: symbols to a buffer, then the merge.
    let start = fused::decode_pair_words(
        &mut da,
        &mut WordSink {
            tops: &tops,
            plane,
            fields: low,
            out: body_a,
        },
        &mut db,
        &mut WordSink {
            tops: &tops,
            plane: &plane[m / 8..],
            fields: &low[m / 8 * LOW..],
            out: body_b,
        },
        kernel,
    );
    decode_rest_in_blocks(NAME, [da, db], m, n, start, kernel, |first, symbols| {
        // `first` is a multiple of 32: its bits start on a byte.
        merge(
            &tops,
            symbols,
            &plane[first / 8..],
            &low[first / 8 * LOW..],
            &mut body[first * 2..(first + symbols.len()) * 2],
            kernel,
        );
    })?;
    let shift = field_shift(fields);
    for (i, field) in patches {
        let v = u16::from_le_bytes([body[2 * i], body[2 * i + 1]]);
        let v = (v & !(0x1ff << shift)) | (field << shift);
        body[2 * i..2 * i + 2].copy_from_slice(&v.to_le_bytes());
    }
    Ok(())
}

/// Writes value `i` = `tops[symbols[i] + 64 * bit_i] | low_i` for every
/// symbol, the raw bits read from `plane` and `low` (both start at value 0
/// and may run past the last value).
fn merge(
    tops: &[u16; 2 * ALIAS_SYMBOLS],
    symbols: &[u8],
    plane: &[u8],
    low: &[u8],
    out: &mut [u8],
    kernel: Kernel,
) {
    // Only x86 has SIMD parts to do first.
    #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if kernel == Kernel::Avx512 {
        done = x86::merge_alias(tops, symbols, plane, low, out);
    }
    let _ = kernel;
    let (symbols, plane, low, out) = (
        &symbols[done..],
        &plane[done / 8..],
        &low[done / 8 * LOW..],
        &mut out[done * 2..],
    );
    // Eight values per step: one plane byte, 6 bytes of low bits.
    let value = |sym: u8, bit: u8, low: u64| -> [u8; 2] {
        let idx = usize::from(sym & 0x3f) + ALIAS_SYMBOLS * usize::from(bit & 1);
        (tops[idx] | (low & 0x3f) as u16).to_le_bytes()
    };
    let mut eights = symbols.chunks_exact(8);
    let mut outs = out.chunks_exact_mut(16);
    for (g, (s, o)) in (&mut eights).zip(&mut outs).enumerate() {
        let bits = plane[g];
        let mut l = [0u8; 8];
        l[..6].copy_from_slice(&low[g * 6..g * 6 + 6]);
        let l = u64::from_le_bytes(l);
        for k in 0..8 {
            o[2 * k..2 * k + 2].copy_from_slice(&value(s[k], bits >> k, l >> (6 * k)));
        }
    }
    // The last 1..7 values: their bits start on a byte.
    let rest = eights.remainder();
    if !rest.is_empty() {
        let g = symbols.len() / 8;
        let mut l = [0u8; 8];
        let tail = &low[g * 6..(g * 6 + 6).min(low.len())];
        l[..tail.len()].copy_from_slice(tail);
        let l = u64::from_le_bytes(l);
        for (k, (&sym, o)) in rest
            .iter()
            .zip(outs.into_remainder().chunks_exact_mut(2))
            .enumerate()
        {
            o.copy_from_slice(&value(sym, plane[g] >> k, l >> (6 * k)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_raw_matches_the_portable_packers() {
        for n in [0usize, 1, 7, 8, 9, 63, 64, 1000, 1003] {
            let values: Vec<u8> = (0..n as u32)
                .flat_map(|i| ((i.wrapping_mul(2654435761) >> 9) as u16).to_le_bytes())
                .collect();
            for bit in [6, 15] {
                let (mut plane, mut low) =
                    (vec![0u8; n.div_ceil(8)], vec![0u8; (n * 6).div_ceil(8)]);
                pack_raw(&values, bit, &mut plane, &mut low);
                let (mut plane2, mut low2) = (vec![0u8; plane.len()], vec![0u8; low.len()]);
                pack_bit(&values, bit, &mut plane2);
                bf16_joint::pack_low(&values, &mut low2);
                assert_eq!((plane, low), (plane2, low2), "n = {n} bit {bit}");
            }
        }
    }

    #[test]
    fn symbol_bytes_match_a_lookup_loop() {
        let mut table = [0u8; 512];
        for (f, t) in table.iter_mut().enumerate() {
            *t = (f.wrapping_mul(97) % 251) as u8;
        }
        for n in [0usize, 1, 63, 64, 65, 1000, 4099] {
            let values: Vec<u8> = (0..n as u32)
                .flat_map(|i| ((i.wrapping_mul(2654435761) >> 11) as u16).to_le_bytes())
                .collect();
            for layout in [EXP_M6, SIGN_EXP] {
                let mut out = vec![0u8; n];
                symbol_bytes(&values, layout, &table, &mut out);
                for (i, v) in values.chunks_exact(2).enumerate() {
                    let v = u16::from_le_bytes([v[0], v[1]]);
                    let key = usize::from(v >> 6);
                    assert_eq!(
                        out[i],
                        table[field_of_key(layout, key)],
                        "n = {n} value {i}"
                    );
                }
            }
        }
    }

    #[test]
    fn pack_bit_matches_a_bit_loop() {
        let values: Vec<u8> = (0..1003u32)
            .flat_map(|i| ((i.wrapping_mul(2654435761) >> 7) as u16).to_le_bytes())
            .collect();
        for bit in [6, 15] {
            let n = values.len() / 2;
            let mut plane = vec![0u8; n.div_ceil(8)];
            pack_bit(&values, bit, &mut plane);
            for i in 0..n {
                let v = u16::from_le_bytes([values[2 * i], values[2 * i + 1]]);
                assert_eq!((plane[i / 8] >> (i % 8)) & 1, ((v >> bit) & 1) as u8, "{i}");
            }
        }
    }
}
