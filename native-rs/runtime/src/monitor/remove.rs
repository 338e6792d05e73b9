//! `run -d --rm`: the monitor deletes the bundle itself once the container
//! is done for good, and the container's name with it. The TypeScript side
//! does the same for containers it removes (src/containers/remove.ts): a
//! rootless writable layer can hold files of subordinate ids that the user
//! cannot delete, but root of a user namespace with the container's id maps
//! can, so the deletion is retried in one (as `podman unshare rm` would).

use container::data_layout::{release_name, removal_marker};
use container::idmap;
use container::sys::consts::{SIGHUP, SIGINT, SIGQUIT};
use container::sys::process::{self, Forked};
use container::sys::{cred, fd};
use container::Spec;
use super::remove_tree::remove_tree;
use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::raw::c_int;
use std::path::{Path, PathBuf};

/// With the container's lock held through `lock` (closed here): the bundle
/// renamed aside, so no other process sees it any more, as
/// src/containers/remove.ts does, then deleted with its name.
pub fn remove_locked(bundle: &Path, lock: c_int) {
    let id = bundle.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    let aside = aside_name(bundle, &id, process::own_pid());
    let moved = fs::rename(bundle, &aside).is_ok();
    fd::close(lock);
    if moved {
        remove_moved(&aside, &id);
    }
}

/// `containers/.removing-<id>-<pid>`: `pid` deletes it (src/containers/leftovers.ts
/// collects one whose remover is gone).
fn aside_name(bundle: &Path, id: &OsStr, pid: i32) -> PathBuf {
    bundle.with_file_name(format!(".removing-{}-{}", id.to_string_lossy(), pid))
}

/// `remove_locked` for a foreground `run --rm`, whose exit is the caller's
/// answer: everything another tsbox process or the caller can see goes
/// before we return (the bundle renamed aside, so `ps`, `inspect` and `rm`
/// no longer find it; its removal marker; its name, free for the next `run
/// --name`; the destroy event), as when docker's `run --rm` returns, but
/// the tree's unlinks (2-10 ms on a busy disk) are left to a forked remover
/// that outlives us. The aside name carries the remover's pid: while it
/// lives nobody else collects the tree, and if it dies, `container prune`
/// does (src/containers/leftovers.ts). Removed here as before if the fork fails.
pub fn remove_locked_after_exit(bundle: &Path, lock: c_int) {
    // As PID 1 of a PID namespace (`unshare -pf tsbox run …`, tsbox as a container's entrypoint), our exit kills
    // every process left in it: the remover would die mid-deletion.
    if !children_share_our_pid_namespace() || process::own_pid() == 1 {
        return remove_locked(bundle, lock);
    }
    let id = bundle.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    let (go_r, go_w) = match fd::pipe() {
        Ok(p) => p,
        Err(_) => return remove_locked(bundle, lock),
    };
    // The terminal's signals (a `script` or ssh session that hangs up as we exit, a Ctrl-C) go to our process
    // group, which the remover is in until its setsid: ignored from before the fork (a signal that came between the
    // fork and the setsid killed it mid-deletion, leaving the tree aside), as we are about to exit anyway.
    for sig in [SIGHUP, SIGINT, SIGQUIT] {
        let _ = container::sys::signal::ignore(sig);
    }
    let remover = match process::clone_fork(0) {
        Ok(Forked::Parent(pid)) => pid,
        Ok(Forked::Child) => {
            fd::close(go_w);
            deferred_remover(aside_name(bundle, &id, process::own_pid()), go_r)
        }
        Err(_) => {
            fd::close(go_r);
            fd::close(go_w);
            return remove_locked(bundle, lock);
        }
    };
    fd::close(go_r);
    let aside = aside_name(bundle, &id, remover);
    let moved = fs::rename(bundle, &aside).is_ok();
    fd::close(lock);
    if moved {
        forget(&aside, &id);
        let _ = fd::write_all(go_w, &[1]);
    }
    // Closed without a byte (the bundle was gone already): the remover just ends.
    fd::close(go_w);
}

/// Whether a child we fork now is in our own PID namespace. A run that
/// joined a peer's (`--pid container:X`, namespaces.rs `join_existing`)
/// forks into X's: the remover would live inside X, seen by its processes
/// and ended with it, and its pid there is not the one the aside name
/// carries (it deleted a name that did not exist, and the tree stayed).
/// Unknown (no /proc): as if not.
fn children_share_our_pid_namespace() -> bool {
    match (fs::read_link("/proc/self/ns/pid"), fs::read_link("/proc/self/ns/pid_for_children")) {
        (Ok(own), Ok(children)) => own == children,
        _ => false,
    }
}

/// The forked remover: a session of its own, default signal handlers (the
/// parent's would forward to a container that is gone) and nothing of the
/// caller's open (a `$(tsbox run --rm …)` reads our stdout to its end);
/// waits for the go, deletes `aside`, and ends.
fn deferred_remover(aside: PathBuf, go: c_int) -> ! {
    // Out of the caller's session first, then its handlers reset: no terminal signal reaches us in between.
    let _ = container::sys::tty::setsid();
    container::sys::signal::reset_for_our_code();
    fd::detach_from_parent_fds(&[go]);
    // Nor the caller's working directory (a mount it may unmount next).
    if aside.is_absolute() {
        let _ = std::env::set_current_dir("/");
    }
    let mut byte = [0u8; 1];
    let ok = match fd::read(go, &mut byte) {
        Ok(1) => {
            // Read before the tree goes: the id maps for a retry.
            let spec = Spec::load(&aside).ok();
            delete_tree(&aside, spec.as_ref())
        }
        _ => true,
    };
    process::exit_now(if ok { 0 } else { 1 })
}

pub fn remove_container(bundle: &Path) {
    if let Some(id) = bundle.file_name() {
        remove_moved(bundle, &id.to_os_string());
    }
}

/// `remove_container` of a bundle already renamed aside (to
/// `containers/.removing-<id>-<pid>`, so no other process sees it any more)
/// whose container id is `id`.
pub fn remove_moved(bundle: &Path, id: &OsStr) {
    // Read before the tree goes: the id maps for a retry.
    let spec = Spec::load(bundle).ok();
    forget(bundle, id);
    delete_tree(bundle, spec.as_ref());
}

/// What names the container outside its bundle (moved aside, still whole):
/// the destroy event, the removal marker, its name.
fn forget(bundle: &Path, id: &OsStr) {
    let state = fs::read_to_string(bundle.join("state.json")).ok().and_then(|t| container::json::parse(&t).ok());
    if let Some(state) = &state {
        crate::events::record(bundle, state, "destroy");
    }
    let containers = bundle.parent();
    if let Some(containers) = containers {
        let _ = fs::remove_file(removal_marker(containers, id));
    }
    if let (Some(data), Some(name)) = (containers.and_then(Path::parent), state.as_ref().and_then(|v| v.get("name")).and_then(|n| n.as_str())) {
        release_name(data, id, name);
    }
    if let Some(data) = containers.and_then(Path::parent) {
        hand_over_anonymous_volumes(bundle, data, id);
    }
}

/// A `--rm` container's anonymous volumes go with it, as docker's (unless
/// another container uses one). Which ones may go is the front end's rule
/// (src/containers/volumes.ts `removeOrphanedUnlocked`, under the volumes' lock), so
/// they are handed over: the container's volumes.json, as
/// `<data>/volumes/.orphaned-<id>`, which the next volume operation settles.
/// Before, only the front end's own removals took them, and every `run -d
/// --rm` of an image with a VOLUME left one behind.
fn hand_over_anonymous_volumes(bundle: &Path, data: &Path, id: &OsStr) {
    let text = match fs::read_to_string(bundle.join("volumes.json")) {
        Ok(t) => t,
        Err(_) => return,
    };
    let anonymous = container::json::parse(&text).ok().and_then(|v| v.get("anonymous").and_then(|a| a.as_array()).map(|a| !a.is_empty()));
    let volumes = data.join("volumes");
    if anonymous != Some(true) || !volumes.is_dir() {
        return;
    }
    let name = format!(".orphaned-{}", id.to_string_lossy());
    let tmp = volumes.join(format!("{}.tmp", name));
    if fs::write(&tmp, &text).is_err() || fs::rename(&tmp, volumes.join(&name)).is_err() {
        let _ = fs::remove_file(&tmp);
    }
}

/// A rootless writable layer can hold files of subordinate ids: only root of a user namespace with the maps deletes them.
fn needs_user_namespace(spec: &Spec) -> bool {
    spec.linux.uid_mappings.len() > 1 && cred::geteuid() != 0
}

/// The tree deleted, retried in a user namespace with `spec`'s maps where that can help; true once it is gone.
fn delete_tree(bundle: &Path, spec: Option<&Spec>) -> bool {
    if remove_tree(bundle).is_ok() {
        return true;
    }
    if let Some(spec) = spec.filter(|s| needs_user_namespace(s)) {
        let _ = remove_in_user_namespace(bundle, spec);
    }
    remove_tree(bundle).is_ok()
}

/// A child in a new user namespace with the container's maps deletes the
/// tree as that namespace's root (its capabilities cover every mapped owner).
fn remove_in_user_namespace(bundle: &Path, spec: &Spec) -> io::Result<()> {
    let (sync_r, sync_w) = fd::pipe().map_err(|e| io::Error::from_raw_os_error(e.0))?;
    let user_ns = container::sys::consts::CLONE_NEWUSER;
    match process::clone_fork(user_ns) {
        Ok(Forked::Child) => {
            fd::close(sync_w);
            let mut byte = [0u8; 1];
            let mapped = fd::read(sync_r, &mut byte) == Ok(1);
            let ok = mapped && remove_tree(bundle).is_ok();
            process::exit_now(if ok { 0 } else { 1 })
        }
        Ok(Forked::Parent(pid)) => {
            fd::close(sync_r);
            if idmap::write_mappings(pid, spec).is_ok() {
                let _ = fd::write_all(sync_w, &[1]);
            }
            fd::close(sync_w);
            let _ = process::wait(pid);
            Ok(())
        }
        Err(e) => {
            fd::close(sync_r);
            fd::close(sync_w);
            Err(io::Error::from_raw_os_error(e.0))
        }
    }
}
