//! Helpers shared by the integration modules.

use std::env;
use std::path::{Path, PathBuf};

/// The repository root.
pub(crate) fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The llama-stack 0.7.3 virtualenv that `scripts/setup-test-envs` builds:
/// `PREFLIGHT_PY_073` (set by `scripts/test`), or the default cache path.
pub(crate) fn test_virtualenv() -> PathBuf {
    let python = env::var_os("PREFLIGHT_PY_073")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let cache = env::var_os("PREFLIGHT_CACHE_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    Path::new(&env::var_os("HOME").unwrap_or_default())
                        .join(".cache/llama-stack-preflight")
                });
            cache.join("venvs/ls-0.7.3/bin/python")
        });
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
