//! Rootless bridges (podman's rootless-netns model). An unprivileged user
//! cannot create a veth in the host's network namespace, so the bridges live
//! in a network namespace owned by a user namespace of the user's, held open
//! by a small daemon (`tsbox-runtime netns-holder`, one per data dir) and
//! connected to the host's network by pasta or slirp4netns (tap0
//! 10.0.2.100/24, gateway 10.0.2.2, DNS 10.0.2.3, both helpers configured
//! alike). The gateway leads to the host's loopback only when the user
//! allows it (`$TSBOX_HOST_LOOPBACK`): by default a container reaches the
//! host's services on its other addresses alone, as with podman and rootless
//! docker, so a server the user bound to 127.0.0.1 stays the user's. A
//! container's keeper joins those namespaces and clones the container from
//! there, so the container's user namespace is a child of the holder's: its
//! owner may then move a veth into it.
//!
//! `<dir>/holder.json` describes the running holder; `<dir>/users/<pid>`
//! registers each keeper using it. Once no registered keeper is alive the
//! holder stays `idle_seconds` more (the next run then skips the holder, the
//! id-map helpers, pasta and the bridge's rules) and then retires itself; with
//! 0 the last keeper to leave stops it. All under `<dir>/lock`.

use super::daemon;
use super::lock::Lock;
use super::spec::Rootless;
use crate::error::{Context, Error};
use crate::idmap;
use crate::json::{self, Json};
use crate::namespace_process::NamespaceProcess;
use crate::spec::{IdMapping, Spec};
use crate::sys::consts::*;
use crate::sys::process;
use crate::sys::types::{PollFd, SigInfoHead};
use crate::sys::{cred, fd, net, signal};
use std::fs::{self, File};
use std::os::raw::{c_int, c_void};
use std::os::unix::io::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

/// The gateway: the host's loopback, for a holder that allows it.
pub const HOST_ADDRESS: &str = "10.0.2.2";
/// The helper's DNS forwarder.
pub const DNS_ADDRESS: &str = "10.0.2.3";
/// The namespace's link to the helper, its way out.
pub const UPLINK: &str = "tap0";

/// What holder.json says.
#[derive(Clone, Debug)]
pub struct Holder {
    pub pid: i32,
    pub start: u64,
    /// The process whose namespaces are the rootless network.
    pub ns_pid: i32,
    pub helper: String,
    pub uid_mappings: Vec<IdMapping>,
    pub gid_mappings: Vec<IdMapping>,
    /// How long it stays once idle (0: the last keeper stops it).
    pub idle_seconds: u32,
    /// Whether 10.0.2.2 leads to the host's loopback.
    pub host_loopback: bool,
}

impl Holder {
    fn read(dir: &Path) -> Option<Holder> {
        let doc = json::parse(&fs::read_to_string(dir.join("holder.json")).ok()?).ok()?;
        let num = |k: &str| doc.get(k).and_then(|v| v.as_number()).and_then(|n| n.as_i64());
        let maps = |k: &str| -> Option<Vec<IdMapping>> {
            doc.get(k)?
                .as_array()?
                .iter()
                .map(|m| {
                    let n = |f: &str| m.get(f).and_then(|v| v.as_number()).and_then(|n| n.as_u32());
                    Some(IdMapping { container_id: n("containerID")?, host_id: n("hostID")?, size: n("size")? })
                })
                .collect()
        };
        Some(Holder {
            pid: num("pid")? as i32,
            start: num("start")? as u64,
            ns_pid: num("nsPid")? as i32,
            helper: doc.get("helper")?.as_str()?.to_string(),
            uid_mappings: maps("uidMappings")?,
            gid_mappings: maps("gidMappings")?,
            idle_seconds: num("idleSeconds").unwrap_or(0) as u32,
            // A holder started before the setting existed had the loopback open.
            host_loopback: doc.get("hostLoopback").map_or(Some(true), |v| v.as_bool())?,
        })
    }

    fn alive(&self) -> bool {
        process::alive(self.pid, self.start)
    }

    /// Whether a container asking for `r` with these id maps can use it.
    fn serves(&self, r: &Rootless, uid_maps: &[IdMapping], gid_maps: &[IdMapping]) -> bool {
        self.helper == r.helper && self.host_loopback == r.host_loopback && idmap::translate(uid_maps, &self.uid_mappings).is_ok() && idmap::translate(gid_maps, &self.gid_mappings).is_ok()
    }
}

/// A keeper's registration with the holder, and the holder's id maps.
pub struct Membership {
    dir: PathBuf,
    holder: Holder,
    me: i32,
}

/// Makes sure the holder runs (starting it, with the spec's id maps), registers
/// us, and moves us into its user and network namespaces.
pub fn enter(r: &Rootless, uid_maps: &[IdMapping], gid_maps: &[IdMapping]) -> Result<Membership, Error> {
    let me = std::process::id() as i32;
    let holder = {
        let _lock = Lock::acquire(&r.dir)?;
        let holder = match Holder::read(&r.dir) {
            // Joined, the container would get the other setting: the host's loopback opened to a container that was
            // not allowed it, or closed to one that was.
            Some(h) if h.alive() && h.host_loopback != r.host_loopback && any_live_user(&r.dir) => {
                return Err(Error::setup(loopback_differs(&h)));
            }
            Some(h) if h.alive() && (h.serves(r, uid_maps, gid_maps) || any_live_user(&r.dir)) => h,
            // An idle one started with another helper or for other ids.
            Some(h) if h.alive() => {
                stop(&r.dir);
                start_holder(r, uid_maps, gid_maps)?
            }
            // It died under its containers (killed, the OOM killer, its session's cgroup torn down): they run on
            // cut off, and a new holder would be a second copy of every network, with no route or names between.
            Some(h) if any_live_user(&r.dir) => return Err(Error::setup(cut_off(&r.dir, &h))),
            _ => start_holder(r, uid_maps, gid_maps)?,
        };
        let users = r.dir.join("users");
        fs::create_dir_all(&users).step(|| format!("creating {}", users.display()))?;
        let start = process::start_time(me).unwrap_or(0);
        fs::write(users.join(me.to_string()), start.to_string()).step(|| format!("registering in {}", users.display()))?;
        holder
    };
    let membership = Membership { dir: r.dir.clone(), holder, me };
    // User namespace first: its capabilities are what let us join the network one.
    for (kind, flag) in [("user", CLONE_NEWUSER), ("net", CLONE_NEWNET)] {
        let path = format!("/proc/{}/ns/{}", membership.holder.ns_pid, kind);
        let step = || format!("joining the rootless network namespace ({})", path);
        let file = match File::open(&path).step(step) {
            Ok(f) => f,
            Err(e) => {
                membership.leave();
                return Err(e);
            }
        };
        if let Err(e) = process::setns(file.as_raw_fd(), flag).step(step) {
            membership.leave();
            return Err(e);
        }
    }
    Ok(membership)
}

/// Steps into the running holder's user and network namespaces without
/// registering (`tsbox-runtime net-remove` of a rootless network: its kept
/// bridge is in there). False when no holder runs: nothing of it is left.
pub fn enter_existing(dir: &Path) -> Result<bool, Error> {
    let holder = {
        let _lock = Lock::acquire(dir)?;
        match Holder::read(dir).filter(Holder::alive) {
            Some(h) => h,
            None => return Ok(false),
        }
    };
    for (kind, flag) in [("user", CLONE_NEWUSER), ("net", CLONE_NEWNET)] {
        let path = format!("/proc/{}/ns/{}", holder.ns_pid, kind);
        let step = || format!("joining the rootless network namespace ({})", path);
        let file = File::open(&path).step(step)?;
        process::setns(file.as_raw_fd(), flag).step(step)?;
    }
    Ok(true)
}

impl Membership {
    /// The container's id maps, whose host ids are translated into the
    /// holder's user namespace (the container's is its child), written
    /// directly: we are root in there.
    pub fn write_id_maps(&self, pid: i32, spec: &Spec) -> Result<(), Error> {
        let uid = translate(&spec.linux.uid_mappings, &self.holder.uid_mappings)?;
        let gid = translate(&spec.linux.gid_mappings, &self.holder.gid_mappings)?;
        idmap::write_both(pid, &uid, &gid, true)
    }

    /// Unregisters; the last one out stops a holder that does not stay idle.
    pub fn leave(self) {
        let _lock = match Lock::acquire(&self.dir) {
            Ok(l) => l,
            Err(_) => return,
        };
        let _ = fs::remove_file(self.dir.join("users").join(self.me.to_string()));
        if self.holder.idle_seconds == 0 && !any_live_user(&self.dir) {
            stop(&self.dir);
        }
    }
}

/// Whether a registered keeper still runs; the registrations of dead ones
/// (SIGKILLed keepers) are removed on the way.
fn any_live_user(dir: &Path) -> bool {
    let users = match fs::read_dir(dir.join("users")) {
        Ok(d) => d,
        Err(_) => return false,
    };
    let mut live = false;
    for e in users.flatten() {
        let pid: i32 = e.file_name().to_str().and_then(|s| s.parse().ok()).unwrap_or(0);
        let start: u64 = fs::read_to_string(e.path()).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0);
        if process::alive(pid, start) {
            live = true;
        } else {
            let _ = fs::remove_file(e.path());
        }
    }
    live
}

/// Why no container may join the rootless network while the keepers still
/// registered with its dead holder run (src/network/processes.ts finds the
/// same for `tsbox info`, which names their containers).
fn cut_off(dir: &Path, h: &Holder) -> String {
    format!(
        "the rootless network's helper ({} and its netns holder, pid {}) died while containers ran in it: they run on without a network, \
         and a new helper would split every network in two; stop them all (tsbox info lists them), then start them \
         again: the first to start makes a new helper ({})",
        h.helper,
        h.pid,
        dir.display()
    )
}

/// Why a container cannot join a namespace whose host loopback setting is
/// not the one it asked for.
fn loopback_differs(h: &Holder) -> String {
    let (now, asked) = if h.host_loopback { ("open to", "without") } else { ("closed to", "with") };
    format!(
        "the rootless network namespace (holder pid {}) has the host's loopback {} its containers, and this one asks to run {} it \
         ($TSBOX_HOST_LOOPBACK): stop the containers of the rootless network (tsbox ps), or run this one with the same setting",
        h.pid, now, asked
    )
}

/// Stops the holder described in `dir` (if any) and waits until it is gone.
pub fn stop(dir: &Path) {
    if let Some(h) = Holder::read(dir).filter(Holder::alive) {
        let _ = process::kill(h.pid, SIGTERM);
        let until = Instant::now() + Duration::from_secs(5);
        while h.alive() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let _ = fs::remove_file(dir.join("holder.json"));
    let _ = fs::remove_dir(dir.join("users"));
}

/// Host ids of `maps` as ids of the holder's namespace.
pub fn translate(maps: &[IdMapping], holder: &[IdMapping]) -> Result<Vec<IdMapping>, Error> {
    idmap::translate(maps, holder).map_err(|m| {
        Error::setup(format!(
            "host ids {}-{} are not mapped in the rootless network namespace (its maps: {}); stop it with `tsbox network prune` and retry",
            m.host_id,
            m.host_id as u64 + m.size as u64 - 1,
            idmap::map_text(holder).trim_end().replace('\n', ", ")
        ))
    })
}

/// Starts `<our binary> netns-holder …` detached and waits until it is ready.
fn start_holder(r: &Rootless, uid_maps: &[IdMapping], gid_maps: &[IdMapping]) -> Result<Holder, Error> {
    let mut args: Vec<String> = vec![
        "netns-holder".into(),
        "--dir".into(),
        r.dir.display().to_string(),
        "--helper".into(),
        r.helper.clone(),
        "--uid-map".into(),
        idmap::maps_arg(uid_maps),
        "--gid-map".into(),
        idmap::maps_arg(gid_maps),
    ];
    if r.idle_seconds > 0 {
        args.extend(["--idle-seconds".to_string(), r.idle_seconds.to_string()]);
    }
    if r.host_loopback {
        args.push("--host-loopback".into());
    }
    let text = daemon::spawn(&args)?;
    if text != "ok" {
        stop(&r.dir);
        let why = if text.is_empty() { "it exited without a word".to_string() } else { text };
        return Err(Error::setup(format!("starting the rootless network ({}): {}", r.helper, why)));
    }
    Holder::read(&r.dir).ok_or_else(|| Error::setup(format!("the rootless network holder wrote no {}", r.dir.join("holder.json").display())))
}

// ------------------------------------------------------------ the holder

pub struct HolderOptions {
    pub dir: PathBuf,
    pub helper: String,
    pub uid_mappings: String,
    pub gid_mappings: String,
    pub idle_seconds: u32,
    pub host_loopback: bool,
    pub ready_fd: c_int,
}

static EVENT_W: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_event(_sig: c_int, _info: *mut SigInfoHead, _ctx: *mut c_void) {
    signal::preserving_errno(|| {
        let w = EVENT_W.load(Ordering::SeqCst);
        if w >= 0 {
            let _ = fd::write(w, b"e");
        }
    });
}

/// `tsbox-runtime netns-holder`: creates the namespaces, connects them,
/// writes holder.json, reports "ok" (or the error) on the ready fd, and
/// stays until SIGTERM, until the helper or the namespace process dies, or
/// until it has had no live keeper for `idle_seconds` (when not 0).
pub fn holder_main(o: HolderOptions) -> i32 {
    let ready = daemon::Ready::new(o.ready_fd);
    let report = |text: &str| ready.report(text);
    let maps = idmap::parse_maps_arg(&o.uid_mappings).and_then(|u| idmap::parse_maps_arg(&o.gid_mappings).map(|g| (u, g)));
    let (uid_maps, gid_maps) = match maps {
        Ok(m) => m,
        Err(m) => {
            report(&m);
            return 1;
        }
    };
    let (event_r, event_w) = match fd::pipe() {
        Ok(p) => p,
        Err(e) => {
            report(&format!("creating a pipe: {}", e));
            return 1;
        }
    };
    EVENT_W.store(event_w, Ordering::SeqCst);
    signal::reset_for_our_code();
    for sig in [SIGINT, SIGQUIT, SIGHUP] {
        let _ = signal::ignore(sig);
    }
    let _ = signal::install(SIGTERM, on_term);
    let _ = signal::install(SIGCHLD, on_event);

    // Its user and network namespaces are the rootless network; lo up in there.
    let ns = match NamespaceProcess::start(CLONE_NEWUSER | CLONE_NEWNET, &uid_maps, &gid_maps, || net::set_link_up("lo").is_ok(), "bringing lo up in the rootless network namespace failed") {
        Ok(n) => n,
        Err(m) => {
            report(&m);
            return 1;
        }
    };
    let helper = match start_helper(&o.helper, ns.pid, &o.dir, o.host_loopback) {
        Ok(h) => h,
        Err(m) => {
            ns.stop();
            report(&m);
            return 1;
        }
    };
    let me = std::process::id() as i32;
    let doc = Json::object(vec![
        ("pid", Json::from(me)),
        ("start", Json::from(process::start_time(me).unwrap_or(0))),
        ("nsPid", Json::from(ns.pid)),
        ("helper", Json::from(o.helper.as_str())),
        ("helperPid", Json::from(helper.id() as i32)),
        ("hostAddress", Json::from(HOST_ADDRESS)),
        ("dns", Json::from(DNS_ADDRESS)),
        ("uidMappings", maps_json(&uid_maps)),
        ("gidMappings", maps_json(&gid_maps)),
        ("idleSeconds", Json::from(o.idle_seconds)),
        ("hostLoopback", Json::from(o.host_loopback)),
    ]);
    if let Err(e) = super::files::write(&o.dir, "holder.json", &doc.to_string()) {
        stop_helper(helper);
        ns.stop();
        report(&e.message);
        return 1;
    }
    ready.ok();
    let mut helper = helper;
    let idle_for = Duration::from_secs(o.idle_seconds as u64);
    let mut idle_since: Option<Instant> = None;
    // The namespace's process or the helper died under us (killed, the OOM killer), not a stop or a retirement.
    let mut lost = false;
    loop {
        // Events only, or a look at the keepers every second while it may retire.
        let mut pfd = [PollFd { fd: event_r, events: POLLIN, revents: 0 }];
        if fd::poll(&mut pfd, if o.idle_seconds == 0 { -1 } else { 1000 }).unwrap_or(0) > 0 {
            let mut byte = [0u8; 16];
            let _ = fd::read(event_r, &mut byte);
        }
        let helper_done = matches!(helper.try_wait(), Ok(Some(_)));
        if helper_done || !ns.alive() || terminated() {
            lost = !terminated();
            break;
        }
        if o.idle_seconds == 0 {
            continue;
        }
        if any_live_user(&o.dir) {
            idle_since = None;
        } else if idle_since.get_or_insert_with(Instant::now).elapsed() >= idle_for && retire(&o.dir, me) {
            break;
        }
    }
    stop_helper(helper);
    ns.stop();
    // Not under the lock: `stop` holds it while it waits for us. While we
    // live and holder.json names us, no other holder can replace it.
    // Lost under running containers, holder.json stays, naming a dead holder:
    // the next run refuses to split every network in two (`cut_off`) and
    // `tsbox info` names the containers, as after our own SIGKILL (before,
    // it went, and the next run silently made a second namespace).
    if !(lost && any_live_user(&o.dir)) {
        forget(&o.dir, me);
    }
    0
}

/// Ends an idle holder's service: under the lock, with still no live keeper,
/// its holder.json goes, so the next keeper starts a new holder rather than
/// joining this one while it stops.
fn retire(dir: &Path, me: i32) -> bool {
    // Its data dir was removed: nobody can join, and nothing is to be made again.
    if !dir.is_dir() {
        return true;
    }
    // Not waiting: whoever holds the lock may be stopping us (`stop`), or
    // joining, which the next look sees.
    let _lock = match Lock::try_acquire(dir) {
        Ok(Some(l)) => l,
        _ => return false,
    };
    if any_live_user(dir) {
        return false;
    }
    forget(dir, me);
    true
}

/// Removes holder.json and the users dir if they are still this holder's
/// (a new holder may already have written its own).
fn forget(dir: &Path, me: i32) {
    if Holder::read(dir).map_or(false, |h| h.pid == me) {
        let _ = fs::remove_file(dir.join("holder.json"));
        let _ = fs::remove_dir(dir.join("users"));
    }
}

/// SIGCHLD and SIGTERM share the event pipe; only SIGTERM sets this.
fn terminated() -> bool {
    TERM.load(Ordering::SeqCst)
}

static TERM: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn on_term(sig: c_int, info: *mut SigInfoHead, ctx: *mut c_void) {
    TERM.store(true, Ordering::SeqCst);
    on_event(sig, info, ctx);
}

fn maps_json(maps: &[IdMapping]) -> Json {
    Json::Array(
        maps.iter()
            .map(|m| Json::object(vec![("containerID", Json::from(m.container_id)), ("hostID", Json::from(m.host_id)), ("size", Json::from(m.size))]))
            .collect(),
    )
}

/// pasta or slirp4netns attached to the namespace process, configured alike:
/// 10.0.2.2 leads to the host's loopback only with `host_loopback`.
fn start_helper(helper: &str, ns_pid: i32, dir: &Path, host_loopback: bool) -> Result<std::process::Child, String> {
    let program = crate::program::find_program(helper).ok_or_else(|| format!("{} not found (Debian/Ubuntu package {})", helper, if helper == "pasta" { "passt" } else { helper }))?;
    let mut cmd = Command::new(&program);
    let (ready_r, ready_w) = fd::pipe().map_err(|e| format!("creating a pipe: {}", e))?;
    match helper {
        "pasta" => {
            cmd.args(["--config-net", "--foreground", "--quiet", "--ipv4-only", "-t", "none", "-u", "none", "-T", "none", "-U", "none"]);
            cmd.args(["-a", "10.0.2.100", "-n", "24", "-g", HOST_ADDRESS, "-I", UPLINK, "--dns-forward", DNS_ADDRESS, "-m", "65520"]);
            if !host_loopback {
                cmd.arg("--no-map-gw");
            }
            // Started as root (root of a user namespace inside a container: the host's root never takes
            // this path), pasta drops to nobody, which may not enter the namespace it is to configure.
            if cred::geteuid() == 0 {
                cmd.args(["--runas", "0:0"]);
            }
            cmd.arg(ns_pid.to_string());
        }
        "slirp4netns" => {
            cmd.args(["--configure", "--mtu=65520", &format!("--ready-fd={}", ready_w)]);
            if !host_loopback {
                cmd.arg("--disable-host-loopback");
            }
            cmd.arg(ns_pid.to_string()).arg(UPLINK);
        }
        other => return Err(format!("unknown rootless network helper {:?} (pasta or slirp4netns)", other)),
    }
    let keep = ready_w;
    unsafe {
        cmd.pre_exec(move || {
            // The helper dies with the holder, and gets the ready pipe.
            let _ = cred::set_pdeathsig(SIGTERM);
            crate::sys::ffi::fcntl(keep, F_SETFD, 0);
            Ok(())
        });
    }
    let log = File::create(dir.join("helper.log")).ok();
    cmd.stdin(Stdio::null()).stdout(Stdio::null());
    match log {
        Some(f) => cmd.stderr(f),
        None => cmd.stderr(Stdio::null()),
    };
    let child = cmd.spawn().map_err(|e| format!("running {}: {}", program.display(), e));
    fd::close(ready_w);
    let mut child = child?;
    let ready = match helper {
        "slirp4netns" => {
            let mut b = [0u8; 1];
            fd::read(ready_r, &mut b) == Ok(1)
        }
        _ => wait_for_default_route(ns_pid, &mut child),
    };
    fd::close(ready_r);
    let _ = fs::remove_file(dir.join("helper.log"));
    if !ready {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!("{} did not configure the network namespace", helper));
    }
    Ok(child)
}

/// pasta has no ready signal in this version: its configuration is done
/// once the namespace has a default route on tap0.
fn wait_for_default_route(ns_pid: i32, child: &mut std::process::Child) -> bool {
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        let routes = fs::read_to_string(format!("/proc/{}/net/route", ns_pid)).unwrap_or_default();
        if routes.lines().any(|l| l.strip_prefix(UPLINK).map_or(false, |rest| rest.starts_with("\t00000000"))) {
            return true;
        }
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    false
}

fn stop_helper(mut child: std::process::Child) {
    let _ = process::kill(child.id() as i32, SIGTERM);
    let until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < until {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(c: u32, h: u32, s: u32) -> IdMapping {
        IdMapping { container_id: c, host_id: h, size: s }
    }

    #[test]
    fn translates_into_the_holder() {
        let holder = [m(0, 1001, 1), m(1, 200000, 65536)];
        let got = translate(&[m(0, 1001, 1), m(1, 200000, 65536)], &holder).unwrap();
        assert_eq!(got, [m(0, 0, 1), m(1, 1, 65536)]);
        let e = translate(&[m(0, 1002, 1)], &holder).unwrap_err();
        assert!(e.message.starts_with("host ids 1002-1002 are not mapped"), "{}", e.message);
        assert_eq!(idmap::parse_maps_arg(&idmap::maps_arg(&holder)).unwrap(), holder);
    }
}
