//! Replaying an entry: its tensor and passthrough chunks are decoded in
//! parallel, in the order the file needs them, and its bytes emitted in
//! file order. Passthrough bytes go out as soon as they are decoded, so
//! what waits in memory is bounded by a chunk, not by a segment (a file
//! weightzip does not parse is one segment of any size).

use std::collections::VecDeque;
use std::fs::File;

use super::{chunk_cost, decode_window, Archive, ExtractOptions};
use crate::error::{Result, WzError};
use crate::index::{ChunkRef, Entry, SegmentKind};
use crate::pipeline::{ordered_map, BufferPool};
use crate::write::effective_threads;

/// One chunk to decode, and where its bytes go.
struct Job<'c> {
    chunk: &'c ChunkRef,
    /// A tensor chunk (written at `at`), else passthrough bytes.
    tensor: bool,
    at: u64,
    place: String,
}

/// Schedule: before each passthrough segment, enough passthrough chunks to
/// cover it; each tensor segment's chunks in order.
fn schedule(entry: &Entry) -> Result<Vec<Job<'_>>> {
    let mut jobs = Vec::new();
    let mut needed = 0u64;
    let mut scheduled = 0u64;
    let mut pass = entry.passthrough.iter().enumerate();
    let mut file_pos = 0u64;
    for seg in &entry.segments {
        match &seg.kind {
            SegmentKind::Passthrough => {
                file_pos = file_pos.saturating_add(seg.len);
                needed += seg.len;
                while scheduled < needed {
                    let (k, c) = pass.next().ok_or_else(|| {
                        WzError::Corrupt(format!("{}: passthrough chunks run out", entry.path))
                    })?;
                    scheduled += c.raw_len;
                    jobs.push(Job {
                        chunk: c,
                        tensor: false,
                        at: 0,
                        place: format!("{}: non-tensor bytes, chunk {k}", entry.path),
                    });
                }
            }
            SegmentKind::Tensor { name, .. } => {
                for (k, c) in seg.chunks.iter().enumerate() {
                    jobs.push(Job {
                        chunk: c,
                        tensor: true,
                        at: file_pos,
                        place: format!("{}: tensor {name:?}, chunk {k}", entry.path),
                    });
                    file_pos = file_pos.saturating_add(c.raw_len);
                }
            }
        }
    }
    Ok(jobs)
}

/// Decoded passthrough bytes waiting for their segments, buffer by buffer.
struct Pending {
    buffers: VecDeque<(Vec<u8>, usize)>,
    /// The segment being emitted and how much of it is out.
    seg: usize,
    seg_done: u64,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.buffers.is_empty()
    }

    /// Emits passthrough bytes for as long as the current segment is a
    /// passthrough one and bytes are waiting.
    fn flush(
        &mut self,
        entry: &Entry,
        pool: &BufferPool,
        emit: &mut dyn FnMut(&[u8], bool) -> Result<()>,
    ) -> Result<()> {
        while let Some(seg) = entry.segments.get(self.seg) {
            if seg.kind != SegmentKind::Passthrough {
                break;
            }
            let Some((buf, used)) = self.buffers.front_mut() else {
                break;
            };
            let want = (seg.len - self.seg_done).min((buf.len() - *used) as u64) as usize;
            emit(&buf[*used..*used + want], false)?;
            *used += want;
            self.seg_done += want as u64;
            if *used == buf.len() {
                if let Some((b, _)) = self.buffers.pop_front() {
                    pool.give(b);
                }
            }
            if self.seg_done == seg.len {
                self.seg += 1;
                self.seg_done = 0;
            }
        }
        Ok(())
    }
}

impl Archive<'_> {
    /// Replays `entry` through `emit(bytes, written)`; with `file`, workers
    /// write tensor chunks at their place themselves (`written` is then
    /// true for them) and `emit` only hashes those.
    pub(super) fn replay(
        &self,
        entry: &Entry,
        opts: &ExtractOptions,
        file: Option<&File>,
        window_cap: Option<u64>,
        emit: &mut dyn FnMut(&[u8], bool) -> Result<()>,
    ) -> Result<()> {
        let jobs = schedule(entry)?;
        let threads = effective_threads(opts.threads);
        let pool = &self.pool;
        let window = decode_window(entry.chunks(), threads, window_cap);
        let segments = &entry.segments;
        let mut pending = Pending {
            buffers: VecDeque::new(),
            seg: 0,
            seg_done: 0,
        };
        ordered_map(
            jobs.len(),
            threads,
            window,
            |i| chunk_cost(jobs[i].chunk),
            |i| {
                let job = &jobs[i];
                let bytes = self.decode_chunk(job.chunk, &job.place, pool)?;
                if let (Some(file), true) = (file, job.tensor) {
                    // Inside the file's size: the parsed index guarantees
                    // it (Entry::validate); checked again before a write
                    // whose place comes from arithmetic on that index.
                    if job.at.saturating_add(bytes.len() as u64) > entry.size {
                        return Err(WzError::Corrupt(format!(
                            "{}: chunk past the file's {} bytes",
                            job.place, entry.size
                        )));
                    }
                    super::extract::write_all_at(file, &bytes, job.at)?;
                }
                Ok(bytes)
            },
            |i, bytes| {
                if let Some(p) = &opts.progress {
                    p(bytes.len() as u64);
                }
                if !jobs[i].tensor {
                    pending.buffers.push_back((bytes, 0));
                    return pending.flush(entry, pool, emit);
                }
                pending.flush(entry, pool, emit)?;
                let seg = segments.get(pending.seg);
                if !seg.is_some_and(|s| matches!(s.kind, SegmentKind::Tensor { .. })) {
                    return Err(WzError::Corrupt(format!(
                        "{}: tensor data reached the writer ahead of segment {}",
                        entry.path, pending.seg
                    )));
                }
                emit(&bytes, file.is_some())?;
                pending.seg_done += bytes.len() as u64;
                if seg.is_some_and(|s| pending.seg_done == s.len) {
                    pending.seg += 1;
                    pending.seg_done = 0;
                }
                self.done_with(jobs[i].chunk, bytes, pool);
                pending.flush(entry, pool, emit)
            },
        )?;
        pending.flush(entry, pool, emit)?;
        if pending.seg != segments.len() || !pending.is_empty() {
            return Err(WzError::Corrupt(format!(
                "{}: replay stopped at segment {} of {} with passthrough bytes unused",
                entry.path,
                pending.seg,
                segments.len(),
            )));
        }
        Ok(())
    }
}
