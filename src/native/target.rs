//! What every native file must fit: the interpreter the server runs.
//!
//! The expected architecture comes from the interpreter's own ELF header, not
//! from `platform.machine()`: a 32-bit userland on a 64-bit kernel, or an
//! emulated interpreter, reports the kernel's machine while it can only load
//! its own. The C library comes from the interpreter's program loader
//! (`ld-musl-*` or `ld-linux-*`), its version from the facts query.

use std::fs;
use std::path::Path;

use crate::interpreter::PythonFacts;
use crate::native::header::{self, Content};
use crate::native::platform::{ElfIdentity, Libc, Os, Target, glibc_pair};

/// The running interpreter, as native files see it.
#[derive(Debug, Clone)]
pub(crate) struct Interpreter {
    pub(crate) target: Target,
    pub(crate) identity: ElfIdentity,
    /// (major, minor).
    pub(crate) python: (u32, u32),
    /// `sys.abiflags`, as the extension suffix spells it (`t`, `d`, or empty).
    pub(crate) abi_flags: String,
    pub(crate) free_threaded: bool,
    /// `importlib.machinery.EXTENSION_SUFFIXES`.
    pub(crate) suffixes: Vec<String>,
}

impl Interpreter {
    /// Reads the interpreter's executable; `Err` says why the native checks
    /// cannot run (a non-ELF interpreter, an unreadable file).
    pub(crate) fn from_facts(python: &PythonFacts) -> Result<Interpreter, String> {
        let executable = fs::canonicalize(Path::new(&python.executable))
            .map_err(|err| format!("{}: {err}", python.executable))?;
        let inspection = header::inspect(&executable)
            .map_err(|err| format!("{}: {err}", executable.display()))?;
        let Content::Elf(facts) = inspection.content else {
            return Err(format!("{} is not an ELF executable", executable.display()));
        };
        let libc = match facts.libc() {
            Some(Libc::Musl) => Libc::Musl,
            _ => Libc::Glibc(python.glibc.clone()),
        };
        let mut version = python
            .version
            .split('.')
            .map(|part| part.parse::<u32>().unwrap_or(0));
        let major = version.next().unwrap_or(3);
        let minor = version.next().unwrap_or(0);
        // EXT_SUFFIX is `.cpython-313t-x86_64-linux-gnu.so`: the flags follow the digits.
        let abi_flags: String = python
            .ext_suffix
            .as_deref()
            .and_then(|suffix| suffix.strip_prefix(".cpython-"))
            .map(|rest| {
                rest.trim_start_matches(|c: char| c.is_ascii_digit())
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase())
                    .collect()
            })
            .unwrap_or_default();
        let free_threaded = abi_flags.contains('t');
        let mut described = format!("CPython {major}.{minor}");
        if free_threaded {
            described.push_str(" free-threaded");
        }
        Ok(Interpreter {
            target: Target {
                os: Os::Linux,
                arch: facts.identity.arch(),
                identity: Some(facts.identity),
                libc: Some(libc),
                python: Some(described),
            },
            identity: facts.identity,
            python: (major, minor),
            abi_flags,
            free_threaded,
            suffixes: python.extension_suffixes.clone(),
        })
    }

    /// `--platform` values for `pip install --target` that select wheels this
    /// interpreter loads. pip does not widen `--platform` to older manylinux
    /// versions (pypa/pip#10760), so the two common ones that fit are named.
    pub(crate) fn pip_platforms(&self) -> String {
        let arch = self.target.arch.wheel();
        let policies: &[&str] = match &self.target.libc {
            Some(Libc::Musl) => &["musllinux_1_1", "musllinux_1_2"],
            Some(Libc::Glibc(Some(version)))
                if glibc_pair(version).is_some_and(|pair| pair < (2, 28)) =>
            {
                &["manylinux2014"]
            }
            _ => &["manylinux2014", "manylinux_2_28"],
        };
        policies
            .iter()
            .map(|policy| format!("--platform {policy}_{arch}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}
