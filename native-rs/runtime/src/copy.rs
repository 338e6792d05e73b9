//! `tsbox-runtime copy`: reading and writing a container's files as record
//! streams on stdout/stdin (container::copy), inside its root (container::view):
//!
//!   copy --op stat  --path P  (--pid PID | --bundle DIR [--view V] | neither: the host)
//!   copy --op read  --path P  [--follow 1] [--name N] [--content 0] [--markers 1]
//!   copy --op write --path DIR [--archive 1]
//!   copy --op xattrs --path DIR   (records' xattrs onto the files there: a rootless unpack's capabilities)
//!
//! `--pid`: a running container (its namespaces are joined); `--bundle`: a
//! stopped one, mounted as `--view merged` (default), `layers` or `upper`;
//! neither: the host, as the calling user. Errors are status events (or a
//! line on stderr) with the usual exit codes; `stat` prints one JSON object.

use container::copy::op::perform;
use container::copy::owners::Owners;
use container::error::Error;
use container::net::lock::Lock;
pub use container::copy::op::Op;
use container::status::StatusEvents;
use container::view::{self, View};
use container::Spec;
use std::path::PathBuf;

/// The bundle's file that serializes its merged views (copies of a stopped container).
const VIEW_LOCK: &str = "view.lock";

pub enum Target {
    Host,
    Running(i32),
    Stopped(PathBuf, View),
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
    if let Op::Write(_) = op {
        if let Err(e) = container::copy::pending::discard_on_interrupt() {
            return events.error(&container::error::Error::setup(format!("handling signals: {}", e)));
        }
    }
    let path = opts.path;
    if let (Target::Host, Op::Write(w)) = (&opts.target, &mut op) {
        w.host = true;
    }
    // The maps an owner past them is refused with (copy/write.rs), read while they can be: before joining, before the pivot.
    let name_ids = |op: &mut Op, ids: Option<Owners>| {
        if let Op::Write(w) = op {
            w.ids = ids;
        }
    };
    let result = match opts.target {
        Target::Host => perform(&mut op, &path, false).map(|()| 0),
        Target::Running(pid) => {
            name_ids(&mut op, Owners::of_process(pid));
            view::enter_running(pid).and_then(|()| perform(&mut op, &path, true)).map(|()| 0)
        }
        // The child reports its own error and exits with its code.
        Target::Stopped(bundle, v) => Spec::load(&bundle).map_err(Error::from).and_then(|spec| {
            let (uids, gids) = (spec.linux.uid_mappings.clone(), spec.linux.gid_mappings.clone());
            name_ids(&mut op, if uids.is_empty() { None } else { Some(Owners { uids, gids }) });
            // One merged view of a bundle at a time: the overlay's mount cleans its work dir, so a second mount of
            // the same upper and work dirs beside the first (two copies into a stopped container at once) reset the
            // first's work dir, or failed itself ("mounting overlay on …/rootfs: No such file or directory").
            let _one_view = if v == View::Merged { Some(Lock::acquire_file(&bundle, VIEW_LOCK)?) } else { None };
            view::run(&spec, v, &mut || perform(&mut op, &path, false), &|e| events.error(e))
        }),
    };
    match result {
        Ok(code) => code,
        Err(e) => events.error(&e),
    }
}
