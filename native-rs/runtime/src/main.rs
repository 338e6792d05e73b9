//! tsbox-runtime: the single-threaded helper the native backend spawns (and
//! the vm guest agent runs). See docs/architecture.md "tsbox-runtime protocol".
//!
//!   tsbox-runtime run --bundle DIR [--status-fd N]
//!   tsbox-runtime probe
//!   tsbox-runtime --version
//!
//! Usage errors: one line on stderr, exit 125.

mod run;
mod signals;

use container::probe::Probe;
use std::ffi::OsString;
use std::path::PathBuf;

const USAGE: &str = "usage: tsbox-runtime run --bundle DIR [--status-fd N] | tsbox-runtime probe | tsbox-runtime --version";

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
            Ok(opts) => run::run(&opts),
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

/// `--bundle DIR` / `--bundle=DIR`, `--status-fd N` / `--status-fd=N`.
fn parse_run(args: &[OsString]) -> Result<run::Options, String> {
    let mut bundle: Option<PathBuf> = None;
    let mut status_fd: Option<i32> = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let text = arg.to_string_lossy();
        let (name, inline) = match text.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(OsString::from(v))),
            _ => (text.to_string(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or(format!("{} needs a value", name))
        };
        match name.as_str() {
            "--bundle" | "-b" => bundle = Some(PathBuf::from(value()?)),
            "--status-fd" => {
                let v = value()?;
                let fd = v
                    .to_str()
                    .and_then(|s| s.parse::<i32>().ok())
                    .filter(|fd| *fd >= 0);
                let fd = fd.ok_or(format!(
                    "--status-fd {}: expected a file descriptor number",
                    v.to_string_lossy()
                ))?;
                if !container::sys::fd::is_open(fd) {
                    return Err(format!("--status-fd {}: not an open file descriptor", fd));
                }
                status_fd = Some(fd);
            }
            other => return Err(format!("unknown option {}", other)),
        }
    }
    Ok(run::Options {
        bundle: bundle.ok_or("run needs --bundle DIR")?,
        status_fd,
    })
}
