//! A configuration error: the key it is about and what is wrong, on one line.

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{key}: {problem}")]
pub struct ConfigError {
    pub key: String,
    pub problem: String,
}

/// Keys and problems quote what the file says, which may hold line breaks: escaped, the error
/// stays one line.
pub fn invalid(key: impl Into<String>, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        key: one_line(&key.into()),
        problem: one_line(&problem.into()),
    }
}

fn one_line(text: &str) -> String {
    if text.chars().any(char::is_control) {
        text.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect()
    } else {
        text.to_string()
    }
}

/// The most entries a ban map is allowed; beyond it the kernel's memory, not the config, is wrong.
const MAX_CAPACITY: u32 = 16_777_216;

pub fn check_capacity(key: &str, capacity: u32) -> Result<u32, ConfigError> {
    if (1..=MAX_CAPACITY).contains(&capacity) {
        Ok(capacity)
    } else {
        Err(invalid(
            key,
            format!("must be between 1 and {MAX_CAPACITY}, not {capacity}"),
        ))
    }
}
