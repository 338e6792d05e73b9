//! tsbox-init: PID 1 for `tsbox run --init`, built static (it runs on the
//! image's root, which need not have a libc) and bind-mounted read-only at
//! /dev/init. See container::init.
//!
//!   tsbox-init -- COMMAND [ARG...]

fn main() {
    let args: Vec<String> = std::env::args_os().skip(1).map(|a| a.to_string_lossy().into_owned()).collect();
    let env: Vec<String> = std::env::vars_os().map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy())).collect();
    std::process::exit(container::init::run(&args, &env));
}
