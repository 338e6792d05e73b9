//! Where this host mounts its cgroup hierarchies and where in each of them
//! we are (/proc/self/mountinfo + /proc/self/cgroup): pure v2 (cgroup2 with
//! controllers), pure v1, or hybrid like systemd's (v1 controllers at
//! /sys/fs/cgroup/<ctrl> plus a cgroup2 at /sys/fs/cgroup/unified that holds
//! none of ours).

use std::fs;
use std::path::{Path, PathBuf};

/// The v1 controllers tsbox uses (devices is left alone: containers get their
/// device nodes as bind mounts).
pub const V1_CONTROLLERS: [&str; 7] = [
    "memory", "cpu", "cpuacct", "cpuset", "pids", "blkio", "freezer",
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hierarchy {
    /// v1: the controllers bound to it (of `V1_CONTROLLERS`); empty for cgroup2.
    pub controllers: Vec<String>,
    pub mount: PathBuf,
    /// Our cgroup in it, "/"-rooted, relative to the mount.
    pub own: String,
}

impl Hierarchy {
    /// The directory of our own cgroup.
    pub fn own_dir(&self) -> PathBuf {
        join(&self.mount, &self.own)
    }

    pub fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    V1,
    V2,
    Hybrid,
    None,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::V1 => "v1",
            Kind::V2 => "v2",
            Kind::Hybrid => "hybrid",
            Kind::None => "none",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub kind: Kind,
    /// The v1 hierarchies holding our controllers.
    pub v1: Vec<Hierarchy>,
    /// The cgroup2 hierarchy, when one is mounted (the unified one in hybrid).
    pub v2: Option<Hierarchy>,
}

impl Layout {
    pub fn detect() -> Layout {
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let cgroup = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        Layout::parse(&mountinfo, &cgroup, |p| {
            fs::read_to_string(p.join("cgroup.controllers")).ok()
        })
    }

    /// `controllers_of(dir)`: the cgroup.controllers text of a cgroup2 dir.
    pub fn parse(
        mountinfo: &str,
        proc_cgroup: &str,
        controllers_of: impl Fn(&Path) -> Option<String>,
    ) -> Layout {
        let mut v1: Vec<Hierarchy> = Vec::new();
        let mut v2: Option<Hierarchy> = None;
        for entry in crate::mountinfo::parse(mountinfo) {
            let (root, mount) = (entry.root, entry.mount_point);
            match entry.fs_type.as_str() {
                "cgroup2" => {
                    // The first cgroup2 mount wins (/sys/fs/cgroup before bind mounts of it).
                    if v2.is_none() {
                        let own = own_path(proc_cgroup, |ctrls| ctrls.is_empty(), &root);
                        v2 = own.map(|own| Hierarchy {
                            controllers: Vec::new(),
                            mount,
                            own,
                        });
                    }
                }
                "cgroup" => {
                    let options: Vec<&str> = entry.super_options.split(',').collect();
                    let ours: Vec<String> = V1_CONTROLLERS
                        .iter()
                        .filter(|c| options.contains(c))
                        .map(|c| c.to_string())
                        .collect();
                    let known = |h: &Hierarchy| ours.iter().any(|c| h.has(c));
                    if ours.is_empty() || v1.iter().any(known) {
                        continue;
                    }
                    let own = own_path(
                        proc_cgroup,
                        |ctrls| ctrls.iter().any(|c| ours.contains(&c.to_string())),
                        &root,
                    );
                    if let Some(own) = own {
                        v1.push(Hierarchy {
                            controllers: ours,
                            mount,
                            own,
                        });
                    }
                }
                _ => {}
            }
        }
        let v2_has_ours = v2.as_ref().map_or(false, |h| {
            let text = controllers_of(&h.own_dir()).or_else(|| controllers_of(&h.mount));
            text.map_or(false, |t| {
                t.split_whitespace()
                    .any(|c| ["memory", "pids", "cpu", "io"].contains(&c))
            })
        });
        let kind = match (v1.is_empty(), v2.is_some()) {
            (true, true) => Kind::V2,
            (true, false) => Kind::None,
            (false, _) if v2_has_ours => Kind::V2,
            (false, true) => Kind::Hybrid,
            (false, false) => Kind::V1,
        };
        if kind == Kind::V2 {
            // A cgroup2 that has the controllers is used alone.
            v1.clear();
        }
        Layout { kind, v1, v2 }
    }

    /// The hierarchy that carries `controller` (v1 layouts).
    pub fn v1_hierarchy(&self, controller: &str) -> Option<&Hierarchy> {
        self.v1.iter().find(|h| h.has(controller))
    }
}

/// Our path in the hierarchy whose /proc/self/cgroup controller list
/// `matches`, made relative to the mount's root (a mount of a sub-tree, as in
/// a cgroup namespace, shows that sub-tree as its root). None when we are not
/// inside what is mounted.
fn own_path(proc_cgroup: &str, matches: impl Fn(&[&str]) -> bool, root: &str) -> Option<String> {
    let path = proc_cgroup.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_id, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
        let ctrls: Vec<&str> = ctrls.split(',').filter(|c| !c.is_empty()).collect();
        if matches(&ctrls) {
            Some(path.to_string())
        } else {
            None
        }
    })?;
    if root == "/" {
        return Some(path);
    }
    let rest = path.strip_prefix(root)?;
    if rest.is_empty() {
        Some("/".into())
    } else if rest.starts_with('/') {
        Some(rest.to_string())
    } else {
        None
    }
}


/// `mount` + a "/"-rooted cgroup path.
pub fn join(mount: &Path, path: &str) -> PathBuf {
    let rel = path.trim_start_matches('/');
    if rel.is_empty() {
        mount.to_path_buf()
    } else {
        mount.join(rel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID_MOUNTS: &str = "\
25 30 0:23 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
26 25 0:24 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
27 25 0:25 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
28 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
29 25 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
30 25 0:28 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
31 25 0:29 / /sys/fs/cgroup/devices rw - cgroup cgroup rw,devices
";
    const HYBRID_CGROUP: &str = "\
5:devices:/user.slice
4:pids:/user.slice/user-1000.slice
3:memory:/process_api/b84
2:cpu,cpuacct:/
1:name=systemd:/user.slice
0::/user.slice/user-1000.slice
";

    #[test]
    fn hybrid() {
        let l = Layout::parse(HYBRID_MOUNTS, HYBRID_CGROUP, |_| Some("hugetlb\n".into()));
        assert_eq!(l.kind, Kind::Hybrid);
        assert_eq!(l.v1.len(), 3);
        let cpu = l.v1_hierarchy("cpuacct").unwrap();
        assert_eq!(cpu.mount, Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        assert_eq!(cpu.own_dir(), Path::new("/sys/fs/cgroup/cpu,cpuacct"));
        let mem = l.v1_hierarchy("memory").unwrap();
        assert_eq!(mem.own_dir(), Path::new("/sys/fs/cgroup/memory/process_api/b84"));
        assert!(l.v1_hierarchy("freezer").is_none());
        assert_eq!(l.v2.unwrap().own, "/user.slice/user-1000.slice");
    }

    #[test]
    fn pure_v2_and_a_v2_that_has_the_controllers() {
        let mounts = "26 25 0:24 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
        let l = Layout::parse(mounts, "0::/tsbox/abc\n", |_| Some("cpu memory pids\n".into()));
        assert_eq!(l.kind, Kind::V2);
        assert_eq!(l.v2.as_ref().unwrap().own_dir(), Path::new("/sys/fs/cgroup/tsbox/abc"));
        // Hybrid mounts, but the cgroup2 has memory: it is used alone.
        let l = Layout::parse(HYBRID_MOUNTS, HYBRID_CGROUP, |_| Some("memory pids\n".into()));
        assert_eq!((l.kind, l.v1.len()), (Kind::V2, 0));
        assert_eq!(Layout::parse("", "", |_| None).kind, Kind::None);
    }

    #[test]
    fn a_mount_of_a_subtree_and_escapes() {
        // In a cgroup namespace (or a bind mount of a sub-tree) the mount's root is not "/".
        let mounts = "29 25 0:27 /ns /sys/fs/cgroup/my\\040memory rw - cgroup cgroup rw,memory\n";
        let l = Layout::parse(mounts, "3:memory:/ns/inner\n", |_| None);
        assert_eq!(l.kind, Kind::V1);
        let h = &l.v1[0];
        assert_eq!(h.mount, Path::new("/sys/fs/cgroup/my memory"));
        assert_eq!(h.own, "/inner");
        // Outside the mounted sub-tree: not usable.
        let l = Layout::parse(mounts, "3:memory:/other\n", |_| None);
        assert_eq!(l.kind, Kind::None);
    }
}
