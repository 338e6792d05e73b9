//! `ContainerSpec` (src/spec/container-spec.ts is authoritative) parsed from
//! `config.json`. Unknown fields are ignored; a missing or mistyped field is a
//! `SpecError` naming its JSON path, e.g.
//! `process.args: expected a non-empty array of strings`.

use crate::caps::{self, CapSets};
use crate::cgroups::{self, Resources};
use crate::json::{self, Json};
use crate::namespaces::NamespaceKind;
use crate::net::spec::NetworkSpec;
use crate::rlimits;
use crate::seccomp::{self, Seccomp};
use crate::userns_auto::{self, UsernsAuto};
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecError {
    /// JSON path of the offending value ("" for the document).
    pub path: String,
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for SpecError {}

type Result<T> = std::result::Result<T, SpecError>;

#[derive(Clone, Debug, PartialEq)]
pub struct Spec {
    pub oci_version: String,
    pub process: Process,
    pub root: Root,
    pub hostname: Option<String>,
    pub mounts: Vec<Mount>,
    pub linux: Linux,
    // --- networking (net/spec.rs) ---
    pub network: Option<NetworkSpec>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Process {
    pub terminal: bool,
    pub console_size: Option<ConsoleSize>,
    pub user: User,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    /// None: the spec has no `capabilities`, so the process keeps none.
    pub capabilities: Option<CapSets>,
    pub rlimits: Vec<Rlimit>,
    pub no_new_privileges: bool,
    /// /proc/self/oom_score_adj, -1000..1000.
    pub oom_score_adj: Option<i32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConsoleSize {
    pub height: u16,
    pub width: u16,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    /// The process's umask (OCI `process.user.umask`): 022 unless the spec says, never the caller's.
    pub umask: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rlimit {
    pub resource: u32,
    pub soft: u64,
    pub hard: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Root {
    pub path: PathBuf,
    pub readonly: bool,
    pub overlay: Option<Overlay>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overlay {
    /// Topmost first, as overlayfs `lowerdir` wants them.
    pub lower: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
    /// The upper dir goes with the container: no sync of its file system at
    /// the unmount (overlayfs `volatile`).
    pub volatile: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    pub destination: String,
    pub kind: String,
    pub source: String,
    pub options: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Namespace {
    pub kind: NamespaceKind,
    pub path: Option<PathBuf>,
    /// tsbox: the namespace of this running container (its id), joined as it
    /// is at each start, which sets `path` (peer.rs).
    pub container: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdMapping {
    pub container_id: u32,
    pub host_id: u32,
    pub size: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Linux {
    pub namespaces: Vec<Namespace>,
    pub uid_mappings: Vec<IdMapping>,
    pub gid_mappings: Vec<IdMapping>,
    pub masked_paths: Vec<String>,
    pub readonly_paths: Vec<String>,
    /// None: no filter (seccomp=unconfined).
    pub seccomp: Option<Seccomp>,
    /// Mappings picked at start from a pool (`--userns=auto`, userns_auto.rs).
    pub userns_auto: Option<UsernsAuto>,
    // cgroups (cgroups/): the limits, where, and whether a cgroup is a must.
    pub resources: Resources,
    pub cgroups_path: Option<String>,
    pub cgroups_mode: cgroups::Mode,
    /// `linux.sysctl`, in name order (sysctl.rs).
    pub sysctl: Vec<(String, String)>,
}

impl Spec {
    /// Reads `<bundle>/config.json`; relative host paths are taken relative to
    /// the bundle, as in OCI.
    pub fn load(bundle: &Path) -> Result<Spec> {
        let file = bundle.join("config.json");
        let text = std::fs::read(&file).map_err(|e| SpecError {
            path: String::new(),
            message: format!("reading {}: {}", file.display(), e),
        })?;
        let text = String::from_utf8(text).map_err(|_| SpecError {
            path: String::new(),
            message: format!("{}: not valid UTF-8", file.display()),
        })?;
        let mut spec = Spec::parse(&text)?;
        spec.resolve_relative_to(bundle);
        Ok(spec)
    }

    pub fn parse(text: &str) -> Result<Spec> {
        let doc = json::parse(text).map_err(|e| SpecError {
            path: String::new(),
            message: e.to_string(),
        })?;
        Spec::from_document(&doc)
    }

    /// A spec from JSON parsed already (the vm agent's request carries it:
    /// printing and parsing it again cost as much as the first parse).
    pub fn from_document(doc: &Json) -> Result<Spec> {
        let spec = Spec::from_json(doc)?;
        spec.validate()?;
        Ok(spec)
    }

    pub fn has_namespace(&self, kind: NamespaceKind) -> bool {
        self.linux.namespaces.iter().any(|ns| ns.kind == kind)
    }

    /// The host uid the process's user runs as, where the spec alone says it:
    /// the same id without a user namespace of its own, through the
    /// mappings with one; None when they are picked at start
    /// (`--userns=auto`), joined from elsewhere, or do not map it.
    pub fn host_uid(&self, uid: u32) -> Option<u32> {
        if !self.has_namespace(NamespaceKind::User) {
            return Some(uid);
        }
        if !self.creates_namespace(NamespaceKind::User) || self.linux.userns_auto.is_some() {
            return None;
        }
        crate::copy::owners::map_id(&self.linux.uid_mappings, uid, true)
    }

    /// True when the spec asks for a *new* namespace of this kind.
    pub fn creates_namespace(&self, kind: NamespaceKind) -> bool {
        self.linux
            .namespaces
            .iter()
            .any(|ns| ns.kind == kind && ns.path.is_none() && ns.container.is_none())
    }

    fn resolve_relative_to(&mut self, bundle: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = bundle.join(&*p);
            }
        };
        fix(&mut self.root.path);
        if let Some(ov) = &mut self.root.overlay {
            ov.lower.iter_mut().for_each(fix);
            fix(&mut ov.upper);
            fix(&mut ov.work);
        }
        if let Some(net) = &mut self.network {
            fix(&mut net.dir);
        }
        for m in &mut self.mounts {
            let bind = m.kind == "bind" || m.options.iter().any(|o| o == "bind" || o == "rbind");
            if bind && !m.source.is_empty() && !m.source.starts_with('/') {
                m.source = bundle.join(&m.source).to_string_lossy().into_owned();
            }
        }
    }

    fn from_json(doc: &Json) -> Result<Spec> {
        object(Some(doc), "")?;
        let process = object(doc.get("process"), "process")?;
        let root = object(doc.get("root"), "root")?;
        let linux = object(doc.get("linux"), "linux")?;
        Ok(Spec {
            oci_version: string(doc.get("ociVersion"), "ociVersion")?,
            process: parse_process(process)?,
            root: parse_root(root)?,
            hostname: optional(doc.get("hostname"), "hostname", string)?,
            mounts: list(doc.get("mounts"), "mounts", parse_mount)?,
            linux: parse_linux(linux)?,
            network: crate::net::spec::parse(doc.get("network"))?,
        })
    }

    /// Cross-field rules the types cannot express.
    fn validate(&self) -> Result<()> {
        let fail = |path: &str, message: &str| {
            Err(SpecError {
                path: path.into(),
                message: message.into(),
            })
        };
        for (i, ns) in self.linux.namespaces.iter().enumerate() {
            if self.linux.namespaces[..i].iter().any(|o| o.kind == ns.kind) {
                return fail(
                    &format!("linux.namespaces[{}]", i),
                    &format!("duplicate {} namespace", ns.kind.spec_name()),
                );
            }
        }
        // One peer, and its user namespace: only there do we hold the
        // capabilities to join the others (each container has its own).
        let peers: Vec<&String> = self.linux.namespaces.iter().filter_map(|ns| ns.container.as_ref()).collect();
        if let Some(first) = peers.first() {
            if peers.iter().any(|p| p != first) {
                return fail("linux.namespaces", "the namespaces of one container only can be joined");
            }
            let user = self.linux.namespaces.iter().find(|ns| ns.kind == NamespaceKind::User);
            if user.and_then(|ns| ns.container.as_ref()) != Some(*first) {
                return fail("linux.namespaces", "joining a container's namespaces needs its user namespace too");
            }
        }
        if self.mounts.iter().any(|m| m.kind == crate::mounts::PEER_MOUNT) {
            let ipc = self.linux.namespaces.iter().find(|ns| ns.kind == NamespaceKind::Ipc);
            if !ipc.map_or(false, |ns| ns.path.is_some() || ns.container.is_some()) {
                return fail("mounts", "a peer mount needs the IPC namespace of a container to join");
            }
        }
        if !self.has_namespace(NamespaceKind::Mount) {
            return fail(
                "linux.namespaces",
                "a mount namespace is required (the container pivots into root.path)",
            );
        }
        if self.hostname.is_some() && !self.has_namespace(NamespaceKind::Uts) {
            return fail("hostname", "setting a hostname requires a uts namespace");
        }
        // linux.usernsAuto stands in for the mappings: checked where it is
        // used (launch::prepare), so a spec naming every field still parses.
        if self.creates_namespace(NamespaceKind::User) && self.linux.userns_auto.is_none() {
            if self.linux.uid_mappings.is_empty() {
                return fail(
                    "linux.uidMappings",
                    "a new user namespace needs at least one mapping",
                );
            }
            if self.linux.gid_mappings.is_empty() {
                return fail(
                    "linux.gidMappings",
                    "a new user namespace needs at least one mapping",
                );
            }
        }
        if self.linux.cgroups_mode == cgroups::Mode::Disabled
            && !self.linux.resources.requested().is_empty()
        {
            return fail(
                "linux.resources",
                "limits need a cgroup, but linux.cgroupsMode is disabled",
            );
        }
        for (i, m) in self.mounts.iter().enumerate() {
            if !m.destination.starts_with('/') {
                return fail(
                    &format!("mounts[{}].destination", i),
                    "expected an absolute path",
                );
            }
        }
        self.process.validate()
    }
}

impl Process {
    /// An OCI `process` object on its own (what `exec` runs in a container
    /// that is already there); errors name paths under `process.`.
    pub fn load(file: &Path) -> Result<Process> {
        let text = std::fs::read_to_string(file).map_err(|e| SpecError {
            path: String::new(),
            message: format!("reading {}: {}", file.display(), e),
        })?;
        Process::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Process> {
        let doc = json::parse(text).map_err(|e| SpecError {
            path: String::new(),
            message: e.to_string(),
        })?;
        Process::from_document(&doc)
    }

    /// A process from JSON parsed already (see [`Spec::from_document`]).
    pub fn from_document(doc: &Json) -> Result<Process> {
        let process = parse_process(object(Some(doc), "process")?)?;
        process.validate()?;
        Ok(process)
    }

    fn validate(&self) -> Result<()> {
        let fail = |path: String, message: &str| {
            Err(SpecError {
                path,
                message: message.into(),
            })
        };
        if !self.cwd.starts_with('/') {
            return fail("process.cwd".into(), "expected an absolute path");
        }
        for (i, l) in self.rlimits.iter().enumerate() {
            if l.soft > l.hard {
                return fail(
                    format!("process.rlimits[{}]", i),
                    "soft limit is above the hard limit",
                );
            }
        }
        Ok(())
    }
}

// ------------------------------------------------------------ typed readers
//
// Each reader takes the value (None when the key is absent or null) and the
// JSON path to name in errors.

pub(crate) fn expected(path: &str, what: &str) -> SpecError {
    SpecError {
        path: path.to_string(),
        message: format!("expected {}", what),
    }
}

fn present(v: Option<&Json>) -> Option<&Json> {
    v.filter(|v| !v.is_null())
}

pub(crate) fn optional<'a, T>(
    v: Option<&'a Json>,
    path: &str,
    read: fn(Option<&'a Json>, &str) -> Result<T>,
) -> Result<Option<T>> {
    match present(v) {
        None => Ok(None),
        some => read(some, path).map(Some),
    }
}

pub(crate) fn object<'a>(v: Option<&'a Json>, path: &str) -> Result<&'a Json> {
    present(v)
        .filter(|v| v.is_object())
        .ok_or_else(|| expected(path, "an object"))
}

pub(crate) fn string(v: Option<&Json>, path: &str) -> Result<String> {
    present(v)
        .and_then(Json::as_str)
        .map(str::to_string)
        .ok_or_else(|| expected(path, "a string"))
}

fn boolean(v: Option<&Json>, path: &str) -> Result<bool> {
    present(v)
        .and_then(Json::as_bool)
        .ok_or_else(|| expected(path, "true or false"))
}

fn uint32(v: Option<&Json>, path: &str) -> Result<u32> {
    present(v)
        .and_then(Json::as_number)
        .and_then(|n| n.as_u32())
        .ok_or_else(|| expected(path, "an integer from 0 to 4294967295"))
}

/// An rlimit value. JavaScript cannot write 2^64-1 exactly (it prints
/// 18446744073709552000), so anything at or above 2^64 means unlimited.
fn rlimit_value(v: Option<&Json>, path: &str) -> Result<u64> {
    let n = present(v)
        .and_then(Json::as_number)
        .ok_or_else(|| expected(path, "a non-negative integer"))?;
    match n.as_u64() {
        Some(v) => Ok(v),
        None if n.as_f64() >= 18_446_744_073_709_551_615.0 => Ok(u64::MAX),
        None => Err(expected(path, "a non-negative integer")),
    }
}

pub(crate) fn list<'a, T>(
    v: Option<&'a Json>,
    path: &str,
    item: fn(&'a Json, &str) -> Result<T>,
) -> Result<Vec<T>> {
    let items = present(v)
        .and_then(Json::as_array)
        .ok_or_else(|| expected(path, "an array"))?;
    items
        .iter()
        .enumerate()
        .map(|(i, v)| item(v, &format!("{}[{}]", path, i)))
        .collect()
}

pub(crate) fn optional_list<'a, T>(
    v: Option<&'a Json>,
    path: &str,
    item: fn(&'a Json, &str) -> Result<T>,
) -> Result<Vec<T>> {
    match present(v) {
        None => Ok(Vec::new()),
        some => list(some, path, item),
    }
}

pub(crate) fn strings(v: Option<&Json>, path: &str) -> Result<Vec<String>> {
    let items = present(v)
        .and_then(Json::as_array)
        .ok_or_else(|| expected(path, "an array of strings"))?;
    items
        .iter()
        .map(|s| s.as_str().map(str::to_string))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| expected(path, "an array of strings"))
}

pub(crate) fn key(path: &str, k: &str) -> String {
    if path.is_empty() {
        k.to_string()
    } else {
        format!("{}.{}", path, k)
    }
}

// --------------------------------------------------------------- sections

fn parse_process(p: &Json) -> Result<Process> {
    let args = strings(p.get("args"), "process.args")
        .ok()
        .filter(|a| !a.is_empty() && !a[0].is_empty())
        .ok_or_else(|| expected("process.args", "a non-empty array of strings"))?;
    let user = object(p.get("user"), "process.user")?;
    Ok(Process {
        terminal: boolean(p.get("terminal"), "process.terminal")?,
        console_size: optional(p.get("consoleSize"), "process.consoleSize", console_size)?,
        user: User {
            uid: uint32(user.get("uid"), "process.user.uid")?,
            gid: uint32(user.get("gid"), "process.user.gid")?,
            additional_gids: optional_list(
                user.get("additionalGids"),
                "process.user.additionalGids",
                |v, p| uint32(Some(v), p),
            )?,
            umask: optional(user.get("umask"), "process.user.umask", uint32)?.unwrap_or(0o022) & 0o777,
        },
        args,
        env: strings(p.get("env"), "process.env")?,
        cwd: string(p.get("cwd"), "process.cwd")?,
        capabilities: optional(p.get("capabilities"), "process.capabilities", capabilities)?,
        rlimits: optional_list(p.get("rlimits"), "process.rlimits", rlimit)?,
        no_new_privileges: boolean(p.get("noNewPrivileges"), "process.noNewPrivileges")?,
        oom_score_adj: optional(p.get("oomScoreAdj"), "process.oomScoreAdj", oom_score_adj)?,
    })
}

fn oom_score_adj(v: Option<&Json>, path: &str) -> Result<i32> {
    present(v)
        .and_then(Json::as_number)
        .and_then(|n| n.as_i64())
        .filter(|n| (-1000..=1000).contains(n))
        .map(|n| n as i32)
        .ok_or_else(|| expected(path, "an integer from -1000 to 1000"))
}

fn console_size(v: Option<&Json>, path: &str) -> Result<ConsoleSize> {
    let o = object(v, path)?;
    let dim = |k: &str| {
        let p = key(path, k);
        uint32(o.get(k), &p)
            .and_then(|n| u16::try_from(n).map_err(|_| expected(&p, "an integer from 0 to 65535")))
    };
    Ok(ConsoleSize {
        height: dim("height")?,
        width: dim("width")?,
    })
}

fn capabilities(v: Option<&Json>, path: &str) -> Result<CapSets> {
    let o = object(v, path)?;
    let set = |k: &str| -> Result<u64> {
        let p = key(path, k);
        let names = optional(o.get(k), &p, strings)?.unwrap_or_default();
        let mut mask = 0u64;
        for (i, name) in names.iter().enumerate() {
            let cap = caps::from_name(name).ok_or_else(|| SpecError {
                path: format!("{}[{}]", p, i),
                message: format!("unknown capability {:?}", name),
            })?;
            mask |= 1 << cap;
        }
        Ok(mask)
    };
    Ok(CapSets {
        bounding: set("bounding")?,
        effective: set("effective")?,
        permitted: set("permitted")?,
        inheritable: set("inheritable")?,
        ambient: set("ambient")?,
    })
}

fn rlimit(v: &Json, path: &str) -> Result<Rlimit> {
    let o = object(Some(v), path)?;
    let ty = string(o.get("type"), &key(path, "type"))?;
    let resource = rlimits::from_name(&ty).ok_or_else(|| SpecError {
        path: key(path, "type"),
        message: format!("unknown rlimit {:?}", ty),
    })?;
    Ok(Rlimit {
        resource,
        soft: rlimit_value(o.get("soft"), &key(path, "soft"))?,
        hard: rlimit_value(o.get("hard"), &key(path, "hard"))?,
    })
}

fn parse_root(r: &Json) -> Result<Root> {
    Ok(Root {
        path: PathBuf::from(string(r.get("path"), "root.path")?),
        readonly: boolean(r.get("readonly"), "root.readonly")?,
        overlay: optional(r.get("overlay"), "root.overlay", overlay)?,
    })
}

fn overlay(v: Option<&Json>, path: &str) -> Result<Overlay> {
    let o = object(v, path)?;
    let lower = strings(o.get("lower"), "root.overlay.lower")
        .ok()
        .filter(|l| !l.is_empty())
        .ok_or_else(|| expected("root.overlay.lower", "a non-empty array of strings"))?;
    // Any path: rootfs::escape writes ',' and ':' as overlayfs reads them.
    let dir = |k: &str| -> Result<PathBuf> { Ok(PathBuf::from(string(o.get(k), &key(path, k))?)) };
    Ok(Overlay {
        lower: lower.into_iter().map(PathBuf::from).collect(),
        upper: dir("upper")?,
        work: dir("work")?,
        volatile: optional(o.get("volatile"), "root.overlay.volatile", boolean)?.unwrap_or(false),
    })
}

fn parse_mount(v: &Json, path: &str) -> Result<Mount> {
    let o = object(Some(v), path)?;
    Ok(Mount {
        destination: string(o.get("destination"), &key(path, "destination"))?,
        kind: string(o.get("type"), &key(path, "type"))?,
        source: string(o.get("source"), &key(path, "source"))?,
        // OCI makes options optional; absent means none.
        options: optional(o.get("options"), &key(path, "options"), strings)?.unwrap_or_default(),
    })
}

fn parse_linux(l: &Json) -> Result<Linux> {
    Ok(Linux {
        namespaces: list(l.get("namespaces"), "linux.namespaces", namespace)?,
        uid_mappings: list(l.get("uidMappings"), "linux.uidMappings", id_mapping)?,
        gid_mappings: list(l.get("gidMappings"), "linux.gidMappings", id_mapping)?,
        masked_paths: strings(l.get("maskedPaths"), "linux.maskedPaths")?,
        readonly_paths: strings(l.get("readonlyPaths"), "linux.readonlyPaths")?,
        seccomp: match present(l.get("seccomp")) {
            None => None,
            some => Some(seccomp::parse(some, "linux.seccomp")?),
        },
        userns_auto: match present(l.get("usernsAuto")) {
            None => None,
            some => Some(userns_auto::parse(some, "linux.usernsAuto")?),
        },
        resources: optional(l.get("resources"), "linux.resources", resources)?.unwrap_or_default(),
        cgroups_path: optional(l.get("cgroupsPath"), "linux.cgroupsPath", cgroups_path)?,
        cgroups_mode: optional(l.get("cgroupsMode"), "linux.cgroupsMode", cgroups_mode)?
            .unwrap_or(cgroups::Mode::Enabled),
        sysctl: match present(l.get("sysctl")) {
            None => Vec::new(),
            Some(v) => crate::sysctl::parse(v, "linux.sysctl")?,
        },
    })
}

// ------------------------------------------------------------ cgroups
//
// OCI `linux.resources` (the part cgroups/ applies), `linux.cgroupsPath`, and
// tsbox's `linux.cgroupsMode`. src/spec/validate.ts checks the same ranges.

fn int64(v: Option<&Json>, path: &str) -> Result<i64> {
    present(v)
        .and_then(Json::as_number)
        .and_then(|n| n.as_i64())
        .ok_or_else(|| expected(path, "an integer"))
}

fn uint64(v: Option<&Json>, path: &str) -> Result<u64> {
    present(v)
        .and_then(Json::as_number)
        .and_then(|n| n.as_u64())
        .ok_or_else(|| expected(path, "a non-negative integer"))
}

/// A `linux.resources` object alone (the vm agent's `update` op gets one).
pub fn parse_resources(v: &Json) -> Result<Resources> {
    resources(Some(v), "linux.resources")
}

fn resources(v: Option<&Json>, path: &str) -> Result<Resources> {
    let r = object(v, path)?;
    let mut out = Resources::default();
    let section = |k: &str| optional(r.get(k), &key(path, k), object);
    if let Some(m) = section("memory")? {
        let p = key(path, "memory");
        out.memory.limit = optional(m.get("limit"), &key(&p, "limit"), int64)?;
        out.memory.reservation = optional(m.get("reservation"), &key(&p, "reservation"), int64)?;
        out.memory.swap = optional(m.get("swap"), &key(&p, "swap"), int64)?;
    }
    if let Some(c) = section("cpu")? {
        let p = key(path, "cpu");
        out.cpu.shares = optional(c.get("shares"), &key(&p, "shares"), uint64)?;
        out.cpu.quota = optional(c.get("quota"), &key(&p, "quota"), int64)?;
        out.cpu.period = optional(c.get("period"), &key(&p, "period"), uint64)?;
        out.cpu.cpus = optional(c.get("cpus"), &key(&p, "cpus"), cpu_list)?;
        out.cpu.mems = optional(c.get("mems"), &key(&p, "mems"), cpu_list)?;
    }
    if let Some(pids) = section("pids")? {
        out.pids.limit = optional(pids.get("limit"), &key(path, "pids.limit"), int64)?;
    }
    if let Some(b) = section("blockIO")? {
        let p = key(path, "blockIO.weight");
        out.block_io.weight = optional(b.get("weight"), &p, uint32)?
            .map(|w| u16::try_from(w).map_err(|_| expected(&p, "a weight from 10 to 1000")))
            .transpose()?;
    }
    Ok(out)
}

/// cpuset list syntax: "0-2,4".
fn cpu_list(v: Option<&Json>, path: &str) -> Result<String> {
    let s = string(v, path)?;
    let ok = !s.is_empty()
        && s.split(',').all(|part| {
            let mut ends = part.splitn(2, '-');
            let num = |x: Option<&str>| x.map_or(false, |x| !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit()));
            let (a, b) = (ends.next(), ends.next());
            num(a) && (b.is_none() || num(b))
        });
    if ok {
        Ok(s)
    } else {
        Err(expected(path, "a list like 0-2,4"))
    }
}

fn cgroups_path(v: Option<&Json>, path: &str) -> Result<String> {
    let s = string(v, path)?;
    if s.is_empty() || s.split('/').any(|c| c == "..") {
        return Err(expected(path, "a cgroup path without '..'"));
    }
    Ok(s)
}

fn cgroups_mode(v: Option<&Json>, path: &str) -> Result<cgroups::Mode> {
    let s = string(v, path)?;
    cgroups::Mode::from_spec(&s).ok_or_else(|| expected(path, "enabled, required or disabled"))
}

fn namespace(v: &Json, path: &str) -> Result<Namespace> {
    let o = object(Some(v), path)?;
    let p = key(path, "type");
    let name = string(o.get("type"), &p)?;
    let kind = NamespaceKind::from_spec(&name).ok_or_else(|| SpecError {
        path: p,
        message: format!(
            "unknown namespace type {:?} (expected user, pid, mount, uts, ipc, network or cgroup)",
            name
        ),
    })?;
    let container = optional(o.get("container"), &key(path, "container"), string)?;
    if let Some(id) = &container {
        if !crate::peer::valid_id(id) {
            return Err(expected(&key(path, "container"), "a container id (64 hex digits)"));
        }
    }
    Ok(Namespace {
        kind,
        path: optional(o.get("path"), &key(path, "path"), string)?.map(PathBuf::from),
        container,
    })
}

fn id_mapping(v: &Json, path: &str) -> Result<IdMapping> {
    let o = object(Some(v), path)?;
    let m = IdMapping {
        container_id: uint32(o.get("containerID"), &key(path, "containerID"))?,
        host_id: uint32(o.get("hostID"), &key(path, "hostID"))?,
        size: uint32(o.get("size"), &key(path, "size"))?,
    };
    if m.size == 0 {
        return Err(expected(&key(path, "size"), "a size of at least 1"));
    }
    Ok(m)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A complete rootless-style spec used across the crate's tests.
    pub fn sample_json() -> String {
        r#"{
          "ociVersion": "1.0.2",
          "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0, "additionalGids": [10]},
            "args": ["sh", "-c", "echo hi"],
            "env": ["PATH=/usr/bin:/bin", "HOME=/root"],
            "cwd": "/work/dir",
            "capabilities": {
              "bounding": ["CAP_CHOWN", "CAP_NET_BIND_SERVICE"],
              "effective": ["CAP_CHOWN"],
              "permitted": ["CAP_CHOWN"],
              "inheritable": [],
              "ambient": []
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 4096}],
            "noNewPrivileges": true,
            "futureField": {"ignored": true}
          },
          "root": {"path": "rootfs", "readonly": false,
                   "overlay": {"lower": ["/layers/b", "/layers/a"], "upper": "up", "work": "work"}},
          "hostname": "box",
          "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc", "options": []},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/data", "type": "bind", "source": "vol", "options": ["rbind", "ro"]}
          ],
          "linux": {
            "namespaces": [{"type": "user"}, {"type": "pid"}, {"type": "mount"}, {"type": "uts"},
                           {"type": "ipc"}, {"type": "network"}, {"type": "cgroup"}],
            "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
            "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
            "maskedPaths": ["/proc/kcore"],
            "readonlyPaths": ["/proc/sys"],
            "seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
                        "syscalls": [{"names": ["read", "write", "execve", "exit_group"], "action": "SCMP_ACT_ALLOW"}]},
            "resources": {"memory": {"limit": 1}}
          }
        }"#
        .to_string()
    }

    #[test]
    fn host_uid_through_the_specs_own_namespace() {
        let spec = Spec::parse(&sample_json()).unwrap();
        assert_eq!(spec.host_uid(0), Some(1000));
        assert_eq!(spec.host_uid(1), None, "not mapped");
        let mut shared = spec.clone();
        shared.linux.namespaces.retain(|ns| ns.kind != NamespaceKind::User);
        assert_eq!(shared.host_uid(1000), Some(1000), "no user namespace: the host's ids");
        let mut joined = spec.clone();
        joined.linux.namespaces.iter_mut().filter(|ns| ns.kind == NamespaceKind::User).for_each(|ns| ns.path = Some("/proc/1/ns/user".into()));
        assert_eq!(joined.host_uid(0), None, "a namespace made elsewhere");
    }

    fn with(edit: impl FnOnce(&mut Json)) -> std::result::Result<Spec, String> {
        let mut doc = json::parse(&sample_json()).unwrap();
        edit(&mut doc);
        Spec::parse(&doc.to_string()).map_err(|e| e.to_string())
    }

    fn member<'a>(doc: &'a mut Json, path: &[&str]) -> &'a mut Json {
        let mut cur = doc;
        for k in path {
            cur = match cur {
                Json::Object(m) => &mut m.iter_mut().rev().find(|(key, _)| key == k).unwrap().1,
                _ => panic!("not an object"),
            };
        }
        cur
    }

    fn remove(doc: &mut Json, path: &[&str]) {
        let (last, parent) = path.split_last().unwrap();
        if let Json::Object(m) = member(doc, parent) {
            m.retain(|(k, _)| k != last);
        }
    }

    #[test]
    fn from_document_is_parse() {
        // The vm agent builds specs from its request's parsed JSON: same result, same checks.
        let doc = json::parse(&sample_json()).unwrap();
        assert_eq!(Spec::from_document(&doc).unwrap(), Spec::parse(&sample_json()).unwrap());
        let bad = json::parse(r#"{"ociVersion":"1.0.2"}"#).unwrap();
        assert!(Spec::from_document(&bad).is_err());
    }

    #[test]
    fn parses_sample() {
        let mut spec = Spec::parse(&sample_json()).unwrap();
        spec.resolve_relative_to(Path::new("/bundle"));
        assert_eq!(spec.process.args, ["sh", "-c", "echo hi"]);
        assert_eq!(spec.process.user.additional_gids, [10]);
        let caps = spec.process.capabilities.unwrap();
        assert_eq!(caps.bounding, 1 | 1 << 10);
        assert_eq!(caps.effective, 1);
        assert_eq!(
            spec.process.rlimits,
            [Rlimit {
                resource: 7,
                soft: 1024,
                hard: 4096
            }]
        );
        assert_eq!(spec.root.path, Path::new("/bundle/rootfs"));
        let ov = spec.root.overlay.as_ref().unwrap();
        assert_eq!(ov.lower[0], Path::new("/layers/b"));
        assert_eq!(ov.upper, Path::new("/bundle/up"));
        assert_eq!(spec.mounts[2].source, "/bundle/vol");
        assert_eq!(spec.mounts[0].source, "proc");
        assert_eq!(spec.linux.namespaces.len(), 7);
        assert_eq!(
            spec.linux.uid_mappings[0],
            IdMapping {
                container_id: 0,
                host_id: 1000,
                size: 1
            }
        );
        assert!(spec.creates_namespace(NamespaceKind::Network));
    }

    #[test]
    fn errors_name_the_path() {
        type Edit = Box<dyn FnOnce(&mut Json)>;
        let cases: Vec<(Edit, &str)> = vec![
            (
                Box::new(|d| remove(d, &["process", "args"])),
                "process.args: expected a non-empty array of strings",
            ),
            (
                Box::new(|d| *member(d, &["process", "args"]) = Json::Array(vec![])),
                "process.args: expected a non-empty array of strings",
            ),
            (
                Box::new(|d| *member(d, &["process", "args"]) = Json::from(vec![1u32])),
                "process.args: expected a non-empty array of strings",
            ),
            (
                Box::new(|d| remove(d, &["process"])),
                "process: expected an object",
            ),
            (
                Box::new(|d| remove(d, &["root", "path"])),
                "root.path: expected a string",
            ),
            (
                Box::new(|d| *member(d, &["process", "user", "uid"]) = Json::from(-1)),
                "process.user.uid: expected an integer from 0 to 4294967295",
            ),
            (
                Box::new(|d| *member(d, &["process", "terminal"]) = Json::from("yes")),
                "process.terminal: expected true or false",
            ),
            (
                Box::new(|d| *member(d, &["process", "cwd"]) = Json::from("rel")),
                "process.cwd: expected an absolute path",
            ),
            (
                Box::new(|d| {
                    *member(d, &["process", "capabilities", "bounding"]) =
                        Json::from(vec!["CAP_NOPE"])
                }),
                "process.capabilities.bounding[0]: unknown capability \"CAP_NOPE\"",
            ),
            (
                Box::new(|d| *member(d, &["linux", "uidMappings"]) = Json::Array(vec![])),
                "linux.uidMappings: a new user namespace needs at least one mapping",
            ),
            (
                Box::new(|d| *member(d, &["linux", "namespaces"]) = Json::Array(vec![])),
                "linux.namespaces: a mount namespace is required",
            ),
            (
                Box::new(|d| {
                    *member(d, &["linux", "namespaces"]) =
                        json::parse(r#"[{"type":"mount"}]"#).unwrap()
                }),
                "hostname: setting a hostname requires a uts namespace",
            ),
            (
                Box::new(|d| {
                    *member(d, &["linux", "namespaces"]) =
                        json::parse(r#"[{"type":"mount"},{"type":"mount"}]"#).unwrap()
                }),
                "linux.namespaces[1]: duplicate mount namespace",
            ),
            (
                Box::new(|d| {
                    *member(d, &["linux", "namespaces"]) =
                        Json::Array(vec![Json::object(vec![("type", Json::from("time"))])])
                }),
                "linux.namespaces[0].type: unknown namespace type \"time\"",
            ),
            (
                Box::new(|d| remove(d, &["mounts"])),
                "mounts: expected an array",
            ),
            (
                Box::new(|d| remove(d, &["linux", "maskedPaths"])),
                "linux.maskedPaths: expected an array of strings",
            ),
            (
                Box::new(|d| *member(d, &["root", "overlay", "lower"]) = Json::Array(vec![])),
                "root.overlay.lower: expected a non-empty array of strings",
            ),
        ];
        for (edit, want) in cases {
            let got = with(edit).unwrap_err();
            assert!(got.starts_with(want), "got {:?}, want {:?}", got, want);
        }
        assert!(Spec::parse("{")
            .unwrap_err()
            .to_string()
            .starts_with("invalid JSON at line 1"));
    }

    #[test]
    fn optional_fields() {
        let spec = with(|d| {
            remove(d, &["process", "capabilities"]);
            remove(d, &["process", "rlimits"]);
            remove(d, &["hostname"]);
            remove(d, &["root", "overlay"]);
            *member(d, &["process", "user"]) =
                Json::object(vec![("uid", Json::from(5)), ("gid", Json::from(6))]);
        })
        .unwrap();
        assert_eq!(spec.process.capabilities, None);
        assert!(
            spec.process.rlimits.is_empty()
                && spec.hostname.is_none()
                && spec.root.overlay.is_none()
        );
        assert!(spec.process.user.additional_gids.is_empty());
    }

    #[test]
    fn a_process_on_its_own() {
        let doc = json::parse(&sample_json()).unwrap();
        let text = doc.get("process").unwrap().to_string();
        let p = Process::parse(&text).unwrap();
        assert_eq!(p, Spec::parse(&sample_json()).unwrap().process);
        let bad = text.replace("\"/work/dir\"", "\"work\"");
        assert_eq!(
            Process::parse(&bad).unwrap_err().to_string(),
            "process.cwd: expected an absolute path"
        );
        assert_eq!(
            Process::parse("[]").unwrap_err().to_string(),
            "process: expected an object"
        );
    }

    #[test]
    fn resources_and_cgroups() {
        let spec = with(|d| {
            *member(d, &["linux", "resources"]) = json::parse(
                r#"{"memory":{"limit":33554432,"swap":-1,"reservation":1048576},
                    "cpu":{"shares":512,"quota":20000,"period":100000,"cpus":"0-1,3"},
                    "pids":{"limit":10},"blockIO":{"weight":300},"devices":[]}"#,
            )
            .unwrap();
            if let Json::Object(m) = member(d, &["linux"]) {
                m.push(("cgroupsPath".into(), Json::from("tsbox/abc")));
                m.push(("cgroupsMode".into(), Json::from("required")));
            }
            if let Json::Object(m) = member(d, &["process"]) {
                m.push(("oomScoreAdj".into(), Json::from(-500)));
            }
        })
        .unwrap();
        let r = &spec.linux.resources;
        assert_eq!((r.memory.limit, r.memory.swap, r.memory.reservation), (Some(33554432), Some(-1), Some(1048576)));
        assert_eq!((r.cpu.shares, r.cpu.quota, r.cpu.period), (Some(512), Some(20000), Some(100000)));
        assert_eq!(r.cpu.cpus.as_deref(), Some("0-1,3"));
        assert_eq!((r.pids.limit, r.block_io.weight), (Some(10), Some(300)));
        assert_eq!(spec.linux.cgroups_path.as_deref(), Some("tsbox/abc"));
        assert_eq!(spec.linux.cgroups_mode, cgroups::Mode::Required);
        assert_eq!(spec.process.oom_score_adj, Some(-500));

        // Absent: no limits, mode enabled, no path.
        let spec = with(|d| remove(d, &["linux", "resources"])).unwrap();
        assert!(spec.linux.resources.requested().is_empty());
        assert_eq!((spec.linux.cgroups_mode, spec.linux.cgroups_path), (cgroups::Mode::Enabled, None));

        let bad = |edit: &dyn Fn(&mut Json)| with(|d| edit(d)).unwrap_err();
        let res = |text: &str| {
            let text = text.to_string();
            move |d: &mut Json| *member(d, &["linux", "resources"]) = json::parse(&text).unwrap()
        };
        assert_eq!(bad(&res(r#"{"memory":{"limit":"32m"}}"#)), "linux.resources.memory.limit: expected an integer");
        assert_eq!(bad(&res(r#"{"cpu":{"cpus":"0-"}}"#)), "linux.resources.cpu.cpus: expected a list like 0-2,4");
        assert_eq!(bad(&res(r#"{"blockIO":{"weight":70000}}"#)), "linux.resources.blockIO.weight: expected a weight from 10 to 1000");
        assert_eq!(bad(&res(r#"{"pids":[]}"#)), "linux.resources.pids: expected an object");
        let mode = |m: &'static str| {
            move |d: &mut Json| {
                if let Json::Object(o) = member(d, &["linux"]) {
                    o.push(("cgroupsMode".into(), Json::from(m)));
                }
            }
        };
        assert_eq!(bad(&mode("maybe")), "linux.cgroupsMode: expected enabled, required or disabled");
        assert_eq!(bad(&mode("disabled")), "linux.resources: limits need a cgroup, but linux.cgroupsMode is disabled");
        let path = |d: &mut Json| {
            if let Json::Object(o) = member(d, &["linux"]) {
                o.push(("cgroupsPath".into(), Json::from("tsbox/../../etc")));
            }
        };
        assert_eq!(bad(&path), "linux.cgroupsPath: expected a cgroup path without '..'");
        let adj = |d: &mut Json| {
            if let Json::Object(o) = member(d, &["process"]) {
                o.push(("oomScoreAdj".into(), Json::from(1001)));
            }
        };
        assert_eq!(bad(&adj), "process.oomScoreAdj: expected an integer from -1000 to 1000");
    }

    #[test]
    fn unlimited_rlimit_from_javascript() {
        let spec = with(|d| {
            *member(d, &["process", "rlimits"]) = json::parse(
                r#"[{"type":"RLIMIT_CORE","soft":18446744073709552000,"hard":18446744073709551615}]"#,
            )
            .unwrap()
        })
        .unwrap();
        assert_eq!(spec.process.rlimits[0].soft, u64::MAX);
        assert_eq!(spec.process.rlimits[0].hard, u64::MAX);
    }
}
