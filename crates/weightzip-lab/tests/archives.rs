//! The lab's archive rows on real fixtures: a folder holding a model twice
//! and a training run, and a fine-tune step against its base. The whole
//! archive beats the files coded apart, and every row was restored byte
//! for byte (measure fails otherwise).

use std::path::{Path, PathBuf};

use weightzip_lab::archives::{
    measure, read_rows, to_markdown, ArchiveCase, ArchiveRow, ARCHIVE_KIND,
};
use weightzip_lab::report::{build_report, to_markdown as report_markdown, ReportOptions};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name)
}

const BASE: &str = "minilm-finetune-step0000.slice.bf16.safetensors";
const STEP: &str = "minilm-finetune-step0100.slice.bf16.safetensors";

#[test]
fn folder_and_delta_rows_show_what_archives_add() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("twice");
    std::fs::create_dir_all(folder.join("copy")).unwrap();
    std::fs::copy(fixture(BASE), folder.join("model.safetensors")).unwrap();
    std::fs::copy(fixture(BASE), folder.join("copy/model.safetensors")).unwrap();
    let twice = measure(&ArchiveCase::Folder(folder), 1).unwrap();
    assert_eq!(twice.kind, ARCHIVE_KIND);
    assert_eq!(twice.files, 2);
    // The copy costs almost nothing in the archive, a full file apart.
    assert!(
        twice.archive_bytes * 10 < twice.per_file_bytes * 6,
        "{twice:?}"
    );
    assert!(twice.dedup_bytes > 0);

    let delta = measure(
        &ArchiveCase::Delta {
            new: fixture(STEP),
            base: fixture(BASE),
        },
        1,
    )
    .unwrap();
    assert_eq!(delta.files, 1);
    assert!(delta.archive_bytes < delta.per_file_bytes, "{delta:?}");
    assert!(delta.delta_bytes > 0);
    assert!(delta.ratio_archive > delta.ratio_per_file);
    let rows = vec![twice, delta];
    let table = to_markdown(&rows);
    assert!(table.contains("| folder |") && table.contains("| delta |"));

    // The rows as `archives -o` writes them, read back into the report.
    let file = dir.path().join("archives.jsonl");
    let text: String = rows
        .iter()
        .map(|r| serde_json::to_string(r).unwrap() + "\n")
        .collect();
    std::fs::write(&file, text).unwrap();
    let back = read_rows(&file).unwrap();
    // JSON keeps the ratios to within their last digit.
    let exact = |r: &ArchiveRow| ArchiveRow {
        ratio_per_file: 0.0,
        ratio_archive: 0.0,
        ..r.clone()
    };
    assert_eq!(back.len(), rows.len());
    for (b, r) in back.iter().zip(&rows) {
        assert_eq!(exact(b), exact(r));
        for (x, y) in [
            (b.ratio_per_file, r.ratio_per_file),
            (b.ratio_archive, r.ratio_archive),
        ] {
            assert!((x - y).abs() <= 1e-12 * y, "{x} vs {y}");
        }
    }
    let mut report = build_report(&[], &ReportOptions::default());
    report.archives = Some(back);
    let md = report_markdown(&report);
    assert!(
        md.contains("## Archives: what deduplication and deltas add"),
        "{md}"
    );
    assert!(
        md.contains("| delta |") && md.contains("as archives ("),
        "{md}"
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["archives"][1]["case"], "delta");
    // A results row is not an archive row.
    std::fs::write(&file, "{\"_kind\": \"bench_bf16_perfile\"}\n").unwrap();
    assert!(read_rows(&file).is_err());
}
