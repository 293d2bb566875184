//! General-purpose compressors on the raw item bytes.
//!
//! | name | definition | corpora |
//! |---|---|---|
//! | `gzip6` | gzip (flate2, deflate level 6, one member, CRC-32) | all |
//! | `brotli_q9` | brotli quality 9, lgwin 22 | all |
//! | `xz9` | xz, liblzma preset 9 (64 MiB dictionary, CRC-64) | all |
//! | `zstd3_raw` / `zstd19_raw` | one zstd frame at level 3 / 19 (content size, no checksum) | tensor corpora |
//! | `whole_zstd3` / `whole_zstd9` / `whole_zstd19` | one zstd frame at level 3 / 9 / 19 over the whole file | GGUF files |
//! | `whole_xz6` | xz preset 6 (8 MiB dictionary) over the whole file | GGUF files |
//!
//! The study names the zstd baselines `*_raw` on tensors and `whole_*` on
//! whole files; they are the same coders under the two names.

use crate::backend::Backend;
use crate::{Corpus, Method, MethodClass, Profile, Result};

const TENSORS: &[Corpus] = &[
    Corpus::Bf16Tensor,
    Corpus::Fp16Tensor,
    Corpus::Fp32Tensor,
    Corpus::Q4kStream,
];
const ALL: &[Corpus] = &Corpus::ALL;
const GGUF: &[Corpus] = &[Corpus::GgufFile];

/// A general-purpose compressor on the item's raw bytes: the compressed item
/// is the backend's own self-contained payload, nothing else.
#[derive(Clone, Copy, Debug)]
pub struct General {
    name: &'static str,
    backend: Backend,
    corpora: &'static [Corpus],
}

impl General {
    /// The backend this method runs.
    pub fn backend(&self) -> Backend {
        self.backend
    }
}

/// The general-purpose methods, in registry order.
pub fn methods() -> Vec<Box<dyn Method>> {
    let m = |name, backend, corpora| -> Box<dyn Method> {
        Box::new(General {
            name,
            backend,
            corpora,
        })
    };
    vec![
        m("gzip6", Backend::Gzip(6), ALL),
        m(
            "brotli_q9",
            Backend::Brotli {
                quality: 9,
                lgwin: 22,
            },
            ALL,
        ),
        m("xz9", Backend::Xz(9), ALL),
        m("zstd3_raw", Backend::Zstd(3), TENSORS),
        m("zstd19_raw", Backend::Zstd(19), TENSORS),
        m("whole_zstd3", Backend::Zstd(3), GGUF),
        m("whole_zstd9", Backend::Zstd(9), GGUF),
        m("whole_zstd19", Backend::Zstd(19), GGUF),
        m("whole_xz6", Backend::Xz(6), GGUF),
    ]
}

impl Method for General {
    fn name(&self) -> &'static str {
        self.name
    }

    fn class(&self) -> MethodClass {
        MethodClass::GeneralPurpose
    }

    fn applies_to(&self, corpus: Corpus) -> bool {
        self.corpora.contains(&corpus)
    }

    fn compress(&self, input: &[u8], _profile: Option<&Profile>) -> Result<Vec<u8>> {
        self.backend.compress(self.name, input)
    }

    fn decompress(
        &self,
        compressed: &[u8],
        original_len: usize,
        _profile: Option<&Profile>,
    ) -> Result<Vec<u8>> {
        self.backend.decompress(self.name, compressed, original_len)
    }
}
