//! What an operator configures: the settings, the file they come from (its `[crowdsec]`
//! section apart), and where scanguard keeps its state.

pub mod crowdsec;
pub mod error;
pub mod file;
pub mod go_duration;
pub mod paths;
pub mod settings;
