//! `wz_fp16a`: fp16 as one alias-coded symbol per value — its sign and 5
//! exponent bits — and 10 raw mantissa bits: the fastest fp16 codec to
//! decode.
//!
//! The 6-bit field (bits 15..10) always fits an alias table (at most 64
//! values: 32 or fewer take the 32-bucket table, the faster one); it
//! carries the redundancy of trained weights. The mantissa is near
//! uniform: its top two bits (9 and 8) are stored as two bit planes and
//! the low byte as a byte plane, so that decoding is the entropy crate's
//! alias decoder fused with a table lookup (the high byte of a symbol), two
//! masked adds and an interleave
//! ([`weightzip_entropy::rans::fused::decode_pair_high_bytes`], AVX-512 and
//! AVX2).
//! Against `wz_fp16`, which codes the whole high byte, the two raw bits
//! cost ~0.3 % of size on real weights.
//!
//! Layout after the common header (`n`, tail): `layout: u8` — 1: the `2n`
//! value bytes verbatim (fewer than two field values occur); 0: the alias
//! layout: `count - 1: u8` (2..=64 fields), the `count` 6-bit fields in
//! ascending order as varints (the first, then each difference); the
//! frequency table (12-bit precision, symbols below `count`; the 32-bucket
//! alias layout when `count <= 32`, else the 64-bucket one); `m: varint`,
//! the values of the first half (a multiple of 32, not above `n - m`);
//! `len: varint` and the rANS payload of the symbols of values `0..m`,
//! then the same for `m..n` (one table, decoded in lock step); the plane
//! of bit 8 and then of bit 9 of every value (`ceil(n / 8)` bytes each,
//! value `i` at bit `i % 8` of byte `i / 8`); the low bytes (`n` bytes).
//! Value `i` is `fields[symbol] << 10 | bit9 << 9 | bit8 << 8 | low`.

use std::cell::RefCell;

use weightzip_entropy::rans;
use weightzip_entropy::rans::fused::{self, HighByteSink};
use weightzip_entropy::{read_at, write_varint, EncodeTable};
use weightzip_entropy::{AliasShape, ALIAS_BITS};

use super::*;

const NAME: &str = "wz_fp16a";
/// Layout byte: alias-coded fields and raw mantissa planes.
pub const ALIAS: u8 = 0;
/// Layout byte: the values verbatim.
pub const RAW: u8 = 1;

thread_local! {
    /// Symbol scratch of the encoder, reused across chunks.
    static SYMBOLS: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The alias shape that holds `count` symbols: the 32-bucket one when it
/// fits.
fn shape_of(count: usize) -> AliasShape {
    if count <= AliasShape::Wide.buckets() {
        AliasShape::Wide
    } else {
        AliasShape::Narrow
    }
}

/// Appends the encoding of `data` (little-endian fp16 values).
pub fn encode(data: &[u8], out: &mut Vec<u8>) -> Result<()> {
    let n = write_header::<2>(data, out);
    let values = &data[..n * 2];
    let mut fields = [0u64; 64];
    for v in values.chunks_exact(2) {
        fields[usize::from(v[1] >> 2)] += 1;
    }
    let alphabet: Vec<u16> = (0..64u16).filter(|&f| fields[usize::from(f)] > 0).collect();
    if alphabet.len() < 2 {
        out.push(RAW);
        out.extend_from_slice(values);
        return Ok(());
    }
    out.push(ALIAS);
    write_alphabet(&alphabet, out);
    let mut symbol_of = [0u8; 64];
    let mut counts = [0u64; 256];
    for (i, &f) in alphabet.iter().enumerate() {
        symbol_of[usize::from(f)] = i as u8;
        counts[i] = fields[usize::from(f)];
    }
    let table = FreqTable::from_counts(&counts, ALIAS_BITS).in_codec(NAME)?;
    table.write(out);
    let m = n / 64 * 32;
    write_varint(out, m as u64);
    let et = EncodeTable::alias(&table, shape_of(alphabet.len())).in_codec(NAME)?;
    SYMBOLS.with(|cell| {
        let mut symbols = cell.borrow_mut();
        symbols.clear();
        symbols.extend(
            values
                .chunks_exact(2)
                .map(|v| symbol_of[usize::from(v[1] >> 2)]),
        );
        let (a, b) = symbols.split_at(m);
        rans::encode_pair(a, &et, b, &et, Kernel::best(), |pa, pb| {
            for p in [pa, pb] {
                write_varint(out, p.len() as u64);
                p.write_to(out);
            }
        })
        .in_codec(NAME)
    })?;
    for bit in [8, 9] {
        let at = out.len();
        out.resize(at + n.div_ceil(8), 0);
        super::bf16_alias::pack_bit(values, bit, &mut out[at..]);
    }
    out.extend(values.chunks_exact(2).map(|v| v[0]));
    Ok(())
}

/// Decodes one encoding into `out`.
pub fn decode(input: &[u8], out: &mut [u8]) -> Result<()> {
    decode_with(input, out, Kernel::best())
}

/// [`decode`] with an explicit kernel (tests run every one).
pub fn decode_with(input: &[u8], out: &mut [u8], kernel: Kernel) -> Result<()> {
    let corrupt = |offset: usize, reason: String| CodecError::Corrupt {
        codec: NAME,
        offset,
        reason,
    };
    let (n, tail, mut pos) = parse_header::<2>(NAME, input, out.len())?;
    let (body, rest) = out.split_at_mut(n * 2);
    let layout = *input
        .get(pos)
        .ok_or_else(|| corrupt(pos, "truncated layout byte".into()))?;
    pos += 1;
    match layout {
        RAW => {
            if input.len() != pos + 2 * n {
                return Err(corrupt(
                    pos,
                    format!("{} raw bytes for {n} values", input.len() - pos),
                ));
            }
            body.copy_from_slice(&input[pos..]);
        }
        ALIAS => decode_alias(input, pos, body, kernel)?,
        other => return Err(corrupt(pos - 1, format!("unknown layout {other}"))),
    }
    rest.copy_from_slice(tail);
    Ok(())
}

fn decode_alias(input: &[u8], mut pos: usize, body: &mut [u8], kernel: Kernel) -> Result<()> {
    let n = body.len() / 2;
    let corrupt = |offset: usize, reason: String| CodecError::Corrupt {
        codec: NAME,
        offset,
        reason,
    };
    let at = pos;
    let alphabet = read_alphabet(NAME, input, &mut pos, 64)?;
    let count = alphabet.len();
    if count < 2 {
        return Err(corrupt(at, format!("alphabet of {count} fields")));
    }
    let shape = shape_of(count);
    let mut highs = [0u8; 64];
    for (h, &f) in highs.iter_mut().zip(&alphabet) {
        *h = (f << 2) as u8;
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
    let plane = n.div_ceil(8);
    if input.len() != pos + 2 * plane + n {
        return Err(corrupt(
            pos,
            format!(
                "{} bytes of raw bits, expected {}",
                input.len().saturating_sub(pos),
                2 * plane + n
            ),
        ));
    }
    let (bits8, rest) = input[pos..].split_at(plane);
    let (bits9, low) = rest.split_at(plane);
    let dt = DecodeTable::alias(&table, shape).in_codec(NAME)?;
    let mut da = Decoder::new(payloads[0], &dt, m).in_codec(NAME)?;
    let mut db = Decoder::new(payloads[1], &dt, n - m).in_codec(NAME)?;
    let (body_a, body_b) = body.split_at_mut(m * 2);
    // The bulk in one fused pass where the CPU has it, then the rest block
    // by block: symbols to a buffer, then the merge.
    let start = fused::decode_pair_high_bytes(
        &mut da,
        &mut HighByteSink {
            highs: &highs,
            bits8,
            bits9,
            low,
            out: body_a,
        },
        &mut db,
        &mut HighByteSink {
            highs: &highs,
            bits8: &bits8[m / 8..],
            bits9: &bits9[m / 8..],
            low: &low[m..],
            out: body_b,
        },
        kernel,
    );
    decode_rest_in_blocks(NAME, [da, db], m, n, start, kernel, |first, symbols| {
        merge(
            &highs,
            symbols,
            first,
            [bits8, bits9],
            low,
            &mut body[first * 2..(first + symbols.len()) * 2],
        );
    })
}

/// Writes values `first..first + symbols.len()` (`first` a multiple of 8):
/// the high byte of each symbol with the value's bits 8 and 9 from the bit
/// planes, and its low byte; eight values per byte of the planes.
fn merge(
    highs: &[u8; 64],
    symbols: &[u8],
    first: usize,
    planes: [&[u8]; 2],
    low: &[u8],
    out: &mut [u8],
) {
    debug_assert_eq!(first % 8, 0);
    let [bits8, bits9] = planes.map(|p| &p[first / 8..]);
    let eights = out
        .chunks_mut(16)
        .zip(symbols.chunks(8).zip(low[first..].chunks(8)))
        .zip(bits8.iter().zip(bits9));
    for ((o, (s, l)), (&b8, &b9)) in eights {
        for (k, (o, (&s, &l))) in o.chunks_exact_mut(2).zip(s.iter().zip(l)).enumerate() {
            let two = ((b8 >> k) & 1) | (((b9 >> k) & 1) << 1);
            o.copy_from_slice(&[l, highs[usize::from(s & 63)] | two]);
        }
    }
}
