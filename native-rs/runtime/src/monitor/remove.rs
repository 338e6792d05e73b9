//! `run -d --rm`: the monitor deletes the bundle itself once the container
//! is done for good, and the container's name with it. The TypeScript side
//! does the same for containers it removes (src/containers/remove.ts): a
//! rootless writable layer can hold files of subordinate ids that the user
//! cannot delete, but root of a user namespace with the container's id maps
//! can, so the deletion is retried in one (as `podman unshare rm` would).

use container::idmap;
use container::sys::process::{self, Forked};
use container::sys::{cred, fd};
use container::Spec;
use super::remove_tree::remove_tree;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// With the container's lock held through `lock` (closed here): the bundle
/// renamed aside, so no other process sees it any more, as
/// src/containers/remove.ts does, then deleted with its name.
pub fn remove_locked(bundle: &Path, lock: std::os::raw::c_int) {
    let id = bundle.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    let aside = bundle.with_file_name(format!(".removing-{}-{}", id.to_string_lossy(), process::own_pid()));
    let moved = fs::rename(bundle, &aside).is_ok();
    fd::close(lock);
    if moved {
        remove_moved(&aside, &id);
    }
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
    let state = fs::read_to_string(bundle.join("state.json")).ok().and_then(|t| container::json::parse(&t).ok());
    if let Some(state) = &state {
        crate::events::record(bundle, state, "destroy");
    }
    let name = state.as_ref().and_then(|v| v.get("name")).and_then(|n| n.as_str()).map(str::to_string);
    // Read before the tree goes: the id maps for a retry.
    let spec = Spec::load(bundle).ok();
    if remove_tree(bundle).is_err() {
        if let Some(spec) = spec.filter(|s| s.linux.uid_mappings.len() > 1 && cred::geteuid() != 0) {
            let _ = remove_in_user_namespace(bundle, &spec);
        }
        let _ = remove_tree(bundle);
    }
    if let Some(containers) = bundle.parent() {
        let _ = fs::remove_file(removal_marker(containers, id));
    }
    if let Some(name) = name {
        release_name(bundle, id, &name);
    }
}

/// `containers/.rm-<id>`, made with a `--rm` container (src/paths.ts
/// `removalMarker`): one left behind names an orphan to collect.
pub fn removal_marker(containers: &Path, id: &OsStr) -> PathBuf {
    let mut name = OsString::from(".rm-");
    name.push(id);
    containers.join(name)
}

/// `<data>/names/<name>` → `<id>` (src/containers/names.ts), if it is still ours.
fn release_name(bundle: &Path, id: &OsStr, name: &str) {
    let containers = match bundle.parent() {
        Some(c) => c,
        None => return,
    };
    let link = match containers.parent() {
        Some(data) => data.join("names").join(name),
        None => return,
    };
    if fs::read_link(&link).map(|t| t.as_os_str() == id).unwrap_or(false) {
        let _ = fs::remove_file(&link);
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use container::json;

    #[test]
    fn contract_data_layout() {
        let f = json::parse(include_str!("../../../../test/fixtures/contract/data-layout.json")).unwrap();
        let id = f.get("id").and_then(|v| v.as_str()).unwrap();
        let want = f.get("removalMarker").and_then(|v| v.as_str()).unwrap();
        assert_eq!(removal_marker(Path::new("containers"), OsStr::new(id)), Path::new(want));
    }
}
