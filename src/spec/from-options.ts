import { statSync } from "node:fs";
import { isAbsolute, normalize } from "node:path";
import { TsboxError } from "../errors.js";
import type { ImageConfig } from "../image/oci.js";
import type { ContainerPaths } from "../paths.js";
import type { ContainerSpec, MountSpec } from "./container-spec.js";
import { DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, defaultMounts, defaultRlimits, OCI_VERSION } from "./defaults.js";
import { addDefaultEnv, commandLine, CONTAINER_NAMESPACES, defaultCapabilitySets, envList, mergeEnv, workingDir } from "./process-rules.js";
import { type HostIdentity, idMappings } from "./id-mappings.js";
import type { NetworkPlan } from "../network/plan.js";
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
  /** The network's part (src/network/plan.ts); none: the container has only lo. */
  network?: NetworkPlan;
}

/** docker's default hostname: the short id. */
export function defaultHostname(id: string, options: RunOptions): string {
  return options.hostname ?? id.slice(0, 12);
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
  const hostname = inputs.network?.hostname ?? defaultHostname(id, options);
  const args = commandLine(options, imageConfig.Entrypoint ?? [], imageConfig.Cmd ?? []);
  const cwd = workingDir(options.workdir, imageConfig.WorkingDir);
  const env = addDefaultEnv(mergeEnv(imageConfig.Env ?? [], options.env), { hostname, home: user.home, tty: Boolean(options.tty) });

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
    },
    root: {
      path: bundle.rootfs,
      readonly: options.readOnly ?? false,
      overlay: { lower: layers, upper: bundle.upper, work: bundle.work },
    },
    hostname,
    mounts: [...defaultMounts({ ttyGroupMapped: isMapped(maps.gidMappings, 5) }), ...(inputs.network?.mounts ?? []), ...(await volumeMounts(options.volumes ?? []))],
    linux: {
      namespaces: networkNamespaces(inputs.network),
      uidMappings: maps.uidMappings,
      gidMappings: maps.gidMappings,
      maskedPaths: [...DEFAULT_MASKED_PATHS],
      readonlyPaths: [...DEFAULT_READONLY_PATHS],
    },
  };
  if (inputs.network?.network) spec.network = inputs.network.network;
  validateSpec(spec);
  return spec;
}

/** The namespaces to create or join: host networking has no network namespace; `container:X` joins X's user and network ones. */
function networkNamespaces(plan: NetworkPlan | undefined): ContainerSpec["linux"]["namespaces"] {
  return CONTAINER_NAMESPACES.filter((ns) => !(plan?.shareHost && ns.type === "network")).map((ns) => {
    if (plan?.join && ns.type === "user") return { type: ns.type, path: plan.join.user };
    if (plan?.join && ns.type === "network") return { type: ns.type, path: plan.join.network };
    return { ...ns };
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
