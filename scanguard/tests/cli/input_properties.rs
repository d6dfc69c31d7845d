//! Property tests over what users type: configuration files and command lines. Every invalid
//! input is refused with one clear line (a config error names the key) and nothing panics.
//! No root needed; case counts stay small so the suite stays fast.

use std::{collections::BTreeMap, fmt::Write as _};

use clap::{Parser as _, error::ErrorKind};
use proptest::{prelude::*, sample::select, test_runner::Config as ProptestConfig};
use scanguard::{
    cli::{Cli, one_line},
    config,
};

const KINDS: [&str; 14] = [
    "null-scan",
    "fin-scan",
    "xmas-scan",
    "syn-scan",
    "trap-port",
    "port-sweep",
    "tiny-fragment",
    "ack-scan",
    "maimon-scan",
    "udp-probe",
    "fingerprint",
    "denied",
    "slow-sweep",
    "sctp-probe",
];
const ACTIONS: [&str; 4] = ["ban", "drop", "log", "ignore"];
const FINGERPRINTS: [&str; 4] = ["nmap", "masscan", "zmap", "raw-ip-id"];
/// The most distinct ports a sweep threshold may ask for (`sweep::MAX_SWEEP_PORTS`).
const MAX_SWEEP_PORTS: u32 = 64;
/// The most entries a map may be given (`config::error::MAX_CAPACITY`).
const MAX_CAPACITY: u64 = 16_777_216;

/// Tables of the file; everything else is a top-level key.
const TABLES: [&str; 7] = [
    "trap_ports",
    "actions",
    "events",
    "sweep",
    "slow_sweep",
    "min_probes",
    "bantime",
];

fn cases(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// One `key = value` line of a document: its table ("" for the top level), key and value.
#[derive(Clone, Debug)]
struct Entry {
    table: &'static str,
    key: String,
    value: String,
}

impl Entry {
    fn new(table: &'static str, key: impl Into<String>, value: impl Into<String>) -> Entry {
        Entry {
            table,
            key: key.into(),
            value: value.into(),
        }
    }

    /// The key as `ConfigError` names it.
    fn path(&self) -> String {
        if self.table.is_empty() {
            self.key.clone()
        } else {
            format!("{}.{}", self.table, self.key)
        }
    }
}

/// A TOML document: the top-level keys first, then one header per table.
fn render(entries: &[Entry]) -> String {
    let mut text = String::new();
    for entry in entries.iter().filter(|entry| entry.table.is_empty()) {
        let _ = writeln!(text, "{} = {}", toml_key(&entry.key), entry.value);
    }
    for table in TABLES {
        let lines: Vec<&Entry> = entries.iter().filter(|e| e.table == table).collect();
        if !lines.is_empty() {
            let _ = writeln!(text, "[{table}]");
            for entry in lines {
                let _ = writeln!(text, "{} = {}", toml_key(&entry.key), entry.value);
            }
        }
    }
    text
}

/// A bare key where TOML allows one, else a quoted one.
fn toml_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare { key.to_string() } else { quote(key) }
}

/// A TOML basic string.
fn quote(text: &str) -> String {
    let mut quoted = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(quoted, "\\u{:04X}", u32::from(c));
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

fn port_list(ports: Vec<u16>) -> String {
    format!("{ports:?}")
}

/// A name that is none of `known`: lowercase words, as a typo would be.
fn unknown_name(known: &'static [&'static str]) -> impl Strategy<Value = String> {
    "[a-z][a-z-]{0,11}".prop_filter("a known name", move |name| !known.contains(&name.as_str()))
}

/// Values of a type no key of this file has, for any key.
fn foreign_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("1.5".to_string()),
        Just("{ a = 1 }".to_string()),
        Just("1979-05-27T07:32:00Z".to_string()),
        Just("[[1], [2]]".to_string()),
    ]
}

fn wrong_number() -> impl Strategy<Value = String> {
    prop_oneof![
        foreign_value(),
        "[a-z ]{0,8}".prop_map(|text| quote(&text)),
        any::<bool>().prop_map(|b| b.to_string()),
        (i64::MIN..0).prop_map(|n| n.to_string()),
        Just("[]".to_string()),
    ]
}

fn wrong_u32() -> impl Strategy<Value = String> {
    prop_oneof![
        wrong_number(),
        (u64::from(u32::MAX) + 1..=i64::MAX as u64).prop_map(|n| n.to_string()),
    ]
}

fn wrong_bool() -> impl Strategy<Value = String> {
    prop_oneof![
        foreign_value(),
        any::<i32>().prop_map(|n| n.to_string()),
        select(vec!["\"yes\"", "\"true\"", "\"on\""]).prop_map(str::to_string),
    ]
}

fn wrong_string() -> impl Strategy<Value = String> {
    prop_oneof![
        foreign_value(),
        any::<i32>().prop_map(|n| n.to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        Just("[\"ban\"]".to_string()),
    ]
}

fn wrong_ports() -> impl Strategy<Value = String> {
    prop_oneof![
        foreign_value(),
        any::<u16>().prop_map(|port| port.to_string()),
        (65_536u32..10_000_000).prop_map(|port| format!("[22, {port}]")),
        (i32::MIN..0).prop_map(|port| format!("[{port}]")),
        Just("[\"ssh\"]".to_string()),
    ]
}

fn valid_ports() -> impl Strategy<Value = String> {
    proptest::collection::vec(any::<u16>(), 0..5).prop_map(port_list)
}

fn valid_cidr() -> impl Strategy<Value = String> {
    prop_oneof![
        (any::<[u8; 4]>(), 0u8..=32)
            .prop_map(|(a, len)| format!("{}.{}.{}.{}/{len}", a[0], a[1], a[2], a[3])),
        any::<[u8; 4]>().prop_map(|a| format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])),
        (any::<u16>(), 0u8..=128).prop_map(|(word, len)| format!("2001:db8::{word:x}/{len}")),
    ]
}

/// A CIDR that does not parse: an octet, prefix length or word out of range, or no address.
fn invalid_cidr() -> impl Strategy<Value = String> {
    prop_oneof![
        (256u32..1000).prop_map(|octet| format!("10.0.0.{octet}")),
        (33u32..200).prop_map(|len| format!("10.0.0.0/{len}")),
        (129u32..300).prop_map(|len| format!("fd00::/{len}")),
        "[g-z]{1,10}",
        Just(String::new()),
    ]
}

/// Every key of the file with a valid value, one per key at most.
fn valid_entry() -> impl Strategy<Value = Entry> {
    prop_oneof![
        (1u64..1_000_000).prop_map(|n| Entry::new("", "ban_seconds", n.to_string())),
        select(vec!["fixed", "sliding"]).prop_map(|m| Entry::new("", "ban_mode", quote(m))),
        (1..=MAX_CAPACITY).prop_map(|n| Entry::new("", "capacity", n.to_string())),
        (1..=MAX_CAPACITY).prop_map(|n| Entry::new("", "flow_capacity", n.to_string())),
        valid_ports().prop_map(|v| Entry::new("", "watched_ports", v)),
        valid_ports().prop_map(|v| Entry::new("", "protected_ports", v)),
        valid_ports().prop_map(|v| Entry::new("", "watched_udp_ports", v)),
        valid_ports().prop_map(|v| Entry::new("", "open_ports", v)),
        proptest::collection::vec(valid_cidr(), 0..3).prop_map(|nets| {
            let quoted: Vec<String> = nets.iter().map(|net| quote(net)).collect();
            Entry::new("", "allow", format!("[{}]", quoted.join(", ")))
        }),
        proptest::collection::vec(select(FINGERPRINTS.to_vec()), 0..3).prop_map(|names| {
            let quoted: Vec<String> = names.iter().map(|name| quote(name)).collect();
            Entry::new("", "fingerprints", format!("[{}]", quoted.join(", ")))
        }),
        any::<bool>().prop_map(|b| Entry::new("", "default_deny", b.to_string())),
        any::<bool>().prop_map(|b| Entry::new("", "lockout_protection", b.to_string())),
        any::<bool>().prop_map(|b| Entry::new("", "ttl_check", b.to_string())),
        any::<u32>().prop_map(|n| Entry::new("", "max_bans_per_second", n.to_string())),
        any::<u32>().prop_map(|n| Entry::new("", "max_bans_per_subnet_per_minute", n.to_string())),
        (any::<u16>(), "[a-z0-9-]{0,8}").prop_map(|(port, name)| Entry::new(
            "trap_ports",
            port.to_string(),
            quote(&name)
        )),
        (select(KINDS.to_vec()), select(ACTIONS.to_vec())).prop_map(|(kind, action)| Entry::new(
            "actions",
            kind,
            quote(action)
        )),
        (
            select(vec!["per_minute", "burst", "per_second"]),
            any::<u32>()
        )
            .prop_map(|(key, n)| Entry::new("events", key, n.to_string())),
        (select(vec!["sweep", "slow_sweep"]), 0u32..=MAX_SWEEP_PORTS)
            .prop_map(|(table, n)| Entry::new(table, "ports", n.to_string())),
        (select(vec!["sweep", "slow_sweep"]), 1u64..100_000).prop_map(|(table, n)| Entry::new(
            table,
            "seconds",
            n.to_string()
        )),
        (select(KINDS.to_vec()), any::<u8>()).prop_map(|(kind, n)| Entry::new(
            "min_probes",
            kind,
            n.to_string()
        )),
        any::<bool>().prop_map(|b| Entry::new("bantime", "increment", b.to_string())),
        any::<u32>().prop_map(|n| Entry::new("bantime", "window_seconds", n.to_string())),
        // At least any valid ban_seconds above.
        (1_000_000u64..10_000_000).prop_map(|n| Entry::new(
            "bantime",
            "max_seconds",
            n.to_string()
        )),
    ]
}

/// One invalid entry: a value of the wrong type or out of range, an unknown name, or an
/// unknown key.
fn invalid_entry() -> impl Strategy<Value = Entry> {
    let numbers = prop_oneof![
        (
            select(vec![
                ("", "ban_seconds"),
                ("", "capacity"),
                ("", "flow_capacity"),
                ("", "max_bans_per_second"),
                ("", "max_bans_per_subnet_per_minute"),
                ("events", "per_minute"),
                ("events", "burst"),
                ("events", "per_second"),
                ("sweep", "ports"),
                ("sweep", "seconds"),
                ("slow_sweep", "ports"),
                ("slow_sweep", "seconds"),
                ("bantime", "window_seconds"),
                ("bantime", "max_seconds"),
            ]),
            wrong_u32()
        )
            .prop_filter(
                "a u64 key takes values above u32::MAX",
                |((_, key), value)| { !(key.ends_with("seconds") && value.parse::<u64>().is_ok()) }
            )
            .prop_map(|((table, key), value)| Entry::new(table, key, value)),
        select(vec![
            ("", "ban_seconds", "0"),
            ("", "capacity", "0"),
            ("", "flow_capacity", "0"),
            ("sweep", "seconds", "0"),
            ("slow_sweep", "seconds", "0"),
            ("bantime", "max_seconds", "0"),
        ])
        .prop_map(|(table, key, value)| Entry::new(table, key, value)),
        (
            MAX_SWEEP_PORTS + 1..=u32::MAX,
            select(vec!["sweep", "slow_sweep"])
        )
            .prop_map(|(n, table)| Entry::new(table, "ports", n.to_string())),
        (
            MAX_CAPACITY + 1..=u64::from(u32::MAX),
            select(vec!["capacity", "flow_capacity"])
        )
            .prop_map(|(n, key)| Entry::new("", key, n.to_string())),
    ];
    let others = prop_oneof![
        (
            select(vec!["default_deny", "lockout_protection", "ttl_check"]),
            wrong_bool()
        )
            .prop_map(|(key, value)| Entry::new("", key, value)),
        (
            select(vec![
                ("", "ban_mode"),
                ("actions", "null-scan"),
                ("trap_ports", "22")
            ]),
            wrong_string()
        )
            .prop_map(|((table, key), value)| Entry::new(table, key, value)),
        unknown_name(&["fixed", "sliding"]).prop_map(|mode| Entry::new(
            "",
            "ban_mode",
            quote(&mode)
        )),
        (
            select(vec![
                "watched_ports",
                "protected_ports",
                "watched_udp_ports",
                "open_ports"
            ]),
            wrong_ports()
        )
            .prop_map(|(key, value)| Entry::new("", key, value)),
        invalid_cidr().prop_map(|net| Entry::new(
            "",
            "allow",
            format!("[\"10.0.0.1\", {}]", quote(&net))
        )),
        unknown_name(&FINGERPRINTS).prop_map(|name| Entry::new(
            "",
            "fingerprints",
            format!("[{}]", quote(&name))
        )),
        "[a-z ]{1,8}".prop_map(|port| Entry::new("trap_ports", port, "\"\"")),
        (any::<u16>(), "[a-z]{0,3}[ \t\n\r][a-z]{0,3}").prop_map(|(port, name)| Entry::new(
            "trap_ports",
            port.to_string(),
            quote(&name)
        )),
        (select(KINDS.to_vec()), unknown_name(&ACTIONS)).prop_map(|(kind, action)| Entry::new(
            "actions",
            kind,
            quote(&action)
        )),
        unknown_name(&KINDS).prop_map(|kind| Entry::new("actions", kind, "\"ban\"")),
        unknown_name(&KINDS).prop_map(|kind| Entry::new("min_probes", kind, "1")),
        (
            select(KINDS.to_vec()),
            prop_oneof![
                (256u32..100_000).prop_map(|n| n.to_string()),
                wrong_number()
            ]
        )
            .prop_map(|(kind, n)| Entry::new("min_probes", kind, n)),
        (select(vec!["increment"]), wrong_bool())
            .prop_map(|(key, value)| Entry::new("bantime", key, value)),
        // A table given as a value.
        (select(TABLES.to_vec()), any::<i32>()).prop_map(|(table, n)| Entry::new(
            "",
            table,
            n.to_string()
        )),
        // Keys the file does not have.
        unknown_name(&[
            "ban_seconds",
            "ban_mode",
            "capacity",
            "watched_ports",
            "trap_ports",
            "protected_ports",
            "allow",
            "actions",
            "events",
            "watched_udp_ports",
            "sweep",
            "fingerprints",
            "default_deny",
            "open_ports",
            "flow_capacity",
            "lockout_protection",
            "max_bans_per_second",
            "max_bans_per_subnet_per_minute",
            "ttl_check",
            "min_probes",
            "bantime",
        ])
        .prop_map(|key| Entry::new("", key, "1")),
        (select(vec!["events", "sweep", "bantime"]), "[a-z_]{1,10}")
            .prop_filter("a known key", |(_, key)| {
                ![
                    "per_minute",
                    "burst",
                    "per_second",
                    "ports",
                    "seconds",
                    "increment",
                    "window_seconds",
                    "max_seconds",
                ]
                .contains(&key.as_str())
            })
            .prop_map(|(table, key)| Entry::new(table, key, "1")),
    ];
    prop_oneof![numbers, others]
}

/// Valid entries, each key once: duplicate keys would be an error of their own.
fn valid_entries() -> impl Strategy<Value = Vec<Entry>> {
    proptest::collection::vec(valid_entry(), 0..12).prop_map(|entries| {
        let mut unique = BTreeMap::new();
        for entry in entries {
            unique.entry(entry.path()).or_insert(entry);
        }
        unique.into_values().collect()
    })
}

fn assert_one_line(error: &config::error::ConfigError, text: &str) {
    let line = error.to_string();
    assert!(
        !line.contains(['\n', '\r']),
        "not one line: {line:?}\n{text}"
    );
    assert!(!error.key.is_empty(), "no key: {line}\n{text}");
    assert!(!error.problem.is_empty(), "no problem: {line}\n{text}");
}

proptest! {
    #![proptest_config(cases(64))]

    /// The generator's valid entries are valid: so in the next property, the one invalid
    /// entry is what is refused.
    #[test]
    fn documents_of_valid_entries_parse(entries in valid_entries()) {
        let text = render(&entries);
        if let Err(error) = config::file::parse(&text) {
            panic!("{error}\n{text}");
        }
    }

    #[test]
    fn an_invalid_entry_is_refused_by_its_key(
        mut entries in valid_entries(),
        invalid in invalid_entry(),
        position in any::<prop::sample::Index>(),
    ) {
        entries.retain(|entry| entry.path() != invalid.path());
        // A table set to a value cannot also have a header.
        if invalid.table.is_empty() && TABLES.contains(&invalid.key.as_str()) {
            entries.retain(|entry| entry.table != invalid.key);
        }
        entries.insert(position.index(entries.len() + 1), invalid.clone());
        let text = render(&entries);
        let error = config::file::parse(&text)
            .err()
            .unwrap_or_else(|| panic!("accepted:\n{text}"));
        assert_one_line(&error, &text);
        // Quoted back with line breaks escaped.
        let expected = invalid.path().replace('\n', "\\n").replace('\r', "\\r").replace('\t', "\\t");
        prop_assert_eq!(&error.key, &expected, "{}\n{}", error, text);
    }

    /// Whatever the text, `parse` answers, and a refusal is one line with a key.
    #[test]
    fn any_text_is_answered_in_one_line(text in any::<String>()) {
        if let Err(error) = config::file::parse(&text) {
            assert_one_line(&error, &text);
        }
    }

    /// Text assembled from the file's own words, brackets and quotes, so the parser gets
    /// past the first line.
    #[test]
    fn toml_shaped_text_is_answered_in_one_line(
        words in proptest::collection::vec(
            prop_oneof![
                select(vec![
                    "ban_seconds", "capacity", "[events]", "[actions]", "[trap_ports]",
                    "[sweep]", "[bantime]", "[min_probes]", "allow", "null-scan", "burst",
                    "=", " = ", "\n", "\"", "'", "[", "]", "{", "}", ",", ".", "0", "1",
                    "70000", "-1", "true", "\"ban\"", "\"\\n\"", "\"\u{7f}\"", "\r\n", "#",
                    "\"\"\"", "1e9", "\u{2028}",
                ])
                .prop_map(str::to_string),
                "[ -~]{1,6}",
            ],
            0..24,
        )
    ) {
        let text = words.concat();
        if let Err(error) = config::file::parse(&text) {
            assert_one_line(&error, &text);
        }
    }
}

/// What a user might type after a subcommand: its flags, values good and bad, and junk.
fn argument() -> impl Strategy<Value = String> {
    prop_oneof![
        select(vec![
            "--mode",
            "--config",
            "--persist",
            "--ban-seconds",
            "--ban-mode",
            "--capacity",
            "--allow",
            "--json",
            "--syslog",
            "--metrics",
            "--all",
            "--for",
            "--pin-dir",
            "--run-dir",
            "--log-level",
            "--help",
            "-h",
            "--version",
            "-V",
            "--",
            "-",
            "auto",
            "native",
            "skb",
            "tc",
            "turbo",
            "fixed",
            "sliding",
            "60",
            "0",
            "-1",
            "99999999999999999999",
            "10m",
            "forever",
            "192.0.2.1",
            "2001:db8::1",
            "10.0.0.300",
            "10.0.0.0/8",
            "127.0.0.1:9100",
            "[::1]:9100",
            "lo",
            "eth0",
            "check",
            "bash",
            "zsh",
            "debug",
            "loud",
            "=",
            "--json=true",
            "--mode=skb",
            "--ban-seconds=",
            "\u{0}",
            "é",
            "--\u{7f}",
        ])
        .prop_map(str::to_string),
        "[ -~]{0,12}",
        "--[a-z-]{1,12}",
    ]
}

const SUBCOMMANDS: [&str; 12] = [
    "attach",
    "bans",
    "unban",
    "ban",
    "stats",
    "events",
    "status",
    "detach",
    "config",
    "completions",
    "man",
    "frobnicate",
];

proptest! {
    #![proptest_config(cases(256))]

    /// Any argument vector parses or is a clap error: exit status 2 (0 for --help and
    /// --version), a first line that says what is wrong, which the binary prints as one line,
    /// and no panic.
    #[test]
    fn command_lines_parse_or_fail_with_a_clap_error(
        subcommand in select(SUBCOMMANDS.to_vec()),
        arguments in proptest::collection::vec(argument(), 0..6),
    ) {
        let argv: Vec<String> = ["scanguard", subcommand]
            .into_iter()
            .map(str::to_string)
            .chain(arguments)
            .collect();
        let Err(error) = Cli::try_parse_from(&argv) else {
            return Ok(());
        };
        let rendered = error.render().to_string();
        match error.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                prop_assert_eq!(error.exit_code(), 0, "{:?}", argv);
                prop_assert!(!rendered.trim().is_empty());
            }
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                prop_assert_eq!(error.exit_code(), 2, "{:?}", argv);
                prop_assert!(!rendered.trim().is_empty());
            }
            _ => {
                prop_assert_eq!(error.exit_code(), 2, "{:?}: {}", argv, rendered);
                let first = rendered.lines().next().unwrap_or_default();
                prop_assert!(
                    first.starts_with("error: ") && first.len() > "error: ".len(),
                    "{:?}: {}", argv, rendered
                );
                // What the binary prints: the same first line, and nothing on another.
                let line = one_line(&error);
                prop_assert!(
                    line.starts_with(first.trim_start_matches("error: ")) && !line.contains('\n'),
                    "{:?}: {} from {}", argv, line, rendered
                );
            }
        }
    }
}
