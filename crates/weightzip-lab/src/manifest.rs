//! The corpus manifest (`corpus.toml`).
//!
//! ```toml
//! # paths are relative to this file
//! [[model]]
//! name = "minilm"                      # optional; default: the file or folder stem
//! path = "minilm/model.bf16.safetensors" # a safetensors file, a model folder or a GGUF file
//! split = "test"                       # "train" or "test": the split is by model
//! cast = "bf16"                        # optional: F32 / F16 tensors -> bf16 (round to nearest even)
//! include = ["*.weight"]               # optional tensor-name globs (`*`, `?`); default: all
//! exclude = ["*LayerNorm*"]            # optional
//! min_bytes = 0                        # optional: skip smaller tensors
//! corpora = ["bf16", "q4k", "gguf"]    # optional: which derived corpora to take from this entry
//! kind_override = "bench_7B"           # optional `_kind` for this model's bf16 rows
//! ```
//!
//! Several entries may share a `name` (e.g. a model's bf16 safetensors and
//! its GGUF): they are one model, so they must have the same split.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{LabError, Result};

/// Train or test: which side of the split a model is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Trained methods learn from these models only.
    Train,
    /// Every benchmark row comes from these models.
    Test,
}

impl Split {
    /// `"train"` or `"test"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
        }
    }
}

/// A dtype cast applied while extracting tensors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Cast {
    /// F32 and F16 tensors become bf16 (round to nearest even, NaN kept as a quiet NaN).
    Bf16,
}

/// One of the per-item corpora the lab derives from model files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CorpusKind {
    /// bf16 tensors of safetensors files.
    Bf16,
    /// fp16 tensors of safetensors files.
    Fp16,
    /// fp32 tensors of safetensors files.
    Fp32,
    /// Q4_K tensors of GGUF files: raw 144-byte blocks.
    Q4k,
    /// Whole GGUF files.
    Gguf,
}

impl CorpusKind {
    /// Every kind, in report order.
    pub const ALL: [CorpusKind; 5] = [
        CorpusKind::Bf16,
        CorpusKind::Fp16,
        CorpusKind::Fp32,
        CorpusKind::Q4k,
        CorpusKind::Gguf,
    ];

    /// The short name used in the manifest and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            CorpusKind::Bf16 => "bf16",
            CorpusKind::Fp16 => "fp16",
            CorpusKind::Fp32 => "fp32",
            CorpusKind::Q4k => "q4k",
            CorpusKind::Gguf => "gguf",
        }
    }

    /// Parses a short name (also accepts the record `_kind` names).
    pub fn parse(name: &str) -> Option<CorpusKind> {
        let n = name.trim().to_ascii_lowercase();
        Some(match n.as_str() {
            "bf16" | "bench_bf16_perfile" | "bench_7b" => CorpusKind::Bf16,
            "fp16" | "f16" | "bench_fp16" => CorpusKind::Fp16,
            "fp32" | "f32" | "bench_fp32" => CorpusKind::Fp32,
            "q4k" | "q4_k" | "q4_k_benchmark" => CorpusKind::Q4k,
            "gguf" | "gguf_whole" => CorpusKind::Gguf,
            _ => return None,
        })
    }

    /// The default `_kind` of the result rows of this corpus. Whole GGUF
    /// files share the Q4_K corpus's kind, as the study's Q4_K_M files do:
    /// its notebook's fig5 reads no other kind (their rows carry `dtype`
    /// `GGUF`; see the lab README).
    pub fn record_kind(self) -> &'static str {
        use weightzip_records::schema as s;
        match self {
            CorpusKind::Bf16 => s::KIND_BF16,
            CorpusKind::Fp16 => s::KIND_FP16,
            CorpusKind::Fp32 => s::KIND_FP32,
            CorpusKind::Q4k | CorpusKind::Gguf => s::KIND_Q4K,
        }
    }
}

/// One `[[model]]` entry as written in the file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    name: Option<String>,
    path: PathBuf,
    split: Split,
    cast: Option<Cast>,
    #[serde(default)]
    include: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
    #[serde(default)]
    min_bytes: u64,
    corpora: Option<Vec<CorpusKind>>,
    kind_override: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    /// Optional name of the corpus.
    name: Option<String>,
    #[serde(default)]
    model: Vec<RawModel>,
}

/// One model entry, validated, with its path resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelEntry {
    /// Model name (the cluster of the bootstrap).
    pub name: String,
    /// Absolute or manifest-relative-resolved path.
    pub path: PathBuf,
    /// Train or test.
    pub split: Split,
    /// Optional cast.
    pub cast: Option<Cast>,
    /// Tensor-name globs to keep (empty: all).
    pub include: Vec<String>,
    /// Tensor-name globs to drop.
    pub exclude: Vec<String>,
    /// Tensors smaller than this are skipped.
    pub min_bytes: u64,
    /// Corpora taken from this entry (`None`: all that apply).
    pub corpora: Option<Vec<CorpusKind>>,
    /// `_kind` for this model's bf16 rows, e.g. `bench_7B`.
    pub kind_override: Option<String>,
}

impl ModelEntry {
    /// Whether the tensor called `name` passes the include / exclude filters.
    pub fn keeps_tensor(&self, name: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|g| glob_match(g, name)))
            && !self.exclude.iter().any(|g| glob_match(g, name))
    }

    /// Whether corpus `kind` is taken from this entry.
    pub fn takes(&self, kind: CorpusKind) -> bool {
        self.corpora.as_ref().is_none_or(|c| c.contains(&kind))
    }
}

/// A parsed and validated corpus manifest.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    /// The manifest file.
    pub path: PathBuf,
    /// Optional corpus name.
    pub name: Option<String>,
    /// Model entries in file order.
    pub models: Vec<ModelEntry>,
}

impl Manifest {
    /// Reads and validates the manifest at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Manifest> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| LabError::io(path, e))?;
        Manifest::parse(&text, path)
    }

    /// Parses manifest text; `path` is used for messages and to resolve
    /// relative model paths (against its parent directory).
    pub fn parse(text: &str, path: &Path) -> Result<Manifest> {
        let err = |message: String| LabError::Manifest {
            path: path.to_path_buf(),
            message,
        };
        let raw: RawManifest = toml::from_str(text).map_err(|e| err(e.to_string()))?;
        if raw.model.is_empty() {
            return Err(err(
                "no [[model]] entries: a corpus needs at least one model".into(),
            ));
        }
        let base = path.parent().unwrap_or(Path::new("."));
        let mut models = Vec::with_capacity(raw.model.len());
        let mut splits: BTreeMap<String, (Split, usize)> = BTreeMap::new();
        for (i, m) in raw.model.into_iter().enumerate() {
            let key = |k: &str| format!("model[{i}].{k}");
            if m.path.as_os_str().is_empty() {
                return Err(err(format!("{}: empty path", key("path"))));
            }
            let resolved = if m.path.is_absolute() {
                m.path.clone()
            } else {
                base.join(&m.path)
            };
            let name = match m.name {
                Some(n) if n.trim().is_empty() => {
                    return Err(err(format!("{}: empty name", key("name"))))
                }
                Some(n) => n,
                None => default_name(&m.path),
            };
            for (k, globs) in [("include", &m.include), ("exclude", &m.exclude)] {
                if let Some(g) = globs.iter().find(|g| g.is_empty()) {
                    return Err(err(format!("{}: empty pattern {g:?}", key(k))));
                }
            }
            if let Some(c) = &m.corpora {
                if c.is_empty() {
                    return Err(err(format!("{}: empty list", key("corpora"))));
                }
            }
            if let Some(k) = &m.kind_override {
                if k.trim().is_empty() {
                    return Err(err(format!("{}: empty", key("kind_override"))));
                }
            }
            match splits.get(&name) {
                Some(&(s, j)) if s != m.split => {
                    return Err(err(format!(
                        "{}: model {name:?} is {} here but {} in model[{j}]: the split is by model",
                        key("split"),
                        m.split.as_str(),
                        s.as_str()
                    )))
                }
                Some(_) => {}
                None => {
                    splits.insert(name.clone(), (m.split, i));
                }
            }
            models.push(ModelEntry {
                name,
                path: resolved,
                split: m.split,
                cast: m.cast,
                include: m.include,
                exclude: m.exclude,
                min_bytes: m.min_bytes,
                corpora: m.corpora,
                kind_override: m.kind_override,
            });
        }
        Ok(Manifest {
            path: path.to_path_buf(),
            name: raw.name,
            models,
        })
    }

    /// The models of one split.
    pub fn models_of(&self, split: Split) -> impl Iterator<Item = &ModelEntry> {
        self.models.iter().filter(move |m| m.split == split)
    }
}

/// The default model name: the path's file name without model-file suffixes.
fn default_name(path: &Path) -> String {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string_lossy().into_owned());
    let mut name = file.as_str();
    for suffix in [".safetensors", ".gguf"] {
        if let Some(s) = name.strip_suffix(suffix) {
            name = s;
        }
    }
    name.to_string()
}

/// Matches `text` against a glob with `*` (any run) and `?` (one char).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*", ""));
        assert!(glob_match("*.weight", "a.b.weight"));
        assert!(!glob_match("*.weight", "a.b.bias"));
        assert!(glob_match("*layer.?.*", "encoder.layer.3.x"));
        assert!(!glob_match("*layer.?.*", "encoder.layer.13.x"));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("a*b*c", "aXXbYY"));
    }

    #[test]
    fn default_names() {
        assert_eq!(
            default_name(Path::new("x/model.bf16.safetensors")),
            "model.bf16"
        );
        assert_eq!(default_name(Path::new("x/Q4_K_M.gguf")), "Q4_K_M");
        assert_eq!(default_name(Path::new("x/folder")), "folder");
    }
}
