//! Shared helpers for the file-layer suites (`fs_*.rs`): run the built
//! binary in a temp dir per case, with a timeout and its own peak RSS,
//! build inputs from the repository's real fixtures, and craft archives.
#![allow(dead_code)]

pub mod craft;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// How long any single run of the binary may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(10);

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_weightzip"));
    c.env("RUST_BACKTRACE", "0");
    c
}

/// Runs `weightzip ARGS` in `dir` (stdin closed), bounded by [`TIMEOUT`].
pub fn run(dir: &Path, args: &[&str]) -> Output {
    let mut c = bin();
    c.args(args).current_dir(dir);
    run_bounded(c, None, TIMEOUT).output()
}

/// Runs `weightzip ARGS` in `dir` with `input` on stdin.
pub fn run_stdin(dir: &Path, args: &[&str], input: &[u8]) -> Output {
    let mut c = bin();
    c.args(args).current_dir(dir);
    run_bounded(c, Some(input.to_vec()), TIMEOUT).output()
}

/// A finished child: its status, output, peak RSS and run time.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Peak resident set of the child's own program, in KiB: the highest
    /// VmHWM seen in /proc/PID/status, read every millisecond while it
    /// runs (wait4's ru_maxrss would include this test process's own RSS,
    /// which a spawned child inherits as its high-water mark at exec).
    pub max_rss_kib: u64,
    pub elapsed: Duration,
}

impl Finished {
    pub fn output(self) -> Output {
        Output {
            status: self.status,
            stdout: self.stdout,
            stderr: self.stderr,
        }
    }
}

/// Spawns `cmd`, feeds `stdin` (or closes it), collects its output and waits
/// with `wait4`, sampling the child's peak RSS while it runs. Kills the child and
/// panics if it runs longer than `timeout` (a hang is a failure, never a
/// stuck test).
// The child is reaped by wait4 (for its own ru_maxrss), not Child::wait.
#[allow(clippy::zombie_processes)]
pub fn run_bounded(mut cmd: Command, stdin: Option<Vec<u8>>, timeout: Duration) -> Finished {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().expect("spawn weightzip");
    let feeder = child.stdin.take().map(|mut w| {
        let data = stdin.unwrap_or_default();
        std::thread::spawn(move || {
            // The child may stop reading early (an error); that is its answer.
            let _ = w.write_all(&data);
        })
    });
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let pid = child.id() as libc::pid_t;
    let mut hwm = 0u64;
    let status_path = format!("/proc/{pid}/status");
    let (status, _) = loop {
        if let Ok(st) = std::fs::read_to_string(&status_path) {
            if let Some(kb) = st
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                hwm = hwm.max(kb);
            }
        }
        let mut st: libc::c_int = 0;
        // SAFETY: an all-zero rusage is a valid value for wait4 to fill.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: pid is our own unreaped child; st and ru are valid pointers.
        let r = unsafe { libc::wait4(pid, &mut st, libc::WNOHANG, &mut ru) };
        if r == pid {
            use std::os::unix::process::ExitStatusExt;
            break (ExitStatus::from_raw(st), ru.ru_maxrss.max(0) as u64);
        }
        assert!(r == 0, "wait4 failed: {}", std::io::Error::last_os_error());
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "weightzip {:?} still running after {timeout:?} (hang); killed",
                cmd.get_args().collect::<Vec<_>>()
            );
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let elapsed = start.elapsed();
    if let Some(f) = feeder {
        let _ = f.join();
    }
    Finished {
        status,
        stdout: out_t.join().unwrap_or_default(),
        stderr: err_t.join().unwrap_or_default(),
        max_rss_kib: hwm,
        elapsed,
    }
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A real weight file from `tests/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name)
}

/// A file from `crates/weightzip/tests/golden`.
pub fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../weightzip/tests/golden")
        .join(name)
}

pub const ST_BF16: &str = "lab-minilm-layers0-1.bf16.safetensors";
pub const ST_FP16: &str = "lab-whisper-small-layer0-selfattn.fp16.safetensors";
pub const GGUF_Q4K: &str = "lab-minilm-layers0-1.Q4_K_M.gguf";
/// The small golden single-file archive and what it decodes to.
pub const GOLDEN_WZ: &str = "v1-minilm-slice.bf16.safetensors.wz";
pub const GOLDEN_ORIG: &str = "v1-minilm-slice.bf16.safetensors";

/// Copies fixture `name` to `dir/as_name`; returns its bytes.
pub fn put_fixture(dir: &Path, name: &str, as_name: &str) -> Vec<u8> {
    let data = std::fs::read(fixture(name)).expect("fixture");
    let to = dir.join(as_name);
    if let Some(p) = to.parent() {
        std::fs::create_dir_all(p).unwrap();
    }
    std::fs::write(&to, &data).unwrap();
    data
}

/// Copies the small golden archive to `dir/as_name`; returns what it decodes to.
pub fn put_golden(dir: &Path, as_name: &str) -> Vec<u8> {
    std::fs::copy(golden(GOLDEN_WZ), dir.join(as_name)).unwrap();
    std::fs::read(golden(GOLDEN_ORIG)).unwrap()
}

/// Checks the message contract: non-empty, every line starts with
/// "weightzip: " (error or warning), the user's path is named, the OS text
/// appears at most once, no Rust Debug output, no panic, no hidden temp name.
pub fn assert_clean_error(o: &Output, code: i32, names: &str) {
    let e = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(code),
        "expected exit {code}; stderr: {e}"
    );
    assert!(
        e.lines().any(|l| l.starts_with("weightzip: error: ")),
        "no 'weightzip: error:' line: {e:?}"
    );
    for l in e.lines() {
        assert!(l.starts_with("weightzip: "), "stray stderr line {l:?}");
    }
    assert!(e.contains(names), "message does not name {names:?}: {e:?}");
    // Per message line: a warning and an error may each carry OS text.
    for l in e.lines() {
        assert!(
            l.matches("(os error").count() <= 1,
            "doubled OS text: {l:?}"
        );
        for part in l.split(": ").filter(|p| p.len() >= 24) {
            assert!(l.matches(part).count() <= 1, "doubled text {part:?}: {l:?}");
        }
    }
    for bad in [
        "Os {",
        "code:",
        "kind:",
        "panicked",
        "RUST_BACKTRACE",
        ".wz-tmp",
    ] {
        assert!(!e.contains(bad), "{bad:?} in message: {e:?}");
    }
}

/// Hidden temp files left anywhere under `dir` (this and the old naming).
pub fn temps_left(dir: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    walk(dir, &mut |p, _| {
        let n = p.file_name().map(|n| n.to_string_lossy().into_owned());
        if n.is_some_and(|n| n.ends_with(".wz-tmp") || n.contains(".tmp-")) {
            v.push(p.to_path_buf());
        }
    });
    v
}

pub fn assert_no_temps(dir: &Path) {
    let t = temps_left(dir);
    assert!(t.is_empty(), "temp files left behind: {t:?}");
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path, &std::fs::Metadata)) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let Ok(m) = p.symlink_metadata() else {
            continue;
        };
        f(&p, &m);
        if m.is_dir() {
            walk(&p, f);
        }
    }
}

/// What a path in a tree is, for "nothing else was touched" checks.
#[derive(Debug, PartialEq, Eq, Clone)]
pub enum Node {
    File {
        data: Vec<u8>,
        mode: u32,
        mtime: (i64, i64),
        ino: u64,
    },
    Dir {
        mode: u32,
    },
    Link(PathBuf),
    Other(u32),
}

/// Every path under `dir` (not following symlinks) with its content.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Node> {
    let mut m = BTreeMap::new();
    walk(dir, &mut |p, md| {
        let rel = p.strip_prefix(dir).unwrap().to_path_buf();
        let ft = md.file_type();
        let node = if ft.is_symlink() {
            Node::Link(std::fs::read_link(p).unwrap())
        } else if ft.is_file() {
            Node::File {
                data: std::fs::read(p).unwrap(),
                mode: md.permissions().mode() & 0o7777,
                mtime: (md.mtime(), md.mtime_nsec()),
                ino: md.ino(),
            }
        } else if ft.is_dir() {
            Node::Dir {
                mode: md.permissions().mode() & 0o7777,
            }
        } else {
            Node::Other(md.mode())
        };
        m.insert(rel, node);
    });
    m
}

pub fn mkfifo(path: &Path) {
    let st = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(st.success(), "mkfifo {}", path.display());
}

pub fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: sending a signal to our own child's pid has no memory effects.
    let r = unsafe { libc::kill(pid as libc::pid_t, sig) };
    assert_eq!(r, 0, "kill: {}", std::io::Error::last_os_error());
}

/// Sets a path's mtime (whole seconds) without following a final symlink.
pub fn set_mtime(path: &Path, secs: i64) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    let t = libc::timespec {
        tv_sec: secs as libc::time_t,
        tv_nsec: 0,
    };
    let times = [t, t];
    // SAFETY: c is a valid NUL-terminated path and times holds two timespecs.
    let r = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    assert_eq!(r, 0, "utimensat: {}", std::io::Error::last_os_error());
}

/// A valid safetensors file of at least `min_bytes`, built from the real
/// tensors of fixture `name`: `copies` renamed copies of each tensor, the
/// copies' data rotated by `rotate` (so two rotations give two different
/// files of the same size and header).
pub fn big_safetensors(name: &str, min_bytes: usize, rotate: usize) -> Vec<u8> {
    let src = std::fs::read(fixture(name)).unwrap();
    let hlen = u64::from_le_bytes(src[..8].try_into().unwrap()) as usize;
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&src[8..8 + hlen]).unwrap();
    let data = &src[8 + hlen..];
    let copies = min_bytes.div_ceil(data.len()).max(2);
    let mut tensors: Vec<(String, serde_json::Value, usize, usize)> = header
        .iter()
        .filter(|(k, _)| *k != "__metadata__")
        .map(|(k, v)| {
            let o = v["data_offsets"].as_array().unwrap();
            let (b, e) = (o[0].as_u64().unwrap(), o[1].as_u64().unwrap());
            (k.clone(), v.clone(), b as usize, e as usize)
        })
        .collect();
    tensors.sort_by_key(|t| t.2);
    let mut out_header = serde_json::Map::new();
    let mut body = Vec::with_capacity(copies * data.len());
    for c in 0..copies {
        let from = (c + rotate) % copies;
        for (k, v, b, e) in &tensors {
            let mut v = v.clone();
            let start = body.len();
            // Copy `from` of each tensor takes its bytes from a different
            // place so the two rotations differ: shift by `from` elements.
            let t = &data[*b..*e];
            let shift = (from * 2) % t.len().max(1);
            body.extend_from_slice(&t[shift..]);
            body.extend_from_slice(&t[..shift]);
            v["data_offsets"] = serde_json::json!([start, body.len()]);
            out_header.insert(format!("copy{c}.{k}"), v);
        }
    }
    let mut h = serde_json::to_vec(&out_header).unwrap();
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + h.len() + body.len());
    out.extend_from_slice(&(h.len() as u64).to_le_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(&body);
    out
}

/// An opaque (not a weight file) blob of `len` bytes: real fixture bytes
/// behind a foreign 8-byte tag, repeated.
pub fn opaque_blob(len: usize) -> Vec<u8> {
    let mut out = b"OPAQUE\0\x01".to_vec();
    let parts = [ST_BF16, GGUF_Q4K, ST_FP16].map(|n| std::fs::read(fixture(n)).unwrap());
    let mut i = 0;
    while out.len() < len {
        out.extend_from_slice(&parts[i % parts.len()]);
        i += 1;
    }
    out.truncate(len);
    out
}

/// Waits until a file whose name ends in `.wz-tmp` (or the old `.tmp-`)
/// appears under `dir`, or `limit` passes. Returns whether one appeared.
pub fn wait_for_temp(dir: &Path, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if !temps_left(dir).is_empty() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    false
}
