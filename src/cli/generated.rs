//! Shell completions and the man page, generated from the clap definition at
//! run time so that they can never disagree with `--help`. Both only return
//! bytes; `main` prints them.

use std::io;

use clap::CommandFactory;
use clap_complete::Shell;

use super::{Cli, EXIT_CODES, PREFLIGHT_EXAMPLES};

/// The installed program, as completion scripts must name it.
const BIN_NAME: &str = "llama-stack";

/// The completion script for `shell`.
pub(crate) fn completions(shell: Shell) -> Vec<u8> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), BIN_NAME, &mut script);
    script
}

/// The man page `llama-stack-preflight(1)`: the `preflight` subcommand, which
/// is the tool (git names its subcommand pages the same way).
pub(crate) fn man_page() -> io::Result<Vec<u8>> {
    let mut root = Cli::command();
    // Building propagates the version to the subcommands.
    root.build();
    let preflight = root
        .find_subcommand("preflight")
        .cloned()
        .ok_or_else(|| io::Error::other("the preflight subcommand is not defined"))?
        .name("llama-stack-preflight")
        .bin_name("llama-stack preflight")
        // `explain` has no page of its own to point to; SEE ALSO names it.
        .mut_subcommand("explain", |explain| explain.hide(true));
    // The --help epilogue becomes sections of its own, the examples unfilled.
    let man = clap_mangen::Man::new(preflight.after_help(None::<&str>));
    let mut page = Vec::new();
    man.render(&mut page)?;
    let examples: Vec<&str> = PREFLIGHT_EXAMPLES.lines().map(str::trim_start).collect();
    let sections = format!(
        ".SH \"EXIT STATUS\"\n{}\n.SH EXAMPLES\n.nf\n{}\n.fi\n.SH \"SEE ALSO\"\n{}\n",
        roff_text(EXIT_CODES),
        roff_text(&examples.join("\n")),
        roff_text(SEE_ALSO),
    );
    page.extend_from_slice(sections.as_bytes());
    Ok(page)
}

const SEE_ALSO: &str = "llama-stack preflight explain CODE (the page of a diagnostic code); llama-stack pre-commit --help; llama-stack completions SHELL; llama stack run; ogx run; ogx-preflight";

/// `text` as roff body text: backslashes and hyphens escaped, and no line
/// starting with a control character.
fn roff_text(text: &str) -> String {
    text.lines()
        .map(|line| {
            let escaped = line.replace('\\', "\\e").replace('-', "\\-");
            if escaped.starts_with(['.', '\'']) {
                format!("\\&{escaped}")
            } else {
                escaped
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum;

    use super::*;

    #[test]
    fn every_shell_completes_the_run_yaml_option_and_the_subcommands() {
        for shell in Shell::value_variants() {
            let script = String::from_utf8(completions(*shell)).unwrap();
            for word in ["run-yaml", "pre-commit", "completions"] {
                assert!(script.contains(word), "{shell}: no {word} in\n{script}");
            }
        }
    }

    #[test]
    fn roff_text_escapes_what_roff_would_interpret() {
        assert_eq!(roff_text("a-b \\n"), "a\\-b \\en");
        assert_eq!(roff_text(".SH x\n'y"), "\\&.SH x\n\\&'y");
    }

    #[test]
    fn the_man_page_documents_every_preflight_option() {
        let page = String::from_utf8(man_page().unwrap()).unwrap();
        assert!(page.starts_with(".ie \\n(.g .ds Aq"), "{page}");
        assert!(page.contains(".TH llama-stack-preflight 1"), "{page}");
        let mut root = Cli::command();
        root.build();
        let preflight = root.find_subcommand("preflight").unwrap();
        for arg in preflight.get_arguments() {
            if let Some(long) = arg.get_long() {
                // roff escapes the dashes of option names.
                let spelled = format!("\\-\\-{}", long.replace('-', "\\-"));
                assert!(page.contains(&spelled), "no {spelled} in\n{page}");
            }
        }
    }
}
