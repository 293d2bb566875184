//! The binary users install stays small: at most 50 distinct crates in its
//! normal dependency tree (its own included), and none of the lab's stacks.

use std::collections::BTreeSet;
use std::process::Command;

#[test]
fn the_product_binary_links_at_most_50_crates_and_no_lab() {
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "-p",
            "weightzip-cli",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let crates: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect();
    assert!(crates.len() <= 50, "{} crates: {crates:?}", crates.len());
    for lab in [
        "weightzip-lab",
        "weightzip-figures",
        "weightzip-methods",
        "plotters",
        "resvg",
        "brotli",
        "xz2",
        "memmap2",
    ] {
        assert!(!crates.contains(lab), "{lab} is linked");
    }
}
