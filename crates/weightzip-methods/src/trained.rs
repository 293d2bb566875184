//! Trained methods on float tensors: a zstd dictionary, one trained pair of
//! byte-plane tables, and a mixture of K such pairs.

use weightzip_entropy::{histogram, rans, varint, DecodeTable, EncodeTable};

use crate::error::{backend, corrupt, Context, MethodError};
use crate::mixture::TableSet;
use crate::profile::require;
use crate::util::{merge_planes, split_planes, Reader};
use crate::{Corpus, Method, MethodClass, Profile, Result};

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
/// trainer succeeds when the samples are too few). The profile is the
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
                Err(e) if size <= 1024 => {
                    return Err(MethodError::Training {
                        method: DICT,
                        reason: format!("zstd dictionary training failed: {e}"),
                    })
                }
                Err(_) => size /= 2,
            }
        }
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
/// zstd-compressed table set (see `METHODS.md`).
///
/// Per item: the tail byte (odd length), one byte naming the component
/// (the one whose two tables code this item in the fewest bits; always 0
/// for K = 1), the length (varint) of plane 0's rANS payload, plane 0's
/// payload, plane 1's payload (weightzip_entropy's 32-lane rANS). No tables
/// are stored in the item.
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
        let hists: Vec<_> = items
            .iter()
            .map(|it| {
                let (planes, _) = split_planes(it, 2);
                planes.iter().map(|p| histogram(p)).collect::<Vec<_>>()
            })
            .collect();
        let set = TableSet::train(self.name, &hists, &[256, 256], self.k)?;
        Ok(Some(Profile::new(self.name, set.to_bytes()?)))
    }

    fn compress(&self, input: &[u8], profile: Option<&Profile>) -> Result<Vec<u8>> {
        let set = self.tables(profile)?;
        let (planes, tail) = split_planes(input, 2);
        let hists: Vec<_> = planes.iter().map(|p| histogram(p)).collect();
        let c = set.select(&hists);
        let mut out = Vec::with_capacity(input.len() * 3 / 4 + 512);
        out.extend_from_slice(tail);
        out.push(c as u8);
        let mut p0 = Vec::with_capacity(planes[0].len());
        rans::encode(&planes[0], &EncodeTable::new(set.table(c, 0)), &mut p0)
            .in_method(self.name)?;
        varint::write_u64(&mut out, p0.len() as u64);
        out.extend_from_slice(&p0);
        rans::encode(&planes[1], &EncodeTable::new(set.table(c, 1)), &mut out)
            .in_method(self.name)?;
        Ok(out)
    }

    fn decompress(
        &self,
        compressed: &[u8],
        original_len: usize,
        profile: Option<&Profile>,
    ) -> Result<Vec<u8>> {
        let set = self.tables(profile)?;
        let n = original_len / 2;
        let mut r = Reader::new(self.name, compressed);
        let tail = r.bytes(original_len % 2, "tail")?;
        let at = r.pos;
        let c = usize::from(r.u8("component")?);
        if c >= set.k {
            return Err(corrupt(
                self.name,
                at,
                format!("component {c} of {}", set.k),
            ));
        }
        let p0 = r.prefixed("plane 0 payload")?;
        let p1 = r.rest();
        let mut plane0 = vec![0u8; n];
        let mut plane1 = vec![0u8; n];
        rans::decode(p0, &DecodeTable::new(set.table(c, 0)), &mut plane0).in_method(self.name)?;
        rans::decode(p1, &DecodeTable::new(set.table(c, 1)), &mut plane1).in_method(self.name)?;
        let mut out = Vec::with_capacity(original_len);
        merge_planes(&[&plane0, &plane1], tail, &mut out);
        Ok(out)
    }
}

/// The trained float-tensor methods.
pub fn methods() -> Vec<Box<dyn Method>> {
    vec![
        Box::new(Zstd19Dict),
        Box::new(PlaneMixture::K1),
        Box::new(PlaneMixture::K4),
    ]
}
