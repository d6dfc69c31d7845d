#![no_std]
// Empty library target so the userspace crate can name this one as a build-dependency.
