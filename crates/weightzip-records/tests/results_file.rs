//! The results file: exact field names, old single-frame files cut by a
//! kill, merging of shards, and error messages.

use std::io::Write;

use weightzip_records::{merge_files, read_results, BenchRecord, MethodRecord, ResultsWriter};

fn record(model: &str, name: &str, ok: bool) -> BenchRecord {
    let mut methods = std::collections::BTreeMap::new();
    methods.insert(
        "zstd3_raw".to_string(),
        MethodRecord {
            class: "general-purpose".into(),
            ratio: ok.then_some(1.25),
            compressed_bytes: 800,
            profile_bytes: 0,
            compress_mbps: Some(100.0),
            decompress_mbps: Some(500.0),
            roundtrip_ok: ok,
            threads: 1,
            error: (!ok).then(|| "round trip differs".to_string()),
            ..MethodRecord::default()
        },
    );
    BenchRecord {
        kind: "bench_bf16_perfile".into(),
        model: model.into(),
        split: "test".into(),
        tensor_name: name.into(),
        dtype: "bf16".into(),
        source_dtype: None,
        shape: vec![10, 50],
        tensor_category: "attention".into(),
        input_bytes: 1000,
        r_marginal: Some(1.5),
        nibble_ceiling: None,
        stream_ceiling: None,
        methods,
    }
}

#[test]
fn records_round_trip_with_exact_field_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r/results.jsonl.zst");
    let rows = vec![record("m", "t0", true), record("m", "t1", false)];
    let mut w = ResultsWriter::create(&path).unwrap();
    for r in &rows {
        w.write(r).unwrap();
    }
    w.finish().unwrap();
    assert_eq!(read_results(&path).unwrap().rows, rows);

    // The raw JSON carries the study's field names.
    let raw = zstd::decode_all(std::fs::File::open(&path).unwrap()).unwrap();
    let text = String::from_utf8(raw).unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    for key in [
        "_kind",
        "model",
        "split",
        "tensor_name",
        "dtype",
        "shape",
        "tensor_category",
        "input_bytes",
        "R_marginal",
        "methods",
    ] {
        assert!(first.get(key).is_some(), "missing {key}");
    }
    let m = &first["methods"]["zstd3_raw"];
    for key in [
        "class",
        "ratio",
        "compressed_bytes",
        "profile_bytes",
        "compress_MBps",
        "decompress_MBps",
        "roundtrip_ok",
        "threads",
    ] {
        assert!(m.get(key).is_some(), "missing {key}");
    }
    let second: serde_json::Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
    assert!(second["methods"]["zstd3_raw"]["ratio"].is_null());
    assert_eq!(second["methods"]["zstd3_raw"]["roundtrip_ok"], false);
}

#[test]
fn a_single_frame_file_cut_by_a_kill_is_read_up_to_its_last_complete_row_and_resumed() {
    // Files of older lab versions: one zstd frame, flushed per row, cut by a kill.
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.jsonl.zst");
    let rows: Vec<_> = (0..40)
        .map(|i| record("m", &format!("t{i:02}"), true))
        .collect();
    let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    for r in &rows {
        enc.write_all(serde_json::to_string(r).unwrap().as_bytes())
            .unwrap();
        enc.write_all(b"\n").unwrap();
        enc.flush().unwrap();
    }
    let bytes = enc.get_ref().clone();
    std::fs::write(&cut, &bytes[..bytes.len() - 3]).unwrap();
    let got = read_results(&cut).unwrap();
    assert!(got.truncated);
    assert!(
        !got.rows.is_empty() && got.rows.len() < 40,
        "{}",
        got.rows.len()
    );
    assert_eq!(got.rows[..], rows[..got.rows.len()]);

    // Resuming keeps the complete rows (filtered) in a fresh, complete frame.
    let (mut w, old) = ResultsWriter::resume(&cut, |r| r.tensor_name != "t00").unwrap();
    assert_eq!(old.len(), got.rows.len());
    w.write(&record("m", "zz_new", true)).unwrap();
    w.finish().unwrap();
    let back = read_results(&cut).unwrap();
    assert!(!back.truncated);
    assert_eq!(back.rows.len(), got.rows.len());
    assert!(back.rows.iter().all(|r| r.tensor_name != "t00"));
    assert_eq!(back.rows.last().unwrap().tensor_name, "zz_new");
}

#[test]
fn merge_joins_shards_and_deduplicates() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.jsonl.zst");
    let b = dir.path().join("b.jsonl.zst");
    let mut w = ResultsWriter::create(&a).unwrap();
    w.write(&record("m", "t1", true)).unwrap();
    w.write(&record("m", "t0", true)).unwrap();
    w.finish().unwrap();
    let mut w = ResultsWriter::create(&b).unwrap();
    w.write(&record("m", "t2", true)).unwrap();
    w.write(&record("m", "t0", true)).unwrap();
    w.finish().unwrap();
    let out = dir.path().join("all.jsonl.zst");
    assert_eq!(merge_files(&[a, b], &out).unwrap(), 3);
    let rows = read_results(&out).unwrap().rows;
    let names: Vec<_> = rows.iter().map(|r| r.tensor_name.as_str()).collect();
    assert_eq!(names, ["t0", "t1", "t2"]);
}

#[test]
fn a_bad_line_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.jsonl");
    let good = serde_json::to_string(&record("m", "t", true)).unwrap();
    std::fs::write(&path, format!("{good}\n{{\"_kind\": 3}}\n")).unwrap();
    let msg = read_results(&path).unwrap_err().to_string();
    assert!(msg.contains("bad.jsonl:2"), "{msg}");
}
