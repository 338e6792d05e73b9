//! tsbox-agent: the vm guest's agent (see docs/architecture.md, "vm backend").
//! It is the guest's init (`/init`, see guest_init.rs) and then the agent: it speaks the framed protocol of `frame` over
//! the virtio console port /dev/hvc1 and runs containers with the very same
//! `container` crate the native backend's tsbox-runtime uses.
//!
//!   tsbox-agent [--device /dev/hvc1]
//!   tsbox-agent --version
//!   tsbox-agent net-dns … (a network's name server, started by its first container's keeper)
//!   /dev/init -- COMMAND [ARG...] (`run --init`: bound there read-only, it is the container's tsbox-init)

mod agent;
mod guest_dir;
mod net_relay;
mod ops;
mod frame;
mod guest_init;
mod kept_layer;
mod supervisor;
mod stdio;
mod sys;

use std::path::PathBuf;

/// Where `run --init` binds this binary in a container (src/spec/data-options.ts
/// INIT_PATH; contract: test/fixtures/contract/guest-init.json). Started as
/// that, it is the container's PID 1 — not the guest's, which is PID 1 too.
const INIT_PATH: &str = "/dev/init";

fn main() {
    if std::env::args_os().next().map_or(false, |a| a == INIT_PATH) {
        // As native-rs/init's tsbox-init: `/dev/init -- COMMAND…`.
        let args: Vec<String> = std::env::args_os().skip(1).map(|a| a.to_string_lossy().into_owned()).collect();
        let env: Vec<String> = std::env::vars_os().map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy())).collect();
        std::process::exit(container::init::run(&args, &env));
    }
    if guest_init::is_init() {
        guest_init::run();
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("net-dns") {
        std::process::exit(match container::net::dns_server::Options::parse(&args[1..]) {
            Ok(o) => container::net::dns_server::main(o),
            Err(m) => {
                eprintln!("tsbox-agent net-dns: {}", m);
                2
            }
        });
    }
    let mut device = PathBuf::from("/dev/hvc1");
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--version" | "-V" => {
                println!("{}", agent::VERSION);
                return;
            }
            "--device" if i + 1 < args.len() => {
                device = PathBuf::from(&args[i + 1]);
                i += 1;
            }
            other => {
                eprintln!("tsbox-agent: unknown argument {} (usage: tsbox-agent [--device PATH] | --version)", other);
                std::process::exit(2);
            }
        }
        i += 1;
    }
    // The kernel gives init a hard RLIMIT_NOFILE of 4096; a container's user
    // namespace cannot raise its limits above ours, and specs ask for more.
    if let Err(e) = container::sys::cred::setrlimit(7, 1 << 20, 1 << 20) {
        eprintln!("tsbox-agent: raising RLIMIT_NOFILE: {}", e.description());
    }
    // Profiling: `TSBOX_TRACE=1` on the kernel command line (init's environment).
    if std::env::var_os("TSBOX_TRACE").is_some() {
        if let Ok(fd) = sys::open_path(std::path::Path::new("/dev/console"), sys::O_RDWR | sys::O_NOCTTY | sys::O_CLOEXEC) {
            container::trace::set_fd(fd);
        }
    }
    let link = match open_link(&device) {
        Ok(fd) => fd,
        Err(m) => {
            eprintln!("tsbox-agent: {}", m);
            std::process::exit(1);
        }
    };
    let mut agent = match agent::Agent::new(link) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("tsbox-agent: {}", e.description());
            std::process::exit(1);
        }
    };
    // The containers' way out through the host (DNS, TCP); without it they reach only the guest.
    match net_relay::Relay::start() {
        Ok(r) => agent.relay = Some(r),
        Err(m) => eprintln!("tsbox-agent: no outbound network for containers: {}", m),
    }
    agent.run()
}

/// The host link: opened, exclusive (the agent's alone, see
/// sys::set_exclusive) and raw.
fn open_link(device: &std::path::Path) -> Result<std::os::raw::c_int, String> {
    let dev = device.display();
    let link = sys::open_path(device, sys::O_RDWR | sys::O_NOCTTY | sys::O_CLOEXEC)
        .map_err(|e| format!("cannot open {}: {}", dev, e.description()))?;
    sys::set_exclusive(link).map_err(|e| format!("cannot make {} exclusive: {}", dev, e.description()))?;
    sys::make_raw(link).map_err(|e| format!("cannot put {} in raw mode: {}", dev, e.description()))?;
    Ok(link)
}

#[cfg(test)]
mod tests {
    use container::contract::fixture;
    use container::json::Json;

    #[test]
    fn contract_guest_init() {
        let fx = fixture("guest-init.json");
        assert_eq!(fx.get("initPath").and_then(Json::as_str), Some(super::INIT_PATH));
        assert_eq!(fx.get("guestSource").and_then(Json::as_str), Some(crate::guest_init::AGENT_PATH));
    }
}
