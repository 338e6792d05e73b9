import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { isIP } from "node:net";
import { isAbsolute, resolve as resolvePath } from "node:path";
import { UsageError } from "../errors.js";
import { isErrno, systemErrorText } from "../fs-util.js";
import type { RunOptions, VolumeOption } from "../spec/run-options.js";
import { checkDockerProfile, type DockerSeccompProfile } from "../spec/seccomp/docker-profile.js";
import { allValues, type FlagDef, lastValue, parseFlags, type ParsedFlags } from "./flags.js";
import { RESOURCE_FLAGS, RESOURCE_USAGE, resourceOptions } from "./resource-flags.js";
import { dataFlagOptions, DATA_FLAGS, DATA_USAGE, readKeyValueFile } from "./run-flags-data.js";
import { bindRecursiveProblem, PROPAGATIONS } from "../spec/propagation.js";
import { parseDeviceFlag } from "../containers/devices.js";
import { withoutSlash } from "../containers/names.js";
import { type HealthcheckOptions, parseDuration } from "../containers/healthcheck.js";
import { parseDetachKeys } from "./detach-keys.js";

/** What `run` and `exec` both take: the process's stdio, environment, cwd and user. */
export const PROCESS_FLAGS: FlagDef[] = [
  { name: "interactive", short: "i" },
  { name: "tty", short: "t" },
  { name: "env", short: "e", value: true, repeat: true },
  { name: "env-file", value: true, repeat: true },
  { name: "workdir", short: "w", value: true },
  { name: "user", short: "u", value: true },
];

export const RUN_FLAGS: FlagDef[] = [
  { name: "rm" },
  ...PROCESS_FLAGS,
  { name: "hostname", short: "h", value: true },
  { name: "domainname", value: true },
  { name: "volume", short: "v", value: true, repeat: true },
  { name: "read-only" },
  { name: "name", value: true },
  { name: "entrypoint", value: true },
  { name: "backend", value: true },
  { name: "platform", value: true },
  { name: "cap-add", value: true, repeat: true },
  { name: "cap-drop", value: true, repeat: true },
  { name: "security-opt", value: true, repeat: true },
  { name: "privileged" },
  { name: "device", value: true, repeat: true },
  { name: "ipc", value: true },
  { name: "pid", value: true },
  { name: "uts", value: true },
  { name: "shm-size", value: true },
  { name: "userns", value: true },
  { name: "pull", value: true },
  { name: "sysctl", value: true, repeat: true },
  { name: "cidfile", value: true },
  { name: "health-cmd", value: true },
  { name: "health-interval", value: true },
  { name: "health-timeout", value: true },
  { name: "health-retries", value: true },
  { name: "health-start-period", value: true },
  { name: "health-start-interval", value: true },
  { name: "no-healthcheck" },
  ...RESOURCE_FLAGS,
  { name: "detach", short: "d" },
  { name: "attach", short: "a", value: true, repeat: true },
  { name: "sig-proxy" },
  { name: "detach-keys", value: true },
  { name: "restart", value: true },
  { name: "stop-signal", value: true },
  { name: "stop-timeout", value: true },
  { name: "log-opt", value: true, repeat: true },
  { name: "log-driver", value: true },
  { name: "group-add", value: true, repeat: true },
  { name: "volumes-from", value: true, repeat: true },
  { name: "expose", value: true, repeat: true },
  { name: "quiet", short: "q" },
  ...DATA_FLAGS,
  // networking (src/network/)
  { name: "network", value: true, repeat: true },
  { name: "net", value: true, repeat: true },
  { name: "network-alias", value: true, repeat: true },
  { name: "ip", value: true },
  { name: "mac-address", value: true },
  { name: "publish", short: "p", value: true, repeat: true },
  { name: "publish-all", short: "P" },
  { name: "add-host", value: true, repeat: true },
  { name: "dns", value: true, repeat: true },
  { name: "dns-search", value: true, repeat: true },
  { name: "dns-option", value: true, repeat: true },
  // docker's older spelling, still taken (hidden in its help), as --net is.
  { name: "dns-opt", value: true, repeat: true },
  { name: "cgroupns", value: true },
  { name: "disable-content-trust" },
];

export const RUN_USAGE = `Usage: tsbox run [OPTIONS] IMAGE [COMMAND] [ARG...]

Run a command in a new container.

Options:
  --rm                   Remove the container when it exits
  -i, --interactive      Pass stdin to the container
  -t, --tty              Allocate a pseudo-terminal
  -e, --env K=V          Set an environment variable (K alone: take it from here)
      --env-file FILE    Read KEY=VALUE lines from FILE
  -w, --workdir DIR      Working directory inside the container (absolute)
  -u, --user USER        UID[:GID] or NAME[:GROUP] from the image's /etc/passwd
  -h, --hostname NAME    Container hostname (default: the short id)
      --domainname NAME  Container NIS domain name (its UTS namespace's; /etc/hosts names HOST.NAME)
  -v, --volume H:C[:ro]  Bind-mount host path H at container path C; a NAME instead of H
                         mounts the named volume (created on first use), C alone a new
                         anonymous volume
      --volumes-from C   Every volume and bind mount of container C, at its paths (C:ro, C:rw)
      --read-only        Mount the container's root file system read-only
      --name NAME        Name the container
      --entrypoint CMD   Override the image's entrypoint
      --backend NAME     native, vm or auto (default: $TSBOX_BACKEND, else auto)
      --platform P       The image's platform, one the backend runs (native: the host's, vm: linux/386)
  -d, --detach           Run it in the background and print its id
  -a, --attach STREAM    Attach only to stdin, stdout or stderr (repeatable; default stdout
                         and stderr, and stdin with -i)
      --sig-proxy=false  Do not pass the signals tsbox gets to the container (Ctrl-C then
                         leaves it running)
      --detach-keys KEYS Keys that leave a -it container running (default ctrl-p,ctrl-q)
      --restart POLICY   no, on-failure[:N], always or unless-stopped
      --stop-signal SIG  Signal tsbox stop sends first (default SIGTERM)
      --stop-timeout S   Seconds tsbox stop waits before SIGKILL (default 10)
      --log-opt K=V      max-size=10m, max-file=3: rotation of the container's log
      --log-driver D     json-file (default: docker's json-file log, what tsbox logs reads; local
                         and k8s-file are taken as it) or none (no log: output reaches only those
                         attached, and tsbox logs says there is none)
  -q, --quiet            No pull output when the image is pulled first
      --group-add GROUP  Another supplementary group: a name of the image's /etc/group, or a gid
      --cap-add CAP      Add a capability (NET_ADMIN, CAP_NET_ADMIN, ALL)
      --cap-drop CAP     Drop a capability (ALL: all but the added ones)
      --security-opt OPT seccomp=unconfined, seccomp=PROFILE.json (docker's format),
                         no-new-privileges[=true|false] (default true), systempaths=unconfined
                         (no masked /proc, /sys paths); label=disable and apparmor=unconfined
                         are taken (tsbox applies neither)
      --privileged       Every capability, no seccomp filter, nothing masked, a writable /sys
                         and the host's devices (still in a user namespace: see docs/security.md)
      --device H[:C[:P]] Give the container the host's device node H (at C; P: rw or rwm)
      --ipc MODE         private/shareable (default), host (the host's IPC namespace and
                         /dev/shm), none (no /dev/shm) or container:NAME (a running
                         container's IPC namespace and /dev/shm)
      --pid MODE         host (the host's PID namespace and /proc) or container:NAME
                         (a running container's: its processes are seen, and signalled)
      --uts host         The host's UTS namespace: its hostname (not with -h)
      --shm-size BYTES   Size of /dev/shm (default 64m)
      --userns auto      As root: the container's ids are subordinate ids of its
                         own (the "containers" range of /etc/subuid), not the host's
      --pull POLICY      missing (default: pull an image not here), always, never
      --sysctl K=V       A parameter of the container's own IPC, network or UTS namespace
                         (net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*, kernel.domainname)
      --cidfile FILE     Write the container's id to FILE (which must not exist)
      --health-cmd CMD   A health check (run by the monitor of a -d or created container):
                         --health-interval D (30s), --health-timeout D (30s), --health-retries N
                         (3), --health-start-period D, --health-start-interval D (5s);
                         --no-healthcheck turns the image's HEALTHCHECK off

      --network NET      bridge (default; $TSBOX_NETWORK), none, host, container:NAME or a network's name (--net too)
      --network-alias A  Another name on a user-defined network's DNS
      --ip ADDR          A fixed IPv4 address on the network
      --mac-address MAC  The MAC address of the container's interface on the network
      --expose PORT      Expose a port or range (8000-8002/udp) beyond the image's: -P publishes it
  -p, --publish SPEC     Publish a port: [IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp]
  -P, --publish-all      Publish every port the image EXPOSEs on free host ports
      --add-host H:IP    Add a line to /etc/hosts (IP may be host-gateway: the host)
      --dns IP           A name server for /etc/resolv.conf
      --dns-search DOM   A search domain for /etc/resolv.conf
      --dns-option OPT   A resolver option for /etc/resolv.conf (--dns-opt too)
      --cgroupns private Its own cgroup namespace (what every tsbox container has; host is refused)
      --disable-content-trust  Taken: tsbox verifies no image signatures (=false is refused)
${RESOURCE_USAGE}${DATA_USAGE}`;

export interface RunRequest {
  options: RunOptions;
  interactive: boolean;
  tty: boolean;
  detach: boolean;
  /** --backend: native, vm or auto. */
  backend?: string;
  /** --cidfile: where the container's id is written once it exists. */
  cidfile?: string;
  /** -q: no pull output. */
  quiet: boolean;
  /** -a: the streams attached (undefined: docker's default). */
  attach?: Set<"stdin" | "stdout" | "stderr">;
  /** --sig-proxy (default true): signals to the CLI go to the container. */
  sigProxy: boolean;
  /** --detach-keys, as given. */
  detachKeys?: string;
  /** The flags given (their long names): the run cache replays runs of some only (cli/run-cache/record.ts). */
  given: ReadonlySet<string>;
}

/** `tsbox run` arguments → RunOptions; everything after IMAGE is the command, as in docker. */
export function parseRunArgs(args: string[], env: NodeJS.ProcessEnv): RunRequest | "help" {
  const flags = parseFlags(args, RUN_FLAGS, { stopAtPositional: true });
  if (flags.help) return "help";
  const [image, ...cmd] = flags.positionals;
  if (image === undefined) throw new UsageError(`"tsbox run" requires an image (tsbox run [OPTIONS] IMAGE [COMMAND] [ARG...])`);

  const environment = flagEnvironment(flags, env);
  const entrypoint = lastValue(flags, "entrypoint");
  const options: RunOptions = {
    image,
    ...(cmd.length > 0 ? { cmd } : {}),
    ...(entrypoint !== undefined ? { entrypoint: entrypoint === "" ? [] : [entrypoint] } : {}),
    env: environment,
    volumes: allValues(flags, "volume").map(parseVolume),
    readOnly: flags.bools.has("read-only"),
    remove: flags.bools.has("rm"),
    ...resourceOptions(flags),
    ...dataFlagOptions(flags, env),
  };
  const workdir = lastValue(flags, "workdir");
  if (workdir !== undefined) options.workdir = workdir;
  const user = lastValue(flags, "user");
  if (user !== undefined) options.user = user;
  const hostname = lastValue(flags, "hostname");
  if (hostname !== undefined) options.hostname = hostname;
  const domainname = lastValue(flags, "domainname");
  if (domainname !== undefined) options.domainname = domainname;
  const name = lastValue(flags, "name");
  if (name !== undefined) options.name = withoutSlash(name);
  const platform = lastValue(flags, "platform");
  if (platform !== undefined) options.platform = platform;
  const healthcheck = healthFlags(flags);
  if (healthcheck !== undefined) options.healthcheck = healthcheck;
  Object.assign(options, securityOptions(allValues(flags, "security-opt")));
  if (flags.bools.has("privileged")) options.privileged = true;
  const ipc = lastValue(flags, "ipc");
  if (ipc !== undefined) options.ipc = ipc as RunOptions["ipc"]; // checked in spec/ipc-pid.ts, as the library's
  const pid = lastValue(flags, "pid");
  if (pid !== undefined) options.pid = pid as RunOptions["pid"];
  const uts = lastValue(flags, "uts");
  if (uts !== undefined) options.uts = uts as RunOptions["uts"];
  const shmSize = lastValue(flags, "shm-size");
  if (shmSize !== undefined) options.shmSize = shmSize;
  const devices = allValues(flags, "device").map(parseDeviceFlag);
  if (devices.length > 0) options.devices = devices;
  const capAdd = allValues(flags, "cap-add");
  const capDrop = allValues(flags, "cap-drop");
  if (capAdd.length > 0) options.capAdd = capAdd;
  if (capDrop.length > 0) options.capDrop = capDrop;
  // What tsbox does anyway: every container has a cgroup namespace of its own (docker's private, its default on
  // cgroup v2); the host's is not offered (the container would see the host's cgroup paths).
  const cgroupns = lastValue(flags, "cgroupns");
  if (cgroupns !== undefined && cgroupns !== "private") {
    throw new UsageError(cgroupns === "host" ? "--cgroupns host is not supported: a tsbox container always has a cgroup namespace of its own (docker's private)" : `invalid --cgroupns ${cgroupns}: private or host`);
  }
  // tsbox verifies no image signatures (docker's content trust is off by default too): "disabled" is what it does.
  if (flags.cleared.has("disable-content-trust")) throw new UsageError("--disable-content-trust=false: tsbox has no content trust (Notary signature checks) to enable");
  const userns = lastValue(flags, "userns");
  // docker's only value, `host`, is what tsbox does anyway (no remapping but a rootless user's own).
  if (userns !== undefined && userns !== "host") {
    if (userns !== "auto") throw new UsageError(`invalid --userns ${userns}: tsbox knows --userns=auto and host`);
    options.userns = "auto";
  }
  const sysctls = allValues(flags, "sysctl");
  if (sysctls.length > 0) {
    options.sysctls = {};
    for (const entry of sysctls) {
      const eq = entry.indexOf("=");
      if (eq <= 0) throw new UsageError(`invalid --sysctl ${entry}: expected NAME=VALUE`);
      options.sysctls[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
  }
  const pull = lastValue(flags, "pull");
  if (pull !== undefined) {
    if (pull !== "missing" && pull !== "always" && pull !== "never") throw new UsageError(`invalid --pull ${pull}: missing, always or never`);
    options.pull = pull;
  }
  const restart = lastValue(flags, "restart");
  if (restart !== undefined) options.restart = restart;
  const stopSignal = lastValue(flags, "stop-signal");
  if (stopSignal !== undefined) options.stopSignal = stopSignal;
  const stopTimeout = lastValue(flags, "stop-timeout");
  if (stopTimeout !== undefined) {
    if (!/^-?\d+$/.test(stopTimeout)) throw new UsageError(`invalid value "${stopTimeout}" for --stop-timeout: whole seconds`);
    options.stopTimeout = Number(stopTimeout);
  }
  const logDriver = lastValue(flags, "log-driver");
  // docker checks no --log-opt of the none driver (daemon/logger ValidateLogOpts): any is taken, and does nothing.
  const logOpts = allValues(flags, "log-opt").filter((o) => logDriver !== "none" || /^max-(size|file)=/.test(o));
  if (logOpts.length > 0) options.log = parseLogOpts(logOpts);
  if (logDriver !== undefined && !["json-file", "k8s-file", "local", "none"].includes(logDriver)) {
    throw new UsageError(`unsupported --log-driver ${logDriver}: tsbox keeps docker's json-file log (what tsbox logs reads; --log-opt max-size/max-file rotate it) or, with none, no log`);
  }
  // (max-size and max-file are kept for inspect's LogConfig.Config.)
  if (logDriver === "none") options.log = { ...options.log, driver: "none" };
  const groupAdd = allValues(flags, "group-add");
  if (groupAdd.length > 0) options.groupAdd = groupAdd;
  const volumesFrom = allValues(flags, "volumes-from");
  if (volumesFrom.length > 0) options.volumesFrom = volumesFrom;
  const expose = allValues(flags, "expose");
  if (expose.length > 0) options.expose = expose;
  Object.assign(options, networkOptions(flags));
  const backend = lastValue(flags, "backend");
  const cidfile = lastValue(flags, "cidfile");
  const attach = attachedStreams(allValues(flags, "attach"));
  if (attach && flags.bools.has("detach")) throw new UsageError("Conflicting options: -a and -d");
  const detachKeys = lastValue(flags, "detach-keys");
  if (detachKeys !== undefined) parseDetachKeys(detachKeys); // a bad one is refused before anything is made
  return {
    options,
    interactive: flags.bools.has("interactive"),
    tty: flags.bools.has("tty"),
    detach: flags.bools.has("detach"),
    quiet: flags.bools.has("quiet"),
    sigProxy: !flags.cleared.has("sig-proxy"),
    given: new Set([...flags.bools, ...flags.cleared, ...flags.values.keys()]),
    ...(attach ? { attach } : {}),
    ...(detachKeys !== undefined ? { detachKeys } : {}),
    ...(backend !== undefined ? { backend } : {}),
    ...(cidfile !== undefined ? { cidfile } : {}),
  };
}

/** `-a STREAM`s (docker's names, any case); undefined when none was given. */
function attachedStreams(values: string[]): Set<"stdin" | "stdout" | "stderr"> | undefined {
  if (values.length === 0) return undefined;
  const out = new Set<"stdin" | "stdout" | "stderr">();
  for (const v of values) {
    const stream = v.toLowerCase();
    if (stream !== "stdin" && stream !== "stdout" && stream !== "stderr") throw new UsageError(`invalid argument "${v}" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR`);
    out.add(stream);
  }
  return out;
}

/** docker's `--cidfile FILE` (run and create), made before the container. */
export interface CidFile {
  /** The container exists: its id goes in. */
  write(id: string): void;
  /** The run failed before there was a container: the file goes again. */
  discard(): void;
}

/**
 * Creates the file at once, as docker does: one already there is refused
 * (it may be another container's), and a path that cannot be written fails
 * before a container exists that would be left behind.
 */
export function openCidFile(path: string | undefined): CidFile {
  if (path === undefined) return { write: () => {}, discard: () => {} };
  let fd: number | undefined;
  try {
    fd = openSync(path, "wx", 0o644);
  } catch (err) {
    if (isErrno(err, "EEXIST")) throw new UsageError(`container ID file found, make sure the other container isn't running or delete ${path}`);
    throw new UsageError(`cannot create --cidfile ${path}: ${systemErrorText(err as NodeJS.ErrnoException)}`);
  }
  const close = () => {
    if (fd !== undefined) closeSync(fd);
    fd = undefined;
  };
  return {
    write: (id) => {
      if (fd === undefined) return;
      try {
        writeSync(fd, id);
      } finally {
        close();
      }
    },
    discard: () => {
      if (fd === undefined) return;
      close();
      rmSync(path, { force: true });
    },
  };
}

/** docker's json-file options: `max-size=10m` (k, m, g), `max-file=3`. */
function parseLogOpts(entries: string[]): { maxSize?: number; maxFiles?: number } {
  const out: { maxSize?: number; maxFiles?: number } = {};
  for (const entry of entries) {
    const [key, value = ""] = entry.split(/=(.*)/s, 2) as [string, string?];
    if (key === "max-size") {
      const m = /^(\d+)([kmg]?)b?$/i.exec(value);
      if (!m || Number(m[1]) === 0) throw new UsageError(`invalid --log-opt ${entry}: a size such as 10m`);
      out.maxSize = Number(m[1]) * ({ "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as Record<string, number>)[m[2]!.toLowerCase()]!;
    } else if (key === "max-file") {
      if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`invalid --log-opt ${entry}: a number of files from 1`);
      out.maxFiles = Number(value);
    } else throw new UsageError(`unknown --log-opt ${entry}: max-size and max-file are supported`);
  }
  return out;
}

/** `--env-file` entries, then `-e` ones (later ones win), as `KEY=VALUE`. */
export function flagEnvironment(flags: ParsedFlags, env: NodeJS.ProcessEnv): string[] {
  const environment: string[] = [];
  for (const file of allValues(flags, "env-file")) environment.push(...readEnvFile(file, env));
  for (const entry of allValues(flags, "env")) {
    const resolved = resolveEnvEntry(entry, env);
    if (resolved !== undefined) environment.push(resolved);
  }
  return environment;
}

/** `--health-*` and `--no-healthcheck` (durations in Go's form: 30s, 1m30s, 500ms) → RunOptions.healthcheck. */
function healthFlags(flags: ParsedFlags): HealthcheckOptions | false | undefined {
  const off = flags.bools.has("no-healthcheck");
  const out: HealthcheckOptions = {};
  const cmd = lastValue(flags, "health-cmd");
  if (cmd !== undefined) out.test = cmd;
  for (const [flag, key] of [["health-interval", "interval"], ["health-timeout", "timeout"], ["health-start-period", "startPeriod"], ["health-start-interval", "startInterval"]] as const) {
    const v = lastValue(flags, flag);
    if (v !== undefined) out[key] = parseDuration(v, `--${flag}`) / 1e6;
  }
  const retries = lastValue(flags, "health-retries");
  if (retries !== undefined) {
    if (!/^\d+$/.test(retries)) throw new UsageError(`invalid value "${retries}" for --health-retries: a whole number`);
    out.retries = Number(retries);
  }
  if (off && Object.keys(out).length > 0) throw new UsageError("--no-healthcheck conflicts with --health-* options");
  return off ? false : Object.keys(out).length > 0 ? out : undefined;
}

/**
 * docker's `--security-opt`: `seccomp=unconfined|PROFILE.json` and
 * `no-new-privileges[=|:true|false]` (`:` is docker's older separator).
 */
export function securityOptions(opts: string[]): Pick<RunOptions, "seccomp" | "noNewPrivileges" | "systemPaths"> {
  const out: Pick<RunOptions, "seccomp" | "noNewPrivileges" | "systemPaths"> = {};
  for (const opt of opts) {
    const sep = /[=:]/.exec(opt);
    const key = sep ? opt.slice(0, sep.index) : opt;
    const value = sep ? opt.slice(sep.index + 1) : undefined;
    if (key === "no-new-privileges") {
      if (value === undefined || value === "true") out.noNewPrivileges = true;
      else if (value === "false") out.noNewPrivileges = false;
      else throw new UsageError(`invalid --security-opt ${opt}: no-new-privileges takes true or false`);
    } else if (key === "seccomp" && value !== undefined && value !== "") {
      out.seccomp = value === "unconfined" ? "unconfined" : readSeccompProfile(value);
    } else if (key === "systempaths" && value === "unconfined") {
      out.systemPaths = "unconfined";
    } else if ((key === "label" && value === "disable") || (key === "apparmor" && value === "unconfined")) {
      // What tsbox does anyway: it applies no SELinux label and no AppArmor profile (scripts and compose files pass these).
    } else {
      throw new UsageError(`invalid --security-opt ${opt}: tsbox knows seccomp=unconfined, seccomp=PROFILE.json, no-new-privileges, systempaths=unconfined, label=disable and apparmor=unconfined`);
    }
  }
  return out;
}

function readSeccompProfile(file: string): DockerSeccompProfile {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(`cannot read seccomp profile ${file}: ${systemErrorText(err as NodeJS.ErrnoException)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`invalid seccomp profile ${file}: ${(err as Error).message}`);
  }
  return checkDockerProfile(json, file);
}

/** The network flags as RunOptions (parsed further in src/network/plan.ts). */
function networkOptions(flags: ParsedFlags): Partial<RunOptions> {
  const out: Partial<RunOptions> = {};
  // --net: docker's older spelling, still taken. Given more than once: every network (docker 25+).
  const networks = [...allValues(flags, "network"), ...allValues(flags, "net")];
  if (networks.length === 1) out.network = networks[0]!;
  else if (networks.length > 1) out.networks = networks;
  const ip = lastValue(flags, "ip");
  if (ip !== undefined) out.ip = ip;
  const mac = lastValue(flags, "mac-address");
  if (mac !== undefined) out.macAddress = mac;
  const lists = [
    ["network-alias", "networkAliases"],
    ["publish", "publish"],
    ["add-host", "addHosts"],
    ["dns", "dns"],
    ["dns-search", "dnsSearch"],
    ["dns-option", "dnsOptions"],
  ] as const;
  for (const [flag, key] of lists) {
    const values = allValues(flags, flag);
    if (values.length > 0) out[key] = values;
  }
  const dnsOpts = allValues(flags, "dns-opt");
  if (dnsOpts.length > 0) out.dnsOptions = [...(out.dnsOptions ?? []), ...dnsOpts];
  for (const dns of out.dns ?? []) if (isIP(dns) === 0) throw new UsageError(`invalid --dns ${dns}: not an IP address`);
  if (flags.bools.has("publish-all")) out.publishAll = true;
  return out;
}

/** `K=V` as is; a bare `K` takes this process's value (and is dropped when unset), like docker. */
function resolveEnvEntry(entry: string, env: NodeJS.ProcessEnv): string | undefined {
  const eq = entry.indexOf("=");
  if (eq === 0 || entry === "") throw new UsageError(`invalid environment variable "${entry}": expected KEY=VALUE`);
  if (eq > 0) return entry;
  const value = env[entry];
  return value === undefined ? undefined : `${entry}=${value}`;
}

function readEnvFile(file: string, env: NodeJS.ProcessEnv): string[] {
  const out: string[] = [];
  for (const line of readKeyValueFile(file, "env")) {
    // docker's rule: a name with blanks (`export A=1`, a shell script's line) is refused, not taken as "export A".
    const name = line.split("=", 1)[0]!;
    if (/\s/.test(name)) throw new UsageError(`poorly formatted environment file ${file}: variable '${name}' contains whitespaces`);
    const resolved = resolveEnvEntry(line, env);
    if (resolved !== undefined) out.push(resolved);
  }
  return out;
}

/** The options a `-v` mode string may have, by docker's classes (linuxValidMountMode), one of each at most. */
const COMMON_MODES = { label: ["z", "Z"], consistency: ["cached", "delegated", "consistent"] };
const BIND_MODES: Record<string, string[]> = { access: ["ro", "rw", "rro"], propagation: PROPAGATIONS, idmap: ["idmap"], ...COMMON_MODES };
const VOLUME_MODES: Record<string, string[]> = { access: ["ro", "rw"], copy: ["nocopy"], ...COMMON_MODES };

/**
 * `-v`: `HOST:CONTAINER[:OPTIONS]` (HOST absolute: a bind mount),
 * `NAME:CONTAINER[:OPTIONS]` (a named volume), or `CONTAINER` alone (a new
 * anonymous volume). Options: BIND_MODES, VOLUME_MODES; z/Z and
 * cached/delegated/consistent are taken as no-ops.
 */
export function parseVolume(spec: string): VolumeOption {
  const parts = spec.split(":");
  if (parts.length > 3 || parts.some((p) => p === "")) throw new UsageError(`invalid volume ${spec}: expected [HOST|NAME:]CONTAINER[:ro|rw]`);
  if (parts.length === 1) {
    if (!isAbsolute(parts[0]!)) throw new UsageError(`invalid volume ${spec}: container path ${parts[0]} must be absolute`);
    return { container: parts[0]! };
  }
  const [source, container, mode] = parts as [string, string, string | undefined];
  if (!isAbsolute(container)) throw new UsageError(`invalid volume ${spec}: container path ${container} must be absolute`);
  // A name has no `/` and does not start with `.`; `./dir` and `../dir` are host paths from here (docker 23+).
  const named = !source.includes("/") && !source.startsWith(".");
  if (!named && !isAbsolute(source) && !/^\.\.?(\/|$)/.test(source)) throw new UsageError(`invalid volume ${spec}: host path ${source} must be absolute (or start with ./)`);
  const out: VolumeOption = named ? { volume: source, container } : { host: resolvePath(source), container };
  const options = (mode ?? "").split(",").filter((o) => o !== "");
  // docker's linuxValidMountMode: at most one option of each class (`ro,rw`, `z,Z`, `rslave,private`, `ro,ro`).
  const classes = options.map((option) => {
    const found = Object.entries(named ? VOLUME_MODES : BIND_MODES).find(([, members]) => members.includes(option));
    if (!found) {
      const accepted = Object.values(named ? VOLUME_MODES : BIND_MODES).flat().join(", ");
      throw new UsageError(`invalid volume ${spec}: unknown option "${option}" (${accepted})`);
    }
    return found[0];
  });
  if (new Set(classes).size < classes.length) throw new UsageError(`invalid volume ${spec}: invalid mode: ${mode} (at most one option of each kind: ${Object.values(named ? VOLUME_MODES : BIND_MODES).map((m) => m.join("/")).join(", ")})`);
  for (const option of options) {
    if (option === "ro") out.readonly = true;
    else if (option === "rw") out.readonly = false;
    // docker 25's recursively read-only bind: `--mount …,readonly,bind-recursive=readonly`.
    else if (option === "rro") Object.assign(out, { readonly: true, recursive: "readonly" as const });
    else if (option === "nocopy") out.noCopy = true;
    else if (option === "idmap") out.idmap = true;
    else if (PROPAGATIONS.includes(option)) out.propagation = option;
    // z/Z, cached/delegated/consistent: taken as docker on Linux takes them (no SELinux here; Docker Desktop's consistency hints).
  }
  if (out.recursive) {
    const problem = bindRecursiveProblem(out.recursive, true, out.propagation ?? "rprivate");
    if (problem) throw new UsageError(`invalid volume ${spec}: ${problem} (rro is bind-recursive=readonly)`);
  }
  return out;
}
