//! tsbox-runtime: the single-threaded helper the native backend spawns (and
//! the vm guest agent runs). See docs/architecture.md "tsbox-runtime protocol".
//!
//!   tsbox-runtime run --bundle DIR [--status-fd N]
//!   tsbox-runtime exec --pid PID --process FILE [--status-fd N]
//!   tsbox-runtime probe
//!   tsbox-runtime net-attach --bundle DIR --pid PID --network FILE
//!     (`network connect`: one line of JSON on stdout, then keeps the attachment)
//!   tsbox-runtime net-dns --dir DIR --listen IP [--upstream IP]… --ready-fd N
//!     (internal: a user-defined network's name server, started by its first container)
//!   tsbox-runtime netns-holder --dir DIR --helper pasta|slirp4netns --uid-map M --gid-map M --ready-fd N
//!     (internal: started by a rootless container's network keeper)
//!   tsbox-runtime --version
//!
//! Usage errors: one line on stderr, exit 125.

mod exec;
mod flags;
mod helper;
mod run;
mod signals;

use container::probe::Probe;
use flags::Flags;
use std::ffi::OsString;
use std::path::PathBuf;

const USAGE: &str = "usage: tsbox-runtime run --bundle DIR [--status-fd N] | tsbox-runtime exec --pid PID --process FILE [--status-fd N] | tsbox-runtime probe | tsbox-runtime --version";

fn main() {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
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
        (Some("run"), _) => match parse_run(&args[1..]) {
            Ok(opts) => run::run(opts),
            Err(msg) => usage_error(&msg),
        },
        (Some("exec"), _) => match parse_exec(&args[1..]) {
            Ok(opts) => exec::exec(opts),
            Err(msg) => usage_error(&msg),
        },
        (Some("net-attach"), _) => match parse_net_attach(&args[1..]) {
            Ok((bundle, pid, file)) => net_attach(&bundle, pid, &file),
            Err(msg) => usage_error(&msg),
        },
        (Some("net-dns"), _) => match container::net::dns_server::Options::parse(&text_args(&args[1..])) {
            Ok(opts) => container::net::dns_server::main(opts),
            Err(msg) => usage_error(&msg),
        },
        (Some("netns-holder"), _) => match parse_holder(&args[1..]) {
            Ok(opts) => container::net::rootless::holder_main(opts),
            Err(msg) => usage_error(&msg),
        },
        (None, _) => usage_error("missing command"),
        (Some(cmd), _) => usage_error(&format!("unknown command or arguments: {}", cmd)),
    };
    std::process::exit(code);
}

fn usage_error(msg: &str) -> i32 {
    eprintln!("tsbox-runtime: {} ({})", msg, USAGE);
    125
}

fn parse_run(args: &[OsString]) -> Result<run::Options, String> {
    let mut flags = Flags::parse(args, &["--bundle", "--status-fd"])?;
    Ok(run::Options {
        bundle: PathBuf::from(flags.required("--bundle", "run")?),
        status_fd: flags.status_fd()?,
    })
}

fn parse_exec(args: &[OsString]) -> Result<exec::Options, String> {
    let mut flags = Flags::parse(args, &["--pid", "--process", "--status-fd"])?;
    let pid = flags.required("--pid", "exec")?;
    let pid = pid
        .to_str()
        .and_then(|s| s.parse::<i32>().ok())
        .filter(|p| *p > 0)
        .ok_or(format!(
            "--pid {}: expected a process id",
            pid.to_string_lossy()
        ))?;
    Ok(exec::Options {
        pid,
        process: PathBuf::from(flags.required("--process", "exec")?),
        status_fd: flags.status_fd()?,
    })
}

fn parse_holder(args: &[OsString]) -> Result<container::net::rootless::HolderOptions, String> {
    let mut flags = Flags::parse(args, &["--dir", "--helper", "--uid-map", "--gid-map", "--ready-fd"])?;
    let text = |v: OsString| v.to_string_lossy().into_owned();
    let ready = flags.required("--ready-fd", "netns-holder")?;
    Ok(container::net::rootless::HolderOptions {
        dir: PathBuf::from(flags.required("--dir", "netns-holder")?),
        helper: text(flags.required("--helper", "netns-holder")?),
        uid_mappings: text(flags.required("--uid-map", "netns-holder")?),
        gid_mappings: text(flags.required("--gid-map", "netns-holder")?),
        ready_fd: ready.to_str().and_then(|s| s.parse().ok()).ok_or("--ready-fd: expected a file descriptor number")?,
    })
}

fn parse_net_attach(args: &[OsString]) -> Result<(PathBuf, i32, PathBuf), String> {
    let mut flags = Flags::parse(args, &["--bundle", "--pid", "--network"])?;
    let bundle = PathBuf::from(flags.required("--bundle", "net-attach")?);
    let pid = flags.required("--pid", "net-attach")?;
    let pid = pid.to_str().and_then(|s| s.parse::<i32>().ok()).filter(|p| *p > 0).ok_or("--pid: expected a process id")?;
    Ok((bundle, pid, PathBuf::from(flags.required("--network", "net-attach")?)))
}

/// Attaches the running container to more networks: the container's own
/// spec (its id maps) and a `network` section naming them.
fn net_attach(bundle: &std::path::Path, pid: i32, file: &std::path::Path) -> i32 {
    use container::error::Error;
    let loaded = container::Spec::load(bundle).map_err(Error::from).and_then(|spec| {
        let text = std::fs::read_to_string(file).map_err(|e| Error::setup(format!("reading {}: {}", file.display(), e)))?;
        let doc = container::json::parse(&text).map_err(|e| Error::setup(format!("{}: {}", file.display(), e)))?;
        let net = container::net::spec::parse(Some(&doc)).map_err(Error::from)?.ok_or_else(|| Error::setup("no network given"))?;
        Ok((spec, net))
    });
    match loaded {
        Ok((spec, net)) => container::net::keeper::attach_running(&spec, &net, pid, 1),
        Err(e) => {
            println!("{}", container::json::Json::object(vec![("ok", container::json::Json::from(false)), ("error", e.to_json())]));
            125
        }
    }
}


fn text_args(args: &[OsString]) -> Vec<String> {
    args.iter().map(|a| a.to_string_lossy().into_owned()).collect()
}
