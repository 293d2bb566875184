//! Every compression method of the study "Practical Limits of Lossless
//! Compression for bf16 Transformer LLM Weights" (Rotem, 2026), and
//! weightzip's own codecs, behind one trait, for the lab's fair benchmark.
//!
//! A [`Method`] codes one *item* of a [`Corpus`] (one tensor's raw bytes, one
//! Q4_K tensor's blocks, or one whole GGUF file) into bytes and back. Trained
//! methods first learn a [`Profile`] from train-split items only; the bench
//! charges `profile.bytes.len()` to every item the method compresses.
//!
//! One file per method family (as pcodec's `bench/codecs`):
//! - [`general`]: gzip, brotli, xz, zstd on the raw bytes;
//! - [`bytegrouped`]: byte planes then zstd, and `bf16_split` (Prop. 1's coder);
//! - [`scape`]: the sign+exponent / mantissa split with per-file tables;
//! - [`trained`]: zstd dictionary, trained byte-plane tables and their mixture;
//! - [`q4k`]: the Q4_K field split (`qa`) and the trained mixtures (`qb_k*`);
//! - [`gguf`]: whole-GGUF decomposition into streams;
//! - [`wz`]: weightzip's own codecs and container.
//!
//! The precise definition of each method is the doc comment of its type and
//! `docs/METHODS.md` (section 1).

pub mod backend;
pub mod bytegrouped;
pub mod error;
pub mod general;
pub mod gguf;
mod mixture;
pub mod profile;
pub mod q4k;
pub mod scape;
pub mod trained;
mod util;
pub mod wz;
pub mod wz_tensor;

pub use error::{MethodError, Result};
pub use profile::Profile;

/// The family a method belongs to (fig5 colours points by it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MethodClass {
    /// A general-purpose compressor on the raw bytes.
    GeneralPurpose,
    /// Bytes regrouped by position inside an element before coding.
    ByteGrouped,
    /// A transform that knows the number format (fields, streams), untrained.
    FormatAware,
    /// Learns side data from the train split; its bytes are charged.
    TrainedProfile,
    /// weightzip's own codecs and container.
    Weightzip,
}

impl MethodClass {
    /// Every class, in a stable order.
    pub const ALL: [MethodClass; 5] = [
        MethodClass::GeneralPurpose,
        MethodClass::ByteGrouped,
        MethodClass::FormatAware,
        MethodClass::TrainedProfile,
        MethodClass::Weightzip,
    ];

    /// The name used in records and figures.
    pub fn as_str(self) -> &'static str {
        match self {
            MethodClass::GeneralPurpose => "general-purpose",
            MethodClass::ByteGrouped => "byte-grouped",
            MethodClass::FormatAware => "format-aware",
            MethodClass::TrainedProfile => "trained-profile",
            MethodClass::Weightzip => "weightzip",
        }
    }
}

/// Which per-item corpus a method codes. Items: one tensor's raw
/// little-endian bytes (`Bf16Tensor`, `Fp16Tensor`, `Fp32Tensor`), one Q4_K
/// tensor's raw 144-byte blocks (`Q4kStream`), or one whole GGUF file
/// (`GgufFile`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Corpus {
    /// One bf16 tensor, little-endian, 2 bytes per element.
    Bf16Tensor,
    /// One fp16 tensor, little-endian, 2 bytes per element.
    Fp16Tensor,
    /// One fp32 tensor, little-endian, 4 bytes per element.
    Fp32Tensor,
    /// One Q4_K tensor's blocks, 144 bytes each.
    Q4kStream,
    /// One whole GGUF file.
    GgufFile,
}

impl Corpus {
    /// Every corpus, in a stable order.
    pub const ALL: [Corpus; 5] = [
        Corpus::Bf16Tensor,
        Corpus::Fp16Tensor,
        Corpus::Fp32Tensor,
        Corpus::Q4kStream,
        Corpus::GgufFile,
    ];

    /// The name used in records and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Corpus::Bf16Tensor => "bf16_tensor",
            Corpus::Fp16Tensor => "fp16_tensor",
            Corpus::Fp32Tensor => "fp32_tensor",
            Corpus::Q4kStream => "q4k_stream",
            Corpus::GgufFile => "gguf_file",
        }
    }

    /// The corpus called `name` (see [`Corpus::as_str`]).
    pub fn from_name(name: &str) -> Option<Corpus> {
        Corpus::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// Bytes per element of a float tensor corpus; `None` for the others.
    pub fn element_bytes(self) -> Option<usize> {
        match self {
            Corpus::Bf16Tensor | Corpus::Fp16Tensor => Some(2),
            Corpus::Fp32Tensor => Some(4),
            Corpus::Q4kStream | Corpus::GgufFile => None,
        }
    }

    /// True for the three float tensor corpora.
    pub fn is_float_tensor(self) -> bool {
        self.element_bytes().is_some()
    }
}

/// One compression method. Implementations are plain data (`Send + Sync`),
/// so the bench can share them across threads.
pub trait Method: Send + Sync {
    /// The method's stable name (DESIGN.md §4), as used in records.
    fn name(&self) -> &'static str;

    /// The method's family.
    fn class(&self) -> MethodClass;

    /// Whether the method is defined for items of `corpus`.
    fn applies_to(&self, corpus: Corpus) -> bool;

    /// True when the method needs a [`Profile`] from [`Method::train`].
    fn is_trained(&self) -> bool {
        false
    }

    /// Why a profile of this method is not what the method's name promises
    /// (e.g. a K-component mixture that learned fewer components), recorded
    /// as the `note` of every result row that uses it. `None`: it is.
    fn profile_note(&self, profile: &Profile) -> Option<String> {
        let _ = profile;
        None
    }

    /// Learn side data from train-split items only (None for untrained methods).
    fn train(&self, corpus: Corpus, items: &[&[u8]]) -> Result<Option<Profile>> {
        let _ = (corpus, items);
        Ok(None)
    }

    /// Compresses one item. Trained methods need the profile from
    /// [`Method::train`]; untrained methods ignore it.
    fn compress(&self, input: &[u8], profile: Option<&Profile>) -> Result<Vec<u8>>;

    /// Compresses one item of `corpus` whose shape (outermost dimension
    /// first; empty for whole files) is known, as the bench does. Methods
    /// that code tensors the way the container does (row lengths, chunks)
    /// use it; the others compress the bytes alone.
    fn compress_item(
        &self,
        input: &[u8],
        corpus: Corpus,
        shape: &[u64],
        profile: Option<&Profile>,
    ) -> Result<Vec<u8>> {
        let _ = (corpus, shape);
        self.compress(input, profile)
    }

    /// Must return exactly the original bytes; `original_len` is known to the caller.
    ///
    /// The input is treated as hostile: damaged data gives an error (or, for
    /// methods without an integrity check, possibly wrong bytes), never a
    /// panic, and nothing is allocated beyond what `original_len` and the
    /// input's own length bound.
    fn decompress(
        &self,
        compressed: &[u8],
        original_len: usize,
        profile: Option<&Profile>,
    ) -> Result<Vec<u8>>;
}

/// The registry, built for `corpus` (methods whose coding depends on the
/// element width, such as `zstd19_bytegrouped`, are bound to it) or for
/// each method's default corpus.
fn registry(corpus: Option<Corpus>) -> Vec<Box<dyn Method>> {
    let mut all: Vec<Box<dyn Method>> = Vec::new();
    all.extend(general::methods());
    all.extend(bytegrouped::methods(corpus));
    all.extend(scape::methods());
    all.extend(q4k::untrained_methods());
    all.extend(gguf::untrained_methods());
    all.extend(trained::methods());
    all.extend(q4k::trained_methods());
    all.extend(gguf::trained_methods());
    all.extend(wz::methods());
    all
}

/// Every method, in a stable order (general-purpose, byte-grouped,
/// format-aware, trained-profile, weightzip). Methods that depend on the
/// element width are bound to their first corpus; use [`methods_for`] or
/// [`method_for`] to code a given corpus.
pub fn all_methods() -> Vec<Box<dyn Method>> {
    registry(None)
}

/// The method called `name`, bound to its default corpus.
pub fn method_by_name(name: &str) -> Option<Box<dyn Method>> {
    registry(None).into_iter().find(|m| m.name() == name)
}

/// The method called `name` bound to `corpus`, if it applies to it.
pub fn method_for(name: &str, corpus: Corpus) -> Option<Box<dyn Method>> {
    registry(Some(corpus))
        .into_iter()
        .find(|m| m.name() == name && m.applies_to(corpus))
}

/// Every method that applies to `corpus`, bound to it, in registry order.
pub fn methods_for(corpus: Corpus) -> Vec<Box<dyn Method>> {
    registry(Some(corpus))
        .into_iter()
        .filter(|m| m.applies_to(corpus))
        .collect()
}

/// Every method name, in registry order.
pub fn method_names() -> Vec<&'static str> {
    registry(None).iter().map(|m| m.name()).collect()
}
