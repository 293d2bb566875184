//! A folder of checkpoints as a chain: a file whose name an earlier file
//! of the archive also has (`ckpt-100/model.safetensors` after
//! `ckpt-000/model.safetensors`) codes each tensor chunk as a delta against
//! the same chunk of the nearest such file wherever that is smaller. No
//! chunk is more than [`CHAIN_DEPTH`] deltas from a chunk that decodes on
//! its own: past that, the chunk is coded against an older checkpoint.

use std::collections::HashMap;
use std::path::PathBuf;

use weightzip_format::TensorType;

use super::base_use::words16;
use super::plan::{BaseFrom, Job, JobBase};
use crate::index::{ChunkRef, Entry, SegmentKind};
use crate::source::{FileSource, ReadAt};

/// The most deltas the writer chains (the format allows more, up to
/// [`MAX_DELTA_DEPTH`](crate::index::MAX_DELTA_DEPTH)): decoding a chunk
/// of a chain decodes at most this many payloads more.
pub const CHAIN_DEPTH: u32 = 4;

/// How an earlier file's bytes can be read again.
pub(super) enum Again<'a> {
    Bytes(&'a [u8]),
    Path(PathBuf),
}

/// A tensor of an earlier file: where its data lies, and its chunks.
struct Stored {
    offset: u64,
    ty: Option<TensorType>,
    len: u64,
    chunks: Vec<ChunkRef>,
}

struct Earlier<'a> {
    /// The file's name (the last component of its path).
    name: String,
    again: Again<'a>,
    tensors: HashMap<String, Stored>,
}

/// The files written so far that later ones may be coded against.
#[derive(Default)]
pub(super) struct Chain<'a> {
    files: HashMap<usize, Earlier<'a>>,
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

impl<'a> Chain<'a> {
    /// Records a finished file (number `file`) whose bytes can be read
    /// again.
    pub fn record(&mut self, file: usize, entry: &Entry, again: Again<'a>) {
        let mut tensors = HashMap::new();
        let mut at = 0u64;
        for s in &entry.segments {
            if let SegmentKind::Tensor { name, ty, .. } = &s.kind {
                tensors.insert(
                    name.clone(),
                    Stored {
                        offset: at,
                        ty: *ty,
                        len: s.len,
                        chunks: s.chunks.clone(),
                    },
                );
            }
            at += s.len;
        }
        if tensors.is_empty() {
            return;
        }
        self.files.insert(
            file,
            Earlier {
                name: file_name(&entry.path).to_string(),
                again,
                tensors,
            },
        );
    }

    /// Gives each tensor job of `entry` that has no base yet the same
    /// chunk of the nearest earlier file of the same name (same tensor
    /// name, type, length and chunk cuts) whose chunk there is fewer than
    /// [`CHAIN_DEPTH`] deltas deep. Returns the earlier files used.
    pub fn attach(&self, entry: &Entry, jobs: &mut [Job]) -> Vec<usize> {
        let name = file_name(&entry.path);
        let mut candidates: Vec<usize> = self
            .files
            .iter()
            .filter(|(_, f)| f.name == name)
            .map(|(&k, _)| k)
            .collect();
        candidates.sort_unstable_by(|a, b| b.cmp(a));
        if candidates.is_empty() {
            return Vec::new();
        }
        let mut by_segment: HashMap<usize, Vec<usize>> = HashMap::new();
        for (i, j) in jobs.iter().enumerate() {
            if let (Some(s), None) = (j.segment, &j.base) {
                by_segment.entry(s).or_default().push(i);
            }
        }
        let mut used = Vec::new();
        for (s, ids) in by_segment {
            let seg = &entry.segments[s];
            let SegmentKind::Tensor {
                name: tname, ty, ..
            } = &seg.kind
            else {
                continue;
            };
            for &file in &candidates {
                let Some(t) = self.files[&file].tensors.get(tname) else {
                    continue;
                };
                let cuts_match = t.ty == *ty
                    && t.len == seg.len
                    && t.chunks.len() == ids.len()
                    && t.chunks
                        .iter()
                        .zip(&ids)
                        .all(|(c, &i)| c.raw_len == jobs[i].len() && jobs[i].ranges.len() == 1);
                if !cuts_match {
                    continue;
                }
                let mut at = t.offset;
                for (c, &i) in t.chunks.iter().zip(&ids) {
                    if jobs[i].base.is_none() && c.delta_depth() < CHAIN_DEPTH {
                        jobs[i].base = Some(JobBase {
                            from: BaseFrom::Earlier {
                                file,
                                at,
                                chunk: c.clone(),
                            },
                            expect: c.checksum,
                            words16: words16(*ty),
                        });
                        if !used.contains(&file) {
                            used.push(file);
                        }
                    }
                    at += c.raw_len;
                }
            }
        }
        used
    }

    /// Opens the earlier files `files` for reading (one that cannot be
    /// opened is left out: its chunks are then coded alone).
    pub fn readers(&self, files: &[usize]) -> HashMap<usize, Box<dyn ReadAt + 'a>> {
        let mut out: HashMap<usize, Box<dyn ReadAt + 'a>> = HashMap::new();
        for f in files {
            let Some(e) = self.files.get(f) else {
                continue;
            };
            match &e.again {
                Again::Bytes(b) => {
                    out.insert(*f, Box::new(*b));
                }
                Again::Path(p) => {
                    if let Ok(src) = std::fs::File::open(p).and_then(FileSource::new) {
                        out.insert(*f, Box::new(src));
                    }
                }
            }
        }
        out
    }
}
