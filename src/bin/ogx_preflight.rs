//! `ogx-preflight ARGS` is `llama-stack preflight ARGS`, under the name an OGX
//! user looks for beside ogx's own `ogx` command, which it leaves alone. It
//! replaces itself with the `llama-stack` binary installed beside it (by
//! `cargo install` and by the pip wheel alike), keeping its PID, so that
//! `--exec` still hands this very process to the server.

use std::env;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

/// The program this name stands for, and its subcommand.
const PROGRAM: &str = "llama-stack";
const SUBCOMMAND: &str = "preflight";

fn main() -> ExitCode {
    let program = match env::current_exe() {
        Ok(exe) => exe.with_file_name(PROGRAM),
        Err(err) => return cannot_start(PROGRAM.as_ref(), &err),
    };
    let err = Command::new(&program)
        .arg(SUBCOMMAND)
        .args(env::args_os().skip(1))
        .exec();
    cannot_start(&program, &err)
}

/// Exit 2, the code of an invocation that cannot run, with the reason.
fn cannot_start(program: &std::path::Path, err: &std::io::Error) -> ExitCode {
    let _ = writeln!(
        std::io::stderr(),
        "ogx-preflight: cannot start {} (it is installed beside ogx-preflight): {err}",
        program.display()
    );
    ExitCode::from(2)
}
