//! Helpers shared by the integration modules.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The repository root.
pub(crate) fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Where `scripts/setup-test-envs` caches the test environments.
fn cache_dir() -> PathBuf {
    env::var_os("PREFLIGHT_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(&env::var_os("HOME").unwrap_or_default()).join(".cache/llama-stack-preflight")
        })
}

/// `variable` (set by `scripts/test`), else `default` in the cache; it must exist.
fn built_by_setup(variable: &str, default: &str, what: &str) -> PathBuf {
    let path = env::var_os(variable)
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir().join(default));
    assert!(
        path.exists(),
        "{what} is missing ({}): run scripts/test, which builds it",
        path.display()
    );
    path
}

/// The llama-stack 0.7.3 virtualenv that `scripts/setup-test-envs` builds:
/// `PREFLIGHT_PY_073` (set by `scripts/test`), or the default cache path.
pub(crate) fn test_virtualenv() -> PathBuf {
    let python = built_by_setup(
        "PREFLIGHT_PY_073",
        "venvs/ls-0.7.3/bin/python",
        "the llama-stack 0.7.3 test environment",
    );
    python
        .parent()
        .and_then(Path::parent)
        .expect("venv/bin/python")
        .to_path_buf()
}

/// The `bin` directory of the tools virtualenv (pre-commit, maturin):
/// `PREFLIGHT_TOOLS`, or the default cache path.
pub(crate) fn tools_bin() -> PathBuf {
    built_by_setup(
        "PREFLIGHT_TOOLS",
        "venvs/tools/bin",
        "the tools environment",
    )
}

/// A fresh directory under the system's temporary directory, removed when
/// dropped: tests write there, never in the repository.
pub(crate) struct Scratch(PathBuf);

impl Scratch {
    pub(crate) fn new(label: &str) -> Self {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let path = env::temp_dir().join(format!(
            "preflight-{label}-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        #[allow(clippy::disallowed_methods)] // the test's own temporary directory
        fs::create_dir_all(&path).expect("scratch directory");
        Self(path)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        #[allow(clippy::disallowed_methods)] // the test's own temporary directory
        let _ = fs::remove_dir_all(&self.0);
    }
}
