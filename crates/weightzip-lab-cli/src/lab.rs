//! `weightzip-lab atlas | train | bench | merge | report`: the command-line
//! glue over `weightzip_lab` (which holds every piece of logic).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use weightzip_lab::atlas::{compute_atlas, write_atlas, AtlasOptions};
use weightzip_lab::bench::{bench_items, run_bench as lab_bench, BenchOptions, Shard};
use weightzip_lab::corpus::Dataset;
use weightzip_lab::manifest::CorpusKind;
use weightzip_lab::methods::{train_profiles, MethodSet, Profiles};
use weightzip_lab::progress::Progress;
use weightzip_lab::records::{merge_files, read_results};
use weightzip_lab::report::{build_report, read_atlas_summary, to_markdown, ReportOptions};
use weightzip_lab::stats::Bootstrap;

/// `weightzip-lab atlas`: entropy atlas of every tensor of a corpus.
#[derive(Args, Debug, Clone)]
pub struct AtlasArgs {
    /// The corpus manifest (corpus.toml).
    pub manifest: PathBuf,
    /// Output directory (bf16.jsonl, fp16.jsonl, fp32.jsonl, q4k.jsonl,
    /// layer_pairs.jsonl, summary.json).
    #[arg(short, long, default_value = "atlas")]
    pub out: PathBuf,
    /// Corpora to cover, comma-separated: bf16, fp16, fp32, q4k (default: all).
    #[arg(long, value_delimiter = ',')]
    pub kinds: Vec<String>,
    /// Skip the adjacent-layer experiment.
    #[arg(long)]
    pub no_layer_pairs: bool,
    /// No progress bar.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `weightzip-lab train`: trains every trained method on the train split.
#[derive(Args, Debug, Clone)]
pub struct TrainArgs {
    /// The corpus manifest (corpus.toml).
    pub manifest: PathBuf,
    /// Output directory: one `<method>.<corpus>.profile` per trained method and corpus.
    #[arg(short, long, default_value = "profiles")]
    pub out: PathBuf,
    /// Methods to train, comma-separated names or globs (default: every trained method).
    #[arg(long, value_delimiter = ',')]
    pub methods: Vec<String>,
    /// Corpora to train for, comma-separated: bf16, fp16, fp32, q4k, gguf (default: all).
    #[arg(long, value_delimiter = ',')]
    pub kinds: Vec<String>,
    /// No progress bar.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `weightzip-lab bench`: every applicable method on every test-split item.
#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// The corpus manifest (corpus.toml).
    pub manifest: PathBuf,
    /// Results file (zstd-compressed JSON Lines). An existing file is resumed.
    #[arg(short, long, default_value = "results/results.jsonl.zst")]
    pub out: PathBuf,
    /// Methods to run, comma-separated names or globs, e.g. `zstd*,bf16_split`;
    /// `!glob` leaves methods out, e.g. `!xz9,!brotli_q9` (default: all).
    #[arg(long, value_delimiter = ',')]
    pub methods: Vec<String>,
    /// Corpora to run, comma-separated: bf16, fp16, fp32, q4k, gguf (default: all).
    #[arg(long, value_delimiter = ',')]
    pub kinds: Vec<String>,
    /// Run only shard `i/n` (0-based): items i, i+n, … of the sorted item list.
    #[arg(long)]
    pub shard: Option<String>,
    /// Directory of trained profiles (from `weightzip-lab train`); missing ones
    /// are trained on the train split and saved there.
    #[arg(long)]
    pub profiles: Option<PathBuf>,
    /// Timed repeats per method and item (best kept; items above 64 MB run once).
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
    /// Start over instead of resuming an existing results file.
    #[arg(long)]
    pub fresh: bool,
    /// Evaluations run at the same time, each on one thread (0: one per
    /// core). Records say how many ran at once (`concurrent_jobs`); use 1
    /// for timings on an otherwise idle machine.
    #[arg(long, short = 'j', default_value_t = 0)]
    pub jobs: usize,
    /// No progress bar.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `weightzip-lab merge`: joins result shards into one file.
#[derive(Args, Debug, Clone)]
pub struct MergeArgs {
    /// Shard result files.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Merged results file.
    #[arg(short, long)]
    pub out: PathBuf,
}

/// `weightzip-lab report`: tables of a results file.
#[derive(Args, Debug, Clone)]
pub struct ReportArgs {
    /// Results file (results.jsonl.zst).
    pub results: PathBuf,
    /// Print JSON instead of Markdown.
    #[arg(long)]
    pub json: bool,
    /// Atlas directory whose summary.json is shown next to the results.
    #[arg(long)]
    pub atlas: Option<PathBuf>,
    /// Rows of `weightzip-lab archives -o FILE` (whole folders and
    /// checkpoint deltas against their files coded apart), shown after the
    /// results.
    #[arg(long)]
    pub archives: Option<PathBuf>,
    /// Bootstrap resamples for the confidence intervals.
    #[arg(long, default_value_t = 1000)]
    pub bootstrap: usize,
    /// Bootstrap seed.
    #[arg(long, default_value_t = Bootstrap::default().seed)]
    pub seed: u64,
}

/// `weightzip-lab archives`: folders per file against whole, checkpoints
/// alone against `--base`.
#[derive(Args, Debug, Clone)]
pub struct ArchivesArgs {
    /// A folder to code per file and as one archive (repeatable).
    #[arg(long)]
    pub folder: Vec<PathBuf>,
    /// `NEW=BASE`: a checkpoint coded alone and against its base (repeatable).
    #[arg(long)]
    pub delta: Vec<String>,
    /// Rows go here as JSON Lines (`_kind` "bench_archive").
    #[arg(short, long)]
    pub out: Option<PathBuf>,
    /// Worker threads (0: all cores).
    #[arg(short = 'T', long, default_value_t = 0)]
    pub threads: usize,
}

pub fn run_archives(args: ArchivesArgs) -> Result<()> {
    use weightzip_lab::archives::{measure, to_markdown, ArchiveCase};
    let mut cases: Vec<ArchiveCase> = args.folder.into_iter().map(ArchiveCase::Folder).collect();
    for d in &args.delta {
        let (new, base) = d
            .split_once('=')
            .with_context(|| format!("--delta {d:?}: expected NEW=BASE"))?;
        cases.push(ArchiveCase::Delta {
            new: new.into(),
            base: base.into(),
        });
    }
    if cases.is_empty() {
        bail!("nothing to measure: give --folder DIR or --delta NEW=BASE");
    }
    let mut rows = Vec::new();
    for c in &cases {
        rows.push(measure(c, args.threads)?);
    }
    if let Some(out) = &args.out {
        let mut text = String::new();
        for r in &rows {
            text.push_str(&serde_json::to_string(r)?);
            text.push('\n');
        }
        std::fs::write(out, text).with_context(|| format!("writing {}", out.display()))?;
    }
    print!("{}", to_markdown(&rows));
    Ok(())
}

/// A progress bar on stderr when it is a terminal; notes go to stderr always.
struct Bar {
    enabled: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl Bar {
    fn new(quiet: bool) -> Bar {
        Bar {
            enabled: !quiet && std::io::stderr().is_terminal(),
            bar: Mutex::new(None),
        }
    }

    fn with(&self, f: impl FnOnce(&ProgressBar)) {
        if let Ok(g) = self.bar.lock() {
            if let Some(b) = g.as_ref() {
                f(b);
            }
        }
    }
}

impl Progress for Bar {
    fn start(&self, phase: &str, total_bytes: u64) {
        if !self.enabled {
            return;
        }
        let bar = ProgressBar::new(total_bytes);
        if let Ok(style) = ProgressStyle::with_template(
            "{prefix:>6} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, ETA {eta}) {msg}",
        ) {
            bar.set_style(style);
        }
        bar.set_prefix(phase.to_string());
        if let Ok(mut g) = self.bar.lock() {
            if let Some(old) = g.replace(bar) {
                old.finish_and_clear();
            }
        }
    }

    fn advance(&self, bytes: u64, what: &str) {
        self.with(|b| {
            b.inc(bytes);
            b.set_message(what.to_string());
        });
    }

    fn status(&self, what: &str) {
        self.with(|b| b.set_message(what.to_string()));
    }

    fn note(&self, message: &str) {
        let mut shown = false;
        self.with(|b| {
            b.println(message);
            shown = true;
        });
        if !shown {
            eprintln!("{message}");
        }
    }

    fn finish(&self) {
        if let Ok(mut g) = self.bar.lock() {
            if let Some(b) = g.take() {
                b.finish_and_clear();
            }
        }
    }
}

fn parse_kinds(names: &[String]) -> Result<Vec<CorpusKind>> {
    names
        .iter()
        .filter(|n| !n.trim().is_empty())
        .map(|n| {
            CorpusKind::parse(n).with_context(|| {
                format!("--kinds: unknown corpus {n:?} (expected bf16, fp16, fp32, q4k or gguf)")
            })
        })
        .collect()
}

fn open_dataset(manifest: &PathBuf) -> Result<Dataset> {
    let ds = Dataset::load(manifest)?;
    eprintln!(
        "corpus {}: {} models, {} items ({} train, {} test)",
        manifest.display(),
        ds.manifest
            .models
            .iter()
            .map(|m| m.name.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        ds.items.len(),
        ds.split(weightzip_lab::manifest::Split::Train).count(),
        ds.split(weightzip_lab::manifest::Split::Test).count(),
    );
    Ok(ds)
}

/// Runs `weightzip-lab atlas`.
pub fn run_atlas(args: AtlasArgs) -> Result<()> {
    let ds = open_dataset(&args.manifest)?;
    let opts = AtlasOptions {
        kinds: parse_kinds(&args.kinds)?,
        layer_pairs: !args.no_layer_pairs,
    };
    let bar = Bar::new(args.quiet);
    let atlas = compute_atlas(&ds, &opts, &bar)?;
    write_atlas(&atlas, &args.out)?;
    eprintln!(
        "atlas: {} float tensors, {} Q4_K streams, {} layer pairs -> {}",
        atlas.floats.len(),
        atlas.q4k.len(),
        atlas.pairs.len(),
        args.out.display()
    );
    println!("{}", serde_json::to_string_pretty(&atlas.summary)?);
    Ok(())
}

/// Runs `weightzip-lab train`.
pub fn run_train(args: TrainArgs) -> Result<()> {
    let ds = open_dataset(&args.manifest)?;
    let set = MethodSet::registry(&args.methods)?;
    let kinds = parse_kinds(&args.kinds)?;
    let bar = Bar::new(args.quiet);
    let mut profiles = Profiles::default();
    let report = train_profiles(&ds, &set, &kinds, &mut profiles, &bar)?;
    let written = profiles.save(&args.out)?;
    for (method, kind, n, bytes, pbytes) in &report.trained {
        eprintln!(
            "trained {method} on {} train {} items ({:.1} MB): profile {pbytes} B",
            n,
            kind.as_str(),
            *bytes as f64 / 1e6
        );
    }
    for (method, kind, why) in &report.skipped {
        eprintln!("skipped {method} on {}: {why}", kind.as_str());
    }
    eprintln!("{} profile(s) in {}", written.len(), args.out.display());
    Ok(())
}

/// Runs `weightzip-lab bench`.
pub fn run_bench(args: BenchArgs) -> Result<()> {
    let ds = open_dataset(&args.manifest)?;
    let set = MethodSet::registry(&args.methods)?;
    let opts = BenchOptions {
        repeats: args.repeats.max(1),
        kinds: parse_kinds(&args.kinds)?,
        shard: args.shard.as_deref().map(str::parse::<Shard>).transpose()?,
        resume: !args.fresh,
        jobs: args.jobs,
        ..BenchOptions::default()
    };
    let bar = Bar::new(args.quiet);
    let mut profiles = match &args.profiles {
        Some(dir) if dir.exists() => Profiles::load(dir, &set)?,
        _ => Profiles::default(),
    };
    // Train what is missing, only for corpora this run measures.
    let mut run_kinds: Vec<CorpusKind> = bench_items(&ds, &opts).iter().map(|i| i.kind).collect();
    run_kinds.sort();
    run_kinds.dedup();
    let before = profiles.len();
    if !run_kinds.is_empty() {
        train_profiles(&ds, &set, &run_kinds, &mut profiles, &bar)?;
    }
    if let (Some(dir), true) = (&args.profiles, profiles.len() > before) {
        profiles.save(dir)?;
    }
    match lab_bench(&ds, &set, &profiles, &opts, &args.out, &bar) {
        Ok(s) => {
            eprintln!(
                "bench: {} items measured, {} already done, {} evaluations on {} thread(s), 0 failures -> {}",
                s.items,
                s.skipped,
                s.evaluations,
                s.workers,
                args.out.display()
            );
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Runs `weightzip-lab merge`.
pub fn run_merge(args: MergeArgs) -> Result<()> {
    if args.inputs.iter().any(|p| p == &args.out) {
        bail!("merge: the output must not be one of the inputs");
    }
    let n = merge_files(&args.inputs, &args.out)?;
    eprintln!(
        "merged {} file(s): {n} rows -> {}",
        args.inputs.len(),
        args.out.display()
    );
    Ok(())
}

/// Runs `weightzip-lab report`.
pub fn run_report(args: ReportArgs) -> Result<()> {
    let read = read_results(&args.results)?;
    if read.journal_rows > 0 || read.truncated {
        eprintln!(
            "report: {} is from an unfinished (or killed) run: {} row(s) from its journal{}; \
             `weightzip-lab bench` with the same arguments completes it",
            args.results.display(),
            read.journal_rows,
            if read.truncated {
                ", a cut-off last row dropped"
            } else {
                ""
            }
        );
    }
    let rows = read.rows;
    let opts = ReportOptions {
        bootstrap: Bootstrap {
            resamples: args.bootstrap,
            seed: args.seed,
            ..Bootstrap::default()
        },
    };
    let mut report = build_report(&rows, &opts);
    if let Some(dir) = &args.atlas {
        report.atlas = Some(read_atlas_summary(dir)?);
    }
    if let Some(file) = &args.archives {
        report.archives = Some(weightzip_lab::archives::read_rows(file)?);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", to_markdown(&report));
    }
    Ok(())
}
