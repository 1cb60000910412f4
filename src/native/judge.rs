//! The verdict on one native file: will the importer and the loader accept it
//! in this interpreter, and if not, how sure is that?
//!
//! Checks run in the loader's order: is it a binary at all, its CPU (class,
//! byte order, machine), the header fields glibc validates, the C library,
//! whether its segments are all in the file, and the glibc symbol versions it
//! needs. An extension whose suffix the importer ignores is never opened; it
//! is judged by what its content and its name say it was built for.

use crate::native::header::{Content, ElfFacts};
use crate::native::platform::{Libc, Os, Target, glibc_pair};
use crate::native::suffix::{ForeignTag, ModuleFile};
use crate::native::target::Interpreter;

/// How a file reaches the loader, which decides how sure a finding is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reach {
    /// An extension module: opened by `import` (when visible).
    Extension(ModuleFile),
    /// A library in a wheel's `*.libs/` directory: loaded as a dependency of
    /// the wheel's extensions.
    Bundled,
    /// Any other shared library: loaded only if package code chooses it
    /// (`ctypes`, a platform switch), so findings are not certain.
    Other,
}

impl Reach {
    /// Findings on core files are errors; on others, warnings.
    pub(crate) fn is_core(&self) -> bool {
        !matches!(self, Reach::Other)
    }
}

/// Why a file will not load here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Problem {
    Architecture(Target),
    WrongPython(Target),
    Libc(Target),
    Truncated {
        needed: u64,
        size: u64,
    },
    /// What the file is, and the loader's words for refusing it.
    Corrupt {
        content: String,
        loader: String,
    },
    GlibcTooOld((u32, u32)),
    /// A FIFO, a device, a socket or a directory where a library should be.
    NotRegular(&'static str),
}

/// Judges a file whose content is `content` and size `size`. `None`: loadable
/// as far as headers tell, or never loaded on this system.
pub(crate) fn judge(
    reach: &Reach,
    content: &Content,
    size: u64,
    interpreter: &Interpreter,
) -> Option<Problem> {
    let tag = match reach {
        Reach::Extension(ModuleFile::Invisible { tag, .. }) => Some(tag),
        _ => None,
    };
    match content {
        Content::NotRegular(kind) => Some(Problem::NotRegular(kind)),
        Content::TooShort | Content::NotBinary(_) if tag.is_some() => by_name(tag?, interpreter),
        Content::TooShort => Some(corrupt("shorter than any binary header", "file too short")),
        Content::NotBinary(what) => Some(corrupt(what, "invalid ELF header")),
        Content::MachO(arches) => {
            let found = foreign_os(Os::Darwin, arches.first().copied().flatten(), tag);
            matches!(reach, Reach::Extension(_)).then_some(Problem::Architecture(found))
        }
        Content::Pe(arch) => {
            let found = foreign_os(Os::Windows, *arch, tag);
            matches!(reach, Reach::Extension(_)).then_some(Problem::Architecture(found))
        }
        Content::Elf(facts) => judge_elf(reach, facts, size, tag, interpreter),
    }
}

fn corrupt(content: &str, loader: &str) -> Problem {
    Problem::Corrupt {
        content: content.to_string(),
        loader: loader.to_string(),
    }
}

/// A Mach-O or PE binary, described for the "Found" line.
fn foreign_os(
    os: Os,
    arch: Option<crate::native::platform::Arch>,
    tag: Option<&ForeignTag>,
) -> Target {
    Target {
        os,
        arch: arch.unwrap_or(crate::native::platform::Arch::Other),
        identity: None,
        libc: None,
        python: tag.and_then(|tag| tag.python.clone()),
    }
}

fn judge_elf(
    reach: &Reach,
    facts: &ElfFacts,
    size: u64,
    tag: Option<&ForeignTag>,
    interpreter: &Interpreter,
) -> Option<Problem> {
    let libc = facts
        .libc()
        .or_else(|| tag.and_then(|tag| tag.libc.clone()));
    let found = Target {
        os: Os::Linux,
        arch: facts.identity.arch(),
        identity: Some(facts.identity),
        libc: libc.clone(),
        python: tag.and_then(|tag| tag.python.clone()),
    };
    if facts.identity != interpreter.identity {
        return Some(Problem::Architecture(found));
    }
    if let Some(problem) = &facts.header_problem {
        return Some(corrupt(
            "an ELF file with a header the loader rejects",
            problem,
        ));
    }
    if facts.executable {
        // Programs shipped in packages (torch/bin/protoc) are run, not loaded.
        return matches!(reach, Reach::Extension(ModuleFile::Visible { .. })).then(|| {
            corrupt(
                "a program, not a shared library",
                "cannot dynamically load executable",
            )
        });
    }
    let host_libc = interpreter.target.libc.as_ref()?;
    if let Some(libc) = &libc
        && !libc.same_family(host_libc)
    {
        return Some(Problem::Libc(found));
    }
    if let Some(needed) = facts.truncated_at {
        return Some(Problem::Truncated { needed, size });
    }
    if let Some(tag) = tag {
        return by_name(tag, interpreter);
    }
    let host_glibc = match host_libc {
        Libc::Glibc(Some(version)) => glibc_pair(version),
        _ => None,
    };
    match (facts.glibc_required, host_glibc) {
        (Some(needed), Some(host)) if needed > host => Some(Problem::GlibcTooOld(needed)),
        _ => None,
    }
}

/// An extension the importer does not see, judged by its suffix: built for
/// another OS or CPU, another C library, or another Python.
fn by_name(tag: &ForeignTag, interpreter: &Interpreter) -> Option<Problem> {
    let found = Target {
        os: tag.os.unwrap_or(Os::Linux),
        arch: tag.arch.unwrap_or(interpreter.target.arch),
        identity: None,
        libc: tag.libc.clone(),
        python: tag.python.clone(),
    };
    let host = &interpreter.target;
    if found.os != Os::Linux || found.arch != host.arch {
        return Some(Problem::Architecture(found));
    }
    if let (Some(libc), Some(host_libc)) = (&tag.libc, &host.libc)
        && !libc.same_family(host_libc)
    {
        return Some(Problem::Libc(found));
    }
    Some(Problem::WrongPython(found))
}
