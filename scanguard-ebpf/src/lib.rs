//! Empty library target, so the userspace crate can name this one as a build-dependency; the
//! programs are the `scanguard` binary (`main.rs`).
#![no_std]
