//! `copy`: `tsbox cp` (and `export`) — the same operation as `tsbox-runtime
//! copy` (container::copy::op), under the handle `eid` like an exec'd
//! process (`wait`, `signal`, `delete` take it). Records travel on its
//! stdout or stdin channel, a `stat` answer on stdout, and a failure as a
//! status event line on its stderr channel (the native helper's status fd).
//!
//! Of a running container `cid`: in its namespaces (`--pid`), or its upper
//! dir read from the guest (`--view upper`, for `diff` and `commit`). Of a stopped
//! one, whose files are its image's layers under the layer its runs kept
//! (kept_layer.rs): the request carries its guest `spec` and `layer`, as
//! `create`'s do, and its overlay is mounted in a guest dir of the handle's
//! for this copy alone (`--bundle`'s view); a `write` saves the layer back
//! when the handle is deleted.

use crate::agent::{no_such, op_error, Agent};
use crate::guest_dir;
use crate::kept_layer;
use crate::supervisor::{self, CopyIn, Job};
use container::copy::op::{Op, Request};
use container::json::Json;
use container::view::View;
use container::{ErrorKind, Spec};
use std::path::PathBuf;

impl Agent {
    pub(super) fn op_copy(&mut self, id: u64, cid: &str, req: &Json) -> Result<(), Json> {
        let eid = self.new_eid(req, "copy")?;
        let (mut op, mut path, view) = copy_request(req)?;
        let chans = self.channels(req)?;
        if let Some(spec) = req.get("spec") {
            return self.copy_stopped(id, &eid, spec, req, op, path, view, chans);
        }
        let (pid, owners) = match self.ctrs.get(cid) {
            Some(c) if c.parent.is_none() && c.running() => (c.pid.unwrap_or(0), c.spec.as_deref().and_then(kept_layer::owners_of)),
            Some(c) if c.parent.is_none() => {
                return Err(op_error(
                    ErrorKind::NotRunning,
                    format!("container {} is not running", cid),
                ))
            }
            _ => return Err(no_such(cid)),
        };
        // `diff`/`commit` of a running container: its upper dir as the guest
        // has it, with overlay markers and owners as the container sees them —
        // the form of the layer its runs keep (kept_layer.rs).
        let target = match (view, &mut op) {
            (View::Upper, Op::Read(o)) => {
                o.markers = true;
                o.owners = owners;
                o.name = Some(String::new());
                path = supervisor::container_dir(cid).join("upper");
                CopyIn::Guest
            }
            (View::Upper, _) => return Err(op_error(ErrorKind::Spec, "a container's upper dir is only read")),
            _ => CopyIn::Running(pid),
        };
        let mut c = self.start_supervisor(Job::Copy { target, op, path }, chans, false, None, None)?;
        c.parent = Some(cid.to_string());
        c.start_req = Some(id);
        self.add(&eid, c);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn copy_stopped(&mut self, id: u64, eid: &str, spec: &Json, req: &Json, op: Op, path: PathBuf, view: View, chans: crate::stdio::Channels) -> Result<(), Json> {
        if view == View::Upper {
            // A stopped container's upper dir is the kept layer's file, on the host.
            return Err(op_error(ErrorKind::Spec, "the upper view is of running containers"));
        }
        let mut spec = Spec::from_document(spec).map_err(super::spec_error)?;
        let dir = supervisor::container_dir(eid);
        let layer = super::create::mount_root(&dir, &mut spec, req)?;
        let writes = matches!(op, Op::Write(_));
        let job = Job::Copy { target: CopyIn::Stopped(&spec, view), op, path };
        let mut c = match self.start_supervisor(job, chans, false, None, None) {
            Ok(c) => c,
            Err(e) => {
                guest_dir::cleanup(&dir);
                return Err(e);
            }
        };
        c.dir = Some(dir);
        // Saved back when the handle is deleted, once the copy has ended; a read changed nothing.
        c.layer = if writes { layer } else { None };
        c.start_req = Some(id);
        self.add(eid, c);
        Ok(())
    }
}

/// The request's `copy` object: the operation, its path (absolute, in the
/// container) and its view (`layers`: a stopped container's for `export`;
/// `upper`: a running one's writable layer, for `diff` and `commit`).
fn copy_request(req: &Json) -> Result<(Op, PathBuf, View), Json> {
    let copy = req
        .get("copy")
        .ok_or_else(|| op_error(ErrorKind::Spec, "copy needs a copy object"))?;
    let text = |key: &str| copy.get(key).and_then(|v| v.as_str());
    let switch = |key: &str| copy.get(key).and_then(|v| v.as_bool());
    let path = text("path")
        .filter(|p| p.starts_with('/'))
        .map(PathBuf::from)
        .ok_or_else(|| op_error(ErrorKind::Spec, "copy needs an absolute path"))?;
    let mut op = Op::from_request(Request {
        op: text("op").unwrap_or(""),
        follow: switch("follow") == Some(true),
        name: text("name").map(|n| n.to_string()),
        content: switch("content") != Some(false),
        markers: false,
        archive: switch("archive") == Some(true),
    })
    .map_err(|m| op_error(ErrorKind::Spec, m))?;
    // A running container's `export`: what is mounted over its root is not its files.
    if let (Op::Read(o), Some(Json::Array(skip))) = (&mut op, copy.get("skip")) {
        o.skip = skip.iter().filter_map(|p| p.as_str()).map(PathBuf::from).collect();
    }
    let view = View::from_name(text("view")).map_err(|m| op_error(ErrorKind::Spec, format!("copy {}", m)))?;
    Ok((op, path, view))
}
