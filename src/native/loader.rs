//! Whether the dynamic loader will find the libraries a native file names in
//! `DT_NEEDED`, said before the import so that a file loaded only later (a
//! lazy import, a code path the check never runs) is covered too.
//!
//! Only whether a library is found at all matters, so the loader's order
//! (RPATH, LD_LIBRARY_PATH, RUNPATH, /etc/ld.so.cache, the default
//! directories) becomes a union: the file's own RPATH and RUNPATH with
//! `$ORIGIN` expanded, LD_LIBRARY_PATH, the directories /etc/ld.so.conf names
//! (the cache is built from them), musl's path files, and the default
//! directories. The loader also reuses a library already loaded under the
//! same name, which a package's own import may have done first (a `ctypes`
//! preload, a bundled copy in another wheel): a library the interpreter
//! provides (libpython) or that a scanned package ships is therefore taken as
//! present, and a file whose search path the check cannot expand is left
//! alone. What remains is a warning, never a failure: the import phase then
//! names the loader's own error if the import really loads the file.

use std::collections::{BTreeSet, HashMap};
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};

use crate::files;
use crate::native::header::ElfFacts;

/// The most read of one loader configuration file (they are a few lines).
const CONFIG_BYTES: u64 = 1024 * 1024;

/// How many `include` levels of ld.so.conf are followed.
const MAX_INCLUDE_DEPTH: usize = 8;

/// The directories every file's libraries are looked up in.
pub(crate) struct LibrarySearch {
    dirs: Vec<PathBuf>,
    /// Library name → found in `dirs`.
    found: HashMap<String, bool>,
}

impl LibrarySearch {
    /// The search of a system whose root is `root` (`/` but in tests), with
    /// the server's `LD_LIBRARY_PATH` and the Debian multiarch triplet of the
    /// machine (`x86_64-linux-gnu`), if it has one.
    pub(crate) fn new(
        root: &Path,
        ld_library_path: Option<&OsStr>,
        multiarch: Option<&str>,
    ) -> LibrarySearch {
        let under_root = |dir: &str| root.join(dir.trim_start_matches('/'));
        // The environment's paths are the real ones, whatever `root` is.
        let mut dirs: Vec<PathBuf> = ld_library_path
            .map(|value| {
                std::env::split_paths(value)
                    .filter(|dir| dir.is_absolute())
                    .collect()
            })
            .unwrap_or_default();
        let mut conf = Vec::new();
        read_ld_so_conf(root, &under_root("/etc/ld.so.conf"), 0, &mut conf);
        dirs.extend(conf.iter().map(|dir| under_root(dir)));
        if let Ok(entries) = fs::read_dir(under_root("/etc")) {
            let mut musl_paths: Vec<PathBuf> = entries
                .flatten()
                .map(|entry| entry.path())
                .filter(|path| {
                    let name = path.file_name().unwrap_or_default().to_string_lossy();
                    name.starts_with("ld-musl-") && name.ends_with(".path")
                })
                .collect();
            musl_paths.sort();
            for path in musl_paths {
                let text = read_text(&path).unwrap_or_default();
                dirs.extend(
                    text.split([':', '\n'])
                        .map(str::trim)
                        .filter(|dir| dir.starts_with('/'))
                        .map(under_root),
                );
            }
        }
        let defaults = ["/lib", "/usr/lib", "/lib64", "/usr/lib64", "/usr/local/lib"];
        dirs.extend(defaults.iter().map(|dir| under_root(dir)));
        if let Some(triplet) = multiarch {
            dirs.push(under_root(&format!("/lib/{triplet}")));
            dirs.push(under_root(&format!("/usr/lib/{triplet}")));
        }
        let mut seen = BTreeSet::new();
        dirs.retain(|dir| seen.insert(dir.clone()));
        LibrarySearch {
            dirs,
            found: HashMap::new(),
        }
    }

    /// The `DT_NEEDED` names of `file` (with `facts`) that the loader will not
    /// find, `shipped` being the file names of every native file scanned.
    pub(crate) fn missing<'a>(
        &mut self,
        file: &Path,
        facts: &'a ElfFacts,
        shipped: &BTreeSet<String>,
    ) -> Vec<&'a str> {
        let origin = file.parent().unwrap_or(Path::new("/"));
        let Some(own_dirs) = facts
            .search_path
            .iter()
            .map(|entry| expand_origin(entry, origin))
            .collect::<Option<Vec<PathBuf>>>()
        else {
            return Vec::new();
        };
        facts
            .needed
            .iter()
            .map(String::as_str)
            .filter(|name| {
                !(name.contains('/')
                    || name.starts_with("libpython")
                    || shipped.contains(*name)
                    || own_dirs.iter().any(|dir| dir.join(name).exists())
                    || self.in_system_dirs(name))
            })
            .collect()
    }

    fn in_system_dirs(&mut self, name: &str) -> bool {
        if let Some(&found) = self.found.get(name) {
            return found;
        }
        let found = self.dirs.iter().any(|dir| dir.join(name).exists());
        self.found.insert(name.to_string(), found);
        found
    }
}

/// A RPATH/RUNPATH entry as a directory: `$ORIGIN` is the file's directory.
/// `None` for what cannot be known here: another dynamic string token
/// (`$LIB`, `$PLATFORM`) or a path relative to the server's working directory.
fn expand_origin(entry: &str, origin: &Path) -> Option<PathBuf> {
    let origin = origin.to_string_lossy();
    let expanded = entry
        .replace("${ORIGIN}", &origin)
        .replace("$ORIGIN", &origin);
    (expanded.starts_with('/') && !expanded.contains('$')).then(|| PathBuf::from(expanded))
}

/// A configuration file of the loader, if it is a regular file of text.
fn read_text(path: &Path) -> Option<String> {
    String::from_utf8(files::read_prefix(path, CONFIG_BYTES).ok()?).ok()
}

/// Appends the directories `conf` lists, following its `include` lines
/// (patterns with `*`, relative ones to `/etc`); `hwcap` lines are ignored.
fn read_ld_so_conf(root: &Path, conf: &Path, depth: usize, dirs: &mut Vec<String>) {
    let Some(text) = read_text(conf) else {
        return;
    };
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if let Some(pattern) = line.strip_prefix("include") {
            let pattern = pattern.trim();
            if depth >= MAX_INCLUDE_DEPTH || pattern.is_empty() {
                continue;
            }
            let absolute = if pattern.starts_with('/') {
                pattern.to_string()
            } else {
                format!("/etc/{pattern}")
            };
            for included in glob(&root.join(absolute.trim_start_matches('/'))) {
                read_ld_so_conf(root, &included, depth + 1, dirs);
            }
        } else if !line.starts_with("hwcap") {
            dirs.extend(
                line.split([' ', '\t', ':', ','])
                    .filter(|dir| dir.starts_with('/'))
                    .map(str::to_string),
            );
        }
    }
}

/// The files matching `pattern`, whose last component may hold `*`, sorted
/// as ldconfig reads them.
fn glob(pattern: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (pattern.parent(), pattern.file_name()) else {
        return Vec::new();
    };
    let name = name.to_string_lossy();
    if !name.contains('*') {
        return vec![pattern.to_path_buf()];
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut matched: Vec<PathBuf> = entries
        .flatten()
        .filter(|entry| wildcard_match(&name, &entry.file_name().to_string_lossy()))
        .map(|entry| entry.path())
        .collect();
    matched.sort();
    matched
}

fn wildcard_match(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((prefix, rest)) => {
            let Some(tail) = name.strip_prefix(prefix) else {
                return false;
            };
            (0..=tail.len())
                .filter(|&at| tail.is_char_boundary(at))
                .any(|at| wildcard_match(rest, &tail[at..]))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::disallowed_methods)] // a fake root in a temporary directory

    use super::*;

    fn write(root: &Path, path: &str, text: &str) {
        let path = root.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    fn elf(needed: &[&str], search_path: &[&str]) -> ElfFacts {
        ElfFacts {
            needed: needed.iter().map(|name| name.to_string()).collect(),
            search_path: search_path.iter().map(|entry| entry.to_string()).collect(),
            ..ElfFacts::default()
        }
    }

    #[test]
    fn libraries_are_found_where_the_loader_looks() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        write(
            root,
            "etc/ld.so.conf",
            "include ld.so.conf.d/*.conf\n# a comment\n",
        );
        write(
            root,
            "etc/ld.so.conf.d/vendor.conf",
            "/opt/vendor/lib  # trailing\nhwcap 0 x\n",
        );
        write(root, "etc/ld.so.conf.d/skipped.txt", "/opt/never\n");
        write(root, "opt/vendor/lib/libvendor.so.2", "");
        write(root, "opt/never/libnever.so.1", "");
        write(root, "usr/lib/x86_64-linux-gnu/libGL.so.1", "");
        write(root, "env/libenv.so.3", "");
        write(root, "site/pkg/.libs/libbundled.so.4", "");
        write(root, "site/pkg/_ext.so", "");
        let env = root.join("env");
        let mut search = LibrarySearch::new(root, Some(env.as_os_str()), Some("x86_64-linux-gnu"));
        let facts = elf(
            &[
                "libvendor.so.2",
                "libGL.so.1",
                "libenv.so.3",
                "libbundled.so.4",
                "libpython3.13.so.1.0",
                "libshipped.so.5",
                "libnever.so.1",
                "libgone.so.6",
            ],
            &["$ORIGIN/.libs"],
        );
        let shipped = BTreeSet::from(["libshipped.so.5".to_string()]);
        assert_eq!(
            search.missing(&root.join("site/pkg/_ext.so"), &facts, &shipped),
            ["libnever.so.1", "libgone.so.6"]
        );
    }

    #[test]
    fn a_search_path_that_cannot_be_expanded_is_left_alone() {
        let root = tempfile::tempdir().unwrap();
        let mut search = LibrarySearch::new(root.path(), None, None);
        let file = root.path().join("_ext.so");
        for entry in ["$ORIGIN/../$LIB", "relative/lib", "${PLATFORM}"] {
            assert!(
                search
                    .missing(&file, &elf(&["libgone.so.1"], &[entry]), &BTreeSet::new())
                    .is_empty()
            );
        }
        assert_eq!(
            search.missing(
                &file,
                &elf(&["libgone.so.1"], &["${ORIGIN}/lib"]),
                &BTreeSet::new()
            ),
            ["libgone.so.1"]
        );
    }

    #[test]
    fn ld_so_conf_patterns_match_like_ldconfig() {
        assert!(wildcard_match("*.conf", "x86_64-linux-gnu.conf"));
        assert!(wildcard_match("lib*.conf", "libc.conf"));
        assert!(!wildcard_match("*.conf", "notes.txt"));
        assert!(wildcard_match("*", ""));
    }
}
