//! The lab keeper: a process of its own (`xtask lab-keeper`, in a session of its own) that builds
//! the demo lab, runs its services and the scanguard daemon, and tears it all down when told to,
//! when its parent goes away, or on SIGTERM. The lab lives exactly as long as the keeper, so
//! `--keep` only has to leave the keeper running.
//!
//! Protocol over the keeper's stdin and stdout, one line each way:
//! - the keeper starts with `lab <description>` (see `DemoLab::describe`) or `error <message>`;
//! - `attach` → `attached <pid>` or `error <message>`: starts the daemon;
//! - `keep` → `kept`: from now on stdin's end no longer tears the lab down, only a signal does;
//! - end of stdin (the parent exited or dropped its handle): teardown, unless kept.

use std::{
    fs::File,
    io::{BufRead as _, BufReader, Write as _},
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, Stdio},
    sync::mpsc::{self, Receiver, RecvTimeoutError},
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, anyhow, bail};
use clap::Args;
use scanguard_lab::demo::{DemoLab, LabDaemon, Scanguard, interrupt};

use super::state::{self, PIN_DIR, State};

#[derive(Debug, Args)]
pub struct KeeperArgs {
    /// The scanguard binary.
    #[arg(long)]
    binary: PathBuf,
}

/// The daemon's CLI view: the binary and the lab's fixed directories.
pub fn scanguard(binary: &Path) -> Scanguard {
    Scanguard {
        binary: binary.to_path_buf(),
        pin_dir: PIN_DIR.into(),
        run_dir: state::run_dir(),
    }
}

/// The keeper process itself.
pub fn execute(args: &KeeperArgs) -> Result<()> {
    interrupt::install()?;
    let lab = match DemoLab::build()
        .map_err(anyhow::Error::from)
        .and_then(|lab| {
            lab.serve()?;
            Ok(lab)
        }) {
        Ok(lab) => lab,
        Err(error) => {
            reply(&format!("error {error:#}"));
            return Err(error);
        }
    };
    reply(&format!("lab {}", lab.describe()));

    let (requests, incoming) = mpsc::channel();
    thread::spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if requests.send(Some(line)).is_err() {
                return;
            }
        }
        let _ = requests.send(None);
    });
    let mut daemon = None;
    let mut kept = false;
    let mut parent_gone = false;
    while !interrupt::interrupted() {
        if parent_gone {
            // Kept: only a signal (`cargo xtask lab --down`) ends the lab.
            thread::sleep(Duration::from_millis(200));
            continue;
        }
        match incoming.recv_timeout(Duration::from_millis(100)) {
            Ok(Some(request)) => match request.trim() {
                "attach" => match attach(&lab, &args.binary) {
                    Ok(started) => {
                        reply(&format!("attached {}", started.pid()));
                        daemon = Some(started);
                    }
                    Err(error) => reply(&format!("error {error:#}")),
                },
                "keep" => {
                    kept = true;
                    reply("kept");
                }
                other => reply(&format!("error unknown request {other:?}")),
            },
            Ok(None) | Err(RecvTimeoutError::Disconnected) if kept => parent_gone = true,
            Ok(None) | Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {}
        }
    }
    eprintln!("[keeper] tearing down: daemon, pins, namespaces");
    if let Some(mut daemon) = daemon {
        let status = daemon.stop();
        eprintln!("[keeper] scanguard attach exited: {status:?}");
    }
    if Path::new(PIN_DIR).exists() {
        std::fs::remove_dir_all(PIN_DIR).with_context(|| format!("cannot remove {PIN_DIR}"))?;
    }
    let namespaces: Vec<_> = lab.namespaces().to_vec();
    drop(lab);
    let left: Vec<_> = namespaces
        .iter()
        .filter(|netns| netns.path().exists())
        .map(|netns| netns.name())
        .collect();
    if !left.is_empty() {
        bail!("namespaces left after teardown: {left:?}");
    }
    eprintln!("[keeper] done");
    // All gone: the files too, unless a newer lab owns them by now.
    if State::read().is_some_and(|state| state.keeper_pid == std::process::id()) {
        let _ = std::fs::remove_dir_all(state::STATE_DIR);
    }
    Ok(())
}

fn attach(lab: &DemoLab, binary: &Path) -> Result<LabDaemon> {
    Ok(LabDaemon::start(
        scanguard(binary),
        &lab.victim.netns,
        &lab.protected_interfaces(),
        &state::config_file(),
        &state::daemon_log(),
    )?)
}

/// One line to the parent. Once the parent is gone nobody reads, so failures are ignored.
fn reply(line: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}");
    let _ = stdout.flush();
}

/// The parent's side: a running keeper and its lab.
pub struct Keeper {
    child: Child,
    stdin: Option<ChildStdin>,
    replies: Receiver<String>,
    kept: bool,
    down: bool,
    /// Set once the keeper has described the lab it built.
    lab: Option<DemoLab>,
}

/// Building the lab, attaching, detaching: all well under this.
const REPLY_TIMEOUT: Duration = Duration::from_secs(60);
/// The keeper stops the daemon (up to 15 s) and deletes the namespaces.
const TEARDOWN_TIMEOUT: Duration = Duration::from_secs(45);

impl Keeper {
    /// Starts a keeper, which builds the lab.
    pub fn start(binary: &Path) -> Result<Keeper> {
        let log = File::create(state::keeper_log()).context("cannot create the keeper's log")?;
        // setsid: a session of its own, so neither Ctrl-C nor a closing terminal reaches it;
        // it hears of those through its stdin closing, or from `--down`.
        let mut child = Command::new("setsid")
            .arg(std::env::current_exe().context("cannot find the xtask binary")?)
            .arg(state::KEEPER_COMMAND)
            .arg("--binary")
            .arg(binary)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .context("cannot start the lab keeper")?;
        let stdout = child.stdout.take().context("the keeper's stdout")?;
        let (lines, replies) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    return;
                }
            }
        });
        State {
            keeper_pid: child.id(),
            kept: false,
        }
        .write()?;
        let stdin = child.stdin.take();
        let mut keeper = Keeper {
            child,
            stdin,
            replies,
            kept: false,
            down: false,
            lab: None,
        };
        let first = keeper.reply()?;
        let description = first
            .strip_prefix("lab ")
            .ok_or_else(|| anyhow!("the lab keeper could not build the lab: {first}"))?;
        keeper.lab = Some(DemoLab::from_description(description)?);
        Ok(keeper)
    }

    pub fn lab(&self) -> &DemoLab {
        self.lab
            .as_ref()
            .expect("Keeper::start returns only once the lab is described")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts the daemon; returns its pid.
    pub fn attach(&mut self) -> Result<u32> {
        let reply = self.request("attach")?;
        reply
            .strip_prefix("attached ")
            .and_then(|pid| pid.parse().ok())
            .ok_or_else(|| anyhow!("{reply}"))
    }

    /// Leaves the lab up after this process exits.
    pub fn keep(mut self) -> Result<()> {
        let reply = self.request("keep")?;
        if reply != "kept" {
            bail!("the lab keeper would not keep the lab: {reply}");
        }
        State {
            keeper_pid: self.pid(),
            kept: true,
        }
        .write()?;
        self.kept = true;
        Ok(())
    }

    /// Ends the keeper, which tears the lab down, and checks that nothing is left.
    pub fn down(&mut self) -> Result<()> {
        if self.kept || self.down {
            return Ok(());
        }
        self.down = true;
        drop(self.stdin.take());
        let deadline = Instant::now() + TEARDOWN_TIMEOUT;
        let exited = loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            thread::sleep(Duration::from_millis(50));
        };
        let log = std::fs::read_to_string(state::keeper_log()).unwrap_or_default();
        let left: Vec<_> = self
            .lab
            .iter()
            .flat_map(DemoLab::namespaces)
            .filter(|netns| netns.path().exists())
            .map(|netns| netns.name().to_string())
            .collect();
        if exited.is_none() || !left.is_empty() || Path::new(PIN_DIR).exists() {
            // Whatever went wrong, do not leave it up.
            let _ = scanguard_lab::remove_leftovers();
            let _ = state::clean_stale();
            bail!(
                "the lab keeper did not tear down cleanly (exit: {exited:?}; namespaces left: \
                 {left:?}); cleaned up after it. Its log:\n{log}"
            );
        }
        state::clean_stale()?;
        Ok(())
    }

    fn request(&mut self, request: &str) -> Result<String> {
        let stdin = self.stdin.as_mut().context("the lab keeper is gone")?;
        writeln!(stdin, "{request}").context("the lab keeper is gone")?;
        stdin.flush().context("the lab keeper is gone")?;
        self.reply()
    }

    /// The keeper's next line; gives up on Ctrl-C, if the keeper dies, or after a minute.
    fn reply(&mut self) -> Result<String> {
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            interrupt::check().map_err(super::demo_error)?;
            match self.replies.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => return Ok(line),
                Err(RecvTimeoutError::Disconnected) => {
                    let log = std::fs::read_to_string(state::keeper_log()).unwrap_or_default();
                    bail!("the lab keeper exited; its log:\n{log}");
                }
                Err(RecvTimeoutError::Timeout) if Instant::now() > deadline => {
                    bail!("the lab keeper did not answer within a minute")
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        if !self.kept && !self.down {
            println!("[lab] tearing the lab down");
            if let Err(error) = self.down() {
                eprintln!("[lab] {error:#}");
            }
        }
    }
}
