//! `create`: a container from the host's spec, stopped at its start gate.
//! Its guest dir (tmpfs + the image's overlay as root), its cgroup, its stdio
//! on the channels the host picked, and a forked supervisor.

use crate::agent::{op_error, Agent};
use crate::cgroup;
use crate::guest_dir;
use crate::supervisor::{self, Job};
use container::json::Json;
use container::sys::fd;
use container::{ErrorKind, Spec};

impl Agent {
    pub(super) fn op_create(&mut self, id: u64, cid: &str, req: &Json) -> Result<(), Json> {
        self.check_new_id(cid, "create needs a cid")?;
        let spec_json = req
            .get("spec")
            .ok_or_else(|| op_error(ErrorKind::Spec, "create needs a spec"))?;
        let mut spec = Spec::parse(&spec_json.to_string()).map_err(super::spec_error)?;
        let chans = self.channels(req)?;
        let setup = |m: String| op_error(ErrorKind::Setup, m);

        let dir = supervisor::container_dir(cid);
        guest_dir::prepare(&dir, &spec).map_err(setup)?;
        if let Err(m) = guest_dir::mount_overlay_root(&mut spec) {
            guest_dir::cleanup(&dir);
            return Err(setup(m));
        }
        let resources = spec_json.get("linux").and_then(|l| l.get("resources"));
        let cg = match cgroup::create(cid, resources) {
            Ok(p) => p,
            Err(m) => {
                guest_dir::cleanup(&dir);
                return Err(setup(m));
            }
        };
        let undo = |cg: &std::path::Path| {
            cgroup::remove(cg);
            guest_dir::cleanup(&dir);
        };
        let (gate_r, gate_w) = match fd::pipe() {
            Ok(p) => p,
            Err(e) => {
                undo(&cg);
                return Err(setup(format!("creating a pipe: {}", e.description())));
            }
        };
        let job = Job::Container {
            spec: &spec,
            gate_r,
        };
        let started = self.start_supervisor(
            job,
            chans,
            spec.process.terminal,
            spec.process.console_size,
            Some(&cg),
        );
        fd::close(gate_r);
        let mut c = match started {
            Ok(c) => c,
            Err(e) => {
                fd::close(gate_w);
                undo(&cg);
                return Err(e);
            }
        };
        c.gate_w = Some(gate_w);
        c.cgroup = Some(cg);
        c.dir = Some(dir);
        self.add(cid, c);
        self.reply_ok(id, vec![]);
        Ok(())
    }
}
