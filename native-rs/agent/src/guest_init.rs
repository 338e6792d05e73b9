//! The guest's init, in the agent itself: when the kernel starts
//! `/init` (this binary) as PID 1, it moves itself onto a tmpfs, mounts the
//! guest's file systems and becomes the agent. A busybox script did this
//! before and cost about 1.5 s of a 4.7 s boot under v86 (an exec per mount
//! and a copy of busybox); the initramfs now holds only this binary.

use crate::sys;
use container::sys::consts::*;
use container::sys::mount::{chdir, mount};
use container::syscall::LinuxSyscall;
use std::os::unix::process::CommandExt;
use std::path::Path;

/// Where the host's 9p exports appear (src/backends/vm/core/guest-spec.ts: GUEST_HOST_MOUNT).
pub const HOST_MOUNT: &str = "/mnt/host";
/// This binary in the guest's root (`run --init` binds it into containers: main.rs).
pub const AGENT_PATH: &str = "/init";

/// Marks the tmpfs root, so the re-exec'd init knows the move is done.
const MARKER: &str = "/.tsbox-root";
const MS_MOVE: std::os::raw::c_ulong = 8192;

/// True when this process is the guest's init.
pub fn is_init() -> bool {
    std::process::id() == 1
}

/// Runs init's steps; returns once the guest is ready for the agent (or
/// never, when it re-execs itself from the tmpfs root).
pub fn run() {
    if !Path::new(MARKER).exists() {
        if let Err(m) = move_to_tmpfs() {
            fail(&m);
        }
    }
    if let Err(m) = mount_guest_fs() {
        fail(&m);
    }
    // Never the guest's OOM victim: every container would go with it. Its
    // supervisors put the score back to 0 for the containers (supervisor.rs).
    if let Err(e) = std::fs::write("/proc/self/oom_score_adj", "-1000") {
        eprintln!("tsbox-agent: setting the agent's oom_score_adj: {}", e);
    }
}

/// pivot_root(2), which every container does, refuses to leave the initial
/// rootfs: put the guest root on a tmpfs (switch_root's steps) and re-exec.
fn move_to_tmpfs() -> Result<(), String> {
    let new = Path::new("/newroot");
    mkdir(new)?;
    mount(Some(Path::new("root")), new, Some("tmpfs"), 0, Some("mode=0755")).map_err(|e| step("mounting the root tmpfs", e))?;
    for d in ["dev", "proc", "sys", "tmp", "run", "root", "mnt/host"] {
        mkdir(&new.join(d))?;
    }
    std::fs::copy(AGENT_PATH, new.join(&AGENT_PATH[1..])).map_err(|e| format!("copying {}: {}", AGENT_PATH, e))?;
    std::fs::write(new.join(&MARKER[1..]), b"").map_err(|e| format!("writing {}: {}", MARKER, e))?;
    // Free the initramfs's copy (the kernel keeps the running image alive).
    let _ = std::fs::remove_file(AGENT_PATH);
    chdir(new).map_err(|e| step("chdir /newroot", e))?;
    mount(Some(Path::new(".")), Path::new("/"), None, MS_MOVE, None).map_err(|e| step("moving the tmpfs onto /", e))?;
    sys::chroot(Path::new(".")).map_err(|e| step("chroot", e))?;
    chdir(Path::new("/")).map_err(|e| step("chdir /", e))?;
    let err = std::process::Command::new(AGENT_PATH).exec();
    Err(format!("re-executing {}: {}", AGENT_PATH, err))
}

fn mount_guest_fs() -> Result<(), String> {
    let nsx = MS_NOSUID | MS_NODEV | MS_NOEXEC;
    let ns = MS_NOSUID | MS_NODEV;
    mnt("devtmpfs", "/dev", "devtmpfs", 0, "mode=0755")?;
    mkdir(Path::new("/dev/pts"))?;
    mkdir(Path::new("/dev/shm"))?;
    mnt("devpts", "/dev/pts", "devpts", 0, "newinstance,ptmxmode=0666,mode=0620")?;
    mnt("proc", "/proc", "proc", nsx, "")?;
    mnt("sysfs", "/sys", "sysfs", nsx, "")?;
    mnt("tmpfs", "/tmp", "tmpfs", ns, "mode=1777")?;
    mnt("tmpfs", "/run", "tmpfs", ns, "mode=0755")?;
    mnt("tmpfs", "/dev/shm", "tmpfs", ns, "mode=1777")?;
    crate::guest_dir::mount_containers_tmpfs()?;
    mnt("cgroup2", "/sys/fs/cgroup", "cgroup2", 0, "nsdelegate")?;
    // The host's directories (image layers read-only, volumes read-write),
    // served by the host's 9p2000.L server (src/backends/vm/p9). nodev: a
    // device node in a layer or volume never reaches a guest device (volumes
    // are bind mounts of this one and keep the flag).
    if let Err(m) = mnt("host9p", HOST_MOUNT, "9p", MS_NODEV, "trans=virtio,version=9p2000.L,msize=512000") {
        eprintln!("tsbox-agent: {}", m);
    }
    container::sys::cred::sethostname("tsbox-vm").map_err(|e| step("setting the hostname", e))?;
    container::network::loopback_up(&LinuxSyscall).map_err(|e| e.to_string())?;
    Ok(())
}

fn mnt(source: &str, target: &str, fstype: &str, flags: std::os::raw::c_ulong, data: &str) -> Result<(), String> {
    let data = if data.is_empty() { None } else { Some(data) };
    mount(Some(Path::new(source)), Path::new(target), Some(fstype), flags, data).map_err(|e| step(&format!("mounting {} on {}", fstype, target), e))
}

fn mkdir(p: &Path) -> Result<(), String> {
    std::fs::create_dir_all(p).map_err(|e| format!("creating {}: {}", p.display(), e))
}

fn step(what: &str, e: container::sys::Errno) -> String {
    format!("{}: {}", what, e.description())
}

/// PID 1 must not exit (the kernel panics): report and stay.
fn fail(message: &str) -> ! {
    eprintln!("tsbox-agent: init failed: {}", message);
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}
