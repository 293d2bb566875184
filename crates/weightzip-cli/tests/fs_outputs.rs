//! Outputs (issue 12, FS_SPEC "Outputs"): what compress, decompress and
//! cat may write, replace or refuse; nothing outside the archive's own
//! entries is ever removed or modified.

mod util;

use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use util::*;

/// A folder `src` (a.safetensors, sub/b.gguf) and its archive `tree.wz` in
/// `root`; returns the entries' relative paths and bytes.
fn folder_archive(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let src = root.join("src");
    let a = put_fixture(&src, ST_BF16, "a.safetensors");
    let b = put_fixture(&src, GGUF_Q4K, "sub/b.gguf");
    let o = run(root, &["compress", "-q", "src", "-o", "tree.wz"]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::remove_dir_all(&src).unwrap();
    vec![
        (PathBuf::from("a.safetensors"), a),
        (PathBuf::from("sub/b.gguf"), b),
    ]
}

/// Unrelated files in a target folder, plus an old version of one entry.
fn populate_target(t: &Path) {
    std::fs::create_dir_all(t.join("sub/deeper")).unwrap();
    std::fs::create_dir_all(t.join("child")).unwrap();
    std::fs::write(t.join("keep.txt"), b"unrelated").unwrap();
    std::fs::write(t.join("sub/keep.json"), b"{}").unwrap();
    std::fs::write(t.join("sub/deeper/x.bin"), b"x").unwrap();
    std::fs::write(t.join("child/y.bin"), b"y").unwrap();
    std::fs::write(t.join("a.safetensors"), b"old version").unwrap();
}

/// Everything in `before` that is not an archive entry is still there,
/// unchanged, and every entry now holds the archive's bytes.
fn assert_only_entries_changed(
    t: &Path,
    before: &std::collections::BTreeMap<PathBuf, Node>,
    entries: &[(PathBuf, Vec<u8>)],
) {
    let after = snapshot(t);
    for (p, n) in before {
        if entries.iter().any(|(e, _)| e == p) {
            continue;
        }
        assert_eq!(after.get(p), Some(n), "{} changed or removed", p.display());
    }
    for (p, data) in entries {
        assert!(
            std::fs::read(t.join(p)).unwrap() == *data,
            "{} does not hold the archive's bytes",
            p.display()
        );
    }
    assert_no_temps(t);
}

#[test]
fn folder_decompress_force_into_dir_keeps_unrelated_files() {
    let root = tempfile::tempdir().unwrap();
    let entries = folder_archive(root.path());
    let t = root.path().join("t");
    populate_target(&t);
    let before = snapshot(&t);
    let o = run(
        root.path(),
        &["decompress", "-q", "-f", "tree.wz", "-o", "t"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_only_entries_changed(&t, &before, &entries);
}

#[test]
fn folder_decompress_force_into_dot_keeps_unrelated_files() {
    let root = tempfile::tempdir().unwrap();
    let entries = folder_archive(root.path());
    let t = root.path().join("t");
    populate_target(&t);
    let before = snapshot(&t);
    let o = run(&t, &["decompress", "-q", "-f", "../tree.wz", "-o", "."]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_only_entries_changed(&t, &before, &entries);
}

#[test]
fn folder_decompress_force_into_dotdot_keeps_unrelated_files() {
    let root = tempfile::tempdir().unwrap();
    let entries = folder_archive(root.path());
    let t = root.path().join("t");
    populate_target(&t);
    let before = snapshot(&t);
    let o = run(
        &t.join("child"),
        &["decompress", "-q", "-f", "../../tree.wz", "-o", ".."],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_only_entries_changed(&t, &before, &entries);
}

#[test]
fn folder_decompress_without_force_over_an_entry_is_exit_4_and_writes_nothing() {
    let root = tempfile::tempdir().unwrap();
    folder_archive(root.path());
    let t = root.path().join("t");
    populate_target(&t);
    let before = snapshot(&t);
    let o = run(root.path(), &["decompress", "-q", "tree.wz", "-o", "t"]);
    assert_clean_error(&o, 4, "a.safetensors");
    assert_eq!(snapshot(&t), before, "target modified without --force");
}

#[test]
fn folder_archive_refuses_stdout_and_checks_into_dev_null() {
    let root = tempfile::tempdir().unwrap();
    folder_archive(root.path());
    let o = run(root.path(), &["decompress", "-q", "tree.wz", "-o", "-"]);
    assert_clean_error(&o, 1, "tree.wz");
    assert!(o.stdout.is_empty());
    let o = run(
        root.path(),
        &["decompress", "-q", "tree.wz", "-o", "/dev/null"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(Path::new("/dev/null")
        .metadata()
        .unwrap()
        .file_type()
        .is_char_device());
    let mut left: Vec<_> = std::fs::read_dir(root.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    left.sort();
    assert_eq!(left, ["tree.wz"]);
}

/// Plants symlinks to `victim` at every name a writer of `out` could
/// predictably use: the old `.NAME.tmp-PID` for the next 1000 pids and the
/// fixed variants.
fn plant(dir: &Path, out: &str, victim: &Path) {
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(1);
    let mut names: Vec<String> = (last..last + 1000)
        .map(|pid| format!(".{out}.tmp-{pid}"))
        .collect();
    for n in [
        format!(".{out}.tmp"),
        format!(".{out}.wz-tmp"),
        format!("{out}.tmp"),
        format!("{out}.part"),
        format!(".{out}.partial"),
        format!(".{out}.000000.wz-tmp"),
    ] {
        names.push(n);
    }
    for n in names {
        std::os::unix::fs::symlink(victim, dir.join(n)).unwrap();
    }
}

fn assert_regular(p: &Path, data: &[u8]) {
    let m = p.symlink_metadata().unwrap();
    assert!(
        m.file_type().is_file(),
        "{} is not a regular file",
        p.display()
    );
    assert!(std::fs::read(p).unwrap() == data, "{} content", p.display());
}

#[test]
fn planted_symlinks_at_temp_names_are_not_followed() {
    let root = tempfile::tempdir().unwrap();
    let victim = root.path().join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    let w = root.path().join("w");
    std::fs::create_dir(&w).unwrap();
    let data = put_fixture(&w, GGUF_Q4K, "m.gguf");

    plant(&w, "m.gguf.wz", &victim);
    let o = run(&w, &["compress", "-q", "m.gguf"]);
    assert!(o.status.success(), "compress: {}", stderr(&o));
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    let archive = std::fs::read(w.join("m.gguf.wz")).unwrap();
    assert_regular(&w.join("m.gguf.wz"), &archive);

    plant(&w, "back.gguf", &victim);
    let o = run(&w, &["decompress", "-q", "m.gguf.wz", "-o", "back.gguf"]);
    assert!(o.status.success(), "decompress: {}", stderr(&o));
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert_regular(&w.join("back.gguf"), &data);

    let tensor = "blk.0.attn_q.weight";
    plant(&w, "t.bin", &victim);
    let o = run(&w, &["cat", "m.gguf.wz", "--tensor", tensor, "-o", "t.bin"]);
    assert!(o.status.success(), "cat: {}", stderr(&o));
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    let whole = run(&w, &["cat", "m.gguf.wz", "--tensor", tensor]);
    assert!(whole.status.success() && !whole.stdout.is_empty());
    assert_regular(&w.join("t.bin"), &whole.stdout);

    // Folder extraction: the temp names of an entry inside the target.
    std::fs::create_dir(w.join("f")).unwrap();
    std::fs::rename(w.join("m.gguf"), w.join("f/m.gguf")).unwrap();
    let o = run(&w, &["compress", "-q", "f", "-o", "f.wz"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let t = w.join("t");
    std::fs::create_dir(&t).unwrap();
    plant(&t, "m.gguf", &victim);
    let o = run(&w, &["decompress", "-q", "f.wz", "-o", "t"]);
    assert!(o.status.success(), "folder decompress: {}", stderr(&o));
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    assert_regular(&t.join("m.gguf"), &data);
}

fn tensor_name() -> &'static str {
    "blk.0.attn_q.weight"
}

#[test]
fn force_output_onto_the_input_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let d = root.path();
    let data = put_fixture(d, GGUF_Q4K, "m.gguf");
    std::fs::hard_link(d.join("m.gguf"), d.join("hard.gguf")).unwrap();
    let ino = d.join("m.gguf").metadata().unwrap().ino();
    let abs = d.join("m.gguf").display().to_string();
    for out in ["m.gguf", "./m.gguf", "hard.gguf", "../m.gguf", abs.as_str()] {
        let cwd = if out == "../m.gguf" {
            std::fs::create_dir_all(d.join("sub")).unwrap();
            d.join("sub")
        } else {
            d.to_path_buf()
        };
        let input = if out == "../m.gguf" {
            "../m.gguf"
        } else {
            "m.gguf"
        };
        let o = run(&cwd, &["compress", "-q", "-f", input, "-o", out]);
        // The message names the output or the input, as the user spelled it.
        let name = if stderr(&o).contains(out) { out } else { input };
        assert_clean_error(&o, 1, name);
        assert_eq!(std::fs::read(d.join("m.gguf")).unwrap(), data, "-o {out}");
        assert_eq!(d.join("m.gguf").metadata().unwrap().ino(), ino);
    }
    let o = run(d, &["compress", "-q", "m.gguf"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let archive = std::fs::read(d.join("m.gguf.wz")).unwrap();
    std::fs::hard_link(d.join("m.gguf.wz"), d.join("hard.wz")).unwrap();
    for args in [
        &["decompress", "-q", "-f", "m.gguf.wz", "-o", "m.gguf.wz"][..],
        &["decompress", "-q", "-f", "m.gguf.wz", "-o", "hard.wz"][..],
        &[
            "cat",
            "-f",
            "m.gguf.wz",
            "--tensor",
            tensor_name(),
            "-o",
            "./m.gguf.wz",
        ][..],
    ] {
        let o = run(d, args);
        let out = args[args.len() - 1];
        let name = if stderr(&o).contains(out) {
            out
        } else {
            "m.gguf.wz"
        };
        assert_clean_error(&o, 1, name);
        assert!(
            std::fs::read(d.join("m.gguf.wz")).unwrap() == archive,
            "{args:?}"
        );
    }
    assert_no_temps(d);
}

/// Runs compress, decompress and cat with `-o out` (and -f if `force`) in a
/// dir holding m.gguf and m.gguf.wz; returns each run's output.
fn each_writer(d: &Path, out: &str, force: bool) -> Vec<(String, std::process::Output)> {
    if !d.join("m.gguf").exists() {
        put_fixture(d, GGUF_Q4K, "m.gguf");
        let o = run(d, &["compress", "-q", "m.gguf", "-o", "m.gguf.wz"]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let f: &[&str] = if force { &["-f"] } else { &[] };
    let cmds: [Vec<&str>; 3] = [
        [&["compress", "-q"], f, &["m.gguf", "-o", out]].concat(),
        [&["decompress", "-q"], f, &["m.gguf.wz", "-o", out]].concat(),
        [
            &["cat"],
            f,
            &["m.gguf.wz", "--tensor", tensor_name(), "-o", out],
        ]
        .concat(),
    ];
    cmds.iter().map(|c| (c[0].to_string(), run(d, c))).collect()
}

#[test]
fn output_symlink_is_never_replaced() {
    let root = tempfile::tempdir().unwrap();
    let d = root.path().join("w");
    std::fs::create_dir(&d).unwrap();
    let victim = root.path().join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    std::os::unix::fs::symlink(&victim, d.join("link")).unwrap();
    std::os::unix::fs::symlink(root.path().join("nothing"), d.join("dangling")).unwrap();
    for (cmd, o) in each_writer(&d, "link", true) {
        assert_clean_error(&o, 1, "link");
        assert!(
            d.join("link")
                .symlink_metadata()
                .unwrap()
                .file_type()
                .is_symlink(),
            "{cmd}"
        );
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious", "{cmd}");
    }
    for force in [true, false] {
        for (cmd, o) in each_writer(&d, "dangling", force) {
            // Spec: with --force exit 1; without it the output "exists"
            // (exit 4) or is refused as a symlink (exit 1): both leave it.
            let want = if force || o.status.code() == Some(1) {
                1
            } else {
                4
            };
            assert_clean_error(&o, want, "dangling");
            assert!(
                !root.path().join("nothing").exists(),
                "{cmd} wrote through a dangling link"
            );
            assert!(d
                .join("dangling")
                .symlink_metadata()
                .unwrap()
                .file_type()
                .is_symlink());
        }
    }
    assert_no_temps(&d);
}

#[test]
fn output_fifo_is_never_replaced_nor_waited_on() {
    let root = tempfile::tempdir().unwrap();
    let d = root.path();
    mkfifo(&d.join("fifo"));
    for (cmd, o) in each_writer(d, "fifo", true) {
        assert_clean_error(&o, 1, "fifo");
        let ft = d.join("fifo").symlink_metadata().unwrap().file_type();
        assert!(ft.is_fifo(), "{cmd} replaced the FIFO");
    }
    assert_no_temps(d);
}

#[test]
fn output_device_node_is_never_replaced() {
    let root = tempfile::tempdir().unwrap();
    let d = root.path();
    // A character device node (1,5 is the zero device) inside the temp dir.
    let made = std::process::Command::new("mknod")
        .arg(d.join("dev"))
        .args(["c", "1", "5"])
        .status()
        .is_ok_and(|s| s.success());
    if !made {
        eprintln!("skipped: mknod needs privileges here");
        return;
    }
    let rdev = d.join("dev").metadata().unwrap().rdev();
    for (cmd, o) in each_writer(d, "dev", true) {
        assert_clean_error(&o, 1, "dev");
        let m = d.join("dev").symlink_metadata().unwrap();
        assert!(m.file_type().is_char_device() && m.rdev() == rdev, "{cmd}");
    }
    assert_no_temps(d);
}

#[test]
fn output_directory_where_a_file_goes_is_never_replaced() {
    let root = tempfile::tempdir().unwrap();
    let d = root.path();
    std::fs::create_dir(d.join("adir")).unwrap();
    std::fs::write(d.join("adir/inside"), b"keep").unwrap();
    for (cmd, o) in each_writer(d, "adir", true) {
        assert_clean_error(&o, 1, "adir");
        assert_eq!(
            std::fs::read(d.join("adir/inside")).unwrap(),
            b"keep",
            "{cmd}"
        );
    }
    assert_no_temps(d);
}

#[test]
fn existing_output_without_force_is_exit_4_and_untouched() {
    let root = tempfile::tempdir().unwrap();
    let d = root.path();
    std::fs::write(d.join("out"), b"keep me").unwrap();
    for (cmd, o) in each_writer(d, "out", false) {
        assert_clean_error(&o, 4, "out");
        assert_eq!(std::fs::read(d.join("out")).unwrap(), b"keep me", "{cmd}");
    }
    assert_no_temps(d);
}

#[test]
fn dash_output_writes_to_stdout() {
    let root = tempfile::tempdir().unwrap();
    let d = root.path();
    let data = put_fixture(d, GGUF_Q4K, "m.gguf");
    let o = run(d, &["compress", "-q", "m.gguf", "-o", "-"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!d.join("-").exists() && !d.join("m.gguf.wz").exists());
    std::fs::write(d.join("s.wz"), &o.stdout).unwrap();
    let o = run(d, &["decompress", "-q", "s.wz", "-o", "-"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(o.stdout == data, "decompress -o - is not the original");
    let o = run(d, &["cat", "s.wz", "--tensor", tensor_name(), "-o", "-"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let plain = run(d, &["cat", "s.wz", "--tensor", tensor_name()]);
    assert!(!o.stdout.is_empty() && o.stdout == plain.stdout);
    assert!(!d.join("-").exists());
    assert_no_temps(d);
}

#[test]
fn dev_null_output_is_a_stream() {
    let root = tempfile::tempdir().unwrap();
    let d = root.path();
    for (cmd, o) in each_writer(d, "/dev/null", false) {
        assert!(o.status.success(), "{cmd} -o /dev/null: {}", stderr(&o));
    }
    for (cmd, o) in each_writer(d, "/dev/null", true) {
        assert!(o.status.success(), "{cmd} -f -o /dev/null: {}", stderr(&o));
    }
    let m = Path::new("/dev/null").symlink_metadata().unwrap();
    assert!(m.file_type().is_char_device() && m.rdev() == libc::makedev(1, 3));
    let stray: Vec<_> = std::fs::read_dir("/dev")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("null."))
        .collect();
    assert!(stray.is_empty(), "temp files in /dev: {stray:?}");
    assert_no_temps(d);
}

#[test]
fn error_messages_name_the_users_path_once() {
    let root = tempfile::tempdir().unwrap();
    let d = root.path();
    put_fixture(d, GGUF_Q4K, "m.gguf");
    let o = run(d, &["compress", "-q", "missing.safetensors"]);
    assert_clean_error(&o, 1, "missing.safetensors");
    let o = run(d, &["compress", "-q", "m.gguf", "-o", "no/such/dir/m.wz"]);
    assert_clean_error(&o, 1, "no/such/dir/m.wz");
    let o = run(d, &["decompress", "-q", "missing.wz"]);
    assert_clean_error(&o, 1, "missing.wz");
    let o = run(d, &["verify", "missing.wz"]);
    assert_clean_error(&o, 1, "missing.wz");
    let o = run(d, &["decompress", "-q", "m.gguf", "-o", "x"]);
    assert_clean_error(&o, 3, "m.gguf");
    let o = run(d, &["compress", "-q", "m.gguf"]);
    assert!(o.status.success());
    let o = run(
        d,
        &["decompress", "-q", "m.gguf.wz", "-o", "no/such/dir/out"],
    );
    assert_clean_error(&o, 1, "no/such/dir/out");
    assert_no_temps(d);
}

#[test]
fn default_output_names() {
    let root = tempfile::tempdir().unwrap();
    let d = root.path();
    let data = put_fixture(d, GGUF_Q4K, "m.gguf");
    let o = run(d, &["compress", "-q", "m.gguf"]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::rename(d.join("m.gguf.wz"), d.join("copy.wz")).unwrap();
    let o = run(d, &["decompress", "-q", "copy.wz"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::read(d.join("copy")).unwrap() == data);
    std::fs::rename(d.join("copy.wz"), d.join("archive.bin")).unwrap();
    let o = run(d, &["decompress", "-q", "archive.bin"]);
    assert_clean_error(&o, 1, "archive.bin");
    assert!(stderr(&o).contains("-o"), "{}", stderr(&o));
    let mut names: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    names.sort();
    assert_eq!(names, ["archive.bin", "copy", "m.gguf"]);
}
