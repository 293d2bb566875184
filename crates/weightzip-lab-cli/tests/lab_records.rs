//! The lab's records as their readers see them: records made by `weightzip-lab
//! train / atlas / bench` from the demo corpus feed the figure loader and the
//! study's own notebook (run unchanged by python); a bench killed with
//! `kill -9` leaves a file `report` reads and the next run completes; shards
//! run as separate processes and merged equal one run.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use weightzip_records::{read_results, BenchRecord};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_weightzip-lab"))
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn demo() -> PathBuf {
    repo().join("examples/corpus.toml")
}

fn ok(args: &[&str]) -> Output {
    let o = bin().args(args).output().expect("binary runs");
    assert!(
        o.status.success(),
        "weightzip-lab {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// Trains the demo corpus's profiles into `dir/profiles`.
fn train(dir: &Path) -> PathBuf {
    let profiles = dir.join("profiles");
    ok(&["train", s(&demo()), "-o", s(&profiles), "-q"]);
    profiles
}

/// Rows without what differs between runs (timings, concurrency).
fn without_timings(rows: Vec<BenchRecord>) -> Vec<BenchRecord> {
    rows.into_iter()
        .map(|mut r| {
            for m in r.methods.values_mut() {
                m.compress_mbps = None;
                m.decompress_mbps = None;
                m.concurrent_jobs = 1;
            }
            r
        })
        .collect()
}

#[test]
fn the_figures_and_the_study_notebook_read_fresh_lab_records() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let profiles = train(d);
    let atlas = d.join("atlas");
    let results = d.join("results/results.jsonl.zst");
    ok(&["atlas", s(&demo()), "-o", s(&atlas), "-q"]);
    ok(&[
        "bench",
        s(&demo()),
        "-o",
        s(&results),
        "--profiles",
        s(&profiles),
        "--repeats",
        "1",
        "-q",
    ]);

    // weightzip's own figure loader.
    let inputs = weightzip_figures::load_inputs(Some(&results), Some(&atlas)).unwrap();
    use weightzip_figures::data;
    assert!(!data::fig1_groups(&inputs).is_empty(), "fig1: no bf16 bars");
    assert!(
        !data::fig2_bf16(&inputs).points.is_empty(),
        "fig2: no bf16 points"
    );
    assert!(
        !data::fig2_q4k(&inputs).points.is_empty(),
        "fig2: no Q4_K points"
    );
    assert!(!data::fig3_values(&inputs).is_empty(), "fig3: no H(nibble)");
    let fig4 = data::fig4_data(&inputs, 200);
    assert!(
        !fig4.values.is_empty() && fig4.ci.is_some(),
        "fig4: {fig4:?}"
    );
    let fig5 = data::fig5_data(&inputs);
    let drawn: BTreeSet<(String, String)> = fig5
        .corpora
        .iter()
        .flat_map(|c| {
            c.points
                .iter()
                .map(|p| (c.corpus.clone(), p.method.clone()))
        })
        .collect();
    for r in &inputs.results {
        for (name, m) in &r.methods {
            assert!(m.roundtrip_ok, "{} {name}", r.tensor_name);
            let key = (r.corpus().to_string(), name.clone());
            assert!(drawn.contains(&key), "fig5 lacks {key:?}");
        }
    }
    let gguf = inputs.results.iter().filter(|r| r.is_gguf_file()).count();
    assert_eq!(gguf, 5, "whole-GGUF rows");

    // The study's notebook, unchanged (only its input paths and output folder
    // pointed at these files), on the same records.
    let nb = repo().join("crates/weightzip-lab/tests/notebook");
    let py = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let have = Command::new(&py)
        .args(["-c", "import matplotlib, numpy, zstandard"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !have && std::env::var_os("CI").is_none() {
        eprintln!(
            "SKIPPED the notebook: {py} lacks matplotlib / numpy / zstandard (CI installs them)"
        );
        return;
    }
    assert!(
        have,
        "{py} lacks matplotlib / numpy / zstandard (.ci/run installs them)"
    );
    let out = Command::new(&py)
        .arg(nb.join("run_notebook.py"))
        .arg(nb.join("study_figures.ipynb"))
        .arg(&results)
        .arg(&atlas)
        .arg(d.join("figures"))
        .env("MPLBACKEND", "Agg")
        .env("MPLCONFIGDIR", d.join("mpl"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "the notebook failed on the lab's records"
    );
    assert!(text.contains(" 0 failed"), "{text}");
}

#[test]
fn a_bench_killed_with_sigkill_is_readable_and_completed_by_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("results.jsonl.zst");
    // Slow, untrained methods on one thread: the run takes seconds.
    let manifest = demo();
    let args = [
        "bench",
        s(&manifest),
        "-o",
        s(&out),
        "--methods",
        "xz9,brotli_q9,zstd19_raw,whole_xz6",
        "--jobs",
        "1",
        "-q",
    ];
    let mut child = bin().args(args).stderr(Stdio::null()).spawn().unwrap();
    let start = Instant::now();
    let rows_now = || read_results(&out).map_or(0, |r| r.rows.len());
    while rows_now() < 2 && start.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let partial = read_results(&out).unwrap();
    assert!(partial.rows.len() >= 2, "{}", partial.rows.len());

    // report reads the partial file.
    let rep = ok(&["report", s(&out), "--json", "--bootstrap", "50"]);
    let json: serde_json::Value = serde_json::from_slice(&rep.stdout).unwrap();
    assert_eq!(json["rows"], partial.rows.len());

    // The next run completes it; the result is one frame, the journal gone.
    ok(&args);
    let done = read_results(&out).unwrap();
    assert_eq!(done.journal_rows, 0);
    assert!(
        done.rows.len() > partial.rows.len(),
        "the kill came too late to test"
    );
    let bytes = std::fs::read(&out).unwrap();
    let one = zstd::bulk::decompress(&bytes, 1 << 26).unwrap();
    let lines = one.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count();
    assert_eq!(lines, done.rows.len());
    for r in &done.rows {
        assert!(!r.methods.is_empty(), "{}", r.tensor_name);
        assert!(
            r.methods.values().all(|m| m.roundtrip_ok),
            "{}",
            r.tensor_name
        );
    }
}

#[test]
fn shards_run_as_processes_and_merged_equal_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let profiles = train(d);
    let common = |out: &Path| {
        vec![
            "bench".to_string(),
            s(&demo()).into(),
            "-o".into(),
            s(out).into(),
            "--profiles".into(),
            s(&profiles).into(),
            "--repeats".into(),
            "1".into(),
            "--methods".into(),
            "zstd3_raw,bf16_split,qa,qb_k4,whole_zstd3,decomp_perstream_zstd3,wz_*".into(),
            "-q".into(),
        ]
    };
    let one = d.join("one.jsonl.zst");
    ok(&common(&one).iter().map(String::as_str).collect::<Vec<_>>());
    let n = 3;
    let shards: Vec<PathBuf> = (0..n)
        .map(|i| d.join(format!("shard{i}.jsonl.zst")))
        .collect();
    let children: Vec<_> = shards
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut a = common(p);
            a.extend([
                "--shard".into(),
                format!("{i}/{n}"),
                "--jobs".into(),
                "1".into(),
            ]);
            bin().args(&a).stderr(Stdio::piped()).spawn().unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let merged = d.join("merged.jsonl.zst");
    let mut a = vec!["merge"];
    a.extend(shards.iter().map(|p| s(p)));
    a.extend(["-o", s(&merged)]);
    ok(&a);
    let one = without_timings(read_results(&one).unwrap().rows);
    let merged = without_timings(read_results(&merged).unwrap().rows);
    assert!(one.len() >= 20, "{}", one.len());
    assert_eq!(merged, one);
}
