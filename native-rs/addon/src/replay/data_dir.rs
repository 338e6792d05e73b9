//! The data dir a `tsbox run` uses, found as src/paths.ts `defaultDataDir`
//! and src/data-dir.ts `existingOwnDataDir` find it, for the replay from the
//! bin: `$TSBOX_DATA_DIR`, else `$XDG_DATA_HOME/tsbox` (absolute), else
//! `$HOME/.local/share/tsbox` (an absolute HOME that is not another user's).
//! Where those say to ask the passwd file (no usable HOME), this says
//! nothing: the CLI then finds it, and runs in full.
//! Contract: test/fixtures/contract/data-dir.json.

use std::path::PathBuf;

/// The data dir's path as named, not yet resolved (`get`: the environment's variables).
pub fn named(get: &dyn Fn(&str) -> Option<String>, cwd: &str, home_is_others: &dyn Fn(&str) -> bool) -> Option<String> {
    let set = |name: &str| get(name).filter(|v| !v.is_empty());
    if let Some(dir) = set("TSBOX_DATA_DIR") {
        return Some(if dir.starts_with('/') { normalize(&dir) } else { normalize(&format!("{}/{}", cwd, dir)) });
    }
    if let Some(xdg) = set("XDG_DATA_HOME").filter(|v| v.starts_with('/')) {
        return Some(normalize(&format!("{}/tsbox", xdg)));
    }
    let home = set("HOME").filter(|h| h.starts_with('/') && !home_is_others(h))?;
    Some(normalize(&format!("{}/.local/share/tsbox", home)))
}

/// `existingOwnDataDir`: its real path, if it exists and is this user's.
pub fn existing_own(named: &str, euid: u32) -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let real = std::fs::canonicalize(named).ok()?;
    (std::fs::metadata(&real).ok()?.uid() == euid).then(|| real)
}

/// paths.ts `othersDir`: a directory that is there and another user's.
pub fn others_dir(path: &str, euid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).map_or(false, |m| m.uid() != euid)
}

/// Node's `path.normalize` of an absolute path: no `.`, `..` or empty parts, no trailing slash.
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use container::json::{self, Json};

    #[test]
    fn contract_data_dir() {
        let cases = json::parse(include_str!("../../../../test/fixtures/contract/data-dir.json")).unwrap();
        for case in cases.as_array().unwrap() {
            let env = case.get("env").unwrap();
            let get = |name: &str| env.get(name).and_then(Json::as_str).map(str::to_string);
            let others = case.get("othersHome").and_then(Json::as_bool).unwrap_or(false);
            let want = case.get("dataDir").and_then(Json::as_str);
            let got = named(&get, case.get("cwd").unwrap().as_str().unwrap(), &|_| others);
            // null: the CLI asks the passwd file (this side says nothing).
            assert_eq!(got.as_deref(), want, "{}", case);
        }
    }
}
