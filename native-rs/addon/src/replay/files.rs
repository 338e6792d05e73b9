//! The file steps of a replayed `tsbox run` (src/cli/run-cache/replay.ts):
//! what the full run's preparation does with a container's files, with the
//! same names, modes and order — src/containers/bundle-dir.ts (the bundle
//! made as `.creating-<pid>-<id>` with its creator file, then renamed; the
//! overlay's dirs; the creator dropped and the `create` event once state.json
//! is written), the image index check under the store's lock (image/layout.ts
//! `withIndexLock`, replay.ts), the removal marker, names.ts's name link,
//! spec-file.ts, inspect-record.ts and state.ts's writes. In Rust because the
//! same steps in the replay's JS cost ≈ 5 ms of code run once per process
//! (docs/architecture.md, "The run cache"). Anything unexpected — a name taken,
//! the store busy or changed, a failed write — undoes what was made and says
//! why: the full run follows, and reports what is wrong if anything is.

use container::data_layout::{name_link, release_name, removal_marker};
use container::events;
use container::json;
use container::sys::consts::{LOCK_EX, LOCK_NB, O_DIRECTORY};
use container::sys::{fd, process};
use std::ffi::OsStr;
use std::fs::{self, DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{symlink, DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// What the plan says of the container's image and store.
pub struct Image<'a> {
    /// The manifest digest (the creator file's claim on it).
    pub digest: &'a str,
    /// The layer dirs the creator file lists.
    pub layers: &'a [String],
    /// Every dir the root is made of: all must still be there.
    pub lower: &'a [String],
    /// index.json's identity before the full run looked the image up (plan-file.ts `fileIdentity`).
    pub index: &'a str,
}

/// One replayed container's paths (src/paths.ts).
pub struct Container {
    pub data: PathBuf,
    pub id: String,
}

impl Container {
    fn containers(&self) -> PathBuf {
        self.data.join("containers")
    }
    pub fn bundle(&self) -> PathBuf {
        self.containers().join(&self.id)
    }
    fn removal_marker(&self) -> PathBuf {
        removal_marker(&self.containers(), OsStr::new(&self.id))
    }
}

/// The process making the container: its pid and /proc start time (state.ts `ownStartTime`), as recorded.
pub struct Creator<'a> {
    pub pid: i32,
    pub start: Option<&'a str>,
}

/// The steps up to the files' texts: the bundle claimed, the image checked, the root's dirs, the marker, the name.
pub fn claim(c: &Container, creator: &Creator, image: &Image, remove: bool, name: &str) -> Result<(), String> {
    make_bundle_dir(c, creator, image).map_err(|e| format!("making the bundle: {}", e))?;
    let done = image_kept(&c.data, image)
        .and_then(|()| make_root_dirs(&c.bundle()).map_err(|e| format!("making the root's dirs: {}", e)))
        .and_then(|()| if remove { write_new(&c.removal_marker(), "", 0o666, false).map_err(|e| format!("the removal marker: {}", e)) } else { Ok(()) })
        .and_then(|()| reserve_name(c, name));
    done.map_err(|e| {
        undo(c, None, false);
        e
    })
}

/// config.json, inspect.json and state.json written, the creator dropped, `create` recorded.
pub fn write(c: &Container, name: &str, spec: &str, inspect: &str, state: &str) -> Result<(), String> {
    let bundle = c.bundle();
    let written = write_new(&bundle.join("config.json"), spec, 0o666, false)
        .and_then(|()| write_atomic(&bundle.join("inspect.json"), inspect))
        .map_err(|e| format!("writing the container's files: {}", e));
    if let Err(e) = written {
        undo(c, Some(name), false);
        return Err(e);
    }
    if let Err(e) = write_atomic(&bundle.join("state.json"), state) {
        undo(c, Some(name), false);
        return Err(format!("writing state.json: {}", e));
    }
    let _ = fs::remove_file(bundle.join("creator"));
    if let Ok(parsed) = json::parse(state) {
        events::record(&bundle, &parsed, "create");
    }
    Ok(())
}

/// What was made goes (replay.ts's `undo`): a `destroy` event once state.json was written, the bundle, the
/// removal marker, the name if it is still this container's.
pub fn undo(c: &Container, name: Option<&str>, state_written: bool) {
    let bundle = c.bundle();
    if state_written {
        if let Ok(state) = fs::read_to_string(bundle.join("state.json")).map_err(|_| ()).and_then(|t| json::parse(&t).map_err(|_| ())) {
            events::record(&bundle, &state, "destroy");
        }
    }
    let _ = fs::remove_dir_all(&bundle);
    let _ = fs::remove_file(c.removal_marker());
    if let Some(name) = name {
        release_name(&c.data, OsStr::new(&c.id), name);
    }
}

/// bundle-dir.ts `makeBundleDir`: made aside with the creator file, then renamed into place.
fn make_bundle_dir(c: &Container, maker: &Creator, image: &Image) -> std::io::Result<()> {
    let containers = c.containers();
    fs::create_dir_all(&containers)?;
    let temp = containers.join(format!(".creating-{}-{}", maker.pid, c.id));
    DirBuilder::new().mode(0o700).create(&temp)?;
    let mut creator = format!("{} {} {}", maker.pid, maker.start.unwrap_or(""), image.digest);
    for layer in image.layers {
        creator.push('\n');
        creator.push_str(layer);
    }
    let made = write_new(&temp.join("creator"), &creator, 0o666, false).and_then(|()| fs::rename(&temp, c.bundle()));
    if made.is_err() {
        let _ = fs::remove_dir_all(&temp);
    }
    made
}

/// Under the image store's lock, after the creator file claims the image: the index unchanged since the full run
/// looked the image up, and every dir of the root still there. A busy lock is a miss, not a wait.
fn image_kept(data: &Path, image: &Image) -> Result<(), String> {
    let path = data.join(".index.lock");
    let lock = OpenOptions::new().read(true).custom_flags(O_DIRECTORY).open(&path).map_err(|e| format!("the index lock: {}", e))?;
    if fd::flock(lock.as_raw_fd(), LOCK_EX | LOCK_NB).is_err() {
        return Err("the image store is busy".to_string());
    }
    // Only the directory still at the path excludes anyone (lock-file.ts `directoryLocker`).
    let held = lock.metadata().map_err(|e| e.to_string())?;
    let there = fs::symlink_metadata(&path).map_err(|e| e.to_string())?;
    if !held.is_dir() || held.dev() != there.dev() || held.ino() != there.ino() {
        return Err("the index lock was replaced".to_string());
    }
    if super::host::file_identity(&data.join("index.json")) != image.index {
        return Err("image changed".to_string());
    }
    if let Some(gone) = image.lower.iter().find(|dir| !Path::new(dir).exists()) {
        return Err(format!("image changed: {} is gone", gone));
    }
    Ok(())
}

/// bundle-dir.ts `makeRootDirs`.
fn make_root_dirs(bundle: &Path) -> std::io::Result<()> {
    for dir in ["upper", "work", "rootfs"] {
        DirBuilder::new().mode(0o777).create(bundle.join(dir))?;
    }
    fs::set_permissions(bundle.join("upper"), fs::Permissions::from_mode(0o755))
}

/// names.ts `reserve`'s link; a name taken is a miss: the full run tells a stale link from a live owner.
fn reserve_name(c: &Container, name: &str) -> Result<(), String> {
    // The full run checked the plan's name (names.ts): a plan file gone wrong must still not link outside names/.
    if name.is_empty() || name.starts_with('.') || name.contains('/') {
        return Err(format!("the name {:?} is not a container name", name));
    }
    let link = name_link(&c.data, name);
    if let Some(dir) = link.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("the names dir: {}", e))?;
    }
    symlink(&c.id, &link).map_err(|e| format!("the name {}: {}", name, e))
}

/// A file made new (`O_EXCL` with `exclusive`, else truncated as `writeFileSync`'s "w").
fn write_new(path: &Path, text: &str, mode: u32, exclusive: bool) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).mode(mode);
    if exclusive {
        options.create_new(true);
    } else {
        options.create(true).truncate(true);
    }
    options.open(path)?.write_all(text.as_bytes())
}

/// fs-util.ts `writeFileAtomicSync`: `.<name>.<pid>.<n>.tmp` beside it, then renamed over it.
fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = path.with_file_name(format!(".{}.{}.0.tmp", name, process::own_pid()));
    let written = write_new(&tmp, text, 0o644, true).and_then(|()| fs::rename(&tmp, path));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}
