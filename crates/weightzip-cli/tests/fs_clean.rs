//! Clean failure (issue 12, FS_SPEC "Clean failure"): a closed stdout is a
//! quiet exit 0, `-T` is bounded, a thread that cannot spawn is an error.

mod util;

use std::process::{Command, Stdio};

use util::*;

/// Runs `weightzip ARGS` in `dir` with its stdout a pipe whose read end is
/// closed before the child writes (`weightzip inspect x.wz | head -0`).
fn run_into_closed_pipe(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    let mut child = bin()
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            panic!("{args:?} hangs on a closed pipe");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn closed_stdout_pipe_is_a_quiet_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    put_golden(d, "g.wz");
    std::fs::copy(golden("v1-folder.wz"), d.join("f.wz")).unwrap();
    put_fixture(d, GGUF_Q4K, "m.gguf");
    assert!(run(d, &["compress", "-q", "m.gguf"]).status.success());
    for args in [
        &["inspect", "g.wz"][..],
        &["inspect", "--json", "f.wz"][..],
        &["verify", "g.wz"][..],
        &["cat", "m.gguf.wz", "--tensor", "blk.0.attn_q.weight"][..],
        &["decompress", "-q", "m.gguf.wz", "-o", "-"][..],
        &["compress", "-q", "m.gguf", "-o", "-"][..],
    ] {
        let o = run_into_closed_pipe(d, args);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{args:?}: {:?} {}",
            o.status,
            stderr(&o)
        );
        assert!(o.stderr.is_empty(), "{args:?} printed {:?}", stderr(&o));
    }
    assert_no_temps(d);
}

#[test]
fn thread_counts_above_1024_are_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    put_golden(d, "g.wz");
    put_fixture(d, GGUF_Q4K, "m.gguf");
    for t in ["100000", "1025", "18446744073709551615"] {
        for args in [
            &["compress", "-q", "-T", t, "m.gguf"][..],
            &["decompress", "-q", "-T", t, "g.wz", "-o", "out"][..],
            &["verify", "-T", t, "g.wz"][..],
            &["cat", "-T", t, "g.wz", "--tensor", "x"][..],
        ] {
            let o = run(d, args);
            assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
            assert!(!stderr(&o).contains("panicked"));
        }
    }
    assert!(!d.join("m.gguf.wz").exists() && !d.join("out").exists());
    let o = run(d, &["verify", "-T", "1024", "g.wz"]);
    assert!(o.status.success(), "-T 1024 is allowed: {}", stderr(&o));
}

#[test]
fn threads_that_cannot_spawn_are_an_error_not_a_panic() {
    // No thread can get its stack: RUST_MIN_STACK asks 1 TiB for each,
    // beyond the 1 GB address-space limit (the main thread is unaffected).
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    put_fixture(d, ST_BF16, "m.safetensors");
    for args in [
        &[
            "compress",
            "-q",
            "-T",
            "1024",
            "--chunk-mib",
            "1",
            "m.safetensors",
        ][..],
        &["verify", "-T", "1024", "m.safetensors.wz"][..],
    ] {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg("ulimit -v 1000000 && exec \"$0\" \"$@\"")
            .env("RUST_MIN_STACK", (1u64 << 40).to_string())
            .arg(env!("CARGO_BIN_EXE_weightzip"))
            .args(args)
            .current_dir(d);
        let o = run_bounded(c, None, TIMEOUT).output();
        // Either the threads fit after all (a build that caps the pool by
        // the work) and the command succeeds, or it is a clean exit 1.
        if !o.status.success() {
            assert_clean_error(&o, 1, "");
        }
        if args[0] == "compress" && !o.status.success() {
            assert!(!d.join("m.safetensors.wz").exists());
            // Make the archive for the verify case without the limit.
            assert!(run(d, &["compress", "-q", "m.safetensors"])
                .status
                .success());
        }
    }
    assert_no_temps(d);
}
