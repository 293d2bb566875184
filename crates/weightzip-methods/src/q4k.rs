//! Q4_K tensor streams: the per-file field split `qa` and the trained
//! mixtures `qb_k4`, `qb_k8`, `qb_k16`.
//!
//! A Q4_K block is 144 bytes: `d` (f16, bytes 0–1), `dmin` (f16, bytes
//! 2–3), 12 packed 6-bit scale/min bytes (4–15) and 128 bytes of 4-bit
//! quants (16–143). Both families code a block as 272 symbols: its 16
//! header bytes, each with the table of its position j (header stream j =
//! byte j of every block), then its 256 nibbles (for each quant byte `b`, in
//! order: `b & 15`, `b >> 4`) with one 16-symbol nibble table. All 17
//! order-0 streams share one rANS payload (the crate's pattern coder: 4
//! lanes, 16-bit words, table chosen by the symbol's position in the block),
//! so a small tensor does not pay 17 sets of lane states.

use weightzip_entropy::histogram::Histogram;
use weightzip_entropy::FreqTable;
use weightzip_format::ggml::Q4_K_BLOCK_BYTES;

use crate::error::{corrupt, MethodError};
use crate::mixture::{uniform, TableSet};
use crate::profile::require;
use crate::util::Reader;
use crate::{Corpus, Method, MethodClass, Profile, Result};
use weightzip_entropy::ctx_rans::periodic::{self, DecTable, EncTable};

/// Bytes of a Q4_K block.
pub const BLOCK: usize = Q4_K_BLOCK_BYTES;
/// Header bytes of a block (d, dmin, scales).
pub const HEADER: usize = 16;
/// Streams: 16 header positions + the nibbles.
pub const STREAMS: usize = HEADER + 1;
const SYMBOLS_PER_BLOCK: usize = HEADER + 2 * (BLOCK - HEADER);
const NIBBLES: usize = HEADER;

/// The alphabet of each stream: 256 for header bytes, 16 for nibbles.
pub(crate) fn alphabets() -> [usize; STREAMS] {
    let mut a = [256usize; STREAMS];
    a[NIBBLES] = 16;
    a
}

fn pattern() -> Vec<usize> {
    let mut p: Vec<usize> = (0..HEADER).collect();
    p.resize(SYMBOLS_PER_BLOCK, NIBBLES);
    p
}

fn check_len(method: &'static str, len: usize) -> Result<usize> {
    if !len.is_multiple_of(BLOCK) {
        return Err(MethodError::InvalidInput {
            method,
            reason: format!("{len} bytes is not a whole number of 144-byte Q4_K blocks"),
        });
    }
    Ok(len / BLOCK)
}

/// The 272 symbols of every block, and the 17 stream histograms.
pub(crate) fn block_symbols(blocks: &[u8]) -> (Vec<u8>, Vec<Histogram>) {
    let n = blocks.len() / BLOCK;
    let mut syms = Vec::with_capacity(n * SYMBOLS_PER_BLOCK);
    let mut hists = vec![[0u64; 256]; STREAMS];
    for b in blocks.chunks_exact(BLOCK) {
        for (j, &x) in b[..HEADER].iter().enumerate() {
            syms.push(x);
            hists[j][x as usize] += 1;
        }
        for &x in &b[HEADER..] {
            let (lo, hi) = (x & 15, x >> 4);
            syms.push(lo);
            syms.push(hi);
            hists[NIBBLES][lo as usize] += 1;
            hists[NIBBLES][hi as usize] += 1;
        }
    }
    (syms, hists)
}

fn blocks_from_symbols(syms: &[u8], out: &mut Vec<u8>) {
    for s in syms.chunks_exact(SYMBOLS_PER_BLOCK) {
        out.extend_from_slice(&s[..HEADER]);
        for pair in s[HEADER..].chunks_exact(2) {
            out.push((pair[0] & 15) | (pair[1] << 4));
        }
    }
}

/// A per-file table choice for one stream: the uniform table or the
/// stream's own histogram inline at the best precision in 12..=15 bits.
struct LocalTable {
    /// Bits of the coded stream plus the inline table.
    cost_bits: f64,
    /// `None` for the uniform table.
    table: Option<FreqTable>,
}

fn local_table(h: &Histogram, alphabet: usize) -> LocalTable {
    let total: u64 = h.iter().sum();
    let mut best = LocalTable {
        cost_bits: total as f64 * (alphabet as f64).log2(),
        table: None,
    };
    for bits in 12..=15 {
        let Ok(t) = FreqTable::from_counts(h, bits) else {
            continue;
        };
        let cost = t.cost_bits(h) + 8.0 * t.serialized_len() as f64;
        if cost < best.cost_bits {
            best = LocalTable {
                cost_bits: cost,
                table: Some(t),
            };
        }
    }
    best
}

/// Reads an inline table, checking it codes only symbols of `alphabet`.
fn read_local_table(
    method: &'static str,
    r: &mut Reader<'_>,
    alphabet: usize,
) -> Result<FreqTable> {
    let at = r.pos();
    let t = r.table()?;
    if t.freqs()[alphabet..].iter().any(|&f| f > 0) {
        return Err(corrupt(method, at, "nibble table codes symbols past 15"));
    }
    Ok(t)
}

/// Codes `blocks` with one table per stream (`tables[j]`), appending the payload.
pub(crate) fn encode_with(
    method: &'static str,
    syms: &[u8],
    tables: &[&FreqTable],
    out: &mut Vec<u8>,
) -> Result<()> {
    let enc: Vec<EncTable> = tables.iter().map(|t| EncTable::new(t)).collect();
    periodic::encode(syms, &pattern(), &enc, out).map_err(|e| MethodError::InvalidInput {
        method,
        reason: e.to_string(),
    })
}

/// Decodes `n_blocks` blocks from one payload coded with `tables`.
pub(crate) fn decode_with(
    method: &'static str,
    payload: &[u8],
    n_blocks: usize,
    tables: &[&FreqTable],
    offset: usize,
) -> Result<Vec<u8>> {
    let dec: Vec<DecTable> = tables.iter().map(|t| DecTable::new(t)).collect();
    let mut syms = vec![0u8; n_blocks * SYMBOLS_PER_BLOCK];
    periodic::decode(payload, &pattern(), &dec, &mut syms)
        .map_err(|e| corrupt(method, offset, e.to_string()))?;
    let mut out = Vec::with_capacity(n_blocks * BLOCK);
    blocks_from_symbols(&syms, &mut out);
    Ok(out)
}

/// `qa`: the Q4_K field split with per-file order-0 tables (format-aware,
/// untrained).
///
/// The 17 streams of the module docs (16 header positions, nibbles) each
/// get a per-file table: for every stream the cheaper of the uniform table
/// (8 bits per header byte, 4 per nibble; stored as tag 0) and the stream's
/// own histogram quantised at the precision in 12..=15 bits that minimises
/// table + coded bits (tag 1 + the table inline in weightzip_entropy's
/// compact form). Layout: 17 × (tag, table?), then the shared rANS payload.
/// An input that is not a whole number of 144-byte blocks is an error.
#[derive(Clone, Copy, Debug, Default)]
pub struct Qa;

const QA: &str = "qa";

impl Method for Qa {
    fn name(&self) -> &'static str {
        QA
    }

    fn class(&self) -> MethodClass {
        MethodClass::FormatAware
    }

    fn applies_to(&self, corpus: Corpus) -> bool {
        corpus == Corpus::Q4kStream
    }

    fn compress(&self, input: &[u8], _profile: Option<&Profile>) -> Result<Vec<u8>> {
        check_len(QA, input.len())?;
        let (syms, hists) = block_symbols(input);
        let mut out = Vec::with_capacity(input.len());
        let mut tables = Vec::with_capacity(STREAMS);
        for (h, alphabet) in hists.iter().zip(alphabets()) {
            match local_table(h, alphabet).table {
                Some(t) => {
                    out.push(1);
                    t.write(&mut out);
                    tables.push(t);
                }
                None => {
                    out.push(0);
                    tables.push(uniform(alphabet)?);
                }
            }
        }
        let refs: Vec<&FreqTable> = tables.iter().collect();
        encode_with(QA, &syms, &refs, &mut out)?;
        Ok(out)
    }

    fn decompress(
        &self,
        compressed: &[u8],
        original_len: usize,
        _profile: Option<&Profile>,
    ) -> Result<Vec<u8>> {
        let n = check_len(QA, original_len)?;
        let mut r = Reader::new(QA, compressed);
        let mut tables = Vec::with_capacity(STREAMS);
        for alphabet in alphabets() {
            let at = r.pos();
            match r.u8("table tag")? {
                0 => tables.push(uniform(alphabet)?),
                1 => tables.push(read_local_table(QA, &mut r, alphabet)?),
                other => return Err(corrupt(QA, at, format!("table tag {other}"))),
            }
        }
        let at = r.pos();
        let refs: Vec<&FreqTable> = tables.iter().collect();
        decode_with(QA, r.rest(), n, &refs, at)
    }
}

/// `qb_k4`, `qb_k8`, `qb_k16`: a mixture of K trained Q4_K models
/// (trained-profile).
///
/// Training (Q4_K tensors of the train split only): the crate's table-set
/// k-means over the 17 stream histograms of each train tensor (see
/// `docs/METHODS.md`): K components, each one nibble table (16 symbols) and 16
/// header-byte tables (256 symbols), add-one smoothed; each table is the
/// uniform table or the trained one at the precision in 8..=15 bits that
/// minimises the train total with the profile charged per tensor. The
/// profile is the zstd-compressed table set.
///
/// Per tensor, each of the 17 streams is coded with one of: the chosen
/// component's trained table (mode 0), the stream's own table inline as in
/// `qa` (mode 1), or the uniform table (mode 2) — whichever is cheapest for
/// that stream, so a tensor unlike the train split costs at most a few
/// bytes more than `qa`; the component is the one minimising the total.
/// Layout: the component (u8), the 17 modes (2 bits each, packed
/// little-endian into 5 bytes), the inline tables of mode-1 streams in
/// stream order, then the shared rANS payload. An input that is not a
/// whole number of 144-byte blocks is an error.
#[derive(Clone, Copy, Debug)]
pub struct Qb {
    name: &'static str,
    k: usize,
}

impl Qb {
    /// `qb_k4`.
    pub const K4: Qb = Qb {
        name: "qb_k4",
        k: 4,
    };
    /// `qb_k8`.
    pub const K8: Qb = Qb {
        name: "qb_k8",
        k: 8,
    };
    /// `qb_k16`.
    pub const K16: Qb = Qb {
        name: "qb_k16",
        k: 16,
    };
}

/// Trains a qb table set of `k` components on Q4_K block streams.
pub(crate) fn qb_train(method: &'static str, items: &[&[u8]], k: usize) -> Result<TableSet> {
    let mut hists = Vec::with_capacity(items.len());
    let mut alts = Vec::with_capacity(items.len());
    for it in items {
        check_len(method, it.len())?;
        let h = block_symbols(it).1;
        alts.push(
            h.iter()
                .zip(alphabets())
                .map(|(h, a)| local_table(h, a).cost_bits)
                .collect::<Vec<f64>>(),
        );
        hists.push(h);
    }
    TableSet::train(method, &hists, Some(&alts), &alphabets(), k)
}

/// Bytes of the packed per-stream modes (2 bits per stream).
const MODE_BYTES: usize = STREAMS.div_ceil(4);
const MODE_TRAINED: u8 = 0;
const MODE_INLINE: u8 = 1;
const MODE_UNIFORM: u8 = 2;

/// Codes one Q4_K block stream with a trained set: component byte, the
/// packed stream modes, the inline tables, the payload.
pub(crate) fn qb_encode(
    method: &'static str,
    set: &TableSet,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<()> {
    check_len(method, input.len())?;
    let (syms, hists) = block_symbols(input);
    let locals: Vec<LocalTable> = hists
        .iter()
        .zip(alphabets())
        .map(|(h, a)| local_table(h, a))
        .collect();
    let mut best = (f64::INFINITY, 0usize);
    for c in 0..set.k {
        let bits: f64 = hists
            .iter()
            .zip(&locals)
            .enumerate()
            .map(|(j, (h, l))| set.table(c, j).cost_bits(h).min(l.cost_bits))
            .sum();
        if bits < best.0 {
            best = (bits, c);
        }
    }
    let c = best.1;
    out.push(c as u8);
    let mut modes = [0u8; MODE_BYTES];
    let mut chosen: Vec<FreqTable> = Vec::with_capacity(STREAMS);
    let mut inline = Vec::new();
    for (j, (h, l)) in hists.iter().zip(locals).enumerate() {
        let trained = set.table(c, j);
        let mode = if trained.cost_bits(h) <= l.cost_bits {
            chosen.push(trained.clone());
            MODE_TRAINED
        } else if let Some(t) = l.table {
            t.write(&mut inline);
            chosen.push(t);
            MODE_INLINE
        } else {
            chosen.push(uniform(alphabets()[j])?);
            MODE_UNIFORM
        };
        modes[j / 4] |= mode << (2 * (j % 4));
    }
    out.extend_from_slice(&modes);
    out.extend_from_slice(&inline);
    let refs: Vec<&FreqTable> = chosen.iter().collect();
    encode_with(method, &syms, &refs, out)
}

/// Inverse of [`qb_encode`] for `original_len` bytes.
pub(crate) fn qb_decode(
    method: &'static str,
    set: &TableSet,
    compressed: &[u8],
    original_len: usize,
    offset: usize,
) -> Result<Vec<u8>> {
    let n = check_len(method, original_len)?;
    let mut r = Reader::new(method, compressed);
    let c = usize::from(r.u8("component")?);
    if c >= set.k {
        return Err(corrupt(
            method,
            offset,
            format!("component {c} of {}", set.k),
        ));
    }
    let modes = r.bytes(MODE_BYTES, "stream modes")?;
    let mut tables: Vec<FreqTable> = Vec::with_capacity(STREAMS);
    for (j, alphabet) in alphabets().into_iter().enumerate() {
        match (modes[j / 4] >> (2 * (j % 4))) & 3 {
            MODE_TRAINED => tables.push(set.table(c, j).clone()),
            MODE_INLINE => tables.push(read_local_table(method, &mut r, alphabet)?),
            MODE_UNIFORM => tables.push(uniform(alphabet)?),
            other => {
                return Err(corrupt(
                    method,
                    offset + 1,
                    format!("stream {j} mode {other}"),
                ))
            }
        }
    }
    let at = offset + r.pos();
    let refs: Vec<&FreqTable> = tables.iter().collect();
    decode_with(method, r.rest(), n, &refs, at)
}

/// Parses a qb profile.
pub(crate) fn qb_tables(method: &'static str, bytes: &[u8]) -> Result<TableSet> {
    TableSet::from_bytes(method, bytes, &alphabets())
}

impl Method for Qb {
    fn name(&self) -> &'static str {
        self.name
    }

    /// Format-aware, as in the study's figure notebook (`METHOD_CLASS`);
    /// the trained profile is charged all the same.
    fn class(&self) -> MethodClass {
        MethodClass::FormatAware
    }

    fn applies_to(&self, corpus: Corpus) -> bool {
        corpus == Corpus::Q4kStream
    }

    fn is_trained(&self) -> bool {
        true
    }

    fn train(&self, _corpus: Corpus, items: &[&[u8]]) -> Result<Option<Profile>> {
        let set = qb_train(self.name, items, self.k)?;
        Ok(Some(Profile::new(self.name, set.to_bytes()?)))
    }

    /// Says when the profile has fewer than K components with a trained
    /// table: training keeps at most one component per train tensor, and a
    /// component whose tables do not pay for their charged bytes keeps the
    /// uniform tables (then the method codes like `qa`).
    fn profile_note(&self, profile: &Profile) -> Option<String> {
        let set = qb_tables(self.name, &profile.bytes).ok()?;
        let trained = set.trained_components();
        (trained < self.k).then(|| {
            format!(
                "{} of K = {} components trained ({} kept: one per train tensor at most; \
                 {} with only uniform tables, whose trained tables cost more charged bytes than they save)",
                trained,
                self.k,
                set.k,
                set.k - trained
            )
        })
    }

    fn compress(&self, input: &[u8], profile: Option<&Profile>) -> Result<Vec<u8>> {
        let p = require(self.name, &[self.name], profile)?;
        let set = qb_tables(self.name, &p.bytes)?;
        let mut out = Vec::with_capacity(input.len());
        qb_encode(self.name, &set, input, &mut out)?;
        Ok(out)
    }

    fn decompress(
        &self,
        compressed: &[u8],
        original_len: usize,
        profile: Option<&Profile>,
    ) -> Result<Vec<u8>> {
        let p = require(self.name, &[self.name], profile)?;
        let set = qb_tables(self.name, &p.bytes)?;
        qb_decode(self.name, &set, compressed, original_len, 0)
    }
}

/// `qa`.
pub fn untrained_methods() -> Vec<Box<dyn Method>> {
    vec![Box::new(Qa)]
}

/// `qb_k4`, `qb_k8`, `qb_k16`.
pub fn trained_methods() -> Vec<Box<dyn Method>> {
    vec![Box::new(Qb::K4), Box::new(Qb::K8), Box::new(Qb::K16)]
}
