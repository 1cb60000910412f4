//! What `--exec`'s command says about how the server starts: whether it is
//! the run command (`llama stack run`, `ogx run`) and, if so, the options of
//! it that decide something before any provider (`--insecure`, `--port`),
//! read as its argparse parser reads them.

use std::ffi::OsString;
use std::path::Path;

/// How `--exec`'s command starts the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Launch {
    /// The run command, with these options.
    RunCommand(RunOptions),
    /// Anything else: preflight cannot tell.
    Other,
}

/// The run command's options that preflight checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RunOptions {
    pub(crate) insecure: bool,
    /// The last `--port` value, as written (argparse converts it with
    /// `int()`, and the last one given wins).
    pub(crate) port: Option<String>,
}

/// The run command's options in the supported releases that take a value or
/// are checked, each with the shortest abbreviation argparse accepts for it
/// (`--p` is both `--port` and `--providers`; `--i` is `--insecure` in the
/// ogx releases that have it, which have no `--image-*`).
const OPTIONS: [(&str, usize, Takes); 5] = [
    ("--port", 4, Takes::Value),
    ("--providers", 4, Takes::Value),
    ("--image-name", 9, Takes::Value),
    ("--image-type", 9, Takes::Value),
    ("--insecure", 3, Takes::Nothing),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Takes {
    Value,
    Nothing,
}

/// Reads `command` (argv) as the server's run command: `<script> run` or its
/// older spelling `<script> stack run` (ogx still takes it), `<script>` being
/// the run command's first word (`run_command`, e.g. `ogx run`), on PATH or
/// by path. Options may be abbreviated and given as `--port=8321`.
pub(crate) fn launch(command: &[OsString], run_command: &str) -> Launch {
    let script = run_command.split(' ').next().unwrap_or_default();
    let Some((program, args)) = command.split_first() else {
        return Launch::Other;
    };
    if Path::new(program)
        .file_name()
        .is_none_or(|name| name != script)
    {
        return Launch::Other;
    }
    let mut args = args.iter().map(|arg| arg.to_string_lossy()).peekable();
    args.next_if(|arg| arg == "stack");
    if args.next().is_none_or(|arg| arg != "run") {
        return Launch::Other;
    }
    let mut options = RunOptions::default();
    while let Some(arg) = args.next() {
        if arg == "--" {
            break;
        }
        let (written, inline) = match arg.split_once('=') {
            Some((written, value)) => (written, Some(value.to_string())),
            None => (arg.as_ref(), None),
        };
        let Some(&(name, _, takes)) = OPTIONS
            .iter()
            .find(|(name, shortest, _)| written.len() >= *shortest && name.starts_with(written))
        else {
            continue;
        };
        match takes {
            Takes::Value => {
                let value = inline.or_else(|| args.next().map(|value| value.into_owned()));
                if name == "--port" {
                    options.port = value;
                }
            }
            Takes::Nothing => options.insecure = true,
        }
    }
    Launch::RunCommand(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(line: &str) -> Vec<OsString> {
        line.split(' ').map(OsString::from).collect()
    }

    fn run_command(insecure: bool, port: Option<&str>) -> Launch {
        Launch::RunCommand(RunOptions {
            insecure,
            port: port.map(String::from),
        })
    }

    #[test]
    fn the_run_command_is_recognised_with_its_insecure_flag() {
        let launched = |line: &str| launch(&argv(line), "ogx run");
        assert_eq!(launched("ogx run /c/config.yaml"), run_command(false, None));
        assert_eq!(
            launched("/venv/bin/ogx run config.yaml --port 8321 --insecure"),
            run_command(true, Some("8321"))
        );
        assert_eq!(
            launched("ogx run --insec config.yaml"),
            run_command(true, None)
        );
        assert_eq!(
            launched("ogx run --port --insecure config.yaml"),
            run_command(false, Some("--insecure"))
        );
        assert_eq!(
            launched("ogx stack run config.yaml --insecure"),
            run_command(true, None)
        );
        assert_eq!(launched("ogx list"), Launch::Other);
        assert_eq!(
            launched("uvicorn --factory ogx.core.server.server:create_app"),
            Launch::Other
        );
        assert_eq!(launched("ogxm run config.yaml"), Launch::Other);
        assert_eq!(
            launch(&argv("llama stack run run.yaml"), "llama stack run"),
            run_command(false, None)
        );
    }

    #[test]
    fn the_port_is_the_last_one_given_in_any_spelling_argparse_takes() {
        let port = |line: &str| match launch(&argv(line), "llama stack run") {
            Launch::RunCommand(options) => options.port,
            Launch::Other => panic!("{line} is the run command"),
        };
        assert_eq!(
            port("llama stack run run.yaml --port 9000"),
            Some("9000".into())
        );
        assert_eq!(
            port("llama stack run --port=9000 run.yaml"),
            Some("9000".into())
        );
        assert_eq!(
            port("llama stack run --po 9000 run.yaml"),
            Some("9000".into())
        );
        assert_eq!(
            port("llama stack run --port 1 run.yaml --port 9000"),
            Some("9000".into())
        );
        // A value of --providers is not an option; `--p` is ambiguous.
        assert_eq!(port("llama stack run --providers --port run.yaml"), None);
        assert_eq!(port("llama stack run --p 9000 run.yaml"), None);
        assert_eq!(port("llama stack run run.yaml -- --port 9000"), None);
        assert_eq!(port("llama stack run run.yaml --port"), None);
    }
}
