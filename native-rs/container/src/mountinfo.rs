//! /proc/self/mountinfo, as far as tsbox reads it: each mount's id, parent,
//! mount point, per-mount options, propagation and file system.

use std::io;
use std::os::raw::c_int;
use std::path::PathBuf;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub id: u32,
    pub parent: u32,
    /// The directory of the file system this mount shows as its root.
    pub root: String,
    pub mount_point: PathBuf,
    /// Per-mount options (`ro,nosuid,relatime`).
    pub options: String,
    /// The optional fields: `shared:N`, `master:N`, `propagate_from:N`, `unbindable`.
    pub optional: Vec<String>,
    pub fs_type: String,
    pub super_options: String,
}

impl Entry {
    pub fn readonly(&self) -> bool {
        self.options.split(',').any(|o| o == "ro")
    }

    /// A member of a peer group (mounts and unmounts below it propagate to its peers).
    pub fn shared(&self) -> bool {
        self.optional.iter().any(|o| o.starts_with("shared:"))
    }

    /// Receives mounts and unmounts from a master's peer group.
    pub fn slave(&self) -> bool {
        self.optional.iter().any(|o| o.starts_with("master:"))
    }
}

/// `/proc/self/mountinfo` of the calling process's mount namespace.
pub fn read() -> io::Result<Vec<Entry>> {
    std::fs::read_to_string("/proc/self/mountinfo").map(|t| parse(&t))
}

/// Lines that do not parse are skipped.
pub fn parse(text: &str) -> Vec<Entry> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Entry> {
    let (pre, post) = line.split_once(" - ")?;
    let fields: Vec<&str> = pre.split(' ').collect();
    let post: Vec<&str> = post.split(' ').collect();
    if fields.len() < 6 || post.len() < 3 {
        return None;
    }
    Some(Entry {
        id: fields[0].parse().ok()?,
        parent: fields[1].parse().ok()?,
        root: unescape(fields[3]),
        mount_point: PathBuf::from(unescape(fields[4])),
        options: fields[5].to_string(),
        optional: fields[6..].iter().map(|s| s.to_string()).collect(),
        fs_type: post[0].to_string(),
        super_options: post[2].to_string(),
    })
}

/// The mount `fd` is on (its `mnt_id` in /proc/self/fdinfo).
pub fn mount_id(fd: c_int) -> io::Result<u32> {
    let text = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd))?;
    text.lines()
        .find_map(|l| l.strip_prefix("mnt_id:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::Other, "no mnt_id in fdinfo"))
}

/// The mounts below mount `id` (its submounts, theirs, …), parents first.
pub fn descendants(entries: &[Entry], id: u32) -> Vec<&Entry> {
    let mut out: Vec<&Entry> = Vec::new();
    let mut parents = vec![id];
    while let Some(p) = parents.pop() {
        for e in entries.iter().filter(|e| e.parent == p && e.id != p) {
            out.push(e);
            parents.push(e.id);
        }
    }
    out
}

/// mountinfo escapes space, tab, newline and backslash as \ooo.
pub fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
51 27 254:0 /run/netns /run/netns rw,relatime shared:1 - ext4 /dev/vda rw
60 27 0:40 / /srv/with\\040space ro,nosuid master:1 propagate_from:1 - tmpfs tmpfs rw,size=4k
61 60 0:41 / /srv/with\\040space/sub rw - tmpfs tmpfs rw
62 61 0:42 / /srv/with\\040space/sub/deeper rw,nodev - tmpfs tmpfs rw
63 27 0:43 / /other rw - tmpfs tmpfs rw
broken line
";

    #[test]
    fn parses_fields_and_propagation() {
        let all = parse(SAMPLE);
        assert_eq!(all.len(), 6);
        let netns = &all[1];
        assert_eq!((netns.id, netns.parent), (51, 27));
        assert_eq!(netns.root, "/run/netns");
        assert!(netns.shared() && !netns.slave() && !netns.readonly());
        let spaced = &all[2];
        assert_eq!(spaced.mount_point, PathBuf::from("/srv/with space"));
        assert!(spaced.slave() && !spaced.shared() && spaced.readonly());
        assert_eq!(spaced.optional, ["master:1", "propagate_from:1"]);
        assert_eq!((spaced.fs_type.as_str(), spaced.super_options.as_str()), ("tmpfs", "rw,size=4k"));
        assert!(!all[0].shared() && !all[0].slave());
    }

    #[test]
    fn descendants_are_the_whole_tree_below() {
        let all = parse(SAMPLE);
        let ids: Vec<u32> = descendants(&all, 60).iter().map(|e| e.id).collect();
        assert_eq!(ids, [61, 62]);
        assert!(descendants(&all, 62).is_empty());
        assert_eq!(descendants(&all, 27).len(), 5);
    }

    #[test]
    fn unescapes_octal() {
        assert_eq!(unescape("a\\040b\\134c\\011"), "a b\\c\t");
        assert_eq!(unescape("end\\04"), "end\\04");
    }
}
