//! The nest holder's record, `<data dir>/nest/holder` (the holder itself:
//! tsbox-runtime's nest_holder.rs): which process keeps a rootless user's
//! id maps for one-shot runs to join, read by those runs and by the CLI's
//! hand-off (the holder's executable is a sealed copy it may run too:
//! sealed_exe::held_copy). src/backends/native/nest-holder.ts reads it for
//! `tsbox info`; test/fixtures/contract/nest-holder.json holds the two to
//! one place and line.

use crate::idmap;
use crate::spec::IdMapping;
use std::fs;
use std::path::{Path, PathBuf};

pub const DIR: &str = "nest";
pub const FILE: &str = "holder";

/// "PID START NSPID NSSTART UIDMAP GIDMAP" (maps as idmap::maps_arg): the
/// holder and its namespace's process, each with its start time.
pub struct Record {
    pub pid: i32,
    pub start: u64,
    pub ns_pid: i32,
    pub ns_start: u64,
    pub uid_mappings: Vec<IdMapping>,
    pub gid_mappings: Vec<IdMapping>,
}

/// The record's directory of the data dir holding `bundle` (`<data dir>/containers/<id>`).
pub fn dir_of_bundle(bundle: &Path) -> Option<PathBuf> {
    Some(bundle.parent()?.parent()?.join(DIR))
}

impl Record {
    pub fn read(dir: &Path) -> Option<Record> {
        let text = fs::read_to_string(dir.join(FILE)).ok()?;
        let f: Vec<&str> = text.split_whitespace().collect();
        if f.len() != 6 {
            return None;
        }
        Some(Record {
            pid: f[0].parse().ok()?,
            start: f[1].parse().ok()?,
            ns_pid: f[2].parse().ok()?,
            ns_start: f[3].parse().ok()?,
            uid_mappings: idmap::parse_maps_arg(f[4]).ok()?,
            gid_mappings: idmap::parse_maps_arg(f[5]).ok()?,
        })
    }

    pub fn text(&self) -> String {
        format!(
            "{} {} {} {} {} {}\n",
            self.pid,
            self.start,
            self.ns_pid,
            self.ns_start,
            idmap::maps_arg(&self.uid_mappings),
            idmap::maps_arg(&self.gid_mappings)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::{self, Json};

    /// The record's place and line as src/backends/native/nest-holder.ts reads them (`tsbox info`).
    #[test]
    fn contract_nest_holder_record() {
        let f = json::parse(include_str!("../../../test/fixtures/contract/nest-holder.json")).unwrap();
        let place: Vec<&str> = f.get("record").and_then(Json::as_array).unwrap().iter().filter_map(Json::as_str).collect();
        assert_eq!(place, vec![DIR, FILE]);
        let line = f.get("line").and_then(Json::as_str).unwrap();
        let dir = std::env::temp_dir().join(format!("tsbox-nest-record-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(FILE), line).unwrap();
        let record = Record::read(&dir).unwrap();
        let _ = fs::remove_dir_all(&dir);
        assert_eq!(i64::from(record.pid), f.get("pid").and_then(Json::as_number).and_then(|n| n.as_i64()).unwrap());
        assert_eq!(record.start.to_string(), f.get("start").and_then(Json::as_str).unwrap());
        assert_eq!(record.text(), line);
        assert_eq!(dir_of_bundle(Path::new("/d/containers/abc")), Some(PathBuf::from("/d/nest")));
    }
}
