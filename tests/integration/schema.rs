//! `schema/report.schema.json` describes what `--format json` really prints:
//! real reports of every shape (passed, failed, several failures with
//! `--keep-going`, shadowed and not checked providers, refused settings,
//! metadata mismatches, denied warnings, the effective configuration, an early
//! stop before llama-stack's import, an invalid invocation before any
//! interpreter) validate against it, and documents it does not describe are
//! refused.

// The schema is the repository's own file.
#![allow(clippy::disallowed_methods)]

use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::{repo, test_virtualenv};

/// Command lines whose reports between them produce every part of the schema.
const CASES: &[&[&str]] = &[
    &["--run-yaml=testdata/runs/all_valid.yaml"],
    &["--run-yaml=testdata/runs/keep_going.yaml", "--keep-going"],
    &["--run-yaml=testdata/runs/keep_going.yaml"],
    &[
        "--run-yaml=testdata/runs/keep_going_every_kind.yaml",
        "--keep-going",
    ],
    &["--run-yaml=testdata/runs/cross_check_stopped.yaml"],
    &[
        "--run-yaml=testdata/runs/config_invalid.yaml",
        "--check-config",
    ],
    &[
        "--run-yaml=testdata/runs/metadata.yaml",
        "--metadata-dir=testdata/metadata/several_mismatches",
    ],
    &[
        "--run-yaml=testdata/runs/deprecation_warning.yaml",
        "--deny-warnings",
    ],
    &[
        "--run-yaml=testdata/runs/env_layers.yaml",
        "--env-file=testdata/env/pod.env",
        "--print-config",
    ],
    &["--run-yaml=testdata/runs/env_layers.yaml"],
    &[
        "--run-yaml=testdata/runs/env_layers.yaml",
        "--env-file=testdata/env/malformed.env",
    ],
    &["--run-yaml=testdata/runs/module_not_found_last.yaml"],
    &["--run-yaml=testdata/runs/does-not-exist.yaml"],
];

fn validator() -> (boon::Schemas, boon::SchemaIndex) {
    let path = repo().join("schema/report.schema.json");
    let text = std::fs::read_to_string(&path).expect("the schema file is there");
    let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler
        .add_resource("report.schema.json", schema)
        .expect("the schema is added");
    let index = compiler
        .compile("report.schema.json", &mut schemas)
        .expect("the schema compiles");
    (schemas, index)
}

fn report(args: &[&str]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_llama-stack"))
        .arg("preflight")
        .args(args)
        .arg("--format=json")
        .current_dir(repo())
        .env("VIRTUAL_ENV", test_virtualenv())
        .env("PYTHONPATH", repo().join("testdata/providers"))
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs");
    let report: Value = serde_json::from_slice(&output.stdout).expect("the report is JSON");
    assert_eq!(
        report["exit_code"].as_i64(),
        output.status.code().map(i64::from),
        "{args:?}"
    );
    report
}

#[test]
fn real_reports_match_the_schema_and_the_schema_refuses_others() {
    let (schemas, index) = validator();
    let mut seen = std::collections::BTreeSet::new();
    for args in CASES {
        let report = report(args);
        if let Err(err) = schemas.validate(&report, index) {
            panic!("{args:?} does not match the schema: {err:#}\n{report:#}");
        }
        seen.insert(report["status"].as_str().unwrap_or_default().to_string());
        if let Some(errors) = report["errors"].as_array() {
            seen.extend(errors.iter().map(|e| format!("phase {}", e["phase"])));
        }
        for field in ["effective_config", "stopped_before_import"] {
            if report.get(field).is_some() {
                seen.insert(field.to_string());
            }
        }
        if report["errors"]
            .as_array()
            .is_some_and(|errors| errors.len() > 1)
        {
            seen.insert("several errors".to_string());
        }
    }
    for wanted in [
        "passed",
        "failed",
        "invalid_invocation",
        "effective_config",
        "stopped_before_import",
        "several errors",
        "phase \"warnings\"",
        "phase \"spec_validation\"",
        "phase \"import\"",
    ] {
        assert!(seen.contains(wanted), "no case shows {wanted}: {seen:?}");
    }

    let valid = report(CASES[0]);
    let mut unknown_field = valid.clone();
    unknown_field["surprise"] = Value::Bool(true);
    let mut missing_field = valid.clone();
    missing_field.as_object_mut().unwrap().remove("errors");
    let mut wrong_status = valid;
    wrong_status["providers"][0]["status"] = Value::from("fine");
    for document in [unknown_field, missing_field, wrong_status] {
        assert!(schemas.validate(&document, index).is_err(), "{document:#}");
    }
}
