//! `llama-stack preflight explain CODE`: the handbook's page of a diagnostic
//! code, for whoever finds `Code: preflight::…` in a pod log, like
//! `rustc --explain`. The pages (`docs/codes/<phase>/<leaf>.md`) are built
//! into the binary by `build.rs`, so a pod without the repository has them.

use thiserror::Error;

use crate::import::nearest;

/// Every code and its page, ordered by code.
const PAGES: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/code_pages.rs"));

/// What every code starts with; `explain` accepts a code without it.
const PREFIX: &str = "preflight::";

/// A code `explain` has no page for, with the codes it may have meant.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("no diagnostic code `{code}`{}", did_you_mean(suggestions))]
pub(crate) struct UnknownCode {
    code: String,
    suggestions: Vec<&'static str>,
}

fn did_you_mean(suggestions: &[&str]) -> String {
    match suggestions {
        [] => String::new(),
        [one] => format!("; did you mean `{one}`?"),
        several => format!(
            "; did you mean one of {}?",
            several
                .iter()
                .map(|code| format!("`{code}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The page of `code`, written `preflight::probe::timeout` or `probe::timeout`.
pub(crate) fn page(code: &str) -> Result<&'static str, UnknownCode> {
    let code = code.trim();
    let code = if code.starts_with(PREFIX) {
        code.to_string()
    } else {
        format!("{PREFIX}{code}")
    };
    match PAGES.iter().find(|(known, _)| *known == code) {
        Some((_, page)) => Ok(page),
        None => Err(UnknownCode {
            suggestions: suggestions(&code),
            code,
        }),
    }
}

/// The codes whose last part is the one given (`timeout` names two), else the
/// one nearest to it as a typo.
fn suggestions(code: &str) -> Vec<&'static str> {
    let leaf = code.rsplit("::").next().unwrap_or(code);
    let same_leaf: Vec<&'static str> = PAGES
        .iter()
        .map(|(known, _)| *known)
        .filter(|known| known.rsplit("::").next() == Some(leaf))
        .collect();
    if !same_leaf.is_empty() {
        return same_leaf;
    }
    let known: Vec<String> = PAGES.iter().map(|(known, _)| known.to_string()).collect();
    nearest(code, &known)
        .and_then(|near| PAGES.iter().find(|(known, _)| *known == near))
        .map(|(known, _)| vec![*known])
        .unwrap_or_default()
}

/// Every code with the first paragraph of its page, one per line.
pub(crate) fn list() -> String {
    let width = PAGES.iter().map(|(code, _)| code.len()).max().unwrap_or(0);
    PAGES
        .iter()
        .map(|(code, page)| format!("{code:width$}  {}\n", summary(page)))
        .collect()
}

/// A page's summary: the line after its heading.
fn summary(page: &str) -> &str {
    page.lines()
        .skip(1)
        .find(|line| !line.trim().is_empty())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_found_with_or_without_its_prefix() {
        let page = page("preflight::probe::timeout").unwrap();
        assert!(page.starts_with("# preflight::probe::timeout\n"));
        assert_eq!(crate::explain::page("probe::timeout"), Ok(page));
        assert_eq!(crate::explain::page(" probe::timeout\n"), Ok(page));
    }

    #[test]
    fn an_unknown_code_names_the_ones_it_may_mean() {
        let typo = page("probe::timout").unwrap_err();
        assert_eq!(
            typo.to_string(),
            "no diagnostic code `preflight::probe::timout`; did you mean `preflight::probe::timeout`?"
        );
        let leaf = page("timeout").unwrap_err();
        assert_eq!(
            leaf.suggestions,
            [
                "preflight::interpreter::timeout",
                "preflight::probe::timeout"
            ]
        );
        let nothing = page("no::such::thing::at::all").unwrap_err();
        assert_eq!(
            nothing.to_string(),
            "no diagnostic code `preflight::no::such::thing::at::all`"
        );
    }

    #[test]
    fn every_page_has_a_summary() {
        for (code, page) in PAGES {
            assert!(!summary(page).is_empty(), "{code} has no summary line");
        }
        assert_eq!(list().lines().count(), PAGES.len());
    }
}
