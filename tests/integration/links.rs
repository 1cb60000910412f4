//! The links of README.md and the handbook (`docs/`): every relative link
//! names a file of the repository, and every `#anchor` a heading of the page
//! it points into, spelled as GitHub spells heading anchors. Nothing is
//! fetched: links to other sites are not followed.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Component, Path, PathBuf};

use crate::support::repo;

/// The Markdown documents whose links are checked.
fn documents() -> Vec<PathBuf> {
    let mut found = vec![repo().join("README.md")];
    let mut dirs = vec![repo().join("docs")];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).unwrap_or_else(|err| panic!("{}: {err}", dir.display())) {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|ext| ext == "md") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// `text` without fenced code blocks and inline code, where brackets are not links.
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            out.push('\n');
            continue;
        }
        if !fenced {
            let without_code: String = line
                .split('`')
                .enumerate()
                .filter(|(index, _)| index % 2 == 0)
                .map(|(_, part)| part)
                .collect::<Vec<_>>()
                .join("");
            out.push_str(&without_code);
        }
        out.push('\n');
    }
    out
}

/// The targets of the inline links `[text](target)` of `text`.
fn link_targets(text: &str) -> Vec<String> {
    let text = prose(text);
    text.match_indices("](")
        .filter_map(|(start, _)| {
            let rest = &text[start + 2..];
            let end = rest.find(')')?;
            let target = rest[..end].split_whitespace().next()?;
            Some(target.trim_matches(['<', '>']).to_string())
        })
        .collect()
}

/// A heading's anchor as GitHub makes it: lower case, punctuation other than
/// `-` and `_` dropped, spaces turned into `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a page's headings; a repeated heading gets `-1`, `-2`, ….
fn anchors(page: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut fenced = false;
    for line in page.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        }
        if fenced || !line.starts_with('#') {
            continue;
        }
        let heading = line.trim_start_matches('#').replace('`', "");
        let base = slug(&heading);
        let mut anchor = base.clone();
        let mut repeat = 0;
        while found.contains(&anchor) {
            repeat += 1;
            anchor = format!("{base}-{repeat}");
        }
        found.insert(anchor);
    }
    found
}

/// `path` with `.` and `..` resolved, without touching the file system.
fn normalized(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[test]
fn relative_links_and_anchors_resolve() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for document in documents() {
        let text = fs::read_to_string(&document).expect("UTF-8");
        let shown = document.strip_prefix(repo()).unwrap_or(&document).display();
        for target in link_targets(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            let (file, anchor) = match target.split_once('#') {
                Some((file, anchor)) => (file, Some(anchor)),
                None => (target.as_str(), None),
            };
            let linked = if file.is_empty() {
                document.clone()
            } else {
                normalized(&document.parent().expect("in a directory").join(file))
            };
            if !linked.starts_with(repo()) || !linked.exists() {
                problems.push(format!("{shown}: {target}: no such file in the repository"));
                continue;
            }
            if let Some(anchor) = anchor {
                let page = fs::read_to_string(&linked).unwrap_or_default();
                if !anchors(&page).contains(anchor) {
                    problems.push(format!("{shown}: {target}: no heading with that anchor"));
                }
            }
        }
    }
    assert!(checked > 100, "only {checked} links found");
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn anchors_are_spelled_as_github_spells_them() {
    assert_eq!(
        slug("What is checked, in order"),
        "what-is-checked-in-order"
    );
    assert_eq!(slug("1. run.yaml as written"), "1-runyaml-as-written");
    assert_eq!(slug("`--exec` in a pod"), "--exec-in-a-pod");
    let page = "# A\n## A\n```\n# not a heading\n```\n## `b_c`\n";
    assert_eq!(
        anchors(page),
        BTreeSet::from(["a".to_string(), "a-1".to_string(), "b_c".to_string()])
    );
    assert_eq!(
        link_targets("[x](a.md#b) `[y](z.md)` [w](c.md 'title')\n```\n[v](u.md)\n```\n"),
        ["a.md#b", "c.md"]
    );
}
