//! The kernel layer of the probes' sandbox: what the report says is in force,
//! and that `--allow-writes` relaxes the filesystem part only. (That it holds
//! against C calls, programs, child interpreters and `sitecustomize` is
//! proved by the corpus: `tests/cmd/kernel/`, run by `cli`.)

use std::io::ErrorKind;
use std::net::{TcpListener, UdpSocket};
use std::process::{Command, Output};

use crate::support::{repo, sandbox_offers, scratch_dir, test_virtualenv};

/// The JSON report of a run that ends at once, with `env` set.
fn sandbox_report(extra: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
    let output = Command::new(env!("CARGO_BIN_EXE_llama-stack"))
        .args([
            "preflight",
            "--run-yaml=testdata/runs/module_not_found.yaml",
            "--format=json",
        ])
        .args(extra)
        .current_dir(repo())
        .env("VIRTUAL_ENV", test_virtualenv())
        .env_remove("LLAMA_STACK_PREFLIGHT_KERNEL_SANDBOX")
        .envs(env.iter().copied())
        .output()
        .expect("the binary runs");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    report["interpreter"]["sandbox"].clone()
}

/// Layer name → (active, reason).
fn layers(sandbox: &serde_json::Value) -> Vec<(String, bool, Option<String>)> {
    sandbox["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|layer| {
            (
                layer["name"].as_str().expect("a name").to_string(),
                layer["active"].as_bool().expect("active"),
                layer["reason"].as_str().map(str::to_string),
            )
        })
        .collect()
}

fn active(sandbox: &serde_json::Value, name: &str) -> bool {
    layers(sandbox)
        .iter()
        .any(|(layer, on, _)| layer == name && *on)
}

#[test]
fn the_report_says_which_layers_were_in_force_and_why_others_were_not() {
    let default = sandbox_report(&[], &[]);
    let names: Vec<String> = layers(&default)
        .into_iter()
        .map(|(name, ..)| name)
        .collect();
    assert_eq!(
        names,
        [
            "audit_hook",
            "landlock_filesystem",
            "landlock_network",
            "landlock_scopes",
            "network_namespace"
        ]
    );
    assert!(active(&default, "audit_hook"));
    // Each Landlock part is in force exactly when the kernel's ABI has it.
    let abi = default["landlock_abi"].as_u64();
    assert_eq!(
        active(&default, "landlock_filesystem"),
        abi >= Some(1),
        "{default}"
    );
    assert_eq!(
        active(&default, "landlock_network"),
        abi >= Some(4),
        "{default}"
    );
    assert_eq!(
        active(&default, "landlock_scopes"),
        abi >= Some(6),
        "{default}"
    );
    for (name, on, reason) in layers(&default) {
        assert_eq!(
            on,
            reason.is_none(),
            "{name}: a reason exactly when it is off"
        );
    }

    let off = sandbox_report(&[], &[("LLAMA_STACK_PREFLIGHT_KERNEL_SANDBOX", "off")]);
    assert_eq!(off["landlock_abi"], serde_json::Value::Null);
    for (name, on, reason) in layers(&off) {
        assert_eq!(on, name == "audit_hook", "{name}");
        if name != "audit_hook" {
            assert_eq!(
                reason.as_deref(),
                Some("turned off with LLAMA_STACK_PREFLIGHT_KERNEL_SANDBOX=off")
            );
        }
    }

    let writes = sandbox_report(&["--allow-writes"], &[]);
    let filesystem = layers(&writes)
        .into_iter()
        .find(|(name, ..)| name == "landlock_filesystem")
        .expect("the filesystem layer");
    assert_eq!(
        filesystem,
        (
            "landlock_filesystem".to_string(),
            false,
            Some("--allow-writes".to_string())
        )
    );
    for name in ["landlock_network", "landlock_scopes", "network_namespace"] {
        assert_eq!(active(&writes, name), active(&default, name), "{name}");
    }
}

/// A provider that writes a file and connects through libc, checked with
/// `--allow-writes`: the write goes through, the connections do not.
#[test]
fn allow_writes_lets_writes_through_and_still_keeps_the_network_out() {
    if !sandbox_offers(&["landlock_network", "network_namespace"]) {
        return;
    }
    let dir = scratch_dir("sandbox-allow-writes");
    let target = dir.join("written-through-libc");
    let tcp = TcpListener::bind("127.0.0.1:0").expect("a listener");
    tcp.set_nonblocking(true).expect("non-blocking");
    let udp = UdpSocket::bind("127.0.0.1:0").expect("a UDP socket");
    udp.set_nonblocking(true).expect("non-blocking");
    let output: Output = Command::new(env!("CARGO_BIN_EXE_llama-stack"))
        .args([
            "preflight",
            "--run-yaml=testdata/runs/ctypes_libc.yaml",
            "--allow-writes",
        ])
        .current_dir(repo())
        .env("VIRTUAL_ENV", test_virtualenv())
        .env("PYTHONPATH", repo().join("testdata/providers"))
        .env_remove("LLAMA_STACK_PREFLIGHT_KERNEL_SANDBOX")
        .env("PF_WRITE_TARGET", &target)
        .env(
            "PF_CONNECT_PORT",
            tcp.local_addr().expect("address").port().to_string(),
        )
        .env(
            "PF_UDP_PORT",
            udp.local_addr().expect("address").port().to_string(),
        )
        .output()
        .expect("the binary runs");
    let written = target.exists();
    #[allow(clippy::disallowed_methods)] // the test's own temporary directory
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(written, "--allow-writes did not let the write through");
    assert!(
        matches!(tcp.accept(), Err(err) if err.kind() == ErrorKind::WouldBlock),
        "a TCP connection got through"
    );
    assert!(
        matches!(udp.recv_from(&mut [0u8; 64]), Err(err) if err.kind() == ErrorKind::WouldBlock),
        "a datagram got through"
    );
}

/// A descriptor preflight inherited open (here fd 3, a file) never reaches
/// provider code, which could write through it without opening anything.
#[test]
fn descriptors_preflight_inherits_do_not_reach_the_probes() {
    let dir = scratch_dir("sandbox-inherited-fd");
    let file = dir.join("inherited");
    #[allow(clippy::disallowed_methods)] // the test's own temporary directory
    std::fs::write(&file, "").expect("an empty file");
    let output = Command::new("sh")
        .args(["-c", "exec 3>>\"$1\"; shift; exec \"$@\"", "sh"])
        .arg(&file)
        .arg(env!("CARGO_BIN_EXE_llama-stack"))
        .args([
            "preflight",
            "--run-yaml=testdata/runs/writes_inherited_fd.yaml",
        ])
        .current_dir(repo())
        .env("VIRTUAL_ENV", test_virtualenv())
        .env("PYTHONPATH", repo().join("testdata/providers"))
        .output()
        .expect("the binary runs");
    let written = std::fs::read_to_string(&file).unwrap_or_default();
    #[allow(clippy::disallowed_methods)] // the test's own temporary directory
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert_eq!(written, "", "provider code wrote through fd 3");
}
