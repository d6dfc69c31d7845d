//! What the packages hold besides the binary: a configuration that shows every default, and a
//! preinst that warns, in one line, on a kernel too old to attach.

use std::process::Command;

use scanguard::config::{file, settings::Settings};
use scanguard_common::kind::Kind;

use crate::{TempDir, package, run, workspace};

#[test]
fn the_packaged_config_shows_every_default_commented_out() {
    let text = std::fs::read_to_string(workspace().join("dist/scanguard.toml")).unwrap();
    assert_eq!(file::parse(&text).unwrap(), Settings::default());
    // Uncommented, each key gives its default; `allow` and `protected_ports` show what to add.
    let uncommented: String = text
        .lines()
        .filter_map(|line| match line.strip_prefix('#') {
            Some(key) if key.starts_with("allow") || key.starts_with("protected_ports") => None,
            Some(key) if key.starts_with(|c: char| c.is_ascii_lowercase() || c == '[') => Some(key),
            _ => Some(line),
        })
        .map(|line| format!("{line}\n"))
        .collect();
    let keys = uncommented
        .lines()
        .filter(|line| line.contains(" = "))
        .count();
    assert!(keys > 25, "{keys} keys:\n{uncommented}");
    assert_eq!(file::parse(&uncommented).unwrap(), Settings::default());
    // Every key the configuration reference lists, and every kind's action.
    let reference = std::fs::read_to_string(workspace().join("docs/configuration.md")).unwrap();
    let listed = reference
        .lines()
        .filter_map(|line| line.strip_prefix("| `")?.split('`').next())
        .map(|key| key.trim_matches(['[', ']']).to_string());
    let kinds = Kind::ALL.into_iter().map(|kind| kind.name().to_string());
    for key in listed.chain(kinds) {
        assert!(
            text.contains(&format!("\n#{key} = ")) || text.contains(&format!("\n#[{key}]\n")),
            "{key} is not in the packaged configuration"
        );
    }
}

#[test]
fn the_package_warns_on_a_kernel_older_than_5_18_and_installs_anyway() {
    let control = TempDir::unpacked("preinst", &package("amd64"), true);
    let fake = TempDir::new("uname");
    for (release, warns) in [
        ("4.19.0-25-amd64", true),
        ("5.17.15", true),
        ("5.18.0", false),
        ("6.1.0-rpi7-rpi-v8", false),
        ("6.18.44-fc-v1300", false),
    ] {
        std::fs::write(fake.0.join("uname"), format!("#!/bin/sh\necho {release}\n")).unwrap();
        run(Command::new("chmod").arg("+x").arg(fake.0.join("uname")));
        let path = format!(
            "{}:{}",
            fake.0.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let output = run(Command::new("sh")
            .arg(control.0.join("preinst"))
            .arg("install")
            .env("PATH", path));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.contains("warning"), warns, "{release}: {stderr}");
        if warns {
            assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
            assert!(
                stderr.contains(release) && stderr.contains("5.18"),
                "{stderr}"
            );
        }
    }
}
