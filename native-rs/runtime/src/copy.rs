//! `tsbox-runtime copy`: reading and writing a container's files as record
//! streams on stdout/stdin (container::copy), inside its root (container::view):
//!
//!   copy --op stat  --path P  (--pid PID | --bundle DIR [--view V] | neither: the host)
//!   copy --op read  --path P  [--follow 1] [--name N] [--content 0] [--markers 1]
//!   copy --op write --path DIR [--archive 1]
//!
//! `--pid`: a running container (its namespaces are joined); `--bundle`: a
//! stopped one, mounted as `--view merged` (default), `layers` or `upper`;
//! neither: the host, as the calling user. Errors are status events (or a
//! line on stderr) with the usual exit codes; `stat` prints one JSON object.

use container::copy::read::{self, ReadOptions};
use container::copy::write::{self, WriteOptions};
use container::error::Error;
use container::json::Json;
use container::status::StatusEvents;
use container::view::{self, View};
use container::Spec;
use std::io::{self, BufReader, BufWriter, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub enum Target {
    Host,
    Running(i32),
    Stopped(PathBuf, View),
}

pub enum Op {
    Stat,
    Read(ReadOptions),
    Write(WriteOptions),
}

pub struct Options {
    pub target: Target,
    pub op: Op,
    pub path: PathBuf,
    pub status_fd: Option<i32>,
}

pub fn copy(opts: Options) -> i32 {
    let events = StatusEvents::new(opts.status_fd, "tsbox-runtime");
    // A copy whose caller was killed stops too, wherever it waits (a FIFO, a full pipe).
    if let Err(e) = crate::helper::die_with_parent() {
        return events.error(&e);
    }
    let mut op = opts.op;
    let path = opts.path;
    let result = match opts.target {
        Target::Host => perform(&mut op, &path, false).map(|()| 0),
        Target::Running(pid) => view::enter_running(pid).and_then(|()| perform(&mut op, &path, true)).map(|()| 0),
        // The child reports its own error and exits with its code.
        Target::Stopped(bundle, v) => Spec::load(&bundle)
            .map_err(Error::from)
            .and_then(|spec| view::run(&spec, v, &mut || perform(&mut op, &path, false), &|e| events.error(e))),
    };
    match result {
        Ok(code) => code,
        Err(e) => events.error(&e),
    }
}

/// The operation, once `/` is the right one. `running`: pseudo file systems are not copied.
fn perform(op: &mut Op, path: &Path, running: bool) -> Result<(), Error> {
    match op {
        Op::Stat => {
            let line = stat(path).to_string();
            let mut out = io::stdout();
            out.write_all(line.as_bytes()).and_then(|()| out.write_all(b"\n")).map_err(|e| Error::setup(format!("writing: {}", e)))
        }
        Op::Read(o) => {
            if running {
                o.skip = view::pseudo_mounts();
            }
            let stdout = io::stdout();
            let mut out = BufWriter::with_capacity(256 * 1024, stdout.lock());
            read::read(path, o, &mut out)?;
            out.flush().map_err(|e| Error::setup(format!("writing the copy stream: {}", e)))
        }
        Op::Write(o) => {
            let stdin = io::stdin();
            let mut input = BufReader::with_capacity(256 * 1024, stdin.lock());
            write::write(path, o, &mut input)
        }
    }
}

/// What `cp` needs to know of a path before copying: whether it exists, its
/// type, and for a symlink the type of what it points to.
fn stat(path: &Path) -> Json {
    let kind = |m: &std::fs::Metadata| {
        let ft = m.file_type();
        Json::from(if ft.is_dir() {
            "dir"
        } else if ft.is_symlink() {
            "symlink"
        } else if ft.is_file() {
            "file"
        } else {
            "other"
        })
    };
    match std::fs::symlink_metadata(path) {
        Err(_) => Json::object(vec![("exists", Json::from(false))]),
        Ok(m) => {
            let mut members = vec![
                ("exists", Json::from(true)),
                ("type", kind(&m)),
                ("mode", Json::from(m.permissions().mode() & 0o7777)),
                ("size", Json::from(m.size())),
            ];
            if m.file_type().is_symlink() {
                let target = std::fs::read_link(path).map(|t| t.to_string_lossy().into_owned()).unwrap_or_default();
                members.push(("link", Json::from(target)));
                members.push(("targetType", std::fs::metadata(path).map(|t| kind(&t)).unwrap_or(Json::Null)));
            }
            Json::object(members)
        }
    }
}
