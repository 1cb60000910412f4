//! The native-code phase (FR-008a–d): before a provider is imported, find
//! every compiled file its import will load and prove it fits this interpreter.
//!
//! The scope is the provider's distribution (found from its import name, see
//! [`locate`]) and the closure of its `Requires-Dist`, markers evaluated for
//! the target interpreter; in-tree providers scan llama-stack's own closure.
//! Each distribution's native files come from its `RECORD` (a walk only for
//! files no distribution owns) and are read header-only ([`header`]). Every
//! distribution and file is judged once per run, however many providers
//! share it.
//!
//! Severity: a finding that makes the import fail whenever the file is
//! loaded, on a file the import reaches (an extension module, or a library
//! in a wheel's `*.libs/`), is an error; anything less certain (a library only
//! `ctypes` might load, a size that differs from `RECORD`, tags that disagree
//! with content, `Requires-Python`) is a warning. So is a library that a
//! loaded file needs and the loader will not find ([`loader`]): a package may
//! load it itself first.

mod header;
mod judge;
mod loader;
mod locate;
mod platform;
mod suffix;
mod target;
mod wheel;

use std::collections::{BTreeSet, HashMap};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use miette::Diagnostic;
use pep508_rs::pep440_rs::{Version, VersionSpecifiers};
use thiserror::Error;

use crate::config::ProviderEntry;
use crate::diagnostics::{Phase, PhaseError, Warning, inline};
use crate::import;
use crate::installed::{self, Distribution, InstalledDistributions};
use crate::interpreter::InterpreterFacts;
use crate::native::header::{Content, ElfFacts, Inspection};
use crate::native::judge::{Problem, Reach};
use crate::native::loader::LibrarySearch;
use crate::native::platform::{Libc, Os};
use crate::native::suffix::ModuleFile;
use crate::native::target::Interpreter;

/// Warning codes of this phase.
mod codes {
    pub(super) const SKIPPED: &str = "preflight::native::skipped";
    pub(super) const UNCERTAIN: &str = "preflight::native::uncertain_file";
    pub(super) const RECORD_MISMATCH: &str = "preflight::native::record_mismatch";
    pub(super) const UNSUPPORTED_TAG: &str = "preflight::native::unsupported_wheel_tag";
    pub(super) const REQUIRES_PYTHON: &str = "preflight::native::requires_python";
    pub(super) const UNREADABLE: &str = "preflight::native::unreadable";
    pub(super) const LIBRARY_NOT_FOUND: &str = "preflight::native::library_not_found";
}

/// A native file that will not load, as the error block shows it.
#[derive(Debug)]
pub(crate) struct Finding {
    /// The wheel file name, or the file's path when no distribution owns it.
    pub(crate) package: String,
    /// The file, relative to its `sys.path` entry; `None` when `package` is the path.
    pub(crate) file: Option<String>,
    /// `Label: value` lines after `Package:` and `File:`.
    pub(crate) facts: Vec<(&'static str, String)>,
    /// What Python would do with the file.
    pub(crate) consequence: String,
}

#[derive(Debug, Error, Diagnostic)]
pub(crate) enum NativeError {
    #[error("Native extension architecture mismatch")]
    #[diagnostic(code(preflight::native::architecture_mismatch), help("{resolution}"))]
    ArchitectureMismatch {
        finding: Box<Finding>,
        resolution: String,
    },

    #[error("Native extension built for another Python")]
    #[diagnostic(code(preflight::native::wrong_python), help("{resolution}"))]
    WrongPython {
        finding: Box<Finding>,
        resolution: String,
    },

    #[error("Native extension built for another C library")]
    #[diagnostic(code(preflight::native::libc_mismatch), help("{resolution}"))]
    LibcMismatch {
        finding: Box<Finding>,
        resolution: String,
    },

    #[error("Native file is truncated")]
    #[diagnostic(code(preflight::native::truncated), help("{resolution}"))]
    Truncated {
        finding: Box<Finding>,
        resolution: String,
    },

    #[error("Native file is not a loadable shared library")]
    #[diagnostic(code(preflight::native::corrupt), help("{resolution}"))]
    Corrupt {
        finding: Box<Finding>,
        resolution: String,
    },

    #[error("Native extension needs a newer glibc")]
    #[diagnostic(code(preflight::native::glibc_too_old), help("{resolution}"))]
    GlibcTooOld {
        finding: Box<Finding>,
        resolution: String,
    },
}

impl NativeError {
    fn finding(&self) -> &Finding {
        match self {
            NativeError::ArchitectureMismatch { finding, .. }
            | NativeError::WrongPython { finding, .. }
            | NativeError::LibcMismatch { finding, .. }
            | NativeError::Truncated { finding, .. }
            | NativeError::Corrupt { finding, .. }
            | NativeError::GlibcTooOld { finding, .. } => finding,
        }
    }
}

impl PhaseError for NativeError {
    fn phase(&self) -> Phase {
        Phase::Native
    }

    fn details(&self) -> Option<String> {
        let finding = self.finding();
        // Names come from the package's own files and may hold line breaks.
        let mut text = format!("Package: {}\n", inline(&finding.package));
        if let Some(file) = &finding.file {
            text.push_str(&format!("File: {}\n", inline(file)));
        }
        for (label, value) in &finding.facts {
            text.push_str(&format!("{label}: {}\n", inline(value)));
        }
        text.push_str(&format!("\n{}", inline(&finding.consequence)));
        Some(text)
    }
}

/// What reading cost, for `-v` and the benchmark.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ScanStats {
    pub(crate) distributions: usize,
    pub(crate) files: usize,
    pub(crate) bytes_read: u64,
    pub(crate) elapsed: Duration,
}

/// A native file of a distribution (or of an unowned package directory).
struct NativeFile {
    path: PathBuf,
    /// Relative to the `sys.path` entry.
    relative: String,
    recorded_size: Option<u64>,
    reach: Reach,
}

/// A file the import loads, whose `DT_NEEDED` libraries are looked up once
/// the provider's whole closure (and so every library it ships) is known.
struct Linked {
    path: PathBuf,
    relative: String,
    package: String,
    facts: Box<ElfFacts>,
}

/// Who a finding is about, for messages and `pip` lines.
struct Owner {
    package: String,
    /// `name==version`, when a distribution owns the file.
    requirement: Option<String>,
}

/// The phase's state for one run: the interpreter, the installed
/// distributions, and what was already judged.
pub(crate) struct Checker {
    interpreter: Result<Interpreter, String>,
    facts_version: String,
    machine: String,
    llama_stack: String,
    sys_path: Vec<String>,
    installed: Option<InstalledDistributions>,
    /// Distribution metadata directories and unowned paths already judged.
    judged: BTreeSet<PathBuf>,
    /// `(st_dev, st_ino)` → what the file's headers say.
    files: HashMap<(u64, u64), (Content, u64)>,
    skipped_warned: bool,
    stats: ScanStats,
    /// Where the loader looks, read when first needed.
    libraries: Option<LibrarySearch>,
    /// The file names of every native file scanned so far.
    shipped: BTreeSet<String>,
    linked: Vec<Linked>,
}

impl Checker {
    pub(crate) fn new(facts: &InterpreterFacts) -> Checker {
        Checker {
            interpreter: Interpreter::from_facts(&facts.python),
            facts_version: facts.python.version.clone(),
            machine: facts.python.machine.clone(),
            llama_stack: facts.llama_stack.distribution.name().to_string(),
            sys_path: facts.python.sys_path.clone(),
            installed: None,
            judged: BTreeSet::new(),
            files: HashMap::new(),
            skipped_warned: false,
            stats: ScanStats::default(),
            libraries: None,
            shipped: BTreeSet::new(),
            linked: Vec::new(),
        }
    }

    /// Totals for the whole run.
    pub(crate) fn stats(&self) -> ScanStats {
        self.stats
    }

    /// Checks every native file `entry`'s import will load.
    pub(crate) fn check(
        &mut self,
        entry: &ProviderEntry,
        warnings: &mut Vec<Warning>,
    ) -> Result<(), NativeError> {
        let interpreter = match &self.interpreter {
            Ok(interpreter) => interpreter.clone(),
            Err(reason) => {
                if !std::mem::replace(&mut self.skipped_warned, true) {
                    warnings.push(Warning {
                        provider_id: None,
                        code: codes::SKIPPED,
                        message: format!(
                            "native extensions were not checked: the interpreter cannot be read ({reason})"
                        ),
                        mismatch: None,
                    });
                }
                return Ok(());
            }
        };
        let started = Instant::now();
        let before = self.stats;
        let installed = self
            .installed
            .take()
            .unwrap_or_else(|| InstalledDistributions::scan(&self.sys_path));
        let result = self.check_with(entry, &interpreter, &installed, warnings);
        self.installed = Some(installed);
        self.stats.elapsed += started.elapsed();
        tracing::info!(
            provider = entry.display_id(),
            distributions = self.stats.distributions - before.distributions,
            files = self.stats.files - before.files,
            bytes_read = self.stats.bytes_read - before.bytes_read,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "native checks"
        );
        result
    }

    fn check_with(
        &mut self,
        entry: &ProviderEntry,
        interpreter: &Interpreter,
        installed: &InstalledDistributions,
        warnings: &mut Vec<Warning>,
    ) -> Result<(), NativeError> {
        let mut roots: Vec<&Distribution> = Vec::new();
        let mut unowned: Vec<locate::Location> = Vec::new();
        match &entry.module {
            Some(module) => {
                let import_name = import::import_name(module);
                let top_level = import_name.split('.').next().unwrap_or(import_name);
                for location in locate::locate(&self.sys_path, top_level, &interpreter.suffixes) {
                    match installed.owner(&location.root, top_level) {
                        Some(distribution) => roots.push(distribution),
                        None => unowned.push(location),
                    }
                }
            }
            None => roots.extend(installed.get(&self.llama_stack)),
        }
        for location in unowned {
            if self.judged.insert(location.path.clone()) {
                self.check_unowned(&location, interpreter, entry, warnings)?;
            }
        }
        if roots.is_empty() {
            tracing::debug!(
                provider = entry.display_id(),
                "no distribution owns the provider"
            );
        }
        // Without a marker environment (an unparsable version) only the roots are known.
        let closure = match installed::marker_environment(&self.facts_version, &self.machine) {
            Some(environment) => installed.closure(&roots, &environment),
            None => roots,
        };
        for distribution in closure {
            if self.judged.insert(distribution.info_dir.clone()) {
                self.check_distribution(distribution, interpreter, entry, warnings)?;
            }
        }
        self.look_up_libraries(entry, warnings);
        Ok(())
    }

    /// Warns about each library a loaded file needs that the loader will not
    /// find (see [`loader`]).
    fn look_up_libraries(&mut self, entry: &ProviderEntry, warnings: &mut Vec<Warning>) {
        if self.linked.is_empty() {
            return;
        }
        let machine = &self.machine;
        let libraries = self.libraries.get_or_insert_with(|| {
            let ld_library_path = std::env::var_os("LD_LIBRARY_PATH");
            let multiarch = format!("{machine}-linux-gnu");
            LibrarySearch::new(Path::new("/"), ld_library_path.as_deref(), Some(&multiarch))
        });
        for linked in std::mem::take(&mut self.linked) {
            for library in libraries.missing(&linked.path, &linked.facts, &self.shipped) {
                warnings.push(warning(
                    entry,
                    codes::LIBRARY_NOT_FOUND,
                    format!(
                        "{} ({}) needs {library}, which the dynamic loader will not find (its RPATH/RUNPATH, LD_LIBRARY_PATH, the ld.so.conf directories and the system library directories were searched): loading it fails unless the package loads {library} itself first. Install the system package that provides {library} in the image",
                        linked.relative, linked.package
                    ),
                ));
            }
        }
    }

    fn check_unowned(
        &mut self,
        location: &locate::Location,
        interpreter: &Interpreter,
        entry: &ProviderEntry,
        warnings: &mut Vec<Warning>,
    ) -> Result<(), NativeError> {
        let paths = locate::walk_native_files(&location.path);
        let relative: Vec<String> = paths
            .iter()
            .map(|path| relative_to(path, &location.root))
            .collect();
        let files = native_files(
            &location.root,
            relative.iter().map(|r| (r.as_str(), None)),
            interpreter,
        );
        for file in files {
            let owner = Owner {
                package: file.path.display().to_string(),
                requirement: None,
            };
            self.check_file(&file, &owner, interpreter, entry, warnings)?;
        }
        Ok(())
    }

    fn check_distribution(
        &mut self,
        distribution: &Distribution,
        interpreter: &Interpreter,
        entry: &ProviderEntry,
        warnings: &mut Vec<Warning>,
    ) -> Result<(), NativeError> {
        self.stats.distributions += 1;
        let tags = wheel::tags(distribution);
        let owner = Owner {
            package: wheel::file_name(distribution, &tags),
            requirement: Some(format!("{}=={}", distribution.name, distribution.version)),
        };
        let record = distribution.record();
        let files = native_files(
            distribution.root(),
            record.iter().map(|entry| (entry.path.as_str(), entry.size)),
            interpreter,
        );
        for file in &files {
            self.check_file(file, &owner, interpreter, entry, warnings)?;
        }
        let mut warn = |code, message| warnings.push(warning(entry, code, message));
        if !tags.is_empty() && !tags.iter().any(|tag| wheel::supported(tag, interpreter)) {
            warn(
                codes::UNSUPPORTED_TAG,
                format!(
                    "{} is tagged for {}, which this interpreter ({}) does not support; its native files look loadable, but pip would not install it here",
                    owner.package,
                    tags.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                    interpreter.target
                ),
            );
        }
        if let Some(specifiers) = &distribution.requires_python
            && let (Ok(specifiers), Ok(version)) = (
                VersionSpecifiers::from_str(specifiers),
                Version::from_str(&self.facts_version),
            )
            && !specifiers.contains(&version)
        {
            warn(
                codes::REQUIRES_PYTHON,
                format!(
                    "{} requires Python {specifiers}, but the interpreter is Python {}; it was installed for another interpreter (pip --target, --python-version or --ignore-requires-python)",
                    owner.requirement.as_deref().unwrap_or(&owner.package),
                    self.facts_version
                ),
            );
        }
        Ok(())
    }

    fn check_file(
        &mut self,
        file: &NativeFile,
        owner: &Owner,
        interpreter: &Interpreter,
        entry: &ProviderEntry,
        warnings: &mut Vec<Warning>,
    ) -> Result<(), NativeError> {
        if let Some(name) = file.path.file_name() {
            self.shipped.insert(name.to_string_lossy().into_owned());
        }
        let mut warn = |code, message| warnings.push(warning(entry, code, message));
        let (content, size) = match self.read(&file.path) {
            Ok(read) => read,
            Err(err) => {
                warn(
                    codes::UNREADABLE,
                    format!(
                        "{} ({}) could not be read: {err}",
                        file.relative, owner.package
                    ),
                );
                return Ok(());
            }
        };
        if let Some(problem) = judge::judge(&file.reach, &content, size, interpreter) {
            if file.reach.is_core() {
                return Err(error(problem, file, owner, interpreter));
            }
            warn(
                codes::UNCERTAIN,
                format!(
                    "{} ({}) will not load here ({}); nothing imports it directly, so this only matters if the package loads it itself",
                    file.relative,
                    owner.package,
                    summary(&problem)
                ),
            );
            return Ok(());
        }
        let loaded = matches!(
            file.reach,
            Reach::Extension(ModuleFile::Visible { .. }) | Reach::Bundled
        );
        if let Content::Elf(facts) = &content
            && loaded
            && interpreter.target.os == Os::Linux
        {
            self.linked.push(Linked {
                path: file.path.clone(),
                relative: file.relative.clone(),
                package: owner.package.clone(),
                facts: facts.clone(),
            });
        }
        if let Some(recorded) = file.recorded_size.filter(|&recorded| recorded != size) {
            warn(
                codes::RECORD_MISMATCH,
                format!(
                    "{} ({}) is {size} bytes, but RECORD says {recorded}: the file was changed or replaced after installation (pip install --target keeps old files)",
                    file.relative, owner.package
                ),
            );
        }
        Ok(())
    }

    /// The headers of `path`, read once per run.
    fn read(&mut self, path: &Path) -> std::io::Result<(Content, u64)> {
        let metadata = std::fs::metadata(path)?;
        let key = (metadata.dev(), metadata.ino());
        if let Some(known) = self.files.get(&key) {
            return Ok(known.clone());
        }
        let Inspection {
            content,
            size,
            bytes_read,
        } = header::inspect(path)?;
        self.stats.files += 1;
        self.stats.bytes_read += bytes_read;
        self.files.insert(key, (content.clone(), size));
        Ok((content, size))
    }
}

fn warning(entry: &ProviderEntry, code: &'static str, message: String) -> Warning {
    Warning {
        provider_id: entry.provider_id.clone(),
        code,
        message,
        mismatch: None,
    }
}

fn relative_to(path: &Path, root: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The native files among `entries` (paths relative to `root`, with their
/// `RECORD` sizes), each with how the import reaches it. An invisible
/// extension next to a visible one for the same module is a leftover the
/// importer never looks at.
fn native_files<'a>(
    root: &Path,
    entries: impl Iterator<Item = (&'a str, Option<u64>)>,
    interpreter: &Interpreter,
) -> Vec<NativeFile> {
    let mut files: Vec<NativeFile> = entries
        .filter(|(path, _)| locate::is_native_name(path.rsplit('/').next().unwrap_or(path)))
        .map(|(relative, recorded_size)| {
            let (directory, name) = relative.rsplit_once('/').unwrap_or(("", relative));
            let bundled = directory
                .rsplit('/')
                .next()
                .is_some_and(|parent| parent.ends_with(".libs") || parent.ends_with(".dylibs"));
            let reach = match suffix::classify(name, &interpreter.suffixes) {
                _ if bundled => Reach::Bundled,
                ModuleFile::Library => Reach::Other,
                module => Reach::Extension(module),
            };
            NativeFile {
                path: root.join(relative),
                relative: relative.to_string(),
                recorded_size,
                reach,
            }
        })
        .collect();
    let visible: BTreeSet<(String, String)> = files
        .iter()
        .filter_map(|file| match &file.reach {
            Reach::Extension(ModuleFile::Visible { module }) => {
                Some((parent_of(&file.relative), module.clone()))
            }
            _ => None,
        })
        .collect();
    files.retain(|file| match &file.reach {
        Reach::Extension(ModuleFile::Invisible { module, .. }) => {
            !visible.contains(&(parent_of(&file.relative), module.clone()))
        }
        _ => true,
    });
    files
}

fn parent_of(relative: &str) -> String {
    relative
        .rsplit_once('/')
        .map_or(String::new(), |(parent, _)| parent.to_string())
}

/// `markupsafe/_speedups.cpython-311-x86_64-linux-gnu.so` → `markupsafe._speedups`.
fn dotted_module(relative: &str, module: &str) -> String {
    let parent = parent_of(relative).replace('/', ".");
    if parent.is_empty() {
        module.to_string()
    } else {
        format!("{parent}.{module}")
    }
}

/// One line for warnings about files that are not certain to be loaded.
fn summary(problem: &Problem) -> String {
    match problem {
        Problem::Architecture(found) => format!("built for {found}"),
        Problem::WrongPython(found) | Problem::Libc(found) => format!("built for {found}"),
        Problem::Truncated { needed, size } => {
            format!("truncated: {size} bytes, its segments need {needed}")
        }
        Problem::Corrupt { content, .. } => content.clone(),
        Problem::GlibcTooOld((major, minor)) => format!("needs GLIBC_{major}.{minor}"),
        Problem::NotRegular(kind) => format!("{kind}, not a regular file"),
    }
}

/// The error for a core file, with the lines and the resolution the operator needs.
fn error(
    problem: Problem,
    file: &NativeFile,
    owner: &Owner,
    interpreter: &Interpreter,
) -> NativeError {
    let owned = owner.requirement.is_some();
    let (package, file_line) = if owned {
        (owner.package.clone(), Some(file.relative.clone()))
    } else {
        (owner.package.clone(), None)
    };
    let requirement = owner.requirement.as_deref();
    let expected = interpreter.target.to_string();
    let platform = interpreter.target.platform();
    let pip = |extra: &str| {
        requirement.map_or(String::new(), |requirement| {
            format!(
                " With pip install --target, select the build explicitly: pip install --target DIR --only-binary=:all: --no-deps{extra} {} {requirement}.",
                interpreter.pip_platforms()
            )
        })
    };
    let what = requirement.unwrap_or("the package");
    let consequence = consequence(&problem, file, interpreter);
    let finding = |facts: Vec<(&'static str, String)>| {
        Box::new(Finding {
            package: package.clone(),
            file: file_line.clone(),
            facts,
            consequence: consequence.clone(),
        })
    };
    let architecture_lines = |found: &platform::Target| {
        vec![
            ("Expected architecture", expected.clone()),
            ("Found architecture", found.to_string()),
        ]
    };
    match problem {
        Problem::Architecture(found) => NativeError::ArchitectureMismatch {
            finding: finding(architecture_lines(&found)),
            resolution: format!(
                "Rebuild provider package with native extensions compiled for {platform}, or use pure Python implementation.{} For a container image, build it with docker build --platform {platform}.",
                pip("")
            ),
        },
        Problem::WrongPython(found) => {
            let (major, minor) = interpreter.python;
            NativeError::WrongPython {
                finding: finding(architecture_lines(&found)),
                resolution: format!(
                    "Install {what} built for CPython {major}.{minor}.{} Or run the server with the {} interpreter the package was installed for.",
                    pip(&format!(" --python-version {major}.{minor}")),
                    found.python.as_deref().unwrap_or("other")
                ),
            }
        }
        Problem::Libc(found) => {
            let wanted = match &interpreter.target.libc {
                Some(Libc::Musl) => "musllinux (musl)",
                _ => "manylinux (glibc)",
            };
            NativeError::LibcMismatch {
                finding: finding(architecture_lines(&found)),
                resolution: format!(
                    "Install the {wanted} build of {what}; musllinux wheels load only on musl systems such as Alpine, manylinux wheels only on glibc systems.{}",
                    pip("")
                ),
            }
        }
        Problem::Truncated { needed, size } => NativeError::Truncated {
            finding: finding(vec![(
                "Size",
                format!("{size} bytes on disk; its program headers map {needed} bytes"),
            )]),
            resolution: reinstall(what, requirement),
        },
        Problem::Corrupt { content, .. } => NativeError::Corrupt {
            finding: finding(vec![("Content", content)]),
            resolution: reinstall(what, requirement),
        },
        Problem::NotRegular(kind) => NativeError::Corrupt {
            finding: finding(vec![("Content", format!("{kind}, not a regular file"))]),
            resolution: reinstall(what, requirement),
        },
        Problem::GlibcTooOld((major, minor)) => {
            let host = match &interpreter.target.libc {
                Some(Libc::Glibc(Some(version))) => version.clone(),
                _ => "unknown".to_string(),
            };
            NativeError::GlibcTooOld {
                finding: finding(vec![
                    ("Expected architecture", expected.clone()),
                    (
                        "Found architecture",
                        format!(
                            "{platform} ({}, needs glibc {major}.{minor} or newer)",
                            interpreter.target.arch.wheel()
                        ),
                    ),
                ]),
                resolution: format!(
                    "Install a build of {what} for glibc {host} or older (a manylinux_2_{} or lower wheel), or run the server on an image with glibc {major}.{minor} or newer.{}",
                    host.split('.').nth(1).unwrap_or("17"),
                    pip("")
                ),
            }
        }
    }
}

fn reinstall(what: &str, requirement: Option<&str>) -> String {
    match requirement {
        Some(requirement) => format!(
            "Reinstall {what}: pip install --force-reinstall --no-deps {requirement} (with --target DIR where the deploy flow installs it). The file on disk is damaged: an interrupted copy, a full disk, or a Git LFS pointer checked out instead of the binary."
        ),
        None => "Reinstall the package that ships this file; the file on disk is damaged: an interrupted copy, a full disk, or a Git LFS pointer checked out instead of the binary.".to_string(),
    }
}

/// What Python would do with the file, in the words the operator would see.
fn consequence(problem: &Problem, file: &NativeFile, interpreter: &Interpreter) -> String {
    if let Reach::Extension(ModuleFile::Invisible { module, .. }) = &file.reach {
        return format!(
            "The importer looks only for {}, so it never opens this file: importing {} fails with ModuleNotFoundError, or the package silently falls back to pure-Python code where it has some.",
            interpreter.suffixes.join(", "),
            dotted_module(&file.relative, module)
        );
    }
    let importing = match &file.reach {
        Reach::Bundled => "It is a library the package's extension modules load, so importing them",
        _ => "Importing it",
    };
    let loaded = format!("{importing} fails");
    match problem {
        Problem::Architecture(_) if interpreter.target.libc == Some(Libc::Musl) => format!(
            "{loaded}: musl does not check the CPU of a library, so the import ends in a relocation error or a crash."
        ),
        Problem::Architecture(_) => format!(
            "{loaded}: glibc reports a library for another CPU as \"cannot open shared object file: No such file or directory\" although the file exists."
        ),
        Problem::Libc(_) => format!(
            "{loaded}: its C library ({}) is not the interpreter's.",
            match &interpreter.target.libc {
                Some(Libc::Musl) => "glibc",
                _ => "musl",
            }
        ),
        Problem::Truncated { .. } => {
            "Importing it would crash the interpreter with SIGBUS (no Python traceback): the loader maps segments past the end of the file.".to_string()
        }
        Problem::Corrupt { loader, .. } => format!("{loaded}: the loader says \"{loader}\"."),
        Problem::NotRegular("a FIFO (named pipe)") => format!(
            "{importing} would hang: the loader's open waits for a process to write to the FIFO."
        ),
        Problem::NotRegular(_) => format!("{loaded}: the loader maps only regular files."),
        Problem::GlibcTooOld((major, minor)) => format!(
            "{loaded} with \"version `GLIBC_{major}.{minor}' not found\"."
        ),
        Problem::WrongPython(_) => format!("{loaded}."),
    }
}
