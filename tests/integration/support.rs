//! Helpers shared by the integration modules.

use std::collections::BTreeMap;
use std::collections::hash_map::DefaultHasher;
use std::env;
use std::fs;
use std::hash::{Hash, Hasher};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The repository root.
pub(crate) fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A path `scripts/setup-test-envs` exports as `variable` (set by
/// `scripts/test`), else where it puts it in the default cache.
pub(crate) fn cached(variable: &str, default: &str) -> PathBuf {
    env::var_os(variable).map(PathBuf::from).unwrap_or_else(|| {
        let cache = env::var_os("PREFLIGHT_CACHE_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                Path::new(&env::var_os("HOME").unwrap_or_default())
                    .join(".cache/llama-stack-preflight")
            });
        cache.join(default)
    })
}

/// The foreign wheels installed with `pip --target --platform`, one directory
/// per line of `tests/real/native-wheels.txt`.
pub(crate) fn native_wheels() -> PathBuf {
    let root = cached("PREFLIGHT_NATIVE_073", "native-0.7.3");
    assert!(
        root.is_dir(),
        "the foreign-wheel directory is missing ({}): run scripts/test, which builds it",
        root.display()
    );
    root
}

/// The llama-stack 0.7.3 virtualenv that `scripts/setup-test-envs` builds:
/// `PREFLIGHT_PY_073` (set by `scripts/test`), or the default cache path.
pub(crate) fn test_virtualenv() -> PathBuf {
    let python = cached("PREFLIGHT_PY_073", "venvs/ls-0.7.3/bin/python");
    assert!(
        python.exists(),
        "the llama-stack 0.7.3 test environment is missing ({}): run scripts/test, which builds it",
        python.display()
    );
    python
        .parent()
        .and_then(Path::parent)
        .expect("venv/bin/python")
        .to_path_buf()
}

/// The `bin` directory of the tools virtualenv (pre-commit, maturin).
pub(crate) fn tools_bin() -> PathBuf {
    let bin = cached("PREFLIGHT_TOOLS", "venvs/tools/bin");
    assert!(
        bin.is_dir(),
        "the tools environment is missing ({}): run scripts/test, which builds it",
        bin.display()
    );
    bin
}

/// The version of the virtualenv's Python, as preflight prints it.
pub(crate) fn python_version(venv: &Path) -> String {
    let output = std::process::Command::new(venv.join("bin/python"))
        .args(["-c", "import platform; print(platform.python_version())"])
        .output()
        .expect("the test interpreter runs");
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .trim()
        .to_string()
}

/// A fresh, empty directory of this test's own under the temporary directory.
pub(crate) fn scratch_dir(purpose: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or_default();
    let dir = env::temp_dir().join(format!(
        "preflight-{purpose}-{}-{nanos}",
        std::process::id()
    ));
    #[allow(clippy::disallowed_methods)] // the test's own temporary directory
    fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// How closely a tree is watched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Watch {
    /// Every file's content hash, size and mode; every directory's entries.
    Content,
    /// Every file's size, modification and change time, mode and inode (a
    /// large tree, such as a virtualenv); directories by name only, and
    /// `__pycache__` left out, because the real-server tests running beside
    /// this one start `llama stack run` from the same virtualenv.
    Metadata,
    /// The entries directly below, without descending (a home directory that
    /// the toolchain's own processes also use); `skip` names are left out.
    TopLevel,
}

/// Path → description of everything watched below `root`.
pub(crate) fn snapshot(
    root: &Path,
    watch: Watch,
    skip: &[&str],
    into: &mut BTreeMap<PathBuf, String>,
) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if skip.contains(&name.as_str()) {
            continue;
        }
        let Ok(metadata) = fs::symlink_metadata(&path) else {
            continue;
        };
        let is_dir = metadata.is_dir();
        let description = match (watch, is_dir) {
            (_, true) => "directory".to_string(),
            (Watch::Content, false) => {
                let mut hasher = DefaultHasher::new();
                fs::read(&path).unwrap_or_default().hash(&mut hasher);
                format!(
                    "{} bytes, mode {:o}, hash {:x}",
                    metadata.len(),
                    metadata.mode(),
                    hasher.finish()
                )
            }
            (Watch::Metadata | Watch::TopLevel, false) => format!(
                "{} bytes, mode {:o}, inode {}, mtime {}.{}, ctime {}.{}",
                metadata.len(),
                metadata.mode(),
                metadata.ino(),
                metadata.mtime(),
                metadata.mtime_nsec(),
                metadata.ctime(),
                metadata.ctime_nsec()
            ),
        };
        into.insert(path.clone(), description);
        let descend = match watch {
            Watch::Content => true,
            Watch::Metadata => name != "__pycache__",
            Watch::TopLevel => false,
        };
        if is_dir && descend {
            snapshot(&path, watch, skip, into);
        }
    }
}

/// The paths whose description differs between two snapshots, or that exist in one only.
pub(crate) fn changed_paths(
    before: &BTreeMap<PathBuf, String>,
    after: &BTreeMap<PathBuf, String>,
) -> Vec<String> {
    let mut changed: Vec<String> = after
        .iter()
        .filter(|(path, state)| before.get(*path) != Some(state))
        .map(|(path, state)| format!("{}: {state}", path.display()))
        .collect();
    changed.extend(
        before
            .keys()
            .filter(|path| !after.contains_key(*path))
            .map(|path| format!("{}: removed", path.display())),
    );
    changed
}

/// Processes whose environment carries `NAME=value` (another user's
/// unreadable ones cannot be ours).
pub(crate) fn processes_with_env(name: &str, value: &str) -> Vec<String> {
    let needle = format!("{name}={value}");
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter(|entry| {
            fs::read(entry.path().join("environ")).is_ok_and(|environ| {
                environ
                    .split(|byte| *byte == 0)
                    .any(|variable| variable == needle.as_bytes())
            })
        })
        .map(|entry| {
            let cmdline = fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let shown: String = String::from_utf8_lossy(&cmdline)
                .replace('\0', " ")
                .chars()
                .take(120)
                .collect();
            format!("{}: {shown}", entry.file_name().to_string_lossy())
        })
        .collect()
}

/// Whether the built binary reports every layer in `needed` active on this
/// system. A test that needs one that is not says so and is skipped, except
/// on CI, which runs where the kernel offers every layer: skipping there would
/// leave the kernel layer unproved.
pub(crate) fn sandbox_offers(needed: &[&str]) -> bool {
    let active = active_sandbox_layers();
    let missing: Vec<&str> = needed
        .iter()
        .copied()
        .filter(|layer| !active.iter().any(|name| name == layer))
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        env::var_os("CI").is_none(),
        "this system does not offer the sandbox layers {missing:?}"
    );
    #[allow(clippy::print_stderr)] // a skipped test says so
    {
        eprintln!("skipped: this system does not offer the sandbox layers {missing:?}");
    }
    false
}

/// The sandbox layers the built binary reports active on this system (the
/// JSON report's `interpreter.sandbox`), from a run that ends at once.
fn active_sandbox_layers() -> Vec<String> {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_llama-stack"))
        .args([
            "preflight",
            "--run-yaml=testdata/runs/module_not_found.yaml",
            "--format=json",
        ])
        .current_dir(repo())
        .env("VIRTUAL_ENV", test_virtualenv())
        .env_remove("LLAMA_STACK_PREFLIGHT_KERNEL_SANDBOX")
        .output()
        .expect("the binary runs");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
    report["interpreter"]["sandbox"]["layers"]
        .as_array()
        .expect("interpreter.sandbox.layers")
        .iter()
        .filter(|layer| layer["active"] == true)
        .filter_map(|layer| layer["name"].as_str().map(str::to_string))
        .collect()
}
