//! `linux.seccomp` (OCI runtime spec) → [`Seccomp`]. src/spec/container-spec.ts
//! is authoritative for the TS side; errors name the JSON path.

use super::{Action, ArgRule, Arch, Op, Seccomp, SyscallRule};
use crate::json::Json;
use crate::spec::{expected, key, list, object, optional, optional_list, string, strings, SpecError};

type Result<T> = std::result::Result<T, SpecError>;

fn fail<T>(path: String, message: String) -> Result<T> {
    Err(SpecError { path, message })
}

/// errnoRet: OCI's default is EPERM.
fn errno_ret(o: &Json, k: &str, path: &str) -> Result<u16> {
    match o.get(k).filter(|v| !v.is_null()) {
        None => Ok(1),
        Some(v) => v
            .as_number()
            .and_then(|n| n.as_u32())
            .and_then(|n| u16::try_from(n).ok())
            .filter(|n| *n <= 4095)
            .ok_or_else(|| expected(&key(path, k), "an errno from 0 to 4095")),
    }
}

fn action(name: &str, errno: u16, path: &str) -> Result<Action> {
    Ok(match name {
        "SCMP_ACT_ALLOW" => Action::Allow,
        "SCMP_ACT_ERRNO" => Action::Errno(errno),
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => Action::KillThread,
        "SCMP_ACT_KILL_PROCESS" => Action::KillProcess,
        "SCMP_ACT_TRAP" => Action::Trap,
        "SCMP_ACT_TRACE" => Action::Trace(errno),
        "SCMP_ACT_LOG" => Action::Log,
        "SCMP_ACT_NOTIFY" => {
            return fail(path.into(), "SCMP_ACT_NOTIFY needs a listener tsbox does not have".into())
        }
        other => return fail(path.into(), format!("unknown seccomp action {:?}", other)),
    })
}

fn arch(v: &Json, path: &str) -> Result<Arch> {
    let name = string(Some(v), path)?;
    Ok(match name.as_str() {
        "SCMP_ARCH_X86_64" => Arch::X86_64,
        "SCMP_ARCH_X86" => Arch::X86,
        "SCMP_ARCH_X32" => Arch::X32,
        "SCMP_ARCH_AARCH64" => Arch::Aarch64,
        n if n.starts_with("SCMP_ARCH_") => Arch::Other,
        n => return fail(path.into(), format!("unknown architecture {:?}", n)),
    })
}

fn flag(v: &Json, path: &str) -> Result<u32> {
    let name = string(Some(v), path)?;
    Ok(match name.as_str() {
        // We are single-threaded when the filter is loaded: nothing to sync.
        "SECCOMP_FILTER_FLAG_TSYNC" => 0,
        "SECCOMP_FILTER_FLAG_LOG" => 2,
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => 4,
        n => return fail(path.into(), format!("unknown seccomp flag {:?}", n)),
    })
}

fn op(name: &str, path: &str) -> Result<Op> {
    Ok(match name {
        "SCMP_CMP_EQ" => Op::Eq,
        "SCMP_CMP_NE" => Op::Ne,
        "SCMP_CMP_LT" => Op::Lt,
        "SCMP_CMP_LE" => Op::Le,
        "SCMP_CMP_GT" => Op::Gt,
        "SCMP_CMP_GE" => Op::Ge,
        "SCMP_CMP_MASKED_EQ" => Op::MaskedEq,
        n => return fail(path.into(), format!("unknown comparison {:?}", n)),
    })
}

fn u64_value(o: &Json, k: &str, path: &str, required: bool) -> Result<u64> {
    match o.get(k).filter(|v| !v.is_null()) {
        None if !required => Ok(0),
        v => v
            .and_then(Json::as_number)
            .and_then(|n| n.as_u64())
            .ok_or_else(|| expected(&key(path, k), "an integer from 0 to 2^64-1")),
    }
}

fn arg_rule(v: &Json, path: &str) -> Result<ArgRule> {
    let o = object(Some(v), path)?;
    let index = o
        .get("index")
        .and_then(Json::as_number)
        .and_then(|n| n.as_u32())
        .filter(|i| *i < 6)
        .ok_or_else(|| expected(&key(path, "index"), "an argument index from 0 to 5"))?;
    Ok(ArgRule {
        index: index as u8,
        value: u64_value(o, "value", path, true)?,
        value_two: u64_value(o, "valueTwo", path, false)?,
        op: op(&string(o.get("op"), &key(path, "op"))?, &key(path, "op"))?,
    })
}

fn syscall_rule(v: &Json, path: &str) -> Result<SyscallRule> {
    let o = object(Some(v), path)?;
    let names = strings(o.get("names"), &key(path, "names"))?;
    if names.is_empty() {
        return Err(expected(&key(path, "names"), "at least one syscall name"));
    }
    let errno = errno_ret(o, "errnoRet", path)?;
    let action_path = key(path, "action");
    Ok(SyscallRule {
        names,
        action: action(&string(o.get("action"), &action_path)?, errno, &action_path)?,
        args: optional_list(o.get("args"), &key(path, "args"), arg_rule)?,
    })
}

/// `path`: where the object sits, e.g. "linux.seccomp".
pub fn parse(v: Option<&Json>, path: &str) -> Result<Seccomp> {
    let o = object(v, path)?;
    let errno = errno_ret(o, "defaultErrnoRet", path)?;
    let default_path = key(path, "defaultAction");
    let default_action = action(&string(o.get("defaultAction"), &default_path)?, errno, &default_path)?;
    let flags = optional_list(o.get("flags"), &key(path, "flags"), flag)?;
    Ok(Seccomp {
        default_action,
        architectures: optional_list(o.get("architectures"), &key(path, "architectures"), arch)?,
        flags: flags.iter().fold(0, |a, f| a | f),
        syscalls: match optional(o.get("syscalls"), &key(path, "syscalls"), |v, p| list(v, p, syscall_rule))? {
            Some(rules) => rules,
            None => Vec::new(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    fn parsed(text: &str) -> std::result::Result<Seccomp, String> {
        parse(Some(&json::parse(text).unwrap()), "linux.seccomp").map_err(|e| e.to_string())
    }

    #[test]
    fn reads_the_oci_form() {
        let s = parsed(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,
                "architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_AARCH64","SCMP_ARCH_ARM"],
                "flags":["SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
                "syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW"},
                            {"names":["clone"],"action":"SCMP_ACT_ALLOW",
                             "args":[{"index":0,"value":2114060288,"valueTwo":0,"op":"SCMP_CMP_MASKED_EQ"}]},
                            {"names":["clone3"],"action":"SCMP_ACT_ERRNO","errnoRet":38}]}"#,
        )
        .unwrap();
        assert_eq!(s.default_action, Action::Errno(1));
        assert_eq!(s.architectures, [Arch::X86_64, Arch::X86, Arch::Aarch64, Arch::Other]);
        assert_eq!(s.flags, 4);
        assert_eq!(s.syscalls[1].args[0].op, Op::MaskedEq);
        assert_eq!(s.syscalls[1].args[0].value, 2114060288);
        assert_eq!(s.syscalls[2].action, Action::Errno(38));
        let s = parsed(r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#).unwrap();
        assert!(s.syscalls.is_empty() && s.architectures.is_empty());
    }

    #[test]
    fn errors_name_the_path() {
        let cases = [
            (r#"{}"#, "linux.seccomp.defaultAction: expected a string"),
            (r#"{"defaultAction":"SCMP_ACT_NOPE"}"#, "linux.seccomp.defaultAction: unknown seccomp action"),
            (r#"{"defaultAction":"SCMP_ACT_NOTIFY"}"#, "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY needs"),
            (r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":70000}"#, "linux.seccomp.defaultErrnoRet: expected an errno"),
            (r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":[],"action":"SCMP_ACT_ALLOW"}]}"#, "linux.seccomp.syscalls[0].names: expected at least one"),
            (r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],"action":"SCMP_ACT_ALLOW","args":[{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#, "linux.seccomp.syscalls[0].args[0].index: expected an argument index"),
            (r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_LIKE"}]}]}"#, "linux.seccomp.syscalls[0].args[0].op: unknown comparison"),
            (r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["x86"]}"#, "linux.seccomp.architectures[0]: unknown architecture"),
            (r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_NEW_LISTENER"]}"#, "linux.seccomp.flags[0]: unknown seccomp flag"),
        ];
        for (text, want) in cases {
            let got = parsed(text).unwrap_err();
            assert!(got.starts_with(want), "got {:?}, want {:?}", got, want);
        }
    }
}
