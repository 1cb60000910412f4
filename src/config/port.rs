//! Whether the server listens on run.yaml's `server.port`.
//!
//! The run command takes its port from `--port`, else from its variable
//! (`LLAMA_STACK_PORT`, `OGX_PORT`), and uses `server.port` only when that
//! gives none. llama-stack and ogx 1.0 read the variable as `--port`'s
//! default, itself defaulting to 8321, so they use `server.port` only when
//! the port given comes to 0; ogx 1.1 onward reads the variable after the
//! arguments and falls back to `server.port` ([`PortRule`], read from every
//! supported release's run command by `scripts/sweep-run-port`). The server
//! starts either way, so a `server.port` it does not use is a warning: a
//! Service or readiness probe pointed at it finds nothing. With `--exec`,
//! preflight knows the command and its `--port`; the variable comes from the
//! server's environment as preflight computes it.

use std::ffi::OsString;

use serde_yaml_ng::Value;

use super::ConfigError;
use super::env::Environment;
use super::locate;
use super::run_command::{Launch, launch};
use crate::diagnostics::Warning;
use crate::flavour::{Flavour, major_minor};
use crate::interpreter::LlamaStackFacts;

/// run.yaml's `server.port`, after substitution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ServerPort {
    pub(crate) port: u32,
    pub(crate) line: Option<usize>,
}

impl ServerPort {
    /// Reads it from the substituted document as pydantic takes an `int`: a
    /// number, or text of digits. `None` when it is not set (or not a port,
    /// which the server's own check of run.yaml refuses first).
    pub(crate) fn read(document: &Value, text: &str) -> Option<ServerPort> {
        let port = match document.get("server")?.get("port")? {
            Value::Number(number) => u32::try_from(number.as_u64()?).ok()?,
            Value::String(written) => written.trim().parse().ok()?,
            _ => return None,
        };
        let line = locate::nearest_line(text, &["server".to_string(), "port".to_string()]);
        Some(ServerPort { port, line })
    }
}

/// How a release's run command chooses the port it listens on: `--port`,
/// else the variable, else `server.port`. The table the sweep writes,
/// testdata/sweep/run-port.md, has every supported release's (a test below
/// holds this to it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PortRule {
    /// The variable it reads.
    variable: &'static str,
    /// Where the variable is `--port`'s default (llama-stack, ogx 1.0), the
    /// port when it is unset: 8321; `server.port` then counts only when the
    /// port given is 0. None where the variable is read after the arguments
    /// (ogx 1.1 onward), each of the two counting only when set and not 0.
    fallback: Option<u32>,
}

impl PortRule {
    fn of(server: &LlamaStackFacts) -> Option<PortRule> {
        let release = major_minor(&server.version)?;
        let (variable, fallback) = match (server.distribution, release) {
            (Flavour::LlamaStack, (0, 4..=7)) => ("LLAMA_STACK_PORT", Some(8321)),
            (Flavour::Ogx, (1, 0)) => ("OGX_PORT", Some(8321)),
            (Flavour::Ogx, (1, 1..=5)) => ("OGX_PORT", None),
            _ => return None,
        };
        Some(PortRule { variable, fallback })
    }
}

/// What gives the port the server listens on, when it is not `server.port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// `--port` in `--exec`'s command.
    Flag,
    /// The run command's variable, in the server's environment.
    Variable,
    /// The run command's fallback.
    Fallback,
}

/// The port the server listens on and what gives it, or `None` when it is
/// `server.port` or cannot be told: a value `int()` refuses stops the run
/// command before it listens anywhere.
fn chosen(rule: PortRule, flag: Option<&str>, variable: Option<&str>) -> Option<(u32, Source)> {
    let parse = |written: &str| written.trim().parse::<u32>().ok();
    let (port, source) = match (rule.fallback, flag, variable) {
        (_, Some(flag), _) => (parse(flag)?, Source::Flag),
        // The variable is --port's default, read whenever it is set.
        (Some(_), None, Some(value)) => (parse(value)?, Source::Variable),
        (Some(fallback), None, None) => (fallback, Source::Fallback),
        // Read after the arguments: an empty one counts as unset.
        (None, None, Some(value)) if !value.is_empty() => (parse(value)?, Source::Variable),
        (None, None, _) => return None,
    };
    match (port, source, rule.fallback) {
        // After a --port 0, ogx 1.1 onward still reads the variable.
        (0, Source::Flag, None) => chosen(rule, None, variable),
        (0, ..) => None,
        _ => Some((port, source)),
    }
}

/// Warns when run.yaml sets `server.port` and the run command will listen
/// elsewhere. `command` is `--exec`'s; no warning when it is not the run
/// command, whose port preflight cannot know.
pub(crate) fn check(
    setting: Option<ServerPort>,
    server: &LlamaStackFacts,
    command: Option<&[OsString]>,
    environment: &dyn Environment,
    warnings: &mut Vec<Warning>,
) {
    let (Some(setting), Some(rule)) = (setting, PortRule::of(server)) else {
        return;
    };
    let run_command = server.run_command();
    let flag = match command.map(|command| launch(command, run_command)) {
        Some(Launch::RunCommand(options)) => options.port,
        Some(Launch::Other) => return,
        None => None,
    };
    let variable = environment.var(rule.variable);
    let Some((port, source)) = chosen(rule, flag.as_deref(), variable.as_deref()) else {
        return;
    };
    if port == setting.port {
        return;
    }
    let wanted = setting.port;
    let name = rule.variable;
    let (why, set_variable) = match source {
        Source::Flag => (
            format!("the --exec command passes --port {port}"),
            String::new(),
        ),
        Source::Variable => (
            format!("{name} is {port} in the server's environment"),
            format!(" or set {name}={wanted}"),
        ),
        Source::Fallback => (
            format!(
                "without --port or {name} it uses {port}, and server.port only when one of them is 0"
            ),
            format!(" or set {name}={wanted}"),
        ),
    };
    let unchecked = if command.is_none() {
        " (preflight was not given the server's command, whose --port would come first: pass it with --exec to have it checked)"
    } else {
        ""
    };
    warnings.push(Warning {
        provider_id: None,
        code: "preflight::config::server_port_ignored",
        message: format!(
            "server.port{} is {wanted}, but `{run_command}` ({}) will listen on {port}: {why}. To serve on {wanted}, pass --port {wanted}{set_variable}; else point clients, the Service and the readiness probe at {port}{unchecked}",
            setting
                .line
                .map(|line| format!(" (run.yaml line {line})"))
                .unwrap_or_default(),
            server.release(),
        ),
        mismatch: None,
    });
}

/// When the run command reads its port variable, which decides where in
/// the server's order a value it cannot read stops it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// As `--port`'s default, while the command line is parsed (llama-stack,
    /// ogx 1.0): before run.yaml is read, whatever `--port` says.
    CommandLine,
    /// After run.yaml was read and validated, and only without a `--port`
    /// other than 0 (ogx 1.1 onward).
    AfterConfig,
}

/// Fails when the run command reads its port variable at `stage` and
/// Python's `int()` refuses its value: the command stops with a
/// `ValueError` before it serves. With the run command not known (no
/// `--exec`), a warning instead; with another command, nothing.
pub(crate) fn check_variable(
    stage: Stage,
    server: &LlamaStackFacts,
    command: Option<&[OsString]>,
    environment: &dyn Environment,
    warnings: &mut Vec<Warning>,
) -> Result<(), ConfigError> {
    let Some(rule) = PortRule::of(server) else {
        return Ok(());
    };
    let read_at = match rule.fallback {
        Some(_) => Stage::CommandLine,
        None => Stage::AfterConfig,
    };
    let Some(value) = environment.var(rule.variable).filter(|_| read_at == stage) else {
        return Ok(());
    };
    let run_command = server.run_command();
    let launched = command.map(|command| launch(command, run_command));
    let flag = match &launched {
        Some(Launch::Other) => return Ok(()),
        Some(Launch::RunCommand(options)) => options.port.as_deref(),
        None => None,
    };
    let read = match read_at {
        Stage::CommandLine => true,
        // `args.port or (int(env_port) if env_port else None)`.
        Stage::AfterConfig => {
            !value.is_empty() && flag.is_none_or(|flag| flag.trim().parse::<i64>() == Ok(0))
        }
    };
    if !read || !int_refuses(&value) {
        return Ok(());
    }
    let value = python_repr(&value);
    if launched.is_some() {
        return Err(ConfigError::PortVariableInvalid {
            variable: rule.variable.to_string(),
            value,
            release: server.release(),
            command: run_command.to_string(),
        });
    }
    warnings.push(Warning {
        provider_id: None,
        code: "preflight::config::port_variable_unchecked",
        message: format!(
            "{} is {value} in the server's environment, which Python's int() cannot read: if the server is started with `{run_command}`{}, that command stops with a ValueError before it serves (pass the server's command with --exec to have this checked)",
            rule.variable,
            match read_at {
                Stage::CommandLine => "",
                Stage::AfterConfig => " without --port",
            }
        ),
        mismatch: None,
    });
    Ok(())
}

/// An ASCII text as Python's `repr()` shows it, as the server's ValueError
/// quotes it.
fn python_repr(value: &str) -> String {
    let quote = if value.contains('\'') && !value.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut shown = String::from(quote);
    for c in value.chars() {
        match c {
            '\\' => shown.push_str("\\\\"),
            '\t' => shown.push_str("\\t"),
            '\n' => shown.push_str("\\n"),
            '\r' => shown.push_str("\\r"),
            c if c == quote => shown.extend(['\\', c]),
            ' '..='~' => shown.push(c),
            c => shown.push_str(&format!("\\x{:02x}", u32::from(c))),
        }
    }
    shown.push(quote);
    shown
}

/// Whether Python's `int()` refuses `value`: after the whitespace it
/// strips, an optional sign, then decimal digits with single underscores
/// between them. Text with other characters than ASCII is taken as read:
/// `int()` also reads other scripts' digits and spaces, and a false alarm
/// would keep a server down.
fn int_refuses(value: &str) -> bool {
    if !value.is_ascii() {
        return false;
    }
    let spaces: &[char] = &[' ', '\t', '\n', '\x0b', '\x0c', '\r'];
    let number = value.trim_matches(spaces);
    let digits = number.strip_prefix(['+', '-']).unwrap_or(number);
    let well_formed = !digits.is_empty()
        && !digits.starts_with('_')
        && !digits.ends_with('_')
        && !digits.contains("__")
        && digits.chars().all(|c| c.is_ascii_digit() || c == '_');
    !well_formed
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::flavour::Flavour;
    use crate::interpreter::ApiLayout;

    struct Vars(BTreeMap<&'static str, &'static str>);

    impl Environment for Vars {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).map(|value| value.to_string())
        }
    }

    fn server(distribution: Flavour, version: &str) -> LlamaStackFacts {
        LlamaStackFacts {
            distribution,
            version: version.into(),
            api_package: None,
            command: Some(
                match distribution {
                    Flavour::LlamaStack => "llama stack run",
                    Flavour::Ogx => "ogx run",
                }
                .into(),
            ),
            layout: ApiLayout::default(),
        }
    }

    /// The warnings for `server.port: 18321` with `command` and `vars`.
    fn warned(
        server: &LlamaStackFacts,
        command: Option<&str>,
        vars: &[(&'static str, &'static str)],
    ) -> Vec<String> {
        let command: Option<Vec<OsString>> =
            command.map(|line| line.split(' ').map(OsString::from).collect());
        let mut warnings = Vec::new();
        let setting = ServerPort {
            port: 18321,
            line: Some(4),
        };
        check(
            Some(setting),
            server,
            command.as_deref(),
            &Vars(vars.iter().copied().collect()),
            &mut warnings,
        );
        warnings
            .into_iter()
            .map(|warning| warning.message)
            .collect()
    }

    #[test]
    fn llama_stack_listens_on_its_fallback_unless_told_otherwise() {
        let llama_stack = server(Flavour::LlamaStack, "0.7.3");
        assert_eq!(
            warned(&llama_stack, None, &[]),
            [
                "server.port (run.yaml line 4) is 18321, but `llama stack run` (llama-stack 0.7.3) will listen on 8321: without --port or LLAMA_STACK_PORT it uses 8321, and server.port only when one of them is 0. To serve on 18321, pass --port 18321 or set LLAMA_STACK_PORT=18321; else point clients, the Service and the readiness probe at 8321 (preflight was not given the server's command, whose --port would come first: pass it with --exec to have it checked)"
            ]
        );
        assert_eq!(
            warned(
                &llama_stack,
                Some("llama stack run r.yaml"),
                &[("LLAMA_STACK_PORT", "9000")]
            ),
            [
                "server.port (run.yaml line 4) is 18321, but `llama stack run` (llama-stack 0.7.3) will listen on 9000: LLAMA_STACK_PORT is 9000 in the server's environment. To serve on 18321, pass --port 18321 or set LLAMA_STACK_PORT=18321; else point clients, the Service and the readiness probe at 9000"
            ]
        );
        assert!(
            warned(
                &llama_stack,
                Some("llama stack run r.yaml --port 18321"),
                &[]
            )
            .is_empty()
        );
        assert!(warned(&llama_stack, None, &[("LLAMA_STACK_PORT", "18321")]).is_empty());
        // At 0 the run command reads server.port after all, and --port
        // comes before the variable, which is only its default.
        assert!(warned(&llama_stack, None, &[("LLAMA_STACK_PORT", "0")]).is_empty());
        assert!(
            warned(
                &llama_stack,
                Some("llama stack run r.yaml --port 0"),
                &[("LLAMA_STACK_PORT", "9000")]
            )
            .is_empty()
        );
        // Not a number: the run command stops before it listens.
        assert!(warned(&llama_stack, None, &[("LLAMA_STACK_PORT", "http")]).is_empty());
        // Another command: its port is not the run command's to choose.
        assert!(warned(&llama_stack, Some("uvicorn --factory app"), &[]).is_empty());
    }

    #[test]
    fn ogx_1_1_onward_listens_on_server_port_unless_overridden() {
        let ogx = server(Flavour::Ogx, "1.5.0");
        assert!(warned(&ogx, None, &[]).is_empty());
        assert!(warned(&ogx, Some("ogx run r.yaml"), &[]).is_empty());
        assert!(warned(&ogx, None, &[("OGX_PORT", "")]).is_empty());
        assert!(warned(&ogx, None, &[("OGX_PORT", "0")]).is_empty());
        assert_eq!(
            warned(
                &ogx,
                Some("ogx run r.yaml --port 0"),
                &[("OGX_PORT", "9000")]
            )
            .len(),
            1
        );
        assert_eq!(
            warned(
                &ogx,
                Some("ogx run r.yaml --port 9000"),
                &[("OGX_PORT", "18321")]
            ),
            [
                "server.port (run.yaml line 4) is 18321, but `ogx run` (ogx 1.5.0) will listen on 9000: the --exec command passes --port 9000. To serve on 18321, pass --port 18321; else point clients, the Service and the readiness probe at 9000"
            ]
        );
        assert_eq!(warned(&ogx, None, &[("OGX_PORT", "9000")]).len(), 1);
    }

    /// Every release of the sweep's table, read from its wheel, has the rule
    /// preflight applies to it.
    #[test]
    fn the_rules_are_the_ones_the_sweep_read_from_every_release() {
        let table = include_str!("../../testdata/sweep/run-port.md");
        let rows: Vec<Vec<&str>> = (table.lines())
            .filter(|line| line.starts_with("| llama-stack ") || line.starts_with("| ogx "))
            .map(|line| line.split('|').map(str::trim).collect())
            .collect();
        assert_eq!(rows.len(), 39, "every supported release");
        for row in rows {
            let (distribution, version) = row[1].split_once(' ').expect("name and version");
            let distribution = match distribution {
                "llama-stack" => Flavour::LlamaStack,
                _ => Flavour::Ogx,
            };
            let rule = PortRule::of(&server(distribution, version))
                .unwrap_or_else(|| panic!("no rule for {}", row[1]));
            assert_eq!(format!("`{}`", rule.variable), row[2], "{}", row[1]);
            let fallback = rule
                .fallback
                .map_or("none".to_string(), |port| port.to_string());
            assert_eq!(fallback, row[3], "{}", row[1]);
        }
    }

    #[test]
    fn the_setting_is_read_as_pydantic_takes_an_int() {
        let read = |text: &str| {
            ServerPort::read(&serde_yaml_ng::from_str(text).unwrap(), text).map(|port| port.port)
        };
        assert_eq!(read("server:\n  host: x\n  port: 18321\n"), Some(18321));
        assert_eq!(read("server: {port: '18321'}"), Some(18321));
        assert_eq!(read("server: {host: x}"), None);
        assert_eq!(read("server: {port: null}"), None);
        assert_eq!(read("distro_name: x"), None);
        let text = "distro_name: x\nserver:\n  port: 18321\n";
        let document = serde_yaml_ng::from_str(text).unwrap();
        assert_eq!(ServerPort::read(&document, text).unwrap().line, Some(3));
    }

    /// What check_variable says at `stage`: the error's code, or the
    /// warning's, or nothing.
    fn variable_verdict(
        server: &LlamaStackFacts,
        stage: Stage,
        command: Option<&str>,
        value: &'static str,
    ) -> Option<&'static str> {
        let command: Option<Vec<OsString>> =
            command.map(|line| line.split(' ').map(OsString::from).collect());
        let variable = PortRule::of(server).expect("a supported release").variable;
        let mut warnings = Vec::new();
        let environment = Vars([(variable, value)].into_iter().collect());
        match check_variable(
            stage,
            server,
            command.as_deref(),
            &environment,
            &mut warnings,
        ) {
            Err(_) => Some("error"),
            Ok(()) => warnings.first().map(|warning| warning.code),
        }
    }

    #[test]
    fn int_refuses_what_python_refuses_and_nothing_else() {
        for read in [
            "8321",
            " 8321\n",
            "+8321",
            "-1",
            "8_321",
            "0",
            "\x0b12\x0c",
            "٨٣٢١",
        ] {
            assert!(!int_refuses(read), "{read:?}");
        }
        for refused in [
            "", " ", "abc", "8O21", "8321.0", "_8321", "8321_", "8__321", "+", "0x1F",
        ] {
            assert!(int_refuses(refused), "{refused:?}");
        }
        assert_eq!(python_repr("a'b\n"), "\"a'b\\n\"");
        assert_eq!(python_repr(""), "''");
    }

    #[test]
    fn llama_stack_stops_on_an_unreadable_variable_whatever_its_port() {
        let server = server(Flavour::LlamaStack, "0.7.3");
        let run = Some("llama stack run run.yaml --port 9000");
        assert_eq!(
            variable_verdict(&server, Stage::CommandLine, run, ""),
            Some("error")
        );
        assert_eq!(variable_verdict(&server, Stage::AfterConfig, run, ""), None);
        assert_eq!(
            variable_verdict(&server, Stage::CommandLine, run, "9000"),
            None
        );
        assert_eq!(
            variable_verdict(&server, Stage::CommandLine, None, "abc"),
            Some("preflight::config::port_variable_unchecked")
        );
        assert_eq!(
            variable_verdict(&server, Stage::CommandLine, Some("uvicorn app"), "abc"),
            None
        );
    }

    #[test]
    fn ogx_1_1_onward_reads_a_set_variable_only_without_a_port() {
        let new = server(Flavour::Ogx, "1.5.0");
        let verdict = |command, value| variable_verdict(&new, Stage::AfterConfig, command, value);
        assert_eq!(verdict(Some("ogx run run.yaml"), "eighty"), Some("error"));
        assert_eq!(
            verdict(Some("ogx run run.yaml --port 0"), "eighty"),
            Some("error")
        );
        assert_eq!(
            verdict(Some("ogx run run.yaml --port 9000"), "eighty"),
            None
        );
        assert_eq!(verdict(Some("ogx run run.yaml"), ""), None);
        assert_eq!(
            variable_verdict(&new, Stage::CommandLine, Some("ogx run run.yaml"), "eighty"),
            None
        );
        let old = server(Flavour::Ogx, "1.0.4");
        assert_eq!(
            variable_verdict(
                &old,
                Stage::CommandLine,
                Some("ogx run run.yaml --port 9000"),
                ""
            ),
            Some("error")
        );
    }
}
