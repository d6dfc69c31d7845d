//! What the end-to-end tests share beyond scanguard-lab.

pub const SCANGUARD: &str = env!("CARGO_BIN_EXE_scanguard");

pub fn require_root() {
    assert!(
        scanguard_lab::is_root(),
        "kernel tests need root (CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN): run `cargo xtask test` as root"
    );
}
