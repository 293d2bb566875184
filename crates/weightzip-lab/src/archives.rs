//! What archives add over coding file by file: for a folder, its files
//! coded each alone against the whole folder as one archive (identical
//! content stored once, a training run's checkpoints coded as a chain);
//! for a checkpoint and its base, the checkpoint coded alone against it
//! coded with `--base`. Every archive is restored and compared byte for
//! byte before its row is written.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use weightzip::base::Base;
use weightzip::{compress_path, Archive, CompressOptions, ExtractOptions};

use crate::error::{LabError, Result};

/// `_kind` of the rows.
pub const ARCHIVE_KIND: &str = "bench_archive";

/// What is measured.
#[derive(Clone, Debug)]
pub enum ArchiveCase {
    /// A folder: per-file against whole-folder.
    Folder(PathBuf),
    /// A checkpoint file and its base: alone against `--base`.
    Delta {
        /// The checkpoint.
        new: PathBuf,
        /// Its base.
        base: PathBuf,
    },
}

/// One row of `archives.jsonl`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ArchiveRow {
    /// Always [`ARCHIVE_KIND`].
    #[serde(rename = "_kind")]
    pub kind: String,
    /// `"folder"` or `"delta"`.
    pub case: String,
    /// The folder or checkpoint.
    pub path: String,
    /// The base (delta rows).
    pub base: Option<String>,
    /// Files coded.
    pub files: usize,
    /// Their bytes.
    pub original_bytes: u64,
    /// Sum of each file's archive coded alone (no base, no dedup across
    /// files, no chain).
    pub per_file_bytes: u64,
    /// The one archive (folder with dedup and chain, or `--base`).
    pub archive_bytes: u64,
    /// `original / per_file`.
    pub ratio_per_file: f64,
    /// `original / archive`.
    pub ratio_archive: f64,
    /// Bytes stored as references to identical content.
    pub dedup_bytes: u64,
    /// Bytes stored as deltas.
    pub delta_bytes: u64,
}

fn wz(e: weightzip::WzError, what: &Path) -> LabError {
    LabError::Invalid(format!("{}: {e}", what.display()))
}

fn files_of(root: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(|e| LabError::io(&d, e))? {
            let e = e.map_err(|e| LabError::io(&d, e))?;
            let t = e.file_type().map_err(|err| LabError::io(e.path(), err))?;
            if t.is_dir() {
                stack.push(e.path());
            } else if t.is_file() {
                out.push(e.path());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Measures one case with `threads` worker threads, in a scratch folder.
pub fn measure(case: &ArchiveCase, threads: usize) -> Result<ArchiveRow> {
    let tmp = tempfile::tempdir().map_err(|e| LabError::io(std::env::temp_dir(), e))?;
    let alone = CompressOptions {
        threads,
        chain: false,
        ..Default::default()
    };
    let (files, target) = match case {
        ArchiveCase::Folder(d) => (files_of(d)?, d.clone()),
        ArchiveCase::Delta { new, .. } => (vec![new.clone()], new.clone()),
    };
    let (mut original, mut per_file) = (0u64, 0u64);
    for (i, f) in files.iter().enumerate() {
        let out = tmp.path().join(format!("alone-{i}.wz"));
        let s = compress_path(f, &out, &alone).map_err(|e| wz(e, f))?;
        original += s.input_bytes;
        per_file += s.output_bytes;
        std::fs::remove_file(&out).map_err(|e| LabError::io(&out, e))?;
    }
    let out = tmp.path().join("archive.wz");
    let base = match case {
        ArchiveCase::Delta { base, .. } => {
            Some(Arc::new(Base::open(base).map_err(|e| wz(e, base))?))
        }
        ArchiveCase::Folder(_) => None,
    };
    let opts = CompressOptions {
        threads,
        base: base.clone(),
        ..Default::default()
    };
    let s = compress_path(&target, &out, &opts).map_err(|e| wz(e, &target))?;
    // Restored and compared before the row counts.
    let mut archive = Archive::open(&out).map_err(|e| wz(e, &out))?;
    if let (Some(b), Some(_)) = (&base, &archive.index().base) {
        archive.set_base(b).map_err(|e| wz(e, &out))?;
    }
    let restored = tmp.path().join("restored");
    archive
        .extract(
            &restored,
            &ExtractOptions {
                threads,
                ..Default::default()
            },
        )
        .map_err(|e| wz(e, &out))?;
    let same = |a: &Path, b: &Path| -> Result<bool> {
        let x = std::fs::read(a).map_err(|e| LabError::io(a, e))?;
        let y = std::fs::read(b).map_err(|e| LabError::io(b, e))?;
        Ok(x == y)
    };
    let ok = match case {
        ArchiveCase::Folder(d) => {
            let mut ok = true;
            for f in &files {
                let rel = f.strip_prefix(d).unwrap_or(f);
                ok &= same(f, &restored.join(rel))?;
            }
            ok
        }
        ArchiveCase::Delta { new, .. } => same(new, &restored)?,
    };
    if !ok {
        return Err(LabError::Invalid(format!(
            "{}: the archive does not restore byte for byte",
            target.display()
        )));
    }
    Ok(ArchiveRow {
        kind: ARCHIVE_KIND.to_string(),
        case: match case {
            ArchiveCase::Folder(_) => "folder",
            ArchiveCase::Delta { .. } => "delta",
        }
        .to_string(),
        path: target.display().to_string(),
        base: match case {
            ArchiveCase::Delta { base, .. } => Some(base.display().to_string()),
            ArchiveCase::Folder(_) => None,
        },
        files: files.len(),
        original_bytes: original,
        per_file_bytes: per_file,
        archive_bytes: s.output_bytes,
        ratio_per_file: original as f64 / per_file.max(1) as f64,
        ratio_archive: original as f64 / s.output_bytes.max(1) as f64,
        dedup_bytes: s.dedup_bytes,
        delta_bytes: s.delta_bytes,
    })
}

/// Reads the rows `weightzip-lab archives -o` wrote (other `_kind`s are
/// refused).
pub fn read_rows(path: &Path) -> Result<Vec<ArchiveRow>> {
    let rows: Vec<ArchiveRow> = crate::records::jsonl::read_jsonl(path)?;
    if let Some(r) = rows.iter().find(|r| r.kind != ARCHIVE_KIND) {
        return Err(LabError::Invalid(format!(
            "{}: a row of kind {:?}, not {ARCHIVE_KIND:?}",
            path.display(),
            r.kind
        )));
    }
    Ok(rows)
}

/// The rows as a Markdown section of the report: what one archive saves
/// over its files coded apart, per case and in total.
pub fn summary_markdown(rows: &[ArchiveRow]) -> String {
    let per_file: u64 = rows.iter().map(|r| r.per_file_bytes).sum();
    let archive: u64 = rows.iter().map(|r| r.archive_bytes).sum();
    let mut s = String::from("## Archives: what deduplication and deltas add\n\n");
    s.push_str(&to_markdown(rows));
    s.push_str(&format!(
        "\n{} case(s): {} bytes coded file by file, {} as archives ({:.1} % less).\n",
        rows.len(),
        per_file,
        archive,
        100.0 * (1.0 - archive as f64 / per_file.max(1) as f64)
    ));
    s
}

/// The rows as a Markdown table.
pub fn to_markdown(rows: &[ArchiveRow]) -> String {
    let mut s = String::from(
        "| case | path | files | original | per file | archive | ratio per file | ratio archive | dedup bytes | delta bytes |\n|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        s.push_str(&format!(
            "| {} | {}{} | {} | {} | {} | {} | {:.4} | {:.4} | {} | {} |\n",
            r.case,
            r.path,
            r.base
                .as_ref()
                .map(|b| format!(" (base {b})"))
                .unwrap_or_default(),
            r.files,
            r.original_bytes,
            r.per_file_bytes,
            r.archive_bytes,
            r.ratio_per_file,
            r.ratio_archive,
            r.dedup_bytes,
            r.delta_bytes
        ));
    }
    s
}
