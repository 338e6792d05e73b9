/**
 * ContainerSpec: the one contract between front ends (CLI, library API) and
 * backends. It is a subset of the OCI runtime spec (config.json) with the same
 * field names, plus `root.overlay`, a tsbox extension that describes the
 * rootfs as image layers to be stacked by overlayfs *inside* the container's
 * user namespace (rootless overlay needs the mount to be made there).
 *
 * The native backend serialises it to `<bundle>/config.json` and hands it to
 * the `tsbox-runtime` helper (native-rs/runtime); the vm guest agent reads the
 * same JSON. Keep this file and native-rs/container/src/spec.rs in step.
 */

export interface ContainerSpec {
  ociVersion: string;
  process: ProcessSpec;
  root: RootSpec;
  hostname?: string;
  /** Applied in order after the rootfs is in place; destinations are container paths. */
  mounts: MountSpec[];
  linux: LinuxSpec;
  annotations?: Record<string, string>;
  /** tsbox extension: networks to join, published ports, the /etc files (native-rs/container/src/net/spec.rs). */
  network?: NetworkSpec;
}

export interface ProcessSpec {
  /** Allocate a controlling terminal: stdin (fd 0) must be a pty slave. */
  terminal: boolean;
  consoleSize?: { height: number; width: number };
  user: { uid: number; gid: number; additionalGids?: number[] };
  /** argv; args[0] is looked up in PATH from `env` when it has no slash. */
  args: string[];
  /** "KEY=VALUE" entries, as in OCI. */
  env: string[];
  /** Absolute path inside the container; created if missing (like docker's WORKDIR). */
  cwd: string;
  capabilities?: Capabilities;
  rlimits?: Rlimit[];
  noNewPrivileges: boolean;
  /** /proc/self/oom_score_adj of the process, -1000..1000 (lowering it needs root). */
  oomScoreAdj?: number;
}

export interface Capabilities {
  bounding: string[];
  effective: string[];
  permitted: string[];
  inheritable: string[];
  ambient: string[];
}

export interface Rlimit {
  type: string; // e.g. "RLIMIT_NOFILE"
  soft: number;
  hard: number;
}

export interface RootSpec {
  /** Host directory that becomes `/`. With `overlay`, it is an empty mount point. */
  path: string;
  readonly: boolean;
  overlay?: OverlaySpec;
}

export interface OverlaySpec {
  /** Read-only image layers, topmost first (overlayfs lowerdir order). */
  lower: string[];
  /** Writable layer and overlayfs work dir; both empty dirs on the same fs. */
  upper: string;
  work: string;
  /**
   * The upper dir is not kept as it is (`--rm`, a build step's, which becomes an image layer): mounted `volatile`,
   * so its unmount at the container's exit
   * does not sync the file system holding it (an ext4 journal commit and a cache flush on every run). The helper
   * mounts without it on kernels before 5.10, and clears the mark a volatile mount leaves before mounting again.
   */
  volatile?: boolean;
}

export interface MountSpec {
  destination: string;
  /** "bind", "proc", "tmpfs", "sysfs", "devpts", "mqueue", "cgroup", … */
  type: string;
  source: string;
  /** OCI mount options: "ro", "rw", "nosuid", "nodev", "noexec", "rbind", "bind", "mode=755", … */
  options: string[];
}

export type NamespaceType = "user" | "pid" | "mount" | "uts" | "ipc" | "network" | "cgroup";

export interface IdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

/**
 * A namespace to create (neither field), to join by `path`, or (tsbox) to
 * join as the running container `container` (its id) has it: looked up at
 * each start, which sets `path` (native-rs/container/src/peer.rs; the vm
 * backend's container-run.ts).
 */
export interface NamespaceEntry {
  type: NamespaceType;
  path?: string;
  container?: string;
}

export interface LinuxSpec {
  namespaces: NamespaceEntry[];
  uidMappings: IdMapping[];
  gidMappings: IdMapping[];
  maskedPaths: string[];
  readonlyPaths: string[];
  /** cgroup limits (native-rs/container/src/cgroups). */
  resources?: LinuxResources;
  /**
   * The container's cgroup: absolute (from each hierarchy's root) or relative
   * (under the cgroup tsbox may use: the root for root, the delegated one
   * rootless). Default `tsbox/<container id>`.
   */
  cgroupsPath?: string;
  /**
   * tsbox extension. `enabled` (default): a cgroup where one can be made, with
   * one warning naming the limits that cannot be applied; `required`: that is an
   * error; `disabled`: no cgroup (then `resources` must set no limit).
   */
  cgroupsMode?: CgroupsMode;
  /** The system-call filter (OCI's form); absent: none (seccomp=unconfined). */
  seccomp?: LinuxSeccomp;
  /** Kernel parameters of the container's own IPC, network and UTS namespaces (spec/sysctl.ts). */
  sysctl?: Record<string, string>;
  /**
   * tsbox extension (`--userns=auto`), instead of uidMappings/gidMappings:
   * the runtime maps container ids 0..size-1 onto a slice of these host
   * ranges that no running container holds, and shows the image layers and
   * volumes through idmapped mounts.
   */
  usernsAuto?: { size: number; uids: { start: number; count: number }; gids: { start: number; count: number } };
}

export type CgroupsMode = "enabled" | "required" | "disabled";

/** OCI `linux.resources`, the part tsbox applies. Bytes and microseconds. */
export interface LinuxResources {
  /** `swap` is memory + swap together (docker's --memory-swap); -1 unlimited. */
  memory?: { limit?: number; reservation?: number; swap?: number };
  /** `shares` 2..262144; CFS `quota`/`period` in µs (quota -1: none); `cpus`/`mems` like "0-2,4". */
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string; mems?: string };
  /** 0 or -1: unlimited. */
  pids?: { limit: number };
  /** 10..1000. */
  blockIO?: { weight?: number };
}

// --- seccomp (OCI runtime spec `linux.seccomp`; native-rs/container/src/seccomp/config.rs reads it)

export type SeccompAction =
  | "SCMP_ACT_ALLOW"
  | "SCMP_ACT_ERRNO"
  | "SCMP_ACT_KILL"
  | "SCMP_ACT_KILL_THREAD"
  | "SCMP_ACT_KILL_PROCESS"
  | "SCMP_ACT_TRAP"
  | "SCMP_ACT_TRACE"
  | "SCMP_ACT_LOG";

export type SeccompOp = "SCMP_CMP_EQ" | "SCMP_CMP_NE" | "SCMP_CMP_LT" | "SCMP_CMP_LE" | "SCMP_CMP_GT" | "SCMP_CMP_GE" | "SCMP_CMP_MASKED_EQ";

export interface LinuxSeccomp {
  defaultAction: SeccompAction;
  /** The errno of SCMP_ACT_ERRNO as the default action; OCI's default is EPERM (1). */
  defaultErrnoRet?: number;
  /** SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32, SCMP_ARCH_AARCH64 (others get no table: their processes are killed). */
  architectures?: string[];
  /** SECCOMP_FILTER_FLAG_TSYNC, _LOG, _SPEC_ALLOW. */
  flags?: string[];
  /** Tried in order per syscall; names this architecture lacks are skipped. */
  syscalls?: SeccompSyscall[];
}

export interface SeccompSyscall {
  names: string[];
  action: SeccompAction;
  errnoRet?: number;
  /** All must hold for `action` to apply. */
  args?: SeccompArg[];
}

export interface SeccompArg {
  /** Argument 0 to 5. */
  index: number;
  value: number;
  /** MASKED_EQ: `(arg & value) === valueTwo`. */
  valueTwo?: number;
  op: SeccompOp;
}

/**
 * What the container machinery does for a container's network before it
 * starts (native-rs/container/src/net/): write `hosts`, `resolv.conf` and
 * `hostname` into `dir` (the spec's mounts bind them onto /etc), and, for
 * each of `attach`, join that network's bridge with a veth pair and an
 * address leased from its subnet, then publish `ports`.
 */
export interface NetworkSpec {
  /** Where the files and the attachment records (`attach-<network>.json`) go: the bundle's `net/`. */
  dir: string;
  container: { id: string; name?: string };
  hostname: string;
  /** `--domainname`: the container's own /etc/hosts lines name `hostname.domainname hostname`, as libnetwork's. */
  domainname?: string;
  hosts: {
    /** Start from this hosts file (host networking); default: localhost lines. */
    base?: string;
    /** `--add-host` entries, resolved (host-gateway is an address here). */
    extra: { ip: string; names: string[] }[];
  };
  dns: { servers: string[]; search: string[]; options: string[] };
  /** Networks to join; the first gets the default route (and the published ports). */
  attach: NetworkAttachment[];
  ports: PortMapping[];
  /** Rootless: the bridges live in the user's network namespace, kept in `dir`, reached through `helper`. */
  /** `idleSeconds`: how long the namespace stays after its last container (absent: 0, it stops with it). */
  /** `hostLoopback`: 10.0.2.2 leads to the host's loopback (`$TSBOX_HOST_LOOPBACK`; absent: it does not). */
  rootless?: { dir: string; helper: "pasta" | "slirp4netns"; idleSeconds?: number; hostLoopback?: boolean };
  /**
   * `network connect` of a running container that lost its gateway endpoint (network/gateway.ts): this attachment
   * takes the default route and `ports` although other networks are attached. Absent: only a container on no
   * network gets them.
   */
  gatewayEndpoint?: boolean;
}

export interface NetworkAttachment {
  name: string;
  bridge: string;
  subnet: string;
  gateway: string;
  mtu: number;
  /** The network's state: leases, lock, DNS server pid. */
  dir: string;
  /** A DNS server on the gateway answers with the network's container names. */
  dns: boolean;
  /** Outbound traffic is masqueraded. */
  nat: boolean;
  /** The bridge and its rules stay when the network's last container leaves (the vm guest's: they go with the guest). */
  keepBridge?: boolean;
  /** `--internal`: no default route through it, no upstream DNS (the vm agent's relay refuses its addresses too). */
  internal?: boolean;
  /** The network's record on this host: a join finding it gone refuses (`network rm` deletes it under the lock). */
  record?: string;
  aliases: string[];
  /** A fixed address (`--ip`). */
  ip?: string;
  /** `--mac-address`: the container's interface on it takes this address (`aa:bb:cc:dd:ee:ff`, unicast). */
  mac?: string;
  /** Where that DNS server sends other names. */
  upstream: string[];
}

export interface PortMapping {
  hostIp: string;
  /** 0: any free port. */
  hostPort: number;
  /**
   * A host range for one container port (`-p 8000-8010:80`, docker's): the first free port from `hostPort` to this
   * one is bound (the attachment record and `port` show which).
   */
  hostPortEnd?: number;
  containerPort: number;
  protocol: "tcp" | "udp";
}
