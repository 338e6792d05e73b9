//! A plan's key, as src/cli/run-cache/key.ts makes it when it records one:
//! the material (this build, uid, gid, working directory, environment, the
//! command line up to the image) and the file named by its hashes. Strings
//! compare, hash and serialize as JavaScript's do (UTF-16 code units,
//! `JSON.stringify`). Contract: test/fixtures/contract/run-key.json.

use container::json::Json;
use std::path::Path;

/// key.ts `FORMAT`.
const FORMAT: u32 = 2;

/// key.ts `PER_COMMAND`: set afresh for each command, read by no run.
const PER_COMMAND: [&str; 4] = ["_", "OLDPWD", "SHLVL", "HYPERFINE_RANDOMIZED_ENVIRONMENT_OFFSET"];

/// What every key of one command line's environment shares.
pub struct KeyBase {
    /// The environment as Node's `process.env` shows it.
    pub env: Vec<(String, String)>,
    pub cwd: String,
    /// `build_id` of this tsbox.
    pub build: String,
    pub uid: u32,
    pub gid: u32,
}

#[derive(Debug, PartialEq)]
pub struct Key {
    /// Compared whole with the plan's own copy.
    pub material: String,
    /// The plan's file name in `<data dir>/run-cache`.
    pub file: String,
}

/// The keys of one environment: `key(prefix, has_command)` as key.ts `runKeys`.
pub struct Keys {
    common: String,
    common_hash: String,
}

impl Keys {
    pub fn new(base: &KeyBase) -> Keys {
        let mut env: Vec<&(String, String)> = base.env.iter().filter(|(name, _)| !PER_COMMAND.contains(&name.as_str())).collect();
        // `a < b` of JS strings: by UTF-16 code units.
        env.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
        let pairs: Vec<Json> = env.iter().map(|(n, v)| Json::from(vec![n.as_str(), v.as_str()])).collect();
        let common = Json::Array(vec![
            Json::from(FORMAT as i64),
            Json::from(base.build.as_str()),
            Json::from(base.uid as i64),
            Json::from(base.gid as i64),
            Json::from(base.cwd.as_str()),
            Json::Array(pairs),
        ])
        .to_string();
        Keys { common_hash: fnv1a(&common), common }
    }

    pub fn key(&self, prefix: &[String], has_command: bool) -> Key {
        let own = Json::Array(vec![Json::from(prefix.iter().map(String::as_str).collect::<Vec<_>>()), Json::Bool(has_command)]).to_string();
        Key { file: format!("{}-{}.json", self.common_hash, fnv1a(&own)), material: format!("{}\n{}", self.common, own) }
    }
}

/// key.ts `buildId`: the CLI bundle's inode, size and change time (ns).
pub fn build_id(dist: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let st = std::fs::metadata(dist.join("cli.cjs")).ok()?;
    let ctime_ns = i128::from(st.ctime()) * 1_000_000_000 + i128::from(st.ctime_nsec());
    Some(format!("{}-{}-{}", st.ino(), st.size(), ctime_ns))
}

/// FNV-1a, 32 bits, over UTF-16 code units, in hex (key.ts `fnv1a`).
fn fnv1a(text: &str) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for unit in text.encode_utf16() {
        h = (h ^ u32::from(unit)).wrapping_mul(0x0100_0193);
    }
    format!("{:08x}", h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use container::json;

    #[test]
    fn contract_run_key() {
        let cases = json::parse(include_str!("../../../../test/fixtures/contract/run-key.json")).unwrap();
        let strings = |v: &Json| -> Vec<String> { v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect() };
        for case in cases.as_array().unwrap() {
            let input = case.get("input").unwrap();
            let env = input.get("env").unwrap().as_array().unwrap().iter().map(|p| {
                let p = strings(p);
                (p[0].clone(), p[1].clone())
            });
            let base = KeyBase {
                env: env.collect(),
                cwd: input.get("cwd").unwrap().as_str().unwrap().to_string(),
                build: input.get("build").unwrap().as_str().unwrap().to_string(),
                uid: input.get("uid").unwrap().as_number().unwrap().as_i64().unwrap() as u32,
                gid: input.get("gid").unwrap().as_number().unwrap().as_i64().unwrap() as u32,
            };
            let key = Keys::new(&base).key(&strings(input.get("prefix").unwrap()), input.get("hasCommand").unwrap().as_bool().unwrap());
            assert_eq!(key.material, case.get("material").unwrap().as_str().unwrap(), "{}", case);
            assert_eq!(key.file, case.get("file").unwrap().as_str().unwrap(), "{}", case);
        }
    }
}
