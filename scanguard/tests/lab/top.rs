//! `scanguard top` against a daemon in a lab: the snapshot agrees with `bans` and `stats` after
//! a real nmap scan, and the full-screen view, driven through tmux on 80×24, shows the scan,
//! unbans on request, keeps up with a storm and gives the terminal back however it ends.

use std::{
    net::IpAddr,
    os::unix::process::CommandExt as _,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    sync::atomic::{AtomicU32, Ordering},
    thread,
    time::{Duration, Instant},
};

use nix::sys::signal::Signal;
use scanguard::daemon::saved_bans::{Clocks, SavedBan, store};
use scanguard_lab::{
    ScanLab,
    daemon::Daemon,
    traffic::{hping3, nmap_port_state, talk},
    wait_until,
};
use serde_json::Value;

use crate::support::lab::{ConfigFile, SCANGUARD, SERVICE, require_root, served_lab};

/// How often the view reads the maps.
const REFRESH: Duration = Duration::from_secs(1);
/// Nothing listens here: a NULL probe to it is a null-scan.
const CLOSED: u16 = 81;

/// A tmux server of its own (its own socket) holding one 80×24 shell; killed, and its socket
/// removed, on drop.
struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    fn start() -> Tmux {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let tmux = Tmux {
            socket: std::env::temp_dir().join(format!(
                "scanguard-top-{}-{}.tmux",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            )),
        };
        tmux.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-x",
            "80",
            "-y",
            "24",
            "env PS1='top-test$ ' sh",
        ]);
        tmux
    }

    fn run(&self, args: &[&str]) -> String {
        let output = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux (apt-get install tmux, or `cargo xtask setup`)");
        assert!(
            output.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Types `line` into the shell and runs it.
    fn type_line(&self, line: &str) {
        self.run(&["send-keys", "-l", line]);
        self.keys(&["Enter"]);
    }

    /// Presses keys, by tmux's names (`Down`, `q`, `C-c`).
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    /// The pane as a user sees it.
    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p"])
    }

    /// Waits until the pane shows `text`; panics with the pane if it does not in time.
    #[track_caller]
    fn wait_for(&self, text: &str, within: Duration) -> String {
        let mut screen = String::new();
        let shown = wait_until(within, Duration::from_millis(50), || {
            screen = self.screen();
            screen.contains(text)
        });
        assert!(shown, "no {text:?} within {within:?} on:\n{screen}");
        screen
    }

    fn on_alternate_screen(&self) -> bool {
        self.run(&["display-message", "-p", "#{alternate_on}"])
            .trim()
            == "1"
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// `scanguard top` against `daemon`, as typed in a shell; its pid goes to `pid_file`, its
/// exit status is printed after it.
fn top_command(daemon: &Daemon, pid_file: &str) -> String {
    format!(
        "sh -c 'echo $$ > {pid_file}; exec {SCANGUARD} top {}'; echo top-exit=$?",
        daemon.dir_flags().join(" ")
    )
}

/// Checks the shell the view ran in is as it was: normal screen, line editing and echo on.
#[track_caller]
fn assert_terminal_sane(tmux: &Tmux, exit: &str) {
    let screen = tmux.wait_for(&format!("top-exit={exit}"), Duration::from_secs(3));
    assert!(!tmux.on_alternate_screen(), "still on the alternate screen");
    assert!(
        screen.contains("top-test$"),
        "no prompt after the view:\n{screen}"
    );
    tmux.type_line("clear; stty -a");
    let stty = tmux.wait_for("icanon", Duration::from_secs(3));
    let settings: Vec<&str> = stty.split_whitespace().collect();
    for setting in ["icanon", "echo", "isig", "opost", "icrnl"] {
        assert!(settings.contains(&setting), "{setting} is off:\n{stty}");
    }
}

fn attacker_ban<'a>(bans: &'a Value, attacker: &str) -> &'a Value {
    bans.as_array()
        .expect("an array")
        .iter()
        .find(|ban| ban["address"] == attacker)
        .unwrap_or_else(|| panic!("{attacker} not in {bans}"))
}

#[test]
fn the_snapshot_shows_the_scanner_as_bans_and_stats_do() {
    let lab = served_lab();
    let victim: IpAddr = lab.victim.ipv4.into();
    let attacker = lab.attacker.ipv4.to_string();
    let daemon = Daemon::start(SCANGUARD, &lab.victim, &[&lab.victim.interface]);

    assert_eq!(
        nmap_port_state(&lab.attacker, "-sN", victim, CLOSED),
        "open|filtered"
    );
    // The banned attacker goes on knocking while a snapshot is taken: drops and events.
    let stats_before = daemon.cli_json(&["stats"]);
    let top = Command::new(SCANGUARD)
        .args(["top", "--json"])
        .args(daemon.dir_flags())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn scanguard top --json");
    thread::sleep(Duration::from_millis(300));
    hping3(
        &lab.attacker,
        &["-S", "-p", "80", "-i", "u1000"],
        50,
        victim,
    );
    let top = top.wait_with_output().expect("scanguard top --json");
    assert!(top.status.success());
    let snapshot: Value = serde_json::from_slice(&top.stdout).expect("JSON");
    let stats_after = daemon.cli_json(&["stats"]);
    let bans = daemon.cli_json(&["bans"]);

    let source = attacker_ban(&snapshot["banned"], &attacker);
    let ban = attacker_ban(&bans, &attacker);
    assert_eq!(source["reason"], "null-scan");
    assert_eq!(source["reason"], ban["reason"]);
    assert_eq!(source["repeat"], ban["repeat"]);
    assert_eq!(
        source["dropped_packets"], ban["dropped_packets"],
        "nothing was dropped since"
    );
    let number = |value: &Value| {
        value
            .as_f64()
            .unwrap_or_else(|| panic!("{value} is a number"))
    };
    assert!(number(&source["dropped_packets"]) >= 50.0, "{source}");
    assert!(
        number(&source["dropped_per_second"]) > 0.0,
        "the drops came between the two readings: {source}"
    );
    assert!(number(&ban["expires_in_seconds"]) <= number(&source["expires_in_seconds"]));
    assert_eq!(snapshot["bans"]["in_force"], 1);

    let null_scans = snapshot["detections"]
        .as_array()
        .expect("kinds")
        .iter()
        .find(|kind| kind["kind"] == "null-scan")
        .expect("null-scan listed");
    assert!(number(&null_scans["total"]) >= 1.0);
    assert_eq!(
        null_scans["total"], stats_after["detections"]["null-scan"],
        "as stats counts them"
    );
    for (name, counters) in [
        ("seen", &["seen"][..]),
        ("passed", &["passed"]),
        ("dropped", &["dropped_banned", "dropped_probe"]),
    ] {
        let total = |stats: &Value| -> u64 {
            counters
                .iter()
                .map(|counter| stats["packets"][counter].as_u64().expect("a counter"))
                .sum()
        };
        let shown = snapshot["packets"][name]["total"].as_u64().expect(name);
        assert!(
            (total(&stats_before)..=total(&stats_after)).contains(&shown),
            "{name}: {shown} outside what stats said before and after"
        );
    }

    // Events came in during the snapshot: drops of the banned attacker, to the http port.
    let latest = snapshot["latest"].as_array().expect("latest");
    assert!(
        latest
            .iter()
            .any(|event| event["src"] == attacker.as_str() && event["kind"] == "null-scan"),
        "{latest:?}"
    );
    let http = snapshot["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .find(|port| port["port"] == 80)
        .unwrap_or_else(|| panic!("port 80 not among {}", snapshot["ports"]));
    assert_eq!(http["protocol"], "tcp");
    assert_eq!(http["service"], "http");
    assert!(
        snapshot["events"]["connected"]
            .as_bool()
            .expect("connected")
    );
    assert_eq!(snapshot["events"]["skipped"], 0);
    // A veth's checks run at TC ingress (see docs/containers.md).
    assert_eq!(snapshot["daemon"]["interfaces"][0]["hook"], "tc");
    assert_eq!(snapshot["daemon"]["interfaces"][0]["mode"], "ingress");
    assert!(number(&snapshot["daemon"]["uptime_seconds"]) < 600.0);

    let text = daemon.cli(&["top", "--once"]).stdout;
    let text = String::from_utf8_lossy(&text);
    let row = text
        .lines()
        .find(|line| line.trim_start().starts_with(&format!("{attacker} ")))
        .unwrap_or_else(|| panic!("no row for {attacker}:\n{text}"));
    assert!(row.contains("null-scan"), "{row}");
    assert!(
        row.contains(&format!(" {} ", ban["dropped_packets"])),
        "{row}"
    );
}

#[test]
fn without_a_daemon_or_root_top_says_so_in_one_line() {
    require_root();
    let lab = ScanLab::build().expect("lab");
    let daemon = Daemon::start(SCANGUARD, &lab.victim, &[&lab.victim.interface]);
    let run = |args: &[&str], uid: Option<u32>| -> Output {
        let mut command = Command::new(SCANGUARD);
        command.arg("top").args(args);
        if let Some(uid) = uid {
            command.uid(uid).gid(uid);
        }
        command.output().expect("run scanguard top")
    };
    let one_line = |output: Output, expected: &str| {
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
    };
    let empty = std::env::temp_dir().join(format!("scanguard-top-{}", std::process::id()));
    std::fs::create_dir_all(&empty).expect("an empty run directory");
    let empty = empty.display().to_string();
    one_line(
        run(&["--json", "--pin-dir", "/nonexistent/scanguard"], None),
        "no running scanguard and no pinned state in /nonexistent/scanguard",
    );
    // Pins, but no daemon serving events there.
    let pin_dir = daemon.pin_dir.display().to_string();
    one_line(
        run(
            &["--once", "--pin-dir", &pin_dir, "--run-dir", &empty],
            None,
        ),
        "no running scanguard daemon (no event socket at",
    );
    let mut flags = daemon.dir_flags().to_vec();
    one_line(
        run(&flags.iter().map(String::as_str).collect::<Vec<_>>(), None),
        "is not one: use `--once` or `--json` for a snapshot",
    );
    const NOBODY: u32 = 65_534;
    flags.push("--json".into());
    one_line(
        run(
            &flags.iter().map(String::as_str).collect::<Vec<_>>(),
            Some(NOBODY),
        ),
        "scanguard needs root",
    );
    let _ = std::fs::remove_dir_all(&empty);
}

#[test]
fn the_view_follows_a_scan_and_unbans_on_request() {
    let lab = served_lab();
    let victim: IpAddr = lab.victim.ipv4.into();
    let attacker = lab.attacker.ipv4.to_string();
    let daemon = Daemon::start(SCANGUARD, &lab.victim, &[&lab.victim.interface]);
    let tmux = Tmux::start();
    let pid_file = daemon.run_dir.join("top.pid");
    tmux.type_line(&top_command(&daemon, &pid_file.display().to_string()));
    let screen = tmux.wait_for("no banned sources", Duration::from_secs(5));
    assert!(screen.starts_with("scanguard top  pid "), "{screen}");
    assert!(tmux.on_alternate_screen());

    assert_eq!(
        nmap_port_state(&lab.attacker, "-sN", victim, CLOSED),
        "open|filtered"
    );
    let scanned = Instant::now();
    let screen = tmux.wait_for(&format!("{attacker} "), 2 * REFRESH + REFRESH / 2);
    println!(
        "{attacker} shown {:?} after the scan:\n{screen}",
        scanned.elapsed()
    );
    let row = screen
        .lines()
        .find(|line| line.contains(&format!("{attacker} ")))
        .expect("the attacker's row");
    assert!(row.contains("null-scan"), "{row}");
    assert!(screen.contains("│null-scan "), "the kind's rate:\n{screen}");
    let detection = format!(
        "[scanguard::null-scan] IN={} SRC={attacker}",
        lab.victim.interface
    );
    assert!(screen.contains(&detection), "{screen}");
    assert!(
        screen.contains(&format!("{CLOSED}/tcp")),
        "the probed port:\n{screen}"
    );
    assert!(talk(&lab.attacker, victim, SERVICE).is_err(), "banned");
    // As the daemon's next save would have it (after 30 s): the ban is saved too.
    let clocks = Clocks::now();
    let saved = SavedBan {
        address: lab.attacker.ipv4.into(),
        reason: "null-scan".into(),
        manual: false,
        banned_at_unix_ms: clocks.unix_ms,
        expires_at_unix_ms: clocks.unix_ms + 60_000,
        duration_ms: 60_000,
        repeat: 0,
        dropped_packets: 0,
    };
    std::fs::create_dir_all(&daemon.state_dir).expect("the state directory");
    store::save_all(&daemon.state_dir, vec![saved]).expect("save the ban");

    tmux.keys(&["Down", "u"]);
    tmux.wait_for(&format!("unban {attacker}? y/n"), Duration::from_secs(2));
    tmux.keys(&["y"]);
    let screen = tmux.wait_for(&format!("unbanned {attacker}"), Duration::from_secs(2));
    assert!(screen.contains("no banned sources"), "{screen}");
    assert!(!daemon.is_banned(lab.attacker.ipv4.into()));
    assert!(
        store::load(&daemon.state_dir).is_empty(),
        "the saved ban is lifted too"
    );
    talk(&lab.attacker, victim, SERVICE).expect("connects once unbanned from the view");

    tmux.keys(&["q"]);
    assert_terminal_sane(&tmux, "0");
}

#[test]
fn signals_hangups_ctrl_c_and_a_stopped_daemon_end_or_leave_the_view_cleanly() {
    require_root();
    let lab = ScanLab::build().expect("lab");
    let mut daemon = Daemon::start(SCANGUARD, &lab.victim, &[&lab.victim.interface]);
    let pid_file = daemon.run_dir.join("top.pid");
    let command = top_command(&daemon, &pid_file.display().to_string());

    let tmux = Tmux::start();
    tmux.type_line(&command);
    tmux.wait_for("no banned sources", Duration::from_secs(5));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(read_pid(&pid_file)),
        Signal::SIGINT,
    )
    .expect("SIGINT the view");
    // 128 + SIGINT, as a shell reports a command a signal ended.
    assert_terminal_sane(&tmux, "130");

    // The terminal goes away under the view: the view ends too.
    tmux.type_line(&format!("clear; {command}"));
    tmux.wait_for("no banned sources", Duration::from_secs(5));
    let pid = nix::unistd::Pid::from_raw(read_pid(&pid_file));
    drop(tmux);
    assert!(
        wait_until(Duration::from_secs(3), Duration::from_millis(50), || {
            nix::sys::signal::kill(pid, None).is_err()
        }),
        "the view outlived its terminal"
    );

    // The daemon goes away under the view: it says so and keeps the last readings.
    let tmux = Tmux::start();
    tmux.type_line(&command);
    tmux.wait_for("no banned sources", Duration::from_secs(5));
    daemon.stop(Signal::SIGTERM);
    let screen = tmux.wait_for("daemon stopped: last readings", 2 * REFRESH);
    assert!(screen.contains("(event socket closed)"), "{screen}");
    // Raw mode makes Ctrl-C a key, and it quits like q.
    tmux.keys(&["C-c"]);
    assert_terminal_sane(&tmux, "0");
}

fn read_pid(pid_file: &Path) -> i32 {
    std::fs::read_to_string(pid_file)
        .expect("the view's pid")
        .trim()
        .parse()
        .expect("a pid")
}

#[test]
fn a_storm_is_sampled_and_the_view_stays_responsive() {
    require_root();
    // Each probe from a source of its own: a ban and an event apiece, budgets lifted.
    const PROBES: u32 = 30_000;
    let lab = ScanLab::build().expect("lab");
    let victim: IpAddr = lab.victim.ipv4.into();
    let config = ConfigFile::new(
        "top-storm",
        "max_bans_per_second = 100000\n[events]\nper_second = 100000\n",
    );
    let daemon = Daemon::start_in(
        SCANGUARD,
        &lab.victim.netns,
        &[&lab.victim.interface, "--config", &config.arg()],
    );
    let tmux = Tmux::start();
    let pid_file = daemon.run_dir.join("top.pid");
    tmux.type_line(&top_command(&daemon, &pid_file.display().to_string()));
    tmux.wait_for("no banned sources", Duration::from_secs(5));

    let storm = {
        let attacker = lab.attacker.clone();
        thread::spawn(move || {
            let started = Instant::now();
            // Bounded: exactly PROBES packets from the attacker's namespace only, as fast as
            // `-i u10` lets hping3 go (about 12,000 a second on a 2-core VM).
            hping3(
                &attacker,
                &["--rand-source", "-p", &CLOSED.to_string(), "-i", "u10"],
                PROBES,
                victim,
            );
            started.elapsed()
        })
    };
    thread::sleep(Duration::from_millis(500));
    let snapshot = daemon.cli_json(&["top"]);
    // Keys are answered mid-storm: the screen holds still, and says so, at once.
    tmux.keys(&["p"]);
    tmux.wait_for("PAUSED", REFRESH / 2);
    tmux.keys(&["p"]);
    let took = storm.join().expect("the storm");
    let sent = daemon.counter("events_sent");
    println!(
        "{PROBES} probes in {took:?}, {sent} events; the snapshot: {}",
        snapshot["events"]
    );

    let events = &snapshot["events"];
    let received = events["received"].as_u64().expect("received");
    assert!(received > 256, "a second of the storm: {events}");
    assert_eq!(
        events["skipped"].as_u64(),
        Some(received - 256),
        "all but the latest let go, and counted: {events}"
    );
    assert!(events["connected"].as_bool().expect("connected"));
    // Within two refreshes the view has every ban `bans` lists.
    let in_force = daemon.bans().len();
    tmux.wait_for(
        &format!("bans {in_force}/65536 "),
        2 * REFRESH + REFRESH / 2,
    );
    let quit = Instant::now();
    tmux.keys(&["q"]);
    assert_terminal_sane(&tmux, "0");
    assert!(quit.elapsed() < Duration::from_secs(3));
    let log = daemon.log();
    assert!(
        !log.contains("dropping a slow events viewer") && !log.contains("stopped reading"),
        "the daemon had to drop a viewer:\n{log}"
    );
    assert_eq!(daemon.counter("events_lost"), 0);
}
