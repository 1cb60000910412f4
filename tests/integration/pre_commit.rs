//! The repository's `.pre-commit-hooks.yaml`, driven by the real pre-commit
//! (pinned in `tests/tools/tools.lock.txt`) in a throwaway git repository:
//! a bad run.yaml blocks, a good one passes, the `files:` pattern picks
//! run.yaml files by name, and `args:` chooses the interpreter.
//!
//! The `llama-stack-preflight-system` hook is the one tested: it runs the
//! binary this build made (put first on `PATH`), where the `language: rust`
//! hook would `cargo install` the repository, which takes minutes. Both share
//! the entry and the pattern.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

use crate::support::{repo, test_virtualenv, tools_bin};

const HOOK: &str = "llama-stack-preflight-system";
const GOOD: &str = "testdata/runs/metadata.yaml";
const BAD: &str = "testdata/runs/module_not_found.yaml";

/// A throwaway git repository with run.yaml files copied from the fixtures,
/// and pre-commit's cache beside it.
struct Project {
    scratch: TempDir,
    root: PathBuf,
}

impl Project {
    /// `files` maps a path in the project to the fixture it holds.
    fn new(files: &[(&str, &str)]) -> Self {
        let scratch = tempfile::tempdir().expect("a temporary directory");
        let root = scratch.path().join("project");
        #[allow(clippy::disallowed_methods)] // the test's own temporary directory
        fs::create_dir_all(&root).expect("project directory");
        git(&root, &["init", "--quiet"]);
        let project = Self { scratch, root };
        for (path, fixture) in files {
            project.write(
                path,
                &fs::read_to_string(repo().join(fixture)).expect("fixture"),
            );
        }
        project
    }

    fn write(&self, path: &str, text: &str) {
        let path = self.root.join(path);
        #[allow(clippy::disallowed_methods)] // the test's own temporary directory
        {
            fs::create_dir_all(path.parent().expect("a parent")).expect("directory");
            fs::write(path, text).expect("file written");
        }
    }

    /// pre-commit with `args`, run in the project, with this build's
    /// `llama-stack` first on `PATH` and the fixture providers importable.
    fn pre_commit(&self, args: &[&str], virtual_env: Option<&Path>) -> Output {
        let binary_dir = Path::new(env!("CARGO_BIN_EXE_llama-stack"))
            .parent()
            .expect("target directory");
        let path = std::env::join_paths(std::iter::once(binary_dir.to_path_buf()).chain(
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
        ))
        .expect("PATH");
        let mut command = Command::new(tools_bin().join("pre-commit"));
        command
            .args(args)
            .args(["--color", "never"])
            .current_dir(&self.root)
            .env("PATH", path)
            .env(
                "PRE_COMMIT_HOME",
                self.scratch.path().join("pre-commit-home"),
            )
            .env("PYTHONPATH", repo().join("testdata/providers"))
            .env_remove("VIRTUAL_ENV");
        if let Some(venv) = virtual_env {
            command.env("VIRTUAL_ENV", venv);
        }
        command.output().expect("pre-commit runs")
    }
}

fn git(dir: &Path, args: &[&str]) {
    let output = Command::new("git")
        .args([
            "-c",
            "user.name=preflight-test",
            "-c",
            "user.email=test@preflight.invalid",
        ])
        .args(["-c", "commit.gpgsign=false"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git {args:?}: {}", text(&output));
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn try_repo(project: &Project, files: &[&str]) -> Output {
    let repository = repo().display().to_string();
    let mut args = vec!["try-repo", &repository, HOOK, "--files"];
    args.extend(files);
    project.pre_commit(&args, Some(&test_virtualenv()))
}

#[test]
fn try_repo_blocks_a_bad_run_yaml_and_passes_a_good_one() {
    let project = Project::new(&[("good/run.yaml", GOOD), ("bad/run.yaml", BAD)]);

    let good = try_repo(&project, &["good/run.yaml"]);
    let out = text(&good);
    assert_eq!(good.status.code(), Some(0), "{out}");
    assert!(
        out.contains("llama-stack preflight....") && out.contains("Passed"),
        "{out}"
    );

    let bad = try_repo(&project, &["good/run.yaml", "bad/run.yaml"]);
    let out = text(&bad);
    assert_eq!(bad.status.code(), Some(1), "{out}");
    assert!(
        out.contains("Failed\n- hook id: llama-stack-preflight-system\n- exit code: 1"),
        "{out}"
    );
    assert!(out.contains("==> good/run.yaml <==\n"), "{out}");
    assert!(
        out.contains("All providers validated successfully"),
        "{out}"
    );
    assert!(out.contains("==> bad/run.yaml <==\n"), "{out}");
    assert!(
        out.contains("Code: preflight::import::module_not_found"),
        "{out}"
    );
}

/// A repository of hooks holding this working tree's `.pre-commit-hooks.yaml`,
/// committed; returns its path and revision.
fn hook_repository(scratch: &Path) -> (PathBuf, String) {
    let hooks = scratch.join("hooks");
    #[allow(clippy::disallowed_methods)] // the test's own temporary directory
    {
        fs::create_dir_all(&hooks).expect("hooks directory");
        fs::copy(
            repo().join(".pre-commit-hooks.yaml"),
            hooks.join(".pre-commit-hooks.yaml"),
        )
        .expect("hooks file copied");
    }
    git(&hooks, &["init", "--quiet"]);
    git(&hooks, &["add", "."]);
    git(&hooks, &["commit", "--quiet", "-m", "hooks"]);
    let head = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(&hooks)
        .output()
        .expect("git runs");
    (
        hooks,
        String::from_utf8_lossy(&head.stdout).trim().to_string(),
    )
}

#[test]
fn the_hook_picks_run_yaml_files_by_name_and_takes_the_interpreter_from_args() {
    // Every file that is not a run.yaml by name holds the bad configuration:
    // checking one of them would fail the hook.
    let project = Project::new(&[
        ("deploy/run.yaml", GOOD),
        ("configs/gpu-run.yml", GOOD),
        ("ollama.run.yaml", GOOD),
        ("runtime.yaml", BAD),
        ("rerun.yaml", BAD),
        ("run.yaml.orig", BAD),
        ("docs/running.yaml", BAD),
    ]);
    let (hooks, rev) = hook_repository(project.scratch.path());
    let python = test_virtualenv().join("bin/python");
    project.write(
        ".pre-commit-config.yaml",
        &format!(
            "repos:\n- repo: {}\n  rev: {rev}\n  hooks:\n  - id: {HOOK}\n    args: [--python, {}]\n",
            hooks.display(),
            python.display()
        ),
    );
    git(&project.root, &["add", "."]);

    // No VIRTUAL_ENV: the interpreter comes from args.
    let output = project.pre_commit(&["run", "--all-files", "--verbose"], None);
    let out = text(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    let checked: Vec<&str> = out
        .lines()
        .filter_map(|line| line.strip_prefix("==> ")?.strip_suffix(" <=="))
        .collect();
    assert_eq!(
        checked,
        ["configs/gpu-run.yml", "deploy/run.yaml", "ollama.run.yaml"],
        "{out}"
    );
    let interpreter = format!("Interpreter: {} (", python.display());
    assert_eq!(out.matches(&interpreter).count(), 3, "{out}");
    assert_eq!(out.matches("given with --python)").count(), 3, "{out}");

    // The same hook blocks once a bad run.yaml is added.
    project.write(
        "staging/run.yaml",
        &fs::read_to_string(repo().join(BAD)).expect("fixture"),
    );
    git(&project.root, &["add", "."]);
    let output = project.pre_commit(&["run", "--all-files", "--verbose"], None);
    let out = text(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(out.contains("==> staging/run.yaml <==\n"), "{out}");
    assert!(
        out.contains("Code: preflight::import::module_not_found"),
        "{out}"
    );
}
