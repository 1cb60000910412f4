//! Helpers shared by the integration modules.

use std::env;
use std::path::{Path, PathBuf};

/// The repository root.
pub(crate) fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A path `scripts/setup-test-envs` exports as `variable` (set by
/// `scripts/test`), else where it puts it in the default cache.
fn cached(variable: &str, default: &str) -> PathBuf {
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
