//! `linux.sysctl`: kernel parameters of the container's own namespaces, as
//! runc allows them — IPC (`kernel.msg*`, `kernel.sem`, `kernel.shm*`,
//! `fs.mqueue.*`), network (`net.*`) and UTS (`kernel.domainname`) — and
//! only where the container has that namespace of its own: anything else
//! would change the host. Written through /proc/sys before the container's
//! /proc replaces the host's (its /proc/sys is read-only), by the container's
//! root: /proc/sys/net and the IPC files show the writer's namespaces
//! (`kernel.domainname` by setdomainname(2), which a rootless root may call).

use crate::error::Error;
use crate::json::Json;
use crate::namespaces::NamespaceKind;
use crate::spec::SpecError;
use crate::sys::errno::{EACCES, ENOENT, EROFS};
use crate::sys::Errno;
use crate::syscall::Syscall;

const IPC_KEYS: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// The namespace `key` belongs to; None: the host's, never the container's to set.
pub fn scope(key: &str) -> Option<NamespaceKind> {
    if IPC_KEYS.contains(&key) || key.starts_with("fs.mqueue.") {
        Some(NamespaceKind::Ipc)
    } else if key.starts_with("net.") {
        Some(NamespaceKind::Network)
    } else if key == "kernel.domainname" {
        Some(NamespaceKind::Uts)
    } else {
        None
    }
}

/// `linux.sysctl` (an object of strings), in name order; keys are dotted
/// names of letters, digits, `_` and `-` (never a path).
pub fn parse(v: &Json, path: &str) -> Result<Vec<(String, String)>, SpecError> {
    let fail = |message: String| SpecError { path: path.to_string(), message };
    let members = match v {
        Json::Object(m) => m,
        _ => return Err(fail("expected an object of strings".into())),
    };
    let mut out = Vec::new();
    for (key, value) in members {
        let value = value.as_str().ok_or_else(|| SpecError { path: format!("{}.{}", path, key), message: "expected a string".into() })?;
        let named = key.split('.').all(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
        if !named {
            return Err(fail(format!("invalid sysctl name {:?}", key)));
        }
        if value.contains('\n') {
            return Err(fail(format!("{}: the value has a line break", key)));
        }
        out.push((key.clone(), value.to_string()));
    }
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0);
    Ok(out)
}

/// Each entry's namespace must be one the container creates.
pub fn check(entries: &[(String, String)], creates: impl Fn(NamespaceKind) -> bool) -> Result<(), SpecError> {
    for (key, _) in entries {
        let fail = |message: String| Err(SpecError { path: "linux.sysctl".into(), message });
        match scope(key) {
            None => return fail(format!("sysctl {} is not in a namespace of the container's own: it would change the host", key)),
            Some(kind) if !creates(kind) => return fail(format!("sysctl {} needs a {} namespace of the container's own", key, kind.spec_name())),
            Some(_) => {}
        }
    }
    Ok(())
}

pub fn apply(sys: &dyn Syscall, entries: &[(String, String)]) -> Result<(), Error> {
    for (key, value) in entries {
        // By setdomainname(2), which asks CAP_SYS_ADMIN over the UTS namespace's user namespace (a rootless
        // container's root has it); /proc/sys/kernel/domainname lets only the initial namespace's root write.
        let set = if key == "kernel.domainname" { sys.setdomainname(value) } else { sys.write_sysctl(key, value) };
        set.map_err(|e| {
            let step = format!("setting sysctl {}={}", key, value);
            match kernel_limit(key, e, &kernel_release()) {
                Some(why) => Error { errno: Some(e.0), ..Error::setup(format!("{}: {}", step, why)) },
                None => Error::errno(step, e),
            }
        })?;
    }
    Ok(())
}

/// Why `key` failed with `e` when the kernel, not the name or value, is the
/// cause: older kernels (the vm guest's 6.1) show no net.core parameters
/// in a network namespace owned by a user namespace other than the initial
/// one, and let only the initial namespace's root write the IPC ones (newer
/// kernels give them to the container's root). Every vm container, and a
/// rootless one, has a user namespace of its own, and no one outside it can
/// set them for it: the files are the writer's namespaces'.
fn kernel_limit(key: &str, e: Errno, release: &str) -> Option<String> {
    let kernel = format!("this kernel (Linux {})", release);
    if e == ENOENT && key.starts_with("net.core.") {
        Some(format!("{} shows no net.core parameters in the network namespace of a container with its own user namespace, so none can be set", kernel))
    } else if e == EACCES && scope(key) == Some(NamespaceKind::Ipc) {
        Some(format!("{} lets only the root of its initial user namespace set IPC parameters, not the root of a container's own user namespace (a rootless container's)", kernel))
    } else if e == EROFS {
        // docker and podman mount a container's /proc/sys read-only: tsbox inside one writes through it.
        Some("/proc/sys is read-only here (tsbox inside a container?): run that container with --security-opt systempaths=unconfined or --privileged".into())
    } else {
        None
    }
}

/// The running kernel's release, for messages (still the host's /proc here).
fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|r| r.trim().to_string()).unwrap_or_else(|_| "?".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall::RecordingSyscall;

    #[test]
    fn only_namespaced_names_and_no_paths() {
        let doc = crate::json::parse(r#"{"net.ipv4.ping_group_range": "0 65535", "kernel.shmmax": "1024", "kernel.domainname": "example.org"}"#).unwrap();
        let entries = parse(&doc, "linux.sysctl").unwrap();
        assert_eq!(entries[1].0, "kernel.shmmax");
        assert!(check(&entries, |_| true).is_ok());
        let err = check(&entries, |k| k != NamespaceKind::Network).unwrap_err();
        assert!(err.message.contains("needs a network namespace"), "{}", err.message);
        for bad in [r#"{"kernel.core_pattern": "|/x"}"#, r#"{"vm.overcommit_memory": "1"}"#] {
            let e = parse(&crate::json::parse(bad).unwrap(), "linux.sysctl").unwrap();
            assert!(check(&e, |_| true).unwrap_err().message.contains("change the host"));
        }
        for bad in [r#"{"net.ipv4..x": "1"}"#, r#"{"net/../../x": "1"}"#, r#"{"net.a": 1}"#, r#"{"net.a": "1\n2"}"#] {
            assert!(parse(&crate::json::parse(bad).unwrap(), "linux.sysctl").is_err(), "{}", bad);
        }
        let sys = RecordingSyscall::new(std::path::Path::new("/"));
        apply(&sys, &entries).unwrap();
        assert_eq!(sys.calls(), ["setdomainname example.org", "sysctl kernel.shmmax=1024", "sysctl net.ipv4.ping_group_range=0 65535"]);
    }

    #[test]
    fn says_when_the_kernel_is_why() {
        let net = kernel_limit("net.core.somaxconn", ENOENT, "6.1.192").unwrap();
        assert!(net.starts_with("this kernel (Linux 6.1.192) shows no net.core parameters"), "{}", net);
        let ipc = kernel_limit("kernel.shmmax", EACCES, "6.1.192").unwrap();
        assert!(ipc.contains("lets only the root of its initial user namespace set IPC parameters"), "{}", ipc);
        assert!(kernel_limit("fs.mqueue.msg_max", EACCES, "6.1").is_some());
        // A name the kernel has nowhere, or another failure: its own errno says it.
        assert_eq!(kernel_limit("net.ipv4.no_such", ENOENT, "6.1"), None);
        assert_eq!(kernel_limit("net.core.somaxconn", crate::sys::errno::EINVAL, "6.1"), None);
        assert_eq!(kernel_limit("net.ipv4.ip_forward", EACCES, "6.1"), None);
        let sys = RecordingSyscall::new(std::path::Path::new("/"));
        sys.fail_when("sysctl net.core.somaxconn", ENOENT);
        let entries = vec![("net.core.somaxconn".to_string(), "77".to_string())];
        let err = apply(&sys, &entries).unwrap_err();
        assert!(err.message.starts_with("setting sysctl net.core.somaxconn=77: this kernel (Linux "), "{}", err.message);
        assert_eq!(err.errno, Some(ENOENT.0));
        sys.fail_when("sysctl net.core.somaxconn", crate::sys::errno::EINVAL);
        assert_eq!(apply(&sys, &entries).unwrap_err().message, "setting sysctl net.core.somaxconn=77: Invalid argument");
    }
}
