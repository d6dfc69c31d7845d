//! Developer workflows, run as `cargo xtask <command>` (alias in .cargo/config.toml).

mod lab;
mod lab_clean;
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
    /// Run every test, then clippy and rustfmt. Kernel tests need root.
    Test,
    /// The demo: scanguard on a lab victim against real nmap scans (needs root).
    Lab,
    /// Delete lab network namespaces (sgl-*) whose creating process is gone.
    LabClean,
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Commands::Setup => setup::execute(),
        Commands::Test => test::execute(),
        Commands::Lab => lab::execute(),
        Commands::LabClean => lab_clean::execute(),
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
