//! Random access for language bindings: decode tensors (whole, or a byte
//! range of one) straight into memory the caller owns, many tensors at once
//! in parallel over all their chunks, and the bytes before a file's first
//! tensor (its safetensors or GGUF header). Each call reports how many
//! chunks it decoded and how many stored bytes it read, so callers can
//! check that lazy access touches only what it needs.

use rayon::prelude::*;

use crate::error::{Result, WzError};
use crate::index::{ChunkRef, Segment, SegmentKind};
use crate::read::Archive;

/// What one read decoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecodeStats {
    /// Chunks decoded (each checked against its checksum).
    pub chunks: u64,
    /// Stored (compressed) bytes read from the archive.
    pub stored_bytes: u64,
}

impl DecodeStats {
    fn add(self, o: DecodeStats) -> DecodeStats {
        DecodeStats {
            chunks: self.chunks + o.chunks,
            stored_bytes: self.stored_bytes + o.stored_bytes,
        }
    }
}

/// One destination of [`Archive::read_tensors_into`]: bytes
/// `start..start + out.len()` of tensor `name` in entry `entry`.
pub struct TensorTarget<'o> {
    /// Index of the file in the archive's index.
    pub entry: usize,
    /// Tensor name.
    pub name: &'o str,
    /// First byte of the tensor's data wanted.
    pub start: u64,
    /// Where the bytes go; its length is how many are wanted.
    pub out: &'o mut [u8],
}

/// One chunk to decode and where its wanted bytes go.
struct ChunkJob<'c, 'o> {
    chunk: &'c ChunkRef,
    /// First byte of the chunk's decoded data that is wanted.
    skip: usize,
    out: &'o mut [u8],
    place: String,
}

impl Archive<'_> {
    /// Index of the entry whose path is `path`.
    pub fn entry_index(&self, path: &str) -> Option<usize> {
        self.index().entries.iter().position(|e| e.path == path)
    }

    /// The segment of tensor `name` in entry `entry`.
    pub fn tensor_segment(&self, entry: usize, name: &str) -> Result<&Segment> {
        let e = self
            .index()
            .entries
            .get(entry)
            .ok_or_else(|| WzError::InvalidInput(format!("no entry {entry}")))?;
        e.tensors()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| s)
            .ok_or_else(|| WzError::NoSuchTensor(name.to_string()))
    }

    /// Decodes bytes `start..start + out.len()` of tensor `name` in entry
    /// `entry` into `out`, decoding only the chunks that overlap the range
    /// (each whole, to check its checksum). `threads`: 1 decodes on the
    /// calling thread, anything else on rayon's pool.
    pub fn read_tensor_range_into(
        &self,
        entry: usize,
        name: &str,
        start: u64,
        out: &mut [u8],
        threads: usize,
    ) -> Result<DecodeStats> {
        let target = TensorTarget {
            entry,
            name,
            start,
            out,
        };
        self.read_tensors_into(vec![target], threads)
    }

    /// Fills every target at once: the chunks of all of them are decoded in
    /// parallel, each straight into its place in the target when the whole
    /// chunk is wanted.
    pub fn read_tensors_into(
        &self,
        targets: Vec<TensorTarget<'_>>,
        threads: usize,
    ) -> Result<DecodeStats> {
        let mut jobs = Vec::new();
        for t in targets {
            let seg = self.tensor_segment(t.entry, t.name)?;
            let path = &self.index().entries[t.entry].path;
            let end = t
                .start
                .checked_add(t.out.len() as u64)
                .filter(|&e| e <= seg.len)
                .ok_or_else(|| {
                    WzError::InvalidInput(format!(
                        "bytes {}..+{} are outside tensor {:?} of {} bytes",
                        t.start,
                        t.out.len(),
                        t.name,
                        seg.len
                    ))
                })?;
            let mut rest = t.out;
            let mut pos = 0u64;
            for (k, c) in seg.chunks.iter().enumerate() {
                let (c_start, c_end) = (pos, pos.saturating_add(c.raw_len));
                pos = c_end;
                let (from, to) = (c_start.max(t.start), c_end.min(end));
                if from >= to {
                    continue;
                }
                let (mine, tail) = std::mem::take(&mut rest).split_at_mut((to - from) as usize);
                rest = tail;
                jobs.push(ChunkJob {
                    chunk: c,
                    skip: (from - c_start) as usize,
                    out: mine,
                    place: format!("{path}: tensor {:?}, chunk {k}", t.name),
                });
            }
        }
        let run = |job: ChunkJob<'_, '_>| self.decode_job(job);
        if threads == 1 {
            jobs.into_iter()
                .try_fold(DecodeStats::default(), |acc, j| Ok(acc.add(run(j)?)))
        } else {
            jobs.into_par_iter()
                .map(run)
                .try_reduce(DecodeStats::default, |a, b| Ok(a.add(b)))
        }
    }

    /// The bytes of entry `entry` before its first tensor (a safetensors or
    /// GGUF header), decoded from the passthrough chunks that hold them.
    pub fn read_leading_bytes(&self, entry: usize) -> Result<(Vec<u8>, DecodeStats)> {
        let e = self
            .index()
            .entries
            .get(entry)
            .ok_or_else(|| WzError::InvalidInput(format!("no entry {entry}")))?;
        let want = match e.segments.first() {
            Some(s) if s.kind == SegmentKind::Passthrough => s.len,
            _ => 0,
        };
        let cap = usize::try_from(want)
            .map_err(|_| WzError::Corrupt(format!("{}: header too large", e.path)))?;
        let mut out = vec![0u8; cap];
        let mut stats = DecodeStats::default();
        let mut done = 0usize;
        for (k, c) in e.passthrough.iter().enumerate() {
            if done == out.len() {
                break;
            }
            let n = (out.len() - done).min(c.raw_len as usize);
            let job = ChunkJob {
                chunk: c,
                skip: 0,
                out: &mut out[done..done + n],
                place: format!("{}: non-tensor bytes, chunk {k}", e.path),
            };
            stats = stats.add(self.decode_job(job)?);
            done += n;
        }
        if done != out.len() {
            return Err(WzError::Corrupt(format!(
                "{}: passthrough chunks run out in the header",
                e.path
            )));
        }
        Ok((out, stats))
    }

    /// Decodes one chunk, checks its checksum and copies the wanted bytes.
    /// The stored bytes and a partly wanted chunk go through buffers kept
    /// per thread ([`CHUNK_BUFFERS`]), so a batch of reads allocates them
    /// once per thread, not once per chunk.
    fn decode_job(&self, job: ChunkJob<'_, '_>) -> Result<DecodeStats> {
        CHUNK_BUFFERS.with(|cell| match cell.try_borrow_mut() {
            Ok(mut bufs) => {
                let ChunkBuffers { stored, scratch } = &mut *bufs;
                self.decode_job_with(job, stored, scratch)
            }
            // Only if a codec re-entered this reader on the same thread.
            Err(_) => self.decode_job_with(job, &mut Vec::new(), &mut Vec::new()),
        })
    }

    fn decode_job_with(
        &self,
        job: ChunkJob<'_, '_>,
        stored_buf: &mut Vec<u8>,
        scratch: &mut Vec<u8>,
    ) -> Result<DecodeStats> {
        let c = job.chunk;
        let raw_len = usize::try_from(c.raw_len)
            .map_err(|_| WzError::Corrupt(format!("{}: chunk too large", job.place)))?;
        let whole = job.skip == 0 && job.out.len() == raw_len;
        if whole {
            self.decode_chunk_into(c, job.out, stored_buf, &job.place)?;
        } else {
            scratch.resize(raw_len, 0);
            self.decode_chunk_into(c, scratch, stored_buf, &job.place)?;
        }
        if !whole {
            let wanted = scratch
                .get(job.skip..job.skip + job.out.len())
                .ok_or_else(|| WzError::Corrupt(format!("{}: range past the chunk", job.place)))?;
            job.out.copy_from_slice(wanted);
        }
        Ok(DecodeStats {
            chunks: 1,
            stored_bytes: c.stored_len,
        })
    }
}

/// Per-thread buffers of [`Archive::decode_job`]: the stored bytes of a
/// chunk, and the decoded chunk when only part of it is wanted. Each holds
/// at most one chunk (a few MiB) per thread that ever decoded one.
#[derive(Default)]
struct ChunkBuffers {
    stored: Vec<u8>,
    scratch: Vec<u8>,
}

thread_local! {
    static CHUNK_BUFFERS: std::cell::RefCell<ChunkBuffers> =
        std::cell::RefCell::new(ChunkBuffers::default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{compress_bytes, CompressOptions};
    use weightzip_format::safetensors::SafetensorsView;

    fn fixture() -> Vec<u8> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/lab-minilm-layers0-1.bf16.safetensors"
        );
        std::fs::read(path).expect("fixture present")
    }

    #[test]
    fn ranges_and_batches_match_the_original_bytes() {
        let orig = fixture();
        let view = SafetensorsView::parse(&orig).expect("valid safetensors");
        let opts = CompressOptions {
            chunk_size: 64 << 10,
            ..CompressOptions::default()
        };
        let wz = compress_bytes(&orig, &opts).expect("compresses");
        let archive = Archive::from_bytes(&wz).expect("opens");
        let (head, _) = archive.read_leading_bytes(0).expect("header");
        assert_eq!(head, orig[..head.len()]);
        assert_eq!(head.len() as u64, view.header().header_len);
        let infos: Vec<_> = view.header().tensors.clone();
        let mut bufs: Vec<Vec<u8>> = infos.iter().map(|i| vec![0u8; i.len() as usize]).collect();
        let targets = infos
            .iter()
            .zip(bufs.iter_mut())
            .map(|(i, b)| TensorTarget {
                entry: 0,
                name: &i.name,
                start: 0,
                out: b,
            })
            .collect();
        let all = archive.read_tensors_into(targets, 0).expect("decodes");
        let total_chunks: usize = archive.index().entries[0]
            .tensors()
            .map(|(_, s)| s.chunks.len())
            .sum();
        assert_eq!(all.chunks as usize, total_chunks);
        for (i, b) in infos.iter().zip(&bufs) {
            assert_eq!(b.as_slice(), view.tensor_bytes(&i.name).expect("present"));
        }
        // A range inside the largest tensor decodes only its chunks.
        let big = infos.iter().max_by_key(|i| i.len()).expect("tensors");
        let seg = archive.tensor_segment(0, &big.name).expect("found");
        assert!(seg.chunks.len() >= 3, "fixture spans several chunks");
        let c0 = seg.chunks[0].raw_len;
        let mut part = vec![0u8; 100];
        let s = archive
            .read_tensor_range_into(0, &big.name, c0 + 10, &mut part, 1)
            .expect("range");
        assert_eq!(s.chunks, 1);
        assert_eq!(s.stored_bytes, seg.chunks[1].stored_len);
        let src = view.tensor_bytes(&big.name).expect("present");
        assert_eq!(part, src[(c0 + 10) as usize..(c0 + 110) as usize]);
        let mut over = vec![0u8; 8];
        assert!(archive
            .read_tensor_range_into(0, &big.name, big.len() - 4, &mut over, 1)
            .is_err());
        assert!(matches!(
            archive.read_tensor_range_into(0, "absent", 0, &mut over, 1),
            Err(WzError::NoSuchTensor(_))
        ));
    }

    #[test]
    fn a_flipped_byte_is_a_checksum_or_codec_error() {
        let orig = fixture();
        let mut wz = compress_bytes(&orig, &CompressOptions::default()).expect("compresses");
        let archive = Archive::from_bytes(&wz).expect("opens");
        let (name, seg) = archive.index().entries[0]
            .tensors()
            .next()
            .map(|(n, s)| (n.to_string(), s.clone()))
            .expect("a tensor");
        drop(archive);
        let at = (seg.chunks[0].offset + seg.chunks[0].stored_len / 2) as usize;
        wz[at] ^= 0x40;
        let archive = Archive::from_bytes(&wz).expect("index intact");
        let mut out = vec![0u8; seg.len as usize];
        let err = archive
            .read_tensor_range_into(0, &name, 0, &mut out, 0)
            .expect_err("damage found");
        assert!(
            matches!(err, WzError::Checksum { .. } | WzError::Codec { .. }),
            "{err}"
        );
    }
}
