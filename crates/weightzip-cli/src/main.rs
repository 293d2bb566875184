//! `weightzip`: lossless compression of LLM weight files.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use weightzip::{
    Archive, CompressOptions, ExtractOptions, Level, Progress, RootKind, SegmentKind, WzError,
};

mod inspect;
mod lab;
mod speed;

/// Exit code for a damaged, truncated or foreign `.wz` file (data integrity).
const EXIT_CORRUPT: u8 = 3;
/// Exit code for an output that exists without --force.
const EXIT_EXISTS: u8 = 4;

const AFTER_HELP: &str = "\
Examples:
  weightzip compress model.safetensors              # -> model.safetensors.wz
  weightzip compress ./Qwen2.5-0.5B/ -o qwen.wz      # a whole model folder
  weightzip decompress model.safetensors.wz          # -> model.safetensors, identical bytes
  weightzip cat model.safetensors.wz --tensor model.layers.0.mlp.up_proj.weight > t.bin
  weightzip inspect model.safetensors.wz             # per-tensor codec and ratio
  weightzip verify model.safetensors.wz              # check every checksum
  weightzip bench --speed model.safetensors          # codec MB/s beside memcpy, lz4, zstd (= speed)

Exit codes: 0 success; 1 error (I/O, bad arguments at run time); 2 usage error;
3 the archive is damaged, truncated or not a .wz file; 4 the output exists (use --force).";

#[derive(Parser)]
#[command(name = "weightzip", version, about = "Lossless compression of LLM weight files (safetensors, GGUF, model folders)", after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compress a file or a model folder into a .wz archive.
    Compress(CompressArgs),
    /// Restore the original file(s) from a .wz archive.
    Decompress(DecompressArgs),
    /// Write one tensor's raw bytes, decoding only that tensor.
    Cat(CatArgs),
    /// List files and tensors with their codecs and ratios.
    Inspect(InspectArgs),
    /// Decode everything and check every checksum; writes nothing.
    Verify(VerifyArgs),
    /// Measure codec speed next to memcpy, lz4 and zstd on the same tensor bytes.
    Speed(speed::SpeedArgs),
    /// Entropy atlas of a corpus: byte / nibble entropies, ceilings, layer pairs.
    Atlas(lab::AtlasArgs),
    /// Train the trained-profile methods on the corpus's train split.
    Train(lab::TrainArgs),
    /// Benchmark every method on the corpus's test split (byte-exact round trips).
    Bench(lab::BenchArgs),
    /// Merge sharded bench results.
    Merge(lab::MergeArgs),
    /// Tables from bench records: byte-weighted, geomean, median, CIs.
    Report(lab::ReportArgs),
    /// Render the study's five figures (PDF and PNG) from lab records.
    Figures(FiguresArgs),
}

#[derive(Args)]
struct FiguresArgs {
    /// Bench records (results.jsonl.zst or .jsonl).
    #[arg(long)]
    results: Option<PathBuf>,
    /// Atlas folder (bf16.jsonl, q4k.jsonl, layer_pairs.jsonl).
    #[arg(long)]
    atlas: Option<PathBuf>,
    /// Output folder.
    #[arg(short, long, default_value = "figures")]
    output: PathBuf,
}

#[derive(Clone, Copy, ValueEnum)]
enum LevelArg {
    /// Fast codecs (default).
    Fast,
    /// Strongest codecs; slower to compress.
    Max,
}

#[derive(Args)]
struct Common {
    /// Worker threads (default: all cores).
    #[arg(short = 'T', long, default_value_t = 0)]
    threads: usize,
    /// No progress bar.
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Args)]
struct CompressArgs {
    /// File or folder to compress.
    input: PathBuf,
    /// Output archive (default: INPUT.wz).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Codec strength.
    #[arg(long, value_enum, default_value = "fast")]
    level: LevelArg,
    /// Overwrite an existing output.
    #[arg(short, long)]
    force: bool,
    /// Chunk size in MiB (the unit of parallelism and random access).
    #[arg(long, default_value_t = 4)]
    chunk_mib: usize,
    /// Skip decoding each chunk back after encoding it (faster; by default a
    /// chunk that does not come back exactly is stored with zstd instead).
    #[arg(long)]
    no_verify: bool,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct DecompressArgs {
    /// Archive to restore.
    input: PathBuf,
    /// Output file or folder (default: INPUT without .wz).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Overwrite an existing output.
    #[arg(short, long)]
    force: bool,
    #[command(flatten)]
    common: Common,
}

#[derive(Args)]
struct CatArgs {
    /// Archive to read.
    input: PathBuf,
    /// Tensor name.
    #[arg(long)]
    tensor: String,
    /// File inside a folder archive (when several hold the tensor name).
    #[arg(long)]
    file: Option<String>,
    /// Write here instead of standard output.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Overwrite an existing output.
    #[arg(short, long)]
    force: bool,
    /// Worker threads (default: all cores).
    #[arg(short = 'T', long, default_value_t = 0)]
    threads: usize,
}

#[derive(Args)]
struct InspectArgs {
    /// Archive to describe.
    input: PathBuf,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct VerifyArgs {
    /// Archive to check.
    input: PathBuf,
    #[command(flatten)]
    common: Common,
}

/// `weightzip bench --speed FILE...` is `weightzip speed FILE...`: the lab's
/// `bench` takes a corpus manifest, the speed benchmark takes model files.
fn rewrite_bench_speed(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    if args.get(1).is_some_and(|a| a == "bench") && args.iter().any(|a| a == "--speed") {
        args[1] = "speed".into();
        args.retain(|a| a != "--speed");
    }
    args
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(rewrite_bench_speed(std::env::args_os().collect()));
    let result = match cli.command {
        Command::Compress(a) => compress(a),
        Command::Decompress(a) => decompress(a),
        Command::Cat(a) => cat(a),
        Command::Inspect(a) => inspect::run(&a.input, a.json),
        Command::Verify(a) => verify(a),
        Command::Speed(a) => speed::run(a),
        Command::Atlas(a) => lab::run_atlas(a),
        Command::Train(a) => lab::run_train(a),
        Command::Bench(a) => lab::run_bench(a),
        Command::Merge(a) => lab::run_merge(a),
        Command::Report(a) => lab::run_report(a),
        Command::Figures(a) => figures(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("weightzip: error: {err:#}");
            ExitCode::from(exit_code(&err))
        }
    }
}

fn exit_code(err: &anyhow::Error) -> u8 {
    match err.downcast_ref::<WzError>() {
        Some(
            WzError::BadMagic
            | WzError::UnsupportedVersion { .. }
            | WzError::Truncated(_)
            | WzError::Corrupt(_)
            | WzError::Codec { .. }
            | WzError::Checksum { .. },
        ) => EXIT_CORRUPT,
        Some(WzError::OutputExists(_)) => EXIT_EXISTS,
        _ => 1,
    }
}

fn progress_bar(total: u64, quiet: bool, verb: &str) -> (Option<ProgressBar>, Option<Progress>) {
    if quiet || !std::io::stderr().is_terminal() {
        return (None, None);
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:40}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(verb.to_string());
    let b = bar.clone();
    (Some(bar), Some(Arc::new(move |n| b.inc(n))))
}

fn input_size(path: &Path) -> u64 {
    fn walk(p: &Path) -> u64 {
        match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => std::fs::read_dir(p)
                .map(|rd| rd.flatten().map(|e| walk(&e.path())).sum())
                .unwrap_or(0),
            Ok(m) => m.len(),
            Err(_) => 0,
        }
    }
    walk(path)
}

fn compress(a: CompressArgs) -> Result<()> {
    let output = match a.output {
        Some(o) => o,
        None => {
            let trimmed = a.input.to_string_lossy().trim_end_matches('/').to_string();
            PathBuf::from(format!("{trimmed}.wz"))
        }
    };
    let (bar, progress) = progress_bar(input_size(&a.input), a.common.quiet, "compress");
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
        progress,
    };
    let start = std::time::Instant::now();
    let summary = weightzip::compress_path(&a.input, &output, &opts)
        .with_context(|| format!("compressing {}", a.input.display()))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    for w in &summary.warnings {
        eprintln!("weightzip: warning: {w}");
    }
    if !a.common.quiet {
        let secs = start.elapsed().as_secs_f64();
        eprintln!(
            "{} -> {}: {} files, {} tensors, {} -> {} bytes ({:.4}x) in {:.2} s ({:.0} MB/s)",
            a.input.display(),
            output.display(),
            summary.files,
            summary.tensors,
            summary.input_bytes,
            summary.output_bytes,
            summary.input_bytes as f64 / summary.output_bytes.max(1) as f64,
            secs,
            summary.input_bytes as f64 / 1e6 / secs.max(1e-9)
        );
    }
    Ok(())
}

fn open_archive(path: &Path) -> Result<Archive<'static>> {
    Archive::open(path).with_context(|| format!("reading {}", path.display()))
}

fn decompress(a: DecompressArgs) -> Result<()> {
    let archive = open_archive(&a.input)?;
    let output = match a.output {
        Some(o) => o,
        None => {
            let s = a.input.to_string_lossy();
            match s.strip_suffix(".wz") {
                Some(stem) if !stem.is_empty() => PathBuf::from(stem),
                _ => bail!(
                    "{}: name does not end in .wz; give the output with -o",
                    a.input.display()
                ),
            }
        }
    };
    let (bar, progress) = progress_bar(archive.index().total_size(), a.common.quiet, "decompress");
    let opts = ExtractOptions {
        threads: a.common.threads,
        overwrite: a.force,
        progress,
    };
    let start = std::time::Instant::now();
    archive
        .extract(&output, &opts)
        .with_context(|| format!("decompressing {}", a.input.display()))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if !a.common.quiet {
        let secs = start.elapsed().as_secs_f64();
        let bytes = archive.index().total_size();
        let what = match archive.index().root {
            RootKind::File => "file",
            RootKind::Dir => "folder",
        };
        eprintln!(
            "{} -> {} ({what}, {bytes} bytes, checksums ok) in {:.2} s ({:.0} MB/s)",
            a.input.display(),
            output.display(),
            secs,
            bytes as f64 / 1e6 / secs.max(1e-9)
        );
    }
    Ok(())
}

fn cat(a: CatArgs) -> Result<()> {
    let archive = open_archive(&a.input)?;
    let opts = ExtractOptions {
        threads: a.threads,
        ..Default::default()
    };
    let context = || format!("reading tensor {:?} from {}", a.tensor, a.input.display());
    match &a.output {
        Some(path) => {
            // Decode into memory-bounded chunks straight to a temporary file.
            if !a.force && path.symlink_metadata().is_ok() {
                return Err(WzError::OutputExists(path.clone())).with_context(context);
            }
            let tmp = path.with_file_name(format!(
                ".{}.tmp-{}",
                path.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                std::process::id()
            ));
            let result = (|| -> Result<()> {
                let f = std::fs::File::create(&tmp)
                    .with_context(|| format!("creating {}", tmp.display()))?;
                let mut w = std::io::BufWriter::new(f);
                archive
                    .read_tensor(a.file.as_deref(), &a.tensor, &mut w, &opts)
                    .with_context(context)?;
                std::io::Write::flush(&mut w)?;
                std::fs::rename(&tmp, path)
                    .with_context(|| format!("renaming to {}", path.display()))?;
                Ok(())
            })();
            if result.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            result
        }
        None => {
            let stdout = std::io::stdout();
            let mut lock = std::io::BufWriter::new(stdout.lock());
            archive
                .read_tensor(a.file.as_deref(), &a.tensor, &mut lock, &opts)
                .with_context(context)?;
            std::io::Write::flush(&mut lock)?;
            Ok(())
        }
    }
}

fn figures(a: FiguresArgs) -> Result<()> {
    if a.results.is_none() && a.atlas.is_none() {
        bail!("give --results and/or --atlas");
    }
    let inputs = weightzip_figures::load_inputs(a.results.as_deref(), a.atlas.as_deref())?;
    std::fs::create_dir_all(&a.output)
        .with_context(|| format!("creating {}", a.output.display()))?;
    let written = weightzip_figures::render_all(&inputs, &a.output)?;
    for p in written {
        println!("{}", p.display());
    }
    Ok(())
}

fn verify(a: VerifyArgs) -> Result<()> {
    let archive = open_archive(&a.input)?;
    let (bar, progress) = progress_bar(archive.index().total_size(), a.common.quiet, "verify");
    let opts = ExtractOptions {
        threads: a.common.threads,
        overwrite: false,
        progress,
    };
    let summary = archive
        .verify(&opts)
        .with_context(|| format!("verifying {}", a.input.display()))?;
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
    println!(
        "{}: ok ({} files, {} tensors, {} chunks, {} bytes; every checksum matches)",
        a.input.display(),
        summary.files,
        tensors,
        summary.chunks,
        summary.bytes
    );
    Ok(())
}
