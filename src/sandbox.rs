//! The kernel layer of the sandbox that every probe interpreter runs in.
//!
//! The probe's audit hook sees what provider code does through Python, and
//! names it; it cannot see C code calling libc, programs, child interpreters
//! or a `sitecustomize` that runs before the hook exists. So the kernel
//! confines the whole interpreter from its first instruction, and everything
//! it starts inherits that (the warm parent's forked checks included):
//!
//! - Landlock, when the kernel offers it: creating, writing, truncating,
//!   renaming or removing files (ABI 1, 2, 3; `/dev/null`, `/dev/zero`,
//!   `/dev/full` and `/dev/tty` stay writable, pipes the process holds are
//!   never checked), TCP bind and connect (ABI 4), connecting to abstract
//!   unix sockets and signalling processes outside the sandbox (ABI 6).
//!   `--allow-writes` leaves out the filesystem part only.
//! - A network namespace, where the process may make one: it has no interface
//!   but a loopback that is down, so no socket of any kind (UDP and DNS
//!   included, which Landlock does not cover) reaches anything. With
//!   CAP_SYS_ADMIN the namespace alone; otherwise, for a user other than root,
//!   inside a user namespace that maps the process's ids to themselves (files
//!   of other users then show as owned by 65534; access is decided as
//!   before). Root without CAP_SYS_ADMIN gets no user namespace: there it
//!   would lose its access to files owned by other users, which the server has.
//!
//! Whether the kernel layer is on or not, the probe inherits no descriptor but
//! stdin, stdout and stderr: one preflight inherited open would be a way to
//! write that opens nothing.
//!
//! Nothing is assumed: the Landlock ABI is asked of the kernel, and each child
//! reports what it managed to apply (a default container seccomp profile
//! blocks `unshare`; an old kernel has no Landlock). What was active is
//! reported ([`SandboxLayers`]: `-v` and the JSON report). The driver itself,
//! and the server `--exec` starts, are never confined.

mod syscalls;

use std::io;
use std::os::fd::OwnedFd;
use std::process::{Child, Command};
use std::sync::{Mutex, PoisonError};

use serde::Serialize;

use self::syscalls::{
    APPLIED_LANDLOCK, APPLIED_NETWORK_NAMESPACE, ChildReport, MapLine, NetworkPlan,
    USER_NAMESPACE_UNMAPPED,
};

/// Setting this variable to `off` turns the kernel layer off (the audit hook
/// stays): a way out should it misbehave somewhere, and how the test suite
/// proves the audit hook on its own.
pub(crate) const KERNEL_SANDBOX_SWITCH: &str = "LLAMA_STACK_PREFLIGHT_KERNEL_SANDBOX";

// Landlock access rights (include/uapi/linux/landlock.h). Reading and
// executing are never handled: the probe reads whatever the server reads.
const FS_WRITE_FILE: u64 = 1 << 1;
/// The rights of ABI 1 that change the filesystem: write a file, remove a
/// directory or a file, make a character device, a directory, a regular file,
/// a socket, a FIFO, a block device, a symlink.
const FS_CHANGES_ABI_1: u64 = FS_WRITE_FILE | (0b1_1111_1111 << 4);
/// Link or rename a file into another directory (ABI 2).
const FS_REFER: u64 = 1 << 13;
/// Truncate a file (ABI 3).
const FS_TRUNCATE: u64 = 1 << 14;
const NET_BIND_TCP: u64 = 1 << 0;
const NET_CONNECT_TCP: u64 = 1 << 1;
const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0;
const SCOPE_SIGNAL: u64 = 1 << 1;

/// Devices that may be opened for writing: what is written to them is thrown
/// away or shown, never stored.
const WRITABLE_DEVICES: [&std::ffi::CStr; 4] =
    [c"/dev/null", c"/dev/zero", c"/dev/full", c"/dev/tty"];

/// The layers Landlock provides, as the report names them.
const LANDLOCK_LAYERS: [&str; 3] = ["landlock_filesystem", "landlock_network", "landlock_scopes"];

/// The kernel confinement prepared for one run's probe processes.
pub(crate) struct KernelSandbox {
    landlock: Result<Landlock, String>,
    /// Why children stay in the driver's network namespace, if they do.
    network: Mutex<Result<NetworkPlan, String>>,
    /// What the most recent child applied.
    last: Mutex<Option<ChildReport>>,
}

struct Landlock {
    abi: u32,
    ruleset: Option<OwnedFd>,
    /// Each part of the ruleset by its layer name, or why it is left out.
    parts: [(&'static str, Result<(), String>); 3],
}

/// One protection and whether it was in force, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Layer {
    pub(crate) name: &'static str,
    pub(crate) active: bool,
    /// Why it was not, when it was not.
    pub(crate) reason: Option<String>,
}

/// The protections in force around the probe processes (the JSON report's
/// `interpreter.sandbox`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct SandboxLayers {
    /// The kernel's Landlock ABI version; `None` without Landlock.
    pub(crate) landlock_abi: Option<u32>,
    pub(crate) layers: Vec<Layer>,
}

impl SandboxLayers {
    /// One line for `-v`: what is active, then what is not and why.
    pub(crate) fn describe(&self) -> String {
        let active: Vec<&str> = self
            .layers
            .iter()
            .filter(|l| l.active)
            .map(|l| l.name)
            .collect();
        let inactive: Vec<String> = self
            .layers
            .iter()
            .filter(|layer| !layer.active)
            .map(|layer| {
                format!(
                    "{} ({})",
                    layer.name,
                    layer.reason.as_deref().unwrap_or("off")
                )
            })
            .collect();
        let mut line = format!("active: {}", active.join(", "));
        if !inactive.is_empty() {
            line.push_str(&format!("; not active: {}", inactive.join(", ")));
        }
        line
    }
}

impl KernelSandbox {
    /// Prepares the confinement: `allow_writes` leaves the filesystem alone,
    /// `enabled` false (the [`KERNEL_SANDBOX_SWITCH`]) leaves the kernel out.
    pub(crate) fn prepare(allow_writes: bool, enabled: bool) -> KernelSandbox {
        let switched_off = || format!("turned off with {KERNEL_SANDBOX_SWITCH}=off");
        if !enabled {
            return KernelSandbox {
                landlock: Err(switched_off()),
                network: Mutex::new(Err(switched_off())),
                last: Mutex::new(None),
            };
        }
        let (uid, gid) = syscalls::effective_ids();
        let network = NetworkPlan::Leave {
            // Root without CAP_SYS_ADMIN would lose, in a user namespace, its
            // access to files owned by other users: see the module comment.
            user_namespace: (uid != 0).then(|| (MapLine::identity(uid), MapLine::identity(gid))),
        };
        KernelSandbox {
            landlock: Landlock::prepare(allow_writes),
            network: Mutex::new(Ok(network)),
            last: Mutex::new(None),
        }
    }

    /// Spawns the command `make` builds, confined, and records what its child
    /// applied. A child whose user namespace could not map its ids stops
    /// before `exec`; it is started once more without leaving the network
    /// namespace, as every later child will be.
    pub(crate) fn spawn(&self, make: impl Fn() -> Command) -> io::Result<Child> {
        let spawned = self.spawn_once(&mut make());
        match spawned {
            Err(_) if self.last_report().applied & USER_NAMESPACE_UNMAPPED != 0 => {
                self.spawn_once(&mut make())
            }
            other => other,
        }
    }

    fn spawn_once(&self, command: &mut Command) -> io::Result<Child> {
        let plan = self
            .network
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map_or(NetworkPlan::Stay, |plan| *plan);
        let ruleset = self.landlock.as_ref().ok().and_then(|l| l.ruleset.as_ref());
        let (pending, write_end) = syscalls::install(command, plan, ruleset)?;
        let spawned = command.spawn();
        drop(write_end);
        let report = pending.read();
        *self.last.lock().unwrap_or_else(PoisonError::into_inner) = Some(report);
        if report.applied & USER_NAMESPACE_UNMAPPED != 0 {
            *self.network.lock().unwrap_or_else(PoisonError::into_inner) = Err(format!(
                "a user namespace was made but its ids could not be mapped: {}",
                io::Error::from_raw_os_error(report.network_errno.into())
            ));
        }
        spawned
    }

    fn last_report(&self) -> ChildReport {
        self.last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .unwrap_or_default()
    }

    /// What the last confined child had in force.
    pub(crate) fn layers(&self) -> SandboxLayers {
        let report = self.last_report();
        let child_error = |errno: u8| io::Error::from_raw_os_error(errno.into()).to_string();
        let mut layers = vec![Layer {
            name: "audit_hook",
            active: true,
            reason: None,
        }];
        let landlock_applied = report.applied & APPLIED_LANDLOCK != 0;
        for name in LANDLOCK_LAYERS {
            let state = match &self.landlock {
                Err(reason) => Err(reason.clone()),
                Ok(landlock) => match landlock.parts.iter().find(|(part, _)| *part == name) {
                    Some((_, Err(reason))) => Err(reason.clone()),
                    _ if landlock_applied => Ok(()),
                    _ => Err(format!(
                        "the probe could not enforce it: {}",
                        child_error(report.landlock_errno)
                    )),
                },
            };
            layers.push(layer(name, state));
        }
        let network = match &*self.network.lock().unwrap_or_else(PoisonError::into_inner) {
            Err(reason) => Err(reason.clone()),
            Ok(_) if report.applied & APPLIED_NETWORK_NAMESPACE != 0 => Ok(()),
            Ok(NetworkPlan::Leave {
                user_namespace: None,
            }) => Err(format!(
                "unshare: {} (as root, preflight makes a network namespace only where CAP_SYS_ADMIN allows it, never a user namespace)",
                child_error(report.network_errno)
            )),
            Ok(_) => Err(format!("unshare: {}", child_error(report.network_errno))),
        };
        layers.push(layer("network_namespace", network));
        SandboxLayers {
            landlock_abi: self.landlock.as_ref().ok().map(|l| l.abi),
            layers,
        }
    }
}

impl std::fmt::Debug for KernelSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.layers().describe())
    }
}

fn layer(name: &'static str, state: Result<(), String>) -> Layer {
    Layer {
        name,
        active: state.is_ok(),
        reason: state.err(),
    }
}

impl Landlock {
    fn prepare(allow_writes: bool) -> Result<Landlock, String> {
        let abi = syscalls::landlock_abi().map_err(|err| match err.raw_os_error() {
            Some(libc::ENOSYS) => {
                "this kernel has no Landlock (it needs Linux 5.13 or later)".to_string()
            }
            Some(libc::EOPNOTSUPP) => {
                "Landlock is built into this kernel but not enabled at boot (lsm=)".to_string()
            }
            _ => format!("the Landlock system calls are refused ({err}): a seccomp profile?"),
        })?;
        let needs = |wanted: u32, what: &str| {
            if abi >= wanted {
                Ok(())
            } else {
                Err(format!("Landlock ABI {abi} has no {what} (ABI {wanted})"))
            }
        };
        let filesystem = if allow_writes {
            Err("--allow-writes".to_string())
        } else {
            Ok(())
        };
        let network = needs(4, "network rules");
        let scopes = needs(6, "scopes");
        let mut fs = 0;
        if filesystem.is_ok() {
            fs = FS_CHANGES_ABI_1;
            if abi >= 2 {
                fs |= FS_REFER;
            }
            if abi >= 3 {
                fs |= FS_TRUNCATE;
            }
        }
        let net = if network.is_ok() {
            NET_BIND_TCP | NET_CONNECT_TCP
        } else {
            0
        };
        let scoped = if scopes.is_ok() {
            SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
        } else {
            0
        };
        let ruleset = if fs | net | scoped == 0 {
            None
        } else {
            let ruleset = syscalls::create_ruleset(fs, net, scoped)
                .map_err(|err| format!("a Landlock ruleset could not be made: {err}"))?;
            if fs != 0 {
                let writable = FS_WRITE_FILE | (fs & FS_TRUNCATE);
                for device in WRITABLE_DEVICES {
                    // A device this system lacks needs no rule.
                    let _ = syscalls::allow_path(&ruleset, device, writable);
                }
            }
            Some(ruleset)
        };
        Ok(Landlock {
            abi,
            ruleset,
            parts: [
                (LANDLOCK_LAYERS[0], filesystem),
                (LANDLOCK_LAYERS[1], network),
                (LANDLOCK_LAYERS[2], scopes),
            ],
        })
    }
}
