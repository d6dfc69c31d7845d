//! Running the lab's external commands (ip, nsenter, ping...) with errors that name the command
//! and quote what it printed.

use std::{
    io::Read,
    process::{Command, Output, Stdio},
    thread,
    time::{Duration, Instant},
};

use crate::{LabError, Result};

/// How often a bounded command is checked for having exited.
const EXIT_POLL: Duration = Duration::from_millis(10);

/// Runs `command` to completion with captured output and fails, naming the
/// command and quoting what it printed, unless it exits successfully.
pub fn run_checked(command: &mut Command) -> Result<Output> {
    let output = command.output().map_err(|source| LabError::Spawn {
        command: describe(command),
        source,
    })?;
    checked(describe(command), output)
}

/// [`run_checked`], but a command still running after `timeout` is killed and reported.
pub fn run_checked_within(command: &mut Command, timeout: Duration) -> Result<Output> {
    let described = describe(command);
    let spawn_error = |source| LabError::Spawn {
        command: described.clone(),
        source,
    };
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_error)?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait().map_err(spawn_error)? {
            Some(status) => break status,
            None if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(LabError::TimedOut {
                    command: described,
                    after: timeout,
                });
            }
            None => thread::sleep(EXIT_POLL),
        }
    };
    let output = Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    };
    checked(described, output)
}

/// `output` if `command` exited successfully, else the error naming it and quoting it.
fn checked(command: String, output: Output) -> Result<Output> {
    if output.status.success() {
        return Ok(output);
    }
    Err(LabError::CommandFailed {
        command,
        status: output.status,
        output: complaint(&output),
    })
}

/// Reads a child's pipe to its end in a thread of its own, so a full pipe never holds the
/// child up.
fn drain(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
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
    fn a_bounded_command_is_killed_at_its_deadline() {
        let started = Instant::now();
        let error = run_checked_within(Command::new("sleep").arg("10"), Duration::from_millis(200))
            .expect_err("sleep 10 outlives 200 ms");
        assert!(matches!(error, LabError::TimedOut { .. }), "{error}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let output = run_checked_within(
            Command::new("sh").args(["-c", "echo hi"]),
            Duration::from_secs(10),
        )
        .expect("sh runs");
        assert_eq!(output.stdout, b"hi\n");
    }

    #[test]
    fn success_returns_the_output() {
        let output = run_checked(Command::new("sh").args(["-c", "echo hi"])).expect("sh runs");
        assert_eq!(output.stdout, b"hi\n");
    }
}
