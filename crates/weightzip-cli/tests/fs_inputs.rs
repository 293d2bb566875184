//! Inputs (issue 12, FS_SPEC "Inputs"): streams round-trip exactly or fail,
//! never a short archive with exit 0; a FIFO archive never hangs; an input
//! that changes or shrinks under the reader is an error, never SIGBUS and
//! never an undecodable archive with exit 0.

mod util;

use std::io::Write;
use std::os::unix::fs::FileExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use util::*;

fn entry_names(dir: &Path, archive: &str) -> Vec<String> {
    let o = run(dir, &["inspect", "--json", archive]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect()
}

fn assert_decodes_to(dir: &Path, archive: &str, data: &[u8]) {
    let o = run(dir, &["decompress", "-q", "-f", archive, "-o", "back.bin"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let back = std::fs::read(dir.join("back.bin")).unwrap();
    assert!(
        back.len() == data.len() && back == data,
        "round trip differs"
    );
    std::fs::remove_file(dir.join("back.bin")).unwrap();
}

#[test]
fn compress_of_stdin_dash_round_trips_exactly() {
    let dir = tempfile::tempdir().unwrap();
    // 12 MB: several chunks and far more than a pipe buffer.
    let data = big_safetensors(ST_BF16, 12 << 20, 0);
    let o = run_stdin(dir.path(), &["compress", "-q", "-", "-o", "s.wz"], &data);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_decodes_to(dir.path(), "s.wz", &data);
    assert_eq!(entry_names(dir.path(), "s.wz"), ["stdin"]);
}

#[test]
fn compress_of_dev_stdin_round_trips_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let data = std::fs::read(fixture(GGUF_Q4K)).unwrap();
    let o = run_stdin(
        dir.path(),
        &["compress", "-q", "/dev/stdin", "-o", "s.wz"],
        &data,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_decodes_to(dir.path(), "s.wz", &data);
}

#[test]
fn compress_of_empty_stdin_is_an_exact_empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let o = run_stdin(dir.path(), &["compress", "-q", "-", "-o", "e.wz"], b"");
    assert!(o.status.success(), "{}", stderr(&o));
    assert_decodes_to(dir.path(), "e.wz", b"");
}

#[test]
fn compress_of_a_fifo_round_trips_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("weights.fifo");
    mkfifo(&fifo);
    let data = big_safetensors(ST_FP16, 6 << 20, 0);
    let writer = {
        let (fifo, data) = (fifo.clone(), data.clone());
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
            let _ = f.write_all(&data);
        })
    };
    let o = run(
        dir.path(),
        &["compress", "-q", "weights.fifo", "-o", "f.wz"],
    );
    // Release the writer if the binary never opened the FIFO.
    {
        use std::os::unix::fs::OpenOptionsExt;
        let _ = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo);
    }
    writer.join().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_decodes_to(dir.path(), "f.wz", &data);
    assert_eq!(entry_names(dir.path(), "f.wz"), ["weights.fifo"]);
}

#[test]
fn compress_of_stdin_without_output_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = std::fs::read(fixture(GGUF_Q4K)).unwrap();
    let o = run_stdin(dir.path(), &["compress", "-q", "-"], &data);
    // Spec: "compress - needs -o": a run-time argument error (1); a clap
    // usage error (2) says the same.
    let code = o.status.code();
    assert!(matches!(code, Some(1 | 2)), "{code:?}: {}", stderr(&o));
    if code == Some(1) {
        assert_clean_error(&o, 1, "");
    }
    let e = stderr(&o);
    assert!(e.contains("-o") || e.contains("output"), "{e}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn compress_of_stdin_to_stdout_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let data = std::fs::read(fixture(ST_FP16)).unwrap();
    let o = run_stdin(dir.path(), &["compress", "-q", "-", "-o", "-"], &data);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::write(dir.path().join("s.wz"), &o.stdout).unwrap();
    assert_decodes_to(dir.path(), "s.wz", &data);
}

#[test]
fn archive_on_stdin_is_read_by_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let orig = std::fs::read(golden(GOLDEN_ORIG)).unwrap();
    let wz = std::fs::read(golden(GOLDEN_WZ)).unwrap();
    let o = run_stdin(d, &["decompress", "-q", "-", "-o", "out"], &wz);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::read(d.join("out")).unwrap() == orig);
    let o = run_stdin(d, &["decompress", "-q", "-", "-o", "-"], &wz);
    assert!(o.status.success() && o.stdout == orig, "{}", stderr(&o));
    let o = run_stdin(d, &["verify", "-"], &wz);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run_stdin(d, &["inspect", "-"], &wz);
    assert!(o.status.success() && !o.stdout.is_empty(), "{}", stderr(&o));
    // A damaged archive on stdin is exit 3 like a damaged file.
    let mut bad = wz.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x40;
    let o = run_stdin(d, &["verify", "-"], &bad);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let o = run_stdin(d, &["verify", "-"], &wz[..wz.len() - 10]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
}

/// A FIFO that no one writes reads as an empty file: a damaged archive
/// (exit 3, as for any empty file), at once.
#[test]
fn fifo_archive_without_a_writer_fails_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    mkfifo(&d.join("a.wz"));
    for args in [
        &["verify", "a.wz"][..],
        &["inspect", "a.wz"][..],
        &["decompress", "-q", "a.wz", "-o", "out"][..],
        &["cat", "a.wz", "--tensor", "x"][..],
    ] {
        let start = Instant::now();
        let o = run(d, args);
        assert!(start.elapsed() < Duration::from_secs(5), "{args:?} waited");
        assert_clean_error(&o, 3, "a.wz");
    }
    assert!(!d.join("out").exists());
    assert_no_temps(d);
}

/// The bytes a change leaves in the file, if it leaves a whole file that a
/// compress started after it would faithfully store.
type Change = fn(&Path, &[u8], usize) -> Vec<u8>;

/// Compresses a 40 MB real-tensor safetensors with one thread and applies
/// `change` to it while the compress runs (retrying with a larger file until
/// the change lands before the process exits). Exit 1 must leave no output
/// and no temp; exit 0 must give an archive that decodes to exactly one
/// snapshot (before or after the change). Anything else fails: exit 0 with
/// an undecodable archive, a signal (SIGBUS), another exit code.
fn compress_while_changing(change: Change) {
    let mut size = 40usize << 20;
    for _attempt in 0..4 {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let old = big_safetensors(ST_BF16, size, 0);
        std::fs::write(d.join("big.safetensors"), &old).unwrap();
        let mut child = bin()
            .args([
                "compress",
                "-q",
                "-T",
                "1",
                "big.safetensors",
                "-o",
                "big.wz",
            ])
            .current_dir(d)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Change the file once writing has begun (or after 150 ms).
        wait_for_temp(d, Duration::from_millis(150));
        let new = change(&d.join("big.safetensors"), &old, size);
        let during = child.try_wait().unwrap().is_none();
        let start = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if start.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                panic!("compress hangs after its input changed");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let o = child.wait_with_output().unwrap();
        if !during {
            size *= 2;
            continue;
        }
        assert_eq!(
            o.status.signal(),
            None,
            "killed by a signal: {:?}",
            o.status
        );
        match o.status.code() {
            Some(1) => {
                assert_clean_error(&o, 1, "big.safetensors");
                assert!(!d.join("big.wz").exists(), "output left after exit 1");
                assert_no_temps(d);
            }
            Some(0) => {
                let r = run(d, &["decompress", "-q", "big.wz", "-o", "back"]);
                assert!(r.status.success(), "exit 0 but undecodable: {}", stderr(&r));
                let back = std::fs::read(d.join("back")).unwrap();
                assert!(back == old || back == new, "archive is a mix of two states");
            }
            c => panic!("exit {c:?}: {}", stderr(&o)),
        }
        return;
    }
    panic!("compress always finished before the change; make the file larger");
}

#[test]
fn input_rewritten_during_compress_is_an_error_or_one_snapshot() {
    compress_while_changing(|p, old, size| {
        // Same size, other bytes: the same tensors in another rotation.
        let new = big_safetensors(ST_BF16, size, 1);
        assert_eq!(new.len(), old.len());
        let f = std::fs::OpenOptions::new().write(true).open(p).unwrap();
        f.write_all_at(&new, 0).unwrap();
        new
    });
}

#[test]
fn input_grown_during_compress_is_an_error_or_one_snapshot() {
    compress_while_changing(|p, old, _| {
        let extra = std::fs::read(fixture(GGUF_Q4K)).unwrap();
        let mut f = std::fs::OpenOptions::new().append(true).open(p).unwrap();
        f.write_all(&extra).unwrap();
        [old, &extra].concat()
    });
}

#[test]
fn input_shrunk_during_compress_is_an_error_not_sigbus() {
    compress_while_changing(|p, old, _| {
        let f = std::fs::OpenOptions::new().write(true).open(p).unwrap();
        f.set_len(old.len() as u64 / 3).unwrap();
        old[..old.len() / 3].to_vec()
    });
}

#[test]
fn archive_shrunk_during_decompress_is_an_error_not_sigbus() {
    let mut size = 40usize << 20;
    for _attempt in 0..4 {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let data = big_safetensors(ST_BF16, size, 0);
        std::fs::write(d.join("big.safetensors"), &data).unwrap();
        let o = run(
            d,
            &[
                "compress",
                "-q",
                "-T",
                "2",
                "big.safetensors",
                "-o",
                "big.wz",
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let len = d.join("big.wz").metadata().unwrap().len();
        let mut child = bin()
            .args(["decompress", "-q", "-T", "1", "big.wz", "-o", "out"])
            .current_dir(d)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_for_temp(d, Duration::from_millis(100));
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(d.join("big.wz"))
            .unwrap();
        f.set_len(len / 2).unwrap();
        let during = child.try_wait().unwrap().is_none();
        let o = child.wait_with_output().unwrap();
        if !during {
            size *= 2;
            continue;
        }
        assert_eq!(
            o.status.signal(),
            None,
            "killed by a signal: {:?}",
            o.status
        );
        match o.status.code() {
            Some(0) => assert!(std::fs::read(d.join("out")).unwrap() == data),
            Some(c @ (1 | 3)) => {
                assert_clean_error(&o, c, "big.wz");
                assert!(!d.join("out").exists(), "partial output left");
                assert_no_temps(d);
            }
            c => panic!("exit {c:?}: {}", stderr(&o)),
        }
        return;
    }
    panic!("decompress always finished before the truncation");
}
