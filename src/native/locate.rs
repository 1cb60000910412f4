//! Where a provider's code and its native files are, found the way the
//! importer would find them, without importing anything.
//!
//! A top-level name resolves as CPython's `FileFinder` resolves it along
//! `sys.path`: the first regular package (a directory with `__init__`) or
//! module file wins; directories without `__init__` are namespace portions,
//! used only when nothing else is found. The files found are then attributed
//! to the distribution installed beside them whose `top_level.txt` or `RECORD`
//! names them; files no distribution owns (a plain directory on `PYTHONPATH`)
//! are scanned by walking the package directory.

use std::fs;
use std::path::{Path, PathBuf};

/// How deep and how wide an unowned package directory is walked.
const MAX_WALK_DEPTH: usize = 16;
const MAX_WALK_ENTRIES: usize = 50_000;

/// One place a top-level import name resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Location {
    /// The `sys.path` entry.
    pub(crate) root: PathBuf,
    /// The package directory or module file.
    pub(crate) path: PathBuf,
}

/// The places `module` (a top-level name) is imported from: one package or
/// module, or every portion of a namespace package.
pub(crate) fn locate(sys_path: &[String], module: &str, suffixes: &[String]) -> Vec<Location> {
    let mut portions = Vec::new();
    for root in sys_path
        .iter()
        .map(PathBuf::from)
        .filter(|root| root.is_dir())
    {
        let package = root.join(module);
        if package.is_dir() {
            let regular = ["__init__.py", "__init__.pyc"]
                .iter()
                .map(|name| (*name).to_string())
                .chain(suffixes.iter().map(|suffix| format!("__init__{suffix}")))
                .any(|name| package.join(name).is_file());
            if regular {
                return vec![Location {
                    root,
                    path: package,
                }];
            }
            portions.push(Location {
                root,
                path: package,
            });
            continue;
        }
        let module_file = suffixes
            .iter()
            .map(String::as_str)
            .chain([".py", ".pyc"])
            .map(|suffix| root.join(format!("{module}{suffix}")))
            .find(|file| file.is_file());
        if let Some(path) = module_file {
            return vec![Location { root, path }];
        }
    }
    portions
}

/// Whether a file name is something the Linux loader could open as a Python
/// extension or shared library. `.pyd` is kept: when it is the only
/// implementation of a module, a Windows wheel was installed here.
pub(crate) fn is_native_name(name: &str) -> bool {
    name.ends_with(".so") || name.contains(".so.") || name.ends_with(".pyd")
}

/// The native files under an unowned package directory (or the file itself).
pub(crate) fn walk_native_files(path: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    if path.is_file() {
        if path
            .file_name()
            .is_some_and(|name| is_native_name(&name.to_string_lossy()))
        {
            found.push(path.to_path_buf());
        }
        return found;
    }
    let mut pending = vec![(path.to_path_buf(), 0)];
    let mut seen = 0;
    while let Some((directory, depth)) = pending.pop() {
        let Ok(entries) = fs::read_dir(&directory) else {
            continue;
        };
        for entry in entries.flatten() {
            seen += 1;
            if seen > MAX_WALK_ENTRIES {
                return found;
            }
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let name = entry.file_name();
            let name = name.to_string_lossy();
            // Symlinked directories are not followed: they can loop.
            if kind.is_dir() && depth < MAX_WALK_DEPTH && name != "__pycache__" {
                pending.push((entry.path(), depth + 1));
            } else if !kind.is_dir() && is_native_name(&name) {
                found.push(entry.path());
            }
        }
    }
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::disallowed_methods)] // test fixtures in a temporary directory
    fn touch(path: &Path) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, b"").unwrap();
    }

    #[test]
    fn the_first_regular_package_wins_over_namespace_portions() {
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("first");
        let second = dir.path().join("second");
        touch(&first.join("pkg/part.py"));
        touch(&second.join("pkg/__init__.py"));
        let path = [&first, &second].map(|p| p.display().to_string());
        let suffixes = vec![".abi3.so".to_string()];
        assert_eq!(
            locate(&path, "pkg", &suffixes),
            vec![Location {
                root: second.clone(),
                path: second.join("pkg")
            }]
        );
        touch(&first.join("mod.abi3.so"));
        assert_eq!(
            locate(&path, "mod", &suffixes)[0].path,
            first.join("mod.abi3.so")
        );
        assert!(locate(&path, "absent", &suffixes).is_empty());
    }

    #[test]
    fn walks_find_native_files_but_not_caches() {
        let dir = tempfile::tempdir().unwrap();
        touch(&dir.path().join("pkg/_x.abi3.so"));
        touch(&dir.path().join("pkg/sub/libdep.so.1"));
        touch(&dir.path().join("pkg/__pycache__/y.so"));
        touch(&dir.path().join("pkg/mod.py"));
        let found = walk_native_files(&dir.path().join("pkg"));
        assert_eq!(
            found,
            vec![
                dir.path().join("pkg/_x.abi3.so"),
                dir.path().join("pkg/sub/libdep.so.1")
            ]
        );
    }
}
