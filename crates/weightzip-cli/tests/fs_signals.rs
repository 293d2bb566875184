//! Signals (issue 12, FS_SPEC "Outputs"): SIGINT, SIGTERM or SIGHUP in the
//! middle of writing an output removes its temp file and leaves no output.

mod util;

use std::process::Stdio;
use std::time::{Duration, Instant};

use util::*;

/// What the interrupted command reads.
#[derive(PartialEq)]
enum Kind {
    /// `big.safetensors` itself.
    Input,
    /// `big.wz`, an archive of `big.safetensors`.
    File,
    /// `big.wz`, an archive of the folder `tree/` holding `big.safetensors`.
    Folder,
}

/// Starts `args` in a dir holding a 40 MB (doubling on retry) real-tensor
/// file `big.safetensors` (or an archive of it), sends `sig` once the hidden
/// temp appears, and checks nothing is left behind.
fn interrupt(sig: libc::c_int, args: &[&str], kind: Kind, output: &str) {
    let mut size = 40usize << 20;
    for _attempt in 0..4 {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let big = big_safetensors(ST_BF16, size, 0);
        if kind == Kind::Folder {
            std::fs::create_dir(d.join("tree")).unwrap();
            std::fs::write(d.join("tree/big.safetensors"), big).unwrap();
            let o = run(d, &["compress", "-q", "tree", "-o", "big.wz"]);
            assert!(o.status.success(), "{}", stderr(&o));
            std::fs::remove_dir_all(d.join("tree")).unwrap();
        } else {
            std::fs::write(d.join("big.safetensors"), big).unwrap();
        }
        if kind == Kind::File {
            let o = run(d, &["compress", "-q", "big.safetensors", "-o", "big.wz"]);
            assert!(o.status.success(), "{}", stderr(&o));
        }
        let before = snapshot(d);
        let mut child = bin()
            .args(args)
            .current_dir(d)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let appeared = wait_for_temp(d, Duration::from_secs(3));
        if !appeared || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let _ = child.wait();
            size *= 2;
            continue;
        }
        signal(child.id(), sig);
        let start = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if start.elapsed() > TIMEOUT {
                let _ = child.kill();
                panic!("{args:?} ignores signal {sig}");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let o = child.wait_with_output().unwrap();
        if o.status.success() {
            // The signal came after the output was complete: try a larger one.
            size *= 2;
            continue;
        }
        assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
        assert_no_temps(d);
        assert!(
            !d.join(output).exists(),
            "{output} written after signal {sig}"
        );
        if kind != Kind::Folder {
            assert_eq!(snapshot(d), before, "the dir changed");
        }
        return;
    }
    panic!("{args:?}: never interrupted while writing (no temp seen, or exit 0 after the signal)");
}

const COMPRESS: &[&str] = &[
    "compress",
    "-q",
    "-T",
    "1",
    "big.safetensors",
    "-o",
    "big.wz",
];
const DECOMPRESS: &[&str] = &["decompress", "-q", "-T", "1", "big.wz", "-o", "out"];

#[test]
fn sigterm_mid_compress_leaves_no_temp() {
    interrupt(libc::SIGTERM, COMPRESS, Kind::Input, "big.wz");
}

#[test]
fn sigint_mid_compress_leaves_no_temp() {
    interrupt(libc::SIGINT, COMPRESS, Kind::Input, "big.wz");
}

#[test]
fn sighup_mid_compress_leaves_no_temp() {
    interrupt(libc::SIGHUP, COMPRESS, Kind::Input, "big.wz");
}

#[test]
fn sigterm_mid_decompress_leaves_no_temp() {
    interrupt(libc::SIGTERM, DECOMPRESS, Kind::File, "out");
}

#[test]
fn sigint_mid_folder_decompress_leaves_no_temp() {
    // A folder archive of one big entry: the entry's temp inside the target
    // goes away (entries already complete may stay, as with tar).
    interrupt(
        libc::SIGINT,
        DECOMPRESS,
        Kind::Folder,
        "out/big.safetensors",
    );
}
