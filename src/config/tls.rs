//! The TLS requirement of ogx's run command (1.2 onward: the releases whose
//! server config has `insecure`).
//!
//! `ogx run` refuses to start, exit 1, unless `server.tls_certfile` and
//! `server.tls_keyfile` are both set or `server.insecure` is true; its
//! `--insecure` flag sets that same field. Nothing else enforces it: a server
//! started another way (uvicorn with the app factory) runs without TLS. So the
//! refusal is predicted exactly only when `--exec` gives the command that
//! starts the server; otherwise a configuration that relies on `--insecure`
//! gets a warning that says precisely what is missing.

use std::ffi::OsString;
use std::path::Path;

use serde_yaml_ng::Value;

use super::ConfigError;
use crate::diagnostics::Warning;
use crate::interpreter::LlamaStackFacts;

/// The `server:` settings the requirement reads, after substitution.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TlsSettings {
    pub(crate) certfile: bool,
    pub(crate) keyfile: bool,
    pub(crate) insecure: bool,
}

impl TlsSettings {
    /// Reads them from the substituted document, as pydantic would: a file
    /// counts when it is a non-empty string, `insecure` when it is a value
    /// pydantic reads as true.
    pub(crate) fn read(document: &Value) -> TlsSettings {
        let server = document.get("server");
        let named = |key: &str| {
            server
                .and_then(|server| server.get(key))
                .and_then(Value::as_str)
                .is_some_and(|path| !path.is_empty())
        };
        let insecure = match server.and_then(|server| server.get("insecure")) {
            Some(Value::Bool(value)) => *value,
            Some(Value::Number(number)) => number.as_i64() == Some(1),
            Some(Value::String(text)) => matches!(
                text.to_ascii_lowercase().as_str(),
                "1" | "on" | "t" | "true" | "y" | "yes"
            ),
            _ => false,
        };
        TlsSettings {
            certfile: named("tls_certfile"),
            keyfile: named("tls_keyfile"),
            insecure,
        }
    }

    /// What is missing, in the run command's own terms, when it would refuse.
    fn missing(&self) -> Option<String> {
        let missing: Vec<&str> = [
            ("server.tls_certfile", self.certfile),
            ("server.tls_keyfile", self.keyfile),
        ]
        .into_iter()
        .filter(|(_, set)| !set)
        .map(|(name, _)| name)
        .collect();
        (!self.insecure && !missing.is_empty()).then(|| missing.join(" and "))
    }
}

/// How `--exec`'s command starts the server, as far as TLS is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Launch {
    /// The run command, with `--insecure` or without.
    RunCommand { insecure: bool },
    /// Anything else: preflight cannot tell.
    Other,
}

/// Reads `command` (argv) as the server's run command: `<script> run` or its
/// older spelling `<script> stack run` (ogx still takes it), `<script>` being
/// the run command's first word, on PATH or by path. Finds `--insecure`,
/// which argparse also takes abbreviated (`--insec`); `--port` and
/// `--providers` take a value.
fn launch(command: &[OsString], run_command: &str) -> Launch {
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
    let mut insecure = false;
    let mut takes_value = false;
    for arg in args {
        if std::mem::take(&mut takes_value) {
            continue;
        }
        match arg.as_ref() {
            "--" => break,
            "--port" | "--providers" => takes_value = true,
            flag if flag.len() >= 3 && "--insecure".starts_with(flag) => insecure = true,
            _ => {}
        }
    }
    Launch::RunCommand { insecure }
}

/// The refusal, when `--exec` gives the run command; else a warning when
/// only `--insecure` could start the server. `command` is `--exec`'s.
pub(crate) fn check(
    settings: &TlsSettings,
    server: &LlamaStackFacts,
    command: Option<&[OsString]>,
    warnings: &mut Vec<Warning>,
) -> Result<(), ConfigError> {
    if !server.enforces_tls() {
        return Ok(());
    }
    let Some(missing) = settings.missing() else {
        return Ok(());
    };
    let run_command = server.run_command();
    match command.map(|command| launch(command, run_command)) {
        Some(Launch::RunCommand { insecure: true }) => Ok(()),
        Some(Launch::RunCommand { insecure: false }) => Err(ConfigError::TlsRequired {
            release: server.release(),
            command: run_command.to_string(),
            missing,
        }),
        Some(Launch::Other) | None => {
            warnings.push(Warning {
                provider_id: None,
                code: "preflight::config::tls_not_configured",
                message: format!(
                    "`{run_command}` ({}) refuses to start without server.tls_certfile and server.tls_keyfile unless server.insecure is true or it is given --insecure; run.yaml has no server.insecure: true and lacks {missing}, so the server starts only if its command passes --insecure ({})",
                    server.release(),
                    if command.is_some() {
                        format!("the --exec command is not `{run_command}`, so preflight cannot tell")
                    } else {
                        "pass the server's command with --exec to have this checked".to_string()
                    }
                ),
                mismatch: None,
            });
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(line: &str) -> Vec<OsString> {
        line.split(' ').map(OsString::from).collect()
    }

    #[test]
    fn the_run_command_is_recognised_with_its_insecure_flag() {
        let launched = |line: &str| launch(&argv(line), "ogx run");
        assert_eq!(
            launched("ogx run /c/config.yaml"),
            Launch::RunCommand { insecure: false }
        );
        assert_eq!(
            launched("/venv/bin/ogx run config.yaml --port 8321 --insecure"),
            Launch::RunCommand { insecure: true }
        );
        assert_eq!(
            launched("ogx run --insec config.yaml"),
            Launch::RunCommand { insecure: true }
        );
        assert_eq!(
            launched("ogx run --port --insecure config.yaml"),
            Launch::RunCommand { insecure: false }
        );
        assert_eq!(
            launched("ogx stack run config.yaml --insecure"),
            Launch::RunCommand { insecure: true }
        );
        assert_eq!(launched("ogx list"), Launch::Other);
        assert_eq!(
            launched("uvicorn --factory ogx.core.server.server:create_app"),
            Launch::Other
        );
        assert_eq!(launched("ogxm run config.yaml"), Launch::Other);
        assert_eq!(
            launch(&argv("llama stack run run.yaml"), "llama stack run"),
            Launch::RunCommand { insecure: false }
        );
    }

    #[test]
    fn settings_are_read_as_pydantic_reads_them() {
        let read = |text: &str| TlsSettings::read(&serde_yaml_ng::from_str(text).unwrap());
        assert_eq!(read("server: {insecure: true}").missing(), None);
        assert_eq!(read("server: {insecure: 'yes'}").missing(), None);
        assert_eq!(
            read("server: {insecure: 'no', tls_certfile: /c.pem}").missing(),
            Some("server.tls_keyfile".to_string())
        );
        assert_eq!(
            read("distro_name: x").missing(),
            Some("server.tls_certfile and server.tls_keyfile".to_string())
        );
        assert_eq!(
            read("server: {tls_certfile: /c.pem, tls_keyfile: /k.pem}").missing(),
            None
        );
        assert_eq!(
            read("server: {tls_certfile: '', tls_keyfile: /k.pem, insecure: 0}").missing(),
            Some("server.tls_certfile".to_string())
        );
    }
}
