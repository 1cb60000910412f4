//! Every diagnostic code in the source is unique to one place and documented
//! in the README's troubleshooting table.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

fn source_files(dir: &Path, found: &mut Vec<String>) {
    for entry in fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            source_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(fs::read_to_string(&path).expect("source is UTF-8"));
        }
    }
}

/// Every code the source declares (`code(preflight::…)` on an error,
/// `code: "preflight::…"` on a warning), with how often it is declared.
fn declared_codes() -> BTreeMap<String, usize> {
    let mut sources = Vec::new();
    source_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut sources,
    );
    let mut codes = BTreeMap::new();
    for source in &sources {
        for marker in ["code(preflight::", "code: \"preflight::"] {
            for (start, _) in source.match_indices(marker) {
                let code: String = source[start + marker.len() - "preflight::".len()..]
                    .chars()
                    .take_while(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == ':'
                    })
                    .collect();
                *codes.entry(code).or_insert(0) += 1;
            }
        }
    }
    codes
}

#[test]
fn codes_are_unique_and_documented() {
    let readme = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let codes = declared_codes();
    assert!(codes.len() > 30, "found only {codes:?}");
    let mut problems = Vec::new();
    for (code, count) in &codes {
        if *count > 1 {
            problems.push(format!("{code} is declared {count} times"));
        }
        if !readme.contains(&format!("`{code}`")) {
            problems.push(format!("{code} is not documented in README.md"));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}
