//! One played scenario's record, what it should have been, and how it is explained when it is
//! not.

use std::fmt::Write as _;

use super::Scenario;

/// nmap's state of a port, or a connection's outcome, with the detail behind it (nmap's
/// reason, the service's banner).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub verdict: String,
    pub detail: String,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.detail.is_empty() {
            f.write_str(&self.verdict)
        } else {
            write!(f, "{} ({})", self.verdict, self.detail)
        }
    }
}

/// One played scenario.
#[derive(Clone, Debug)]
pub struct Row {
    pub scenario: Scenario,
    /// The probe, as a person would run it.
    pub command: String,
    pub before: Outcome,
    pub after: Outcome,
    /// Kinds whose detection counter rose during the step.
    pub detected: Vec<String>,
    /// The ban's reason if `from` is banned right after the step.
    pub banned: Option<String>,
    /// What the daemon printed during the step.
    pub logged: Vec<String>,
    /// Further things worth showing, e.g. the output of `scanguard bans`.
    pub notes: Vec<String>,
}

impl Row {
    /// How the row differs from what the scenario expects; empty if it holds.
    pub fn problems(&self) -> Vec<String> {
        let expect = &self.scenario.expect;
        let mut problems = Vec::new();
        let detected_ok = match expect.detected {
            Some(kind) => self.detected.iter().any(|seen| seen == kind),
            None => self.detected.is_empty(),
        };
        if !detected_ok {
            problems.push(format!(
                "detected {:?}, expected {:?}",
                self.detected, expect.detected
            ));
        }
        if self.banned.is_some() != expect.banned {
            problems.push(format!(
                "banned: {:?}, expected {}",
                self.banned, expect.banned
            ));
        }
        if !expect.before.contains(&self.before.verdict.as_str()) {
            problems.push(format!(
                "before: {}, expected {:?}",
                self.before, expect.before
            ));
        }
        if !expect.after.contains(&self.after.verdict.as_str()) {
            problems.push(format!(
                "after: {}, expected {:?}",
                self.after, expect.after
            ));
        }
        problems
    }

    pub fn passed(&self) -> bool {
        self.problems().is_empty()
    }

    /// Everything about the row, for a failing test.
    pub fn explain(&self) -> String {
        let mut text = format!(
            "{} ({}): {}\n  before {} / after {}\n  detected {:?}, banned {:?}\n  problems: {:?}\n",
            self.scenario.id,
            self.scenario.title,
            self.command,
            self.before,
            self.after,
            self.detected,
            self.banned,
            self.problems()
        );
        for line in self.logged.iter().chain(&self.notes) {
            let _ = writeln!(text, "  | {line}");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::{
        super::{SCENARIOS, summary_table},
        *,
    };

    #[test]
    fn a_row_reports_every_mismatch() {
        let scenario = SCENARIOS.iter().find(|s| s.id == "null-scan").unwrap();
        let outcome = |verdict: &str| Outcome {
            verdict: verdict.into(),
            detail: String::new(),
        };
        let mut row = Row {
            scenario: *scenario,
            command: String::new(),
            before: outcome("closed"),
            after: outcome("open|filtered"),
            detected: vec!["null-scan".into()],
            banned: Some("null-scan".into()),
            logged: Vec::new(),
            notes: Vec::new(),
        };
        assert!(row.passed(), "{:?}", row.problems());
        row.after = outcome("closed");
        row.banned = None;
        assert_eq!(row.problems().len(), 2, "{:?}", row.problems());
        assert!(summary_table(&[row]).contains('✗'));
    }
}
