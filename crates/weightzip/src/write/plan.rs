//! Cutting one file into segments (tensors found by the format readers, and
//! the bytes between them) and chunk jobs, in the order the file holds
//! them: the writer then reads every byte once, front to back.

use weightzip_codec::select::{plan_tensor, ChunkPlan};
use weightzip_format::{read_layout, FileKind, TensorRegion};

use super::CompressOptions;
use crate::base::BaseTensorRef;
use crate::error::{Result, WzError};
use crate::index::{Attrs, ChunkRef, Entry, Segment, SegmentKind};
use crate::source::{Cursor, ReadAt};
use crate::torch;

/// Where one chunk's bytes come from and where its reference goes.
pub(super) struct Job {
    /// File ranges `(offset, len)`, ascending.
    pub ranges: Vec<(u64, u64)>,
    /// How [`select`](weightzip_codec::select()) codes the chunk.
    pub plan: ChunkPlan,
    /// `Some(segment index)` for a tensor chunk, `None` for passthrough.
    pub segment: Option<usize>,
    /// Where the chunk is, for error messages.
    pub place: String,
    /// The same bytes of a base checkpoint's tensor, to code a delta
    /// against (set by the writer after planning).
    pub base: Option<JobBase>,
}

/// The base bytes of a chunk job.
#[derive(Clone)]
pub(super) struct JobBase {
    /// Where they are.
    pub from: BaseFrom,
    /// Their xxh3 when the job was planned (the base table's digest was
    /// taken, or the earlier chunk was stored): bytes that read otherwise
    /// later changed meanwhile.
    pub expect: u64,
    /// 16-bit floats: worth a word delta (else only "same as base").
    pub words16: bool,
}

/// Where a chunk job's base bytes are.
#[derive(Clone)]
pub(super) enum BaseFrom {
    /// Bytes of a tensor of the base checkpoint.
    Tensor {
        /// The base tensor.
        tensor: BaseTensorRef,
        /// Its position in the archive's base table.
        table: u32,
        /// First byte of the chunk within the tensor.
        offset: u64,
    },
    /// The same chunk of an earlier file of the archive (the previous
    /// checkpoint of a training run).
    Earlier {
        /// The earlier file's number in the archive.
        file: usize,
        /// Where the chunk's bytes lie in that file.
        at: u64,
        /// The chunk stored for them.
        chunk: ChunkRef,
    },
}

impl Job {
    /// Decoded bytes of the chunk.
    pub fn len(&self) -> u64 {
        self.ranges.iter().map(|r| r.1).sum()
    }
}

/// Cuts a file into segments and chunk jobs. The passthrough bytes form one
/// stream cut into chunks of the chunk size; each passthrough chunk is
/// scheduled just before the first segment that needs it, and each
/// tensor's chunks in place, so jobs come in file order.
pub(super) fn plan_entry(
    path: &str,
    src: &dyn ReadAt,
    attrs: Attrs,
    opts: &CompressOptions,
) -> Result<(Entry, Vec<Job>, Option<String>)> {
    let size = src.size();
    let mut warning = None;
    let layout = match read_layout(&mut Cursor::new(src), size) {
        Ok(l) => Some(l),
        Err(e) => {
            warning = Some(format!(
                "{path}: not parsed as a model file ({e}); stored as plain bytes"
            ));
            None
        }
    };
    let mut file_kind = match layout.as_ref().map(|l| l.kind) {
        Some(FileKind::Safetensors) => 1,
        Some(FileKind::Gguf) => 2,
        _ => 0,
    };
    let mut tensors: Vec<TensorRegion> = layout.map(|l| l.tensors).unwrap_or_default();
    if file_kind == 0 {
        if let Some(regions) = torch::read_layout(src) {
            file_kind = 3;
            tensors = regions;
        }
    }
    let mut segments = Vec::new();
    // The jobs of each tensor segment, by segment index.
    let mut tensor_jobs: Vec<Vec<Job>> = Vec::new();
    let mut pass_ranges: Vec<(u64, u64)> = Vec::new();
    let mut cursor = 0u64;
    let chunk = opts.chunk_size as u64;
    let mut push_pass = |segments: &mut Vec<Segment>, jobs: &mut Vec<Vec<Job>>, from, to| {
        pass_ranges.push((from, to - from));
        segments.push(Segment {
            kind: SegmentKind::Passthrough,
            len: to - from,
            chunks: Vec::new(),
        });
        jobs.push(Vec::new());
    };
    for t in &tensors {
        if t.offset < cursor || t.offset.checked_add(t.len).is_none_or(|e| e > size) {
            return Err(WzError::InvalidInput(format!(
                "{path}: tensor {:?} at {}+{} overlaps or lies outside the file",
                t.name, t.offset, t.len
            )));
        }
        if t.offset > cursor {
            push_pass(&mut segments, &mut tensor_jobs, cursor, t.offset);
        }
        if t.len > 0 {
            let seg = segments.len();
            let plan = plan_tensor(t.ty, &t.shape, t.len, chunk, opts.level);
            let jobs: Vec<Job> = plan
                .chunks(t.len)
                .map(|r| Job {
                    ranges: vec![(t.offset + r.start, r.end - r.start)],
                    plan: plan.chunk(opts.verify),
                    segment: Some(seg),
                    place: format!("tensor {:?}, chunk at byte {}", t.name, t.offset + r.start),
                    base: None,
                })
                .collect();
            segments.push(Segment {
                kind: SegmentKind::Tensor {
                    name: t.name.clone(),
                    ty: Some(t.ty),
                    shape: t.shape.clone(),
                },
                len: t.len,
                chunks: Vec::new(),
            });
            tensor_jobs.push(jobs);
        }
        cursor = t.offset + t.len;
    }
    if cursor < size {
        push_pass(&mut segments, &mut tensor_jobs, cursor, size);
    }
    let pass_jobs = cut_passthrough(&pass_ranges, chunk);
    let pass_job = |k: usize, ranges| Job {
        ranges,
        plan: ChunkPlan::passthrough(opts.level, opts.verify),
        segment: None,
        place: format!("non-tensor bytes, chunk {k}"),
        base: None,
    };
    let mut all =
        Vec::with_capacity(pass_jobs.len() + tensor_jobs.iter().map(Vec::len).sum::<usize>());
    let mut pass = pass_jobs.into_iter().enumerate();
    let (mut needed, mut scheduled) = (0u64, 0u64);
    for (seg, jobs) in segments.iter().zip(tensor_jobs) {
        if seg.kind == SegmentKind::Passthrough {
            needed += seg.len;
            while scheduled < needed {
                let Some((k, ranges)) = pass.next() else {
                    break;
                };
                let job = pass_job(k, ranges);
                scheduled += job.len();
                all.push(job);
            }
        }
        all.extend(jobs);
    }
    all.extend(pass.map(|(k, ranges)| pass_job(k, ranges)));
    let entry = Entry {
        path: path.to_string(),
        size,
        checksum: 0,
        file_kind,
        segments,
        passthrough: Vec::new(),
        attrs,
    };
    Ok((entry, all, warning))
}

/// The passthrough ranges as one stream, cut into chunks of `chunk` bytes.
fn cut_passthrough(ranges: &[(u64, u64)], chunk: u64) -> Vec<Vec<(u64, u64)>> {
    let mut chunks = Vec::new();
    let mut current: Vec<(u64, u64)> = Vec::new();
    let mut filled = 0u64;
    for &(mut off, mut len) in ranges {
        while len > 0 {
            let take = len.min(chunk - filled);
            current.push((off, take));
            filled += take;
            off += take;
            len -= take;
            if filled == chunk {
                chunks.push(std::mem::take(&mut current));
                filled = 0;
            }
        }
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}
