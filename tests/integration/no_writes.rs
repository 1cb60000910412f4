//! A run writes nothing: no `__pycache__` next to provider code, nothing in the
//! virtualenv, nothing in the temporary directory (NFR-003).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use crate::support::{repo, test_virtualenv};

/// Path → (size, modification time) of every file and directory below `root`.
fn snapshot(root: &Path, into: &mut BTreeMap<PathBuf, (u64, Option<SystemTime>)>) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(metadata) = fs::symlink_metadata(&path) else {
            continue;
        };
        into.insert(path.clone(), (metadata.len(), metadata.modified().ok()));
        if metadata.is_dir() {
            snapshot(&path, into);
        }
    }
}

#[test]
fn a_full_run_changes_no_file() {
    let venv = test_virtualenv();
    let scratch = std::env::temp_dir().join(format!("preflight-no-writes-{}", std::process::id()));
    #[allow(clippy::disallowed_methods)] // the test's own empty temp directory
    fs::create_dir_all(&scratch).expect("scratch dir");
    let roots = [repo().join("testdata"), venv.clone(), scratch.clone()];
    let take = || {
        let mut all = BTreeMap::new();
        roots.iter().for_each(|root| snapshot(root, &mut all));
        all
    };
    let before = take();
    let output = Command::new(env!("CARGO_BIN_EXE_llama-stack"))
        .args(["preflight", "--run-yaml=testdata/runs/all_valid.yaml"])
        .current_dir(repo())
        .env("VIRTUAL_ENV", &venv)
        .env("PYTHONPATH", repo().join("testdata/providers"))
        .env("TMPDIR", &scratch)
        .env("HOME", &scratch)
        // Only preflight's own -B may keep bytecode off the disk here.
        .env_remove("PYTHONDONTWRITEBYTECODE")
        .output()
        .expect("the binary runs");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let after = take();
    #[allow(clippy::disallowed_methods)]
    let _ = fs::remove_dir_all(&scratch);
    let changed: Vec<_> = after
        .iter()
        .filter(|(path, state)| before.get(*path) != Some(state))
        .map(|(path, _)| path)
        .chain(before.keys().filter(|path| !after.contains_key(*path)))
        .collect();
    assert!(changed.is_empty(), "files changed by a run: {changed:#?}");
    assert!(
        before.len() > 1000,
        "the snapshot saw only {} paths",
        before.len()
    );
}
