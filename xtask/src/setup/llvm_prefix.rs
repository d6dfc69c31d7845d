//! bpf-linker must use the very LLVM that nightly rustc emits bitcode for, and
//! rustup ships it as a shared library in nightly's sysroot. This builds an
//! LLVM_PREFIX that points there, in a cache dir because the installed
//! bpf-linker keeps an RPATH into it.

use std::{
    fs, io,
    os::unix::fs::symlink,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail};

use crate::process::stdout;

pub struct LlvmPrefix {
    pub dir: PathBuf,
    /// The major LLVM version, for bpf-linker's `llvm-<major>` feature.
    pub major: String,
}

pub fn prepare() -> Result<LlvmPrefix> {
    let sysroot = stdout(nightly_rustc().args(["--print", "sysroot"]))?;
    let major = llvm_major(&stdout(nightly_rustc().arg("-vV"))?)?;
    let library = find_libllvm(&Path::new(sysroot.trim()).join("lib"))?;
    let file_name = library
        .file_name()
        .context("libLLVM path has a file name")?;
    let dir = cache_dir(
        std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from),
        std::env::var_os("HOME").map(PathBuf::from),
    )?
    .join("llvm")
    .join(file_name);
    let lib = dir.join("lib");
    fs::create_dir_all(&lib).with_context(|| format!("create {}", lib.display()))?;
    // The linker looks for libLLVM.so; the loader for the file's own soname.
    for link in [lib.join("libLLVM.so"), lib.join(file_name)] {
        replace_symlink(&library, &link)?;
    }
    Ok(LlvmPrefix { dir, major })
}

fn nightly_rustc() -> Command {
    let mut command = Command::new("rustup");
    command.args(["run", "nightly", "rustc"]);
    command
}

/// `22` from the `LLVM version: 22.1.4` line of `rustc -vV`.
fn llvm_major(version_info: &str) -> Result<String> {
    version_info
        .lines()
        .find_map(|line| line.strip_prefix("LLVM version:"))
        .and_then(|version| version.trim().split('.').next())
        .filter(|major| !major.is_empty() && major.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_owned)
        .with_context(|| format!("no `LLVM version: N.x` line in `rustc -vV`:\n{version_info}"))
}

/// The real library, `libLLVM.so.<version>`; the similarly named
/// `libLLVM-<major>-*.so` next to it is a tiny linker script, not a library.
fn find_libllvm(sysroot_lib: &Path) -> Result<PathBuf> {
    let entries =
        fs::read_dir(sysroot_lib).with_context(|| format!("list {}", sysroot_lib.display()))?;
    let mut found = Vec::new();
    for entry in entries {
        let path = entry?.path();
        let is_libllvm = path
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| name.starts_with("libLLVM.so."));
        if is_libllvm && path.is_file() {
            found.push(path);
        }
    }
    match found.as_slice() {
        [library] => Ok(library.clone()),
        [] => bail!(
            "no libLLVM.so.* in {}; reinstall nightly with `rustup toolchain install nightly --force`",
            sysroot_lib.display()
        ),
        _ => bail!(
            "several libLLVM.so.* in {}: {found:?}",
            sysroot_lib.display()
        ),
    }
}

/// `$XDG_CACHE_HOME/scanguard`, else `~/.cache/scanguard`, as the XDG base
/// directory spec says (a relative XDG_CACHE_HOME is to be ignored).
fn cache_dir(xdg_cache_home: Option<PathBuf>, home: Option<PathBuf>) -> Result<PathBuf> {
    let base = match xdg_cache_home.filter(|dir| dir.is_absolute()) {
        Some(dir) => dir,
        None => home
            .context("neither XDG_CACHE_HOME nor HOME is set")?
            .join(".cache"),
    };
    Ok(base.join("scanguard"))
}

fn replace_symlink(target: &Path, link: &Path) -> Result<()> {
    match fs::remove_file(link) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => {
            return Err(error).with_context(|| format!("remove {}", link.display()));
        }
        _ => {}
    }
    symlink(target, link)
        .with_context(|| format!("symlink {} -> {}", link.display(), target.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_llvm_major_from_rustc_version_info() {
        let info = "rustc 1.97.0-nightly\nhost: x86_64-unknown-linux-gnu\nLLVM version: 22.1.4\n";
        assert_eq!(llvm_major(info).unwrap(), "22");
        assert!(llvm_major("rustc 1.97.0-nightly\n").is_err());
    }

    #[test]
    fn picks_the_real_library_and_skips_the_linker_script() {
        let dir = std::env::temp_dir().join(format!("xtask-llvm-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        for name in [
            "libLLVM-22-rust-1.97.0-nightly.so",
            "libLLVM.so.22.1-rust-1.97.0-nightly",
            "librustc_driver-x.so",
        ] {
            fs::write(dir.join(name), b"").unwrap();
        }
        let found = find_libllvm(&dir);
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            found.unwrap(),
            dir.join("libLLVM.so.22.1-rust-1.97.0-nightly")
        );
    }

    #[test]
    fn cache_dir_prefers_an_absolute_xdg_cache_home() {
        let home = Some(PathBuf::from("/home/me"));
        assert_eq!(
            cache_dir(Some("/xdg".into()), home.clone()).unwrap(),
            Path::new("/xdg/scanguard")
        );
        assert_eq!(
            cache_dir(Some("relative".into()), home.clone()).unwrap(),
            Path::new("/home/me/.cache/scanguard")
        );
        assert_eq!(
            cache_dir(None, home).unwrap(),
            Path::new("/home/me/.cache/scanguard")
        );
        assert!(cache_dir(None, None).is_err());
    }
}
