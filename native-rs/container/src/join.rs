//! Joining a running container: what `exec` runs. The caller enters the
//! namespaces of the container's init, forks so that the child is inside its
//! PID namespace, and the child takes the process's cwd, terminal, limits,
//! user and capabilities ([`process_setup`]) and execs, reporting over the
//! same hand-off as [`crate::launch::spawn`]. No rootfs set-up: the mount
//! namespace has it, and joining it makes its root ours.
//!
//! Order, as crun, youki, runc's nsexec and nsenter do it: the user
//! namespace first when it is not ours, so a rootless owner joins the others
//! with the capabilities it has in there; mount last. `setns` on a pidfd
//! (Linux 5.8) joins them all at once (the kernel takes the user namespace
//! first and checks the others against it) and cannot hit another process
//! that took over the pid; /proc/PID/ns/* files, all opened before the first
//! join, are the fallback.

use crate::cgroups::{self, Manager, Placement};
use crate::error::{Context, Error, ErrorKind};
use crate::handoff::{self, Pipes};
use crate::host::Host;
use crate::namespaces::{self, NamespaceKind};
use crate::seccomp::{Filter, Seccomp};
use crate::{oom_score, process_setup};
use crate::spec::Process;
use crate::sys::errno::{EINVAL, ENOENT, ENOMEM, ENOSYS, ESRCH};
use crate::sys::process::{self, Forked};
use crate::sys::{cred, fd, Errno};
use crate::syscall::{LinuxSyscall, Syscall};
use std::fs::{self, File};
use std::os::raw::c_int;
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::IntoRawFd;

/// The container's init, with handles on its namespaces opened up front
/// (once we are in its mount namespace, its /proc entry is out of reach).
pub struct Target {
    pid: i32,
    pidfd: Option<c_int>,
    /// The namespaces that are not ours, in join order, as open ns files.
    files: Vec<(NamespaceKind, c_int)>,
    /// The namespaces the caller knows are the container's own (clone
    /// flags): joined through the pidfd without opening the files.
    known: Option<c_int>,
    host: Host,
}

/// What the caller already knows about the container, each saving a probe
/// per exec (the vm guest's agent keeps them from `create`: under
/// emulation each probe costs milliseconds).
#[derive(Default)]
pub struct Known<'a> {
    /// The namespaces it made (its spec's, as clone flags), instead of
    /// comparing each /proc/PID/ns file with ours. Taken only with a pidfd.
    pub namespaces: Option<c_int>,
    /// Its cgroup, instead of reading /proc/PID/cgroup and our mountinfo.
    pub cgroup: Option<&'a dyn Manager>,
    /// Its system-call filter, compiled once.
    pub filter: Option<&'a Filter>,
}

impl Target {
    pub fn open(pid: i32) -> Result<Target, Error> {
        Target::open_known(pid, None)
    }

    /// `open`; with `known` namespaces and a pidfd, no ns file is opened
    /// (they are, later, if this kernel cannot setns on a pidfd).
    pub fn open_known(pid: i32, known: Option<c_int>) -> Result<Target, Error> {
        let pidfd = match process::pidfd_open(pid) {
            Ok(fd) => Some(fd),
            Err(ENOSYS) => None,
            Err(ESRCH) => return Err(not_running(pid)),
            Err(e) => return Err(Error::errno(format!("opening process {}", pid), e)),
        };
        let mut target = Target {
            pid,
            pidfd,
            files: Vec::new(),
            known: None,
            host: Host::of_process(pid),
        };
        if let (Some(flags), Some(_)) = (known, target.pidfd) {
            // The same refusal as below: a container has its own mount namespace.
            if flags & NamespaceKind::Mount.clone_flag() == 0 {
                target.close();
                return Err(not_a_container(pid));
            }
            target.known = Some(flags);
            return Ok(target);
        }
        if let Err(e) = target.open_namespaces() {
            target.close();
            return Err(e);
        }
        Ok(target)
    }

    fn open_namespaces(&mut self) -> Result<(), Error> {
        for kind in NamespaceKind::ALL {
            let theirs = format!("/proc/{}/ns/{}", self.pid, kind.proc_name());
            let ours = format!("/proc/self/ns/{}", kind.proc_name());
            let open = File::open(&theirs).and_then(|f| Ok((f.metadata()?, f)));
            let (meta, file) = match open {
                Ok(found) => found,
                // A kind this kernel does not have: nobody is in one.
                Err(e) if e.raw_os_error() == Some(ENOENT.0) && fs::metadata(&ours).is_err() => continue,
                // One we have and it has not: a dead pid has no /proc entry, and a process in its exit
                // has released its namespaces, long before it is a zombie when it is a PID namespace's
                // init (it waits for the namespace's last process). Never a stranger: every live
                // process is in a namespace of each kind.
                Err(e) if e.raw_os_error() == Some(ENOENT.0) => return Err(not_running(self.pid)),
                Err(e) => return Err(e).step(|| format!("opening {}", theirs)),
            };
            let same = fs::metadata(&ours)
                .map(|m| (m.dev(), m.ino()) == (meta.dev(), meta.ino()))
                .unwrap_or(false);
            if !same {
                self.files.push((kind, file.into_raw_fd()));
            }
        }
        // A container always has its own mount namespace. Without one this
        // pid is not (any more) a container's init, and "joining" it would
        // run the command beside us on the host.
        if !self.files.iter().any(|(k, _)| *k == NamespaceKind::Mount) {
            return Err(not_a_container(self.pid));
        }
        Ok(())
    }

    fn close(&mut self) {
        for fd in self
            .pidfd
            .take()
            .into_iter()
            .chain(self.files.drain(..).map(|(_, fd)| fd))
        {
            fd::close(fd);
        }
    }

    fn flags(&self) -> c_int {
        self.known
            .unwrap_or_else(|| self.files.iter().fold(0, |f, (k, _)| f | k.clone_flag()))
    }
}

fn not_a_container(pid: i32) -> Error {
    Error::new(
        ErrorKind::NotRunning,
        format!(
            "process {} is not a container's init (it shares our mount namespace)",
            pid
        ),
    )
}

fn not_running(pid: i32) -> Error {
    Error::new(
        ErrorKind::NotRunning,
        format!(
            "the container is not running (its init, process {}, has exited)",
            pid
        ),
    )
}

/// Enters the target's namespaces: all at once through the pidfd, else one
/// file at a time, user first (EINVAL from the pidfd: a kernel before 5.8).
pub fn join_namespaces(sys: &dyn Syscall, target: &Target) -> Result<(), Error> {
    let joining = || {
        format!(
            "joining the container's namespaces ({})",
            namespaces::flag_names(target.flags())
        )
    };
    if let Some(pidfd) = target.pidfd {
        match sys.setns(pidfd, target.flags()) {
            Ok(()) => return Ok(()),
            Err(ESRCH) => return Err(not_running(target.pid)),
            // No setns on a pidfd here, and no files opened: the caller opens them.
            Err(EINVAL) if target.known.is_some() => return Err(Error::errno(joining(), EINVAL)),
            Err(EINVAL) => {}
            Err(e) => return Err(Error::errno(joining(), e)),
        }
    }
    for (kind, fd) in &target.files {
        sys.setns(*fd, kind.clone_flag())
            .step(|| format!("joining the container's {} namespace", kind.spec_name()))?;
    }
    Ok(())
}

/// Starts `process` in the running container whose init is `pid` and returns
/// its pid (in our PID namespace) once its execve succeeded. `on_fork` runs
/// right after the fork with that pid. The caller stays in the container's
/// namespaces afterwards (its status fd and pipes work as before).
///
/// Must be called from a single-threaded process: setns(CLONE_NEWUSER)
/// refuses others, and the child uses std freely.
pub fn spawn(pid: i32, process: &Process, on_fork: &mut dyn FnMut(i32)) -> Result<i32, Error> {
    spawn_with(pid, process, None, on_fork)
}

/// `spawn`, with the container's seccomp profile (its `linux.seccomp`),
/// which an exec'd process gets as the container's own processes did.
pub fn spawn_with(
    pid: i32,
    process: &Process,
    seccomp: Option<&Seccomp>,
    on_fork: &mut dyn FnMut(i32),
) -> Result<i32, Error> {
    let filter = seccomp.map(Filter::compile).transpose()?;
    spawn_known(pid, process, Known { filter: filter.as_ref(), ..Known::default() }, on_fork)
}

/// `spawn`, with what the caller knows about the container instead of
/// probing for it (see [`Known`]); without a filter there is none.
pub fn spawn_known(
    pid: i32,
    process: &Process,
    known: Known,
    on_fork: &mut dyn FnMut(i32),
) -> Result<i32, Error> {
    let filter = known.filter;
    // While /proc/self is ours to write: a non-dumpable process's files are root's, and after the join the
    // container's /proc has no /proc/self for us (we are not in its PID namespace). The child inherits it,
    // and ours is put back once it is forked (oom_score.rs).
    let inherited = oom_score::set_for_child(process.oom_score_adj)?;
    // From the fork until its execve our child is in the container's PID
    // namespace, a process of ours its root could open /proc/PID/exe of
    // (CVE-2019-5736): non-dumpable, those files need CAP_SYS_PTRACE over
    // the host. The fork inherits it; the execve of the command resets it.
    cred::set_dumpable(false).step(|| "making the exec helper non-dumpable")?;
    crate::trace::mark("join: start");
    let mut target = Target::open_known(pid, known.namespaces)?;
    crate::trace::mark("join: target open");
    // The container's cgroups, opened while we still see them (the kernel
    // checks a move against who opened cgroup.procs, and where).
    let placement = match known.cgroup {
        Some(m) => Placement::open_lenient(m),
        None => cgroups::of_process(pid).and_then(|m| Placement::open_lenient(&*m)),
    };
    crate::trace::mark("join: placement open");
    // Before joining the user namespace, where raising a hard limit is no longer ours to do.
    crate::rlimits::preset(0, &process.rlimits);
    let joined = keeping_parent_death_signal(|| match join_namespaces(&LinuxSyscall, &target) {
        // A kernel before 5.8 (no setns on a pidfd): the files after all.
        Err(e) if target.known.is_some() && e.errno == Some(EINVAL.0) => {
            target.known = None;
            target.open_namespaces()?;
            join_namespaces(&LinuxSyscall, &target)
        }
        joined => joined,
    });
    target.close();
    joined?;
    crate::trace::mark("join: joined");
    let host = target.host;
    let pipes = Pipes::open()?;
    // The child is the first of ours in the container's PID namespace; it
    // waits until we moved it into the container's v2 cgroup (it enters v1's
    // itself, placement.rs) before it runs anything. Not clone3 into
    // the cgroup: in the container's cgroup namespace our own cgroup is out
    // of view, and the kernel refuses a move from there (ENOENT); a write
    // through cgroup.procs opened before the join is checked in our old one.
    let moved = placement.is_some();
    let forked = process::clone_fork(0);
    let child = match forked {
        Ok(Forked::Child) => pipes.into_child().exec_after(process, |sync_r| {
            if let Some(p) = &placement {
                handoff::wait_for_release(sync_r); // in v2's cgroup now
                p.enter()?; // into v1's (placement.rs)
            }
            crate::trace::mark("join child: released");
            process_setup::apply(&LinuxSyscall, process, &host, filter)
        }),
        Ok(Forked::Parent(child)) => child,
        Err(e) => {
            pipes.close();
            return Err(fork_error(pid, e));
        }
    };
    if let Some(i) = inherited {
        i.restore();
    }
    on_fork(child);
    crate::trace::mark("join: forked");
    let parent = pipes.into_parent();
    let placed = match (&placement, moved) {
        (Some(p), true) => p.add(child).and_then(|()| parent.release()),
        _ => Ok(()),
    };
    crate::trace::mark("join: placed");
    let verdict = parent.verdict(child, placed).map(|()| child);
    crate::trace::mark("join: verdict");
    verdict
}

/// Enters the namespaces of the running container whose init is `pid`,
/// staying in them: its mounts (volumes included) are then ours and its root
/// is our root, so every path resolves inside it (`tsbox cp`). No fork: the
/// caller's file operations need no PID namespace.
pub fn enter(pid: i32) -> Result<(), Error> {
    let mut target = Target::open(pid)?;
    let joined = keeping_parent_death_signal(|| join_namespaces(&LinuxSyscall, &target));
    target.close();
    joined
}

/// The network namespace of the running container whose init is `pid`
/// (`network connect`'s keeper), opened only once `pid` passed exec's rule
/// (`Target::open`: a process that shares our mount namespace is no
/// container's init) and is still the process of `start` (its /proc start
/// time, read by the caller when it checked the pid was the container's) —
/// after the namespace was opened, so a pid taken over meanwhile is caught.
/// A kernel thread or a host process never gets a container's network.
pub fn network_namespace(pid: i32, start: Option<u64>) -> Result<File, Error> {
    let mut target = Target::open(pid)?;
    target.close();
    let path = format!("/proc/{}/ns/net", pid);
    let netns = File::open(&path).step(|| format!("opening {}", path))?;
    if start.map_or(false, |s| process::start_time(pid) != Some(s)) {
        return Err(not_running(pid));
    }
    let ours = fs::metadata("/proc/self/ns/net").step(|| "opening /proc/self/ns/net")?;
    let theirs = netns.metadata().step(|| format!("opening {}", path))?;
    if (ours.dev(), ours.ino()) == (theirs.dev(), theirs.ino()) {
        return Err(Error::new(ErrorKind::NotRunning, format!("process {} shares our network namespace: it is not a networked container's init", pid)));
    }
    Ok(netns)
}

/// No process may be added to a PID namespace whose init has exited.
fn fork_error(pid: i32, e: Errno) -> Error {
    if e == ENOMEM {
        not_running(pid)
    } else {
        Error::errno("forking into the container", e)
    }
}

/// Joining a user namespace is a change of credentials, which may clear our
/// parent-death signal: put it back, and make sure the parent it stands for
/// did not exit in between.
fn keeping_parent_death_signal<F>(join: F) -> Result<(), Error>
where
    F: FnOnce() -> Result<(), Error>,
{
    let parent = process::parent_pid();
    let signal = cred::pdeathsig().unwrap_or(0);
    join()?;
    if signal != 0 {
        cred::set_pdeathsig(signal).step(|| "setting the parent-death signal")?;
        if process::parent_pid() != parent {
            return Err(Error::setup("the process that started the exec has exited"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::tests::sample_json;
    use crate::spec::Spec;
    use crate::syscall::RecordingSyscall;
    use std::path::Path;

    /// Exec has no rootfs of its own: nothing to show as $ROOT.
    fn recorder() -> RecordingSyscall {
        RecordingSyscall::new(Path::new("/no-rootfs"))
    }

    /// A target whose namespaces are all not ours (fds are just labels here).
    fn target(pidfd: Option<c_int>) -> Target {
        Target {
            pid: 4242,
            pidfd,
            files: NamespaceKind::ALL
                .iter()
                .enumerate()
                .map(|(i, k)| (*k, 10 + i as c_int))
                .collect(),
            known: None,
            host: Host {
                in_user_ns: true,
                setgroups_denied: true,
                last_cap: 40,
                unshare_cgroupns: false,
                cgroup_view: Vec::new(),
            },
        }
    }

    #[test]
    fn pidfd_joins_all_at_once() {
        let sys = recorder();
        join_namespaces(&sys, &target(Some(3))).unwrap();
        assert_eq!(sys.calls(), ["setns 3 user+ipc+uts+net+pid+cgroup+mnt"]);
    }

    #[test]
    fn files_join_user_first_and_mount_last() {
        let sys = recorder();
        // A kernel before 5.8 takes no pidfd: the files, one by one.
        sys.fail_when("setns 3 ", EINVAL);
        join_namespaces(&sys, &target(Some(3))).unwrap();
        let want = [
            "setns 3 user+ipc+uts+net+pid+cgroup+mnt",
            "setns 10 user",
            "setns 11 ipc",
            "setns 12 uts",
            "setns 13 net",
            "setns 14 pid",
            "setns 15 cgroup",
            "setns 16 mnt",
        ];
        assert_eq!(sys.calls(), want);

        let sys = recorder();
        join_namespaces(&sys, &target(None)).unwrap();
        assert_eq!(sys.calls(), want[1..]);
    }

    /// Namespaces the caller knows (the agent, from the spec): joined
    /// through the pidfd, no file opened; a kernel without setns on a
    /// pidfd gets an error the spawn answers by opening the files.
    #[test]
    fn known_namespaces_join_through_the_pidfd() {
        let mut t = target(Some(3));
        t.files.clear();
        t.known = Some(NamespaceKind::Mount.clone_flag() | NamespaceKind::Pid.clone_flag());
        let sys = recorder();
        join_namespaces(&sys, &t).unwrap();
        assert_eq!(sys.calls(), ["setns 3 pid+mnt"]);
        let sys = recorder();
        sys.fail_when("setns 3 ", EINVAL);
        let e = join_namespaces(&sys, &t).unwrap_err();
        assert_eq!(e.errno, Some(EINVAL.0));
        assert_eq!(sys.calls(), ["setns 3 pid+mnt"]);
    }

    #[test]
    fn our_own_user_namespace_is_not_joined() {
        let mut t = target(Some(3));
        t.files.retain(|(k, _)| *k != NamespaceKind::User);
        let sys = recorder();
        join_namespaces(&sys, &t).unwrap();
        assert_eq!(sys.calls(), ["setns 3 ipc+uts+net+pid+cgroup+mnt"]);
    }

    /// `network connect` took a vm guest's pid for a host pid: a kernel thread (kthreadd, 2) or a host process
    /// shares our mount namespace, and no network goes into it; nor into a process other than the one checked.
    #[test]
    fn network_namespace_only_of_a_containers_init() {
        let me = std::process::id() as i32;
        for pid in [me, 2] {
            let e = network_namespace(pid, None).expect_err("not a container's init");
            assert_eq!(e.kind, ErrorKind::NotRunning, "{}", e);
        }
        let e = network_namespace(me, process::start_time(me).map(|s| s + 1)).expect_err("another start time");
        assert_eq!(e.kind, ErrorKind::NotRunning);
    }

    #[test]
    fn errors_name_the_namespace_and_a_dead_init() {
        let sys = recorder();
        sys.fail_when("setns 13", crate::sys::errno::EPERM);
        let e = join_namespaces(&sys, &target(None)).unwrap_err();
        assert_eq!(
            e.message,
            "joining the container's network namespace: Operation not permitted"
        );
        let sys = recorder();
        sys.fail_when("setns 3", ESRCH);
        let e = join_namespaces(&sys, &target(Some(3))).unwrap_err();
        assert_eq!((e.kind, e.exit_code()), (ErrorKind::NotRunning, 125));
        assert_eq!(fork_error(7, ENOMEM).kind, ErrorKind::NotRunning);
    }

    /// Without no_new_privs, loading a filter takes CAP_SYS_ADMIN: it goes in
    /// before the uid switch and capset drop it.
    #[test]
    fn filter_without_no_new_privs_goes_first() {
        let spec = Spec::parse(&sample_json()).unwrap();
        let mut process = spec.process;
        process.no_new_privileges = false;
        let filter = Filter::compile(spec.linux.seccomp.as_ref().unwrap()).unwrap();
        let t = target(Some(3));
        let sys = recorder();
        process_setup::apply(&sys, &process, &t.host, Some(&filter)).unwrap();
        let calls = sys.calls();
        let at = |p: &str| calls.iter().position(|c| c.starts_with(p)).unwrap();
        assert!(at("join_session_keyring") < at("seccomp") && at("seccomp") < at("setresgid"));
        assert!(!calls.iter().any(|c| c == "no_new_privs"));
    }

    /// The whole recorded sequence of an exec: namespaces (parent), then the
    /// process's own set-up (child), in the container's order.
    #[test]
    fn recorded_exec_order() {
        let mut process = Spec::parse(&sample_json()).unwrap().process;
        process.terminal = true;
        let t = target(Some(3));
        let sys = recorder();
        join_namespaces(&sys, &t).unwrap();
        process_setup::apply(&sys, &process, &t.host, None).unwrap();
        let calls: Vec<String> = sys
            .calls()
            .into_iter()
            .filter(|c| !c.starts_with("capbset_drop"))
            .collect();
        assert_eq!(
            calls,
            [
                "setns 3 user+ipc+uts+net+pid+cgroup+mnt",
                "cloexec_from 3",
                "setsid",
                "tiocsctty 0",
                "enter_dir /work/dir",
                "umask 22",
                "setrlimit 7 1024 4096",
                "keepcaps 1",
                "join_session_keyring",
                // setgroups is denied in the container's user namespace: not called.
                "setresgid 0",
                "setresuid 0",
                "capset e=0x1 p=0x1 i=0x0",
                "ambient_clear",
                "no_new_privs",
                "pdeathsig 9",
            ]
        );
    }
}
