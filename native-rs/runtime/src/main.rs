//! tsbox-runtime: the single-threaded helper the native backend spawns (and
//! the vm guest agent runs). See docs/architecture.md "tsbox-runtime protocol".
//!
//!   tsbox-runtime run --bundle DIR [--status-fd N]
//!   tsbox-runtime exec --pid PID --process FILE [--status-fd N]
//!   tsbox-runtime copy --op stat|read|write --path P [--pid PID | --bundle DIR [--view V]] …
//!   tsbox-runtime probe
//!   tsbox-runtime --version
//!
//! Usage errors: one line on stderr, exit 125.

mod copy;
mod exec;
mod flags;
mod helper;
mod run;
mod signals;

use container::probe::Probe;
use flags::Flags;
use std::ffi::OsString;
use std::path::PathBuf;

const USAGE: &str = "usage: tsbox-runtime run --bundle DIR [--status-fd N] | tsbox-runtime exec --pid PID --process FILE [--status-fd N] | tsbox-runtime copy --op stat|read|write --path P [--pid PID | --bundle DIR [--view merged|layers|upper]] [--follow 1] [--name N] [--content 0] [--markers 1] [--archive 1] [--status-fd N] | tsbox-runtime probe | tsbox-runtime --version";

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
        (Some("copy"), _) => match parse_copy(&args[1..]) {
            Ok(opts) => copy::copy(opts),
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

fn parse_copy(args: &[OsString]) -> Result<copy::Options, String> {
    use container::copy::read::ReadOptions;
    use container::copy::write::WriteOptions;
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
    let op = match op_name.as_str() {
        "stat" => copy::Op::Stat,
        "read" => copy::Op::Read(ReadOptions {
            follow,
            name: flags.take("--name").map(text),
            content,
            markers,
            skip: Vec::new(),
        }),
        "write" => copy::Op::Write(WriteOptions { archive }),
        other => return Err(format!("--op {}: expected stat, read or write", other)),
    };
    let view = match flags.take("--view").map(text).as_deref() {
        None | Some("merged") => View::Merged,
        Some("layers") => View::Layers,
        Some("upper") => View::Upper,
        Some(v) => return Err(format!("--view {}: expected merged, layers or upper", v)),
    };
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
