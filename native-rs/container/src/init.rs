//! tsbox-init, the PID 1 of `tsbox run --init` (docker's tini): it starts the
//! command, forwards every signal it gets to it, reaps every child that the
//! PID namespace hands it (orphans are reparented to PID 1, and a command
//! that is not written to be an init never reaps them), and exits with the
//! command's status (128+n when signal n ended it). Its exit ends the
//! container: the kernel kills what is left of the PID namespace.
//!
//! Signals stay blocked in PID 1 and are taken with sigwaitinfo: no handler
//! runs asynchronously, so the loop is plain code.

use crate::exec;
use crate::sys::consts::*;
use crate::sys::process::{self, ExitStatus, Forked};
use crate::sys::signal;

/// Runs `args` (after an optional `--`) and returns the code to exit with.
pub fn run(args: &[String], env: &[String]) -> i32 {
    let args: &[String] = match args.first() {
        Some(a) if a == "--" => &args[1..],
        _ => args,
    };
    if args.is_empty() {
        eprintln!("tsbox-init: no command to run (usage: tsbox-init -- COMMAND [ARG...])");
        return 125;
    }
    // Blocked before the fork, so not one SIGCHLD or forwarded signal is lost.
    let all = signal::all();
    if let Err(e) = signal::set_mask(SIG_SETMASK, &all) {
        eprintln!("tsbox-init: blocking signals: {}", e);
        return 125;
    }
    let child = match process::clone_fork(0) {
        Ok(Forked::Child) => {
            // The command starts with default dispositions and nothing blocked.
            signal::reset_all();
            let err = exec::execvp(args, env);
            eprintln!("tsbox-init: {}", err.message);
            process::exit_now(err.exit_code())
        }
        Ok(Forked::Parent(pid)) => pid,
        Err(e) => {
            eprintln!("tsbox-init: starting {}: {}", args[0], e);
            return 125;
        }
    };
    supervise(child, &all)
}

fn supervise(child: i32, all: &crate::sys::types::SigSet) -> i32 {
    loop {
        let sig = match signal::wait_for(all) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("tsbox-init: waiting for signals: {}", e);
                return 125;
            }
        };
        if sig != SIGCHLD {
            // The command decides what a signal means; it may be gone already.
            let _ = process::kill(child, sig);
            continue;
        }
        // One SIGCHLD may stand for many children: reap all that have ended.
        while let Ok(Some((pid, status))) = process::reap_any() {
            if pid == child {
                return match status {
                    ExitStatus::Code(c) => c,
                    ExitStatus::Signal(s) => 128 + s,
                };
            }
        }
    }
}
