//! What a native file is built for, and the names people use for it.
//!
//! Machines are compared as the loader compares them: ELF class, byte order
//! and `e_machine` together. They are shown the way `docker build --platform`
//! and Kubernetes' `kubernetes.io/arch` spell them (`linux/amd64`), with the
//! `uname` spelling pip's wheel tags use (`x86_64`) in parentheses, so that
//! the message names the value each fix needs.

use std::fmt;

use object::elf;

/// A CPU family as the wheel, container and loader worlds know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arch {
    X86_64,
    Aarch64,
    I386,
    Armv7,
    Ppc64le,
    Ppc64,
    S390x,
    Riscv64,
    Loongarch64,
    /// An ELF machine without a container platform name.
    Other,
}

impl Arch {
    /// The container platform's architecture (`docker build --platform linux/<this>`).
    pub(crate) fn oci(self) -> &'static str {
        match self {
            Arch::X86_64 => "amd64",
            Arch::Aarch64 => "arm64",
            Arch::I386 => "386",
            Arch::Armv7 => "arm/v7",
            Arch::Ppc64le => "ppc64le",
            Arch::Ppc64 => "ppc64",
            Arch::S390x => "s390x",
            Arch::Riscv64 => "riscv64",
            Arch::Loongarch64 => "loong64",
            Arch::Other => "unknown",
        }
    }

    /// The `uname -m` spelling, which wheel platform tags use.
    pub(crate) fn wheel(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
            Arch::I386 => "i686",
            Arch::Armv7 => "armv7l",
            Arch::Ppc64le => "ppc64le",
            Arch::Ppc64 => "ppc64",
            Arch::S390x => "s390x",
            Arch::Riscv64 => "riscv64",
            Arch::Loongarch64 => "loongarch64",
            Arch::Other => "unknown",
        }
    }

    /// The CPU part of a CPython multiarch triple (`aarch64-linux-gnu`) or of
    /// a wheel platform tag.
    pub(crate) fn from_name(name: &str) -> Option<Arch> {
        Some(match name {
            "x86_64" | "amd64" => Arch::X86_64,
            "aarch64" | "arm64" => Arch::Aarch64,
            "i386" | "i486" | "i586" | "i686" | "x86" | "win32" => Arch::I386,
            "arm" | "armv7l" | "armv7" => Arch::Armv7,
            "powerpc64le" | "ppc64le" => Arch::Ppc64le,
            "powerpc64" | "ppc64" => Arch::Ppc64,
            "s390x" => Arch::S390x,
            "riscv64" => Arch::Riscv64,
            "loongarch64" => Arch::Loongarch64,
            _ => return None,
        })
    }
}

/// What the loader compares before it maps an ELF file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ElfIdentity {
    /// `EI_CLASS`: 1 for 32-bit, 2 for 64-bit.
    pub(crate) class: u8,
    /// `EI_DATA`: 1 little-endian, 2 big-endian.
    pub(crate) data: u8,
    pub(crate) machine: u16,
}

impl ElfIdentity {
    pub(crate) fn arch(self) -> Arch {
        let little = self.data == elf::ELFDATA2LSB.0;
        let wide = self.class == elf::ELFCLASS64.0;
        match elf::Machine(self.machine) {
            elf::EM_X86_64 if wide && little => Arch::X86_64,
            elf::EM_AARCH64 if wide && little => Arch::Aarch64,
            elf::EM_386 if !wide && little => Arch::I386,
            elf::EM_ARM if !wide && little => Arch::Armv7,
            elf::EM_PPC64 if wide && little => Arch::Ppc64le,
            elf::EM_PPC64 if wide => Arch::Ppc64,
            elf::EM_S390 if wide && !little => Arch::S390x,
            elf::EM_RISCV if wide && little => Arch::Riscv64,
            elf::EM_LOONGARCH if wide && little => Arch::Loongarch64,
            _ => Arch::Other,
        }
    }

    /// `64-bit little-endian, ELF machine 62`: for machines without a name.
    pub(crate) fn describe(self) -> String {
        let bits = if self.class == elf::ELFCLASS64.0 {
            64
        } else {
            32
        };
        let order = if self.data == elf::ELFDATA2MSB.0 {
            "big"
        } else {
            "little"
        };
        format!("{bits}-bit {order}-endian, ELF machine {}", self.machine)
    }
}

/// The operating system a binary format belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Os {
    Linux,
    Darwin,
    Windows,
}

impl Os {
    fn name(self) -> &'static str {
        match self {
            Os::Linux => "linux",
            Os::Darwin => "darwin",
            Os::Windows => "windows",
        }
    }
}

/// Which C library a Linux binary was linked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Libc {
    /// glibc, with the version when known.
    Glibc(Option<String>),
    Musl,
}

impl Libc {
    pub(crate) fn same_family(&self, other: &Libc) -> bool {
        matches!(
            (self, other),
            (Libc::Glibc(_), Libc::Glibc(_)) | (Libc::Musl, Libc::Musl)
        )
    }
}

impl fmt::Display for Libc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Libc::Glibc(Some(version)) => write!(f, "glibc {version}"),
            Libc::Glibc(None) => f.write_str("glibc"),
            Libc::Musl => f.write_str("musl"),
        }
    }
}

/// `2.36` → (2, 36).
pub(crate) fn glibc_pair(version: &str) -> Option<(u32, u32)> {
    let (major, minor) = version.split_once('.')?;
    Some((major.parse().ok()?, minor.split('.').next()?.parse().ok()?))
}

/// Everything known about what one binary (or the interpreter) is built for:
/// `linux/amd64 (x86_64, glibc 2.36, CPython 3.13)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) os: Os,
    pub(crate) arch: Arch,
    /// Shown instead of the architecture's name when it has none.
    pub(crate) identity: Option<ElfIdentity>,
    pub(crate) libc: Option<Libc>,
    /// `CPython 3.13`, `stable ABI (abi3)`, …
    pub(crate) python: Option<String>,
}

impl Target {
    /// `linux/amd64`: the value `docker build --platform` takes.
    pub(crate) fn platform(&self) -> String {
        format!("{}/{}", self.os.name(), self.arch.oci())
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = vec![match (self.arch, self.identity) {
            (Arch::Other, Some(identity)) => identity.describe(),
            (arch, _) => arch.wheel().to_string(),
        }];
        parts.extend(self.libc.as_ref().map(Libc::to_string));
        parts.extend(self.python.clone());
        write!(f, "{} ({})", self.platform(), parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_read_like_container_platforms_with_details() {
        let target = Target {
            os: Os::Linux,
            arch: Arch::X86_64,
            identity: None,
            libc: Some(Libc::Glibc(Some("2.36".into()))),
            python: Some("CPython 3.13".into()),
        };
        assert_eq!(
            target.to_string(),
            "linux/amd64 (x86_64, glibc 2.36, CPython 3.13)"
        );
        let unknown = ElfIdentity {
            class: 2,
            data: 2,
            machine: 9999,
        };
        let target = Target {
            arch: unknown.arch(),
            identity: Some(unknown),
            libc: None,
            python: None,
            ..target
        };
        assert_eq!(
            target.to_string(),
            "linux/unknown (64-bit big-endian, ELF machine 9999)"
        );
    }

    #[test]
    fn the_machine_alone_does_not_decide_the_architecture() {
        let arch = |class, data, machine| {
            ElfIdentity {
                class,
                data,
                machine,
            }
            .arch()
        };
        assert_eq!(arch(2, 1, 62), Arch::X86_64);
        assert_eq!(arch(1, 1, 62), Arch::Other); // x32
        assert_eq!(arch(2, 1, 21), Arch::Ppc64le);
        assert_eq!(arch(2, 2, 21), Arch::Ppc64);
        assert_eq!(arch(2, 2, 22), Arch::S390x);
        assert_eq!(Arch::from_name("powerpc64le"), Some(Arch::Ppc64le));
        assert_eq!(Arch::from_name("sparc"), None);
    }
}
