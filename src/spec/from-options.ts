import { statSync } from "node:fs";
import { availableParallelism, release } from "node:os";
import { isAbsolute, normalize } from "node:path";
import { TsboxError } from "../errors.js";
import type { ImageConfig } from "../image/oci.js";
import type { ContainerPaths } from "../paths.js";
import type { ContainerSpec, MountSpec } from "./container-spec.js";
import { defaultMounts, defaultRlimits } from "./defaults.js";
import { type HostIdentity, idMappings } from "./id-mappings.js";
import { cgroupSettings, checkOomScoreAdj } from "./resources.js";
import type { RunOptions, VolumeOption } from "./run-options.js";
import { goArch } from "./security.js";
import { resolveUser } from "./user.js";
import { runSpec } from "./skeleton.js";
import { usernsAuto } from "./userns-auto.js";
import { isMapped } from "./validate.js";

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
}

/**
 * Turns user options plus the image's config into the one validated
 * ContainerSpec every backend consumes. Docker's rules apply: image values
 * are defaults, user options override them.
 */
export async function buildSpec(inputs: SpecInputs): Promise<ContainerSpec> {
  const { id, options, image, layers, bundle, host } = inputs;
  const imageConfig = image.config ?? {};
  if (options.userns !== undefined && options.userns !== "auto") throw new TsboxError(`userns: expected "auto", got "${String(options.userns)}"`, { code: "usage" });
  const auto = options.userns === "auto" ? usernsAuto(host) : undefined;
  // With --userns=auto the runtime picks the host ids; inside, 0..size-1 exist.
  const inside = auto && [{ containerID: 0, hostID: 0, size: auto.size }];
  const maps = inside ? { uidMappings: inside, gidMappings: inside } : idMappings(host);
  const user = await resolveUser(options.user ?? (imageConfig.User || "0"), layers);
  return runSpec({
    id,
    options,
    image: imageConfig,
    user: {
      uid: user.uid,
      gid: user.gid,
      home: user.home,
      // A single-id mapping means setgroups=deny: supplementary groups cannot be set.
      ...(maps.gidMappings.length > 1 || host.uid === 0 || auto ? { additionalGids: user.additionalGids.filter((g) => isMapped(maps.gidMappings, g)) } : {}),
    },
    root: { path: bundle.rootfs, overlay: { lower: layers, upper: bundle.upper, work: bundle.work } },
    mounts: [...defaultMounts({ ttyGroupMapped: isMapped(maps.gidMappings, 5) }), ...(await volumeMounts(options.volumes ?? []))],
    maps,
    rlimits: defaultRlimits(inputs.nofileHard),
    target: { arch: goArch(process.arch), kernel: release() },
    ...(auto ? { usernsAuto: auto } : {}),
    cgroups: cgroupSettings(id, options, inputs.env ?? process.env, availableParallelism()),
    ...(options.oomScoreAdj !== undefined ? { oomScoreAdj: checkOomScoreAdj(options.oomScoreAdj) } : {}),
  });
}

async function volumeMounts(volumes: VolumeOption[]): Promise<MountSpec[]> {
  const mounts: MountSpec[] = [];
  for (const v of volumes) {
    const label = `${v.host}:${v.container}${v.readonly ? ":ro" : ""}`;
    if (typeof v.host !== "string" || !isAbsolute(v.host)) throw new TsboxError(`invalid volume ${label}: host path ${v.host} must be absolute`, { code: "usage" });
    if (typeof v.container !== "string" || !isAbsolute(v.container)) {
      throw new TsboxError(`invalid volume ${label}: container path ${v.container} must be absolute`, { code: "usage" });
    }
    if (normalize(v.container) === "/") throw new TsboxError(`invalid volume ${label}: cannot mount over the container's /`, { code: "usage" });
    try {
      statSync(v.host);
    } catch {
      throw new TsboxError(`invalid volume ${label}: host path ${v.host} does not exist`, { code: "usage" });
    }
    mounts.push({ destination: normalize(v.container), type: "bind", source: normalize(v.host), options: ["rbind", v.readonly ? "ro" : "rw"] });
  }
  return mounts;
}
