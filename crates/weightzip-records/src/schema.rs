//! The rows of `results.jsonl.zst`, as the lab writes them and every reader
//! (report, merge, figures, the study's notebook) reads them.
//!
//! Writing is exact (every field the lab knows). Reading is lenient, so that
//! records of other tools and older lab versions load too: a missing field
//! takes its default, `null` reads as absent, unknown fields are ignored, and
//! an integer may be written as an integral float (`294912.0`).

use std::collections::BTreeMap;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};

/// `_kind` of bf16 tensor rows (the study's name; the notebook reads it).
pub const KIND_BF16: &str = "bench_bf16_perfile";
/// `_kind` of the study's 7B bf16 check (set by a manifest's `kind_override`).
pub const KIND_BF16_7B: &str = "bench_7B";
/// `_kind` of fp16 tensor rows.
pub const KIND_FP16: &str = "bench_fp16";
/// `_kind` of fp32 tensor rows.
pub const KIND_FP32: &str = "bench_fp32";
/// `_kind` of Q4_K tensor rows **and** of whole-GGUF file rows (the study's
/// GGUF files are its Q4_K corpus; the notebook's fig5 reads only this kind
/// and the two bf16 kinds). A file row has `dtype` [`DTYPE_GGUF`].
pub const KIND_Q4K: &str = "Q4_K_benchmark";
/// `_kind` older lab versions gave whole-GGUF rows; still read.
pub const KIND_GGUF_LEGACY: &str = "gguf_whole";

/// `dtype` of a whole-GGUF file row.
pub const DTYPE_GGUF: &str = "GGUF";

/// One method's measurement on one item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MethodRecord {
    /// general-purpose, byte-grouped, format-aware, trained-profile, weightzip.
    #[serde(default, deserialize_with = "null_default")]
    pub class: String,
    /// `input_bytes / (compressed_bytes + profile_bytes)`; null when the round trip failed.
    #[serde(default, deserialize_with = "opt_f64")]
    pub ratio: Option<f64>,
    /// Size of the compressed item (0 when not recorded).
    #[serde(default, deserialize_with = "lenient_u64")]
    pub compressed_bytes: u64,
    /// Trained side data charged to this item (0 for untrained methods).
    #[serde(default, deserialize_with = "lenient_u64")]
    pub profile_bytes: u64,
    /// Input MB (1e6 bytes) per second of compression, best of the repeats.
    #[serde(
        rename = "compress_MBps",
        alias = "compress_mbps",
        default,
        deserialize_with = "opt_f64"
    )]
    pub compress_mbps: Option<f64>,
    /// Input MB (1e6 bytes) per second of decompression, best of the repeats.
    #[serde(
        rename = "decompress_MBps",
        alias = "decompress_mbps",
        default,
        deserialize_with = "opt_f64"
    )]
    pub decompress_mbps: Option<f64>,
    /// Whether decompress(compress(x)) == x byte for byte (absent: true).
    #[serde(default = "yes")]
    pub roundtrip_ok: bool,
    /// Threads the method itself used for the timed runs (the lab: always 1).
    #[serde(default = "one", deserialize_with = "lenient_u32")]
    pub threads: u32,
    /// Evaluations the bench ran at the same time as this one (`--jobs`):
    /// 1 means the timing had the machine to itself; more means the
    /// single-thread timing shared the machine with other single-thread
    /// evaluations.
    #[serde(default = "one", deserialize_with = "lenient_u32")]
    pub concurrent_jobs: u32,
    /// Why the evaluation failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why the method's result is not what its name promises (e.g. a trained
    /// mixture that learned fewer components than its K), if it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Default for MethodRecord {
    fn default() -> Self {
        MethodRecord {
            class: String::new(),
            ratio: None,
            compressed_bytes: 0,
            profile_bytes: 0,
            compress_mbps: None,
            decompress_mbps: None,
            roundtrip_ok: true,
            threads: 1,
            concurrent_jobs: 1,
            error: None,
            note: None,
        }
    }
}

impl MethodRecord {
    /// Output bytes charged to an item of `input_bytes` (compressed +
    /// profile), or, when sizes were not recorded, `input_bytes / ratio`.
    /// `None` for a failed round trip or when neither is known.
    pub fn charged_bytes(&self, input_bytes: u64) -> Option<f64> {
        if !self.roundtrip_ok {
            return None;
        }
        if self.compressed_bytes > 0 {
            return Some(self.compressed_bytes as f64 + self.profile_bytes as f64);
        }
        let r = self.ratio.filter(|r| r.is_finite() && *r > 0.0)?;
        (input_bytes > 0).then(|| input_bytes as f64 / r)
    }

    /// The item's ratio: the recorded one, else computed from the sizes.
    pub fn effective_ratio(&self, input_bytes: u64) -> Option<f64> {
        if !self.roundtrip_ok {
            return None;
        }
        if let Some(r) = self.ratio.filter(|r| r.is_finite() && *r > 0.0) {
            return Some(r);
        }
        let out = self.charged_bytes(input_bytes)?;
        (input_bytes > 0 && out > 0.0).then(|| input_bytes as f64 / out)
    }
}

/// One line of `results.jsonl.zst`: one item and every method run on it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct BenchRecord {
    /// [`KIND_BF16`], [`KIND_BF16_7B`], [`KIND_FP16`], [`KIND_FP32`] or
    /// [`KIND_Q4K`] (Q4_K tensors and whole GGUF files).
    #[serde(rename = "_kind", default, deserialize_with = "null_default")]
    pub kind: String,
    /// Source model (the bootstrap cluster).
    #[serde(default, deserialize_with = "null_default")]
    pub model: String,
    /// `train` or `test`.
    #[serde(default, deserialize_with = "null_default")]
    pub split: String,
    /// Tensor name; the file name for whole-GGUF rows.
    #[serde(default, deserialize_with = "null_default")]
    pub tensor_name: String,
    /// `bf16`, `fp16`, `fp32` (the study's spelling), `Q4_K` or `GGUF`.
    #[serde(default, deserialize_with = "null_default")]
    pub dtype: String,
    /// Dtype in the source file when the item was cast (e.g. `fp32`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_dtype: Option<String>,
    /// Shape, outermost dimension first (GGUF dims reversed); empty for files.
    #[serde(default, deserialize_with = "null_default")]
    pub shape: Vec<u64>,
    /// embedding, attention, mlp, lm_head, norm, other (`file` for whole files).
    #[serde(default, deserialize_with = "null_default")]
    pub tensor_category: String,
    /// Bytes of input the methods compressed (0 when not recorded).
    #[serde(default, deserialize_with = "lenient_u64")]
    pub input_bytes: u64,
    /// Float rows: byte-marginal ceiling `8·width / Σ H(byte plane)`; for bf16
    /// this is 16 / (H_byte0 + H_byte1).
    #[serde(
        rename = "R_marginal",
        alias = "r_marginal",
        default,
        deserialize_with = "opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub r_marginal: Option<f64>,
    /// Q4_K rows: 8 / H_byte of the nibble-byte stream.
    #[serde(
        default,
        deserialize_with = "opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub nibble_ceiling: Option<f64>,
    /// Q4_K rows: the tensor-stream ceiling (see the atlas).
    #[serde(
        default,
        deserialize_with = "opt_f64",
        skip_serializing_if = "Option::is_none"
    )]
    pub stream_ceiling: Option<f64>,
    /// Method name -> measurement.
    #[serde(default, deserialize_with = "null_default")]
    pub methods: BTreeMap<String, MethodRecord>,
}

impl BenchRecord {
    /// The identity of the row's item: `(_kind, model, tensor_name)`.
    pub fn key(&self) -> RecordKey {
        (
            self.kind.clone(),
            self.model.clone(),
            self.tensor_name.clone(),
        )
    }

    /// True for a whole-GGUF file row (of this or an older lab version).
    pub fn is_gguf_file(&self) -> bool {
        self.dtype == DTYPE_GGUF || self.kind == KIND_GGUF_LEGACY
    }

    /// The corpus the row belongs to in tables and figures: its `_kind`,
    /// except that whole-GGUF file rows form a corpus of their own,
    /// `gguf_whole` (the notebook puts them with Q4_K by their `_kind`).
    pub fn corpus(&self) -> &str {
        if self.is_gguf_file() {
            KIND_GGUF_LEGACY
        } else {
            &self.kind
        }
    }
}

/// `(_kind, model, tensor_name)`.
pub type RecordKey = (String, String, String);

fn yes() -> bool {
    true
}

fn one() -> u32 {
    1
}

/// `null` reads as the type's default.
fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Any JSON number (or null) as an `f64`; non-finite values read as absent.
fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let n = Option::<serde_json::Number>::deserialize(d)?;
    Ok(n.and_then(|n| n.as_f64()).filter(|v| v.is_finite()))
}

/// A non-negative integer, also when written as an integral float; null is 0.
fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let Some(n) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(0);
    };
    if let Some(v) = n.as_u64() {
        return Ok(v);
    }
    match n.as_f64() {
        Some(v) if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < 1.8e19 => Ok(v as u64),
        _ => Err(D::Error::custom(format!(
            "expected a non-negative integer, found {n}"
        ))),
    }
}

fn lenient_u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let v = lenient_u64(d)?;
    u32::try_from(v).map_err(|_| D::Error::custom(format!("{v} is too large")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_numbers_and_missing_fields() {
        let line = r#"{"_kind":"bench_bf16_perfile","input_bytes":100.0,"extra":[1,2],
            "methods":{"m":{"ratio":2,"compressed_bytes":50,"roundtrip_ok":true,"new":"x"}}}"#;
        let r: BenchRecord = serde_json::from_str(line).unwrap();
        assert_eq!(r.input_bytes, 100);
        assert_eq!(r.r_marginal, None);
        assert_eq!(r.methods["m"].effective_ratio(r.input_bytes), Some(2.0));
        assert_eq!(r.methods["m"].threads, 1);
        let bad = r#"{"_kind":"x","input_bytes":-3}"#;
        assert!(serde_json::from_str::<BenchRecord>(bad).is_err());
        let null_methods = r#"{"_kind":"x","methods":null,"R_marginal":null,"model":null}"#;
        let r: BenchRecord = serde_json::from_str(null_methods).unwrap();
        assert!(r.methods.is_empty());
        assert_eq!(r.model, "");
    }

    #[test]
    fn failed_roundtrip_has_no_ratio() {
        let m = MethodRecord {
            ratio: Some(1.5),
            compressed_bytes: 10,
            roundtrip_ok: false,
            ..Default::default()
        };
        assert_eq!(m.effective_ratio(15), None);
        assert_eq!(m.charged_bytes(15), None);
    }

    #[test]
    fn written_rows_read_back_equal() {
        let mut r = BenchRecord {
            kind: KIND_Q4K.into(),
            model: "m".into(),
            tensor_name: "f.gguf".into(),
            dtype: DTYPE_GGUF.into(),
            input_bytes: 7,
            ..Default::default()
        };
        r.methods.insert(
            "whole_zstd3".into(),
            MethodRecord {
                class: "general-purpose".into(),
                ratio: Some(1.1),
                compressed_bytes: 6,
                concurrent_jobs: 2,
                ..Default::default()
            },
        );
        let back: BenchRecord = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
        assert!(back.is_gguf_file());
        assert_eq!(back.corpus(), KIND_GGUF_LEGACY);
    }
}
