//! `net-attach`: `{cid, network}` (`tsbox network connect` of a running
//! container): a keeper of its own for the new network, forked from the
//! agent and running the very code of `tsbox-runtime net-attach`
//! (`keeper::attach_running`: lease, veth, DNS names; it tears all down at
//! SIGTERM or the container's end). Answered with the keeper's attachment
//! record once it reports. `net-detach`: `{cid, network}` asks the keeper
//! of that network (`keeper::request_detach`: one keeper serves all the
//! networks a start joined) to take its endpoint down, and answers once it has.

use crate::agent::{no_such, op_error, Agent};
use crate::guest_dir::NETWORKS_DIR;
use crate::supervisor::container_dir;
use container::json::{self, Json};
use container::sys::{fd, process};
use container::ErrorKind;
use std::path::PathBuf;

impl Agent {
    pub(super) fn op_net_attach(&mut self, id: u64, cid: &str, req: &Json) -> Result<(), Json> {
        let (pid, spec) = self.running_container(cid)?;
        let net = container::net::spec::parse(req.get("network"))
            .map_err(super::spec_error)?
            .ok_or_else(|| op_error(ErrorKind::Spec, "net-attach needs a network"))?;
        // The host names the guest's paths: only the container's own dir and the networks' dir.
        if net.dir != container_dir(cid).join("net") || net.attach.iter().any(|a| !a.dir.starts_with(NETWORKS_DIR)) {
            return Err(op_error(ErrorKind::Spec, "net-attach: the network's dirs are not the container's"));
        }
        for a in &net.attach {
            std::fs::create_dir_all(&a.dir).map_err(|e| op_error(ErrorKind::Setup, format!("creating {}: {}", a.dir.display(), e)))?;
        }
        let (r, w) = fd::pipe().map_err(|e| op_error(ErrorKind::Setup, format!("creating a pipe: {}", e.description())))?;
        match process::clone_fork(0) {
            Ok(process::Forked::Child) => {
                fd::close(r);
                // It outlives this request (not the agent: it is the guest's init); the agent reaps it.
                // The agent's own record of its container's init: no start time to check against.
                let code = container::net::keeper::attach_running(&spec, &net, pid, None, w);
                process::exit_now(code)
            }
            Ok(process::Forked::Parent(_)) => {}
            Err(e) => {
                fd::close(r);
                fd::close(w);
                return Err(op_error(ErrorKind::Setup, format!("forking a network keeper: {}", e.description())));
            }
        }
        fd::close(w);
        // The keeper reports within its set-up (a few netlink requests): the loop waits for it.
        let report = read_line(r);
        fd::close(r);
        let doc = json::parse(&report).map_err(|_| op_error(ErrorKind::Setup, "the network keeper ended without a report"))?;
        if doc.get("ok").and_then(|v| v.as_bool()) != Some(true) {
            let e = doc.get("error").map(|e| e.to_string()).and_then(|t| container::Error::from_json(&t));
            return Err(e.map_or_else(|| op_error(ErrorKind::Setup, "attaching failed"), |e| e.to_report()));
        }
        if let Some(c) = self.ctrs.get_mut(cid) {
            c.internal_subnets.extend(net.attach.iter().filter(|a| a.internal).map(|a| a.subnet));
        }
        let records: Vec<Json> = net.attach.iter().filter_map(|a| record(cid, &a.name)).collect();
        self.reply_ok(id, vec![("networks", Json::Array(records))]);
        Ok(())
    }

    pub(super) fn op_net_detach(&mut self, id: u64, cid: &str, req: &Json) -> Result<(), Json> {
        self.running_container(cid)?;
        let name = req.get("network").and_then(|v| v.as_str()).unwrap_or("");
        if name.is_empty() || name.contains('/') {
            return Err(op_error(ErrorKind::Spec, "net-detach needs a network name"));
        }
        record(cid, name).ok_or_else(|| op_error(ErrorKind::NotFound, format!("container {} is not connected to network {}", cid, name)))?;
        // A keeper left with no network exits: the agent's `reap` collects it.
        let resolv = match req.get("dns") {
            Some(doc) => Some(container::net::keeper::resolv_change(doc).map_err(|e| e.to_report())?),
            None => None,
        };
        container::net::keeper::request_detach(&container_dir(cid).join("net"), name, resolv.as_ref()).map_err(|e| e.to_report())?;
        self.reply_ok(id, vec![]);
        Ok(())
    }

    /// A running container's init pid and its spec (for the keeper).
    fn running_container(&self, cid: &str) -> Result<(i32, container::Spec), Json> {
        match self.ctrs.get(cid) {
            Some(c) if c.parent.is_none() && c.running() => match (c.pid, &c.spec) {
                (Some(pid), Some(spec)) => Ok((pid, (**spec).clone())),
                _ => Err(op_error(ErrorKind::NotRunning, format!("container {} is not running", cid))),
            },
            Some(_) => Err(op_error(ErrorKind::NotRunning, format!("container {} is not running", cid))),
            None => Err(no_such(cid)),
        }
    }
}

/// The keeper's `attach-<network>.json` in the container's guest dir.
fn record(cid: &str, network: &str) -> Option<Json> {
    let path: PathBuf = container_dir(cid).join("net").join(format!("attach-{}.json", network));
    json::parse(&std::fs::read_to_string(path).ok()?).ok()
}

/// The report line (or what came before EOF).
fn read_line(r: std::os::raw::c_int) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    while let Ok(n) = fd::read(r, &mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        if out.contains(&b'\n') {
            break;
        }
    }
    String::from_utf8_lossy(&out).lines().next().unwrap_or("").to_string()
}
