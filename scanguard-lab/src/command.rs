//! Running the lab's external commands (ip, nsenter, ping...) with errors that name the command
//! and quote what it printed.

use std::process::{Command, Output};

use crate::{LabError, Result};

/// Runs `command` to completion with captured output and fails, naming the
/// command and quoting what it printed, unless it exits successfully.
pub fn run_checked(command: &mut Command) -> Result<Output> {
    let output = command.output().map_err(|source| LabError::Spawn {
        command: describe(command),
        source,
    })?;
    if output.status.success() {
        return Ok(output);
    }
    Err(LabError::CommandFailed {
        command: describe(command),
        status: output.status,
        output: complaint(&output),
    })
}

/// The command line as a person would type it, for error messages.
pub fn describe(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|part| part.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a failed command said: stderr, or stdout for tools such as ping that
/// report failure there.
fn complaint(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let text = if stderr.trim().is_empty() {
        String::from_utf8_lossy(&output.stdout)
    } else {
        stderr
    };
    text.trim().replace('\n', " | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_program_and_arguments() {
        let mut command = Command::new("ip");
        command.args(["-n", "sgl-x", "link"]);
        assert_eq!(describe(&command), "ip -n sgl-x link");
    }

    #[test]
    fn failure_names_the_command_and_quotes_stderr() {
        let error = run_checked(Command::new("sh").args(["-c", "echo oops >&2; exit 3"]))
            .expect_err("the command exits 3");
        let message = error.to_string();
        assert!(message.contains("sh -c"), "{message}");
        assert!(message.contains("oops"), "{message}");
    }

    #[test]
    fn falls_back_to_stdout_when_stderr_is_silent() {
        let error = run_checked(Command::new("sh").args(["-c", "echo '0 received'; exit 1"]))
            .expect_err("the command exits 1");
        assert!(error.to_string().contains("0 received"), "{error}");
    }

    #[test]
    fn success_returns_the_output() {
        let output = run_checked(Command::new("sh").args(["-c", "echo hi"])).expect("sh runs");
        assert_eq!(output.stdout, b"hi\n");
    }
}
