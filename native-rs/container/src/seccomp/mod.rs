//! seccomp: the spec's `linux.seccomp` (OCI's form of a libseccomp profile)
//! compiled to a classic BPF program here, without libseccomp, and loaded as
//! the last step before execve. TypeScript turns docker's profile format
//! (the default profile lives in src/spec/seccomp/) into this form.
//!
//! * `config.rs`: JSON → [`Seccomp`], errors naming the JSON path.
//! * `syscalls.rs`: name → number for x86_64, i386 and aarch64 (generated).
//! * `bpf.rs`: instructions and a small assembler with labels.
//! * `compile.rs`: the program: dispatch on the architecture, a binary
//!   search over syscall numbers, argument checks.
//!
//! The program covers the build target's architecture and, when the profile
//! lists them, the others its kernel can run that we have a table for: on
//! x86_64 and i686 (the vm guest agent) both x86 ones, x32 getting the
//! default action; on aarch64 only aarch64 (no arm32 table: 32-bit ARM
//! processes meet the unknown-architecture kill).

mod bpf;
mod compile;
mod config;
mod syscalls;

pub use bpf::SockFilter;
pub use compile::compile;
pub use config::parse;

use crate::sys::consts::*;
use crate::sys::errno::{EINVAL, ENOSYS};
use crate::sys::{ffi, Errno};
use std::os::raw::{c_int, c_long, c_ulong};

/// What a rule (or the default) does with a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Allow,
    /// Fails the call with this errno.
    Errno(u16),
    KillThread,
    KillProcess,
    Trap,
    /// To a ptrace tracer, with this data.
    Trace(u16),
    Log,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `(arg & value) == value_two`
    MaskedEq,
}

/// One condition on a syscall argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArgRule {
    pub index: u8,
    pub value: u64,
    pub value_two: u64,
    pub op: Op,
}

/// `names` get `action` when every one of `args` holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyscallRule {
    pub names: Vec<String>,
    pub action: Action,
    pub args: Vec<ArgRule>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    X86,
    X32,
    Aarch64,
    /// Named by the profile, but without a table here (arm, mips, s390x…):
    /// its processes are killed, as libseccomp does for unlisted ones.
    Other,
}

impl Arch {
    /// The architecture this program is built for (its own syscalls).
    pub fn native() -> Arch {
        if cfg!(target_arch = "x86_64") {
            Arch::X86_64
        } else if cfg!(target_arch = "x86") {
            Arch::X86
        } else if cfg!(target_arch = "aarch64") {
            Arch::Aarch64
        } else {
            Arch::Other
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seccomp {
    pub default_action: Action,
    pub architectures: Vec<Arch>,
    /// SECCOMP_FILTER_FLAG_* bits for seccomp(2).
    pub flags: u32,
    pub syscalls: Vec<SyscallRule>,
}

/// A profile compiled for loading: done before clone/fork, so a profile
/// that cannot be compiled is reported before anything starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    pub program: Vec<SockFilter>,
    pub flags: u32,
}

impl Filter {
    /// Refuses a profile that denies a call the runtime makes after loading
    /// it (as docker and podman, exit 126): else the start fails unseen.
    pub fn compile(s: &Seccomp) -> Result<Filter, crate::error::Error> {
        use crate::error::{Error, ErrorKind};
        let program = compile(s).map_err(|m| Error::new(ErrorKind::Spec, format!("linux.seccomp: {}", m)))?;
        if let Some((call, why)) = compile::denied_runtime_call(&program, Arch::native()) {
            return Err(Error::new(ErrorKind::Permission, format!("the seccomp profile denies {}: {}", call, why)));
        }
        Ok(Filter {
            program,
            flags: s.flags,
        })
    }
}

/// `struct sock_fprog`
#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const SockFilter,
}

const SECCOMP_SET_MODE_FILTER: c_long = 1;
const PR_SET_SECCOMP: c_int = 22;
const SECCOMP_MODE_FILTER: c_ulong = 2;

/// Installs `program` for this thread (and what it execs). Needs
/// no_new_privs or CAP_SYS_ADMIN in our user namespace.
pub fn load(program: &[SockFilter], flags: u32) -> Result<(), Errno> {
    let prog = SockFprog {
        len: program.len() as u16,
        filter: program.as_ptr(),
    };
    let ret = unsafe {
        ffi::syscall(
            SYS_SECCOMP,
            SECCOMP_SET_MODE_FILTER,
            flags as c_long,
            &prog as *const SockFprog,
        )
    };
    if ret == 0 {
        return Ok(());
    }
    match Errno::last() {
        // Before seccomp(2) (3.17): prctl, which takes no flags.
        ENOSYS if flags == 0 => {
            let zero: c_ulong = 0;
            Errno::check(unsafe {
                ffi::prctl(
                    PR_SET_SECCOMP,
                    SECCOMP_MODE_FILTER,
                    &prog as *const SockFprog,
                    zero,
                    zero,
                )
            })
            .map(drop)
        }
        e => Err(e),
    }
}

/// Is `e` from `load` "this kernel has no seccomp filters"?
pub fn unsupported(e: Errno) -> bool {
    e == ENOSYS || e == EINVAL
}
