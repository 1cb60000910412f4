//! Which distributions are installed where the server will run, read in Rust
//! from `*.dist-info` metadata, and which of a spec's `pip_packages` they leave
//! unmet.
//!
//! llama-stack imports what an in-tree provider's `pip_packages` name lazily,
//! inside `get_adapter_impl`, so a missing package (the `ollama` client for
//! `remote::ollama`, say) only surfaces when the server instantiates the
//! provider. Preflight must not run that code; reading the installed metadata
//! finds the same fault. `pip_packages` entries are not always PEP 508: some
//! carry pip options (`torch --extra-index-url …`, `sentence-transformers
//! --no-deps`), which are dropped before parsing.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;

use pep508_rs::pep440_rs::Version;
use pep508_rs::{MarkerEnvironment, MarkerEnvironmentBuilder, Requirement, VersionOrUrl};
use serde::Serialize;

/// pip options that take the next token as their value.
const OPTIONS_WITH_VALUE: [&str; 7] = [
    "--extra-index-url",
    "--index-url",
    "-i",
    "-f",
    "--find-links",
    "-c",
    "--constraint",
];

/// Metadata headers sit at the top of the file; this is plenty.
const HEADER_BYTES: u64 = 16 * 1024;

/// A `pip_packages` requirement the environment does not satisfy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct UnmetRequirement {
    /// As written in the spec, without pip options.
    pub(crate) requirement: String,
    /// The installed version, `None` when the distribution is missing.
    pub(crate) installed: Option<String>,
}

impl UnmetRequirement {
    pub(crate) fn describe(&self) -> String {
        match &self.installed {
            Some(version) => format!("{} ({version} is installed)", self.requirement),
            None => format!("{} (not installed)", self.requirement),
        }
    }
}

/// Installed distributions on a `sys.path`: normalized name → version.
#[derive(Debug, Default)]
pub(crate) struct InstalledDistributions {
    versions: BTreeMap<String, String>,
}

/// PEP 503 normalization: lowercase, runs of `-`, `_`, `.` become `-`.
fn normalize(name: &str) -> String {
    let mut normalized = String::with_capacity(name.len());
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            if !normalized.ends_with('-') {
                normalized.push('-');
            }
        } else {
            normalized.push(c.to_ascii_lowercase());
        }
    }
    normalized
}

/// `Name` and `Version` from the headers of a METADATA or PKG-INFO file.
fn read_headers(path: &Path) -> Option<(String, String)> {
    let mut bytes = Vec::new();
    fs::File::open(path)
        .ok()?
        .take(HEADER_BYTES)
        .read_to_end(&mut bytes)
        .ok()?;
    parse_headers(&String::from_utf8_lossy(&bytes))
}

/// `Name` and `Version` from the header block (up to the first empty line).
fn parse_headers(text: &str) -> Option<(String, String)> {
    let mut name = None;
    let mut version = None;
    for line in text.lines().take_while(|line| !line.is_empty()) {
        if let Some(value) = line.strip_prefix("Name:") {
            name.get_or_insert_with(|| value.trim().to_string());
        } else if let Some(value) = line.strip_prefix("Version:") {
            version.get_or_insert_with(|| value.trim().to_string());
        }
    }
    Some((name?, version?))
}

impl InstalledDistributions {
    /// Scans every directory of `sys_path`; earlier entries shadow later ones,
    /// as for `importlib.metadata`. Unreadable entries are skipped.
    pub(crate) fn scan(sys_path: &[String]) -> Self {
        let mut versions = BTreeMap::new();
        for directory in sys_path.iter().map(Path::new).filter(|path| path.is_dir()) {
            let Ok(entries) = fs::read_dir(directory) else {
                continue;
            };
            for entry in entries.flatten() {
                let file_name = entry.file_name();
                let file_name = file_name.to_string_lossy();
                let metadata = if file_name.ends_with(".dist-info") {
                    entry.path().join("METADATA")
                } else if file_name.ends_with(".egg-info") {
                    entry.path().join("PKG-INFO")
                } else {
                    continue;
                };
                if let Some((name, version)) = read_headers(&metadata) {
                    versions.entry(normalize(&name)).or_insert(version);
                }
            }
        }
        InstalledDistributions { versions }
    }

    /// The requirements of `pip_packages` that are missing or out of range,
    /// with markers evaluated for a CPython `python_version` on Linux/`machine`.
    pub(crate) fn unmet(
        &self,
        pip_packages: &[String],
        python_version: &str,
        machine: &str,
    ) -> Vec<UnmetRequirement> {
        let environment = marker_environment(python_version, machine);
        pip_packages
            .iter()
            .flat_map(|entry| requirement_tokens(entry))
            .filter_map(|token| self.check(&token, environment.as_ref()))
            .collect()
    }

    fn check(
        &self,
        token: &str,
        environment: Option<&MarkerEnvironment>,
    ) -> Option<UnmetRequirement> {
        let Some(requirement) = parse_requirement(token) else {
            // Not PEP 508 at all: the best we can do is look the text up as a name.
            let installed = self.versions.get(&normalize(token)).cloned();
            return installed.is_none().then(|| UnmetRequirement {
                requirement: token.to_string(),
                installed: None,
            });
        };
        if let Some(environment) = environment
            && !requirement.evaluate_markers(environment, &[])
        {
            return None;
        }
        let installed = self.versions.get(&normalize(requirement.name.as_ref()));
        let satisfied = match (installed, &requirement.version_or_url) {
            (None, _) => false,
            (Some(version), Some(VersionOrUrl::VersionSpecifier(specifiers))) => {
                Version::from_str(version)
                    .map(|version| specifiers.contains(&version))
                    .unwrap_or(true)
            }
            (Some(_), _) => true,
        };
        (!satisfied).then(|| UnmetRequirement {
            requirement: token.to_string(),
            installed: installed.cloned(),
        })
    }
}

/// A PEP 508 requirement, or `None`. pep508_rs 0.9 panics on a name that
/// ends in `-`, `_` or `.` right before a specifier (`a->=1`); such text is
/// refused here first, since `pip_packages` comes from provider code.
fn parse_requirement(text: &str) -> Option<Requirement<pep508_rs::VerbatimUrl>> {
    let name: String = text
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    if name.ends_with(['-', '_', '.']) {
        return None;
    }
    Requirement::from_str(text).ok()
}

/// The requirements of one `pip_packages` entry, pip options removed: the
/// whole rest if it parses as one requirement (`pkg >= 1 ; marker`), else
/// each word (`torch torchvision`).
fn requirement_tokens(entry: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut all = entry.split_whitespace();
    while let Some(word) = all.next() {
        if word.starts_with('-') {
            if OPTIONS_WITH_VALUE.contains(&word) {
                all.next();
            }
            continue;
        }
        words.push(word);
    }
    let whole = words.join(" ");
    if words.len() > 1 && parse_requirement(&whole).is_some() {
        return vec![whole];
    }
    words.into_iter().map(String::from).collect()
}

fn marker_environment(python_version: &str, machine: &str) -> Option<MarkerEnvironment> {
    let short: String = python_version
        .split('.')
        .take(2)
        .collect::<Vec<_>>()
        .join(".");
    MarkerEnvironment::try_from(MarkerEnvironmentBuilder {
        implementation_name: "cpython",
        implementation_version: python_version,
        os_name: "posix",
        platform_machine: machine,
        platform_python_implementation: "CPython",
        platform_release: "",
        platform_system: "Linux",
        platform_version: "",
        python_full_version: python_version,
        python_version: &short,
        sys_platform: "linux",
    })
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn installed(pairs: &[(&str, &str)]) -> InstalledDistributions {
        InstalledDistributions {
            versions: pairs
                .iter()
                .map(|(name, version)| (normalize(name), version.to_string()))
                .collect(),
        }
    }

    fn unmet(installed: &InstalledDistributions, entry: &str) -> Vec<String> {
        installed
            .unmet(&[entry.to_string()], "3.13.0", "x86_64")
            .iter()
            .map(UnmetRequirement::describe)
            .collect()
    }

    #[test]
    fn a_name_ending_in_a_separator_is_not_pep_508_and_does_not_panic() {
        assert!(parse_requirement("a->=1").is_none());
        assert_eq!(unmet(&installed(&[]), "a->=1"), ["a->=1 (not installed)"]);
    }

    #[test]
    fn names_are_normalized_like_pip() {
        assert_eq!(normalize("Foo_Bar.baz"), "foo-bar-baz");
        assert_eq!(normalize("foo--bar"), "foo-bar");
    }

    #[test]
    fn missing_and_out_of_range_packages_are_reported() {
        let env = installed(&[("h11", "0.14.0"), ("aiohttp", "3.14.5")]);
        assert_eq!(unmet(&env, "ollama"), ["ollama (not installed)"]);
        assert_eq!(
            unmet(&env, "h11>=0.16.0"),
            ["h11>=0.16.0 (0.14.0 is installed)"]
        );
        assert!(unmet(&env, "aiohttp>=3,<4").is_empty());
    }

    #[test]
    fn pip_options_are_dropped_and_every_package_is_checked() {
        let env = installed(&[("torch", "2.9.0")]);
        assert_eq!(
            unmet(
                &env,
                "torch torchvision --extra-index-url https://example.invalid/whl/cpu"
            ),
            ["torchvision (not installed)"]
        );
        assert_eq!(
            unmet(&env, "sentence-transformers --no-deps"),
            ["sentence-transformers (not installed)"]
        );
    }

    #[test]
    fn extras_check_the_base_distribution_and_false_markers_are_skipped() {
        let env = installed(&[("transformers", "4.50.0")]);
        assert!(unmet(&env, "transformers[accelerate]").is_empty());
        assert!(unmet(&env, "pywin32; sys_platform == 'win32'").is_empty());
        assert_eq!(
            unmet(&env, "tomli; python_version >= '3.8'"),
            ["tomli; python_version >= '3.8' (not installed)"]
        );
        assert!(
            unmet(
                &installed(&[("elasticsearch", "8.17.0")]),
                "elasticsearch >= 8.16.0, < 9"
            )
            .is_empty()
        );
    }

    #[test]
    fn the_first_sys_path_entry_shadows_later_ones() {
        let root = std::env::temp_dir().join(format!("preflight-installed-{}", std::process::id()));
        let write = |dir: &str, name: &str, version: &str| {
            let info = root.join(dir).join(format!("{name}-{version}.dist-info"));
            #[allow(clippy::disallowed_methods)] // test fixtures in a temporary directory
            {
                fs::create_dir_all(&info).unwrap();
                fs::write(
                    info.join("METADATA"),
                    format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nbody\n"),
                )
                .unwrap();
            }
        };
        write("first", "Foo_Bar", "2.0");
        write("second", "foo-bar", "1.0");
        write("second", "other", "3.0");
        let paths = ["first", "second", "missing"].map(|dir| root.join(dir).display().to_string());
        let found = InstalledDistributions::scan(&paths);
        #[allow(clippy::disallowed_methods)]
        let _ = fs::remove_dir_all(&root);
        assert_eq!(
            found.versions.get("foo-bar").map(String::as_str),
            Some("2.0")
        );
        assert_eq!(found.versions.get("other").map(String::as_str), Some("3.0"));
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;
        use crate::fuzzing::{self, text_of};

        const METADATA_FRAGMENTS: &[&str] = &[
            "Metadata-Version: 2.1\n",
            "Name: ",
            "Version: ",
            "foo_bar",
            "1.0.0",
            "\n",
            "\n\n",
            ": ",
            "Requires-Dist: x\n",
        ];

        const REQUIREMENT_FRAGMENTS: &[&str] = &[
            "torch",
            "ollama",
            "h11",
            ">=",
            "==",
            "<",
            "~=",
            "!=",
            "0.16.0",
            "1",
            ",",
            ";",
            " python_version >= '3.8'",
            " sys_platform == 'win32'",
            "[extra]",
            "@ https://x.invalid/a.whl",
            " ",
            "--extra-index-url",
            "--no-deps",
            "-i",
            "-c",
            "(",
            ")",
            "'",
            "\"",
        ];

        proptest! {
            #![proptest_config(fuzzing::config())]

            #[test]
            fn any_metadata_header_block_parses_or_is_skipped(text in text_of(METADATA_FRAGMENTS)) {
                if let Some((name, version)) = parse_headers(&text) {
                    prop_assert!(!name.contains('\n') && !version.contains('\n'));
                }
            }

            #[test]
            fn any_pip_packages_entry_is_checked_without_panicking(
                entry in text_of(REQUIREMENT_FRAGMENTS),
                python_version in "[0-9.]{0,8}",
            ) {
                let installed = InstalledDistributions {
                    versions: BTreeMap::from([("torch".to_string(), "2.9.0".to_string()), ("h11".to_string(), "not a version".to_string())]),
                };
                for unmet in installed.unmet(&[entry], &python_version, "x86_64") {
                    prop_assert!(!unmet.describe().is_empty());
                }
            }
        }
    }
}
