//! A provider that connects while being imported is denied and reported, and
//! the connection never leaves the probe (NFR-002).

use std::io::ErrorKind;
use std::net::TcpListener;
use std::process::Command;

use crate::support::{repo, test_virtualenv};

#[test]
fn a_connecting_provider_is_denied_and_the_listener_sees_nothing() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback listener");
    listener.set_nonblocking(true).expect("non-blocking");
    let port = listener.local_addr().expect("address").port();
    let output = Command::new(env!("CARGO_BIN_EXE_llama-stack"))
        .args(["preflight", "--run-yaml=testdata/runs/opens_socket.yaml"])
        .current_dir(repo())
        .env("VIRTUAL_ENV", test_virtualenv())
        .env("PYTHONPATH", repo().join("testdata/providers"))
        .env("PF_CONNECT_PORT", port.to_string())
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("Code: preflight::sandbox::denied"),
        "{stdout}"
    );
    match listener.accept() {
        Err(err) if err.kind() == ErrorKind::WouldBlock => {}
        other => panic!("the listener saw a connection: {other:?}"),
    }
}
