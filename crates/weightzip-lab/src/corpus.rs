//! Deriving the per-item corpora from the manifest's model files.
//!
//! From every model entry the lab takes:
//! - safetensors files: one item per BF16 / F16 / F32 tensor (after the
//!   optional cast to bf16); other dtypes (integers, fp8, ...) are skipped;
//! - GGUF files: one item per Q4_K tensor (its raw 144-byte blocks) and one
//!   item for the whole file.
//!
//! Items borrow their bytes from memory-mapped files; only cast items are
//! materialised, one at a time, when asked for.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use weightzip_format::{Dtype, GgmlType, GgufFile, SafetensorsFile};

use crate::error::{LabError, Result};
use crate::manifest::{Cast, CorpusKind, Manifest, ModelEntry, Split};

/// One item of a corpus: a tensor or a whole file.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// Source model (bootstrap cluster).
    pub model: String,
    /// Train or test.
    pub split: Split,
    /// Which corpus the item belongs to.
    pub kind: CorpusKind,
    /// `_kind` of its result row (`bench_bf16_perfile`, or the model's override).
    pub record_kind: String,
    /// Tensor name, or the file name for whole files.
    pub name: String,
    /// Dtype of the item's bytes: `BF16`, `F16`, `F32`, `Q4_K` or `GGUF`.
    pub dtype: String,
    /// Dtype in the source file when the item was cast.
    pub source_dtype: Option<String>,
    /// Shape, outermost dimension first (GGUF dims reversed); empty for files.
    pub shape: Vec<u64>,
    /// Tensor category (`file` for whole files).
    pub category: String,
    /// Tensor role within its layer (q_proj, up_proj, ...), if known.
    pub role: Option<String>,
    /// Layer index, if any.
    pub layer: Option<u32>,
    /// Size in bytes of the item (after any cast).
    pub input_bytes: u64,
    /// The file the bytes come from.
    pub path: PathBuf,
    file: usize,
    start: usize,
    end: usize,
    cast: Option<(Cast, Dtype)>,
}

impl Item {
    /// Number of elements (tensors) or bytes (files).
    pub fn n_elements(&self) -> u64 {
        if self.shape.is_empty() {
            self.input_bytes
        } else {
            self.shape.iter().product()
        }
    }
}

enum Source {
    St(SafetensorsFile),
    Gguf(GgufFile),
}

impl Source {
    fn bytes(&self) -> &[u8] {
        match self {
            Source::St(f) => f.bytes(),
            Source::Gguf(f) => f.bytes(),
        }
    }
}

/// The items of a manifest with the mapped files they come from.
pub struct Dataset {
    /// The manifest the dataset was built from.
    pub manifest: Manifest,
    /// Every item, in manifest order, then file order.
    pub items: Vec<Item>,
    files: Vec<(PathBuf, Source)>,
}

impl std::fmt::Debug for Dataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dataset")
            .field("manifest", &self.manifest.path)
            .field("items", &self.items.len())
            .field("files", &self.files.len())
            .finish()
    }
}

impl Dataset {
    /// Opens every model file of the manifest and derives the items.
    pub fn open(manifest: Manifest) -> Result<Dataset> {
        let mut ds = Dataset {
            manifest: Manifest {
                path: manifest.path.clone(),
                name: manifest.name.clone(),
                models: Vec::new(),
            },
            items: Vec::new(),
            files: Vec::new(),
        };
        for (i, m) in manifest.models.iter().enumerate() {
            let files = model_files(m).map_err(|message| LabError::Manifest {
                path: manifest.path.clone(),
                message: format!("model[{i}].path: {message}"),
            })?;
            for f in files {
                ds.add_file(m, &f)?;
            }
        }
        ds.manifest = manifest;
        ds.check_unique()?;
        Ok(ds)
    }

    /// Loads the manifest at `path` and opens it.
    pub fn load(path: impl AsRef<Path>) -> Result<Dataset> {
        Dataset::open(Manifest::load(path)?)
    }

    fn add_file(&mut self, m: &ModelEntry, path: &Path) -> Result<()> {
        let fmt_err = |source| LabError::Format {
            path: path.to_path_buf(),
            source,
        };
        let file_index = self.files.len();
        let is_gguf = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
            || sniff_gguf(path)?;
        if is_gguf {
            let g = GgufFile::open(path).map_err(fmt_err)?;
            let file_len = g.bytes().len();
            if m.takes(CorpusKind::Q4k) {
                for t in &g.header().tensors {
                    if t.ty != GgmlType::Q4_K || !m.keeps_tensor(&t.name) || t.len < m.min_bytes {
                        continue;
                    }
                    let (start, end) = span(t.offset, t.len, file_len, path, &t.name)?;
                    let shape: Vec<u64> = t.dims.iter().rev().copied().collect();
                    self.push(m, path, file_index, &t.name, CorpusKind::Q4k, "Q4_K", shape)
                        .finish(start, end, None);
                }
            }
            if m.takes(CorpusKind::Gguf) {
                let name = file_name(path);
                let item = Item {
                    model: m.name.clone(),
                    split: m.split,
                    kind: CorpusKind::Gguf,
                    record_kind: CorpusKind::Gguf.record_kind().to_string(),
                    name,
                    dtype: weightzip_records::schema::DTYPE_GGUF.into(),
                    source_dtype: None,
                    shape: Vec::new(),
                    category: "file".into(),
                    role: None,
                    layer: None,
                    input_bytes: file_len as u64,
                    path: path.to_path_buf(),
                    file: file_index,
                    start: 0,
                    end: file_len,
                    cast: None,
                };
                self.items.push(item);
            }
            self.files.push((path.to_path_buf(), Source::Gguf(g)));
        } else {
            let st = SafetensorsFile::open(path).map_err(fmt_err)?;
            let file_len = st.bytes().len();
            for t in &st.header().tensors {
                if !m.keeps_tensor(&t.name) {
                    continue;
                }
                let (kind, cast) = match (t.dtype, m.cast) {
                    (Dtype::BF16, _) => (CorpusKind::Bf16, None),
                    (Dtype::F16 | Dtype::F32, Some(Cast::Bf16)) => {
                        (CorpusKind::Bf16, Some((Cast::Bf16, t.dtype)))
                    }
                    (Dtype::F16, None) => (CorpusKind::Fp16, None),
                    (Dtype::F32, None) => (CorpusKind::Fp32, None),
                    _ => continue,
                };
                if !m.takes(kind) {
                    continue;
                }
                let (start, end) = span(t.data_start, t.len(), file_len, path, &t.name)?;
                let n = t.n_elements();
                let bytes = match cast {
                    Some(_) => n.saturating_mul(2),
                    None => t.len(),
                };
                if bytes < m.min_bytes {
                    continue;
                }
                // The study's spelling (its notebook keeps `dtype == 'bf16'`).
                let dtype = match kind {
                    CorpusKind::Bf16 => "bf16",
                    CorpusKind::Fp16 => "fp16",
                    _ => "fp32",
                };
                let pending = self.push(m, path, file_index, &t.name, kind, dtype, t.shape.clone());
                pending.finish(start, end, cast);
                if let Some(last) = self.items.last_mut() {
                    last.input_bytes = bytes;
                }
            }
            self.files.push((path.to_path_buf(), Source::St(st)));
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn push<'a>(
        &'a mut self,
        m: &ModelEntry,
        path: &Path,
        file: usize,
        name: &str,
        kind: CorpusKind,
        dtype: &str,
        shape: Vec<u64>,
    ) -> PendingItem<'a> {
        let (category, role, layer) = classify(name);
        let record_kind = match (&m.kind_override, kind) {
            (Some(k), CorpusKind::Bf16) => k.clone(),
            _ => kind.record_kind().to_string(),
        };
        PendingItem {
            items: &mut self.items,
            item: Item {
                model: m.name.clone(),
                split: m.split,
                kind,
                record_kind,
                name: name.to_string(),
                dtype: dtype.to_string(),
                source_dtype: None,
                shape,
                category,
                role,
                layer,
                input_bytes: 0,
                path: path.to_path_buf(),
                file,
                start: 0,
                end: 0,
                cast: None,
            },
        }
    }

    fn check_unique(&self) -> Result<()> {
        let mut seen: BTreeMap<(&str, &str, &str), &Path> = BTreeMap::new();
        for it in &self.items {
            let key = (it.record_kind.as_str(), it.model.as_str(), it.name.as_str());
            if let Some(first) = seen.insert(key, &it.path) {
                return Err(LabError::Manifest {
                    path: self.manifest.path.clone(),
                    message: format!(
                        "model {:?}: item {:?} of corpus {} comes from both {} and {}; \
                         give the entries different names or filter one of them",
                        it.model,
                        it.name,
                        it.kind.as_str(),
                        first.display(),
                        it.path.display()
                    ),
                });
            }
        }
        Ok(())
    }

    /// The bytes of `item` (borrowed from the map, or cast into a new buffer).
    pub fn bytes(&self, item: &Item) -> Result<Cow<'_, [u8]>> {
        let (path, src) = self
            .files
            .get(item.file)
            .ok_or_else(|| LabError::Invalid(format!("item {} has no source file", item.name)))?;
        let raw = src.bytes().get(item.start..item.end).ok_or_else(|| {
            LabError::Invalid(format!(
                "{}: item {} lies outside the file",
                path.display(),
                item.name
            ))
        })?;
        Ok(match item.cast {
            None => Cow::Borrowed(raw),
            Some((Cast::Bf16, Dtype::F32)) => Cow::Owned(f32_bytes_to_bf16(raw)),
            Some((Cast::Bf16, Dtype::F16)) => Cow::Owned(f16_bytes_to_bf16(raw)),
            Some((_, other)) => {
                return Err(LabError::Invalid(format!(
                    "{}: cannot cast {} tensor {} to bf16",
                    path.display(),
                    other.name(),
                    item.name
                )))
            }
        })
    }

    /// Items of one split.
    pub fn split(&self, split: Split) -> impl Iterator<Item = &Item> {
        self.items.iter().filter(move |i| i.split == split)
    }

    /// Items of one split and corpus.
    pub fn of(&self, split: Split, kind: CorpusKind) -> impl Iterator<Item = &Item> {
        self.items
            .iter()
            .filter(move |i| i.split == split && i.kind == kind)
    }
}

struct PendingItem<'a> {
    items: &'a mut Vec<Item>,
    item: Item,
}

impl PendingItem<'_> {
    fn finish(mut self, start: usize, end: usize, cast: Option<(Cast, Dtype)>) {
        self.item.start = start;
        self.item.end = end;
        self.item.input_bytes = (end - start) as u64;
        if let Some((_, from)) = cast {
            self.item.source_dtype = Some(study_dtype_name(from).to_string());
        }
        self.item.cast = cast;
        self.items.push(self.item);
    }
}

/// A safetensors dtype in the study's spelling (`bf16`, `fp16`, `fp32`).
fn study_dtype_name(d: Dtype) -> &'static str {
    match d {
        Dtype::BF16 => "bf16",
        Dtype::F16 => "fp16",
        Dtype::F32 => "fp32",
        other => other.name(),
    }
}

fn span(offset: u64, len: u64, file_len: usize, path: &Path, name: &str) -> Result<(usize, usize)> {
    let end = offset.checked_add(len);
    match end {
        Some(e) if e <= file_len as u64 => Ok((offset as usize, e as usize)),
        _ => Err(LabError::Invalid(format!(
            "{}: tensor {name} ({len} bytes at {offset}) lies outside the file ({file_len} bytes)",
            path.display()
        ))),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn sniff_gguf(path: &Path) -> Result<bool> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| LabError::io(path, e))?;
    let mut magic = [0u8; 4];
    match f.read_exact(&mut magic) {
        Ok(()) => Ok(&magic == b"GGUF"),
        Err(_) => Ok(false),
    }
}

/// The model files of an entry: the file itself, or every `*.safetensors`
/// and `*.gguf` in a folder (sorted by name).
fn model_files(m: &ModelEntry) -> std::result::Result<Vec<PathBuf>, String> {
    let meta = std::fs::metadata(&m.path).map_err(|e| format!("{}: {e}", m.path.display()))?;
    if meta.is_file() {
        return Ok(vec![m.path.clone()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&m.path)
        .map_err(|e| format!("{}: {e}", m.path.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension().is_some_and(|e| {
                    e.eq_ignore_ascii_case("safetensors") || e.eq_ignore_ascii_case("gguf")
                })
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!(
            "{}: folder holds no .safetensors or .gguf file",
            m.path.display()
        ));
    }
    Ok(files)
}

/// Category, role and layer of a tensor name.
fn classify(name: &str) -> (String, Option<String>, Option<u32>) {
    let t = crate::naming::classify(name);
    (
        t.category.as_str().to_string(),
        t.role.map(str::to_string),
        t.layer,
    )
}

/// Rounds f32 bits to bf16 bits, to nearest even; a NaN stays a NaN (made
/// quiet, sign and top payload bits kept).
pub fn f32_to_bf16_bits(bits: u32) -> u16 {
    if (bits & 0x7FFF_FFFF) > 0x7F80_0000 {
        return ((bits >> 16) as u16) | 0x0040;
    }
    let rounding = 0x7FFF + ((bits >> 16) & 1);
    (bits.wrapping_add(rounding) >> 16) as u16
}

/// Casts little-endian f32 bytes to little-endian bf16 bytes (a trailing
/// partial element is dropped).
pub fn f32_bytes_to_bf16(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() / 2);
    for c in raw.chunks_exact(4) {
        let b = f32_to_bf16_bits(u32::from_le_bytes([c[0], c[1], c[2], c[3]]));
        out.extend_from_slice(&b.to_le_bytes());
    }
    out
}

/// Casts little-endian f16 bytes to bf16 (exactly via f32, then rounded).
pub fn f16_bytes_to_bf16(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    for c in raw.chunks_exact(2) {
        let f = weightzip_format::ggml::f16_to_f32(u16::from_le_bytes([c[0], c[1]]));
        out.extend_from_slice(&f32_to_bf16_bits(f.to_bits()).to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_cast_rounds_to_nearest_even() {
        assert_eq!(f32_to_bf16_bits(1.0f32.to_bits()), 0x3F80);
        // Exactly halfway, even below: stays.
        assert_eq!(f32_to_bf16_bits(0x3F80_8000), 0x3F80);
        // Exactly halfway, odd below: rounds up.
        assert_eq!(f32_to_bf16_bits(0x3F81_8000), 0x3F82);
        // Above halfway rounds up.
        assert_eq!(f32_to_bf16_bits(0x3F80_8001), 0x3F81);
        // Largest finite f32 overflows to +inf.
        assert_eq!(f32_to_bf16_bits(f32::MAX.to_bits()), 0x7F80);
        assert_eq!(f32_to_bf16_bits(f32::INFINITY.to_bits()), 0x7F80);
        assert_eq!(f32_to_bf16_bits(f32::NEG_INFINITY.to_bits()), 0xFF80);
        assert_eq!(f32_to_bf16_bits((-0.0f32).to_bits()), 0x8000);
        // Signalling NaN with a low payload becomes a quiet NaN, never inf.
        assert_eq!(f32_to_bf16_bits(0x7F80_0001), 0x7FC0);
        assert_eq!(f32_to_bf16_bits(0xFFC0_0000), 0xFFC0);
    }
}
