//! `execve(2)` for the CLI's foreground `run`: once the bundle is written,
//! this process *becomes* `tsbox-runtime run --front-end` (same pid, same
//! stdio, same terminal), so Node's child_process, a fork of the whole Node
//! process, the wait and Node's own exit are not paid (docs/architecture.md,
//! "CLI start-up").
//!
//! JS: `handOff(path: string, args: string, stdinFd: number, keepFd: number): never`,
//! `args` being argv joined with NUL bytes (a NUL cannot occur in an
//! argument); `stdinFd >= 0` becomes fd 0 first (docker's closed stdin:
//! /dev/null); `keepFd >= 0` stays open across execve (the container's lock,
//! handed to the monitor by number).
//! Returns only by throwing, with the errno name as `code`; the process is
//! then as it was (the signal mask restored, fd 0 possibly replaced).

use crate::napi::ffi::{napi_callback_info, napi_env, napi_value};
use crate::napi::{guard, JsError};
use container::sys::consts::{F_GETFL, F_SETFD, F_SETFL, O_NONBLOCK, SIG_SETMASK};
use crate::old_image;
use container::{nest_record, sealed_exe};
use container::sys::ffi;
use container::sys::types::SigSet;
use std::ffi::CString;
use std::os::raw::{c_char, c_int};
use std::ptr;

extern "C" {
    static environ: *const *const c_char;
    fn dup2(old: c_int, new: c_int) -> c_int;
}

pub unsafe extern "C" fn hand_off_js(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(env, |env| {
        let args = env.args(info, 4)?;
        let path = env.string_arg(&args, 0, "path")?;
        let argv = env.string_arg(&args, 1, "args")?;
        let stdin_fd = env.i32_arg(&args, 2, "stdinFd")?;
        let keep_fd = env.i32_arg(&args, 3, "keepFd")?;
        let argv: Vec<&str> = argv.split('\0').collect();
        Err(hand_off(&path, &argv, stdin_fd, keep_fd))
    })
}

/// The execve itself (also the run cache's replay from the bin, replay/from_bin.rs): returns only its failure.
pub fn hand_off(path: &str, argv: &[&str], stdin_fd: c_int, keep_fd: c_int) -> JsError {
    let path = match CString::new(path) {
        Ok(p) => p,
        Err(_) => return JsError::new("EINVAL", "path contains a NUL byte"),
    };
    let argv: Vec<CString> = match argv.iter().map(|a| CString::new(*a)).collect() {
        Ok(a) => a,
        Err(_) => return JsError::new("EINVAL", "an argument contains a NUL byte"),
    };
    let mut argv_p: Vec<*const c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_p.push(ptr::null());
    if stdin_fd >= 0 && unsafe { dup2(stdin_fd, 0) } < 0 {
        return JsError::os(std::io::Error::last_os_error(), "replacing stdin");
    }
    plain_stdio();
    if keep_fd >= 0 && unsafe { ffi::fcntl(keep_fd, F_SETFD, 0 as c_int) } < 0 {
        return JsError::os(std::io::Error::last_os_error(), "keeping the container's lock");
    }
    // Last: nothing returns to JS between the copy and its execve (or close).
    let sealed = path.to_str().ok().and_then(|p| sealed_copy(p, &argv));
    // Our memory goes with another process (old_image.rs), whose pid the helper gets to reap it.
    let holder = old_image::hold();
    let env_own = holder.as_ref().map(|h| CString::new(h.variable()).expect("no NUL"));
    let envp = environment(env_own.as_ref());
    // Handlers go back to SIG_DFL by themselves at execve; the mask does not.
    let mut old = SigSet::empty();
    unsafe { ffi::sigprocmask(SIG_SETMASK, &SigSet::empty(), &mut old) };
    if let Some(copy) = sealed {
        unsafe { ffi::fexecve(copy, argv_p.as_ptr(), envp.as_ptr()) };
        // Not executable (a memfd_noexec policy, say): from disk, and the helper protects itself or says why not.
        container::sys::fd::close(copy);
    }
    unsafe { ffi::execve(path.as_ptr(), argv_p.as_ptr(), envp.as_ptr()) };
    let err = std::io::Error::last_os_error();
    if let Some(h) = holder {
        h.cancel();
    }
    unsafe { ffi::sigprocmask(SIG_SETMASK, &old, ptr::null_mut()) };
    JsError::os(err, "starting tsbox-runtime")
}

/// The helper runs from a copy of its binary nobody can write (CVE-2019-5736,
/// container::sealed_exe): made here and executed in its place, the helper
/// starts protected, where executed from disk it would protect itself and
/// execute again (an execve, the dynamic loader and its start-up twice).
/// None when TSBOX_RUNTIME_SEAL says otherwise or is wrong (the helper does
/// or reports that), or nothing could be had (the helper then tries again,
/// and reports a failure).
///
/// A rootless user's run first tries the copy its data dir's nest holder runs
/// from (the data dir: the helper's `--bundle`, `<data dir>/containers/<id>`).
fn sealed_copy(path: &str, argv: &[CString]) -> Option<c_int> {
    let binary = std::path::Path::new(path);
    let method = sealed_exe::Method::from_env().ok()?;
    // `memfd` asks for a copy of its own.
    let may_share = method == sealed_exe::Method::Auto && container::sys::cred::geteuid() != 0;
    let held = || {
        let bundle = argv.windows(2).find(|w| w[0].as_bytes() == b"--bundle")?[1].to_str().ok()?;
        let record = nest_record::Record::read(&nest_record::dir_of_bundle(std::path::Path::new(bundle))?)?;
        sealed_exe::held_copy(binary, &record)
    };
    if may_share {
        if let Some(copy) = held() {
            return Some(copy);
        }
    }
    sealed_exe::protected_exe(binary, method)
}

/// Our environment for the execve, with `own` (the old image holder's pid) in place of any variable of its name.
fn environment(own: Option<&CString>) -> Vec<*const c_char> {
    let mut out = Vec::new();
    let prefix = format!("{}=", container::old_image::PID_VARIABLE);
    let mut at = unsafe { environ };
    while !at.is_null() && !unsafe { *at }.is_null() {
        let entry = unsafe { *at };
        if !unsafe { std::ffi::CStr::from_ptr(entry) }.to_bytes().starts_with(prefix.as_bytes()) {
            out.push(entry);
        }
        at = unsafe { at.add(1) };
    }
    if let Some(own) = own {
        out.push(own.as_ptr());
    }
    out.push(ptr::null());
    out
}

/// Node marks fds 0–2 close-on-exec (and a pipe may be left non-blocking):
/// the helper and the container get them as a spawned child's would be,
/// inherited and blocking.
fn plain_stdio() {
    for fd in 0..3 {
        unsafe {
            ffi::fcntl(fd, F_SETFD, 0 as c_int);
            let flags = ffi::fcntl(fd, F_GETFL);
            if flags >= 0 && flags & O_NONBLOCK != 0 {
                ffi::fcntl(fd, F_SETFL, flags & !O_NONBLOCK);
            }
        }
    }
}
