//! The TS↔Rust contract, Rust's half: the fixtures in
//! `test/fixtures/contract/` (see its README) that `test/contract.test.ts`
//! checks from the TypeScript side.

use crate::contract::fixture;
use crate::json::Json;
use crate::status::StatusEvents;
use crate::sys::fd;
use crate::{Error, ErrorKind, Spec};

/// Paths of the values a mutation can replace: scalars and arrays of
/// scalars; arrays of objects are entered at their first element.
fn leaves(v: &Json, path: String, out: &mut Vec<(String, Vec<Step>)>, steps: Vec<Step>) {
    let join = |k: &str| if path.is_empty() { k.to_string() } else { format!("{}.{}", path, k) };
    match v {
        Json::Object(members) => {
            for (k, child) in members {
                let mut s = steps.clone();
                s.push(Step::Key(k.clone()));
                leaves(child, join(k), out, s);
            }
        }
        Json::Array(items) if items.first().map_or(false, Json::is_object) => {
            let mut s = steps.clone();
            s.push(Step::Index(0));
            leaves(&items[0], format!("{}[0]", path), out, s);
        }
        _ => out.push((path, steps)),
    }
}

#[derive(Clone)]
enum Step {
    Key(String),
    Index(usize),
}

fn at<'a>(v: &'a mut Json, steps: &[Step]) -> &'a mut Json {
    steps.iter().fold(v, |cur, step| match (cur, step) {
        (Json::Object(m), Step::Key(k)) => &mut m.iter_mut().rev().find(|(key, _)| key == k).unwrap().1,
        (Json::Array(items), Step::Index(i)) => &mut items[*i],
        _ => panic!("fixture path does not exist"),
    })
}

#[test]
fn contract_spec_full_parses() {
    Spec::parse(&fixture("spec-full.json").to_string()).expect("spec-full.json parses");
}

/// `idmap` (what the TS side writes for a volume and the /etc files) is an
/// option of ours, not mount data; a bind without it is not idmapped.
#[test]
fn contract_idmap_mount_option() {
    let spec = Spec::parse(&fixture("spec-full.json").to_string()).unwrap();
    let opts: Vec<_> = spec.mounts.iter().map(|m| crate::mounts::parse_options(&m.options)).collect();
    assert_eq!(opts.iter().map(|o| o.idmap).collect::<Vec<_>>(), vec![false, true]);
    assert!(opts[1].data.is_empty(), "idmap is not handed to mount(2)");
}

/// Every field of the TS `ContainerSpec` (spec-full.json has them all: tsc
/// checks that) is read by `Spec::parse`: a wrong type in any one of them
/// must make it fail, naming that field.
#[test]
fn contract_every_spec_field_is_read() {
    let full = fixture("spec-full.json");
    let meta = fixture("spec-full.meta.json");
    let ignored: Vec<String> = match meta.get("rustIgnores") {
        Some(Json::Object(m)) => m.iter().map(|(k, _)| k.clone()).collect(),
        _ => Vec::new(),
    };
    let mut all = Vec::new();
    leaves(&full, String::new(), &mut all, Vec::new());
    let mut unread = Vec::new();
    for (path, steps) in all {
        if ignored.iter().any(|i| path == *i || path.starts_with(&format!("{}.", i))) {
            continue;
        }
        let mut doc = full.clone();
        *at(&mut doc, &steps) = Json::object(vec![("tsbox-contract", Json::from(true))]);
        match Spec::parse(&doc.to_string()) {
            Err(e) if e.path == path => {}
            Err(e) => unread.push(format!("{} (error names {:?} instead)", path, e.path)),
            Ok(_) => unread.push(format!("{} (ignored by Spec::parse)", path)),
        }
    }
    assert!(
        unread.is_empty(),
        "spec fields the TS side writes but Rust does not read: {:?}",
        unread
    );
}

#[test]
fn contract_error_kinds() {
    let kinds = fixture("error-kinds.json");
    let listed: Vec<(String, i64)> = match &kinds {
        Json::Object(m) => m
            .iter()
            .map(|(k, v)| (k.clone(), v.get("exitCode").and_then(Json::as_number).and_then(|n| n.as_i64()).unwrap()))
            .collect(),
        _ => panic!("error-kinds.json: expected an object"),
    };
    let ours: Vec<(String, i64)> = ErrorKind::ALL
        .iter()
        .map(|k| (k.as_str().to_string(), k.exit_code() as i64))
        .collect();
    assert_eq!(ours, listed);
}

#[test]
fn contract_status_events() {
    let cases = fixture("status-events.json");
    for case in cases.as_array().unwrap() {
        let (r, w) = fd::pipe().unwrap();
        let events = StatusEvents::new(Some(w), "test");
        let emit = case.get("emit").unwrap();
        if let Some(pid) = emit.get("started") {
            events.started(pid.as_number().unwrap().as_i64().unwrap() as i32);
        } else if let Some(e) = emit.get("error") {
            let kind = ErrorKind::parse(e.get("kind").unwrap().as_str().unwrap()).unwrap();
            events.error(&Error::new(kind, e.get("message").unwrap().as_str().unwrap()));
        } else if let Some(m) = emit.get("warning") {
            events.warning(m.as_str().unwrap());
        } else if let Some(x) = emit.get("exited") {
            let x = x.as_array().unwrap();
            let code = x[0].as_number().unwrap().as_i64().unwrap() as i32;
            events.exited(code, x[1].as_str().map(str::to_string), x[2].as_bool().unwrap());
        } else if emit.get("recorded").is_some() {
            events.recorded();
        } else {
            panic!("status-events.json: unknown emit {}", emit);
        }
        fd::close(w);
        let mut buf = vec![0u8; 4096];
        let n = fd::read(r, &mut buf).unwrap();
        fd::close(r);
        let line = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert_eq!(line, format!("{}\n", case.get("line").unwrap().as_str().unwrap()));
    }
}

/// The capability names, in the kernel's order (their numbers), as the TS
/// side spells them for `--cap-add`/`--cap-drop` (src/spec/capabilities.ts).
#[test]
fn contract_capabilities() {
    let listed: Vec<String> = match fixture("capabilities.json") {
        Json::Array(items) => items.iter().map(|v| v.as_str().unwrap().to_string()).collect(),
        _ => panic!("capabilities.json: expected an array"),
    };
    let ours: Vec<String> = crate::caps::NAMES.iter().map(|n| n.to_string()).collect();
    assert_eq!(ours, listed);
}

/// `cgroup-stats.json`: the stats a container's cgroup files give, as
/// `cgroups::Manager::stats` reads them (the CLI's src/backends/native/cgroup-stats.ts
/// reads the same fixture).
#[test]
fn contract_cgroup_stats() {
    let doc = fixture("cgroup-stats.json");
    let cases = match doc.get("cases") {
        Some(Json::Array(cases)) => cases.clone(),
        _ => panic!("cgroup-stats.json has no cases"),
    };
    for (i, case) in cases.iter().enumerate() {
        let name = case.get("name").and_then(Json::as_str).unwrap_or("?");
        let root = std::env::temp_dir().join(format!("tsbox-cgroup-stats-{}-{}", std::process::id(), i));
        let _ = std::fs::remove_dir_all(&root);
        let mut controllers: Vec<String> = Vec::new();
        if let Some(Json::Object(files)) = case.get("files") {
            for (path, text) in files {
                let file = root.join(path);
                std::fs::create_dir_all(file.parent().unwrap()).unwrap();
                std::fs::write(&file, text.as_str().unwrap()).unwrap();
                let controller = path.split('/').next().unwrap().to_string();
                if !controllers.contains(&controller) {
                    controllers.push(controller);
                }
            }
        }
        let dirs: Vec<(String, Json)> = controllers
            .iter()
            .map(|c| (c.clone(), Json::from(root.join(c).display().to_string())))
            .collect();
        let version = case.get("version").and_then(Json::as_str).unwrap();
        let record = Json::object(vec![("version", Json::from(version)), ("dirs", Json::object(dirs))]);
        let manager = crate::cgroups::record::parse(&record.to_string()).expect("a cgroup record");
        let got = manager.stats().to_json().to_string();
        let want = case.get("stats").unwrap().to_string();
        let _ = std::fs::remove_dir_all(&root);
        assert_eq!(got, want, "cgroup-stats.json case {:?}", name);
    }
}
