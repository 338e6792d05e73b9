import type { DockerSeccompProfile } from "./seccomp/docker-profile.js";
import type { HealthcheckOptions } from "../containers/healthcheck.js";
import type { CgroupsMode, PortMapping } from "./container-spec.js";
import type { MemorySize, ResourceOptions } from "./resources.js";
import type { BindRecursive } from "./propagation.js";

export type { ResourceOptions };

/** What a user asks for when running a container (library API and CLI alike). */
export interface RunOptions {
  /** Image reference, e.g. `busybox` or `busybox:latest`. */
  image: string;
  /** `os/arch[/variant]` of the image to run (docker's `--platform`): one the backend runs; default its own. */
  platform?: string;
  /** docker's `--pull`: `missing` (default) pulls an image not in the store, `always` before every run, `never` not at all. */
  pull?: "missing" | "always" | "never";
  /** Replaces the image's Cmd. */
  cmd?: string[];
  /** Replaces the image's Entrypoint (and then the image's Cmd is dropped, as in docker). */
  entrypoint?: string[];
  /** Added to (and overriding) the image's Env. */
  env?: Record<string, string> | string[];
  /** Absolute working directory; default the image's WorkingDir, else `/`. */
  workdir?: string;
  /** `UID[:GID]`, `NAME[:GROUP]` (looked up in the image's /etc/passwd and /etc/group). */
  user?: string;
  /** Default: the first 12 characters of the container id. */
  hostname?: string;
  /**
   * docker's `--domainname`: the NIS domain name of the container's own UTS namespace (`domainname`,
   * `/proc/sys/kernel/domainname`), and its `/etc/hosts` lines name it `HOSTNAME.DOMAINNAME HOSTNAME`.
   */
  domainname?: string;
  /**
   * docker's `--mac-address`: the MAC address of the container's interface on its (first) network, a bridge or
   * user network (`aa:bb:cc:dd:ee:ff`, unicast); refused with none, host and container:NAME, which have none of
   * their own to set.
   */
  macAddress?: string;
  volumes?: VolumeOption[];
  /** Mount the container's root read-only. */
  readOnly?: boolean;
  /**
   * Give the container a pseudo-terminal (of this size; default 80x24):
   * stdout and stderr become one stream on `stdout`.
   */
  tty?: boolean | { cols: number; rows: number };
  /** `true`: a writable `stdin` stream; `"inherit"`: this process's stdin; default: /dev/null. */
  stdin?: boolean | "inherit";
  /** Default `"pipe"` (a Readable on the Container); `"inherit"` writes to this process's stdout. */
  stdout?: "pipe" | "inherit";
  stderr?: "pipe" | "inherit";
  /** Delete the container (its writable layer included) once it exits. */
  remove?: boolean;
  /** A unique name usable instead of the id. */
  name?: string;
  /** Capabilities added to the default set (docker's names: `NET_ADMIN`, `CAP_NET_ADMIN`, or `ALL`). */
  capAdd?: string[];
  /** Capabilities removed from the default set (`ALL`: every one not in capAdd). */
  capDrop?: string[];
  /**
   * The system-call filter: `"default"` (docker's default profile, the
   * default), `"unconfined"` (none), or a profile in docker's JSON format.
   */
  seccomp?: "default" | "unconfined" | DockerSeccompProfile;
  /** no_new_privs: setuid binaries and file capabilities grant nothing. Default true. */
  noNewPrivileges?: boolean;
  /**
   * docker's `--privileged`: every capability (of the container's user
   * namespace), no seccomp filter, no masked or read-only kernel paths, a
   * writable /sys and, on the native backend, the host's device nodes.
   */
  privileged?: boolean;
  /** docker's `--security-opt systempaths=unconfined`: /proc and /sys paths are neither masked nor read-only. */
  systemPaths?: "default" | "unconfined";
  /**
   * docker's `--ipc`: `private`/`shareable` (the default: an IPC namespace
   * and a /dev/shm of its own), `host` (the host's IPC namespace and
   * /dev/shm; native backend), `none` (no /dev/shm) or `container:NAME`
   * (that running container's IPC namespace and /dev/shm).
   */
  ipc?: "private" | "shareable" | "host" | "none" | `container:${string}`;
  /** docker's `--pid host` (the host's PID namespace and /proc; native backend) or `container:NAME` (that running container's). */
  pid?: "private" | "host" | `container:${string}`;
  /** docker's `--uts host`: the host's UTS namespace, so its hostname (native backend; not with `hostname`). */
  uts?: "host";
  /** Size of the container's /dev/shm (docker's `--shm-size`; default 64m). */
  shmSize?: MemorySize;
  /** Host device nodes for the container (docker's `--device`; native backend only). */
  devices?: DeviceOption[];
  /**
   * docker's health check over the image's HEALTHCHECK (`--health-cmd`,
   * `--health-interval`, …; durations in ms); `false` turns the image's off
   * (`--no-healthcheck`). Run by the container's monitor: containers started
   * detached or with `create`/`start` (native backend).
   */
  healthcheck?: HealthcheckOptions | false;
  /**
   * `"auto"`: the container's root is a subordinate id of its own, not the
   * host's root (tsbox as root only; see docs/security.md).
   */
  userns?: "auto";
  /** cgroup limits, in docker's terms (`{ memory: "32m", cpus: 0.5, pidsLimit: 10 }`). */
  resources?: ResourceOptions;
  /**
   * `enabled` (default, or `$TSBOX_CGROUPS`): a cgroup where one can be made (rootless: a
   * delegated one), else one warning naming the limits not applied; `required`: that is an
   * error; `disabled`: no cgroup.
   */
  cgroups?: CgroupsMode;
  /** The cgroup the container's goes under (docker's --cgroup-parent; default `tsbox`, or `$TSBOX_CGROUP_PARENT`). */
  cgroupParent?: string;
  /** oom_score_adj of the container's processes, -1000..1000 (lowering it needs root). */
  oomScoreAdj?: number;
  /**
   * docker's `--restart`: `no` (default), `on-failure[:max-retries]`,
   * `always`, `unless-stopped`. Any but `no` runs the container under a
   * monitor (it outlives this process; logs are kept).
   */
  restart?: string;
  /** What `stop` sends first; default the image's StopSignal, else SIGTERM. */
  stopSignal?: string;
  /** Seconds `stop` waits before SIGKILL; default 10. */
  stopTimeout?: number;
  /**
   * The container's log: docker's json-file, rotated at `maxSize` bytes per file (default 10 MiB), `maxFiles`
   * files kept (default 3); `driver: "none"` (docker's `--log-driver none`) keeps none: output reaches only
   * those attached, and `logs()` says the container has no log to read.
   */
  log?: { driver?: "json-file" | "none"; maxSize?: number; maxFiles?: number };
  /** Mounts in docker's `--mount` terms: bind, named or anonymous volume, tmpfs. */
  mounts?: MountOption[];
  /** tmpfs mounts by container path, each with its mount options (`--tmpfs /run:size=64m,mode=1777`). */
  tmpfs?: Record<string, string>;
  /**
   * The image's VOLUME paths (podman's `--image-volume`): `volume` (default, docker's) an anonymous
   * volume each, filled from the image; `tmpfs` a tmpfs each; `ignore` none (the path stays in the
   * container's own layer). A mount of the run at the same path takes its place.
   */
  imageVolume?: "volume" | "tmpfs" | "ignore";
  /** Labels on the container (docker's Config.Labels, over the image's). */
  labels?: Record<string, string>;
  /** Every volume and bind mount of these containers, at the same paths (`--volumes-from NAME[:ro|rw]`). */
  volumesFrom?: string[];
  /** More supplementary groups for the process (`--group-add`): names in the image's /etc/group, or gids. */
  groupAdd?: string[];
  /** Ports the container exposes beyond the image's EXPOSE (`--expose 80`, `8000-8002/udp`): what `publishAll` publishes. */
  expose?: string[];
  /** Per-process resource limits (`--ulimit nofile=1024:2048`); -1 is unlimited. */
  ulimits?: UlimitOption[];
  /** docker's `--sysctl`: parameters of the container's own IPC, network or UTS namespace (`net.ipv4.ip_forward: "1"`). */
  sysctls?: Record<string, string>;
  /** A tiny init as PID 1 that reaps zombies and forwards signals to the command (`--init`). */
  init?: boolean;
  // --- networking (src/network/plan.ts) ---
  /**
   * `bridge` (the default network), a network's name, `none` (only lo),
   * `host` (the host's network) or `container:NAME|ID` (another running
   * container's). Default: the Runtime's `network` option, $TSBOX_NETWORK, else `bridge`.
   */
  network?: string;
  /**
   * Several networks to join (docker 25+'s `--network a --network b`), instead of `network`: user-defined ones or
   * `bridge`; the first is planned as `network` is (`ip` and published ports are its), the others connected before
   * the start, as `network connect` would.
   */
  networks?: string[];
  /** More names the container has on a user-defined network's DNS (on each of its networks). */
  networkAliases?: string[];
  /** A fixed address on the network. */
  ip?: string;
  /**
   * `-p`: `"8080:80"`, `"127.0.0.1:8080:80/udp"`, `"80"` (any free host port), or mappings, whose host side may
   * be left out (`{ containerPort: 80 }`: any address, a free port, tcp).
   */
  publish?: (string | (Partial<PortMapping> & Pick<PortMapping, "containerPort">))[];
  /** `-P`: publish every port the image EXPOSEs on free host ports. */
  publishAll?: boolean;
  /** `"NAME:IP"` lines for /etc/hosts; `"NAME:host-gateway"` is the host. */
  addHosts?: string[];
  /** Name servers, search domains and resolver options for /etc/resolv.conf (default: the network's). */
  dns?: string[];
  dnsSearch?: string[];
  dnsOptions?: string[];
}

/**
 * `-v`: a host path (bind mount), a named volume (created on first use, and
 * filled with the image's content at `container` when new), or with neither
 * a new anonymous volume.
 */
export interface VolumeOption {
  /** Absolute host path; must exist. */
  host?: string;
  /** Name of a volume (`tsbox volume ls`). */
  volume?: string;
  /** Absolute path inside the container. */
  container: string;
  readonly?: boolean;
  /** A volume: do not fill it with the image's content when it is new. */
  noCopy?: boolean;
  /** A bind mount's propagation (`-v /h:/c:rslave`): private (default), slave, shared and their r forms. */
  propagation?: string;
  /** A bind's `-v /h:/c:rro` (docker 25): `readonly`, read-only with every mount below it, as `--mount …,bind-recursive=readonly`. */
  recursive?: BindRecursive;
  /**
   * A bind's `-v /h:/c:idmap` (podman's), with `userns: "auto"` only: shown through the container's mapping, so its
   * root owns what the host's root owns there and acts as the host's root on those files (docs/security.md).
   */
  idmap?: boolean;
}

export type MountOption =
  | {
      type: "bind";
      source: string;
      target: string;
      readonly?: boolean;
      /** private (default: rprivate), slave, shared and their r forms; slave and shared need a source on such a mount. */
      propagation?: string;
      /** docker's `bind-recursive`: the mounts below the source bound too (`enabled`, the default: read-only with a read-only bind), or not (`disabled`); `writable` leaves them writable under a read-only bind. */
      recursive?: BindRecursive;
    }
  | {
      type: "volume";
      /** Volume name; none: a new anonymous volume. */
      source?: string;
      target: string;
      readonly?: boolean;
      /** Do not fill a new volume with the image's content at `target`. */
      noCopy?: boolean;
      /** Labels for a volume this mount creates. */
      labels?: Record<string, string>;
      /**
       * docker's local driver options for a volume this mount creates (`volume-opt`): `{ type: "none", o: "bind",
       * device: "/host/dir" }` or `{ type: "tmpfs", device: "tmpfs", o: "size=64m" }`; an existing volume must have the same.
       */
      volumeOptions?: Record<string, string>;
    }
  | { type: "tmpfs"; target: string; /** bytes */ size?: number; /** e.g. 0o1777 */ mode?: number; options?: string[] };

export interface UlimitOption {
  /** docker's name: nofile, nproc, core, memlock, stack, … */
  name: string;
  soft: number;
  hard: number;
}

/** docker's `--device HOST[:CONTAINER[:PERMISSIONS]]`. */
export interface DeviceOption {
  /** The host's device node (a directory: every node under it). */
  path: string;
  /** Where the container sees it; default the same path. */
  containerPath?: string;
  /** docker's cgroup permissions, `rwm`: tsbox gives a device read and write, so they must include both. */
  permissions?: string;
}
