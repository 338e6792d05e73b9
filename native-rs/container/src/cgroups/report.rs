//! What this host gives root and the calling user, per controller, for
//! `tsbox info` (through `tsbox-runtime probe`).

use super::delegation::{self, Creator};
use super::fs;
use super::layout::{Kind, Layout, V1_CONTROLLERS};
use crate::json::Json;
use std::path::PathBuf;

/// The controllers tsbox uses on each version (v2 freezes without one).
const V2_CONTROLLERS: [&str; 5] = ["memory", "cpu", "cpuset", "pids", "io"];

pub struct Report {
    pub layout: Kind,
    /// (controller, root has it, this user has it)
    pub controllers: Vec<(String, bool, bool)>,
    /// Where this user may create cgroups (root: the hierarchies' roots).
    pub bases: Vec<PathBuf>,
    /// Why this user has none, when it has none.
    pub user_none: Option<String>,
}

pub fn report(layout: &Layout, who: &Creator) -> Report {
    let mut r = Report {
        layout: layout.kind,
        controllers: Vec::new(),
        bases: Vec::new(),
        user_none: None,
    };
    match layout.kind {
        Kind::V1 | Kind::Hybrid => {
            for name in V1_CONTROLLERS.iter() {
                let h = layout.v1_hierarchy(name);
                let base = h.map(|h| delegation::base(h, who));
                if let Some(Ok(b)) = &base {
                    if !r.bases.contains(b) {
                        r.bases.push(b.clone());
                    }
                }
                if let Some(Err(why)) = &base {
                    r.user_none.get_or_insert_with(|| why.clone());
                }
                r.controllers
                    .push((name.to_string(), h.is_some(), matches!(base, Some(Ok(_)))));
            }
        }
        Kind::V2 => {
            let h = match &layout.v2 {
                Some(h) => h,
                None => return r,
            };
            let at_root = fs::read(&h.mount, "cgroup.controllers").unwrap_or_default();
            let base = delegation::base(h, who);
            let at_base = match &base {
                Ok(b) => fs::read(b, "cgroup.controllers").unwrap_or_default(),
                Err(why) => {
                    r.user_none = Some(why.clone());
                    String::new()
                }
            };
            if let Ok(b) = base {
                r.bases.push(b);
            }
            let has = |text: &str, c: &str| text.split_whitespace().any(|w| w == c);
            for name in V2_CONTROLLERS.iter() {
                r.controllers
                    .push((name.to_string(), has(&at_root, name), has(&at_base, name)));
            }
            r.controllers
                .push(("freezer".into(), true, r.user_none.is_none()));
        }
        Kind::None => r.user_none = Some("this host has no cgroup file system mounted".into()),
    }
    if r.controllers.iter().all(|(_, _, user)| !user) && r.user_none.is_none() {
        r.user_none = Some("no controller is available".into());
    }
    r
}

impl Report {
    pub fn to_json(&self) -> Json {
        let controllers: Vec<(String, Json)> = self
            .controllers
            .iter()
            .map(|(name, root, user)| {
                (
                    name.clone(),
                    Json::object(vec![("root", Json::from(*root)), ("user", Json::from(*user))]),
                )
            })
            .collect();
        let bases: Vec<String> = self.bases.iter().map(|b| b.display().to_string()).collect();
        Json::object(vec![
            ("layout", Json::from(self.layout.as_str())),
            ("controllers", Json::object(controllers)),
            ("userCgroups", Json::from(bases)),
            ("userReason", Json::from(self.user_none.clone())),
        ])
    }
}
