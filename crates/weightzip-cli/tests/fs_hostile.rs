//! Hostile archives (issue 12, "hostile archives bounded"): every crafted
//! archive is refused with exit 3, quickly, under `ulimit -v 1000000`, in at
//! most 64 MiB of peak RSS; valid archives still work under the same limit.

mod util;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use util::craft::{self, Chunk, Seg, CODEC_BF16, CODEC_STORE, CODEC_ZSTD, HEADER_LEN};
use util::*;
use xxhash_rust::xxh3::xxh3_64;

/// Peak RSS any verify of an archive of at most 1 MB may take.
const VERIFY_RSS_KIB: u64 = 64 << 10;
/// A refusal is a quick look at the index, not a decode of what it claims.
const QUICK: Duration = Duration::from_secs(5);

/// `weightzip ARGS` in `dir` under `ulimit -v 1000000` (no GiB reservations).
fn limited(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg("ulimit -v 1000000 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_weightzip"))
        .args(args)
        .current_dir(dir)
        .env("RUST_BACKTRACE", "0");
    c
}

/// Writes `bytes` as `h.wz`, runs `verify` and `decompress` on it under the
/// limits, and checks both refuse it with exit 3 in bounded time and memory.
fn assert_refused(bytes: &[u8]) {
    refused(bytes, true)
}

/// [`assert_refused`]; `index_level`: the index itself is bad, so `inspect`
/// (which decodes no chunk) refuses it too.
fn refused(bytes: &[u8], index_level: bool) {
    assert!(bytes.len() <= 1 << 20, "crafted archives stay under 1 MB");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("h.wz"), bytes).unwrap();
    for args in [
        &["verify", "-T", "2", "h.wz"][..],
        &["decompress", "-q", "-T", "2", "h.wz", "-o", "out"][..],
        &["inspect", "h.wz"][..],
    ] {
        if args[0] == "inspect" && !index_level {
            continue;
        }
        let f = run_bounded(limited(dir.path(), args), None, TIMEOUT);
        let (rss, elapsed) = (f.max_rss_kib, f.elapsed);
        let o = f.output();
        assert_clean_error(&o, 3, "h.wz");
        assert!(elapsed < QUICK, "{args:?} took {elapsed:?}");
        assert!(rss <= VERIFY_RSS_KIB, "{args:?} peak RSS {rss} KiB");
    }
    assert!(
        !dir.path().join("out").exists(),
        "output from a refused archive"
    );
    assert_no_temps(dir.path());
}

fn chunk(offset: u64, stored_len: u64, raw_len: u64, codec: u8, checksum: u64) -> Chunk {
    Chunk {
        offset,
        stored_len,
        raw_len,
        codec,
        checksum,
    }
}

#[test]
fn crafted_control_archive_is_read_as_valid() {
    // Proves the hand-built layout matches the binary's: without this the
    // refusals below could be refusals of a format mismatch.
    let dir = tempfile::tempdir().unwrap();
    let data = std::fs::read(fixture(GGUF_Q4K)).unwrap();
    std::fs::write(
        dir.path().join("c.wz"),
        craft::valid_single("c.gguf", &data),
    )
    .unwrap();
    let o = run(dir.path(), &["verify", "c.wz"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(dir.path(), &["decompress", "-q", "c.wz", "-o", "c.gguf"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(dir.path().join("c.gguf")).unwrap(), data);
}

#[test]
fn valid_archives_work_under_ulimit_v_1000000() {
    let dir = tempfile::tempdir().unwrap();
    let orig = put_golden(dir.path(), "g.wz");
    std::fs::copy(golden("v1-folder.wz"), dir.path().join("f.wz")).unwrap();
    for args in [
        &["verify", "-T", "2", "g.wz"][..],
        &["verify", "-T", "2", "f.wz"][..],
        &["decompress", "-q", "-T", "2", "g.wz", "-o", "g"][..],
        &["decompress", "-q", "-T", "2", "f.wz", "-o", "f"][..],
    ] {
        let o = run_bounded(limited(dir.path(), args), None, TIMEOUT).output();
        assert!(
            o.status.success(),
            "{args:?}: {:?} {}",
            o.status,
            stderr(&o)
        );
    }
    assert_eq!(std::fs::read(dir.path().join("g")).unwrap(), orig);
}

#[test]
fn index_zstd_bomb_is_refused_in_bounded_memory() {
    assert_refused(&index_zstd_bomb());
}

#[test]
fn index_bomb_behind_a_plausible_prefix_is_refused() {
    assert_refused(&index_bomb_after_prefix());
}

#[test]
fn huge_entry_count_is_refused() {
    assert_refused(&huge_entry_count());
}

#[test]
fn huge_chunk_count_is_refused() {
    assert_refused(&huge_chunk_count());
}

#[test]
fn huge_string_length_is_refused() {
    assert_refused(&huge_string_length());
}

#[test]
fn overlapping_chunk_references_are_refused() {
    assert_refused(&overlapping_chunks());
}

#[test]
fn partly_overlapping_chunk_references_are_refused() {
    assert_refused(&partly_overlapping_chunks());
}

#[test]
fn small_archive_claiming_huge_sizes_is_refused_in_bounded_memory() {
    refused(&small_archive_huge_sizes(), false);
}

#[test]
fn chunk_with_zero_stored_length_is_refused() {
    assert_refused(&zero_stored_length());
}

#[test]
fn unknown_header_flags_are_refused() {
    assert_refused(&unknown_flags(12, 0x01));
    assert_refused(&unknown_flags(15, 0x80));
}

fn unknown_flags(byte: usize, bit: u8) -> Vec<u8> {
    let mut a = std::fs::read(golden(GOLDEN_WZ)).unwrap();
    a[byte] |= bit;
    a
}

#[test]
fn entry_paths_escaping_the_target_are_refused() {
    let data = std::fs::read(fixture(GGUF_Q4K)).unwrap();
    let piece = &data[..4096];
    for path in [
        &b"../evil"[..],
        b"/tmp/evil",
        b"a/../../evil",
        b"./evil",
        b"a//b",
    ] {
        let cs = vec![chunk(HEADER_LEN, 4096, 4096, CODEC_STORE, xxh3_64(piece))];
        let mut e = Vec::new();
        craft::entry(&mut e, path, 4096, xxh3_64(piece), &cs, &[Seg::Pass(4096)]);
        let a = craft::archive(piece, &craft::index(1, 1, &e));
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("in");
        std::fs::create_dir(&inner).unwrap();
        std::fs::write(inner.join("h.wz"), &a).unwrap();
        let o = run(&inner, &["decompress", "-q", "h.wz", "-o", "out"]);
        assert_clean_error(&o, 3, "h.wz");
        assert!(!dir.path().join("evil").exists());
        assert!(!inner.join("evil").exists());
        assert!(!inner.join("out").exists());
        assert!(!Path::new("/tmp/evil").exists());
    }
}

#[test]
fn truncated_crafted_archive_is_refused_at_every_cut() {
    let data = std::fs::read(fixture(GGUF_Q4K)).unwrap();
    let a = craft::valid_single("c.gguf", &data[..200_000]);
    let dir = tempfile::tempdir().unwrap();
    let step = (a.len() / 40).max(1);
    for cut in (0..a.len())
        .step_by(step)
        .chain([a.len() - 1, a.len() - 33])
    {
        std::fs::write(dir.path().join("t.wz"), &a[..cut]).unwrap();
        let o = run(dir.path(), &["verify", "t.wz"]);
        assert_clean_error(&o, 3, "t.wz");
    }
}

#[test]
fn decompress_of_an_opaque_file_streams_in_bounded_memory() {
    // 48 MB of non-weight bytes (one passthrough stream): decompress and
    // verify with one thread stay within 64 MiB + 2 x 1 x 4 MiB chunks, so
    // the non-tensor bytes are not buffered whole.
    let dir = tempfile::tempdir().unwrap();
    let blob = opaque_blob(48 << 20);
    std::fs::write(dir.path().join("blob.bin"), &blob).unwrap();
    let o = run(dir.path(), &["compress", "-q", "-T", "2", "blob.bin"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let bound = (64 << 10) + 2 * 4 * 1024;
    for args in [
        &[
            "decompress",
            "-q",
            "-T",
            "1",
            "blob.bin.wz",
            "-o",
            "back.bin",
        ][..],
        &["verify", "-q", "-T", "1", "blob.bin.wz"][..],
    ] {
        let f = run_bounded(limited(dir.path(), args), None, TIMEOUT);
        let rss = f.max_rss_kib;
        let o = f.output();
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        assert!(rss <= bound, "{args:?}: peak RSS {rss} KiB > {bound} KiB");
    }
    assert!(std::fs::read(dir.path().join("back.bin")).unwrap() == blob);
}

fn index_zstd_bomb() -> Vec<u8> {
    // 64 KiB of RLE blocks that decode to 2 GiB of zeros.
    let bomb = craft::zstd_rle(2 << 30, 0);
    craft::archive_stored(&[0u8; 16], &bomb, 0)
}

fn index_bomb_after_prefix() -> Vec<u8> {
    // A folder index that starts like a real one (one entry, a path) and
    // then runs into 1.5 GiB of 0x01 bytes (an endless string of counts).
    let mut prefix = Vec::new();
    craft::varint(&mut prefix, 1);
    let mut raw = craft::index(1, 1, &prefix);
    raw.truncate(2);
    let mut stored = zstd::bulk::compress(&raw, 3).unwrap();
    stored.extend_from_slice(&craft::zstd_rle(3 << 29, 1));
    craft::archive_stored(&[0u8; 16], &stored, 0)
}

fn huge_entry_count() -> Vec<u8> {
    let mut e = Vec::new();
    craft::entry(&mut e, b"a", 0, xxh3_64(b""), &[], &[]);
    craft::archive(&[0u8; 16], &craft::index(1, 1 << 62, &e))
}

fn huge_chunk_count() -> Vec<u8> {
    let mut e = Vec::new();
    craft::string(&mut e, b"a");
    craft::varint(&mut e, 100);
    e.extend_from_slice(&0u64.to_le_bytes());
    e.push(0);
    craft::varint(&mut e, 1 << 40); // passthrough chunk count
    e.extend_from_slice(&[16, 16, 100, CODEC_STORE]);
    craft::archive(&[0u8; 16], &craft::index(0, 1, &e))
}

fn huge_string_length() -> Vec<u8> {
    let mut e = Vec::new();
    craft::varint(&mut e, 1 << 50); // path length
    e.extend_from_slice(b"model.safetensors");
    craft::archive(&[0u8; 16], &craft::index(0, 1, &e))
}

fn overlapping_chunks() -> Vec<u8> {
    // One real 2 KiB zstd frame of 64 MiB, referenced 4096 times: 256 GiB
    // claimed from a few KiB, every chunk checksum correct.
    const RAW: u64 = 64 << 20;
    let frame = craft::zstd_rle(RAW, 0);
    let sum = xxh3_64(&vec![0u8; RAW as usize]);
    let n = 4096u64;
    let cs: Vec<Chunk> = (0..n)
        .map(|_| chunk(HEADER_LEN, frame.len() as u64, RAW, CODEC_ZSTD, sum))
        .collect();
    let mut e = Vec::new();
    let total = n * RAW;
    craft::entry(&mut e, b"w", total, 0, &[], &[Seg::Tensor(total, "w", cs)]);
    let a = craft::archive(&frame, &craft::index(0, 1, &e));
    assert!(a.len() < 64 << 10, "{}", a.len());
    a
}

fn partly_overlapping_chunks() -> Vec<u8> {
    // Two chunks of the same payload area shifted by one byte.
    let data = std::fs::read(fixture(GGUF_Q4K)).unwrap();
    let piece = &data[..4096];
    let cs = vec![
        chunk(HEADER_LEN, 4096, 4096, CODEC_STORE, xxh3_64(piece)),
        chunk(
            HEADER_LEN + 1,
            4095,
            4095,
            CODEC_STORE,
            xxh3_64(&piece[1..]),
        ),
    ];
    // Every checksum right, the file's too: only the overlap is wrong.
    let file = [piece, &piece[1..]].concat();
    let mut e = Vec::new();
    craft::entry(
        &mut e,
        b"w",
        8191,
        xxh3_64(&file),
        &[],
        &[Seg::Tensor(8191, "w", cs)],
    );
    craft::archive(piece, &craft::index(0, 1, &e))
}

fn small_archive_huge_sizes() -> Vec<u8> {
    // 2 KiB of real weight bytes cut into 64 chunks of 32 bytes, each
    // claiming 64 MiB decoded (4 GiB in all), across three codecs.
    let data = std::fs::read(fixture(ST_BF16)).unwrap();
    let payload = &data[4096..4096 + 2048];
    let raw = 64u64 << 20;
    let codecs = [CODEC_STORE, CODEC_ZSTD, CODEC_BF16];
    let cs: Vec<Chunk> = (0..64u64)
        .map(|i| chunk(HEADER_LEN + 32 * i, 32, raw, codecs[i as usize % 3], i))
        .collect();
    let total = 64 * raw;
    let mut e = Vec::new();
    craft::entry(&mut e, b"w", total, 7, &[], &[Seg::Tensor(total, "w", cs)]);
    let a = craft::archive(payload, &craft::index(0, 1, &e));
    assert!(a.len() < 4096, "{}", a.len());
    a
}

fn zero_stored_length() -> Vec<u8> {
    let sum = xxh3_64(&[0u8; 16]);
    let cs = vec![chunk(HEADER_LEN, 0, 16, CODEC_STORE, sum)];
    let mut e = Vec::new();
    craft::entry(
        &mut e,
        b"w",
        16,
        xxh3_64(&[0u8; 16]),
        &[],
        &[Seg::Tensor(16, "w", cs)],
    );
    craft::archive(&[0u8; 16], &craft::index(0, 1, &e))
}

/// Every crafted archive by name (for `scripts/rss-check.sh`).
fn crafted() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("index-zstd-bomb", index_zstd_bomb()),
        ("index-bomb-after-prefix", index_bomb_after_prefix()),
        ("huge-entry-count", huge_entry_count()),
        ("huge-chunk-count", huge_chunk_count()),
        ("huge-string-length", huge_string_length()),
        ("overlapping-chunks", overlapping_chunks()),
        ("partly-overlapping-chunks", partly_overlapping_chunks()),
        ("small-archive-huge-sizes", small_archive_huge_sizes()),
        ("zero-stored-length", zero_stored_length()),
        ("unknown-header-flags", unknown_flags(12, 0x01)),
    ]
}

#[test]
#[ignore = "a tool, not a test: writes the crafted archives into $WZ_CRAFT_DIR for scripts/rss-check.sh"]
fn write_crafted_archives() {
    let dir = std::env::var_os("WZ_CRAFT_DIR").expect("set WZ_CRAFT_DIR");
    let dir = Path::new(&dir);
    std::fs::create_dir_all(dir).unwrap();
    for (name, bytes) in crafted() {
        std::fs::write(dir.join(format!("{name}.wz")), bytes).unwrap();
    }
}
