//! What `cargo xtask lab` prints.

use scanguard_lab::{
    Host,
    demo::{
        BAN_SECONDS, CLOSED_PORT, DemoLab, HONEYPOT_PORT, MANAGEMENT_PORT, Scanguard, TELNET_PORT,
        WEB_PORT,
        scenarios::{Outcome, Row, Scenario, Step, summary_table},
    },
};

use super::state;

/// Indents the daemon's own lines, so they stand apart from the demo's.
const DAEMON: &str = "      scanguard │";
const INDENT: &str = "      ";

pub fn topology(lab: &DemoLab, keeper_pid: u32) {
    let line = |role: &str, host: &Host, what: &str| {
        println!(
            "{INDENT}{role:<18} {:<10} {:<9} ns {}{what}",
            host.ipv4.to_string(),
            host.interface,
            host.netns.name()
        );
    };
    line(
        "victim",
        &lab.victim,
        &format!(
            "\n{INDENT}{:<18} services: {HONEYPOT_PORT} honeypot sshd (trap port), {WEB_PORT} web, \
             {MANAGEMENT_PORT} real sshd (protected); {CLOSED_PORT} and {TELNET_PORT} closed",
            ""
        ),
    );
    line("attacker", &lab.attacker, "");
    line("client", &lab.client, "");
    println!(
        "{INDENT}{:<18} Docker-shaped bridge {} in the victim's namespace:",
        "", lab.docker_bridge
    );
    line(
        "web container",
        &lab.web.inside,
        &format!(", bridge port {} (web on {WEB_PORT})", lab.web.port),
    );
    line(
        "scanner container",
        &lab.scanner.inside,
        &format!(", bridge port {}", lab.scanner.port),
    );
    println!(
        "{INDENT}config {} (ban_seconds = {BAN_SECONDS}); lab keeper pid {keeper_pid}",
        state::config_file().display()
    );
}

pub fn baseline_probe(scenario: &Scenario, outcome: &Outcome) {
    let what = match scenario.step {
        Step::Nmap(flag) | Step::Decoys(flag, _) => format!("nmap {flag}"),
        Step::Connect | Step::Unban | Step::Expire => "connect".to_string(),
    };
    println!(
        "{INDENT}{:<9} {:<17} → {:<17} port {:<5} {outcome}",
        what,
        scenario.from.name(),
        scenario.to.name(),
        scenario.port
    );
}

pub fn daemon_started(pid: u32, lines: &[String]) {
    for line in lines {
        println!("{DAEMON} {line}");
    }
    println!("{INDENT}scanguard is attached (pid {pid}); its detections follow each step");
}

pub fn row(row: &Row) {
    let scenario = &row.scenario;
    println!(
        "\n[lab] {}: {} → {}",
        scenario.title,
        scenario.from.name(),
        scenario.to.name()
    );
    println!(
        "{INDENT}$ {}   (from the {})",
        row.command,
        scenario.from.name()
    );
    match scenario.step {
        Step::Nmap(_) | Step::Decoys(..) | Step::Connect => {
            println!("{INDENT}without scanguard: {}", row.before);
            println!("{INDENT}with scanguard:    {}", row.after);
        }
        Step::Unban | Step::Expire => {
            println!("{INDENT}before: {}", row.before);
            println!("{INDENT}after:  {}", row.after);
        }
    }
    for line in &row.logged {
        println!("{DAEMON} {line}");
    }
    for note in &row.notes {
        for line in note.lines() {
            println!("{INDENT}{line}");
        }
    }
    let detected = if row.detected.is_empty() {
        "nothing".to_string()
    } else {
        row.detected.join(", ")
    };
    let banned = row
        .banned
        .as_ref()
        .map_or("not banned".to_string(), |reason| {
            format!("banned ({reason})")
        });
    let verdict = if row.passed() {
        "✓ as expected".to_string()
    } else {
        format!("✗ {}", row.problems().join("; "))
    };
    println!(
        "{INDENT}→ detected: {detected}; {}: {banned}; {verdict}",
        scenario.from.name()
    );
}

pub fn summary(rows: &[Row]) {
    println!("\n[lab] summary (before: without scanguard, or before unban/expiry)\n");
    for line in summary_table(rows).lines() {
        println!("{INDENT}{line}");
    }
    println!();
}

/// The lab stays up: what to try by hand.
pub fn kept(lab: &DemoLab, scanguard: &Scanguard) {
    let inside = |host: &Host| format!("nsenter --net={}", host.netns.path().display());
    let victim = lab.victim.ipv4;
    println!("[lab] the lab stays up. Try, as root:");
    println!(
        "{INDENT}{} nmap -sX -Pn -p {CLOSED_PORT} {victim}      # an Xmas scan: the attacker is banned for {BAN_SECONDS} s",
        inside(&lab.attacker)
    );
    println!(
        "{INDENT}{} nmap -sT -Pn -p {HONEYPOT_PORT},{WEB_PORT},{MANAGEMENT_PORT} {victim}   # the client connects",
        inside(&lab.client)
    );
    println!(
        "{INDENT}{} nmap -sS -Pn -p {TELNET_PORT} {}   # container to container",
        inside(&lab.scanner.inside),
        lab.web.inside.ipv4
    );
    for (args, what) in [
        ("bans", "who is banned, why, for how long"),
        ("events", "follow the detections live (Ctrl-C to stop)"),
        ("stats", "counters"),
        ("status", "interfaces, modes, configuration"),
        ("unban --all", "lift every ban"),
    ] {
        println!("{INDENT}{}   # {what}", scanguard.command_line(args));
    }
    println!(
        "{INDENT}tail -f {}   # everything the daemon printed",
        state::daemon_log().display()
    );
    println!("{INDENT}cargo xtask lab --down   # remove the lab: daemon, namespaces, pins");
}
