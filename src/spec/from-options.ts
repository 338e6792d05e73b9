import { containerSysctls } from "./sysctl.js";
import { hostNamespaces, shmMode } from "./ipc-pid.js";
import { existsSync } from "node:fs";
import { availableParallelism, release } from "node:os";
import { TsboxError, UsageError } from "../errors.js";
import type { ImageConfig } from "../image/oci.js";
import type { ContainerPaths } from "../paths.js";
import type { ContainerSpec, IdMapping, MountSpec } from "./container-spec.js";
import { applyUlimits, initArgs, initMount, overDefaultMounts } from "./data-options.js";
import { defaultMounts, defaultRlimits } from "./defaults.js";
import { type HostIdentity, idMappings } from "./id-mappings.js";
import { cgroupSettings, checkOomScoreAdj, type ContainerKernel } from "./resources.js";
import type { RunOptions } from "./run-options.js";
import { goArch } from "./security.js";
import type { NetworkPlan } from "../network/plan.js";
import { resolveUser } from "./user.js";
import { thermalThrottleDirs } from "./cpu-masked-paths.js";
import { runSpec } from "./skeleton.js";
import { usernsAuto } from "./userns-auto.js";
import { isMapped, rootlessHint, validateSpec } from "./validate.js";
import { CONTAINER_NAMESPACES } from "./process-rules.js";

export interface SpecInputs {
  id: string;
  options: RunOptions;
  image: ImageConfig;
  /** Unpacked layer directories, topmost first. */
  layers: string[];
  bundle: ContainerPaths;
  host: HostIdentity;
  /** RLIMIT_NOFILE hard limit to pass on; default: this process's. */
  nofileHard?: number;
  /** For $TSBOX_CGROUPS and $TSBOX_CGROUP_PARENT; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** The kernel the container runs on (the limits must fit it); default: this host's. */
  kernel?: ContainerKernel;
  /** The container's kernel has swap: a memory limit without --memory-swap gets docker's memory+swap of twice it. */
  swap?: boolean;
  /**
   * The user's mounts (volumes, binds, tmpfs) resolved to host paths
   * (containers/volumes-resolve.ts), put in docker's mount order here
   * (`overDefaultMounts`); required when `options` asks for any.
   */
  mounts?: MountSpec[];
  /** The static tsbox-init to run as PID 1 when `options.init` is set. */
  initBinary?: string;
  /** The mount points of the network's /etc files, above the image's layers (network/init-layer.ts). */
  initLayer?: string;
  /** The network's part (src/network/plan.ts); none: the container has only lo. */
  network?: NetworkPlan;
  /** Its writable layer is not kept as it is (`--rm`, a build step's, turned into an image layer): mounted volatile. */
  disposableLayer?: boolean;
  /** `--pid container:X`, `--ipc container:X`: X's id and the namespaces joined (with X's user namespace). */
  peer?: { id: string; join: ("pid" | "ipc")[] };
  /** docker's default sysctls (spec/sysctl.ts); false where they cannot be written (a read-only /proc/sys). */
  defaultSysctls?: boolean;
}

/** This host's kernel: PID_MAX_LIMIT is 4 Mi on a 64-bit one, 32768 on a 32-bit one (include/linux/threads.h). */
export function hostKernel(): ContainerKernel {
  return { cpus: availableParallelism(), pidMax: ["arm", "ia32"].includes(process.arch) ? 32_768 : 4_194_304 };
}

/** docker's default hostname: the short id. */
export function defaultHostname(id: string, options: RunOptions): string {
  return options.hostname ?? id.slice(0, 12);
}

/**
 * A `--group-add` gid the user namespace does not map: setgroups(2) fails with EINVAL there (podman's crun: "setgroups:
 * Invalid argument"), so it is refused by name and with the range that is mapped, not dropped (it was, silently).
 */
function checkAddedGroups(asked: string[], gids: number[], maps: IdMapping[]): void {
  gids.forEach((gid, i) => {
    if (isMapped(maps, gid)) return;
    const ranges = maps.map((m) => `${m.containerID}-${m.containerID + m.size - 1}`).join(", ");
    throw new UsageError(`--group-add ${asked[i]}: gid ${gid} is not mapped in the container's user namespace${rootlessHint(maps) || ` (its gids are ${ranges})`}`);
  });
}

/**
 * Turns user options plus the image's config into the one validated
 * ContainerSpec every backend consumes. Docker's rules apply: image values
 * are defaults, user options override them.
 */
export async function buildSpec(inputs: SpecInputs): Promise<ContainerSpec> {
  const { id, options, image, layers, bundle, host } = inputs;
  const imageConfig = image.config ?? {};
  if (options.userns !== undefined && options.userns !== "auto") throw new UsageError(`userns: expected "auto", got "${String(options.userns)}"`);
  const auto = options.userns === "auto" ? usernsAuto(host) : undefined;
  // Without --userns=auto the container's ids are the host's (root) or the user's own: nothing to idmap a bind to.
  const idmapped = options.volumes?.find((v) => v.idmap);
  if (idmapped && !auto) throw new UsageError(`the idmap option of -v ${idmapped.host ?? idmapped.volume ?? ""}:${idmapped.container} needs --userns=auto`);
  // With --userns=auto the runtime picks the host ids; inside, 0..size-1 exist.
  const inside = auto && [{ containerID: 0, hostID: 0, size: auto.size }];
  const maps = inside ? { uidMappings: inside, gidMappings: inside } : idMappings(host);
  const user = await resolveUser(options.user ?? (imageConfig.User || "0"), layers, options.groupAdd);
  // validateSpec refuses these too, but cannot say why the host maps so few ids (it sees only the maps).
  for (const [kind, id, list] of [["uid", user.uid, maps.uidMappings], ["gid", user.gid, maps.gidMappings]] as const) {
    if (!isMapped(list, id)) throw new UsageError(`${kind} ${id} is not mapped in the user namespace${rootlessHint(list, host.rangeUnused?.text)}`);
  }
  const asked = (options.volumes?.length ?? 0) + (options.mounts?.length ?? 0) + Object.keys(options.tmpfs ?? {}).length;
  if (asked > 0 && inputs.mounts === undefined) throw new TsboxError("volumes, mounts and tmpfs must be resolved first (containers/volumes-resolve.ts)", { code: "runtime" });
  if (options.init && !inputs.initBinary) throw new TsboxError("--init needs the static tsbox-init (run npm run build:native)", { code: "runtime" });
  const groupsSettable = maps.gidMappings.length > 1 || host.uid === 0 || Boolean(auto);
  if (!groupsSettable && options.groupAdd?.length) {
    throw new UsageError(`--group-add needs a user namespace that may set groups, which one mapped id cannot${rootlessHint(maps.gidMappings)}`);
  }
  if (groupsSettable) checkAddedGroups(options.groupAdd ?? [], user.addedGids, maps.gidMappings);
  const spec = runSpec({
    id,
    options: { ...options, hostname: inputs.network?.hostname ?? defaultHostname(id, options) },
    image: imageConfig,
    user: {
      uid: user.uid,
      gid: user.gid,
      home: user.home,
      // A single-id mapping means setgroups=deny: supplementary groups cannot be set. The image's own memberships
      // the namespace lacks are left out (--group-add's were checked above).
      ...(groupsSettable ? { additionalGids: user.additionalGids.filter((g) => isMapped(maps.gidMappings, g)) } : {}),
    },
    root: { path: bundle.rootfs, overlay: { lower: inputs.initLayer ? [inputs.initLayer, ...layers] : layers, upper: bundle.upper, work: bundle.work, ...(inputs.disposableLayer ? { volatile: true } : {}) } },
    mounts: [
      // The network's /etc files are defaults too: a user's -v over /etc/hosts wins, as in docker.
      ...overDefaultMounts(defaultMounts({ ttyGroupMapped: isMapped(maps.gidMappings, 5), writableSys: options.privileged === true, shm: shmMode(options) }), inputs.mounts ?? [], inputs.network?.mounts ?? []),
      ...(options.init && inputs.initBinary ? [initMount(inputs.initBinary)] : []),
    ],
    maps,
    rlimits: applyUlimits(defaultRlimits(inputs.nofileHard), options.ulimits ?? []),
    target: { arch: goArch(process.arch), kernel: release(), cpuMaskedPaths: thermalThrottleDirs() },
    ...(auto ? { usernsAuto: auto } : {}),
    cgroups: cgroupSettings(id, options, inputs.env ?? process.env, inputs.kernel ?? hostKernel(), inputs.swap ?? false),
    ...(options.oomScoreAdj !== undefined ? { oomScoreAdj: checkOomScoreAdj(options.oomScoreAdj) } : {}),
  });
  // --init: the tiny init is PID 1 and runs the command (its mount is above).
  if (options.init) spec.process.args = initArgs(spec.process.args);
  if (inputs.network) {
    spec.linux.namespaces = networkNamespaces(inputs.network);
    if (inputs.network.network) spec.network = inputs.network.network;
  }
  if (inputs.peer) {
    const { id: peer, join } = inputs.peer;
    spec.linux.namespaces = spec.linux.namespaces.map((ns) => (ns.type === "user" || join.includes(ns.type as "pid" | "ipc") ? { type: ns.type, container: peer } : ns));
  }
  if (inputs.network || inputs.peer) validateSpec(spec);
  // --pid host, --ipc host, --uts host: those namespaces are the host's (and so are /proc, /dev/shm, the hostname).
  const shared = hostNamespaces(options);
  if (shared.size > 0) spec.linux.namespaces = spec.linux.namespaces.filter((ns) => !shared.has(ns.type as "ipc" | "pid" | "uts"));
  if (shared.has("uts")) delete spec.hostname;
  // A fresh mqueue needs an IPC namespace of its own: with the host's, the runtime binds the host's /dev/mqueue, or there is none.
  if (shared.has("ipc") && !existsSync("/dev/mqueue")) spec.mounts = spec.mounts.filter((m) => m.destination !== "/dev/mqueue");
  if (shared.has("pid")) {
    // Without a PID namespace of its own, only the cgroup ends what the container leaves running. (In another
    // container's, what it leaves lives on until that one ends, its PID namespace with it.)
    if (spec.linux.cgroupsMode === "disabled") throw new UsageError("--pid host needs the container's cgroup (it ends the processes the container leaves behind): not with --cgroups=disabled");
    spec.linux.cgroupsMode = "required";
  }
  // --domainname is its UTS namespace's kernel.domainname (runc writes the OCI domainname there too); a
  // --sysctl kernel.domainname of the same run is the more specific and wins.
  const sysctl = containerSysctls(spec, { ...(options.domainname !== undefined ? { "kernel.domainname": options.domainname } : {}), ...options.sysctls }, inputs.defaultSysctls ?? true);
  if (Object.keys(sysctl).length > 0) spec.linux.sysctl = sysctl;
  return spec;
}

/** The namespaces to create or join: host networking has no network namespace; `container:X` joins X's user and network ones. */
function networkNamespaces(plan: NetworkPlan): ContainerSpec["linux"]["namespaces"] {
  return CONTAINER_NAMESPACES.filter((ns) => !(plan.shareHost && ns.type === "network")).map((ns) => {
    if (plan.join && (ns.type === "user" || ns.type === "network")) return { type: ns.type, container: plan.join.container };
    return { ...ns };
  });
}
