//! The command line as users meet it: every command against a running daemon in the lab, a
//! refused `attach` that leaves nothing behind, every user error in one line and a corrupt
//! state file set aside (the last three modules need no root).

#[path = "../support/mod.rs"]
mod support;

mod attach_rejects;
mod commands;
mod errors;
mod input_properties;
mod saved_bans;
