//! The `matchwell` command line: parses the arguments, sets up logging, hands each subcommand
//! to the library and prints what it did.

use std::sync::Arc;

use crate::bench;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "matchwell", version, about = "Confidential partner matching for health innovation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the web app and JSON API (migrations are applied first).
    Serve {
        /// Seed a few hundred synthetic organisations (once).
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Recompute matches, incrementally or for everyone.
    Score {
        #[arg(long)]
        full: bool,
    },
    /// Queue the digests that are due now and send the email queue (for cron).
    Digest {
        #[arg(long)]
        dry_run: bool,
    },
    /// Insert synthetic organisations with answers, or remove every demo organisation.
    DemoData {
        /// How many organisations to insert.
        #[arg(long, required_unless_present = "remove", conflicts_with = "remove")]
        orgs: Option<usize>,
        #[arg(long, conflicts_with = "remove")]
        seed: Option<u64>,
        /// Delete every demo organisation (and their accounts, answers and matches).
        #[arg(long)]
        remove: bool,
        /// Then score, and simulate the outcomes of this many demo matches from the hidden
        /// rule documented in the README (for trying `matchwell learn`).
        #[arg(long, conflicts_with = "remove")]
        outcomes: Option<usize>,
    },
    /// Fit the scoring model to the recorded outcomes, print its evaluation against the model
    /// in use, and adopt it when it is better.
    Learn {
        /// Evaluate only; adopt nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Show what share of anonymous match cards lose each field to k-anonymity.
    AnonymityReport,
    /// Benchmarks.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Run the scoring engine on raw inputs written by `peer_numpy.py --save-inputs DIR`.
    Score {
        #[arg(long)]
        inputs: PathBuf,
        #[arg(long, default_value_t = 20)]
        top_k: usize,
        /// Worker threads (default: one per core).
        #[arg(long, default_value_t = 0)]
        threads: usize,
        #[arg(long, value_enum, default_value_t = Kernel::Auto)]
        kernel: Kernel,
        /// Organisations per block.
        #[arg(long, default_value_t = scoring::Options::default().block)]
        block: usize,
        /// Also time re-scoring this many organisations one by one, incrementally.
        #[arg(long, default_value_t = 0)]
        incremental: usize,
        /// Weight of shared standards added to the peer's plain model (0: the peer's model;
        /// the service's model weighs them 3 per question section).
        #[arg(long, default_value_t = 0.0)]
        standards_weight: f32,
    },
    /// Recall of planted partners that only shared values give away, for the engine and for
    /// the plain OkCupid formula, on a synthetic population (see `cli/src/quality.rs`).
    Quality {
        #[command(flatten)]
        params: crate::quality::Params,
        /// Populations, one per seed from `seed` on.
        #[arg(long, default_value_t = 5)]
        seeds: u64,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Kernel {
    Auto,
    /// The bitset kernel with the best instruction set the CPU has.
    Bitset,
    /// The bitset kernel with AVX2, even on a CPU with AVX-512.
    Avx2,
    /// The bitset kernel in plain Rust.
    Portable,
    /// Matrix products.
    Gemm,
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

/// A progress bar on a terminal (hidden otherwise), for block pairs done out of all.
fn progress_bar() -> Arc<dyn Fn(usize, usize) + Send + Sync> {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("scoring {bar:40} {pos}/{len} block pairs, {eta} left")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Arc::new(move |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        if done == total {
            bar.finish_and_clear();
        }
    })
}

fn service(command: Command) -> anyhow::Result<()> {
    let settings = server::Settings::from_env()?;
    let runtime = runtime()?;
    runtime.block_on(async move {
        match command {
            Command::Serve { demo } => crate::ops::serve(settings, demo).await,
            Command::Migrate => {
                crate::ops::migrate(&settings).await?;
                println!("migrations applied");
                Ok(())
            }
            Command::Score { full } => {
                let report = crate::ops::score(&settings, full, progress_bar()).await?;
                println!(
                    "scored {} organisations: {} new matches, {} updated, {} left out by the open-match cap",
                    report.organisations, report.saved.created, report.saved.updated, report.saved.capped
                );
                Ok(())
            }
            Command::Learn { dry_run } => {
                let report = crate::ops::learn(&settings, dry_run).await?;
                print!("{}", crate::ops::describe_learning(&report, dry_run));
                Ok(())
            }
            Command::DemoData { orgs, seed, remove, outcomes } => {
                let store = store::Store::open(&settings.database_url).await?;
                if remove {
                    let removed = crate::demo::remove(&store).await?;
                    println!("{removed} demo organisations removed");
                    return Ok(());
                }
                let catalogue = domain::Catalogue::builtin()?;
                let orgs = orgs.unwrap_or_default();
                let seed = seed.unwrap_or(42);
                let created = crate::demo::seed(&store, &catalogue, orgs, seed).await?;
                println!("{created} demo organisations created; their password is in the README");
                if let Some(outcomes) = outcomes.filter(|n| *n > 0) {
                    crate::ops::score(&settings, false, progress_bar()).await?;
                    let (simulated, successes) = crate::demo::simulate_outcomes(&store, outcomes, seed).await?;
                    println!(
                        "{simulated} demo matches connected with simulated outcomes ({successes} successes), by the \
                         hidden rule that favours {}",
                        crate::demo::HIDDEN_RULE_DIMENSION
                    );
                }
                Ok(())
            }
            Command::AnonymityReport => {
                let store = store::Store::open(&settings.database_url).await?;
                let catalogue = std::sync::Arc::new(domain::Catalogue::builtin()?);
                print!("{}", crate::report::anonymity(&store, catalogue, settings.k_anonymity).await?);
                Ok(())
            }
            Command::Digest { dry_run } => {
                let report = crate::ops::digest(&settings, dry_run).await?;
                for line in &report.lines {
                    println!("{line}");
                }
                let verb = if dry_run { "would queue" } else { "queued" };
                println!(
                    "{verb} {} digests; {} members had nothing new; {} were taken by another run",
                    report.queued, report.empty, report.elsewhere
                );
                Ok(())
            }
            Command::Bench(_) => Err(anyhow::anyhow!("not a service command")),
        }
    })
}

/// `bench quality`: one line per seed, then the spread.
fn quality(params: &crate::quality::Params, seeds: u64) -> anyhow::Result<()> {
    use crate::quality::{run, spread};
    let catalogue = domain::Catalogue::builtin()?;
    let mut rows = Vec::new();
    for seed in params.seed..params.seed + seeds.max(1) {
        let outcome = run(&catalogue, &crate::quality::Params { seed, ..params.clone() })?;
        println!(
            "seed={seed} engine_recall_at_5={:.3} engine_recall_at_10={:.3} okcupid_recall_at_5={:.3} \
             okcupid_recall_at_10={:.3} bayes_recall_at_5={:.3} bayes_recall_at_10={:.3}",
            outcome.engine.at_5,
            outcome.engine.at_10,
            outcome.okcupid.at_5,
            outcome.okcupid.at_10,
            outcome.bayes.at_5,
            outcome.bayes.at_10
        );
        rows.push(outcome);
    }
    let series: [(&str, Vec<f64>); 6] = [
        ("engine_recall_at_5", rows.iter().map(|o| o.engine.at_5).collect()),
        ("engine_recall_at_10", rows.iter().map(|o| o.engine.at_10).collect()),
        ("okcupid_recall_at_5", rows.iter().map(|o| o.okcupid.at_5).collect()),
        ("okcupid_recall_at_10", rows.iter().map(|o| o.okcupid.at_10).collect()),
        ("bayes_recall_at_5", rows.iter().map(|o| o.bayes.at_5).collect()),
        ("bayes_recall_at_10", rows.iter().map(|o| o.bayes.at_10).collect()),
    ];
    for (name, values) in series {
        let (mean, least, greatest) = spread(&values);
        println!("{name} mean={mean:.3} min={least:.3} max={greatest:.3}");
    }
    Ok(())
}

/// Runs the `matchwell` command with the process's arguments.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Bench(BenchCommand::Score {
            inputs,
            top_k,
            threads,
            kernel,
            block,
            incremental,
            standards_weight,
        }) => {
            let kernel = match kernel {
                Kernel::Auto => scoring::KernelChoice::Auto,
                Kernel::Bitset => scoring::KernelChoice::Bitset,
                Kernel::Avx2 => scoring::KernelChoice::Avx2Bitset,
                Kernel::Portable => scoring::KernelChoice::PortableBitset,
                Kernel::Gemm => scoring::KernelChoice::Gemm,
            };
            let options = scoring::Options { threads, kernel, block, slack: 0 };
            bench::score_with(&inputs, top_k, &options, incremental, standards_weight)
                .map(|report| println!("{report}"))
        }
        Command::Bench(BenchCommand::Quality { params, seeds }) => quality(&params, seeds),
        command => service(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
