//! `scanguard completions SHELL`: shell completions, as clap generates them.

use anyhow::Result;
use clap::CommandFactory as _;
use clap_complete::Shell;

use crate::cli::Cli;

pub fn execute(shell: Shell) -> Result<()> {
    clap_complete::generate(
        shell,
        &mut Cli::command(),
        "scanguard",
        &mut std::io::stdout(),
    );
    Ok(())
}
