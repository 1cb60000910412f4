//! Which native files the importer can see, and what the others were built for.
//!
//! CPython's `FileFinder` looks for `<module><suffix>` with the suffixes of
//! `importlib.machinery.EXTENSION_SUFFIXES` only. An extension built for
//! another CPU, C library or Python carries that in its name
//! (`_x.cpython-311-aarch64-linux-gnu.so`, `…-x86_64-linux-musl.so`,
//! `_x.cp311-win_amd64.pyd`), so it is never opened: the user gets a
//! `ModuleNotFoundError`, or a silent pure-Python fallback. The suffix is
//! therefore decoded here, independently of the file's content.

use crate::native::platform::{Arch, Libc, Os};

/// How the importer treats a native file's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ModuleFile {
    /// `<module><suffix>` with a suffix this interpreter looks for.
    Visible { module: String },
    /// An extension module name with a suffix this interpreter ignores.
    Invisible { module: String, tag: ForeignTag },
    /// A shared library (`libfoo.so.1`, `*.dylib`, …), loaded only as a
    /// dependency of an extension or through `ctypes`.
    Library,
}

/// What an extension suffix says about its build.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ForeignTag {
    /// The suffix as written, without the extension (`cpython-311-x86_64-linux-gnu`).
    pub(crate) raw: String,
    /// `CPython 3.11`, `stable ABI (abi3)`, `PyPy 3.10`.
    pub(crate) python: Option<String>,
    pub(crate) os: Option<Os>,
    pub(crate) arch: Option<Arch>,
    pub(crate) libc: Option<Libc>,
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// Classifies a file name against the interpreter's `EXTENSION_SUFFIXES`.
pub(crate) fn classify(file_name: &str, suffixes: &[String]) -> ModuleFile {
    for suffix in suffixes {
        if let Some(stem) = file_name.strip_suffix(suffix.as_str())
            && is_identifier(stem)
        {
            return ModuleFile::Visible {
                module: stem.to_string(),
            };
        }
    }
    let body = file_name
        .strip_suffix(".so")
        .or_else(|| file_name.strip_suffix(".pyd"));
    let Some(body) = body else {
        return ModuleFile::Library;
    };
    let (module, raw) = body.split_once('.').unwrap_or((body, ""));
    if !is_identifier(module) {
        return ModuleFile::Library;
    }
    let windows = file_name.ends_with(".pyd");
    let tag = if windows {
        decode_windows(raw)
    } else {
        match decode_unix(raw) {
            Some(tag) => tag,
            None => return ModuleFile::Library,
        }
    };
    ModuleFile::Invisible {
        module: module.to_string(),
        tag,
    }
}

/// `cpython-311-x86_64-linux-gnu`, `cpython-311-darwin`, `abi3`,
/// `pypy310-pp73-x86_64-linux-gnu`; `None` for anything else (`libfoo.so`
/// has no tag and is a library).
fn decode_unix(raw: &str) -> Option<ForeignTag> {
    let mut parts = raw.split('-');
    let abi = parts.next()?;
    let python = if abi == "cpython" {
        let version = parts.next()?;
        let digits: String = version.chars().take_while(char::is_ascii_digit).collect();
        let mut python = format!("CPython {}", dotted(&digits));
        if version[digits.len()..].contains('t') {
            python.push_str(" free-threaded");
        }
        python
    } else if let Some(version) = abi.strip_prefix("pypy") {
        parts.next();
        format!("PyPy {}", dotted(version))
    } else if abi == "abi3" || abi == "abi3t" {
        "stable ABI (abi3)".to_string()
    } else {
        return None;
    };
    let rest: Vec<&str> = parts.collect();
    let (os, arch, libc) = match rest.as_slice() {
        [] => (None, None, None),
        ["darwin"] => (Some(Os::Darwin), None, None),
        [cpu, "linux", env] => (
            Some(Os::Linux),
            Arch::from_name(cpu),
            Some(if env.starts_with("musl") {
                Libc::Musl
            } else {
                Libc::Glibc(None)
            }),
        ),
        _ => (None, None, None),
    };
    Some(ForeignTag {
        raw: raw.to_string(),
        python: Some(python),
        os,
        arch,
        libc,
    })
}

/// `cp311-win_amd64` (or nothing, for a plain `.pyd`).
fn decode_windows(raw: &str) -> ForeignTag {
    let (python, platform) = raw.split_once('-').unwrap_or((raw, ""));
    ForeignTag {
        raw: raw.to_string(),
        python: python
            .strip_prefix("cp")
            .map(|digits| format!("CPython {}", dotted(digits))),
        os: Some(Os::Windows),
        arch: platform.strip_prefix("win_").map_or_else(
            || (platform == "win32").then_some(Arch::I386),
            Arch::from_name,
        ),
        libc: None,
    }
}

/// `311` → `3.11`.
fn dotted(digits: &str) -> String {
    match digits.split_at_checked(1) {
        Some((major, minor)) if !minor.is_empty() => format!("{major}.{minor}"),
        _ => digits.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn suffixes() -> Vec<String> {
        [".cpython-313-x86_64-linux-gnu.so", ".abi3.so", ".so"]
            .map(String::from)
            .to_vec()
    }

    fn invisible(name: &str) -> ForeignTag {
        match classify(name, &suffixes()) {
            ModuleFile::Invisible { tag, .. } => tag,
            other => panic!("{name}: {other:?}"),
        }
    }

    #[test]
    fn the_interpreters_suffixes_make_a_module_visible() {
        for name in [
            "_speedups.cpython-313-x86_64-linux-gnu.so",
            "_psutil_linux.abi3.so",
            "plain.so",
        ] {
            assert!(
                matches!(classify(name, &suffixes()), ModuleFile::Visible { .. }),
                "{name}"
            );
        }
    }

    #[test]
    fn foreign_suffixes_are_decoded() {
        let tag = invisible("_speedups.cpython-311-x86_64-linux-gnu.so");
        assert_eq!(tag.python.as_deref(), Some("CPython 3.11"));
        assert_eq!(tag.arch, Some(Arch::X86_64));
        let tag = invisible("_speedups.cpython-313-aarch64-linux-gnu.so");
        assert_eq!(tag.arch, Some(Arch::Aarch64));
        assert_eq!(tag.libc, Some(Libc::Glibc(None)));
        let tag = invisible("_speedups.cpython-313-x86_64-linux-musl.so");
        assert_eq!(tag.libc, Some(Libc::Musl));
        let tag = invisible("_psutil_osx.cpython-311-darwin.so");
        assert_eq!(tag.os, Some(Os::Darwin));
        let tag = invisible("_psutil_windows.cp311-win_amd64.pyd");
        assert_eq!(
            (tag.os, tag.arch, tag.python.as_deref()),
            (Some(Os::Windows), Some(Arch::X86_64), Some("CPython 3.11"))
        );
        let tag = invisible("_x.cpython-313t-x86_64-linux-gnu.so");
        assert_eq!(tag.python.as_deref(), Some("CPython 3.13 free-threaded"));
    }

    #[test]
    fn libraries_are_not_modules() {
        for name in [
            "libscipy_openblas64_-ff651d7f.so",
            "libgfortran-040039e1.so.5.0.0",
            "libssl.so.3",
            "libfoo.dylib",
        ] {
            assert_eq!(classify(name, &suffixes()), ModuleFile::Library, "{name}");
        }
    }
}
