//! The diagnostic codes and their pages: every code the source can emit is
//! declared in one place and has its page, `docs/codes/<phase>/<leaf>.md`;
//! every code the handbook or the README names exists; every page has its
//! sections, and its example is a report a golden file really holds;
//! `llama-stack preflight explain` prints each page. Also: the vocabulary
//! every phase reports in imports no other module.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::repo;

/// The sections every page has, in this order.
const SECTIONS: [&str; 4] = [
    "## What it means",
    "## What the server says",
    "## Example",
    "## How to fix it",
];

fn files_under(dir: &Path, extension: &str, found: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|err| panic!("{}: {err}", dir.display())) {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files_under(&path, extension, found);
        } else if path.extension().is_some_and(|ext| ext == extension) {
            found.push(path);
        }
    }
}

/// `text` without its unit tests and `//` comments: what the binary is built from.
fn shipped_code(text: &str) -> String {
    let text = text
        .find("#[cfg(test)]\nmod tests")
        .map_or(text, |tests| &text[..tests]);
    text.lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `preflight::<phase>::<leaf>` in `text`.
fn codes_in(text: &str) -> Vec<String> {
    let mut codes = Vec::new();
    for (start, _) in text.match_indices("preflight::") {
        let code: String = text[start..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == ':')
            .collect();
        let code = code.trim_end_matches(':');
        if code.split("::").count() == 3 && !code.contains(":::") {
            codes.push(code.to_string());
        }
    }
    codes
}

/// Every code the binary can emit, with the number of places that declare it
/// (`code(preflight::…)` on an error, a string that is the code on a warning).
fn emitted_codes() -> BTreeMap<String, usize> {
    let mut sources = Vec::new();
    files_under(&repo().join("src"), "rs", &mut sources);
    let mut codes = BTreeMap::new();
    for source in sources {
        let code = shipped_code(&fs::read_to_string(&source).expect("source is UTF-8"));
        for found in codes_in(&code) {
            codes.entry(found).or_insert(0);
        }
        for marker in ["code(", "\""] {
            for (start, _) in code.match_indices(&format!("{marker}preflight::")) {
                if let Some(found) = codes_in(&code[start + marker.len()..]).first() {
                    *codes.entry(found.clone()).or_insert(0) += 1;
                }
            }
        }
    }
    codes
}

/// The page of `code`.
fn page_path(code: &str) -> PathBuf {
    let mut parts = code.split("::").skip(1);
    let (phase, leaf) = (parts.next().unwrap(), parts.next().unwrap());
    repo().join(format!("docs/codes/{phase}/{leaf}.md"))
}

/// Every page, by the code its path names.
fn pages() -> BTreeMap<String, PathBuf> {
    let mut found = Vec::new();
    files_under(&repo().join("docs/codes"), "md", &mut found);
    found
        .into_iter()
        .filter_map(|path| {
            let phase = path.parent()?.file_name()?.to_str()?.to_string();
            if phase == "codes" {
                return None; // the index
            }
            let leaf = path.file_stem()?.to_str()?.to_string();
            Some((format!("preflight::{phase}::{leaf}"), path))
        })
        .collect()
}

#[test]
fn every_code_is_declared_once_and_has_a_page() {
    let emitted = emitted_codes();
    assert!(emitted.len() > 90, "found only {emitted:?}");
    let pages = pages();
    let mut problems = Vec::new();
    for (code, declared) in &emitted {
        if *declared != 1 {
            problems.push(format!("{code} is declared {declared} times"));
        }
        if !pages.contains_key(code) {
            problems.push(format!(
                "{code} has no page: write {}",
                page_path(code).display()
            ));
        }
    }
    for code in pages.keys() {
        if !emitted.contains_key(code) {
            problems.push(format!("{code} has a page but the source never emits it"));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_handbook_names_only_codes_that_exist() {
    let emitted = emitted_codes();
    let mut documents = vec![repo().join("README.md")];
    files_under(&repo().join("docs"), "md", &mut documents);
    let mut problems = BTreeSet::new();
    for document in &documents {
        let text = fs::read_to_string(document).expect("UTF-8");
        for code in codes_in(&text) {
            if !emitted.contains_key(&code) {
                problems.insert(format!(
                    "{} names {code}, which the source does not emit",
                    document.display()
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

/// The fenced block of a page's example and the file it cites, if it has one.
fn example_of(page: &str) -> Option<(String, String)> {
    let section = &page[page.find("## Example")?..page.find("## How to fix it")?];
    let start = section.find("```text\n")? + "```text\n".len();
    let end = start + section[start..].find("\n```\n")?;
    let after = &section[end..];
    let from = after.find("From `")? + "From `".len();
    let cited = after[from..].split('`').next()?;
    Some((section[start..end].to_string(), cited.to_string()))
}

#[test]
fn every_page_has_its_sections_and_a_real_example() {
    let mut problems = Vec::new();
    for (code, path) in pages() {
        let page = fs::read_to_string(&path).expect("UTF-8");
        if !page.starts_with(&format!("# {code}\n\n")) {
            problems.push(format!("{code}: the page must start with `# {code}`"));
        }
        let positions: Vec<Option<usize>> = SECTIONS.iter().map(|s| page.find(s)).collect();
        if positions.iter().any(Option::is_none) || !positions.is_sorted() {
            problems.push(format!(
                "{code}: the sections must be {SECTIONS:?}, in order"
            ));
            continue;
        }
        let Some((block, cited)) = example_of(&page) else {
            if !page.contains("No golden report") {
                problems.push(format!(
                    "{code}: the example must be a ```text block followed by From `<golden file>`"
                ));
            }
            continue;
        };
        match fs::read_to_string(repo().join(&cited)) {
            Ok(golden) if golden.contains(&block) => {}
            Ok(_) => problems.push(format!("{code}: the example is not in {cited}")),
            Err(err) => problems.push(format!("{code}: {cited}: {err}")),
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn explain_prints_every_page_with_or_without_the_prefix() {
    for (code, path) in pages() {
        let page = fs::read_to_string(&path).expect("UTF-8");
        let short = code.trim_start_matches("preflight::");
        for spelling in [code.as_str(), short] {
            let output = Command::new(env!("CARGO_BIN_EXE_llama-stack"))
                .args(["preflight", "explain", spelling])
                .output()
                .expect("llama-stack runs");
            assert_eq!(output.status.code(), Some(0), "explain {spelling}");
            assert_eq!(
                String::from_utf8_lossy(&output.stdout),
                page,
                "explain {spelling}"
            );
        }
    }
}

#[test]
fn the_vocabulary_imports_no_other_module() {
    let diagnostics = fs::read_to_string(repo().join("src/diagnostics.rs")).expect("UTF-8");
    let shipped = shipped_code(&diagnostics);
    let imports: Vec<&str> = shipped
        .lines()
        .filter(|line| line.contains("crate::") || line.contains("super::"))
        .map(str::trim)
        .collect();
    assert!(
        imports.is_empty(),
        "src/diagnostics.rs, which every phase uses, must not use another module of the crate: {imports:?}"
    );
}
