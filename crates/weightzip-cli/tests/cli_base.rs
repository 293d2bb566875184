//! `--base` from the command line: a real fine-tune step coded against its
//! base, restored with it; without it, or with another file, exit code 5
//! and a message naming the base, and no output left behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn run(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weightzip"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("binary runs")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name)
}

#[test]
fn base_is_needed_checked_and_restores_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let base = fixture("minilm-finetune-step0000.slice.bf16.safetensors");
    let step = fixture("minilm-finetune-step0100.slice.bf16.safetensors");
    std::fs::copy(&base, d.join("base.safetensors")).unwrap();
    std::fs::copy(&step, d.join("step.safetensors")).unwrap();

    let o = run(
        &["compress", "step.safetensors", "--base", "base.safetensors"],
        d,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("coded as deltas"));
    std::fs::remove_file(d.join("step.safetensors")).unwrap();

    let inspect = run(&["inspect", "step.safetensors.wz"], d);
    let text = String::from_utf8_lossy(&inspect.stdout);
    assert!(text.contains("delta") && text.contains("--base"), "{text}");

    // No base: exit 5, the base named, nothing written.
    let o = run(&["decompress", "step.safetensors.wz"], d);
    assert_eq!(o.status.code(), Some(5));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("base.safetensors") && err.contains("--base"),
        "{err}"
    );
    assert!(!d.join("step.safetensors").exists());

    // A wrong base: exit 5, nothing written (not even a temporary file).
    std::fs::copy(&step, d.join("other.safetensors")).unwrap();
    let o = run(
        &[
            "decompress",
            "step.safetensors.wz",
            "--base",
            "other.safetensors",
        ],
        d,
    );
    assert_eq!(o.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not the base"));
    assert!(!d.join("step.safetensors").exists());
    let names: Vec<_> = std::fs::read_dir(d).unwrap().flatten().collect();
    assert_eq!(names.len(), 3, "{names:?}");

    let o = run(
        &[
            "decompress",
            "step.safetensors.wz",
            "--base",
            "base.safetensors",
        ],
        d,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::read(d.join("step.safetensors")).unwrap() == std::fs::read(&step).unwrap());
    let o = run(
        &[
            "verify",
            "step.safetensors.wz",
            "--base",
            "base.safetensors",
        ],
        d,
    );
    assert!(o.status.success());
}
