//! The minimum supported Rust version (MSRV) is declared once, in the
//! workspace's `rust-version`, and this test checks what can be checked
//! without a second toolchain: every member inherits it, no dependency in
//! the lock file asks for a newer compiler, and the toolchain running the
//! tests is not older. It does not build the workspace with the MSRV
//! compiler itself (CI has only the current stable toolchain).

use std::process::Command;

use serde_json::Value;

/// `"1.89"` or `"1.89.0"` as a comparable triple.
fn version(s: &str) -> (u32, u32, u32) {
    let mut it = s.split('.').map(|p| {
        p.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse::<u32>()
            .unwrap_or(0)
    });
    (
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
    )
}

fn metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON")
}

#[test]
fn members_share_the_msrv_and_no_dependency_needs_a_newer_rust() {
    let meta = metadata();
    let packages = meta["packages"].as_array().expect("packages");
    let members: Vec<&str> = meta["workspace_members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let msrv_of = |p: &Value| p["rust_version"].as_str().map(version);
    let member_msrvs: Vec<_> = packages
        .iter()
        .filter(|p| members.contains(&p["id"].as_str().unwrap_or("")))
        .map(|p| (p["name"].as_str().unwrap_or("?"), msrv_of(p)))
        .collect();
    assert_eq!(member_msrvs.len(), members.len());
    let msrv = member_msrvs[0]
        .1
        .expect("the workspace declares rust-version");
    for (name, v) in &member_msrvs {
        assert_eq!(*v, Some(msrv), "{name} does not inherit rust-version");
    }
    // Every package the lock file resolves (dependencies of all kinds).
    let newer: Vec<String> = packages
        .iter()
        .filter(|p| msrv_of(p).is_some_and(|v| v > msrv))
        .map(|p| format!("{} {} needs {}", p["name"], p["version"], p["rust_version"]))
        .collect();
    assert!(
        newer.is_empty(),
        "dependencies newer than the MSRV: {newer:?}"
    );
}

#[test]
fn the_toolchain_is_not_older_than_the_msrv() {
    let meta = metadata();
    let msrv = meta["packages"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == "weightzip-format"))
        .and_then(|p| p["rust_version"].as_str())
        .map(version)
        .expect("rust-version");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc)
        .arg("--version")
        .output()
        .expect("rustc runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let running = text
        .split_whitespace()
        .nth(1)
        .map(version)
        .expect("version");
    assert!(running >= msrv, "rustc {running:?} is older than {msrv:?}");
}
