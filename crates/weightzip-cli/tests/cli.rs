//! The `weightzip` binary as a script would use it: outputs, exit codes,
//! messages, and never touching files it should not.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_weightzip"))
}

fn run(args: &[&str], cwd: &Path) -> Output {
    bin()
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("binary runs")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../weightzip/tests/golden")
        .join(name)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn setup() -> (tempfile::TempDir, PathBuf, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let src = fixture("v1-minilm-slice.bf16.safetensors");
    let data = std::fs::read(&src).unwrap();
    let path = dir.path().join("model.safetensors");
    std::fs::write(&path, &data).unwrap();
    (dir, path, data)
}

#[test]
fn compress_then_decompress_restores_identical_bytes() {
    let (dir, _, data) = setup();
    let o = run(&["compress", "-q", "model.safetensors"], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(dir.path().join("model.safetensors.wz").exists());
    // The input is never modified or removed.
    assert_eq!(
        std::fs::read(dir.path().join("model.safetensors")).unwrap(),
        data
    );
    std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();
    let o = run(&["decompress", "-q", "model.safetensors.wz"], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(dir.path().join("model.safetensors")).unwrap(),
        data
    );
    let o = run(&["verify", "model.safetensors.wz"], dir.path());
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("ok"));
}

#[test]
fn existing_outputs_need_force() {
    let (dir, _, _) = setup();
    std::fs::write(dir.path().join("model.safetensors.wz"), b"keep me").unwrap();
    let o = run(&["compress", "-q", "model.safetensors"], dir.path());
    assert_eq!(o.status.code(), Some(4));
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(dir.path().join("model.safetensors.wz")).unwrap(),
        b"keep me"
    );
    let o = run(
        &["compress", "-q", "--force", "model.safetensors"],
        dir.path(),
    );
    assert!(o.status.success());
    let o = run(&["decompress", "-q", "model.safetensors.wz"], dir.path());
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
}

#[test]
fn damaged_archives_exit_3_with_a_named_problem() {
    let (dir, _, _) = setup();
    assert!(run(&["compress", "-q", "model.safetensors"], dir.path())
        .status
        .success());
    let wz = std::fs::read(dir.path().join("model.safetensors.wz")).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated.wz", wz[..wz.len() / 2].to_vec(), "truncated"),
        (
            "magic.wz",
            [b"PK\x03\x04".as_slice(), &wz[4..]].concat(),
            "not a .wz",
        ),
        (
            "flipped.wz",
            {
                let mut b = wz.clone();
                b[wz.len() / 3] ^= 0x08;
                b
            },
            "corrupt",
        ),
        ("empty.wz", Vec::new(), "truncated"),
    ];
    for (name, bytes, expect) in cases {
        std::fs::write(dir.path().join(name), bytes).unwrap();
        for cmd in ["decompress", "verify"] {
            let args: Vec<&str> = if cmd == "decompress" {
                vec![cmd, "-q", name, "-o", "out.bin"]
            } else {
                vec![cmd, "-q", name]
            };
            let o = run(&args, dir.path());
            assert_eq!(o.status.code(), Some(3), "{cmd} {name}: {}", stderr(&o));
            let msg = stderr(&o).to_lowercase();
            assert!(
                msg.contains(expect) || msg.contains("checksum"),
                "{cmd} {name}: {msg}"
            );
            assert!(
                msg.contains(name),
                "{cmd} {name}: message should name the file: {msg}"
            );
            assert!(!msg.contains("panicked"), "{msg}");
        }
        assert!(
            !dir.path().join("out.bin").exists(),
            "no partial output for {name}"
        );
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn cat_writes_one_tensor() {
    let (dir, path, data) = setup();
    assert!(run(&["compress", "-q", "model.safetensors"], dir.path())
        .status
        .success());
    let layout = weightzip_format::layout_of(&std::fs::read(path).unwrap()).unwrap();
    for t in &layout.tensors {
        let o = run(
            &["cat", "model.safetensors.wz", "--tensor", &t.name],
            dir.path(),
        );
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(
            o.stdout,
            &data[t.offset as usize..(t.offset + t.len) as usize]
        );
    }
    let o = run(
        &[
            "cat",
            "model.safetensors.wz",
            "--tensor",
            "nope",
            "-o",
            "t.bin",
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no tensor named"));
    assert!(!dir.path().join("t.bin").exists());
}

#[test]
fn inspect_lists_tensors_and_json_parses() {
    let (dir, _, _) = setup();
    assert!(run(&["compress", "-q", "model.safetensors"], dir.path())
        .status
        .success());
    let o = run(&["inspect", "model.safetensors.wz"], dir.path());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("encoder.layer.0.attention.self.query.weight"),
        "{text}"
    );
    assert!(text.contains("wz_bf16"), "{text}");
    let o = run(&["inspect", "--json", "model.safetensors.wz"], dir.path());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["tensors"].as_array().unwrap().len(), 3);
    assert!(v["ratio"].as_f64().unwrap() > 1.3);
}

#[test]
fn folders_round_trip() {
    let (dir, _, data) = setup();
    let model = dir.path().join("m");
    std::fs::create_dir_all(model.join("tok")).unwrap();
    std::fs::write(model.join("model.safetensors"), &data).unwrap();
    std::fs::write(model.join("tok/tokenizer.json"), b"{\"vocab\": {}}").unwrap();
    let o = run(&["compress", "-q", "m/", "-T", "2"], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&["decompress", "-q", "m.wz", "-o", "m2"], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(dir.path().join("m2/model.safetensors")).unwrap(),
        data
    );
    assert_eq!(
        std::fs::read(dir.path().join("m2/tok/tokenizer.json")).unwrap(),
        b"{\"vocab\": {}}"
    );
}

#[test]
fn usage_errors_exit_2_and_help_has_examples() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(&["compress"], dir.path());
    assert_eq!(o.status.code(), Some(2));
    let o = run(&["--help"], dir.path());
    assert!(String::from_utf8_lossy(&o.stdout).contains("Examples:"));
    let o = run(&["decompress", "-q", "missing.wz"], dir.path());
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("missing.wz"));
    std::fs::write(dir.path().join("x.bin"), b"abc").unwrap();
    let o = run(&["decompress", "x.bin"], dir.path());
    assert_ne!(o.status.code(), Some(0));
}

/// `speed` codes the tensors as `compress` does: its weightzip rows store
/// exactly the bytes `inspect` reports for the archive's tensors of that
/// type, on every kernel.
#[test]
fn speed_stores_what_the_archive_stores() {
    let (dir, _, _) = setup();
    let o = run(
        &[
            "speed",
            "model.safetensors",
            "--repeats",
            "1",
            "-T",
            "1",
            "--only",
            "wz",
            "--kernels",
            // Only the archive's codec (no extra comparison codecs).
            "--codec",
            "wz_bf16a",
            "--json",
            "speed.json",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&["compress", "-q", "model.safetensors"], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&["inspect", "--json", "model.safetensors.wz"], dir.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let inspect: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let speed: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("speed.json")).unwrap()).unwrap();
    let rows = speed.as_array().unwrap();
    assert!(rows.len() >= 2, "{rows:?}");
    for row in rows {
        let dtype = row["dtype"].as_str().unwrap();
        let (mut stored, mut bytes) = (0, 0);
        for t in inspect["tensors"].as_array().unwrap() {
            if t["dtype"] == dtype {
                stored += t["stored"].as_u64().unwrap();
                bytes += t["bytes"].as_u64().unwrap();
            }
        }
        assert_eq!(row["input_bytes"].as_u64(), Some(bytes), "{row}");
        assert_eq!(row["compressed_bytes"].as_u64(), Some(stored), "{row}");
    }
}

#[test]
fn bench_speed_is_the_speed_benchmark() {
    let (dir, _, _) = setup();
    let o = run(
        &[
            "bench",
            "--speed",
            "model.safetensors",
            "--repeats",
            "1",
            "--only",
            "zstd-3,wz",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("wz_bf16"), "{out}");
    assert!(out.contains("zstd -3"), "{out}");
}
