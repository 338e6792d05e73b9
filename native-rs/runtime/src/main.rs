//! tsbox-runtime: the single-threaded helper the native backend spawns (and
//! the vm guest agent runs). See docs/architecture.md "tsbox-runtime protocol".
//!
//!   tsbox-runtime run --bundle DIR [--status-fd N] [--record [--remove] [--front-end] [--log-max-size BYTES] [--log-max-files N]] [--nest-idle S]
//!   tsbox-runtime exec --pid PID --process FILE [--bundle DIR] [--status-fd N] [--detach | --front-end]
//!   tsbox-runtime seccomp --bundle DIR   (the bundle's filter as raw BPF, for bwrap --seccomp)
//!   tsbox-runtime stats|pause|resume|delete --bundle DIR; tsbox-runtime update --bundle DIR [--asked RESOURCES-JSON]
//!   tsbox-runtime monitor --bundle DIR [--status-fd N] [--lock-fd N] [--restart POLICY]
//!                 [--log-max-size BYTES] [--log-max-files N | --no-log] [--open-stdin] [--attach-first] [--remove] [--front-end TEXT] [--nest-idle S]
//!   tsbox-runtime copy --op stat|read|write --path P [--pid PID | --bundle DIR [--view V]] …
//!   tsbox-runtime serve --control-fd N
//!     (the native backend's warm helper: runs over a socket, see serve/)
//!   tsbox-runtime probe
//!   tsbox-runtime net-attach --bundle DIR --pid PID --pid-start TICKS --network FILE
//!     (`network connect`: one line of JSON on stdout, then keeps the attachment)
//!   tsbox-runtime net-detach --bundle DIR --network NAME [--dns {"was":DNS,"now":DNS}]
//!     (`network disconnect`: that network's keeper takes its endpoint down)
//!   tsbox-runtime net-remove --dir DIR --bridge NAME --subnet CIDR [--rootless-dir DIR]
//!   tsbox-runtime net-sweep
//!     (`network prune`: published ports' DNAT rules whose port no socket holds, left by keepers that died unseen)
//!   tsbox-runtime net-dns --dir DIR --listen IP [--upstream IP]… --ready-fd N
//!     (internal: a user-defined network's name server, started by its first container)
//!   tsbox-runtime netns-holder --dir DIR --helper pasta|slirp4netns --uid-map M --gid-map M [--idle-seconds S] [--host-loopback] --ready-fd N
//!     (internal: started by a rootless container's network keeper)
//!   tsbox-runtime nest-holder --dir DIR --uid-map M --gid-map M --idle-seconds S --ready-fd N
//!     (internal: the rootless id maps' user namespace, started by a run with --nest-idle: nest_holder.rs)
//!   tsbox-runtime --version
//!
//! Usage errors: one line on stderr, exit 125.

mod cgroup_ops;
mod copy;
mod detach;
use container::events;
mod exec;
mod exec_oom;
mod flags;
mod helper;
mod monitor;
mod nest_holder;
mod relay;
mod run;
mod serve;
mod signals;
mod state_file;
use container::timefmt;

use container::net::spec::Dns;
use container::probe::Probe;
use container::seccomp;
use container::sealed_exe;
use container::status::StatusEvents;
use container::sys::fd;
use flags::Flags;
use monitor::logfile;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

const USAGE: &str = "usage: tsbox-runtime run --bundle DIR [--status-fd N] [--record [--remove] [--front-end] [--log-max-size BYTES] [--log-max-files N]] [--nest-idle S] | tsbox-runtime exec --pid PID --process FILE [--bundle DIR] [--status-fd N] [--detach | --front-end] | tsbox-runtime seccomp --bundle DIR | tsbox-runtime stats|pause|resume|delete --bundle DIR | tsbox-runtime update --bundle DIR [--asked RESOURCES-JSON] | tsbox-runtime monitor --bundle DIR [--status-fd N] [--lock-fd N] [--restart POLICY] [--log-max-size BYTES] [--log-max-files N | --no-log] [--open-stdin] [--attach-first] [--remove] [--front-end TEXT] [--nest-idle S] | tsbox-runtime copy --op stat|read|write --path P [--pid PID | --bundle DIR [--view merged|layers|upper]] [--follow 1] [--name N] [--content 0] [--markers 1] [--archive 1] [--status-fd N] | tsbox-runtime serve --control-fd N | tsbox-runtime probe | tsbox-runtime userns | tsbox-runtime --version";

fn main() {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    // Profiling aid: the set-up's timing marks (container::trace) on this descriptor, e.g. 2.
    // Only a descriptor the caller opened: a closed number would be whatever we open next (a ready pipe, a
    // namespace's fd), and the marks would go into it.
    if let Some(fd) = std::env::var("TSBOX_TRACE_FD").ok().and_then(|v| v.parse().ok()).filter(|&fd| fd::is_open(fd)) {
        container::trace::set_fd(fd);
        container::trace::mark("main");
    }
    let first = args.first().and_then(|a| a.to_str());
    let code = match (first, args.len()) {
        (Some("--version"), 1) | (Some("-V"), 1) => {
            println!("tsbox-runtime {}", container::VERSION);
            0
        }
        (Some("probe"), 1) => {
            println!("{}", Probe::run().to_json());
            0
        }
        (Some("userns"), 1) => match container::probe::userns_only() {
            Ok(()) => 0,
            Err(e) => {
                println!("{}", e);
                1
            }
        },
        (Some("run"), _) => match parse_run(&args[1..]) {
            Ok(opts) => protected(opts.status_fd, helper::stderr_prefix(opts.front_end)).map_or_else(|c| c, |()| run::run(opts)),
            Err(msg) => usage_error(&msg),
        },
        (Some("serve"), _) => match Flags::parse(&args[1..], &["--control-fd"]).and_then(|mut f| f.fd("--control-fd")).and_then(|fd| fd.ok_or_else(|| "serve: --control-fd is required".to_string())) {
            // Sealed once here: every run forked from us runs from the sealed copy.
            Ok(control) => protected(Some(control), "tsbox-runtime").map_or_else(|c| c, |()| serve::serve(control)),
            Err(msg) => usage_error(&msg),
        },
        (Some("seccomp"), _) => match Flags::parse(&args[1..], &["--bundle"]).and_then(|mut f| f.required("--bundle", "seccomp")) {
            Ok(bundle) => print_filter(&PathBuf::from(bundle)),
            Err(msg) => usage_error(&msg),
        },
        (Some("exec"), _) => match parse_exec(&args[1..]) {
            Ok(opts) => protected(opts.status_fd, helper::stderr_prefix(opts.front_end)).map_or_else(|c| c, |()| exec::exec(opts)),
            Err(msg) => usage_error(&msg),
        },
        (Some(cmd @ ("stats" | "pause" | "resume" | "update" | "delete")), _) => {
            let parsed = Flags::parse(&args[1..], &["--bundle", "--asked"]).and_then(|mut f| {
                let bundle = f.required("--bundle", cmd)?;
                let op = match cmd {
                    "stats" => cgroup_ops::Op::Stats,
                    "pause" => cgroup_ops::Op::Pause,
                    "resume" => cgroup_ops::Op::Resume,
                    "update" => cgroup_ops::Op::Update(asked_resources(f.take("--asked"))?),
                    _ => cgroup_ops::Op::Delete,
                };
                if cmd != "update" && f.take("--asked").is_some() {
                    return Err(format!("{}: --asked is update's", cmd));
                }
                Ok((bundle, op))
            });
            match parsed {
                Ok((bundle, op)) => cgroup_ops::run(op, Path::new(&bundle)),
                Err(msg) => usage_error(&msg),
            }
        }
        (Some("monitor"), _) => match parse_monitor(&args[1..]) {
            Ok(opts) => monitor::monitor(opts),
            Err(msg) => usage_error(&msg),
        },
        (Some("copy"), _) => match parse_copy(&args[1..]) {
            Ok(opts) => copy::copy(opts),
            Err(msg) => usage_error(&msg),
        },
        (Some("net-attach"), _) => match parse_net_attach(&args[1..]) {
            Ok((bundle, pid, start, file)) => net_attach(&bundle, pid, start, &file),
            Err(msg) => usage_error(&msg),
        },
        (Some("net-detach"), _) => match parse_net_detach(&args[1..]) {
            Ok((bundle, network, resolv)) => match container::net::keeper::request_detach(&bundle.join("net"), &network, resolv.as_ref()) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("tsbox-runtime: {}", e);
                    e.exit_code()
                }
            },
            Err(msg) => usage_error(&msg),
        },
        (Some("net-remove"), _) => match parse_net_remove(&args[1..]) {
            Ok((dir, bridge, subnet, rootless, record)) => match net_remove(&dir, &bridge, &subnet, rootless.as_deref(), record.as_deref()) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("tsbox-runtime: {}", e);
                    e.exit_code()
                }
            },
            Err(msg) => usage_error(&msg),
        },
        (Some("net-sweep"), 1) => match container::net::firewall::Iptables::find().map(|ipt| ipt.remove_unheld_dnat()) {
            Some(Err(e)) => {
                eprintln!("tsbox-runtime: {}", e);
                e.exit_code()
            }
            _ => 0,
        },
        (Some("net-dns"), _) => match container::net::dns_server::Options::parse(&text_args(&args[1..])) {
            Ok(opts) => container::net::dns_server::main(opts),
            Err(msg) => usage_error(&msg),
        },
        (Some("nest-holder"), _) => match parse_nest_holder(&args[1..]) {
            Ok(opts) => nest_holder::holder_main(opts),
            Err(msg) => usage_error(&msg),
        },
        (Some("netns-holder"), _) => match parse_holder(&args[1..]) {
            Ok(opts) => container::net::rootless::holder_main(opts),
            Err(msg) => usage_error(&msg),
        },
        (None, _) => usage_error("missing command"),
        (Some(cmd), _) => usage_error(&format!("unknown command or arguments: {}", cmd)),
    };
    container::trace::mark("exit");
    // The CLI's old memory's holder (its hand-off's execve), our child since: gone by now, to be reaped.
    container::old_image::reap();
    std::process::exit(code);
}

/// Before anything of a container exists: re-executes us from a sealed copy
/// (container::sealed_exe) and closes descriptors we did not open ourselves;
/// on failure, the exit code after reporting the error.
fn protected(status_fd: Option<i32>, stderr_prefix: &'static str) -> Result<(), i32> {
    let sealed = sealed_exe::Method::from_env().and_then(sealed_exe::ensure);
    if let Err(e) = sealed {
        return Err(StatusEvents::new(status_fd, stderr_prefix).error(&e));
    }
    // A descriptor inherited from whoever started us (a shell's `exec 5<dir`)
    // has no business near a container; the trace's stays ours (never the container's: cloexec_from 3).
    fd::close_inherited(&[status_fd.unwrap_or(-1), container::trace::fd()]);
    Ok(())
}

/// The bundle's `linux.seccomp` compiled, as the kernel takes it (struct
/// sock_filter array, native byte order) on stdout: to look at (`xxd`), or to
/// give another sandbox the same filter (`bwrap --seccomp FD`).
fn print_filter(bundle: &std::path::Path) -> i32 {
    use std::io::Write;
    let filter = container::Spec::load(bundle)
        .map_err(container::Error::from)
        .and_then(|spec| match &spec.linux.seccomp {
            Some(s) => seccomp::Filter::compile(s),
            None => Err(container::Error::setup("the bundle's spec has no linux.seccomp")),
        });
    match filter {
        Ok(f) => {
            let mut bytes = Vec::with_capacity(f.program.len() * 8);
            for i in &f.program {
                bytes.extend_from_slice(&i.code.to_ne_bytes());
                bytes.push(i.jt);
                bytes.push(i.jf);
                bytes.extend_from_slice(&i.k.to_ne_bytes());
            }
            match std::io::stdout().write_all(&bytes) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("tsbox-runtime: writing the filter: {}", e);
                    125
                }
            }
        }
        Err(e) => {
            eprintln!("tsbox-runtime: {}", e.message);
            e.exit_code()
        }
    }
}

/// `update --asked JSON`: the change's own `linux.resources` (the warning names only its dropped limits).
fn asked_resources(text: Option<OsString>) -> Result<Option<container::cgroups::Resources>, String> {
    let text = match text {
        None => return Ok(None),
        Some(t) => t.to_string_lossy().into_owned(),
    };
    let json = container::json::parse(&text).map_err(|e| format!("update --asked: {}", e))?;
    container::spec::parse_resources(&json).map(Some).map_err(|e| format!("update --asked: {}", e))
}

fn usage_error(msg: &str) -> i32 {
    eprintln!("tsbox-runtime: {} ({})", msg, USAGE);
    125
}

fn parse_run(args: &[OsString]) -> Result<run::Options, String> {
    let mut flags = Flags::parse_with_switches(args, &["--bundle", "--status-fd", "--log-max-size", "--log-max-files", "--nest-idle"], &["--record", "--remove", "--front-end"])?;
    let record = flags.switch("--record");
    let (log_size, log_files) = (flags.number("--log-max-size")?, flags.number("--log-max-files")?);
    let log = match (log_size, log_files) {
        (None, None) => None,
        (size, files) if record => Some((size.unwrap_or(logfile::DEFAULT_MAX_SIZE), files.map_or(logfile::DEFAULT_MAX_FILES, |n| n as u32))),
        _ => return Err("run: --log-max-size and --log-max-files need --record".into()),
    };
    let remove = flags.switch("--remove");
    let front_end = flags.switch("--front-end");
    if remove && !record {
        return Err("run: --remove needs --record".into());
    }
    let status_fd = flags.status_fd()?;
    if front_end && (!record || status_fd.is_some()) {
        return Err("run: --front-end needs --record and no --status-fd".into());
    }
    Ok(run::Options {
        bundle: PathBuf::from(flags.required("--bundle", "run")?),
        status_fd,
        record,
        remove,
        front_end,
        remove_after_exit: front_end,
        nest: None,
        nest_idle: nest_idle(&mut flags)?,
        log,
    })
}

fn parse_exec(args: &[OsString]) -> Result<exec::Options, String> {
    let mut flags = Flags::parse_with_switches(args, &["--pid", "--process", "--bundle", "--status-fd"], &["--detach", "--front-end"])?;
    let pid = flags.required("--pid", "exec")?;
    let pid = pid
        .to_str()
        .and_then(|s| s.parse::<i32>().ok())
        .filter(|p| *p > 0)
        .ok_or(format!(
            "--pid {}: expected a process id",
            pid.to_string_lossy()
        ))?;
    let (status_fd, detach, front_end) = (flags.status_fd()?, flags.switch("--detach"), flags.switch("--front-end"));
    if front_end && (detach || status_fd.is_some()) {
        return Err("exec: --front-end takes neither --detach nor --status-fd".into());
    }
    Ok(exec::Options {
        pid,
        process: PathBuf::from(flags.required("--process", "exec")?),
        bundle: flags.take("--bundle").map(PathBuf::from),
        status_fd,
        detach,
        front_end,
    })
}

fn parse_monitor(args: &[OsString]) -> Result<monitor::Options, String> {
    let mut flags = Flags::parse_with_switches(
        args,
        &["--bundle", "--status-fd", "--lock-fd", "--restart", "--log-max-size", "--log-max-files", "--front-end", "--nest-idle"],
        &["--open-stdin", "--attach-first", "--remove", "--no-log"],
    )?;
    let front_end = flags.take("--front-end").map(|t| t.to_string_lossy().into_owned());
    let status_fd = flags.status_fd()?;
    let attach_first = flags.switch("--attach-first");
    if front_end.is_some() && (status_fd.is_some() || attach_first) {
        return Err("monitor: --front-end takes neither --status-fd nor --attach-first".into());
    }
    let restart = match flags.take("--restart") {
        Some(p) => monitor::restart::Policy::parse(&p.to_string_lossy())?,
        None => monitor::restart::Policy::No,
    };
    let (log_size, log_files) = (flags.number("--log-max-size")?, flags.number("--log-max-files")?);
    // --no-log: `--log-driver none`, no container.log at all (`logs` says the driver keeps none).
    let log = match (flags.switch("--no-log"), log_size, log_files) {
        (true, None, None) => None,
        (true, _, _) => return Err("monitor: --no-log takes neither --log-max-size nor --log-max-files".into()),
        (false, size, files) => Some((size.unwrap_or(logfile::DEFAULT_MAX_SIZE), files.map_or(logfile::DEFAULT_MAX_FILES, |n| n as u32))),
    };
    Ok(monitor::Options {
        bundle: PathBuf::from(flags.required("--bundle", "monitor")?),
        status_fd,
        lock_fd: flags.fd("--lock-fd")?,
        restart,
        log,
        open_stdin: flags.switch("--open-stdin"),
        attach_first,
        remove: flags.switch("--remove"),
        front_end,
        nest_idle: nest_idle(&mut flags)?,
    })
}

/// `--nest-idle S` (run, monitor): seconds a nest holder started for the run stays unused (nest_holder.rs).
fn nest_idle(flags: &mut Flags) -> Result<Option<u32>, String> {
    seconds(flags, "--nest-idle")
}

/// A number of seconds (from 1), as the u32 the daemons keep.
fn seconds(flags: &mut Flags, name: &str) -> Result<Option<u32>, String> {
    Ok(flags.number(name)?.map(|n| n.min(u32::MAX as u64) as u32))
}

/// What both holder daemons (netns-holder, nest-holder) are given.
struct HolderArgs {
    dir: PathBuf,
    uid_mappings: String,
    gid_mappings: String,
    idle_seconds: u32,
    ready_fd: i32,
}

fn holder_args(flags: &mut Flags, command: &str) -> Result<HolderArgs, String> {
    let text = |v: OsString| v.to_string_lossy().into_owned();
    let ready = flags.required("--ready-fd", command)?;
    Ok(HolderArgs {
        dir: PathBuf::from(flags.required("--dir", command)?),
        uid_mappings: text(flags.required("--uid-map", command)?),
        gid_mappings: text(flags.required("--gid-map", command)?),
        idle_seconds: seconds(flags, "--idle-seconds")?.unwrap_or(0),
        ready_fd: ready.to_str().and_then(|s| s.parse().ok()).ok_or("--ready-fd: expected a file descriptor number")?,
    })
}

fn parse_nest_holder(args: &[OsString]) -> Result<nest_holder::HolderOptions, String> {
    let mut flags = Flags::parse(args, &["--dir", "--uid-map", "--gid-map", "--idle-seconds", "--ready-fd"])?;
    let h = holder_args(&mut flags, "nest-holder")?;
    Ok(nest_holder::HolderOptions { dir: h.dir, uid_mappings: h.uid_mappings, gid_mappings: h.gid_mappings, idle_seconds: h.idle_seconds, ready_fd: h.ready_fd })
}

fn parse_copy(args: &[OsString]) -> Result<copy::Options, String> {
    use container::view::View;
    let mut flags = Flags::parse(
        args,
        &["--op", "--path", "--pid", "--bundle", "--view", "--follow", "--name", "--content", "--markers", "--archive", "--status-fd"],
    )?;
    let text = |v: OsString| v.to_string_lossy().into_owned();
    let mut flag = |name: &str| -> Result<bool, String> {
        match flags.take(name).map(text).as_deref() {
            None | Some("0") => Ok(false),
            Some("1") => Ok(true),
            Some(v) => Err(format!("{} {}: expected 0 or 1", name, v)),
        }
    };
    let (follow, markers, archive) = (flag("--follow")?, flag("--markers")?, flag("--archive")?);
    // Default 1: contents come with the stream.
    let content = flags.take("--content").map(text).as_deref() != Some("0");
    let op_name = flags.required("--op", "copy").map(text)?;
    let path = PathBuf::from(flags.required("--path", "copy")?);
    let name = flags.take("--name").map(text);
    let op = match op_name.as_str() {
        // The front end's alone (src/containers/layer-owners.ts): not among the ops a guest is asked for.
        "xattrs" => copy::Op::Xattrs,
        _ => copy::Op::from_request(container::copy::op::Request { op: &op_name, follow, name, content, markers, archive })?,
    };
    let view = View::from_name(flags.take("--view").map(text).as_deref()).map_err(|m| format!("--{}", m))?;
    let target = match (flags.take("--pid"), flags.take("--bundle")) {
        (Some(_), Some(_)) => return Err("copy takes --pid or --bundle, not both".to_string()),
        (Some(pid), None) => copy::Target::Running(
            pid.to_str().and_then(|s| s.parse::<i32>().ok()).filter(|p| *p > 0).ok_or(format!("--pid {}: expected a process id", pid.to_string_lossy()))?,
        ),
        (None, Some(bundle)) => copy::Target::Stopped(PathBuf::from(bundle), view),
        (None, None) => copy::Target::Host,
    };
    Ok(copy::Options {
        target,
        op,
        path,
        status_fd: flags.status_fd()?,
    })
}

fn parse_holder(args: &[OsString]) -> Result<container::net::rootless::HolderOptions, String> {
    let mut flags = Flags::parse_with_switches(args, &["--dir", "--helper", "--uid-map", "--gid-map", "--idle-seconds", "--ready-fd"], &["--host-loopback"])?;
    let helper = flags.required("--helper", "netns-holder")?.to_string_lossy().into_owned();
    let host_loopback = flags.switch("--host-loopback");
    let h = holder_args(&mut flags, "netns-holder")?;
    Ok(container::net::rootless::HolderOptions {
        dir: h.dir,
        helper,
        uid_mappings: h.uid_mappings,
        gid_mappings: h.gid_mappings,
        idle_seconds: h.idle_seconds,
        host_loopback,
        ready_fd: h.ready_fd,
    })
}

fn parse_net_attach(args: &[OsString]) -> Result<(PathBuf, i32, u64, PathBuf), String> {
    let mut flags = Flags::parse(args, &["--bundle", "--pid", "--pid-start", "--network"])?;
    let bundle = PathBuf::from(flags.required("--bundle", "net-attach")?);
    let pid = flags.required("--pid", "net-attach")?;
    let pid = pid.to_str().and_then(|s| s.parse::<i32>().ok()).filter(|p| *p > 0).ok_or("--pid: expected a process id")?;
    // The container's init's start time, which the caller read when it checked the pid: a pid alone may be anyone's.
    let start = flags.required("--pid-start", "net-attach")?;
    let start = start.to_str().and_then(|s| s.parse::<u64>().ok()).ok_or("--pid-start: expected a process start time")?;
    Ok((bundle, pid, start, PathBuf::from(flags.required("--network", "net-attach")?)))
}

/// `network disconnect`: the bundle, the network, and `--dns '{"was":…,"now":…}'` when its servers change.
fn parse_net_detach(args: &[OsString]) -> Result<(PathBuf, String, Option<(Dns, Dns)>), String> {
    let mut flags = Flags::parse(args, &["--bundle", "--network", "--dns"])?;
    let bundle = PathBuf::from(flags.required("--bundle", "net-detach")?);
    let network = flags.required("--network", "net-detach")?.to_string_lossy().into_owned();
    let resolv = match flags.take("--dns") {
        None => None,
        Some(v) => {
            let doc = container::json::parse(&v.to_string_lossy()).map_err(|e| format!("--dns: {}", e))?;
            Some(container::net::keeper::resolv_change(&doc).map_err(|e| format!("--dns: {}", e))?)
        }
    };
    Ok((bundle, network, resolv))
}

/// `network rm`: the dir of the network's state, its bridge and subnet, and
/// rootless the dir of the user's network namespace (the bridge is in there while its holder runs), and
/// the network's record, deleted last under the network's lock (see `bridge::remove`).
type NetRemove = (PathBuf, String, String, Option<PathBuf>, Option<PathBuf>);

fn parse_net_remove(args: &[OsString]) -> Result<NetRemove, String> {
    let mut flags = Flags::parse(args, &["--dir", "--bridge", "--subnet", "--rootless-dir", "--record"])?;
    let dir = PathBuf::from(flags.required("--dir", "net-remove")?);
    let text = |v: OsString| v.into_string().map_err(|_| "net-remove: arguments must be UTF-8".to_string());
    let bridge = text(flags.required("--bridge", "net-remove")?)?;
    let subnet = text(flags.required("--subnet", "net-remove")?)?;
    let rootless = flags.take("--rootless-dir").map(PathBuf::from);
    let record = flags.take("--record").map(PathBuf::from);
    Ok((dir, bridge, subnet, rootless, record))
}

fn net_remove(dir: &std::path::Path, bridge: &str, subnet: &str, rootless: Option<&std::path::Path>, record: Option<&std::path::Path>) -> Result<(), container::error::Error> {
    if let Some(r) = rootless {
        if !container::net::rootless::enter_existing(r)? {
            return container::net::bridge::remove_record_only(dir, bridge, record);
        }
    }
    container::net::bridge::remove(dir, bridge, subnet, record)
}

/// Attaches the running container to more networks: the container's own
/// spec (its id maps) and a `network` section naming them.
fn net_attach(bundle: &std::path::Path, pid: i32, start: u64, file: &std::path::Path) -> i32 {
    use container::error::Error;
    let loaded = container::Spec::load(bundle).map_err(Error::from).and_then(|spec| {
        let text = std::fs::read_to_string(file).map_err(|e| Error::setup(format!("reading {}: {}", file.display(), e)))?;
        let doc = container::json::parse(&text).map_err(|e| Error::setup(format!("{}: {}", file.display(), e)))?;
        let net = container::net::spec::parse(Some(&doc)).map_err(Error::from)?.ok_or_else(|| Error::setup("no network given"))?;
        Ok((spec, net))
    });
    match loaded {
        Ok((spec, net)) => container::net::keeper::attach_running(&spec, &net, pid, Some(start), 1),
        Err(e) => {
            println!("{}", container::json::Json::object(vec![("ok", container::json::Json::from(false)), ("error", e.to_json())]));
            125
        }
    }
}


fn text_args(args: &[OsString]) -> Vec<String> {
    args.iter().map(|a| a.to_string_lossy().into_owned()).collect()
}
