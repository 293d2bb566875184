//! Coding against a base checkpoint (`compress --base`): which tensors of
//! the file being written have a twin in the base (same file, same name,
//! same type and length), the base table that names those twins with
//! their BLAKE3 digests, and the xxh3 of each chunk's base bytes, so that
//! a base that changes while it is read is caught, not coded against.

use std::collections::HashMap;
use std::sync::Arc;

use weightzip_format::{Dtype, GgmlType, TensorType};
use xxhash_rust::xxh3::xxh3_64;

use super::plan::{BaseFrom, Job, JobBase};
use crate::base::{Base, BaseTensorRef};
use crate::error::{Result, WzError};
use crate::index::{BaseTable, BaseTensor, Entry, SegmentKind};

/// One base tensor in the table, and the xxh3 of its pieces by offset.
struct Used {
    table: u32,
    pieces: HashMap<u64, (u64, u64)>,
}

/// The base tensors an archive uses so far.
pub(super) struct BaseUse {
    base: Arc<Base>,
    tensors: Vec<BaseTensor>,
    used: HashMap<BaseTensorRef, Used>,
}

pub(super) fn words16(ty: Option<TensorType>) -> bool {
    matches!(
        ty,
        Some(TensorType::St(Dtype::BF16 | Dtype::F16))
            | Some(TensorType::Ggml(GgmlType::F16 | GgmlType::BF16))
    )
}

impl BaseUse {
    pub fn new(base: Arc<Base>) -> Self {
        Self {
            base,
            tensors: Vec::new(),
            used: HashMap::new(),
        }
    }

    /// Gives each tensor job of `entry` whose tensor has a twin in the
    /// base that twin's bytes at the same place.
    pub fn attach(&mut self, entry: &Entry, jobs: &mut [Job]) -> Result<()> {
        let mut by_segment: HashMap<usize, Vec<usize>> = HashMap::new();
        for (i, j) in jobs.iter().enumerate() {
            if let Some(s) = j.segment {
                by_segment.entry(s).or_default().push(i);
            }
        }
        for (s, job_ids) in by_segment {
            let seg = &entry.segments[s];
            let SegmentKind::Tensor { name, ty, .. } = &seg.kind else {
                continue;
            };
            let Some(r) = self.base.find(&entry.path, name) else {
                continue;
            };
            let (len, base_ty) = self.base.shape_of(r);
            if len != seg.len || (base_ty.is_some() && base_ty != *ty) {
                continue;
            }
            // A tensor job is one range; the tensor starts at the first.
            let Some(start) = job_ids
                .first()
                .and_then(|&i| jobs[i].ranges.first())
                .map(|r| r.0)
            else {
                continue;
            };
            let cuts: Vec<(u64, u64)> = job_ids
                .iter()
                .filter_map(|&i| jobs[i].ranges.first().map(|&(o, l)| (o - start, l)))
                .collect();
            let table = self.scan(r, name, &cuts)?;
            let used = &self.used[&r];
            for &i in &job_ids {
                let Some(&(off, l)) = jobs[i].ranges.first() else {
                    continue;
                };
                let offset = off - start;
                if let Some(&(len, expect)) = used.pieces.get(&offset) {
                    if len == l && jobs[i].ranges.len() == 1 {
                        jobs[i].base = Some(JobBase {
                            from: BaseFrom::Tensor {
                                tensor: r,
                                table,
                                offset,
                            },
                            expect,
                            words16: words16(*ty),
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// Puts base tensor `r` in the table (its BLAKE3 taken on the first
    /// use) and the xxh3 of each of `cuts` in its pieces.
    fn scan(&mut self, r: BaseTensorRef, name: &str, cuts: &[(u64, u64)]) -> Result<u32> {
        let first = !self.used.contains_key(&r);
        let contiguous = cuts
            .iter()
            .try_fold(0u64, |at, &(o, l)| (o == at).then_some(o + l));
        let (len, _) = self.base.shape_of(r);
        let mut hasher = (first && contiguous == Some(len)).then(blake3::Hasher::new);
        let mut pieces = HashMap::new();
        let mut buf = Vec::new();
        for &(off, l) in cuts {
            if self
                .used
                .get(&r)
                .is_some_and(|u| u.pieces.contains_key(&off))
            {
                continue;
            }
            let l_usize = usize::try_from(l)
                .map_err(|_| WzError::InvalidInput("chunk too large for memory".into()))?;
            buf.resize(l_usize, 0);
            self.base.read(r, off, &mut buf)?;
            if let Some(h) = hasher.as_mut() {
                h.update(&buf);
            }
            pieces.insert(off, (l, xxh3_64(&buf)));
        }
        if first {
            let hash = match hasher {
                Some(h) => *h.finalize().as_bytes(),
                None => self.base.digest(r)?,
            };
            let table = u32::try_from(self.tensors.len())
                .map_err(|_| WzError::InvalidInput("too many base tensors".into()))?;
            let (base_file, _) = self.base.describe(r);
            self.tensors.push(BaseTensor {
                file: base_file.to_string(),
                name: name.to_string(),
                len,
                hash,
            });
            self.used.insert(r, Used { table, pieces });
            return Ok(table);
        }
        let used = self
            .used
            .get_mut(&r)
            .ok_or_else(|| WzError::InvalidInput("base tensor lost".into()))?;
        used.pieces.extend(pieces);
        Ok(used.table)
    }

    /// The base table, if any tensor was used.
    pub fn into_table(self) -> Option<BaseTable> {
        if self.tensors.is_empty() {
            return None;
        }
        Some(BaseTable {
            label: self.base.path.display().to_string(),
            root: self.base.root(),
            tensors: self.tensors,
        })
    }
}
