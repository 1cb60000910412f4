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

use serde_yaml_ng::Value;

use super::ConfigError;
use super::run_command::{Launch, RunOptions, launch};
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
        Some(Launch::RunCommand(RunOptions { insecure: true, .. })) => Ok(()),
        Some(Launch::RunCommand(_)) => Err(ConfigError::TlsRequired {
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
