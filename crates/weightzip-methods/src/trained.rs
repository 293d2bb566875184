//! Trained methods on float tensors: a zstd dictionary, one trained pair of
//! byte-plane tables, and a mixture of K such pairs.

use crate::error::{backend, corrupt, MethodError};
use crate::mixture::TableSet;
use crate::profile::require;
use crate::{Corpus, Method, MethodClass, Profile, Result};
use weightzip_entropy::ctx_rans::periodic::{self, DecTable, EncTable};

/// Largest dictionary `zstd19_dict` trains (zstd's default, 110 KiB).
pub const DICT_BYTES: usize = 112_640;
/// Bytes of each training sample cut from the train items.
pub const DICT_SAMPLE_BYTES: usize = 4096;
/// At most this many sample bytes are given to the dictionary trainer.
pub const DICT_SAMPLE_BUDGET: usize = 8 << 20;

/// `zstd19_dict`: zstd level 19 with a dictionary trained on the train split.
///
/// Training cuts every train item into consecutive 4 KiB samples and keeps
/// an evenly spaced subset of at most 8 MiB (every m-th sample over the
/// concatenated list), then runs zstd's `ZDICT_trainFromBuffer` for a
/// dictionary of 110 KiB (112,640 bytes, zstd's default; halved until the
/// trainer succeeds; when it cannot, the first 110 KiB of the samples as a
/// raw-content dictionary). The profile is the
/// dictionary itself (all of it is charged). Each item is one zstd frame at
/// level 19 using the dictionary. Applies to every tensor corpus.
#[derive(Clone, Copy, Debug, Default)]
pub struct Zstd19Dict;

const DICT: &str = "zstd19_dict";

impl Method for Zstd19Dict {
    fn name(&self) -> &'static str {
        DICT
    }

    fn class(&self) -> MethodClass {
        MethodClass::TrainedProfile
    }

    fn applies_to(&self, corpus: Corpus) -> bool {
        corpus != Corpus::GgufFile
    }

    fn is_trained(&self) -> bool {
        true
    }

    fn train(&self, _corpus: Corpus, items: &[&[u8]]) -> Result<Option<Profile>> {
        let total: usize = items
            .iter()
            .map(|it| it.len().div_ceil(DICT_SAMPLE_BYTES))
            .sum();
        if total == 0 {
            return Err(MethodError::Training {
                method: DICT,
                reason: "no train bytes".into(),
            });
        }
        let budget = DICT_SAMPLE_BUDGET / DICT_SAMPLE_BYTES;
        let step = total.div_ceil(budget).max(1);
        let mut samples: Vec<&[u8]> = Vec::with_capacity(total.min(budget));
        let mut index = 0usize;
        for it in items {
            for chunk in it.chunks(DICT_SAMPLE_BYTES) {
                if index.is_multiple_of(step) {
                    samples.push(chunk);
                }
                index += 1;
            }
        }
        let sample_bytes: usize = samples.iter().map(|s| s.len()).sum();
        let mut size = DICT_BYTES.min(sample_bytes / 4).max(256);
        loop {
            match zstd::dict::from_samples(&samples, size) {
                Ok(dict) => return Ok(Some(Profile::new(DICT, dict))),
                Err(_) if size > 1024 => size /= 2,
                Err(_) => break,
            }
        }
        // Too few samples for the trainer: a raw-content dictionary (zstd
        // accepts any bytes as one) of the first samples, up to 110 KiB.
        let mut raw = Vec::with_capacity(DICT_BYTES.min(sample_bytes));
        for s in &samples {
            let take = s.len().min(DICT_BYTES - raw.len());
            raw.extend_from_slice(&s[..take]);
        }
        if raw.len() < 8 {
            return Err(MethodError::Training {
                method: DICT,
                reason: format!("{} train bytes are too few for a dictionary", raw.len()),
            });
        }
        Ok(Some(Profile::new(DICT, raw)))
    }

    fn compress(&self, input: &[u8], profile: Option<&Profile>) -> Result<Vec<u8>> {
        let p = require(DICT, &[DICT], profile)?;
        let mut c =
            zstd::bulk::Compressor::with_dictionary(19, &p.bytes).map_err(|e| backend(DICT, e))?;
        c.compress(input).map_err(|e| backend(DICT, e))
    }

    fn decompress(
        &self,
        compressed: &[u8],
        original_len: usize,
        profile: Option<&Profile>,
    ) -> Result<Vec<u8>> {
        let p = require(DICT, &[DICT], profile)?;
        let mut d = zstd::bulk::Decompressor::with_dictionary(&p.bytes).map_err(|e| {
            MethodError::BadProfile {
                method: DICT,
                reason: e.to_string(),
            }
        })?;
        let out = d
            .decompress(compressed, original_len)
            .map_err(|e| corrupt(DICT, 0, format!("zstd: {e}")))?;
        if out.len() != original_len {
            return Err(MethodError::LengthMismatch {
                method: DICT,
                expected: original_len,
                found: out.len(),
            });
        }
        Ok(out)
    }
}

/// `bf16_pretrained_k1` and `bf16_mixture_k4`: byte-plane rANS with trained
/// tables instead of inline ones.
///
/// Streams are `bf16_split`'s two byte planes (low byte, high byte; the same
/// for fp16). Training (train split only) learns K pairs of plane tables
/// with the k-means of the crate's table-set trainer (K = 1: the smoothed
/// sums of every train item's plane histograms; add-one smoothing over all
/// 256 byte values, so any symbol stays codable; each table's precision in
/// 8..=15 bits — or the uniform table — minimises the train split's total
/// with the profile charged per item). The profile is the compact,
/// zstd-compressed table set (see `docs/METHODS.md`).
///
/// Per item: one byte naming the component (the one whose two tables code
/// this item in the fewest bits; always 0 for K = 1), then one rANS payload
/// of the item's bytes in file order, bytes at even offsets (plane 0) coded
/// with the component's plane-0 table and bytes at odd offsets (plane 1)
/// with its plane-1 table — the crate's pattern coder (4 interleaved lanes,
/// 16 bytes of lane states), so a small tensor does not pay 2 × 128 bytes of
/// 32-lane states. No tables are stored in the item.
#[derive(Clone, Copy, Debug)]
pub struct PlaneMixture {
    name: &'static str,
    k: usize,
}

impl PlaneMixture {
    /// `bf16_pretrained_k1`.
    pub const K1: PlaneMixture = PlaneMixture {
        name: "bf16_pretrained_k1",
        k: 1,
    };
    /// `bf16_mixture_k4`.
    pub const K4: PlaneMixture = PlaneMixture {
        name: "bf16_mixture_k4",
        k: 4,
    };

    fn tables(&self, profile: Option<&Profile>) -> Result<TableSet> {
        let p = require(self.name, &[self.name], profile)?;
        TableSet::from_bytes(self.name, &p.bytes, &[256, 256])
    }
}

impl Method for PlaneMixture {
    fn name(&self) -> &'static str {
        self.name
    }

    fn class(&self) -> MethodClass {
        MethodClass::TrainedProfile
    }

    fn applies_to(&self, corpus: Corpus) -> bool {
        matches!(corpus, Corpus::Bf16Tensor | Corpus::Fp16Tensor)
    }

    fn is_trained(&self) -> bool {
        true
    }

    fn train(&self, _corpus: Corpus, items: &[&[u8]]) -> Result<Option<Profile>> {
        let hists: Vec<_> = items.iter().map(|it| plane_histograms(it)).collect();
        let set = TableSet::train(self.name, &hists, None, &[256, 256], self.k)?;
        Ok(Some(Profile::new(self.name, set.to_bytes()?)))
    }

    fn compress(&self, input: &[u8], profile: Option<&Profile>) -> Result<Vec<u8>> {
        let set = self.tables(profile)?;
        let c = set.select(&plane_histograms(input));
        let mut out = Vec::with_capacity(input.len() * 3 / 4 + 64);
        out.push(c as u8);
        let tables = [
            EncTable::new(set.table(c, 0)),
            EncTable::new(set.table(c, 1)),
        ];
        periodic::encode(input, &[0, 1], &tables, &mut out).map_err(|e| {
            MethodError::InvalidInput {
                method: self.name,
                reason: e.to_string(),
            }
        })?;
        Ok(out)
    }

    fn decompress(
        &self,
        compressed: &[u8],
        original_len: usize,
        profile: Option<&Profile>,
    ) -> Result<Vec<u8>> {
        let set = self.tables(profile)?;
        let (&c, payload) = compressed
            .split_first()
            .ok_or_else(|| corrupt(self.name, 0, "missing component byte"))?;
        let c = usize::from(c);
        if c >= set.k {
            return Err(corrupt(self.name, 0, format!("component {c} of {}", set.k)));
        }
        let tables = [
            DecTable::new(set.table(c, 0)),
            DecTable::new(set.table(c, 1)),
        ];
        let mut out = vec![0u8; original_len];
        periodic::decode(payload, &[0, 1], &tables, &mut out)
            .map_err(|e| corrupt(self.name, 1, e.to_string()))?;
        Ok(out)
    }
}

/// Histograms of the bytes at even offsets (plane 0) and odd offsets (plane 1).
fn plane_histograms(data: &[u8]) -> Vec<weightzip_entropy::Histogram> {
    let mut h = vec![[0u64; 256]; 2];
    let mut pairs = data.chunks_exact(2);
    for p in &mut pairs {
        h[0][p[0] as usize] += 1;
        h[1][p[1] as usize] += 1;
    }
    for &b in pairs.remainder() {
        h[0][b as usize] += 1;
    }
    h
}

/// The trained float-tensor methods.
pub fn methods() -> Vec<Box<dyn Method>> {
    vec![
        Box::new(Zstd19Dict),
        Box::new(PlaneMixture::K1),
        Box::new(PlaneMixture::K4),
    ]
}
