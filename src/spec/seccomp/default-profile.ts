/**
 * Docker's default seccomp profile (moby profiles/seccomp/default.json, the
 * x86 and arm64 part: the entries for ppc64le, s390 and riscv can never apply
 * on the x86_64/arm64 hosts and i686 vm guest tsbox runs on, nor arm's
 * arm32-only calls, which the runtime has no table for), in docker's own
 * format, so it goes through the same translation as a user's
 * `seccomp=PROFILE.json`.
 * An allow-list: whatever is not named fails with EPERM. Among what it
 * leaves out: keyctl/add_key/request_key (the kernel keyring is not
 * namespaced), mount/umount, unshare/setns and clone with namespace flags
 * (new user namespaces are the door to most kernel bugs), bpf,
 * perf_event_open, ptrace before 4.8, reboot, module loading, swapon,
 * acct, settimeofday, userfaultfd, kexec, open_by_handle_at — each back
 * when the capability that makes it legitimate is added — and io_uring
 * (docker 25+, moby#46762; podman never allowed it): the kernel runs its
 * requests without passing this filter, so an `IORING_OP_SOCKET` made the
 * AF_VSOCK socket the rule below refuses, and its own bugs are a common way
 * out of containers.
 */
import type { DockerSeccompProfile } from "./docker-profile.js";

const ALWAYS_ALLOWED = `accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32
clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep
clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 dup3 epoll_create epoll_create1
epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit
exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat fchown
fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstat64
fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futex futex_time64 futex_waitv futimesat getcpu getcwd
getdents getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername
getpgid getpgrp getpid getppid getpriority getrandom getresgid getresgid32 getresuid getresuid32 getrlimit
get_robust_list getrusage getsid getsockname getsockopt get_thread_area gettid gettimeofday getuid getuid32
getxattr inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents
io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit
ipc kill landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr
link linkat listen listxattr llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64 madvise membarrier
memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2 mprotect
mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink
mremap msgctl msgget msgrcv msgsnd msync munlock munlockall munmap name_to_handle_at nanosleep newfstatat _newselect
open openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll
ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64 pwritev
pwritev2 read readahead readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages
removexattr rename renameat renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask
rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo
sched_getaffinity sched_getattr sched_getparam sched_get_priority_max sched_get_priority_min sched_getscheduler
sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam
sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64 send sendfile
sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32
setitimer setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32
setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address setuid setuid32 setxattr shmat shmctl
shmdt shmget shutdown sigaltstack signalfd signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64
statfs statfs64 statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time timer_create
timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime timer_settime64 timerfd_create
timerfd_gettime timerfd_gettime64 timerfd_settime timerfd_settime64 times tkill truncate truncate64 ugetrlimit
umask uname unlink unlinkat utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write
writev`;

const names = (list: string) => list.trim().split(/\s+/);
const capEntry = (cap: string, list: string) => ({ names: names(list), action: "SCMP_ACT_ALLOW" as const, includes: { caps: [cap] } });
const personality = (value: number) => ({
  names: ["personality"],
  action: "SCMP_ACT_ALLOW" as const,
  args: [{ index: 0, value, valueTwo: 0, op: "SCMP_CMP_EQ" as const }],
});

/**
 * mount and its kin, which docker's profile gives with CAP_SYS_ADMIN. Where the container's root is the host's (root
 * without --userns=auto), they are withheld from the default profile even then (security.ts `withholdsMounts`): a `umount
 * /proc/sys` (or a fresh procfs mounted) leaves the kernel's settings writable to that root, and its
 * `kernel.core_pattern` runs a program of the container's as the host's root — docker's AppArmor profile refuses
 * mounts for that reason, and tsbox has no LSM. Rootless and --userns=auto, the container's root is nobody on the host.
 */
const MOUNT_ENTRY = capEntry("CAP_SYS_ADMIN", "fsconfig fsmount fsopen fspick mount mount_setattr move_mount open_tree umount umount2");

export const DEFAULT_SECCOMP_PROFILE: DockerSeccompProfile = {
  defaultAction: "SCMP_ACT_ERRNO",
  defaultErrnoRet: 1,
  archMap: [
    { architecture: "SCMP_ARCH_X86_64", subArchitectures: ["SCMP_ARCH_X86", "SCMP_ARCH_X32"] },
    // The runtime has no arm32 table: it filters aarch64 and kills arm32 processes.
    { architecture: "SCMP_ARCH_AARCH64", subArchitectures: ["SCMP_ARCH_ARM"] },
  ],
  syscalls: [
    { names: names(ALWAYS_ALLOWED), action: "SCMP_ACT_ALLOW" },
    { names: ["process_vm_readv", "process_vm_writev", "ptrace"], action: "SCMP_ACT_ALLOW", includes: { minKernel: "4.8" } },
    // Every socket family but AF_VSOCK (40): it reaches the host's hypervisor services.
    { names: ["socket"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 40, valueTwo: 0, op: "SCMP_CMP_NE" }] },
    personality(0x0),
    personality(0x8),
    personality(0x20000),
    personality(0x20008),
    personality(0xffffffff),
    { names: ["arch_prctl"], action: "SCMP_ACT_ALLOW", includes: { arches: ["amd64", "x32"] } },
    { names: ["modify_ldt"], action: "SCMP_ACT_ALLOW", includes: { arches: ["amd64", "x32", "x86"] } },
    capEntry("CAP_DAC_READ_SEARCH", "open_by_handle_at"),
    capEntry("CAP_SYS_ADMIN", "bpf clone clone3 fanotify_init lookup_dcookie perf_event_open quotactl quotactl_fd setdomainname sethostname setns syslog unshare"),
    MOUNT_ENTRY,
    // clone without any CLONE_NEW* flag (0x7e020000): threads and fork, no namespaces.
    {
      names: ["clone"],
      action: "SCMP_ACT_ALLOW",
      args: [{ index: 0, value: 0x7e020000, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }],
      excludes: { caps: ["CAP_SYS_ADMIN"], arches: ["s390", "s390x"] },
    },
    // clone3's flags sit in a struct a filter cannot read: ENOSYS makes libc use clone.
    { names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: 38, excludes: { caps: ["CAP_SYS_ADMIN"] } },
    capEntry("CAP_SYS_BOOT", "reboot"),
    capEntry("CAP_SYS_CHROOT", "chroot"),
    capEntry("CAP_SYS_MODULE", "delete_module init_module finit_module"),
    capEntry("CAP_SYS_PACCT", "acct"),
    capEntry("CAP_SYS_PTRACE", "kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace"),
    capEntry("CAP_SYS_RAWIO", "iopl ioperm"),
    capEntry("CAP_SYS_TIME", "settimeofday stime clock_settime clock_settime64"),
    capEntry("CAP_SYS_TTY_CONFIG", "vhangup"),
    capEntry("CAP_SYS_NICE", "get_mempolicy mbind set_mempolicy set_mempolicy_home_node"),
    capEntry("CAP_SYSLOG", "syslog"),
    capEntry("CAP_BPF", "bpf"),
    capEntry("CAP_PERFMON", "perf_event_open"),
  ],
};

/** The default profile with mount and its kin withheld whatever the capabilities (MOUNT_ENTRY). */
export const DEFAULT_PROFILE_WITHOUT_MOUNTS: DockerSeccompProfile = {
  ...DEFAULT_SECCOMP_PROFILE,
  syscalls: (DEFAULT_SECCOMP_PROFILE.syscalls ?? []).filter((entry) => entry !== MOUNT_ENTRY),
};
