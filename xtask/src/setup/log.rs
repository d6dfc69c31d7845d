//! Set-up runs package managers into a log file, so the terminal shows one line per step;
//! a failure names the file.

use std::{
    fs::{File, OpenOptions},
    io::Write as _,
    path::PathBuf,
    process::{Command, Stdio},
};

use anyhow::{Context, Result, bail};
use scanguard_lab::describe;

/// `target/setup.log` in the workspace.
pub fn path() -> PathBuf {
    crate::process::workspace_root().join("target/setup.log")
}

/// Runs `command` with its output appended to the log; fails, naming the log, unless it
/// succeeds.
pub fn run(command: &mut Command) -> Result<()> {
    let log = path();
    let mut file = open(&log)?;
    writeln!(file, "$ {}", describe(command))?;
    let status = command
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .status()
        .with_context(|| format!("could not run `{}`", describe(command)))?;
    if !status.success() {
        bail!(
            "`{}` failed ({status}); its output is in {}",
            describe(command),
            log.display()
        );
    }
    Ok(())
}

fn open(log: &PathBuf) -> Result<File> {
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("open {}", log.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_command_is_one_line_that_names_the_log() {
        let error = run(Command::new("sh").args(["-c", "echo why it failed; exit 3"]))
            .unwrap_err()
            .to_string();
        assert!(error.contains("exit status: 3"), "{error}");
        assert!(
            error.ends_with(&format!("its output is in {}", path().display())),
            "{error}"
        );
        assert!(!error.contains('\n'), "{error}");
        let log = std::fs::read_to_string(path()).unwrap();
        assert!(log.contains("why it failed\n"), "{log}");
    }
}
