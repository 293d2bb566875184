//! Crafted archives: each is refused (or decoded) with memory bounded by
//! the archive's own size, never by the sizes it claims. A counting
//! allocator measures the peak of live heap bytes while each is opened,
//! verified and extracted in memory. One test, so that no other test of
//! this binary allocates meanwhile.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use weightzip::index::{self, ChunkRef, Entry, Footer, Index, RootKind, Segment, SegmentKind};
use weightzip::{decompress_bytes_with, Archive, Attrs, ExtractOptions};
use weightzip_codec::CodecId;
use xxhash_rust::xxh3::xxh3_64;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only
// counts the bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = LIVE.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
        PEAK.fetch_max(now, Ordering::SeqCst);
        // SAFETY: the caller's layout is passed on as it is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Peak heap bytes above the current level while `f` runs.
fn peak_during(f: impl FnOnce()) -> usize {
    let base = LIVE.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    f();
    PEAK.load(Ordering::SeqCst) - base
}

/// An archive of `chunk_area` bytes after the header, then `index`.
fn archive(chunk_area: &[u8], raw_index: &[u8]) -> Vec<u8> {
    let mut wz = index::header_bytes().to_vec();
    wz.extend_from_slice(chunk_area);
    let stored = zstd::bulk::compress(raw_index, 3).unwrap();
    let footer = Footer {
        version: index::FORMAT_VERSION,
        index_offset: wz.len() as u64,
        index_len: stored.len() as u64,
        index_checksum: xxh3_64(&stored),
    };
    wz.extend_from_slice(&stored);
    wz.extend_from_slice(&footer.to_bytes());
    wz
}

fn one_file(size: u64, segments: Vec<Segment>, passthrough: Vec<ChunkRef>) -> Index {
    Index {
        root: RootKind::File,
        entries: vec![Entry {
            path: "x".into(),
            size,
            checksum: 0,
            file_kind: 0,
            segments,
            passthrough,
            attrs: Attrs::default(),
        }],
        extras: Vec::new(),
        base: None,
    }
}

fn try_everything(wz: &[u8]) -> bool {
    let opts = ExtractOptions {
        threads: 2,
        ..Default::default()
    };
    let verified = Archive::from_bytes(wz)
        .and_then(|a| a.verify(&opts))
        .is_ok();
    let extracted = decompress_bytes_with(wz, &opts).is_ok();
    verified || extracted
}

#[test]
fn crafted_archives_stay_within_their_own_size() {
    const LIMIT: usize = 48 << 20;
    // 1. An index that decompresses to 256 MiB of zeros from ~10 kB.
    let bomb = archive(&[], &vec![0u8; 256 << 20]);
    assert!(bomb.len() < 64 << 10);
    let peak = peak_during(|| assert!(!try_everything(&bomb)));
    assert!(peak < LIMIT, "index bomb: {peak} bytes");

    // 2. Chunks that each claim 64 MiB from one stored byte.
    let n = 2000u64;
    let claim = index::MAX_CHUNK_RAW;
    let chunks: Vec<ChunkRef> = (0..n)
        .map(|i| ChunkRef {
            offset: 16 + i,
            stored_len: 1,
            raw_len: claim,
            codec: CodecId::Zstd as u8,
            checksum: 0,
            base: None,
        })
        .collect();
    let claims = archive(
        &vec![0x28; n as usize],
        &one_file(
            n * claim,
            vec![Segment {
                kind: SegmentKind::Passthrough,
                len: n * claim,
                chunks: Vec::new(),
            }],
            chunks.clone(),
        )
        .to_bytes(),
    );
    let peak = peak_during(|| assert!(!try_everything(&claims)));
    // Buffers are allocated zeroed by the system and never written: the
    // heap counts them, the resident memory does not; they are bounded by
    // the window all the same.
    assert!(peak <= 4 * claim as usize + LIMIT, "claims: {peak} bytes");

    // 3. The same stored bytes used by every chunk: in version 3 these are
    // references, and 2000 uses exceed a stored chunk's limit.
    let same: Vec<ChunkRef> = chunks
        .iter()
        .map(|c| ChunkRef {
            offset: 16,
            stored_len: n,
            ..c.clone()
        })
        .collect();
    let overlapping = archive(
        &vec![0x28; n as usize],
        &one_file(
            n * claim,
            vec![Segment {
                kind: SegmentKind::Passthrough,
                len: n * claim,
                chunks: Vec::new(),
            }],
            same,
        )
        .to_bytes(),
    );
    let peak = peak_during(|| {
        let err = Archive::from_bytes(&overlapping).err().expect("refused");
        assert!(err.is_damaged_archive(), "{err}");
    });
    assert!(peak < LIMIT, "overlap: {peak} bytes");

    // 3b. As many references as a chunk may take, each claiming 64 MiB:
    // accepted by the index, decoded (and refused) one window at a time.
    let uses = usize::from(index::MAX_CHUNK_USES);
    let shared = vec![chunks[0].clone(); uses];
    let total = uses as u64 * claim;
    let refs = archive(
        &[0x28],
        &one_file(
            total,
            vec![Segment {
                kind: SegmentKind::Passthrough,
                len: total,
                chunks: Vec::new(),
            }],
            shared,
        )
        .to_bytes(),
    );
    assert!(Archive::from_bytes(&refs).is_ok());
    let peak = peak_during(|| assert!(!try_everything(&refs)));
    assert!(
        peak <= 4 * claim as usize + LIMIT,
        "references: {peak} bytes"
    );

    // 4. Counts far beyond the bytes that could hold them.
    let mut raw = vec![0u8]; // single file
    raw.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    let counts = archive(&[], &raw);
    let peak = peak_during(|| assert!(!try_everything(&counts)));
    assert!(peak < LIMIT, "counts: {peak} bytes");

    // 5. A footer that places a huge index at the start of a big file.
    let mut big = index::header_bytes().to_vec();
    big.resize(8 << 20, 0);
    let footer = Footer {
        version: index::FORMAT_VERSION,
        index_offset: 16,
        index_len: big.len() as u64 - 16,
        index_checksum: 0,
    };
    big.extend_from_slice(&footer.to_bytes());
    let peak = peak_during(|| assert!(!try_everything(&big)));
    assert!(peak < 2 * big.len() + LIMIT, "footer: {peak} bytes");
}
