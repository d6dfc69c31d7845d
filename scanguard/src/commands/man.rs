//! `scanguard man`: the man page (roff), as clap_mangen renders the help text.

use anyhow::Result;
use clap::CommandFactory as _;

use crate::cli::Cli;

pub fn execute() -> Result<()> {
    Ok(clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?)
}
