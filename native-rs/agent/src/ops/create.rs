//! `create`: a container from the host's spec, stopped at its start gate.
//! Its guest dir (tmpfs + the image's overlay as root), its cgroup (the same
//! `container::cgroups` as on the host: the guest is pure v2), its stdio on
//! the channels the host picked, and a forked supervisor. The reply carries
//! the warnings about limits not applied.

use crate::agent::{op_error, Agent};
use crate::guest_dir;
use crate::supervisor::{self, Job};
use container::cgroups;
use container::namespaces;
use container::seccomp::Filter;
use container::json::Json;
use container::sys::fd;
use container::seccomp::Seccomp;
use container::{ErrorKind, Spec};
use std::cell::RefCell;

thread_local! {
    /// The last profile compiled and its program: containers nearly always
    /// bring the same (the default) profile, and compiling it is a good part
    /// of a container's set-up under emulation (bench/vm-trace.ts).
    static LAST_FILTER: RefCell<Option<(Seccomp, Filter)>> = RefCell::new(None);
}

/// `profile` compiled, or the program of the same profile compiled before.
fn compiled(profile: &Seccomp) -> Result<Filter, container::Error> {
    LAST_FILTER.with(|last| {
        if let Some((p, f)) = &*last.borrow() {
            if p == profile {
                return Ok(f.clone());
            }
        }
        let f = Filter::compile(profile)?;
        *last.borrow_mut() = Some((profile.clone(), f.clone()));
        Ok(f)
    })
}

impl Agent {
    pub(super) fn op_create(&mut self, id: u64, cid: &str, req: &Json) -> Result<(), Json> {
        self.check_new_id(cid, "create needs a cid")?;
        let spec_json = req
            .get("spec")
            .ok_or_else(|| op_error(ErrorKind::Spec, "create needs a spec"))?;
        let mut spec = Spec::from_document(spec_json).map_err(super::spec_error)?;
        container::trace::mark("create: spec parsed");
        let chans = self.channels(req)?;
        let setup = |m: String| op_error(ErrorKind::Setup, m);
        // For the container and its execs: the filter compiled once, the namespaces it makes.
        let filter = spec
            .linux
            .seccomp
            .as_ref()
            .map(compiled)
            .transpose()
            .map_err(|e| e.to_report())?;
        container::trace::mark("create: filter compiled");
        let joins_existing = spec.linux.namespaces.iter().any(|ns| ns.path.is_some());
        let namespaces = (!joins_existing).then(|| namespaces::clone_flags(&spec));

        let dir = supervisor::container_dir(cid);
        guest_dir::prepare(&dir, &spec).map_err(setup)?;
        container::trace::mark("create: dir prepared");
        if let Err(m) = guest_dir::mount_overlay_root(&mut spec) {
            guest_dir::cleanup(&dir);
            return Err(setup(m));
        }
        container::trace::mark("create: overlay mounted");
        let path = spec
            .linux
            .cgroups_path
            .clone()
            .unwrap_or_else(|| format!("tsbox/{}", cid));
        let prepared =
            match cgroups::prepare_here(&path, &spec.linux.resources, spec.linux.cgroups_mode) {
                Ok(p) => p,
                Err(e) => {
                    guest_dir::cleanup(&dir);
                    return Err(e.to_report());
                }
            };
        container::trace::mark("create: cgroup made");
        let cg = prepared.manager;
        let undo = |cg: &Option<Box<dyn cgroups::Manager>>| {
            if let Some(m) = cg {
                let _ = m.destroy();
            }
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
            cgroup: cg.as_deref(),
            filter: filter.as_ref(),
        };
        let started = self.start_supervisor(job, chans, spec.process.terminal, spec.process.console_size);
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
        c.cgroup = cg;
        c.dir = Some(dir);
        c.filter = filter;
        c.namespaces = namespaces;
        c.spec = Some(Box::new(spec));
        self.add(cid, c);
        let warnings: Vec<String> = prepared.warning.into_iter().collect();
        self.reply_ok(id, vec![("warnings", Json::from(warnings))]);
        Ok(())
    }
}
