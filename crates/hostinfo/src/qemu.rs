//! The QEMU binary's version, from `qemu-system-* --version`.

use std::path::Path;
use std::process::Command;

use serde::Serialize;

use crate::error::{Error, Result};

/// A QEMU version such as `7.2.22`, with the full first line of the banner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QemuVersion {
    pub major: u32,
    pub minor: u32,
    pub micro: u32,
    /// The banner's first line, e.g. `QEMU emulator version 7.2.22 (Debian ...)`.
    pub banner: String,
}

impl std::fmt::Display for QemuVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.micro)
    }
}

/// Parses the output of `qemu-system-x86_64 --version`.
pub fn parse_qemu_version(output: &str) -> Option<QemuVersion> {
    let line = output
        .lines()
        .find(|l| l.contains("QEMU") && l.contains("version "))?
        .trim();
    let after = line.split_once("version ")?.1;
    let number = after.split_whitespace().next()?;
    let mut parts = number.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let micro = match parts.next() {
        Some(p) => p.parse().ok()?,
        None => 0,
    };
    Some(QemuVersion {
        major,
        minor,
        micro,
        banner: line.to_owned(),
    })
}

/// Runs `binary --version` and parses its output.
pub fn qemu_version(binary: &Path) -> Result<QemuVersion> {
    let out = Command::new(binary)
        .arg("--version")
        .output()
        .map_err(|source| Error::QemuRun {
            binary: binary.to_owned(),
            source,
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_qemu_version(&text).ok_or_else(|| Error::QemuVersion {
        binary: binary.to_owned(),
        output: text.trim().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_debian_banner() {
        let text = "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\n\
Copyright (c) 2003-2022 Fabrice Bellard and the QEMU Project developers\n";
        let v = parse_qemu_version(text).expect("valid banner");
        assert_eq!((v.major, v.minor, v.micro), (7, 2, 22));
        assert_eq!(v.to_string(), "7.2.22");
        assert!(v.banner.starts_with("QEMU emulator version 7.2.22"));
    }

    #[test]
    fn parses_two_part_version() {
        let v = parse_qemu_version("QEMU emulator version 8.0\n").expect("valid");
        assert_eq!((v.major, v.minor, v.micro), (8, 0, 0));
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(parse_qemu_version("hello world"), None);
        assert_eq!(parse_qemu_version("QEMU emulator version x.y"), None);
    }

    #[test]
    fn missing_binary_is_an_error_naming_it() {
        let err =
            qemu_version(Path::new("/nonexistent/qemu-system-x86_64")).expect_err("must fail");
        assert!(err.to_string().contains("/nonexistent/qemu-system-x86_64"));
    }

    #[test]
    fn non_qemu_binary_is_an_error() {
        // `true --version` prints nothing (or a coreutils banner without a QEMU version).
        let err = qemu_version(Path::new("/bin/true")).expect_err("must fail");
        assert!(matches!(err, Error::QemuVersion { .. }), "{err}");
    }
}
