//! Developer workflows, run as `cargo xtask <command>` (alias in .cargo/config.toml).

mod bench;
mod fuzz;
mod lab;
mod lab_clean;
mod package;
mod process;
mod setup;
mod test;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "scanguard developer tasks")]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Install what building and testing need (nightly rust-src, bpf-linker,
    /// clippy, rustfmt, Debian test tools); skips what is already there.
    Setup,
    /// Build the packages, run every test, then clippy and rustfmt. Kernel and package tests
    /// need root.
    Test,
    /// Build the Debian packages for amd64 and arm64 into target/package/ (cargo-deb).
    Package,
    /// Measure scanguard against the empty XDP program and other filters (needs root);
    /// writes target/bench/bench.{md,json,png}. Options go to the benchmark (--quick, --only,
    /// --traffic-repetitions, --traffic-seconds, --traffic-path).
    Bench {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// The demo: builds everything, then scanguard against real nmap scans in a private lab
    /// (needs root).
    Lab(lab::LabArgs),
    /// Delete lab network namespaces (sgl-*) whose creating process is gone, and the files and
    /// pins of a demo lab whose keeper is gone.
    LabClean,
    /// Run each cargo-fuzz target (fuzz/) for a while on nightly; installs cargo-fuzz if missing.
    Fuzz(fuzz::FuzzArgs),
    /// Internal: the process that owns a demo lab; started by `lab`.
    #[command(hide = true)]
    LabKeeper(lab::KeeperArgs),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Commands::Setup => setup::execute(),
        Commands::Test => test::execute(),
        Commands::Package => package::execute(),
        Commands::Bench { args } => bench::execute(&args),
        Commands::Lab(args) => lab::execute(&args),
        Commands::LabClean => lab_clean::execute(),
        Commands::Fuzz(args) => fuzz::execute(&args),
        Commands::LabKeeper(args) => lab::keeper_execute(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` keeps the whole context chain on one line.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
