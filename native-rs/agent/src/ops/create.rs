//! `create`: a container from the host's spec, stopped at its start gate
//! (with `spare`: set up at once, waiting there for its process; see
//! container::spare).
//! Its guest dir (tmpfs + the image's overlay as root), its cgroup (the same
//! `container::cgroups` as on the host: the guest is pure v2), its stdio on
//! the channels the host picked, and a forked supervisor. The reply carries
//! the warnings about limits not applied. With `layer` (a file of a host
//! export), the writable layer an earlier run saved there comes back.

use crate::agent::{op_error, Agent};
use crate::guest_dir;
use crate::guest_init::HOST_MOUNT;
use crate::kept_layer::{self, KeptLayer};
use crate::supervisor::{self, Job};
use container::cgroups;
use container::namespaces;
use container::seccomp::Filter;
use container::json::Json;
use container::sys::fd;
use container::seccomp::Seccomp;
use container::{ErrorKind, Spec};
use std::cell::RefCell;
use std::path::Path;

thread_local! {
    /// The last profile compiled, its program and the host's reference to
    /// it: containers nearly always bring the same (the default) profile, and
    /// compiling it is a good part of a container's set-up under emulation
    /// (bench/vm-trace.ts); sending it again, 5.6 KB through the guest's
    /// console, and parsing it is another (see `resolve_profile`).
    static LAST_FILTER: RefCell<Option<Kept>> = RefCell::new(None);
}

struct Kept {
    /// The create request's `seccompRef` that carried it, if any.
    reference: Option<u64>,
    profile: Seccomp,
    filter: Filter,
}

/// `profile` compiled, or the program of the same profile compiled before;
/// kept under `reference` for the creates that name it instead of sending it.
fn compiled(profile: &Seccomp, reference: Option<u64>) -> Result<Filter, container::Error> {
    LAST_FILTER.with(|last| {
        if let Some(k) = last.borrow_mut().as_mut() {
            if k.profile == *profile {
                k.reference = reference.or(k.reference);
                return Ok(k.filter.clone());
            }
        }
        let filter = Filter::compile(profile)?;
        *last.borrow_mut() = Some(Kept { reference, profile: profile.clone(), filter: filter.clone() });
        Ok(filter)
    })
}

/// The create's seccomp profile and its program. The host sends a profile
/// once per session with a `seccompRef` number (`core/seccomp-ref.ts`) and
/// later creates with the same profile send only that number and no
/// `linux.seccomp`: the profile kept under it goes into the spec. A number
/// the agent does not hold (the host never does that) is a spec error, never
/// a container without its filter. Contract: test/fixtures/contract/seccomp-ref.json.
fn resolve_profile(spec: &mut Spec, reference: Option<u64>) -> Result<Option<Filter>, container::Error> {
    if let Some(profile) = spec.linux.seccomp.as_ref() {
        return compiled(profile, reference).map(Some);
    }
    let reference = match reference {
        Some(r) => r,
        None => return Ok(None),
    };
    LAST_FILTER.with(|last| match &*last.borrow() {
        Some(k) if k.reference == Some(reference) => {
            spec.linux.seccomp = Some(k.profile.clone());
            Ok(Some(k.filter.clone()))
        }
        _ => Err(container::Error::new(
            ErrorKind::Spec,
            format!("create names seccomp profile {}, which the agent does not hold", reference),
        )),
    })
}

/// The guest dir `dir` of a container (or of a copy's view) with its root
/// mounted: the tmpfs, the layer its runs kept (the request's `layer`)
/// written back into the upper dir, the image's overlay on the root (the
/// spec's overlay is taken out). Returns that layer, to save when it ends;
/// on failure nothing is left.
pub(super) fn mount_root(dir: &Path, spec: &mut Spec, req: &Json) -> Result<Option<KeptLayer>, Json> {
    let setup = |m: String| op_error(ErrorKind::Setup, m);
    let saved = kept_layer::requested(req, Path::new(HOST_MOUNT)).map_err(|m| op_error(ErrorKind::Spec, m))?;
    guest_dir::prepare(dir, spec).map_err(setup)?;
    container::trace::mark("create: dir prepared");
    // The layer an earlier run left, into the upper dir before the overlay is mounted on it.
    let layer = match (saved, &spec.root.overlay) {
        (Some(saved), Some(ov)) => Some(KeptLayer { upper: ov.upper.clone(), saved, owners: kept_layer::owners_of(spec) }),
        _ => None,
    };
    let mounted = layer.as_ref().map_or(Ok(()), KeptLayer::restore).and_then(|()| guest_dir::mount_overlay_root(spec));
    if let Err(m) = mounted {
        guest_dir::cleanup(dir);
        return Err(setup(m));
    }
    container::trace::mark("create: overlay mounted");
    Ok(layer)
}

/// A new session (`hello`): the host's references start anew.
pub(crate) fn forget_profile_refs() {
    LAST_FILTER.with(|last| {
        if let Some(k) = last.borrow_mut().as_mut() {
            k.reference = None;
        }
    });
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
        let spare = req.get("spare").and_then(Json::as_bool) == Some(true);
        let setup = |m: String| op_error(ErrorKind::Setup, m);
        // For the container and its execs: the filter compiled once, the namespaces it makes.
        let reference = req
            .get("seccompRef")
            .and_then(|v| v.as_number())
            .and_then(|n| n.as_u64());
        let filter = resolve_profile(&mut spec, reference).map_err(|e| e.to_report())?;
        container::trace::mark("create: filter compiled");
        let joins_existing = spec.linux.namespaces.iter().any(|ns| ns.path.is_some());
        let namespaces = (!joins_existing).then(|| namespaces::clone_flags(&spec));

        let dir = supervisor::container_dir(cid);
        let layer = mount_root(&dir, &mut spec, req)?;
        let path = spec
            .linux
            .cgroups_path
            .clone()
            .unwrap_or_else(|| format!("tsbox/{}", cid));
        let prepared =
            // The guest's cgroups go with its container (undo below) or its machine: no record.
            match cgroups::prepare_here(&path, &mut |_| Ok(()), &spec.linux.resources, spec.linux.cgroups_mode) {
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
            spare,
            cgroup: cg.as_deref(),
            filter: filter.as_ref(),
        };
        let started = self.start_supervisor(job, chans, spec.process.terminal, spec.process.console_size, None);
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
        c.spare = spare;
        c.cgroup = cg;
        c.dir = Some(dir);
        c.layer = layer;
        c.filter = filter;
        c.namespaces = namespaces;
        c.internal_subnets = spec.network.iter().flat_map(|n| n.attach.iter()).filter(|a| a.internal).map(|a| a.subnet).collect();
        c.spec = Some(Box::new(spec));
        self.add(cid, c);
        let warnings: Vec<String> = prepared.warning.into_iter().collect();
        self.reply_ok(id, vec![("warnings", Json::from(warnings))]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{forget_profile_refs, resolve_profile};
    use container::contract::fixture;
    use container::json::Json;
    use container::{ErrorKind, Spec};

    /// spec-full.json with the named profile as linux.seccomp (or none).
    fn spec_with(profile: Option<&Json>) -> Spec {
        let mut doc = fixture("spec-full.json");
        let mut spec = match profile {
            Some(p) => {
                let mut linux = doc.get("linux").unwrap().clone();
                linux.set("seccomp", p.clone());
                doc.set("linux", linux);
                Spec::from_document(&doc).unwrap()
            }
            None => Spec::from_document(&doc).unwrap(),
        };
        if profile.is_none() {
            spec.linux.seccomp = None;
        }
        spec
    }

    fn wire(step: &Json) -> (bool, Option<u64>) {
        let sent = step.get("seccomp").and_then(Json::as_bool).unwrap();
        let reference = step.get("seccompRef").and_then(|v| v.as_number()).and_then(|n| n.as_u64());
        (sent, reference)
    }

    #[test]
    fn contract_seccomp_ref() {
        let fx = fixture("seccomp-ref.json");
        let profiles = fx.get("profiles").unwrap();
        for step in fx.get("steps").unwrap().as_array().unwrap() {
            if step.get("hello").is_some() {
                forget_profile_refs();
                continue;
            }
            let profile = step.get("profile").unwrap().as_str().and_then(|n| profiles.get(n));
            let want = profile.map(|p| spec_with(Some(p)).linux.seccomp.unwrap());
            let (sent, reference) = wire(step.get("wire").unwrap());
            // On the wire: the spec with the profile only when the host sends it in full.
            let mut spec = spec_with(if sent { profile } else { None });
            let filter = resolve_profile(&mut spec, reference).unwrap();
            assert_eq!(spec.linux.seccomp, want, "step {}", step);
            assert_eq!(filter.is_some(), want.is_some(), "step {}", step);
        }
        let (_, reference) = wire(fx.get("unknownRef").unwrap());
        let err = resolve_profile(&mut spec_with(None), reference).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Spec);
    }
}
