//! Where a data dir keeps what names a container outside its bundle (src/paths.ts has the whole layout; the
//! shared part is held to it by test/fixtures/contract/data-layout.json): the removal marker of a `--rm`
//! container and its name's link. The monitor's removal and the addon's replay both use it.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::path::{Path, PathBuf};

/// `containers/.rm-<id>`, made with a `--rm` container (src/paths.ts
/// `removalMarker`): one left behind names an orphan to collect.
pub fn removal_marker(containers: &Path, id: &OsStr) -> PathBuf {
    let mut name = OsString::from(".rm-");
    name.push(id);
    containers.join(name)
}

/// `names/<name>`, a link to the id of the container holding it (src/containers/names.ts).
pub fn name_link(data: &Path, name: &str) -> PathBuf {
    data.join("names").join(name)
}

/// The name's link removed if it is still the container `id`'s (another may have taken the name since).
pub fn release_name(data: &Path, id: &OsStr, name: &str) {
    let link = name_link(data, name);
    if fs::read_link(&link).map(|t| t.as_os_str() == id).unwrap_or(false) {
        let _ = fs::remove_file(&link);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    #[test]
    fn contract_data_layout() {
        let f = json::parse(include_str!("../../../test/fixtures/contract/data-layout.json")).unwrap();
        let id = f.get("id").and_then(|v| v.as_str()).unwrap();
        let want = f.get("removalMarker").and_then(|v| v.as_str()).unwrap();
        assert_eq!(removal_marker(Path::new("containers"), OsStr::new(id)), Path::new(want));
    }
}
