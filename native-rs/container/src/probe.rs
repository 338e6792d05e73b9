//! What this host allows, found by trying it: a user + mount namespace
//! (as a rootless container would get) and an overlay mount inside it,
//! writing through it so copy-up is exercised too. Plus the cgroup layout
//! and the caller's /etc/subuid range.

use crate::cgroups::{report, Creator, Layout};
use crate::idmap::{self, IdKind};
use crate::json::Json;
use crate::sys::consts::*;
use crate::sys::errno::EINVAL;
use crate::sys::process::{self, Forked};
use crate::sys::{cred, fd, mount, signal};
use std::fs;
use std::os::raw::c_int;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    pub uid: u32,
    pub userns: Result<(), String>,
    pub overlay: Result<(), String>,
    /// "v1", "v2", "hybrid" or "none".
    pub cgroup: &'static str,
    /// Per controller, what root and the caller get.
    pub cgroups: Json,
    /// (start, count) of the caller's first /etc/subuid range.
    pub subuid: Option<(u64, u64)>,
    /// Why newuidmap/newgidmap cannot apply that range (idmap::helper_problems), for a rootless caller.
    pub id_helpers: Option<String>,
}

impl Probe {
    /// Must be called from a single-threaded process (it forks).
    pub fn run() -> Probe {
        let uid = cred::getuid();
        let (userns, overlay) = namespaces_and_overlay(uid);
        let layout = Layout::detect();
        Probe {
            uid,
            userns,
            overlay,
            cgroup: layout.kind.as_str(),
            cgroups: report::report(&layout, &Creator::current()).to_json(),
            subuid: subuid_range(uid),
            id_helpers: if uid == 0 { None } else { idmap::helper_problems() },
        }
    }

    pub fn to_json(&self) -> Json {
        let err = |r: &Result<(), String>| Json::from(r.as_ref().err().cloned());
        Json::object(vec![
            ("uid", Json::from(self.uid)),
            ("userns", Json::from(self.userns.is_ok())),
            ("usernsError", err(&self.userns)),
            ("overlay", Json::from(self.overlay.is_ok())),
            ("overlayError", err(&self.overlay)),
            ("cgroup", Json::from(self.cgroup)),
            ("cgroups", self.cgroups.clone()),
            (
                "subuid",
                self.subuid
                    .map_or(Json::Null, |(s, c)| Json::from(vec![s, c])),
            ),
            ("idHelpers", Json::from(self.id_helpers.clone())),
        ])
    }
}

/// Only whether a user namespace can be created (`tsbox-runtime userns`): the
/// automatic backend choice asks where a cheap sign (a seccomp filter, an
/// unmapped caller) says it may not; a fork, no scratch dir, no cgroups.
pub fn userns_only() -> Result<(), String> {
    try_in_child(CLONE_NEWUSER, false, None).map(drop)
}

/// lower/ (with a file), upper/, work/, merged/ in a fresh temp dir.
struct Scratch(PathBuf);

impl Scratch {
    fn create() -> Result<Scratch, String> {
        let dir = std::env::temp_dir().join(format!("tsbox-probe-{}", std::process::id()));
        let s = Scratch(dir);
        let made = (|| {
            let _ = remove_tree(&s.0);
            for d in ["lower", "upper", "work", "merged"] {
                fs::create_dir_all(s.0.join(d))?;
            }
            fs::write(s.0.join("lower/file"), "lower")
        })();
        made.map(|()| s)
            .map_err(|e| format!("creating a scratch dir: {}", e))
    }

    fn data(&self, userxattr: bool) -> String {
        // TMPDIR is the data dir for `tsbox info`'s probe: it may hold ',' or ':' too.
        let p = |d: &str| crate::rootfs::escape(&self.0.join(d));
        format!(
            "lowerdir={},upperdir={},workdir={}{}",
            p("lower"),
            p("upper"),
            p("work"),
            if userxattr { ",userxattr" } else { "" }
        )
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = remove_tree(&self.0);
    }
}

/// overlayfs leaves work/work with mode 000: open everything up first.
fn remove_tree(dir: &Path) -> std::io::Result<()> {
    fn open_up(p: &Path) {
        if let Ok(md) = fs::symlink_metadata(p) {
            if md.is_dir() {
                let _ = fs::set_permissions(p, fs::Permissions::from_mode(0o700));
                if let Ok(entries) = fs::read_dir(p) {
                    entries.flatten().for_each(|e| open_up(&e.path()));
                }
            }
        }
    }
    open_up(dir);
    fs::remove_dir_all(dir)
}

fn namespaces_and_overlay(uid: u32) -> (Result<(), String>, Result<(), String>) {
    let scratch = Scratch::create();
    let userns = try_in_child(CLONE_NEWUSER | CLONE_NEWNS, true, scratch.as_ref().ok());
    match userns {
        Ok(overlay) => (Ok(()), overlay.and(scratch.map(drop))),
        Err(e) => {
            // root can still use overlay without a user namespace.
            let overlay = if uid == 0 {
                try_in_child(CLONE_NEWNS, false, scratch.as_ref().ok()).unwrap_or_else(Err)
            } else {
                Err("not tried: no user namespace".to_string())
            };
            (Err(e), overlay.and(scratch.map(drop)))
        }
    }
}

/// Outer error: the namespaces could not be made. Inner: the overlay result.
fn try_in_child(
    flags: c_int,
    userns: bool,
    scratch: Option<&Scratch>,
) -> Result<Result<(), String>, String> {
    let (sync_r, sync_w) = fd::pipe().map_err(|e| format!("pipe: {}", e))?;
    let (res_r, res_w) = fd::pipe().map_err(|e| format!("pipe: {}", e))?;
    let pid = match process::clone_fork(flags) {
        Ok(Forked::Child) => {
            fd::close(sync_w);
            fd::close(res_r);
            child(sync_r, res_w, scratch, userns)
        }
        Ok(Forked::Parent(pid)) => pid,
        Err(e) => {
            [sync_r, sync_w, res_r, res_w]
                .iter()
                .for_each(|&f| fd::close(f));
            let why = if flags & CLONE_NEWUSER != 0 { crate::userns_refusal::hint(e) } else { None };
            return Err(format!("clone: {}{}", e, why.map_or(String::new(), |w| format!(" ({})", w))));
        }
    };
    fd::close(sync_r);
    fd::close(res_w);
    let maps = if userns {
        let (uid, gid) = (cred::geteuid(), cred::getegid());
        idmap::write_direct(pid, IdKind::Uid, &format!("0 {} 1", uid))
            .and_then(|()| idmap::deny_setgroups(pid))
            .and_then(|()| idmap::write_direct(pid, IdKind::Gid, &format!("0 {} 1", gid)))
            .map_err(|e| e.message)
    } else {
        Ok(())
    };
    if maps.is_ok() {
        let _ = fd::write_all(sync_w, b"1");
    }
    fd::close(sync_w); // without the byte: the child exits
    let report = fd::read_to_end(res_r).unwrap_or_default();
    fd::close(res_r);
    let _ = process::wait(pid);
    maps?;
    let text = String::from_utf8_lossy(&report).into_owned();
    Ok(if text == "ok" {
        Ok(())
    } else if text.is_empty() {
        Err("probe process died".into())
    } else {
        Err(text)
    })
}

fn child(sync_r: c_int, res_w: c_int, scratch: Option<&Scratch>, userns: bool) -> ! {
    signal::reset_all();
    let _ = cred::set_pdeathsig(SIGKILL);
    let mut byte = [0u8; 1];
    if fd::read(sync_r, &mut byte) != Ok(1) {
        process::exit_now(1);
    }
    let result = match scratch {
        Some(s) => overlay_test(s, userns),
        None => Err("no scratch dir".to_string()),
    };
    let _ = fd::write_all(
        res_w,
        result.err().unwrap_or_else(|| "ok".into()).as_bytes(),
    );
    process::exit_now(0)
}

fn overlay_test(s: &Scratch, userns: bool) -> Result<(), String> {
    mount::mount(None, Path::new("/"), None, MS_REC | MS_PRIVATE, None)
        .map_err(|e| format!("making / private: {}", e))?;
    let merged = s.0.join("merged");
    let attempt = |x| {
        mount::mount(
            Some(Path::new("overlay")),
            &merged,
            Some("overlay"),
            0,
            Some(&s.data(x)),
        )
    };
    let mut r = attempt(userns);
    if userns && r == Err(EINVAL) {
        r = attempt(false);
    }
    r.map_err(|e| format!("mounting overlay: {}", e))?;
    // Writing an existing lower file forces a copy-up (EOVERFLOW shows here
    // when the layer holds unmapped ids).
    fs::write(merged.join("file"), "upper")
        .map_err(|e| format!("writing through overlay: {}", e))?;
    let _ = mount::umount2(&merged, MNT_DETACH);
    Ok(())
}

fn subuid_range(uid: u32) -> Option<(u64, u64)> {
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    let name = passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() > 2 && f[2] == uid.to_string()).then(|| f[0].to_string())
    });
    let subuid = fs::read_to_string("/etc/subuid").ok()?;
    parse_subuid(&subuid, name.as_deref(), uid)
}

pub fn parse_subuid(text: &str, name: Option<&str>, uid: u32) -> Option<(u64, u64)> {
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.trim().split(':').collect();
        if f.len() != 3 || !(Some(f[0]) == name || f[0] == uid.to_string()) {
            return None;
        }
        Some((f[1].parse().ok()?, f[2].parse().ok()?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subuid_lines() {
        let text = "alice:100000:65536\n1001:200000:65536\n";
        assert_eq!(
            parse_subuid(text, Some("alice"), 1000),
            Some((100000, 65536))
        );
        assert_eq!(parse_subuid(text, Some("bob"), 1001), Some((200000, 65536)));
        assert_eq!(parse_subuid(text, Some("carol"), 1002), None);
    }
}
