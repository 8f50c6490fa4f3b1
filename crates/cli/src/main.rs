//! The `matchwell` binary: parses the command line and hands each subcommand to the library.

use cli::bench;
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
    /// Send the digests that are due now.
    Digest {
        #[arg(long)]
        dry_run: bool,
    },
    /// Insert synthetic organisations with answers.
    DemoData {
        #[arg(long)]
        orgs: usize,
        #[arg(long)]
        seed: Option<u64>,
    },
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
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Kernel {
    Auto,
    Bitset,
    Portable,
    Gemm,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Bench(BenchCommand::Score { inputs, top_k, threads, kernel, block, incremental }) => {
            let kernel = match kernel {
                Kernel::Auto => scoring::KernelChoice::Auto,
                Kernel::Bitset => scoring::KernelChoice::Bitset,
                Kernel::Portable => scoring::KernelChoice::PortableBitset,
                Kernel::Gemm => scoring::KernelChoice::Gemm,
            };
            let options = scoring::Options { threads, kernel, block, slack: 0 };
            bench::score(&inputs, top_k, &options, incremental).map(|report| println!("{report}"))
        }
        Command::Serve { .. }
        | Command::Migrate
        | Command::Score { .. }
        | Command::Digest { .. }
        | Command::DemoData { .. } => {
            Err(anyhow::anyhow!("this command arrives with the service (issue 3); only `bench score` works yet"))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
