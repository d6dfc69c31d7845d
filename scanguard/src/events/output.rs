//! Where the daemon writes detections: stdout as log lines or JSON, or the local syslog.

use anyhow::{Context as _, Result};
use syslog::{Facility, Formatter3164, Logger, LoggerBackend};

use super::{Detection, render};

pub enum Output {
    Lines,
    Json,
    Syslog(Box<Logger<LoggerBackend, Formatter3164>>),
}

impl Output {
    pub fn new(json: bool, syslog: bool) -> Result<Output> {
        if syslog {
            let formatter = Formatter3164 {
                facility: Facility::LOG_DAEMON,
                process: "scanguard".into(),
                ..Formatter3164::default()
            };
            let logger = syslog::unix(formatter).context(
                "cannot reach the local syslog (/dev/log); is journald or rsyslog running?",
            )?;
            return Ok(Output::Syslog(Box::new(logger)));
        }
        Ok(if json { Output::Json } else { Output::Lines })
    }

    pub fn write(&mut self, detection: &Detection) {
        match self {
            Output::Lines => println!("{}", render::log_line(detection)),
            Output::Json => match serde_json::to_string(detection) {
                Ok(json) => println!("{json}"),
                Err(error) => log::warn!("cannot encode an event: {error}"),
            },
            Output::Syslog(logger) => {
                if let Err(error) = logger.warning(render::log_line(detection)) {
                    log::warn!("cannot write to syslog: {error}");
                }
            }
        }
    }
}
