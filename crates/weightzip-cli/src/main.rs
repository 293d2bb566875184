//! `weightzip`: lossless compression of LLM weight files.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use weightzip::WzError;

mod coding;
mod inspect;
mod progress;
mod speed;

/// Exit code for a damaged, truncated or foreign `.wz` file (data integrity).
const EXIT_CORRUPT: u8 = 3;
/// Exit code for an output that exists without --force.
const EXIT_EXISTS: u8 = 4;
/// Exit code for an archive coded against a base that was not given, or
/// given wrong.
const EXIT_BASE: u8 = 5;

const AFTER_HELP: &str = "\
Examples:
  weightzip compress model.safetensors              # -> model.safetensors.wz
  weightzip compress ./Qwen2.5-0.5B/ -o qwen.wz      # a whole model folder
  weightzip compress ft.safetensors --base base.safetensors   # a fine-tune as deltas
  weightzip decompress ft.safetensors.wz --base base.safetensors
  weightzip decompress model.safetensors.wz          # -> model.safetensors, identical bytes
  weightzip cat model.safetensors.wz --tensor model.layers.0.mlp.up_proj.weight > t.bin
  weightzip inspect model.safetensors.wz             # per-tensor codec and ratio
  weightzip verify model.safetensors.wz              # check every checksum
  weightzip bench --speed model.safetensors          # codec MB/s beside memcpy, lz4, zstd (= speed)

Exit codes: 0 success; 1 error (I/O, bad arguments at run time); 2 usage error;
3 the archive is damaged, truncated or not a .wz file; 4 the output exists (use --force);
5 the archive needs its base checkpoint (--base), or the base given is not it.";

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
}

#[derive(Clone, Copy, ValueEnum)]
enum LevelArg {
    /// Fast codecs (default).
    Fast,
    /// Strongest codecs; slower to compress.
    Max,
}

/// `-T N`: 0 (all cores) up to [`weightzip::MAX_THREADS`].
fn parse_threads(s: &str) -> std::result::Result<usize, String> {
    let n: usize = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of threads"))?;
    if n > weightzip::MAX_THREADS {
        return Err(format!(
            "at most {} threads (0 means all cores)",
            weightzip::MAX_THREADS
        ));
    }
    Ok(n)
}

#[derive(Args)]
struct Common {
    /// Worker threads (default 0: all cores; at most 1024).
    #[arg(short = 'T', long, default_value_t = 0, value_parser = parse_threads)]
    threads: usize,
    /// No progress bar.
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Args)]
struct CompressArgs {
    /// File or folder to compress (`-`: standard input).
    input: PathBuf,
    /// Output archive (default: INPUT.wz; `-`: standard output).
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
    /// Store repeated content in full instead of once (identical files,
    /// tensors and chunks are otherwise references to the first copy).
    #[arg(long)]
    no_dedup: bool,
    /// A base checkpoint (file, folder or .wz): tensors with a twin there
    /// (same file, name, type and length) are coded as deltas against it,
    /// and decoding then needs the same base.
    #[arg(long)]
    base: Option<PathBuf>,
    /// In a folder, code each file on its own even where an earlier file
    /// has its name (by default the later checkpoint of a training run is
    /// coded as deltas against the earlier one).
    #[arg(long)]
    no_chain: bool,
    #[command(flatten)]
    common: Common,
}

/// `--base` of the commands that decode.
#[derive(Args)]
struct BaseArg {
    /// The base checkpoint the archive was coded against (file, folder or
    /// .wz); refused unless it holds exactly the tensors the archive used.
    #[arg(long)]
    base: Option<PathBuf>,
}

#[derive(Args)]
struct DecompressArgs {
    /// Archive to restore (`-`: standard input).
    input: PathBuf,
    /// Output file or folder (default: INPUT without .wz; `-`: standard output).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Replace existing files that the archive holds (never links, devices,
    /// or anything the archive does not hold).
    #[arg(short, long)]
    force: bool,
    #[command(flatten)]
    base: BaseArg,
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
    /// Write here instead of standard output (`-`: standard output).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Overwrite an existing output.
    #[arg(short, long)]
    force: bool,
    /// Worker threads (default 0: all cores; at most 1024).
    #[arg(short = 'T', long, default_value_t = 0, value_parser = parse_threads)]
    threads: usize,
    #[command(flatten)]
    base: BaseArg,
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
    base: BaseArg,
    #[command(flatten)]
    common: Common,
}

/// `weightzip bench --speed FILE...` is `weightzip speed FILE...` (the lab's
/// `bench`, in `weightzip-lab`, takes a corpus manifest).
fn rewrite_bench_speed(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    if args.get(1).is_some_and(|a| a == "bench") && args.iter().any(|a| a == "--speed") {
        args[1] = "speed".into();
        args.retain(|a| a != "--speed");
    }
    args
}

/// The lab's commands, which live in the `weightzip-lab` binary.
const LAB_COMMANDS: &[&str] = &["atlas", "train", "bench", "merge", "report", "figures"];

fn main() -> ExitCode {
    let args = rewrite_bench_speed(std::env::args_os().collect());
    if let Some(cmd) = args
        .get(1)
        .and_then(|a| a.to_str())
        .filter(|a| LAB_COMMANDS.contains(a))
    {
        eprintln!(
            "weightzip: `{cmd}` is a lab command, in the `weightzip-lab` binary \
             (cargo install --locked --path crates/weightzip-lab-cli)"
        );
        return ExitCode::from(2);
    }
    let cli = Cli::parse_from(args);
    if let Err(e) = weightzip::fs::remove_temps_on_signals() {
        eprintln!("weightzip: warning: cannot watch for interrupts ({e}); an interrupted run may leave a hidden temporary file");
    }
    let result = match cli.command {
        Command::Compress(a) => coding::compress(a),
        Command::Decompress(a) => coding::decompress(a),
        Command::Cat(a) => coding::cat(a),
        Command::Inspect(a) => inspect::run(&a.input, a.json),
        Command::Verify(a) => coding::verify(a),
        Command::Speed(a) => speed::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that went away (`| head`) is no error, as for ripgrep.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let _ = writeln!(std::io::stderr(), "weightzip: error: {}", message(&err));
            ExitCode::from(exit_code(&err))
        }
    }
}

/// The error and its causes on one line, each cause said once (a cause
/// whose text its parent already shows is left out).
fn message(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if text.is_empty() || out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn exit_code(err: &anyhow::Error) -> u8 {
    let wz = err.chain().find_map(|c| c.downcast_ref::<WzError>());
    match wz {
        Some(e) if e.is_damaged_archive() => EXIT_CORRUPT,
        Some(WzError::OutputExists(_)) => EXIT_EXISTS,
        Some(WzError::NeedsBase { .. } | WzError::WrongBase { .. }) => EXIT_BASE,
        _ => 1,
    }
}

pub(crate) use coding::open_archive;
