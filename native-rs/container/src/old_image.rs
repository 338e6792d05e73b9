//! The process that holds a CLI's old memory across its hand-off's execve
//! (the addon's old_image.rs: it frees Node's memory off the exec's path) is
//! the helper's child after the exec: the helper reaps it at its end. Its pid
//! comes in `TSBOX_OLD_IMAGE_PID=<holder>:<exec'ing pid>`; only the process of
//! that pid reaps it (the exec keeps the pid), never one that inherited the
//! variable (a monitor the helper forks, whose own child may later get the
//! holder's number).

use crate::sys::process;

pub const PID_VARIABLE: &str = "TSBOX_OLD_IMAGE_PID";

/// The variable's text for `holder`, made by the process `own` that is about to exec.
pub fn variable(holder: i32, own: i32) -> String {
    format!("{}={}:{}", PID_VARIABLE, holder, own)
}

fn parse(value: &str) -> Option<(i32, i32)> {
    let (holder, own) = value.split_once(':')?;
    Some((holder.parse().ok().filter(|&p| p > 0)?, own.parse().ok()?))
}

/// Waits for our holder, if the variable names one for this process (it exits once the exec is done, and frees
/// the memory it held first: a few ms at most). Called once the container runs (status.rs `supervise_then`), and at
/// the helper's end for the paths that start none.
pub fn reap() {
    let value = match std::env::var(PID_VARIABLE) {
        Ok(v) => v,
        Err(_) => return,
    };
    if let Some((holder, own)) = parse(&value) {
        if own == process::own_pid() {
            // ECHILD: reaped already (a run's end reaps every child).
            let waited = process::wait(holder).is_ok();
            crate::trace::mark(&format!("old image: holder {} {}", holder, if waited { "reaped" } else { "reaped before" }));
            // Once: a later child of ours may get the holder's number.
            std::env::remove_var(PID_VARIABLE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_it_writes_and_nothing_else() {
        let text = variable(4242, 17);
        assert_eq!(text, "TSBOX_OLD_IMAGE_PID=4242:17");
        assert_eq!(parse(text.split_once('=').unwrap().1), Some((4242, 17)));
        for bad in ["", "4242", "x:17", "0:17", "-3:17", "4242:", "4242:x"] {
            assert_eq!(parse(bad), None, "{:?}", bad);
        }
    }

    #[test]
    fn reaps_nothing_for_another_process() {
        // A holder recorded for another pid is not waited for (it would be a child's number, not ours).
        let mut child = std::process::Command::new("sleep").arg("0.2").spawn().unwrap();
        std::env::set_var(PID_VARIABLE, variable(child.id() as i32, process::own_pid() + 1));
        let started = std::time::Instant::now();
        reap();
        std::env::remove_var(PID_VARIABLE);
        assert!(started.elapsed() < std::time::Duration::from_millis(150), "it waited");
        child.wait().unwrap();
    }
}
