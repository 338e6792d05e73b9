//! Namespace kinds, the clone(2) flags for new ones, and joining existing
//! ones (`linux.namespaces[].path`) from the parent before clone.

use crate::error::{Context, Error, ErrorKind};
use crate::spec::Spec;
use crate::sys::consts::*;
use crate::sys::process;
use std::fs::File;
use std::os::raw::c_int;
use std::os::unix::io::AsRawFd;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NamespaceKind {
    User,
    Pid,
    Mount,
    Uts,
    Ipc,
    Network,
    Cgroup,
}

impl NamespaceKind {
    /// In the order existing namespaces are joined: user first, so the rest
    /// are joined with the capabilities it grants; mount last, so the
    /// namespace files are still reachable.
    pub const ALL: [NamespaceKind; 7] = [
        NamespaceKind::User,
        NamespaceKind::Ipc,
        NamespaceKind::Uts,
        NamespaceKind::Network,
        NamespaceKind::Pid,
        NamespaceKind::Cgroup,
        NamespaceKind::Mount,
    ];

    /// The name used in the spec ("network", "mount", …).
    pub fn from_spec(name: &str) -> Option<NamespaceKind> {
        NamespaceKind::ALL
            .iter()
            .copied()
            .find(|k| k.spec_name() == name)
    }

    pub fn spec_name(self) -> &'static str {
        match self {
            NamespaceKind::User => "user",
            NamespaceKind::Pid => "pid",
            NamespaceKind::Mount => "mount",
            NamespaceKind::Uts => "uts",
            NamespaceKind::Ipc => "ipc",
            NamespaceKind::Network => "network",
            NamespaceKind::Cgroup => "cgroup",
        }
    }

    /// Its file in /proc/PID/ns.
    pub fn proc_name(self) -> &'static str {
        match self {
            NamespaceKind::User => "user",
            NamespaceKind::Pid => "pid",
            NamespaceKind::Mount => "mnt",
            NamespaceKind::Uts => "uts",
            NamespaceKind::Ipc => "ipc",
            NamespaceKind::Network => "net",
            NamespaceKind::Cgroup => "cgroup",
        }
    }

    pub fn clone_flag(self) -> c_int {
        match self {
            NamespaceKind::User => CLONE_NEWUSER,
            NamespaceKind::Pid => CLONE_NEWPID,
            NamespaceKind::Mount => CLONE_NEWNS,
            NamespaceKind::Uts => CLONE_NEWUTS,
            NamespaceKind::Ipc => CLONE_NEWIPC,
            NamespaceKind::Network => CLONE_NEWNET,
            NamespaceKind::Cgroup => CLONE_NEWCGROUP,
        }
    }
}

/// Flags for the namespaces the spec wants created (those without a path).
pub fn clone_flags(spec: &Spec) -> c_int {
    spec.linux
        .namespaces
        .iter()
        .filter(|ns| ns.path.is_none() && ns.container.is_none())
        .fold(0, |flags, ns| flags | ns.kind.clone_flag())
}

/// `user+mnt` for CLONE_NEWUSER|CLONE_NEWNS, in join order (for messages and tests).
pub fn flag_names(flags: c_int) -> String {
    let names: Vec<&str> = NamespaceKind::ALL
        .iter()
        .filter(|k| flags & k.clone_flag() != 0)
        .map(|k| k.proc_name())
        .collect();
    names.join("+")
}

/// setns(2) into every namespace given by path. Done in the (single-threaded)
/// parent before clone: the child then inherits them, and a joined PID
/// namespace applies to it as it must (setns on PID only affects children).
pub fn join_existing(spec: &Spec) -> Result<(), Error> {
    for kind in NamespaceKind::ALL {
        let ns = spec.linux.namespaces.iter().find(|ns| ns.kind == kind);
        if let Some(id) = ns.filter(|ns| ns.path.is_none()).and_then(|ns| ns.container.as_ref()) {
            // A run looks its peer up first (peer.rs, runtime/src/run.rs); nothing else may launch one.
            return Err(Error::new(
                ErrorKind::Spec,
                format!("the {} namespace of container {} was not looked up", kind.spec_name(), id),
            ));
        }
        if let Some(path) = ns.and_then(|ns| ns.path.as_ref()) {
            let step = || format!("joining {} namespace {}", kind.spec_name(), path.display());
            let file = File::open(path).step(step)?;
            process::setns(file.as_raw_fd(), kind.clone_flag()).step(step)?;
        }
    }
    Ok(())
}
