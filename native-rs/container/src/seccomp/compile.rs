//! A [`Seccomp`] as one BPF program:
//!
//! ```text
//!   A = arch; one jump per architecture; else kill the process
//! arch:      (per architecture compiled: its AUDIT_ARCH and syscall table)
//!   A = nr   (x86_64: an x32 call, nr | 0x40000000, gets the default action)
//!   binary search over intervals of syscall numbers that share an outcome:
//!     ret ACTION                       the usual case
//!     ja rules_of_this_syscall         when the profile checks arguments
//!   numbers above the highest the profile names: ENOSYS (a syscall newer
//!   than the profile, so libc falls back to an older one instead of failing)
//! rules: per entry, every argument check or on to the next entry; ret ACTION
//! ```
//!
//! Entries for one syscall are tried in profile order; an entry without
//! argument checks ends the list. Names this architecture does not have are
//! skipped (libseccomp and runc do the same).
//!
//! Which architectures: the one the runtime is built for, plus those of the
//! profile's list its kernel can also run and we have a table for
//! ([`companions`]). [`compile_for`] takes the native one as an argument so
//! every target's program is tested on any build host.

use super::bpf::{eval, Asm, Label, SockFilter, JEQ_K, JGE_K, JGT_K, MAX_INSNS};
use super::syscalls;
use super::{Action, ArgRule, Arch, Op, Seccomp};
use std::collections::BTreeMap;

/// EM_* | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE (linux/audit.h).
const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const AUDIT_ARCH_AARCH64: u32 = 0xC000_00B7;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
/// Offsets in struct seccomp_data: nr, arch, then args[6] as u64 (all our
/// architectures are little-endian: low word first).
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const OFF_ARGS: u32 = 16;
const ENOSYS: u16 = 38;

pub fn action_value(a: Action) -> u32 {
    match a {
        Action::KillThread => 0,
        Action::KillProcess => 0x8000_0000,
        Action::Trap => 0x0003_0000,
        Action::Errno(e) => 0x0005_0000 | e as u32,
        Action::Trace(d) => 0x7ff0_0000 | d as u32,
        Action::Log => 0x7ffc_0000,
        Action::Allow => 0x7fff_0000,
    }
}

/// One syscall's entries in profile order, up to the first unconditional.
type Entries = Vec<(Vec<ArgRule>, Action)>;

/// Arguments the kernel declares `int` or `unsigned int` and so reads as their low 32 bits: a rule on one compares
/// that word only (its value taken as `u32`). Compared over 64 bits, a caller setting high bits the kernel ignores
/// passed every `!=` and `>` and missed every `==`: `socket(0x1_0000_0028, …)` made the AF_VSOCK socket the default
/// profile's `socket: arg0 != 40` refuses (libseccomp's 64-bit comparisons have the same hole; flatpak's TIOCSTI
/// rule was bypassed so). Name, then a bit per argument index.
const NARROW_ARGS: [(&str, u8); 16] = [
    ("fcntl", 0b11),
    ("fcntl64", 0b11),
    ("getsockopt", 0b111),
    ("ioctl", 0b11),
    ("kill", 0b11),
    ("open", 0b110),
    ("openat", 0b1101),
    ("personality", 0b1),
    ("prctl", 0b1),
    ("setns", 0b11),
    ("setsockopt", 0b111),
    ("socket", 0b111),
    ("socketpair", 0b111),
    ("tgkill", 0b111),
    ("tkill", 0b11),
    ("umount2", 0b10),
];

/// Which of `name`'s arguments are 32-bit in the kernel (NARROW_ARGS).
fn narrow_args(name: &str) -> u8 {
    NARROW_ARGS.iter().find(|(n, _)| *n == name).map_or(0, |(_, bits)| *bits)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Leaf {
    Ret(u32),
    /// Index of the syscall's argument rules.
    Rules(usize),
}

type Table = &'static [(&'static str, u32)];

/// An architecture's AUDIT_ARCH_* value and syscall table; None for those we
/// have no table for (x32 is handled inside x86_64's section).
fn arch_info(arch: Arch) -> Option<(u32, Table)> {
    match arch {
        Arch::X86_64 => Some((AUDIT_ARCH_X86_64, syscalls::X86_64)),
        Arch::X86 => Some((AUDIT_ARCH_I386, syscalls::I386)),
        Arch::Aarch64 => Some((AUDIT_ARCH_AARCH64, syscalls::AARCH64)),
        Arch::X32 | Arch::Other => None,
    }
}

/// The other architectures a `native` process may switch to by exec'ing a
/// binary of theirs (the kernel's compat modes), filtered when the profile
/// lists them. arm64 kernels may run arm32 too, but without an arm32 table
/// those processes get the unknown-architecture kill, like libseccomp gives
/// an architecture the profile does not list.
fn companions(native: Arch) -> &'static [Arch] {
    match native {
        Arch::X86_64 => &[Arch::X86],
        Arch::X86 => &[Arch::X86_64],
        _ => &[],
    }
}

/// The program for the architecture this runtime is built for.
pub fn compile(s: &Seccomp) -> Result<Vec<SockFilter>, String> {
    compile_for(s, Arch::native())
}

/// The program for a runtime built for `native`.
pub fn compile_for(s: &Seccomp, native: Arch) -> Result<Vec<SockFilter>, String> {
    if arch_info(native).is_none() {
        return Err(format!("no seccomp syscall table for this architecture ({:?})", native));
    }
    // Native first: the one jump for nearly every call.
    let mut arches = vec![native];
    for a in &s.architectures {
        if companions(native).contains(a) && !arches.contains(a) {
            arches.push(*a);
        }
    }
    let mut asm = Asm::default();
    asm.load(OFF_ARCH);
    let sections: Vec<(Arch, u32, Table, Label)> = arches
        .iter()
        .filter_map(|a| arch_info(*a).map(|(audit, table)| (*a, audit, table, asm.label())))
        .collect();
    for (_, audit, _, label) in &sections {
        asm.jump_if(JEQ_K, *audit, *label);
    }
    // An architecture the profile does not cover (libseccomp's default).
    asm.ret(action_value(Action::KillProcess));
    for (arch, _, table, label) in sections {
        asm.bind(label);
        arch_section(&mut asm, s, table, arch == Arch::X86_64);
    }
    let len = asm.len();
    if len > MAX_INSNS {
        return Err(format!(
            "the seccomp profile compiles to {} instructions, more than the kernel's {}",
            len, MAX_INSNS
        ));
    }
    asm.finish()
        .ok_or_else(|| "internal error: an unbound label in the seccomp program".to_string())
}

fn lookup(table: &[(&str, u32)], name: &str) -> Option<u32> {
    table
        .binary_search_by(|(n, _)| n.cmp(&name))
        .ok()
        .map(|i| table[i].1)
}

fn arch_section(asm: &mut Asm, s: &Seccomp, table: &[(&str, u32)], x86_64: bool) {
    let default = action_value(s.default_action);
    asm.load(OFF_NR);
    if x86_64 {
        let x32 = asm.label();
        let native = asm.label();
        asm.jump_if(JGE_K, X32_SYSCALL_BIT, x32);
        asm.jump(native);
        asm.bind(x32);
        asm.ret(default);
        asm.bind(native);
    }
    // Every numbered syscall the profile names, with its entries.
    let mut per_nr: BTreeMap<u32, Entries> = BTreeMap::new();
    let mut narrow: BTreeMap<u32, u8> = BTreeMap::new();
    for rule in &s.syscalls {
        for name in &rule.names {
            if let Some(nr) = lookup(table, name) {
                narrow.insert(nr, narrow_args(name));
                let entries = per_nr.entry(nr).or_insert_with(Vec::new);
                let ended = entries.last().map_or(false, |(args, _)| args.is_empty());
                if !ended {
                    entries.push((rule.args.clone(), rule.action));
                }
            }
        }
    }
    let beyond = if s.default_action == Action::Allow {
        default
    } else {
        action_value(Action::Errno(ENOSYS))
    };
    let mut rules: Vec<(Entries, u8)> = Vec::new();
    let mut intervals: Vec<(u32, Leaf)> = Vec::new();
    let mut next = 0u32;
    for (nr, entries) in per_nr {
        if nr > next {
            intervals.push((next, Leaf::Ret(default)));
        }
        let leaf = if entries[0].0.is_empty() {
            Leaf::Ret(action_value(entries[0].1))
        } else {
            rules.push((entries, narrow.get(&nr).copied().unwrap_or(0)));
            Leaf::Rules(rules.len() - 1)
        };
        intervals.push((nr, leaf));
        next = nr + 1;
    }
    intervals.push((next, Leaf::Ret(beyond)));
    intervals.dedup_by(|later, earlier| later.1 == earlier.1);

    let rule_labels: Vec<Label> = rules.iter().map(|_| asm.label()).collect();
    search(asm, &intervals, &rule_labels);
    for ((entries, narrow), label) in rules.iter().zip(rule_labels) {
        asm.bind(label);
        for (args, action) in entries {
            let next = asm.label();
            for arg in args {
                check(asm, arg, narrow & (1 << arg.index) != 0, next);
            }
            asm.ret(action_value(*action));
            asm.bind(next);
        }
        if !entries.last().map_or(true, |(args, _)| args.is_empty()) {
            asm.ret(default);
        }
    }
}

/// Binary search on A (the syscall number): each half-split is one jump.
fn search(asm: &mut Asm, intervals: &[(u32, Leaf)], rules: &[Label]) {
    if intervals.len() == 1 {
        match intervals[0].1 {
            Leaf::Ret(v) => asm.ret(v),
            Leaf::Rules(i) => asm.jump(rules[i]),
        }
        return;
    }
    let mid = intervals.len() / 2;
    let right = asm.label();
    asm.jump_if(JGE_K, intervals[mid].0, right);
    search(asm, &intervals[..mid], rules);
    asm.bind(right);
    search(asm, &intervals[mid..], rules);
}

/// Falls through when the condition holds, jumps to `fail` otherwise. The
/// argument is 64 bits, high word compared first, unless `narrow` (the kernel
/// reads its low word only: NARROW_ARGS).
fn check(asm: &mut Asm, c: &ArgRule, narrow: bool, fail: Label) {
    let lo = OFF_ARGS + 8 * c.index as u32;
    let hi = lo + 4;
    let (vhi, vlo) = ((c.value >> 32) as u32, c.value as u32);
    if narrow {
        check_low(asm, c, lo, fail);
        return;
    }
    match c.op {
        Op::Eq => {
            asm.load(hi);
            asm.jump_unless(JEQ_K, vhi, fail);
            asm.load(lo);
            asm.jump_unless(JEQ_K, vlo, fail);
        }
        Op::Ne => {
            let pass = asm.label();
            asm.load(hi);
            asm.jump_unless(JEQ_K, vhi, pass);
            asm.load(lo);
            asm.jump_if(JEQ_K, vlo, fail);
            asm.bind(pass);
        }
        Op::Gt | Op::Ge | Op::Lt | Op::Le => {
            // a > v (Gt; Le is its negation) or a >= v (Ge; Lt is its
            // negation): the high words decide unless equal, then the low.
            let pass = asm.label();
            let low = if matches!(c.op, Op::Gt | Op::Le) { JGT_K } else { JGE_K };
            let (holds, not) = if matches!(c.op, Op::Gt | Op::Ge) { (pass, fail) } else { (fail, pass) };
            asm.load(hi);
            asm.jump_if(JGT_K, vhi, holds);
            asm.jump_unless(JEQ_K, vhi, not);
            asm.load(lo);
            asm.jump_if(low, vlo, holds);
            asm.jump(not);
            asm.bind(pass);
        }
        Op::MaskedEq => {
            let (mhi, mlo) = vhi_vlo(c.value);
            let (ehi, elo) = vhi_vlo(c.value_two);
            asm.load(hi);
            asm.and(mhi);
            asm.jump_unless(JEQ_K, ehi, fail);
            asm.load(lo);
            asm.and(mlo);
            asm.jump_unless(JEQ_K, elo, fail);
        }
    }
}

/// [`check`] of a 32-bit argument: its low word against the value's.
fn check_low(asm: &mut Asm, c: &ArgRule, lo: u32, fail: Label) {
    let v = c.value as u32;
    asm.load(lo);
    match c.op {
        Op::Eq => asm.jump_unless(JEQ_K, v, fail),
        Op::Ne => asm.jump_if(JEQ_K, v, fail),
        Op::Gt => asm.jump_unless(JGT_K, v, fail),
        Op::Ge => asm.jump_unless(JGE_K, v, fail),
        // a < v is not a >= v; a <= v is not a > v.
        Op::Lt => asm.jump_if(JGE_K, v, fail),
        Op::Le => asm.jump_if(JGT_K, v, fail),
        Op::MaskedEq => {
            asm.and(c.value as u32);
            asm.jump_unless(JEQ_K, c.value_two as u32, fail);
        }
    }
}

/// The calls the runtime makes itself once the filter is loaded, with what
/// denying one does: its execve of the process, and the exit that its error
/// path (and every process) ends with. Denied, the start failed unseen: the
/// error report could not be written nor the runtime exit (SIGSEGV, 139).
/// `write` is not here: a profile may deny it (a well-known demo), and only
/// a failed execve's report needs it then.
const RUNTIME_CALLS: [(&str, &str); 2] = [("execve", "no process could start"), ("exit_group", "no process could exit")];

/// The first of [`RUNTIME_CALLS`] that `program` (compiled for `native`)
/// does not allow, with why that matters. Arguments are taken as 0.
pub fn denied_runtime_call(program: &[SockFilter], native: Arch) -> Option<(&'static str, &'static str)> {
    let (audit, table) = arch_info(native)?;
    RUNTIME_CALLS.iter().copied().find(|(name, _)| {
        let nr = match table.iter().find(|(n, _)| n == name) {
            Some((_, nr)) => *nr,
            None => return false,
        };
        // SECCOMP_RET_ACTION_FULL: allowed, or allowed and logged; an unknown answer refuses nothing.
        match eval(program, nr, audit, [0; 6]).map(|r| r & 0xffff_0000) {
            Some(action) => action != action_value(Action::Allow) && action != action_value(Action::Log),
            None => false,
        }
    })
}

fn vhi_vlo(v: u64) -> (u32, u32) {
    ((v >> 32) as u32, v as u32)
}

#[cfg(test)]
mod tests {
    use super::super::bpf::run;
    use super::super::SyscallRule;
    use super::*;

    const EPERM: u32 = 0x0005_0001;
    const ALLOW: u32 = 0x7fff_0000;
    const KILL: u32 = 0x8000_0000;

    fn rule(names: &[&str], action: Action, args: Vec<ArgRule>) -> SyscallRule {
        SyscallRule {
            names: names.iter().map(|s| s.to_string()).collect(),
            action,
            args,
        }
    }

    fn arg(index: u8, op: Op, value: u64, value_two: u64) -> ArgRule {
        ArgRule {
            index,
            value,
            value_two,
            op,
        }
    }

    fn profile() -> Seccomp {
        Seccomp {
            default_action: Action::Errno(1),
            architectures: vec![Arch::X86_64, Arch::X86, Arch::X32, Arch::Aarch64, Arch::Other],
            flags: 0,
            syscalls: vec![
                rule(&["read", "write", "close", "exit_group", "no_such_call"], Action::Allow, vec![]),
                rule(&["personality"], Action::Allow, vec![arg(0, Op::Eq, 0, 0)]),
                rule(&["personality"], Action::Allow, vec![arg(0, Op::Eq, 0xffff_ffff, 0)]),
                rule(&["clone"], Action::Allow, vec![arg(0, Op::MaskedEq, 0x7E02_0000, 0)]),
                rule(&["clone3"], Action::Errno(38), vec![]),
                rule(&["socket"], Action::Allow, vec![arg(0, Op::Ne, 40, 0)]),
                rule(&["mmap"], Action::Allow, vec![arg(2, Op::Lt, 1 << 33, 0), arg(2, Op::Ge, 1, 0)]),
                rule(&["mlock"], Action::Allow, vec![arg(1, Op::Gt, 4096, 0)]),
                rule(&["mlock"], Action::Log, vec![arg(1, Op::Le, 10, 0)]),
            ],
        }
    }

    type Call = fn(&[SockFilter], &str, [u64; 6]) -> u32;

    fn x64(p: &[SockFilter], name: &str, args: [u64; 6]) -> u32 {
        run(p, lookup(syscalls::X86_64, name).unwrap(), AUDIT_ARCH_X86_64, args)
    }

    fn i386(p: &[SockFilter], name: &str, args: [u64; 6]) -> u32 {
        run(p, lookup(syscalls::I386, name).unwrap(), AUDIT_ARCH_I386, args)
    }

    fn a64(p: &[SockFilter], name: &str, args: [u64; 6]) -> u32 {
        run(p, lookup(syscalls::AARCH64, name).unwrap(), AUDIT_ARCH_AARCH64, args)
    }

    /// Each program with the calls of the architectures it covers: an
    /// x86_64 runtime's (x86_64 and i386 calls) and an aarch64 runtime's.
    fn programs() -> Vec<(Vec<SockFilter>, Call)> {
        let x86 = compile_for(&profile(), Arch::X86_64).unwrap();
        let arm = compile_for(&profile(), Arch::Aarch64).unwrap();
        vec![(x86.clone(), x64 as Call), (x86, i386 as Call), (arm, a64 as Call)]
    }

    #[test]
    fn narrow_args_are_listed_by_name() {
        assert_eq!(narrow_args("ioctl"), 0b11);
        assert_eq!(narrow_args("mmap"), 0);
        let names: Vec<&str> = NARROW_ARGS.iter().map(|(n, _)| *n).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted, "NARROW_ARGS in name order");
    }

    #[test]
    fn allow_list_and_default() {
        let none = [0; 6];
        for (p, f) in programs() {
            for name in ["read", "write", "close", "exit_group"] {
                assert_eq!(f(&p, name, none), ALLOW, "{}", name);
            }
            for name in ["mount", "keyctl", "add_key", "unshare", "ptrace"] {
                assert_eq!(f(&p, name, none), EPERM, "{}", name);
            }
            assert_eq!(f(&p, "clone3", none), 0x0005_0026);
        }
        let p = compile_for(&profile(), Arch::X86_64).unwrap();
        // Newer than anything the profile names: ENOSYS, so libc falls back.
        assert_eq!(run(&p, 470, AUDIT_ARCH_X86_64, none), 0x0005_0026);
        assert_eq!(run(&p, 100_000, AUDIT_ARCH_I386, none), 0x0005_0026);
        // x32 calls get the default; other architectures are killed.
        assert_eq!(run(&p, 0x4000_0000, AUDIT_ARCH_X86_64, none), EPERM);
        assert_eq!(run(&p, 0, AUDIT_ARCH_AARCH64, none), KILL);
    }

    #[test]
    fn aarch64_uses_its_own_numbers_and_audit_arch() {
        let none = [0; 6];
        let p = compile_for(&profile(), Arch::Aarch64).unwrap();
        // The generic table's numbers, not i386's (3 is read there, 63 umask).
        assert_eq!(run(&p, 63, AUDIT_ARCH_AARCH64, none), ALLOW, "read");
        assert_eq!(run(&p, 219, AUDIT_ARCH_AARCH64, none), EPERM, "keyctl");
        assert_eq!(run(&p, 435, AUDIT_ARCH_AARCH64, none), 0x0005_0026, "clone3");
        assert_eq!(run(&p, 470, AUDIT_ARCH_AARCH64, none), 0x0005_0026);
        // x86 and arm32 (no table) processes are killed, whatever the profile lists.
        let arm32 = 0x4000_0028;
        for audit in [AUDIT_ARCH_X86_64, AUDIT_ARCH_I386, arm32] {
            assert_eq!(run(&p, 63, audit, none), KILL, "{:#x}", audit);
        }
        // A runtime built for an architecture without a table says so.
        assert!(compile_for(&profile(), Arch::Other).unwrap_err().contains("no seccomp syscall table"));
    }

    #[test]
    fn tables_are_sorted_and_aarch64_has_the_generic_numbers() {
        for table in [syscalls::X86_64, syscalls::I386, syscalls::AARCH64] {
            assert!(table.windows(2).all(|w| w[0].0 < w[1].0), "sorted for binary search");
        }
        let known = [
            ("read", 63),
            ("write", 64),
            ("openat", 56),
            ("clone", 220),
            ("execve", 221),
            ("mount", 40),
            ("unshare", 97),
            ("keyctl", 219),
            ("bpf", 280),
            ("clone3", 435),
            ("fcntl", 25),
            ("mmap", 222),
            ("fstat", 80),
            ("seccomp", 277),
            ("memfd_create", 279),
            ("pivot_root", 41),
            ("capset", 91),
        ];
        for (name, nr) in known {
            assert_eq!(lookup(syscalls::AARCH64, name), Some(nr), "{}", name);
        }
        // The generic table has only the *at forms and 64-bit names.
        for name in ["open", "stat", "fork", "fcntl64", "mmap2", "arch_specific_syscall"] {
            assert_eq!(lookup(syscalls::AARCH64, name), None, "{}", name);
        }
    }
    #[test]
    fn argument_rules() {
        let a = |v: u64, w: u64, x: u64| [v, w, x, 0, 0, 0];
        for (p, f) in programs() {
            assert_eq!(f(&p, "personality", a(0, 0, 0)), ALLOW);
            assert_eq!(f(&p, "personality", a(0xffff_ffff, 0, 0)), ALLOW);
            assert_eq!(f(&p, "personality", a(8, 0, 0)), EPERM);
            // personality takes an unsigned int: 0x1_0000_0000 is personality(0) (NARROW_ARGS).
            assert_eq!(f(&p, "personality", a(0x1_0000_0000, 0, 0)), ALLOW);
            assert_eq!(f(&p, "personality", a(0x1_0000_0008, 0, 0)), EPERM);
            // clone without namespace flags only.
            assert_eq!(f(&p, "clone", a(0x0100_0011, 0, 0)), ALLOW);
            assert_eq!(f(&p, "clone", a(0x1000_0000 | 17, 0, 0)), EPERM);
            assert_eq!(f(&p, "socket", a(2, 0, 0)), ALLOW);
            assert_eq!(f(&p, "socket", a(40, 0, 0)), EPERM);
            // socket's family is an int: high bits the kernel drops make no other family of AF_VSOCK.
            assert_eq!(f(&p, "socket", a(40 | 1 << 32, 0, 0)), EPERM);
            assert_eq!(f(&p, "socket", a(0xffff_ffff_0000_0028, 0, 0)), EPERM);
            assert_eq!(f(&p, "socket", a(2 | 1 << 32, 0, 0)), ALLOW);
            // Two conditions on one entry: 1 <= arg2 < 2^33.
            assert_eq!(f(&p, "mmap", a(0, 0, 1)), ALLOW);
            assert_eq!(f(&p, "mmap", a(0, 0, 0)), EPERM);
            assert_eq!(f(&p, "mmap", a(0, 0, 1 << 33)), EPERM);
            assert_eq!(f(&p, "mmap", a(0, 0, (1 << 33) - 1)), ALLOW);
            // Entries in order: > 4096 allowed, <= 10 logged, else the default.
            assert_eq!(f(&p, "mlock", a(0, 4097, 0)), ALLOW);
            assert_eq!(f(&p, "mlock", a(0, 1 << 40, 0)), ALLOW);
            assert_eq!(f(&p, "mlock", a(0, 4096, 0)), EPERM);
            assert_eq!(f(&p, "mlock", a(0, 10, 0)), 0x7ffc_0000);
            assert_eq!(f(&p, "mlock", a(0, 11, 0)), EPERM);
        }
    }

    #[test]
    fn runtime_calls_denied() {
        // Deny everything (the first profile many write): execve is what the user learns about.
        let mut p = profile();
        p.default_action = Action::Errno(1);
        for native in [Arch::X86_64, Arch::X86, Arch::Aarch64] {
            let prog = compile_for(&p, native).unwrap();
            assert_eq!(denied_runtime_call(&prog, native), Some(("execve", "no process could start")), "{:?}", native);
        }
        // execve allowed but not exit_group (trapped, killed or traced: none is an exit).
        for action in [Action::Errno(1), Action::Trap, Action::KillProcess, Action::KillThread, Action::Trace(1)] {
            p.syscalls = vec![rule(&["execve", "write"], Action::Allow, vec![]), rule(&["exit_group"], action, vec![])];
            p.default_action = Action::Allow;
            let prog = compile_for(&p, Arch::X86_64).unwrap();
            assert_eq!(denied_runtime_call(&prog, Arch::X86_64), Some(("exit_group", "no process could exit")), "{:?}", action);
        }
        // Allowed, logged, or allowed by argument (exit code 0 taken): the profile is the user's to keep; so is a denied write.
        p.default_action = Action::Errno(1);
        p.syscalls = vec![
            rule(&["execve"], Action::Log, vec![]),
            rule(&["exit_group"], Action::Allow, vec![arg(0, Op::Le, 255, 0)]),
        ];
        for native in [Arch::X86_64, Arch::X86, Arch::Aarch64] {
            assert_eq!(denied_runtime_call(&compile_for(&p, native).unwrap(), native), None, "{:?}", native);
        }
        assert_eq!(denied_runtime_call(&compile_for(&p, Arch::X86_64).unwrap(), Arch::Other), None, "no table: nothing to tell");
        // Numbers are the native table's: x86_64's execve (59) is i386's olduname, and the i386 section answers for i386.
        p.syscalls = vec![rule(&["execve", "exit_group"], Action::Allow, vec![])];
        p.architectures = vec![Arch::X86_64, Arch::X86];
        let prog = compile_for(&p, Arch::X86).unwrap();
        assert_eq!(denied_runtime_call(&prog, Arch::X86), None);
        assert_eq!(denied_runtime_call(&compile_for(&p, Arch::X86_64).unwrap(), Arch::X86_64), None);
    }

    #[test]
    fn allow_by_default_and_size() {
        let mut p = profile();
        p.default_action = Action::Allow;
        p.syscalls = vec![rule(&["mount"], Action::Errno(13), vec![])];
        let prog = compile_for(&p, Arch::X86_64).unwrap();
        assert_eq!(x64(&prog, "mount", [0; 6]), 0x0005_000d);
        assert_eq!(x64(&prog, "read", [0; 6]), ALLOW);
        assert_eq!(run(&prog, 470, AUDIT_ARCH_X86_64, [0; 6]), ALLOW);
        let prog = compile_for(&p, Arch::Aarch64).unwrap();
        assert_eq!(a64(&prog, "mount", [0; 6]), 0x0005_000d);
        assert_eq!(run(&prog, 470, AUDIT_ARCH_AARCH64, [0; 6]), ALLOW);
        // Every syscall of every table in one allow-list still fits.
        let all: Vec<&str> = syscalls::X86_64
            .iter()
            .chain(syscalls::I386)
            .chain(syscalls::AARCH64)
            .map(|(n, _)| *n)
            .collect();
        let mut big = profile();
        big.syscalls = vec![rule(&all, Action::Allow, vec![])];
        assert!(compile_for(&big, Arch::X86_64).unwrap().len() < 200);
        assert!(compile_for(&big, Arch::Aarch64).unwrap().len() < 200);
        // And the build target's own program is one of these.
        assert_eq!(compile(&big).unwrap(), compile_for(&big, Arch::native()).unwrap());
    }
}
