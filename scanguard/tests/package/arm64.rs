//! The arm64 package: an aarch64 binary that runs `--version` and `config check` under Debian's
//! qemu-user-static, with the same eBPF object inside as the amd64 one.

use std::{collections::BTreeMap, path::Path, process::Command};

use crate::{TempDir, package, stdout};

#[test]
fn the_arm64_package_runs_under_qemu_and_embeds_the_same_ebpf_object() {
    let deb = package("arm64");
    let architecture = stdout(
        Command::new("dpkg-deb")
            .arg("--field")
            .arg(&deb)
            .arg("Architecture"),
    );
    assert_eq!(architecture.trim(), "arm64");
    let dir = TempDir::unpacked("arm64", &deb, false);
    let binary = dir.0.join("usr/bin/scanguard");
    let kind = stdout(Command::new("file").arg("--brief").arg(&binary));
    assert!(kind.contains("ARM aarch64"), "{kind}");

    // Dynamically linked: qemu finds the loader and libc of the cross toolchain there.
    let qemu = |args: &[&str]| {
        stdout(
            Command::new("qemu-aarch64-static")
                .args(["-L", "/usr/aarch64-linux-gnu"])
                .arg(&binary)
                .args(args),
        )
    };
    assert_eq!(
        qemu(&["--version"]).trim(),
        format!("scanguard {}", env!("CARGO_PKG_VERSION"))
    );
    let config = dir.0.join("etc/scanguard/scanguard.toml");
    let checked = qemu(&["config", "check", &config.to_string_lossy()]);
    assert!(checked.contains(": ok\n"), "{checked}");

    // The XDP program is built for bpfel whatever the userspace's architecture.
    let amd64 = TempDir::unpacked("amd64", &package("amd64"), false);
    let object = |binary: &Path| {
        let bytes = std::fs::read(binary).unwrap();
        let objects = bpf_objects(&bytes);
        assert_eq!(objects.len(), 1, "one eBPF object in {}", binary.display());
        sections(objects[0])
    };
    let on_arm64 = object(&binary);
    assert!(on_arm64.contains_key("xdp") && on_arm64.contains_key("maps"));
    assert!(!on_arm64[".BTF"].is_empty(), "the object keeps its BTF");
    // Code, maps and relocations are the same bytes; the debug info and BTF differ only in
    // the build's paths (the target triple is part of OUT_DIR).
    let loaded = |sections: BTreeMap<String, Vec<u8>>| {
        sections
            .into_iter()
            .filter(|(name, _)| !name.contains(".debug") && !name.contains(".BTF"))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(
        loaded(on_arm64),
        loaded(object(&amd64.0.join("usr/bin/scanguard")))
    );
}

/// The ELF objects for BPF (64-bit, little-endian, relocatable, EM_BPF) embedded in a binary,
/// whole: from their header to the end of their section header table.
fn bpf_objects(binary: &[u8]) -> Vec<&[u8]> {
    const EM_BPF: u16 = 247;
    let mut objects = Vec::new();
    for start in 1..binary.len().saturating_sub(64) {
        let header = &binary[start..];
        if header[..6] != *b"\x7fELF\x02\x01" || half(header, 16) != 1 || half(header, 18) != EM_BPF
        {
            continue;
        }
        let end = usize::try_from(word(header, 0x28)).unwrap()
            + usize::from(half(header, 0x3a)) * usize::from(half(header, 0x3c));
        objects.push(&header[..end]);
    }
    objects
}

/// An ELF object's sections by name (SHT_NOBITS ones empty).
fn sections(object: &[u8]) -> BTreeMap<String, Vec<u8>> {
    const SHT_NOBITS: u32 = 8;
    let offset = usize::try_from(word(object, 0x28)).unwrap();
    let (size, count) = (
        usize::from(half(object, 0x3a)),
        usize::from(half(object, 0x3c)),
    );
    let header = |index: usize| &object[offset + index * size..][..size];
    let names = header(usize::from(half(object, 0x3e)));
    let names = &object[usize::try_from(word(names, 0x18)).unwrap()..];
    (0..count)
        .map(|index| {
            let section = header(index);
            let name = &names
                [usize::try_from(u32::from_le_bytes(section[..4].try_into().unwrap())).unwrap()..];
            let name = String::from_utf8_lossy(&name[..name.iter().position(|&b| b == 0).unwrap()]);
            let start = usize::try_from(word(section, 0x18)).unwrap();
            let length = usize::try_from(word(section, 0x20)).unwrap();
            let kind = u32::from_le_bytes(section[4..8].try_into().unwrap());
            let bytes = match kind {
                SHT_NOBITS => Vec::new(),
                _ => object[start..start + length].to_vec(),
            };
            (name.into_owned(), bytes)
        })
        .collect()
}

fn half(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn word(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
}
