//! Folder mode like tar (issue 12, FS_SPEC "Folder mode"): empty dirs,
//! symlinks as symlinks, hard links and HF cache blobs stored once, modes
//! and mtimes kept; loops never hang; non-UTF-8 names are a per-file error;
//! extraction never writes through a symlink in the target.

mod util;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::Path;

use util::*;

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn mode(p: &Path) -> u32 {
    p.symlink_metadata().unwrap().permissions().mode() & 0o7777
}

fn mtime(p: &Path) -> i64 {
    p.symlink_metadata().unwrap().mtime()
}

fn compress_ok(cwd: &Path, src: &str, out: &str) {
    let o = run(cwd, &["compress", "-q", src, "-o", out]);
    assert!(o.status.success(), "compress {src}: {}", stderr(&o));
}

fn decompress_ok(cwd: &Path, archive: &str, out: &str) {
    let o = run(cwd, &["decompress", "-q", archive, "-o", out]);
    assert!(o.status.success(), "decompress {archive}: {}", stderr(&o));
}

#[test]
fn folder_keeps_empty_dirs_symlinks_modes_and_mtimes() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let s = r.join("src");
    put_fixture(&s, ST_BF16, "a.safetensors");
    put_fixture(&s, GGUF_Q4K, "sub/b.gguf");
    std::fs::write(s.join("sub/run.sh"), b"#!/bin/sh\necho hi\n").unwrap();
    std::fs::create_dir_all(s.join("empty/nested-empty")).unwrap();
    symlink("a.safetensors", s.join("link.safetensors")).unwrap();
    symlink("../a.safetensors", s.join("sub/up.safetensors")).unwrap();
    symlink("does/not/exist", s.join("dangling")).unwrap();
    symlink("sub", s.join("dirlink")).unwrap();
    chmod(&s.join("a.safetensors"), 0o640);
    chmod(&s.join("sub/b.gguf"), 0o600);
    chmod(&s.join("sub/run.sh"), 0o755);
    chmod(&s.join("empty"), 0o750);
    chmod(&s.join("empty/nested-empty"), 0o700);
    let times = [
        ("a.safetensors", 1_000_000_000),
        ("sub/b.gguf", 1_100_000_000),
        ("sub/run.sh", 1_200_000_000),
        ("empty/nested-empty", 1_300_000_000),
        ("empty", 1_400_000_000),
        ("sub", 1_500_000_000),
    ];
    for (p, t) in times {
        set_mtime(&s.join(p), t);
    }
    compress_ok(r, "src", "src.wz");
    decompress_ok(r, "src.wz", "dst");
    let t = r.join("dst");
    for f in ["a.safetensors", "sub/b.gguf", "sub/run.sh"] {
        assert!(
            std::fs::read(t.join(f)).unwrap() == std::fs::read(s.join(f)).unwrap(),
            "{f}"
        );
    }
    for p in [
        "a.safetensors",
        "sub/b.gguf",
        "sub/run.sh",
        "empty",
        "empty/nested-empty",
    ] {
        assert_eq!(mode(&t.join(p)), mode(&s.join(p)), "mode of {p}");
    }
    for (p, secs) in times {
        assert_eq!(mtime(&t.join(p)), secs, "mtime of {p}");
    }
    assert!(t.join("empty/nested-empty").is_dir(), "empty dirs dropped");
    for (l, target) in [
        ("link.safetensors", "a.safetensors"),
        ("sub/up.safetensors", "../a.safetensors"),
        ("dangling", "does/not/exist"),
        ("dirlink", "sub"),
    ] {
        let m = t.join(l).symlink_metadata().unwrap();
        assert!(m.file_type().is_symlink(), "{l} is not a symlink");
        assert_eq!(std::fs::read_link(t.join(l)).unwrap(), Path::new(target));
    }
}

#[test]
fn setuid_bits_are_not_restored() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    put_fixture(&r.join("src"), GGUF_Q4K, "tool");
    chmod(&r.join("src/tool"), 0o4755);
    chmod(&r.join("src"), 0o2755);
    compress_ok(r, "src", "src.wz");
    decompress_ok(r, "src.wz", "dst");
    assert_eq!(mode(&r.join("dst/tool")), 0o755);
    assert_eq!(mode(&r.join("dst")) & 0o7000, 0);
}

#[test]
fn symlink_loops_do_not_hang() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let s = r.join("src");
    put_fixture(&s, GGUF_Q4K, "m.gguf");
    std::fs::create_dir_all(s.join("d")).unwrap();
    symlink(".", s.join("self")).unwrap();
    symlink("..", s.join("d/parent")).unwrap();
    symlink("b", s.join("a")).unwrap();
    symlink("a", s.join("b")).unwrap();
    compress_ok(r, "src", "src.wz");
    decompress_ok(r, "src.wz", "dst");
    for l in ["self", "d/parent", "a", "b"] {
        let m = r.join("dst").join(l).symlink_metadata().unwrap();
        assert!(m.file_type().is_symlink(), "{l}");
    }
    assert!(
        std::fs::read(r.join("dst/m.gguf")).unwrap() == std::fs::read(s.join("m.gguf")).unwrap()
    );
}

#[test]
fn symlinks_out_of_the_tree_are_not_followed() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    put_fixture(&r.join("outside"), ST_BF16, "secret.safetensors");
    let s = r.join("src");
    put_fixture(&s, GGUF_Q4K, "m.gguf");
    symlink("../outside", s.join("out")).unwrap();
    symlink(r.join("outside/secret.safetensors"), s.join("abs")).unwrap();
    compress_ok(r, "src", "src.wz");
    let single = std::fs::metadata(fixture(GGUF_Q4K)).unwrap().len();
    let archive = std::fs::metadata(r.join("src.wz")).unwrap().len();
    // The secret (3.5 MB) would not fit in an archive smaller than m.gguf.
    assert!(
        archive < single,
        "archive {archive} B holds more than m.gguf"
    );
    decompress_ok(r, "src.wz", "dst");
    assert!(r
        .join("dst/out")
        .symlink_metadata()
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(r
        .join("dst/abs")
        .symlink_metadata()
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn hf_cache_layout_is_stored_once() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let c = r.join("models--minilm");
    let sha = "5f7b4c8a9e1d2b3c4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c1b2a3f4e5d6c7b";
    let data = put_fixture(&c, ST_BF16, &format!("blobs/{sha}"));
    std::fs::create_dir_all(c.join("snapshots/abc123")).unwrap();
    std::fs::create_dir_all(c.join("refs")).unwrap();
    std::fs::write(c.join("refs/main"), b"abc123").unwrap();
    symlink(
        format!("../../blobs/{sha}"),
        c.join("snapshots/abc123/model.safetensors"),
    )
    .unwrap();
    compress_ok(r, "models--minilm", "cache.wz");
    put_fixture(r, ST_BF16, "one.safetensors");
    compress_ok(r, "one.safetensors", "one.wz");
    let one = std::fs::metadata(r.join("one.wz")).unwrap().len();
    let cache = std::fs::metadata(r.join("cache.wz")).unwrap().len();
    assert!(
        cache < one + one / 10,
        "cache archive {cache} B vs one copy {one} B: blob stored twice"
    );
    decompress_ok(r, "cache.wz", "dst");
    let link = r.join("dst/snapshots/abc123/model.safetensors");
    assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
    assert!(
        std::fs::read(&link).unwrap() == data,
        "snapshot does not resolve to the blob"
    );
    assert_eq!(std::fs::read(r.join("dst/refs/main")).unwrap(), b"abc123");
}

#[test]
fn hard_links_are_stored_once() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let data = put_fixture(&r.join("src"), ST_BF16, "a.safetensors");
    std::fs::hard_link(r.join("src/a.safetensors"), r.join("src/b.safetensors")).unwrap();
    compress_ok(r, "src", "src.wz");
    put_fixture(r, ST_BF16, "one.safetensors");
    compress_ok(r, "one.safetensors", "one.wz");
    let one = std::fs::metadata(r.join("one.wz")).unwrap().len();
    let two = std::fs::metadata(r.join("src.wz")).unwrap().len();
    assert!(two < one + one / 10, "{two} B vs one copy {one} B");
    decompress_ok(r, "src.wz", "dst");
    for f in ["a.safetensors", "b.safetensors"] {
        assert!(std::fs::read(r.join("dst").join(f)).unwrap() == data, "{f}");
    }
}

#[test]
fn non_utf8_name_is_a_per_file_error_and_the_rest_is_archived() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let s = r.join("src");
    let good = put_fixture(&s, GGUF_Q4K, "good.gguf");
    let bad = s.join(OsStr::from_bytes(b"bad-\xff-name.bin"));
    std::fs::write(&bad, b"unnamable").unwrap();
    let o = run(r, &["compress", "-q", "src", "-o", "src.wz"]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{e}");
    assert!(e.contains("bad-"), "error does not name the file: {e}");
    for bad in ["panicked", "Os {"] {
        assert!(!e.contains(bad), "{e}");
    }
    decompress_ok(r, "src.wz", "dst");
    assert!(std::fs::read(r.join("dst/good.gguf")).unwrap() == good);
}

#[test]
fn folder_argument_may_be_a_symlink_to_a_folder() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let data = put_fixture(&r.join("real"), GGUF_Q4K, "m.gguf");
    symlink("real", r.join("alias")).unwrap();
    compress_ok(r, "alias", "a.wz");
    decompress_ok(r, "a.wz", "dst");
    assert!(std::fs::read(r.join("dst/m.gguf")).unwrap() == data);
}

#[test]
fn fifos_and_sockets_inside_the_tree_are_skipped() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let s = r.join("src");
    let data = put_fixture(&s, GGUF_Q4K, "m.gguf");
    mkfifo(&s.join("pipe"));
    let _sock = std::os::unix::net::UnixListener::bind(s.join("sock")).unwrap();
    let o = run(r, &["compress", "-q", "src", "-o", "src.wz"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("weightzip: warning:"),
        "no warning for skipped nodes"
    );
    decompress_ok(r, "src.wz", "dst");
    assert!(std::fs::read(r.join("dst/m.gguf")).unwrap() == data);
    assert!(!r.join("dst/pipe").exists() && !r.join("dst/sock").exists());
}

/// A folder archive of sub/m.gguf and top.gguf at `r/src.wz`.
fn nested_archive(r: &Path) -> Vec<u8> {
    let data = put_fixture(&r.join("src"), GGUF_Q4K, "sub/m.gguf");
    put_fixture(&r.join("src"), GGUF_Q4K, "top.gguf");
    compress_ok(r, "src", "src.wz");
    data
}

#[test]
fn extraction_never_writes_through_a_symlinked_dir_in_the_target() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    nested_archive(r);
    std::fs::create_dir(r.join("victim")).unwrap();
    std::fs::create_dir(r.join("t")).unwrap();
    symlink("../victim", r.join("t/sub")).unwrap();
    for force in [false, true] {
        let args: &[&str] = if force {
            &["decompress", "-q", "-f", "src.wz", "-o", "t"]
        } else {
            &["decompress", "-q", "src.wz", "-o", "t"]
        };
        let o = run(r, args);
        let code = o.status.code();
        // Without --force an existing `sub` may be reported as existing (4).
        assert!(
            matches!(code, Some(1) | Some(4)),
            "{code:?}: {}",
            stderr(&o)
        );
        assert_clean_error(&o, code.unwrap(), "sub");
        assert_eq!(
            std::fs::read_dir(r.join("victim")).unwrap().count(),
            0,
            "wrote through t/sub"
        );
        assert!(r
            .join("t/sub")
            .symlink_metadata()
            .unwrap()
            .file_type()
            .is_symlink());
    }
    assert_no_temps(r);
}

#[test]
fn extraction_never_replaces_a_symlink_where_an_entry_goes() {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    nested_archive(r);
    std::fs::write(r.join("victim"), b"precious").unwrap();
    std::fs::create_dir(r.join("t")).unwrap();
    symlink("../victim", r.join("t/top.gguf")).unwrap();
    let o = run(r, &["decompress", "-q", "-f", "src.wz", "-o", "t"]);
    assert_clean_error(&o, 1, "top.gguf");
    assert_eq!(std::fs::read(r.join("victim")).unwrap(), b"precious");
    assert!(r
        .join("t/top.gguf")
        .symlink_metadata()
        .unwrap()
        .file_type()
        .is_symlink());
    assert_no_temps(r);
}

#[test]
fn folder_round_trip_preserves_every_byte_and_inode_kind() {
    // The golden v1 folder archive still decodes (old archives have no
    // metadata entries) and re-compressing its tree gives the same files.
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    std::fs::copy(golden("v1-folder.wz"), r.join("g.wz")).unwrap();
    decompress_ok(r, "g.wz", "a");
    compress_ok(r, "a", "a.wz");
    decompress_ok(r, "a.wz", "b");
    let strip = |m: std::collections::BTreeMap<std::path::PathBuf, Node>| {
        m.into_iter()
            .map(|(p, n)| match n {
                Node::File {
                    data, mode, mtime, ..
                } => (
                    p,
                    Node::File {
                        data,
                        mode,
                        mtime: (mtime.0, 0),
                        ino: 0,
                    },
                ),
                n => (p, n),
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(snapshot(&r.join("a"))), strip(snapshot(&r.join("b"))));
    let files = snapshot(&r.join("a"));
    assert!(files.values().any(|n| matches!(n, Node::File { .. })));
}
