//! The command line as users meet it: every command against a running daemon in the lab, a
//! refused `attach` that leaves nothing behind, and every user error in one line (the last two
//! modules need no root).

#[path = "../support/mod.rs"]
mod support;

mod attach_rejects;
mod commands;
mod errors;
mod input_properties;
