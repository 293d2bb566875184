//! The methods a run uses, and the trained profiles (train split only).
//!
//! A [`MethodSet`] holds, for each corpus, the method instances that code it
//! (the registry binds width-dependent methods to their corpus). [`Profiles`]
//! holds one trained profile per (trained method, corpus); they are learned
//! by [`train_profiles`] from **train-split items only** and saved as
//! `<dir>/<method>.<corpus>.profile`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use weightzip_methods::{Corpus, Method, Profile};

use crate::corpus::Dataset;
use crate::error::{LabError, Result};
use crate::manifest::{glob_match, CorpusKind, Split};
use crate::progress::Progress;

/// The method layer's corpus of a lab corpus.
pub fn method_corpus(kind: CorpusKind) -> Corpus {
    match kind {
        CorpusKind::Bf16 => Corpus::Bf16Tensor,
        CorpusKind::Fp16 => Corpus::Fp16Tensor,
        CorpusKind::Fp32 => Corpus::Fp32Tensor,
        CorpusKind::Q4k => Corpus::Q4kStream,
        CorpusKind::Gguf => Corpus::GgufFile,
    }
}

/// The method instances of a run, per corpus.
#[derive(Clone, Default)]
pub struct MethodSet {
    entries: Vec<(CorpusKind, Arc<dyn Method>)>,
}

impl std::fmt::Debug for MethodSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|(k, m)| (k.as_str(), m.name())))
            .finish()
    }
}

impl MethodSet {
    /// Every registry method whose name matches one of `patterns` (globs;
    /// none: all), minus those matching a pattern written `!glob`, bound to
    /// each corpus it applies to. A pattern that matches no method is an
    /// error listing the known names.
    pub fn registry(patterns: &[String]) -> Result<MethodSet> {
        let names = weightzip_methods::method_names();
        let (exclude, include): (Vec<&str>, Vec<&str>) = patterns
            .iter()
            .map(|p| p.trim())
            .filter(|p| !p.is_empty())
            .partition(|p| p.starts_with('!'));
        let exclude: Vec<&str> = exclude.iter().map(|p| &p[1..]).collect();
        for p in include.iter().chain(&exclude) {
            if !names.iter().any(|n| glob_match(p, n)) {
                return Err(LabError::Invalid(format!(
                    "--methods: no method matches {p:?}; known methods: {}",
                    names.join(", ")
                )));
            }
        }
        let keep = |name: &str| {
            (include.is_empty() || include.iter().any(|p| glob_match(p, name)))
                && !exclude.iter().any(|p| glob_match(p, name))
        };
        let mut entries = Vec::new();
        for kind in CorpusKind::ALL {
            for m in weightzip_methods::methods_for(method_corpus(kind)) {
                if keep(m.name()) {
                    entries.push((kind, Arc::from(m)));
                }
            }
        }
        Ok(MethodSet { entries })
    }

    /// A set of explicit instances (tests, custom runs): each is used for
    /// every corpus it applies to.
    pub fn from_methods(methods: Vec<Arc<dyn Method>>) -> MethodSet {
        let mut entries = Vec::new();
        for kind in CorpusKind::ALL {
            for m in &methods {
                if m.applies_to(method_corpus(kind)) {
                    entries.push((kind, Arc::clone(m)));
                }
            }
        }
        MethodSet { entries }
    }

    /// The methods that code `kind`, in registry order.
    pub fn for_kind(&self, kind: CorpusKind) -> impl Iterator<Item = &dyn Method> {
        self.entries
            .iter()
            .filter(move |(k, _)| *k == kind)
            .map(|(_, m)| m.as_ref())
    }

    /// Every (corpus, method) pair.
    pub fn iter(&self) -> impl Iterator<Item = (CorpusKind, &dyn Method)> {
        self.entries.iter().map(|(k, m)| (*k, m.as_ref()))
    }

    /// Distinct method names, in first-seen order.
    pub fn names(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for (_, m) in &self.entries {
            if !out.contains(&m.name()) {
                out.push(m.name());
            }
        }
        out
    }

    /// True when the set holds no method.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Trained profiles, one per (method, corpus).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Profiles {
    map: BTreeMap<(String, CorpusKind), Profile>,
}

impl Profiles {
    /// The profile of `method` for `kind`.
    pub fn get(&self, method: &str, kind: CorpusKind) -> Option<&Profile> {
        self.map.get(&(method.to_string(), kind))
    }

    /// Adds (or replaces) a profile.
    pub fn insert(&mut self, kind: CorpusKind, profile: Profile) {
        self.map.insert((profile.method.clone(), kind), profile);
    }

    /// Number of profiles.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when there is none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Every profile with its corpus.
    pub fn iter(&self) -> impl Iterator<Item = (CorpusKind, &Profile)> {
        self.map.iter().map(|((_, k), p)| (*k, p))
    }

    /// The file of the profile of `method` for `kind` in `dir`.
    pub fn file_name(dir: &Path, method: &str, kind: CorpusKind) -> PathBuf {
        dir.join(format!("{method}.{}.profile", kind.as_str()))
    }

    /// Writes every profile into `dir` (each via a temporary file and a
    /// rename, so concurrent shards never read a partial profile).
    pub fn save(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir).map_err(|e| LabError::io(dir, e))?;
        let mut written = Vec::new();
        for ((name, kind), p) in &self.map {
            let path = Profiles::file_name(dir, name, *kind);
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            p.save(&tmp).map_err(|e| LabError::Method {
                method: name.clone(),
                message: e.to_string(),
            })?;
            std::fs::rename(&tmp, &path).map_err(|e| LabError::io(&path, e))?;
            written.push(path);
        }
        Ok(written)
    }

    /// Loads the profiles in `dir` of the trained methods of `set`; missing
    /// files are simply absent from the result.
    pub fn load(dir: &Path, set: &MethodSet) -> Result<Profiles> {
        let mut out = Profiles::default();
        for (kind, m) in set.iter().filter(|(_, m)| m.is_trained()) {
            let path = Profiles::file_name(dir, m.name(), kind);
            if !path.exists() {
                continue;
            }
            let p = Profile::load(&path).map_err(|e| LabError::Method {
                method: m.name().to_string(),
                message: e.to_string(),
            })?;
            if p.method != m.name() {
                return Err(LabError::Method {
                    method: m.name().to_string(),
                    message: format!(
                        "{} holds a profile of method {:?}",
                        path.display(),
                        p.method
                    ),
                });
            }
            out.insert(kind, p);
        }
        Ok(out)
    }
}

/// What training did, for the user.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrainReport {
    /// (method, corpus, train items, train bytes, profile bytes).
    pub trained: Vec<(String, CorpusKind, usize, u64, usize)>,
    /// (method, corpus, reason) of trained methods that got no profile.
    pub skipped: Vec<(String, CorpusKind, String)>,
}

/// Trains every trained method of `set` on the **train split** of each
/// corpus in `kinds` (empty: all) for which `have(method, kind)` is false.
/// A corpus without train items gives no profile (recorded in the report);
/// a method error is an error.
pub fn train_profiles(
    ds: &Dataset,
    set: &MethodSet,
    kinds: &[CorpusKind],
    profiles: &mut Profiles,
    progress: &dyn Progress,
) -> Result<TrainReport> {
    let mut report = TrainReport::default();
    let todo: Vec<(CorpusKind, &dyn Method)> = set
        .iter()
        .filter(|(k, m)| {
            m.is_trained()
                && (kinds.is_empty() || kinds.contains(k))
                && profiles.get(m.name(), *k).is_none()
        })
        .collect();
    let total: u64 = todo
        .iter()
        .map(|(k, _)| ds.of(Split::Train, *k).map(|i| i.input_bytes).sum::<u64>())
        .sum();
    progress.start("train", total);
    for (kind, m) in todo {
        let items: Vec<_> = ds.of(Split::Train, kind).collect();
        if items.is_empty() {
            let reason = format!("no train-split {} items", kind.as_str());
            progress.note(&format!("{}: {reason}; not trained", m.name()));
            report.skipped.push((m.name().to_string(), kind, reason));
            continue;
        }
        let bytes = items
            .iter()
            .map(|i| ds.bytes(i))
            .collect::<Result<Vec<_>>>()?;
        let refs: Vec<&[u8]> = bytes.iter().map(|b| b.as_ref()).collect();
        let n_bytes: u64 = refs.iter().map(|b| b.len() as u64).sum();
        let trained = m
            .train(method_corpus(kind), &refs)
            .map_err(|e| LabError::Method {
                method: m.name().to_string(),
                message: format!("training on {} train items: {e}", kind.as_str()),
            })?;
        progress.advance(n_bytes, m.name());
        match trained {
            Some(p) => {
                report.trained.push((
                    m.name().to_string(),
                    kind,
                    refs.len(),
                    n_bytes,
                    p.bytes.len(),
                ));
                let p = if p.method == m.name() {
                    p
                } else {
                    Profile::new(m.name(), p.bytes)
                };
                profiles.insert(kind, p);
            }
            None => report.skipped.push((
                m.name().to_string(),
                kind,
                "training returned no profile".into(),
            )),
        }
    }
    progress.finish();
    Ok(report)
}
