import { statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { isAbsolute, normalize } from "node:path";
import { TsboxError } from "../errors.js";
import type { ImageConfig } from "../image/oci.js";
import type { ContainerPaths } from "../paths.js";
import type { ContainerSpec, MountSpec } from "./container-spec.js";
import { DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, defaultMounts, defaultRlimits, OCI_VERSION } from "./defaults.js";
import { addDefaultEnv, commandLine, CONTAINER_NAMESPACES, defaultCapabilitySets, envList, mergeEnv, workingDir } from "./process-rules.js";
import { type HostIdentity, idMappings } from "./id-mappings.js";
import { cgroupsMode, checkOomScoreAdj, resourcesFromOptions } from "./resources.js";
import type { RunOptions, VolumeOption } from "./run-options.js";
import { resolveUser } from "./user.js";
import { isMapped, validateSpec } from "./validate.js";

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
  const maps = idMappings(host);

  const user = await resolveUser(options.user ?? (imageConfig.User || "0"), layers);
  const hostname = options.hostname ?? id.slice(0, 12);
  const args = commandLine(options, imageConfig.Entrypoint ?? [], imageConfig.Cmd ?? []);
  const cwd = workingDir(options.workdir, imageConfig.WorkingDir);
  const env = addDefaultEnv(mergeEnv(imageConfig.Env ?? [], options.env), { hostname, home: user.home, tty: Boolean(options.tty) });
  const cgroups = cgroupSettings(id, options, inputs.env ?? process.env);

  const spec: ContainerSpec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: Boolean(options.tty),
      ...(typeof options.tty === "object" ? { consoleSize: { width: options.tty.cols, height: options.tty.rows } } : {}),
      user: {
        uid: user.uid,
        gid: user.gid,
        // A single-id mapping means setgroups=deny: supplementary groups cannot be set.
        ...(maps.gidMappings.length > 1 || host.uid === 0 ? { additionalGids: user.additionalGids.filter((g) => isMapped(maps.gidMappings, g)) } : {}),
      },
      args,
      env: envList(env),
      cwd,
      capabilities: defaultCapabilitySets(),
      rlimits: defaultRlimits(inputs.nofileHard),
      noNewPrivileges: true,
      ...(options.oomScoreAdj !== undefined ? { oomScoreAdj: checkOomScoreAdj(options.oomScoreAdj) } : {}),
    },
    root: {
      path: bundle.rootfs,
      readonly: options.readOnly ?? false,
      overlay: { lower: layers, upper: bundle.upper, work: bundle.work },
    },
    hostname,
    mounts: [...defaultMounts({ ttyGroupMapped: isMapped(maps.gidMappings, 5) }), ...(await volumeMounts(options.volumes ?? []))],
    linux: {
      namespaces: [...CONTAINER_NAMESPACES],
      uidMappings: maps.uidMappings,
      gidMappings: maps.gidMappings,
      maskedPaths: [...DEFAULT_MASKED_PATHS],
      readonlyPaths: [...DEFAULT_READONLY_PATHS],
      ...cgroups,
    },
  };
  validateSpec(spec);
  return spec;
}

/** `linux.resources`, `cgroupsPath` and `cgroupsMode` from the options (and $TSBOX_CGROUPS, $TSBOX_CGROUP_PARENT). */
function cgroupSettings(id: string, options: RunOptions, env: NodeJS.ProcessEnv): Pick<ContainerSpec["linux"], "resources" | "cgroupsPath" | "cgroupsMode"> {
  const resources = options.resources ? resourcesFromOptions(options.resources, availableParallelism()) : undefined;
  const mode = cgroupsMode(options.cgroups, env);
  if (mode === "disabled" && resources) throw new TsboxError("resource limits need a cgroup: they cannot be used with --cgroups=disabled", { code: "usage" });
  const parent = options.cgroupParent ?? env.TSBOX_CGROUP_PARENT;
  return {
    ...(resources ? { resources } : {}),
    ...(parent ? { cgroupsPath: `${parent.replace(/\/+$/, "")}/${id}` } : {}),
    ...(mode ? { cgroupsMode: mode } : {}),
  };
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
