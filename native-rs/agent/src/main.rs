//! tsbox-agent: the vm guest's agent (see docs/architecture.md, "vm backend").
//! It is the guest's init (`/init`, see guest_init.rs) and then the agent: it speaks the framed protocol of `frame` over
//! the virtio console port /dev/hvc1 and runs containers with the very same
//! `container` crate the native backend's tsbox-runtime uses.
//!
//!   tsbox-agent [--device /dev/hvc1]
//!   tsbox-agent --version
//!   tsbox-agent net-dns … (a network's name server, started by its first container's keeper)

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

fn main() {
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
