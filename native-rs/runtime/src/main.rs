//! tsbox-runtime: the single-threaded helper the native backend spawns (and
//! the vm guest agent runs). See docs/architecture.md "tsbox-runtime protocol".
//!
//!   tsbox-runtime run --bundle DIR [--status-fd N]
//!   tsbox-runtime exec --pid PID --process FILE [--status-fd N] [--detach]
//!   tsbox-runtime monitor --bundle DIR [--status-fd N] [--lock-fd N] [--restart POLICY]
//!                 [--log-max-size BYTES] [--log-max-files N] [--open-stdin] [--attach-first] [--remove]
//!   tsbox-runtime probe
//!   tsbox-runtime --version
//!
//! Usage errors: one line on stderr, exit 125.

mod detach;
mod exec;
mod flags;
mod helper;
mod monitor;
mod run;
mod signals;
mod state_file;
mod timefmt;

use container::probe::Probe;
use flags::Flags;
use std::ffi::OsString;
use std::path::PathBuf;

const USAGE: &str = "usage: tsbox-runtime run --bundle DIR [--status-fd N] | tsbox-runtime exec --pid PID --process FILE [--status-fd N] [--detach] | tsbox-runtime monitor --bundle DIR [--status-fd N] [--lock-fd N] [--restart POLICY] [--log-max-size BYTES] [--log-max-files N] [--open-stdin] [--attach-first] [--remove] | tsbox-runtime probe | tsbox-runtime --version";

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
        (Some("monitor"), _) => match parse_monitor(&args[1..]) {
            Ok(opts) => monitor::monitor(opts),
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
    let mut flags = Flags::parse_with_switches(args, &["--pid", "--process", "--status-fd"], &["--detach"])?;
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
        detach: flags.switch("--detach"),
    })
}

fn parse_monitor(args: &[OsString]) -> Result<monitor::Options, String> {
    let mut flags = Flags::parse_with_switches(
        args,
        &["--bundle", "--status-fd", "--lock-fd", "--restart", "--log-max-size", "--log-max-files"],
        &["--open-stdin", "--attach-first", "--remove"],
    )?;
    let restart = match flags.take("--restart") {
        Some(p) => monitor::restart::Policy::parse(&p.to_string_lossy())?,
        None => monitor::restart::Policy::No,
    };
    Ok(monitor::Options {
        bundle: PathBuf::from(flags.required("--bundle", "monitor")?),
        status_fd: flags.status_fd()?,
        lock_fd: flags.fd("--lock-fd")?,
        restart,
        log_max_size: flags.number("--log-max-size")?.unwrap_or(10 * 1024 * 1024),
        log_max_files: flags.number("--log-max-files")?.unwrap_or(3) as u32,
        open_stdin: flags.switch("--open-stdin"),
        attach_first: flags.switch("--attach-first"),
        remove: flags.switch("--remove"),
    })
}
