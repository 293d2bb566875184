//! Replays every committed fuzz crasher (`fuzz/artifacts/<target>/`) and
//! every seed (`fuzz/seeds/<target>/`) through the code its fuzz target runs:
//! each target's body is `fuzz/bodies/<target>.rs`, included both here and by
//! `fuzz/fuzz_targets/<target>.rs`, so the two cannot diverge. A crasher
//! found by `scripts/fuzz.sh` is committed under `fuzz/artifacts/<target>/`
//! and fails this test until the bug is fixed.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

mod archive_decode {
    include!("../../../fuzz/bodies/archive_decode.rs");
}
mod codec_decode {
    include!("../../../fuzz/bodies/codec_decode.rs");
}
mod codec_roundtrip {
    include!("../../../fuzz/bodies/codec_roundtrip.rs");
}
mod format_layout {
    include!("../../../fuzz/bodies/format_layout.rs");
}
mod index_decode {
    include!("../../../fuzz/bodies/index_decode.rs");
}
mod stream_decode {
    include!("../../../fuzz/bodies/stream_decode.rs");
}

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// The files of `dir`, sorted; none when it does not exist.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs `body` on every seed and artifact of `target`; fails naming each
/// input on which it panicked.
fn replay(target: &str, body: fn(&[u8])) {
    let seeds = files_in(&fuzz_dir().join("seeds").join(target));
    assert!(!seeds.is_empty(), "fuzz/seeds/{target} holds no seed");
    let artifacts = files_in(&fuzz_dir().join("artifacts").join(target));
    let mut failed = Vec::new();
    for path in seeds.iter().chain(&artifacts) {
        let data = std::fs::read(path).unwrap();
        if catch_unwind(AssertUnwindSafe(|| body(&data))).is_err() {
            failed.push(path.display().to_string());
        }
    }
    eprintln!(
        "{target}: {} seeds, {} artifacts replayed",
        seeds.len(),
        artifacts.len()
    );
    assert!(failed.is_empty(), "{target} panics on {failed:#?}");
}

#[test]
fn archive_decode_inputs_replay_cleanly() {
    replay("archive_decode", archive_decode::fuzz_one);
}

#[test]
fn codec_decode_inputs_replay_cleanly() {
    replay("codec_decode", codec_decode::fuzz_one);
}

#[test]
fn codec_roundtrip_inputs_replay_cleanly() {
    replay("codec_roundtrip", codec_roundtrip::fuzz_one);
}

#[test]
fn format_layout_inputs_replay_cleanly() {
    replay("format_layout", format_layout::fuzz_one);
}

#[test]
fn index_decode_inputs_replay_cleanly() {
    replay("index_decode", index_decode::fuzz_one);
}

#[test]
fn stream_decode_inputs_replay_cleanly() {
    replay("stream_decode", stream_decode::fuzz_one);
}
