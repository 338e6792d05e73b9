//! A [`Seccomp`] as one BPF program:
//!
//! ```text
//!   A = arch; one jump per architecture; else kill the process
//! arch:
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

use super::bpf::{Asm, Label, SockFilter, JEQ_K, JGE_K, JGT_K, MAX_INSNS};
use super::syscalls;
use super::{Action, ArgRule, Arch, Op, Seccomp};
use std::collections::BTreeMap;

const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
/// Offsets in struct seccomp_data: nr, arch, then args[6] as u64 (x86 is
/// little-endian: low word first).
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Leaf {
    Ret(u32),
    /// Index of the syscall's argument rules.
    Rules(usize),
}

pub fn compile(s: &Seccomp) -> Result<Vec<SockFilter>, String> {
    let mut arches = vec![Arch::native()];
    for a in &s.architectures {
        if matches!(a, Arch::X86_64 | Arch::X86) && !arches.contains(a) {
            arches.push(*a);
        }
    }
    arches.sort_by_key(|a| *a != Arch::X86_64);
    let mut asm = Asm::default();
    asm.load(OFF_ARCH);
    let labels: Vec<(Arch, Label)> = arches.iter().map(|a| (*a, asm.label())).collect();
    for (arch, label) in &labels {
        let audit = match arch {
            Arch::X86_64 => AUDIT_ARCH_X86_64,
            _ => AUDIT_ARCH_I386,
        };
        asm.jump_if(JEQ_K, audit, *label);
    }
    // An architecture the profile does not cover (libseccomp's default).
    asm.ret(action_value(Action::KillProcess));
    for (arch, label) in labels {
        asm.bind(label);
        let table = match arch {
            Arch::X86_64 => syscalls::X86_64,
            _ => syscalls::I386,
        };
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
    for rule in &s.syscalls {
        for name in &rule.names {
            if let Some(nr) = lookup(table, name) {
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
    let mut rules: Vec<Entries> = Vec::new();
    let mut intervals: Vec<(u32, Leaf)> = Vec::new();
    let mut next = 0u32;
    for (nr, entries) in per_nr {
        if nr > next {
            intervals.push((next, Leaf::Ret(default)));
        }
        let leaf = if entries[0].0.is_empty() {
            Leaf::Ret(action_value(entries[0].1))
        } else {
            rules.push(entries);
            Leaf::Rules(rules.len() - 1)
        };
        intervals.push((nr, leaf));
        next = nr + 1;
    }
    intervals.push((next, Leaf::Ret(beyond)));
    intervals.dedup_by(|later, earlier| later.1 == earlier.1);

    let rule_labels: Vec<Label> = rules.iter().map(|_| asm.label()).collect();
    search(asm, &intervals, &rule_labels);
    for (entries, label) in rules.iter().zip(rule_labels) {
        asm.bind(label);
        for (args, action) in entries {
            let next = asm.label();
            for arg in args {
                check(asm, arg, next);
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
/// argument is 64 bits: high word compared first.
fn check(asm: &mut Asm, c: &ArgRule, fail: Label) {
    let lo = OFF_ARGS + 8 * c.index as u32;
    let hi = lo + 4;
    let (vhi, vlo) = ((c.value >> 32) as u32, c.value as u32);
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
            architectures: vec![Arch::X86_64, Arch::X86, Arch::X32],
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

    fn x64(p: &[SockFilter], name: &str, args: [u64; 6]) -> u32 {
        run(p, lookup(syscalls::X86_64, name).unwrap(), AUDIT_ARCH_X86_64, args)
    }

    fn i386(p: &[SockFilter], name: &str, args: [u64; 6]) -> u32 {
        run(p, lookup(syscalls::I386, name).unwrap(), AUDIT_ARCH_I386, args)
    }

    #[test]
    fn allow_list_and_default() {
        let p = compile(&profile()).unwrap();
        let none = [0; 6];
        for f in [x64, i386] {
            for name in ["read", "write", "close", "exit_group"] {
                assert_eq!(f(&p, name, none), ALLOW, "{}", name);
            }
            for name in ["mount", "keyctl", "add_key", "unshare", "ptrace"] {
                assert_eq!(f(&p, name, none), EPERM, "{}", name);
            }
            assert_eq!(f(&p, "clone3", none), 0x0005_0026);
        }
        // Newer than anything the profile names: ENOSYS, so libc falls back.
        assert_eq!(run(&p, 470, AUDIT_ARCH_X86_64, none), 0x0005_0026);
        assert_eq!(run(&p, 100_000, AUDIT_ARCH_I386, none), 0x0005_0026);
        // x32 calls get the default; other architectures are killed.
        assert_eq!(run(&p, 0x4000_0000, AUDIT_ARCH_X86_64, none), EPERM);
        assert_eq!(run(&p, 0, 0xC000_00B7, none), 0x8000_0000);
    }

    #[test]
    fn argument_rules() {
        let p = compile(&profile()).unwrap();
        let a = |v: u64, w: u64, x: u64| [v, w, x, 0, 0, 0];
        for f in [x64, i386] {
            assert_eq!(f(&p, "personality", a(0, 0, 0)), ALLOW);
            assert_eq!(f(&p, "personality", a(0xffff_ffff, 0, 0)), ALLOW);
            assert_eq!(f(&p, "personality", a(8, 0, 0)), EPERM);
            assert_eq!(f(&p, "personality", a(0x1_0000_0000, 0, 0)), EPERM);
            // clone without namespace flags only.
            assert_eq!(f(&p, "clone", a(0x0100_0011, 0, 0)), ALLOW);
            assert_eq!(f(&p, "clone", a(0x1000_0000 | 17, 0, 0)), EPERM);
            assert_eq!(f(&p, "socket", a(2, 0, 0)), ALLOW);
            assert_eq!(f(&p, "socket", a(40, 0, 0)), EPERM);
            assert_eq!(f(&p, "socket", a(40 | 1 << 32, 0, 0)), ALLOW);
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
    fn allow_by_default_and_size() {
        let mut p = profile();
        p.default_action = Action::Allow;
        p.syscalls = vec![rule(&["mount"], Action::Errno(13), vec![])];
        let prog = compile(&p).unwrap();
        assert_eq!(x64(&prog, "mount", [0; 6]), 0x0005_000d);
        assert_eq!(x64(&prog, "read", [0; 6]), ALLOW);
        assert_eq!(run(&prog, 470, AUDIT_ARCH_X86_64, [0; 6]), ALLOW);
        // Every syscall of both tables in one allow-list still fits.
        let all: Vec<&str> = syscalls::X86_64.iter().chain(syscalls::I386).map(|(n, _)| *n).collect();
        let mut big = profile();
        big.syscalls = vec![rule(&all, Action::Allow, vec![])];
        assert!(compile(&big).unwrap().len() < 200);
    }
}
