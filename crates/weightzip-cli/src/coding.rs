//! `compress`, `decompress`, `cat` and `verify`: the commands that read and
//! write archives.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use weightzip::base::Base;
use weightzip::fs::{self as wfs, OutputPath, Replace, TempFile};
use weightzip::{Archive, CompressOptions, ExtractOptions, Level, RootKind, SegmentKind};

use crate::progress::Bar;
use crate::{BaseArg, CatArgs, CompressArgs, DecompressArgs, LevelArg, VerifyArgs};

/// Bytes below `path`, for the progress bar (links not followed).
fn input_size(path: &Path) -> u64 {
    fn walk(p: &Path, depth: usize) -> u64 {
        match std::fs::symlink_metadata(p) {
            Ok(m) if m.is_dir() && depth < 64 => std::fs::read_dir(p)
                .map(|rd| rd.flatten().map(|e| walk(&e.path(), depth + 1)).sum())
                .unwrap_or(0),
            Ok(m) if m.is_file() => m.len(),
            _ => 0,
        }
    }
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => walk(path, 0),
        Ok(m) if m.is_file() => m.len(),
        _ => 0,
    }
}

pub(crate) fn compress(a: CompressArgs) -> Result<()> {
    let output = match a.output {
        Some(o) => o,
        None if wfs::input::is_stdin(&a.input) => {
            bail!(
                "compressing standard input needs an output: -o FILE, or -o - for standard output"
            )
        }
        None => {
            let trimmed = a.input.to_string_lossy().trim_end_matches('/').to_string();
            PathBuf::from(format!("{trimmed}.wz"))
        }
    };
    let to_stdout = OutputPath::of(&output) == OutputPath::Stdout;
    let (bar, progress) = Bar::start(input_size(&a.input), a.common.quiet, "compress");
    let opts = CompressOptions {
        level: match a.level {
            LevelArg::Fast => Level::Fast,
            LevelArg::Max => Level::Max,
        },
        threads: a.common.threads,
        chunk_size: a
            .chunk_mib
            .checked_mul(1 << 20)
            .context("--chunk-mib too large")?,
        overwrite: a.force,
        verify: !a.no_verify,
        dedup: !a.no_dedup,
        chain: !a.no_chain,
        base: match &a.base {
            Some(b) => {
                Some(Arc::new(Base::open(b).with_context(|| {
                    format!("opening the base {}", b.display())
                })?))
            }
            None => None,
        },
        progress,
    };
    let start = std::time::Instant::now();
    let summary = weightzip::compress_path(&a.input, &output, &opts)
        .with_context(|| format!("compressing {}", shown(&a.input)))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    for w in &summary.warnings {
        eprintln!("weightzip: warning: {w}");
    }
    for p in &summary.problems {
        eprintln!("weightzip: error: {p}");
    }
    if !a.common.quiet && !to_stdout {
        let secs = start.elapsed().as_secs_f64();
        eprintln!(
            "{} -> {}: {} files, {} tensors, {} -> {} bytes ({:.4}x) in {:.2} s ({:.0} MB/s)",
            shown(&a.input),
            output.display(),
            summary.files,
            summary.tensors,
            summary.input_bytes,
            summary.output_bytes,
            summary.input_bytes as f64 / summary.output_bytes.max(1) as f64,
            secs,
            summary.input_bytes as f64 / 1e6 / secs.max(1e-9)
        );
        if summary.delta_chunks > 0 {
            eprintln!(
                "  {} chunks ({} bytes) coded as deltas (against the base or an earlier checkpoint)",
                summary.delta_chunks, summary.delta_bytes
            );
        }
        if summary.delta_chunks == 0 && a.base.is_some() {
            eprintln!(
                "  no tensor was smaller as a delta against the base; the archive needs no base"
            );
        }
        if summary.dedup_chunks > 0 {
            eprintln!(
                "  {} chunks ({} bytes) stored once and referred to again",
                summary.dedup_chunks, summary.dedup_bytes
            );
        }
    }
    if !summary.problems.is_empty() {
        bail!(
            "{} member(s) of {} could not be stored (listed above); the rest is in {}",
            summary.problems.len(),
            shown(&a.input),
            output.display()
        );
    }
    Ok(())
}

/// How a path is named in messages (`-` is standard input).
fn shown(p: &Path) -> String {
    if wfs::input::is_stdin(p) {
        "standard input".into()
    } else {
        p.display().to_string()
    }
}

pub(crate) fn open_archive(path: &Path) -> Result<Archive<'static>> {
    Archive::open(path).with_context(|| format!("reading {}", shown(path)))
}

/// Opens an archive to decode, with its base when given; `whole`: the
/// whole archive will be decoded, so a base it needs must be there.
fn open_with_base(path: &Path, base: &BaseArg, whole: bool) -> Result<Archive<'static>> {
    let mut archive = open_archive(path)?;
    if let Some(b) = &base.base {
        let opened = Base::open(b).with_context(|| format!("opening the base {}", b.display()))?;
        archive
            .set_base(&Arc::new(opened))
            .with_context(|| format!("reading {}", shown(path)))?;
    }
    if whole {
        archive
            .needs_base()
            .with_context(|| format!("reading {}", shown(path)))?;
    }
    Ok(archive)
}

pub(crate) fn decompress(a: DecompressArgs) -> Result<()> {
    let archive = open_with_base(&a.input, &a.base, true)?;
    let output = match a.output {
        Some(o) => o,
        None if wfs::input::is_stdin(&a.input) => PathBuf::from("-"),
        None => {
            let s = a.input.to_string_lossy();
            match s.strip_suffix(".wz") {
                Some(stem) if !stem.is_empty() && !stem.ends_with('/') => PathBuf::from(stem),
                _ => bail!(
                    "{}: name does not end in .wz; give the output with -o",
                    a.input.display()
                ),
            }
        }
    };
    let to_stdout = OutputPath::of(&output) == OutputPath::Stdout;
    let (bar, progress) = Bar::start(archive.index().total_size(), a.common.quiet, "decompress");
    let opts = ExtractOptions {
        threads: a.common.threads,
        overwrite: a.force,
        progress,
    };
    let start = std::time::Instant::now();
    let summary = archive
        .extract(&output, &opts)
        .with_context(|| format!("decompressing {}", shown(&a.input)))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if !a.common.quiet && !to_stdout {
        let secs = start.elapsed().as_secs_f64();
        let what = match archive.index().root {
            RootKind::File => "file".to_string(),
            RootKind::Dir => format!(
                "folder: {} files, {} folders, {} links",
                summary.files, summary.dirs, summary.links
            ),
        };
        eprintln!(
            "{} -> {} ({what}, {} bytes, checksums ok) in {:.2} s ({:.0} MB/s)",
            shown(&a.input),
            output.display(),
            summary.bytes,
            secs,
            summary.bytes as f64 / 1e6 / secs.max(1e-9)
        );
    }
    Ok(())
}

pub(crate) fn cat(a: CatArgs) -> Result<()> {
    let archive = open_with_base(&a.input, &a.base, false)?;
    let opts = ExtractOptions {
        threads: a.threads,
        ..Default::default()
    };
    let context = || format!("reading tensor {:?} from {}", a.tensor, shown(&a.input));
    let output = a.output.clone().unwrap_or_else(|| PathBuf::from("-"));
    match OutputPath::of(&output) {
        OutputPath::Path(path) => {
            let replace = Replace::when(a.force);
            let protect: Vec<_> = wfs::FileId::of_path(&a.input).into_iter().collect();
            wfs::check_target(&path, replace, &protect).with_context(context)?;
            // Decoded chunk by chunk into a temporary file, renamed when
            // every chunk checksum matched.
            let tmp = TempFile::new_for(&path).with_context(context)?;
            let mut w = std::io::BufWriter::new(tmp.file());
            archive
                .read_tensor(a.file.as_deref(), &a.tensor, &mut w, &opts)
                .with_context(context)?;
            tmp.flush_writer(&mut w).with_context(context)?;
            drop(w);
            tmp.persist(replace, &protect).with_context(context)?;
        }
        OutputPath::Null => {
            archive
                .read_tensor(a.file.as_deref(), &a.tensor, &mut std::io::sink(), &opts)
                .with_context(context)?;
        }
        OutputPath::Stdout => {
            let stdout = std::io::stdout();
            let mut lock = std::io::BufWriter::new(stdout.lock());
            archive
                .read_tensor(a.file.as_deref(), &a.tensor, &mut lock, &opts)
                .with_context(context)?;
            lock.flush()?;
        }
    }
    Ok(())
}

pub(crate) fn verify(a: VerifyArgs) -> Result<()> {
    let archive = open_with_base(&a.input, &a.base, true)?;
    let (bar, progress) = Bar::start(archive.index().total_size(), a.common.quiet, "verify");
    let opts = ExtractOptions {
        threads: a.common.threads,
        overwrite: false,
        progress,
    };
    let summary = archive
        .verify(&opts)
        .with_context(|| format!("verifying {}", shown(&a.input)))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let tensors: usize = archive
        .index()
        .entries
        .iter()
        .map(|e| {
            e.segments
                .iter()
                .filter(|s| matches!(s.kind, SegmentKind::Tensor { .. }))
                .count()
        })
        .sum();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{}: ok ({} files, {} tensors, {} chunks, {} bytes; every checksum matches)",
        shown(&a.input),
        summary.files,
        tensors,
        summary.chunks,
        summary.bytes
    )?;
    Ok(())
}
