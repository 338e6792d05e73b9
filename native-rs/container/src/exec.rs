//! The final execve with a PATH search (execvp semantics, with the PATH of
//! the container's env rather than ours), and the user-facing errors.

use crate::error::{Error, ErrorKind};
use crate::spec::Process;
use crate::sys::errno::*;
use crate::sys::{ffi, Errno};
use std::ffi::CString;
use std::os::raw::c_char;
use std::ptr;

/// Used when the container's env has no PATH (as docker does).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn cstrings(items: &[String], what: &str) -> Result<Vec<CString>, Error> {
    items
        .iter()
        .map(|s| CString::new(s.as_bytes()))
        .collect::<Result<_, _>>()
        .map_err(|_| Error::new(ErrorKind::Spec, format!("{} contains a NUL byte", what)))
}

fn null_terminated(items: &[CString]) -> Vec<*const c_char> {
    items
        .iter()
        .map(|c| c.as_ptr())
        .chain(Some(ptr::null()))
        .collect()
}

/// The error for a failed execve of `program`.
pub fn exec_error(program: &str, errno: Errno) -> Error {
    let (kind, message) = match errno {
        ENOENT | ENOTDIR if program.contains('/') => (
            ErrorKind::NotFound,
            format!("no such file or directory: {}", program),
        ),
        ENOENT | ENOTDIR => (
            ErrorKind::NotFound,
            format!("executable file not found in $PATH: {}", program),
        ),
        EACCES | EPERM | EISDIR => (
            ErrorKind::Permission,
            format!("permission denied: {}", program),
        ),
        // Not "permission denied": a binary of another architecture (an image of the wrong platform) or a script without `#!`.
        ENOEXEC => (
            ErrorKind::Permission,
            format!("exec format error: {} (not a program this machine can run: another architecture's?)", program),
        ),
        e => (
            ErrorKind::Permission,
            format!("cannot execute {}: {}", program, e),
        ),
    };
    Error {
        kind,
        errno: Some(errno.0),
        message,
    }
}

/// The directories to search: an empty entry means the cwd, as in execvp.
pub fn search_path(env: &[String]) -> Vec<String> {
    let path = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    path.split(':')
        .map(|d| {
            if d.is_empty() {
                ".".to_string()
            } else {
                d.to_string()
            }
        })
        .collect()
}

/// Only returns on failure.
pub fn exec(process: &Process) -> Error {
    execvp(&process.args, &process.env)
}

/// execve of `args` with `env`, `args[0]` looked up in the PATH of `env` when
/// it has no slash (execvp's rules). Only returns on failure.
pub fn execvp(args: &[String], env: &[String]) -> Error {
    let run = || -> Result<(), Error> {
        let argv = cstrings(args, "process.args")?;
        let envp = cstrings(env, "process.env")?;
        let (argv_p, envp_p) = (null_terminated(&argv), null_terminated(&envp));
        let execve = |path: &str| -> Errno {
            match CString::new(path) {
                Ok(p) => {
                    unsafe { ffi::execve(p.as_ptr(), argv_p.as_ptr(), envp_p.as_ptr()) };
                    Errno::last()
                }
                Err(_) => EINVAL,
            }
        };
        let program = match args.first() {
            Some(p) => p,
            None => return Err(Error::new(ErrorKind::Spec, "no command to run")),
        };
        if program.contains('/') {
            return Err(exec_error(program, execve(program)));
        }
        // Like execvp: keep looking past missing and forbidden candidates;
        // report "permission denied" only if nothing runnable was found.
        let mut denied = None;
        for dir in search_path(env) {
            match execve(&format!("{}/{}", dir.trim_end_matches('/'), program)) {
                ENOENT | ENOTDIR | ELOOP => {}
                EACCES => denied = Some(EACCES),
                e => return Err(exec_error(program, e)),
            }
        }
        Err(exec_error(program, denied.unwrap_or(ENOENT)))
    };
    match run() {
        Err(e) => e,
        Ok(()) => unreachable!("execve returned without an error"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_codes() {
        let e = exec_error("foo", ENOENT);
        assert_eq!(
            (e.kind, e.message.as_str(), e.exit_code()),
            (
                ErrorKind::NotFound,
                "executable file not found in $PATH: foo",
                127
            )
        );
        let e = exec_error("/abs/foo", ENOENT);
        assert_eq!(e.message, "no such file or directory: /abs/foo");
        let e = exec_error("foo", EACCES);
        assert_eq!(
            (e.message.as_str(), e.exit_code()),
            ("permission denied: foo", 126)
        );
        assert_eq!(exec_error("/etc", EISDIR).exit_code(), 126);
        let e = exec_error("/bin/sh", ENOEXEC);
        assert_eq!((e.kind, e.exit_code()), (ErrorKind::Permission, 126));
        assert!(e.message.starts_with("exec format error: /bin/sh"), "{}", e.message);
    }

    #[test]
    fn path_from_env() {
        assert_eq!(search_path(&["PATH=/a::/b".into()]), ["/a", ".", "/b"]);
        assert_eq!(search_path(&[]).len(), 6);
    }

    #[test]
    fn nul_in_args_is_a_spec_error() {
        assert_eq!(
            cstrings(&["a\0b".to_string()], "process.args")
                .unwrap_err()
                .kind,
            ErrorKind::Spec
        );
    }
}
