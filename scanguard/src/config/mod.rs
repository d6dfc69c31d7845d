//! What an operator configures: the settings, the file they come from, and where scanguard
//! keeps its state.

pub mod file;
pub mod paths;
pub mod settings;
