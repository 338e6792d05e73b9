//! uid_map/gid_map for the child's new user namespace, written by the parent
//! (step 2): a process cannot map ids in its own namespace, but its parent,
//! outside, can.
//!
//! * root writes any mapping directly;
//! * an unprivileged user may write exactly one mapping of its own id, and
//!   for the gid map only after writing "deny" to setgroups (otherwise the
//!   container could drop a group used to deny it access on the host);
//! * anything else (ranges from /etc/subuid) goes through the setuid
//!   `newuidmap`/`newgidmap` helpers, which check /etc/subuid and /etc/subgid.

use crate::error::{Context, Error};
use crate::namespaces::NamespaceKind;
use crate::spec::{IdMapping, Spec};
use crate::sys::cred;
use std::process::{Command, Stdio};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdKind {
    Uid,
    Gid,
}

impl IdKind {
    fn file(self) -> &'static str {
        match self {
            IdKind::Uid => "uid_map",
            IdKind::Gid => "gid_map",
        }
    }

    fn helper(self) -> &'static str {
        match self {
            IdKind::Uid => "newuidmap",
            IdKind::Gid => "newgidmap",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Write /proc/PID/{uid,gid}_map ourselves.
    Direct,
    /// Run newuidmap/newgidmap.
    Helper,
}

/// The kernel's format: one "container host size" line per mapping.
pub fn map_text(maps: &[IdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id, m.host_id, m.size))
        .collect()
}

pub fn method(maps: &[IdMapping], own_id: u32, privileged: bool) -> Method {
    let own_single = maps.len() == 1 && maps[0].host_id == own_id && maps[0].size == 1;
    if privileged || own_single {
        Method::Direct
    } else {
        Method::Helper
    }
}

/// Writes both maps for `pid` when the spec creates a user namespace.
pub fn write_mappings(pid: i32, spec: &Spec) -> Result<(), Error> {
    if !spec.creates_namespace(NamespaceKind::User) {
        return Ok(());
    }
    write_both(pid, &spec.linux.uid_mappings, &spec.linux.gid_mappings, cred::geteuid() == 0)
}

/// Both maps of `pid`, a child of ours in a new user namespace. When both
/// need the setuid helpers, newuidmap and newgidmap run at once: each is a
/// secure exec that loads five libraries, ~1.3 ms here, and a rootless run
/// waited for the two in turn.
pub fn write_both(pid: i32, uid: &[IdMapping], gid: &[IdMapping], privileged: bool) -> Result<(), Error> {
    let (euid, egid) = (cred::geteuid(), cred::getegid());
    if method(uid, euid, privileged) == Method::Helper && method(gid, egid, privileged) == Method::Helper {
        let uid_helper = start_helper(pid, IdKind::Uid, uid)?;
        let gid_helper = start_helper(pid, IdKind::Gid, gid);
        // Both waited for; the uid map's failure is told first, as when they ran in turn.
        let uid_done = uid_helper.finish();
        return uid_done.and(gid_helper.and_then(Helper::finish));
    }
    write_map(pid, IdKind::Uid, uid, euid, privileged)?;
    write_map(pid, IdKind::Gid, gid, egid, privileged)
}

pub fn write_map(
    pid: i32,
    kind: IdKind,
    maps: &[IdMapping],
    own_id: u32,
    privileged: bool,
) -> Result<(), Error> {
    match method(maps, own_id, privileged) {
        Method::Direct => {
            if kind == IdKind::Gid && !privileged {
                deny_setgroups(pid)?;
            }
            write_direct(pid, kind, &map_text(maps))
        }
        Method::Helper => run_helper(pid, kind, maps),
    }
}

/// `maps` (host ids) as ids of a user namespace whose own maps are `outer`:
/// what a process in there writes for a child namespace of it. Err: the
/// first mapping whose host ids have no ids in there.
pub fn translate(maps: &[IdMapping], outer: &[IdMapping]) -> Result<Vec<IdMapping>, IdMapping> {
    maps.iter()
        .map(|m| {
            outer
                .iter()
                .find(|o| m.host_id >= o.host_id && m.host_id as u64 + m.size as u64 <= o.host_id as u64 + o.size as u64)
                .map(|o| IdMapping { host_id: o.container_id + (m.host_id - o.host_id), ..*m })
                .ok_or(*m)
        })
        .collect()
}

/// Maps as one command-line argument (`C:H:S,…`), for a helper process of ours.
pub fn maps_arg(maps: &[IdMapping]) -> String {
    maps.iter().map(|m| format!("{}:{}:{}", m.container_id, m.host_id, m.size)).collect::<Vec<_>>().join(",")
}

/// [`maps_arg`]'s text back.
pub fn parse_maps_arg(text: &str) -> Result<Vec<IdMapping>, String> {
    text.split(',')
        .map(|m| {
            let n: Vec<u32> = m.split(':').filter_map(|x| x.parse().ok()).collect();
            if n.len() != 3 || n[2] == 0 {
                return Err(format!("bad id map {:?}", m));
            }
            Ok(IdMapping { container_id: n[0], host_id: n[1], size: n[2] })
        })
        .collect()
}

pub fn deny_setgroups(pid: i32) -> Result<(), Error> {
    let path = format!("/proc/{}/setgroups", pid);
    std::fs::write(&path, "deny").step(|| format!("writing {}", path))
}

/// The map must arrive in a single write(2); fs::write does that for text
/// this small.
pub fn write_direct(pid: i32, kind: IdKind, text: &str) -> Result<(), Error> {
    let path = format!("/proc/{}/{}", pid, kind.file());
    std::fs::write(&path, text)
        .step(|| format!("writing {} ({})", path, text.trim_end().replace('\n', ", ")))
}

fn run_helper(pid: i32, kind: IdKind, maps: &[IdMapping]) -> Result<(), Error> {
    start_helper(pid, kind, maps)?.finish()
}

/// newuidmap or newgidmap, started.
struct Helper {
    child: std::process::Child,
    shown: String,
}

fn start_helper(pid: i32, kind: IdKind, maps: &[IdMapping]) -> Result<Helper, Error> {
    let mut args = vec![pid.to_string()];
    for m in maps {
        args.extend([
            m.container_id.to_string(),
            m.host_id.to_string(),
            m.size.to_string(),
        ]);
    }
    let shown = format!("{} {}", kind.helper(), args.join(" "));
    // Where the front end found it (src/on-path.ts): a PATH without /usr/bin must not make a promised map fail.
    let program = crate::program::find_program(kind.helper()).unwrap_or_else(|| kind.helper().into());
    let child = Command::new(program)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::setup(format!(
                    "{} not found: mapping id ranges without root needs it (Debian/Ubuntu package uidmap)",
                    kind.helper()
                ))
            } else {
                Error::setup(format!("running {}: {}", shown, e))
            }
        })?;
    Ok(Helper { child, shown })
}

impl Helper {
    fn finish(self) -> Result<(), Error> {
        let shown = self.shown;
        let out = self.child.wait_with_output().map_err(|e| Error::setup(format!("waiting for {}: {}", shown, e)))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let hint = helper_problems().map_or(String::new(), |p| format!(" ({})", p));
            return Err(Error::setup(format!("{} failed: {}{}", shown, stderr.trim(), hint)));
        }
        Ok(())
    }
}

/// Why newuidmap/newgidmap, both found, cannot apply a range, and what to do: present is not enough (a copied or
/// "cleaned" binary without its setuid bit, a `nosuid` mount, an image without the file capabilities). podman checks
/// the same up front ("should have setuid or have filecaps setuid"). `tsbox info` shows it (through the probe), a
/// failed map adds it. None when both can, or one is missing (the front end then maps one id and says so).
pub fn helper_problems() -> Option<String> {
    let problems: Vec<String> = [IdKind::Uid, IdKind::Gid]
        .iter()
        .filter_map(|&k| crate::program::find_program(k.helper()).and_then(|p| helper_problem(k, &p)))
        .collect();
    if problems.is_empty() {
        return None;
    }
    Some(format!(
        "{}: rootless containers cannot map your /etc/subuid range without them; reinstall them (Debian/Ubuntu: apt install uidmap; \
         Fedora: shadow-utils) or, as root, chmod u+s them (or give them their file capabilities with setcap)",
        problems.join("; ")
    ))
}

fn helper_problem(kind: IdKind, found: &std::path::Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let path = std::fs::canonicalize(found).ok()?;
    let meta = std::fs::metadata(&path).ok()?;
    let nosuid = crate::sys::mount::mount_flags(&path).map_or(false, |f| f & crate::sys::consts::MS_NOSUID != 0);
    if nosuid {
        return Some(format!("{} is on a nosuid mount (its setuid bit and file capabilities do not count)", found.display()));
    }
    if meta.mode() & 0o4000 != 0 && meta.uid() == 0 {
        return None;
    }
    // vfs_cap_data: magic_etc, then the permitted set's low word.
    let (cap, name) = match kind {
        IdKind::Uid => (7, "cap_setuid"),
        IdKind::Gid => (6, "cap_setgid"),
    };
    let caps = crate::sys::fs::lgetxattr(&path, "security.capability");
    let permitted = caps.filter(|v| v.len() >= 8).map_or(0, |v| u32::from_le_bytes([v[4], v[5], v[6], v[7]]));
    if permitted & (1 << cap) != 0 {
        return None;
    }
    Some(format!("{} is not setuid root and has no {} file capability", found.display(), name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(c: u32, h: u32, s: u32) -> IdMapping {
        IdMapping {
            container_id: c,
            host_id: h,
            size: s,
        }
    }

    #[test]
    fn text() {
        assert_eq!(
            map_text(&[m(0, 1000, 1), m(1, 100000, 65536)]),
            "0 1000 1\n1 100000 65536\n"
        );
        assert_eq!(map_text(&[m(0, 0, 4294967295)]), "0 0 4294967295\n");
    }

    #[test]
    fn chooses_method() {
        assert_eq!(method(&[m(0, 1000, 1)], 1000, false), Method::Direct);
        assert_eq!(method(&[m(0, 1001, 1)], 1000, false), Method::Helper);
        assert_eq!(method(&[m(0, 1000, 2)], 1000, false), Method::Helper);
        assert_eq!(
            method(&[m(0, 1000, 1), m(1, 100000, 65536)], 1000, false),
            Method::Helper
        );
        assert_eq!(method(&[m(0, 0, 4294967295)], 0, true), Method::Direct);
    }

    #[test]
    fn translates_into_an_outer_namespace() {
        let outer = [m(0, 1001, 1), m(1, 200000, 65536)];
        assert_eq!(translate(&[m(0, 1001, 1), m(1, 200000, 65536)], &outer).unwrap(), [m(0, 0, 1), m(1, 1, 65536)]);
        // A part of a range, and a range not covered whole.
        assert_eq!(translate(&[m(5, 200010, 10)], &outer).unwrap(), [m(5, 11, 10)]);
        assert_eq!(translate(&[m(0, 1001, 1), m(1, 265530, 10)], &outer).unwrap_err(), m(1, 265530, 10));
        assert_eq!(translate(&[m(0, 1002, 1)], &outer).unwrap_err(), m(0, 1002, 1));
    }
}
