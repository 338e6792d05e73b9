//! `update`: new limits (a `linux.resources` object, what `tsbox update` wrote
//! into the bundle's config.json) for a running container's cgroup; the
//! reply names the limits this guest cannot apply (`dropped`, "" for none) of
//! those the change asked for (`asked`, its own resources, when sent).

use crate::agent::{op_error, Agent};
use container::cgroups;
use container::json::Json;
use container::ErrorKind;

impl Agent {
    pub(super) fn op_update(&mut self, id: u64, cid: &str, req: &Json) -> Result<(), Json> {
        let given = req
            .get("resources")
            .ok_or_else(|| op_error(ErrorKind::Spec, "update needs resources"))?;
        let resources = container::spec::parse_resources(given).map_err(super::spec_error)?;
        // `asked`: the change's own resources (a front end before it sent none: every dropped limit is named).
        let asked = match req.get("asked") {
            None | Some(Json::Null) => None,
            Some(a) => Some(container::spec::parse_resources(a).map_err(super::spec_error)?),
        };
        let dropped = cgroups::dropped_of(self.cgroup_of(cid)?.apply(&resources).map_err(|e| e.to_report())?, asked.as_ref());
        self.reply_ok(id, vec![("dropped", Json::from(cgroups::describe(&dropped)))]);
        Ok(())
    }
}
