//! Which distributions are installed where the server will run, read in Rust
//! from `*.dist-info` metadata: which of a spec's `pip_packages` they leave
//! unmet, which distribution provides an import name, and the closure of a
//! distribution's `Requires-Dist` for the native-code checks.
//!
//! `pip_packages` is a declaration: whether the server starts depends on what
//! its start-up imports, which the probe imports for real. Unmet entries only
//! explain a missing module (which requirement provides it) and are warned
//! about. `pip_packages` entries are not always PEP 508: some carry pip
//! options (`torch --extra-index-url …`, `sentence-transformers --no-deps`),
//! which are dropped before parsing.

use std::collections::{BTreeMap, VecDeque};
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use pep508_rs::pep440_rs::{Operator, Version, VersionSpecifier};
use pep508_rs::{
    ExtraName, MarkerEnvironment, MarkerEnvironmentBuilder, Requirement, VersionOrUrl,
};
use serde::Serialize;

use crate::files;

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

/// Metadata headers sit at the top of the file; reading stops at the blank
/// line after them, this only bounds a file without one.
const HEADER_BYTES: u64 = 256 * 1024;
/// `WHEEL`, `top_level.txt`, `direct_url.json`: a few lines each.
const SMALL_FILE_BYTES: u64 = 64 * 1024;
/// torch's RECORD is about 2 MB; anything far larger is not a RECORD.
const RECORD_BYTES: u64 = 32 * 1024 * 1024;

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

    /// Whether this requirement's distribution provides the import name
    /// `module`, judged by their names (see [`requirement_providing`]).
    pub(crate) fn provides(&self, module: &str) -> bool {
        name_fit(&self.requirement, module).is_some()
    }
}

/// The requirement among `pip_packages` whose distribution most likely
/// provides the import name `module`. A module that is not installed has no
/// metadata to ask, so only names can say: `together>=2` provides `together`,
/// `faiss-cpu` `faiss`, `psycopg2-binary` `psycopg2`, `google-genai`
/// `google.genai`, `python-dateutil` `dateutil`; `scikit-learn` and `sklearn`
/// are beyond it.
pub(crate) fn requirement_providing(pip_packages: &[String], module: &str) -> Option<String> {
    pip_packages
        .iter()
        .flat_map(|entry| requirement_tokens(entry))
        .filter_map(|token| name_fit(&token, module).map(|fit| (fit, token)))
        .min_by_key(|(fit, _)| *fit)
        .map(|(_, token)| token)
}

/// How well a requirement's name fits an import name: 0 for the same name
/// (`google-genai` and `google.genai`, or the top-level package alone), 1
/// for a name that adds a word before or after it (`faiss-cpu`,
/// `python-dateutil`); `None` otherwise. Names are compared normalized. For
/// a dotted import name only the first two parts may take a word, so that
/// `google-cloud-storage` does not claim `google.genai`.
fn name_fit(requirement: &str, module: &str) -> Option<u8> {
    let name = parse_requirement(requirement)
        .map(|parsed| parsed.name.to_string())
        .unwrap_or_else(|| requirement.to_string());
    let distribution = normalize(&name);
    let parts: Vec<&str> = module.split('.').collect();
    let top = normalize(parts[0]);
    let specific = if parts.len() > 1 {
        normalize(&parts[..2].join("-"))
    } else {
        top.clone()
    };
    if distribution == top || distribution == specific {
        return Some(0);
    }
    let adds_a_word = distribution.starts_with(&format!("{specific}-"))
        || distribution.ends_with(&format!("-{specific}"));
    adds_a_word.then_some(1)
}

/// One installed distribution: its `*.dist-info` (or legacy `*.egg-info`)
/// directory and the METADATA headers the checks need.
#[derive(Debug, Clone)]
pub(crate) struct Distribution {
    /// `Name` as written in METADATA.
    pub(crate) name: String,
    pub(crate) version: String,
    /// The metadata directory; its parent is the `sys.path` entry.
    pub(crate) info_dir: PathBuf,
    /// Every `Requires-Dist` header, unparsed.
    pub(crate) requires_dist: Vec<String>,
    pub(crate) requires_python: Option<String>,
}

/// One line of a `RECORD` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecordEntry {
    /// Relative to the `sys.path` entry that holds the distribution.
    pub(crate) path: String,
    pub(crate) size: Option<u64>,
}

impl Distribution {
    /// The `sys.path` entry the distribution is installed in.
    pub(crate) fn root(&self) -> &Path {
        self.info_dir.parent().unwrap_or(Path::new("/"))
    }

    /// The name part of the metadata directory (`markupsafe-3.0.4` for
    /// `markupsafe-3.0.4.dist-info`): the spelling of the wheel file name.
    pub(crate) fn info_stem(&self) -> String {
        let file_name = self.info_dir.file_name().unwrap_or_default();
        let file_name = file_name.to_string_lossy();
        file_name
            .rsplit_once('.')
            .map_or(file_name.to_string(), |(stem, _)| stem.to_string())
    }

    /// A small file of the metadata directory (`WHEEL`, `top_level.txt`,
    /// `direct_url.json`), `None` when absent or unreadable.
    pub(crate) fn small_file(&self, name: &str) -> Option<String> {
        read_capped(&self.info_dir.join(name), SMALL_FILE_BYTES)
    }

    /// The `RECORD` entries, files outside the `sys.path` entry (scripts
    /// installed as `../../bin/x`) left out. Empty for legacy eggs.
    pub(crate) fn record(&self) -> Vec<RecordEntry> {
        let Some(text) = read_capped(&self.info_dir.join("RECORD"), RECORD_BYTES) else {
            return Vec::new();
        };
        text.lines().filter_map(record_entry).collect()
    }

    /// The top-level import names the distribution provides: `top_level.txt`
    /// when the build backend wrote one, else the first component of every
    /// `RECORD` path (what `importlib.metadata.packages_distributions()` does).
    pub(crate) fn top_level_names(&self) -> Vec<String> {
        if let Some(text) = self.small_file("top_level.txt") {
            return text
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty())
                .map(|line| line.split('/').next().unwrap_or(line).to_string())
                .collect();
        }
        let mut names: Vec<String> = self
            .record()
            .iter()
            .filter_map(|entry| {
                let first = entry.path.split('/').next()?;
                let name = first.split('.').next()?;
                (!first.ends_with(".dist-info") && !name.is_empty()).then(|| name.to_string())
            })
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

/// A `RECORD` line is CSV `path,hash,size`; paths with commas are quoted.
fn record_entry(line: &str) -> Option<RecordEntry> {
    let (path, rest) = match line.strip_prefix('"') {
        Some(quoted) => {
            let end = quoted.find("\",")?;
            (quoted[..end].replace("\"\"", "\""), &quoted[end + 2..])
        }
        None => {
            let (path, rest) = line.split_once(',')?;
            (path.to_string(), rest)
        }
    };
    if path.starts_with("../") || path.starts_with('/') || path.is_empty() {
        return None;
    }
    let size = rest
        .rsplit(',')
        .next()
        .and_then(|size| size.trim().parse().ok());
    Some(RecordEntry { path, size })
}

/// Up to `limit` bytes of a text file (a regular file: see [`files`]).
fn read_capped(path: &Path, limit: u64) -> Option<String> {
    String::from_utf8(files::read_prefix(path, limit).ok()?).ok()
}

/// Installed distributions on a `sys.path`, in `sys.path` order.
#[derive(Debug, Default)]
pub(crate) struct InstalledDistributions {
    distributions: Vec<Distribution>,
    /// Normalized name → the first distribution of that name on `sys.path`.
    by_name: BTreeMap<String, usize>,
}

/// PEP 503 normalization: lowercase, runs of `-`, `_`, `.` become `-`.
pub(crate) fn normalize(name: &str) -> String {
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

/// The header block of a METADATA or PKG-INFO file, read up to
/// [`HEADER_BYTES`] and decoded lossily: a header cut mid-character or written
/// in another encoding still names its distribution.
fn read_distribution(info_dir: &Path, file: &str) -> Option<Distribution> {
    let bytes = files::read_prefix(&info_dir.join(file), HEADER_BYTES).ok()?;
    parse_headers(&String::from_utf8_lossy(&bytes), info_dir)
}

/// The distribution the header block (up to the first blank line) describes.
fn parse_headers(text: &str, info_dir: &Path) -> Option<Distribution> {
    let mut name = None;
    let mut version = None;
    let mut requires_dist = Vec::new();
    let mut requires_python = None;
    for line in text.lines() {
        if line.trim().is_empty() {
            break;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim().to_string();
        match key {
            "Name" => {
                name.get_or_insert(value);
            }
            "Version" => {
                version.get_or_insert(value);
            }
            "Requires-Dist" => requires_dist.push(value),
            "Requires-Python" => requires_python = Some(value),
            _ => {}
        }
    }
    Some(Distribution {
        name: name?,
        version: version?,
        info_dir: info_dir.to_path_buf(),
        requires_dist,
        requires_python,
    })
}

impl InstalledDistributions {
    /// Scans every directory of `sys_path`; earlier entries shadow later ones,
    /// as for `importlib.metadata`. Unreadable entries are skipped.
    pub(crate) fn scan(sys_path: &[String]) -> Self {
        let mut installed = InstalledDistributions::default();
        for directory in sys_path.iter().map(Path::new).filter(|path| path.is_dir()) {
            let Ok(entries) = fs::read_dir(directory) else {
                continue;
            };
            let mut found: Vec<Distribution> = entries
                .flatten()
                .filter_map(|entry| {
                    let file_name = entry.file_name();
                    let file_name = file_name.to_string_lossy();
                    if file_name.ends_with(".dist-info") {
                        read_distribution(&entry.path(), "METADATA")
                    } else if file_name.ends_with(".egg-info") {
                        read_distribution(&entry.path(), "PKG-INFO")
                    } else {
                        None
                    }
                })
                .collect();
            // Directory order is arbitrary; make duplicates in one entry deterministic.
            found.sort_by(|a, b| a.info_dir.cmp(&b.info_dir));
            found.into_iter().for_each(|d| installed.add(d));
        }
        installed
    }

    /// Appends a distribution found later on `sys.path` (it never shadows).
    fn add(&mut self, distribution: Distribution) {
        self.by_name
            .entry(normalize(&distribution.name))
            .or_insert(self.distributions.len());
        self.distributions.push(distribution);
    }

    /// The distribution `name` resolves to (the first on `sys.path`).
    pub(crate) fn get(&self, name: &str) -> Option<&Distribution> {
        self.by_name
            .get(&normalize(name))
            .map(|&index| &self.distributions[index])
    }

    fn version(&self, name: &str) -> Option<&String> {
        self.get(name).map(|distribution| &distribution.version)
    }

    /// The distribution installed in `root` that provides the top-level import
    /// name `module`, if any.
    pub(crate) fn owner(&self, root: &Path, module: &str) -> Option<&Distribution> {
        let local: Vec<&Distribution> = self
            .distributions
            .iter()
            .filter(|distribution| distribution.root() == root)
            .collect();
        // The name alone settles most cases without reading RECORD files.
        let by_name = local
            .iter()
            .find(|distribution| normalize(&distribution.name) == normalize(module))
            .filter(|distribution| {
                distribution
                    .top_level_names()
                    .iter()
                    .any(|name| name == module)
            });
        by_name.copied().or_else(|| {
            local.into_iter().find(|distribution| {
                distribution
                    .top_level_names()
                    .iter()
                    .any(|name| name == module)
            })
        })
    }

    /// `roots` and every distribution they require, transitively, with markers
    /// evaluated in `environment` and extras passed down (`pkg[x]` evaluates
    /// `pkg`'s `extra == "x"` requirements). Requirements that are not
    /// installed are left out: dependency conflicts are not preflight's
    /// business. Roots first, then breadth-first.
    pub(crate) fn closure<'a>(
        &'a self,
        roots: &[&'a Distribution],
        environment: &MarkerEnvironment,
    ) -> Vec<&'a Distribution> {
        let mut order: Vec<&Distribution> = Vec::new();
        let mut extras_seen: BTreeMap<String, Vec<ExtraName>> = BTreeMap::new();
        let mut queue: VecDeque<(&Distribution, Vec<ExtraName>)> =
            roots.iter().map(|root| (*root, Vec::new())).collect();
        while let Some((distribution, extras)) = queue.pop_front() {
            let key = normalize(&distribution.name);
            let seen = extras_seen.get_mut(&key);
            let new_extras: Vec<ExtraName> = match seen {
                Some(seen) => {
                    let new: Vec<ExtraName> =
                        extras.into_iter().filter(|e| !seen.contains(e)).collect();
                    if new.is_empty() {
                        continue;
                    }
                    seen.extend(new.iter().cloned());
                    seen.clone()
                }
                None => {
                    order.push(distribution);
                    extras_seen.insert(key, extras.clone());
                    extras
                }
            };
            for requirement in distribution
                .requires_dist
                .iter()
                .filter_map(|text| Requirement::<pep508_rs::VerbatimUrl>::from_str(text).ok())
            {
                if !requirement.evaluate_markers(environment, &new_extras) {
                    continue;
                }
                if let Some(dependency) = self.get(requirement.name.as_ref()) {
                    queue.push_back((dependency, requirement.extras.clone()));
                }
            }
        }
        order
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
            let installed = self.version(token).cloned();
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
        let installed = self.version(requirement.name.as_ref());
        let satisfied = match (installed, &requirement.version_or_url) {
            (None, _) => false,
            (Some(version), Some(VersionOrUrl::VersionSpecifier(specifiers))) => {
                Version::from_str(version)
                    .map(|version| {
                        specifiers
                            .iter()
                            .all(|specifier| meets(specifier, &version))
                    })
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

pub(crate) fn marker_environment(python_version: &str, machine: &str) -> Option<MarkerEnvironment> {
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

/// Whether an installed `version` meets `specifier`, as pip decides. pep440_rs
/// refuses every pre-release of V for `<V` even when V is itself a
/// pre-release, where PEP 440 (and pip) accept the earlier ones: `2.0rc1`
/// meets `<2.0rc2`.
fn meets(specifier: &VersionSpecifier, version: &Version) -> bool {
    if *specifier.operator() == Operator::LessThan && specifier.version().any_prerelease() {
        return version < specifier.version();
    }
    specifier.contains(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn distribution(name: &str, version: &str, requires_dist: &[&str]) -> Distribution {
        Distribution {
            name: name.to_string(),
            version: version.to_string(),
            info_dir: PathBuf::from(format!("/site/{name}-{version}.dist-info")),
            requires_dist: requires_dist.iter().map(|r| r.to_string()).collect(),
            requires_python: None,
        }
    }

    fn with(distributions: Vec<Distribution>) -> InstalledDistributions {
        let mut installed = InstalledDistributions::default();
        distributions.into_iter().for_each(|d| installed.add(d));
        installed
    }

    fn installed(pairs: &[(&str, &str)]) -> InstalledDistributions {
        with(
            pairs
                .iter()
                .map(|(name, version)| distribution(name, version, &[]))
                .collect(),
        )
    }

    #[test]
    fn the_closure_follows_markers_and_extras() {
        let env = with(vec![
            distribution(
                "provider",
                "1.0",
                &[
                    "Core[fast] >= 1",
                    "pywin32; sys_platform == 'win32'",
                    "not-installed",
                ],
            ),
            distribution(
                "core",
                "2.0",
                &["speedups; extra == 'fast'", "docs-tool; extra == 'docs'"],
            ),
            distribution("speedups", "0.1", &["core"]),
            distribution("docs-tool", "1.0", &[]),
            distribution("pywin32", "306", &[]),
        ]);
        let environment = marker_environment("3.13.0", "x86_64").unwrap();
        let names: Vec<&str> = env
            .closure(&[env.get("provider").unwrap()], &environment)
            .iter()
            .map(|d| d.name.as_str())
            .collect();
        assert_eq!(names, ["provider", "core", "speedups"]);
    }

    #[test]
    fn record_lines_are_csv_and_paths_outside_the_entry_are_dropped() {
        assert_eq!(
            record_entry("pkg/_x.abi3.so,sha256=abc,15616"),
            Some(RecordEntry {
                path: "pkg/_x.abi3.so".into(),
                size: Some(15616)
            })
        );
        assert_eq!(
            record_entry("\"pkg/a,b.so\",sha256=abc,12"),
            Some(RecordEntry {
                path: "pkg/a,b.so".into(),
                size: Some(12)
            })
        );
        assert_eq!(
            record_entry("pkg-1.0.dist-info/RECORD,,"),
            Some(RecordEntry {
                path: "pkg-1.0.dist-info/RECORD".into(),
                size: None
            })
        );
        assert_eq!(record_entry("../../bin/f2py,sha256=x,10"), None);
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
    fn pre_releases_meet_ranges_as_pip_decides() {
        let env = installed(&[("rc", "2.0rc1"), ("post", "2.0.post1")]);
        assert!(unmet(&env, "rc<2.0rc2").is_empty());
        assert!(unmet(&env, "rc>=1.0").is_empty());
        assert_eq!(unmet(&env, "rc<2.0"), ["rc<2.0 (2.0rc1 is installed)"]);
        assert_eq!(
            unmet(&env, "rc<2.0rc1"),
            ["rc<2.0rc1 (2.0rc1 is installed)"]
        );
        assert_eq!(
            unmet(&env, "post>2.0"),
            ["post>2.0 (2.0.post1 is installed)"]
        );
    }

    #[test]
    fn the_requirement_providing_a_module_is_found_by_name() {
        let packages: Vec<String> = [
            "torch torchvision --extra-index-url https://example.invalid/whl/cpu",
            "faiss-cpu",
            "together>=2",
            "google-cloud-storage",
            "google-genai",
            "psycopg2-binary",
            "python-dateutil",
        ]
        .map(String::from)
        .to_vec();
        let providing = |module| requirement_providing(&packages, module);
        assert_eq!(providing("together").as_deref(), Some("together>=2"));
        assert_eq!(providing("faiss").as_deref(), Some("faiss-cpu"));
        assert_eq!(providing("torchvision").as_deref(), Some("torchvision"));
        assert_eq!(providing("psycopg2").as_deref(), Some("psycopg2-binary"));
        assert_eq!(providing("dateutil").as_deref(), Some("python-dateutil"));
        assert_eq!(providing("google.genai").as_deref(), Some("google-genai"));
        assert_eq!(providing("google.auth"), None);
        assert_eq!(providing("sklearn"), None);
        assert_eq!(providing("tor"), None);
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
        assert_eq!(found.version("foo-bar").map(String::as_str), Some("2.0"));
        assert_eq!(found.version("other").map(String::as_str), Some("3.0"));
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
                if let Some(found) = parse_headers(&text, Path::new("x.dist-info")) {
                    prop_assert!(!found.name.contains('\n') && !found.version.contains('\n'));
                    prop_assert!(found.requires_dist.iter().all(|line| !line.contains('\n')));
                }
            }

            #[test]
            fn any_pip_packages_entry_is_checked_without_panicking(
                entry in text_of(REQUIREMENT_FRAGMENTS),
                python_version in "[0-9.]{0,8}",
            ) {
                let installed = installed(&[("torch", "2.9.0"), ("h11", "not a version")]);
                for unmet in installed.unmet(&[entry], &python_version, "x86_64") {
                    prop_assert!(!unmet.describe().is_empty());
                }
            }
        }
    }
}
