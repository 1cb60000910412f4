//! The system calls of the kernel layer, the only unsafe code it needs.
//!
//! Two halves. In the driver: asking the kernel for its Landlock ABI and
//! building a ruleset, plain system calls on integers and on structures this
//! module owns. In the child between `fork` and `exec` ([`install`]): the
//! child of a multi-threaded process may only make async-signal-safe calls
//! there, so everything it uses (the ruleset, the uid and gid map lines, the
//! report pipe) is prepared before the fork, and the closure makes raw system
//! calls on those bytes and descriptors only: no allocation, no lock, no
//! formatting. It writes what it managed to do to the report pipe, which the
//! driver reads once `spawn` has returned.
#![allow(unsafe_code)]

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

/// `struct landlock_ruleset_attr` (ABI 6 layout; zero fields an older kernel
/// does not know are accepted by it).
#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

/// `struct landlock_path_beneath_attr` (packed in the kernel's header).
#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
const LANDLOCK_RULE_PATH_BENEATH: libc::c_int = 1;

/// The Landlock ABI version the running kernel offers.
pub(super) fn landlock_abi() -> io::Result<u32> {
    // SAFETY: with a null attribute and size 0, this flag only asks for the
    // version; no memory is read or written.
    let abi = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<RulesetAttr>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    if abi < 0 {
        return Err(io::Error::last_os_error());
    }
    u32::try_from(abi).map_err(io::Error::other)
}

/// A new ruleset that handles these accesses (denied unless a rule allows).
pub(super) fn create_ruleset(fs: u64, net: u64, scoped: u64) -> io::Result<OwnedFd> {
    let attr = RulesetAttr {
        handled_access_fs: fs,
        handled_access_net: net,
        scoped,
    };
    // SAFETY: the kernel reads `size_of::<RulesetAttr>()` bytes from `attr`,
    // which lives until the call returns.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            &attr as *const RulesetAttr,
            size_of::<RulesetAttr>(),
            0,
        )
    };
    owned(fd)
}

/// Allows `access` on the file at `path` (and below it, for a directory).
pub(super) fn allow_path(ruleset: &OwnedFd, path: &CStr, access: u64) -> io::Result<()> {
    // SAFETY: a plain open of a NUL-terminated path; O_PATH opens nothing for
    // reading or writing, and the descriptor is owned right after.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
    let parent = owned(fd.into())?;
    let attr = PathBeneathAttr {
        allowed_access: access,
        parent_fd: parent.as_raw_fd(),
    };
    // SAFETY: the kernel reads the packed attribute, which lives until the
    // call returns; both descriptors are open.
    let done = unsafe {
        libc::syscall(
            libc::SYS_landlock_add_rule,
            ruleset.as_raw_fd(),
            LANDLOCK_RULE_PATH_BENEATH,
            &attr as *const PathBeneathAttr,
            0,
        )
    };
    if done < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn owned(fd: libc::c_long) -> io::Result<OwnedFd> {
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = RawFd::try_from(fd).map_err(io::Error::other)?;
    // SAFETY: the kernel just returned this descriptor to us, and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The effective user and group ids of this process.
pub(super) fn effective_ids() -> (u32, u32) {
    // SAFETY: geteuid and getegid take nothing and cannot fail.
    unsafe { (libc::geteuid(), libc::getegid()) }
}

/// A `/proc/self/{uid,gid}_map` line (`ID ID 1\n`), formatted before the fork.
#[derive(Clone, Copy)]
pub(super) struct MapLine {
    bytes: [u8; 40],
    len: usize,
}

impl MapLine {
    /// Maps `id` to itself, the one mapping a process may write without privileges.
    pub(super) fn identity(id: u32) -> MapLine {
        let text = format!("{id} {id} 1\n");
        let mut bytes = [0u8; 40];
        bytes[..text.len()].copy_from_slice(text.as_bytes());
        MapLine {
            bytes,
            len: text.len(),
        }
    }
}

/// How the child leaves the driver's network namespace.
#[derive(Clone, Copy)]
pub(super) enum NetworkPlan {
    Stay,
    /// `unshare(CLONE_NEWNET)`, which needs CAP_SYS_ADMIN; else, when the
    /// maps are given, a user namespace too, with the process's own ids mapped
    /// to themselves so that it sees the same ids as before.
    Leave {
        user_namespace: Option<(MapLine, MapLine)>,
    },
}

/// Bits of the report's first byte.
pub(super) const APPLIED_NETWORK_NAMESPACE: u8 = 1;
pub(super) const APPLIED_LANDLOCK: u8 = 2;
/// The user namespace was made but its ids could not be mapped: the child
/// stopped before `exec` (running with unmapped ids would change what the
/// interpreter sees).
pub(super) const USER_NAMESPACE_UNMAPPED: u8 = 4;

/// What a child reported: the bits above, then the `errno` of the failed
/// network namespace and Landlock steps (0 when they did not fail).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct ChildReport {
    pub(super) applied: u8,
    pub(super) network_errno: u8,
    pub(super) landlock_errno: u8,
}

/// The read end of a child's report pipe.
pub(super) struct PendingReport(OwnedFd);

impl PendingReport {
    /// What the child wrote before `exec`, or nothing if it never got there.
    /// Call once `spawn` has returned: the child's end is closed by then.
    pub(super) fn read(self) -> ChildReport {
        let mut bytes = [0u8; 3];
        // SAFETY: reads at most 3 bytes into the local buffer. The write end is
        // closed in this process, and closed in the child by `exec`
        // (O_CLOEXEC), so the read ends.
        let read = unsafe { libc::read(self.0.as_raw_fd(), bytes.as_mut_ptr().cast(), 3) };
        if read != 3 {
            return ChildReport::default();
        }
        ChildReport {
            applied: bytes[0],
            network_errno: bytes[1],
            landlock_errno: bytes[2],
        }
    }
}

/// Makes `command`'s child leave the network namespace as `network` says and
/// enforce `ruleset` on itself, just before `exec`; the returned pipe says
/// what it did. The write end stays open in `command` until it is dropped.
pub(super) fn install(
    command: &mut Command,
    network: NetworkPlan,
    ruleset: Option<&OwnedFd>,
) -> io::Result<(PendingReport, OwnedFd)> {
    let mut ends = [0 as libc::c_int; 2];
    // SAFETY: pipe2 fills the two-element array we own.
    if unsafe { libc::pipe2(ends.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(ends[0]), OwnedFd::from_raw_fd(ends[1])) };
    let report_fd = write_end.as_raw_fd();
    let ruleset_fd = ruleset.map(AsRawFd::as_raw_fd);
    let in_child = move || {
        let mut report = [0u8; 3];
        let result = confine_self(network, ruleset_fd, &mut report);
        // SAFETY: writes 3 bytes from a local array to a pipe this child holds.
        unsafe { libc::write(report_fd, report.as_ptr().cast(), 3) };
        result
    };
    // SAFETY: the closure runs between fork and exec and only makes raw
    // system calls on integers, on `Copy` data it owns and on static strings:
    // nothing allocates, locks or touches state shared with other threads.
    unsafe { command.pre_exec(in_child) };
    Ok((PendingReport(read_end), write_end))
}

/// The child's side: leave the network namespace, then enforce Landlock
/// (after no_new_privs, which unprivileged enforcement requires). Fills
/// `report` as [`ChildReport`] describes.
fn confine_self(
    network: NetworkPlan,
    ruleset: Option<RawFd>,
    report: &mut [u8; 3],
) -> io::Result<()> {
    // A descriptor this process inherited open (`preflight 3>file`) would let
    // the child write where no rule looks: only stdin, stdout and stderr go
    // through `exec`. (Kernels before 5.11 lack close_range; ours are CLOEXEC.)
    // SAFETY: close_range takes integers only and, with this flag, only marks
    // descriptors close-on-exec.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if let NetworkPlan::Leave { user_namespace } = network {
        // SAFETY: unshare takes flags only.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } == 0 {
            report[0] |= APPLIED_NETWORK_NAMESPACE;
        } else if let Some((uid_map, gid_map)) = user_namespace {
            // SAFETY: as above.
            if unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) } == 0 {
                let mapped = write_proc(c"/proc/self/setgroups", b"deny")
                    .and_then(|()| write_proc(c"/proc/self/uid_map", &uid_map.bytes[..uid_map.len]))
                    .and_then(|()| {
                        write_proc(c"/proc/self/gid_map", &gid_map.bytes[..gid_map.len])
                    });
                if let Err(err) = mapped {
                    report[0] |= USER_NAMESPACE_UNMAPPED;
                    report[1] = errno_byte(&err);
                    return Err(err);
                }
                report[0] |= APPLIED_NETWORK_NAMESPACE;
            } else {
                report[1] = errno_byte(&io::Error::last_os_error());
            }
        } else {
            report[1] = errno_byte(&io::Error::last_os_error());
        }
    }
    if let Some(ruleset) = ruleset {
        // SAFETY: prctl and landlock_restrict_self take integers only.
        let enforced = unsafe {
            libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
                && libc::syscall(libc::SYS_landlock_restrict_self, ruleset, 0) == 0
        };
        if enforced {
            report[0] |= APPLIED_LANDLOCK;
        } else {
            report[2] = errno_byte(&io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Writes `bytes` to a `/proc/self` file with raw system calls.
fn write_proc(path: &CStr, bytes: &[u8]) -> io::Result<()> {
    // SAFETY: open of a static NUL-terminated path.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: writes `bytes` to the descriptor just opened, then closes it.
    let written = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
    let err = io::Error::last_os_error();
    // SAFETY: closes the descriptor opened above, once.
    unsafe { libc::close(fd) };
    if usize::try_from(written).ok() != Some(bytes.len()) {
        return Err(err);
    }
    Ok(())
}

fn errno_byte(err: &io::Error) -> u8 {
    err.raw_os_error()
        .and_then(|code| u8::try_from(code).ok())
        .unwrap_or(u8::MAX)
}
