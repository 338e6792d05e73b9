//! `<bundle>/cgroup.json`: where a container's cgroup is, written by whoever
//! created it (`tsbox-runtime run`), so `stats`, `pause`, `resume` and the
//! clean-up of a bundle whose runtime died find it from the bundle alone.
//! `{"version":"v1","dirs":{"memory":"/sys/fs/cgroup/memory/tsbox/ID",…}}` or
//! `{"version":"v2","dirs":{"unified":"/sys/fs/cgroup/tsbox/ID"}}`.

use super::common::Manager;
use super::v1::V1Manager;
use super::v2::V2Manager;
use crate::error::{Context, Error};
use crate::json::{self, Json};
use std::path::{Path, PathBuf};

pub const FILE: &str = "cgroup.json";

pub fn to_json(m: &dyn Manager) -> Json {
    let dirs: Vec<(String, Json)> = m
        .dirs()
        .into_iter()
        .map(|(name, dir)| (name, Json::from(dir.display().to_string())))
        .collect();
    Json::object(vec![
        ("version", Json::from(m.version().as_str())),
        ("dirs", Json::object(dirs)),
    ])
}

/// Written temp-then-rename: a reader never sees half a record.
pub fn write(bundle: &Path, m: &dyn Manager) -> Result<(), Error> {
    let tmp = bundle.join(format!(".{}.{}.tmp", FILE, std::process::id()));
    let target = bundle.join(FILE);
    std::fs::write(&tmp, format!("{}\n", to_json(m)))
        .and_then(|()| std::fs::rename(&tmp, &target))
        .step(|| format!("writing {}", target.display()))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            e
        })
}

pub fn remove(bundle: &Path) {
    let _ = std::fs::remove_file(bundle.join(FILE));
}

/// The manager of the cgroup a bundle records; None when it records none.
pub fn load(bundle: &Path) -> Result<Option<Box<dyn Manager>>, Error> {
    let file = bundle.join(FILE);
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).step(|| format!("reading {}", file.display())),
    };
    parse(&text)
        .map(Some)
        .ok_or_else(|| Error::setup(format!("{} is not a cgroup record", file.display())))
}

pub fn parse(text: &str) -> Option<Box<dyn Manager>> {
    let doc = json::parse(text).ok()?;
    let dirs = match doc.get("dirs")? {
        Json::Object(members) => members
            .iter()
            .map(|(k, v)| Some((k.clone(), PathBuf::from(v.as_str()?))))
            .collect::<Option<Vec<_>>>()?,
        _ => return None,
    };
    match doc.get("version")?.as_str()? {
        "v1" => Some(Box::new(V1Manager::new(
            dirs.into_iter()
                .map(|(k, d)| (k.split(',').map(str::to_string).collect(), d))
                .collect(),
            Vec::new(),
        ))),
        "v2" => {
            let (_, dir) = dirs.into_iter().next()?;
            Some(Box::new(V2Manager::new(dir)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::common::Version;

    #[test]
    fn round_trip() {
        let v1 = V1Manager::new(
            vec![
                (vec!["memory".into()], "/cg/memory/tsbox/x".into()),
                (vec!["cpu".into(), "cpuacct".into()], "/cg/cpu,cpuacct/tsbox/x".into()),
            ],
            Vec::new(),
        );
        let text = to_json(&v1).to_string();
        assert_eq!(
            text,
            r#"{"version":"v1","dirs":{"memory":"/cg/memory/tsbox/x","cpu,cpuacct":"/cg/cpu,cpuacct/tsbox/x"}}"#
        );
        let back = parse(&text).unwrap();
        assert_eq!((back.version(), back.dirs()), (Version::V1, v1.dirs()));
        let v2 = V2Manager::new("/cg/tsbox/x".into());
        let back = parse(&to_json(&v2).to_string()).unwrap();
        assert_eq!(back.dirs(), v2.dirs());
        assert!(parse("{}").is_none() && parse(r#"{"version":"v3","dirs":{}}"#).is_none());
    }
}
