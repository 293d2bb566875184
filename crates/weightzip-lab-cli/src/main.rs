//! `weightzip-lab`: the lab's command line — the entropy atlas, training,
//! the benchmark under the study's fairness contract, reports and the
//! study's five figures. The product binary `weightzip` does not link any of
//! it (no statistics, plotting or baseline-codec stacks).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};

mod lab;

const AFTER_HELP: &str = "\
Examples:
  weightzip-lab train  examples/corpus.toml -o profiles/
  weightzip-lab atlas  examples/corpus.toml -o atlas/
  weightzip-lab bench  examples/corpus.toml -o results/results.jsonl.zst --profiles profiles/
  weightzip-lab report results/results.jsonl.zst --atlas atlas/
  weightzip-lab figures --results results/results.jsonl.zst --atlas atlas/ -o figures/";

#[derive(Parser)]
#[command(name = "weightzip-lab", version, about = "The weightzip lab: how far LLM weights compress, under the study's fairness contract", after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
    /// What whole-folder archives and checkpoint deltas add over coding
    /// file by file (restored and compared byte for byte).
    Archives(lab::ArchivesArgs),
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Atlas(a) => lab::run_atlas(a),
        Command::Train(a) => lab::run_train(a),
        Command::Bench(a) => lab::run_bench(a),
        Command::Merge(a) => lab::run_merge(a),
        Command::Report(a) => lab::run_report(a),
        Command::Figures(a) => figures(a),
        Command::Archives(a) => lab::run_archives(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that went away (`| head`) is no error.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let _ = writeln!(std::io::stderr(), "weightzip-lab: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn figures(a: FiguresArgs) -> Result<()> {
    if a.results.is_none() && a.atlas.is_none() {
        bail!("give --results and/or --atlas");
    }
    let inputs = weightzip_figures::load_inputs(a.results.as_deref(), a.atlas.as_deref())?;
    std::fs::create_dir_all(&a.output)
        .with_context(|| format!("creating {}", a.output.display()))?;
    let written = weightzip_figures::render_all(&inputs, &a.output)?;
    let mut out = std::io::stdout().lock();
    for p in written {
        writeln!(out, "{}", p.display())?;
    }
    Ok(())
}
