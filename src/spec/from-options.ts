import { statSync } from "node:fs";
import { release } from "node:os";
import { isAbsolute, normalize } from "node:path";
import { TsboxError } from "../errors.js";
import type { ImageConfig } from "../image/oci.js";
import type { ContainerPaths } from "../paths.js";
import type { ContainerSpec, MountSpec } from "./container-spec.js";
import { DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, defaultMounts, defaultRlimits, OCI_VERSION } from "./defaults.js";
import { addDefaultEnv, commandLine, CONTAINER_NAMESPACES, envList, mergeEnv, workingDir } from "./process-rules.js";
import { type HostIdentity, idMappings } from "./id-mappings.js";
import type { RunOptions, VolumeOption } from "./run-options.js";
import { goArch, securitySettings } from "./security.js";
import { resolveUser } from "./user.js";
import { usernsAuto } from "./userns-auto.js";
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
  const maps = auto ? { uidMappings: [{ containerID: 0, hostID: 0, size: auto.size }], gidMappings: [{ containerID: 0, hostID: 0, size: auto.size }] } : idMappings(host);

  const user = await resolveUser(options.user ?? (imageConfig.User || "0"), layers);
  const hostname = options.hostname ?? id.slice(0, 12);
  const args = commandLine(options, imageConfig.Entrypoint ?? [], imageConfig.Cmd ?? []);
  const cwd = workingDir(options.workdir, imageConfig.WorkingDir);
  const env = addDefaultEnv(mergeEnv(imageConfig.Env ?? [], options.env), { hostname, home: user.home, tty: Boolean(options.tty) });
  const security = securitySettings(options, { arch: goArch(process.arch), kernel: release() });

  const spec: ContainerSpec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: Boolean(options.tty),
      ...(typeof options.tty === "object" ? { consoleSize: { width: options.tty.cols, height: options.tty.rows } } : {}),
      user: {
        uid: user.uid,
        gid: user.gid,
        // A single-id mapping means setgroups=deny: supplementary groups cannot be set.
        ...(maps.gidMappings.length > 1 || host.uid === 0 || auto ? { additionalGids: user.additionalGids.filter((g) => isMapped(maps.gidMappings, g)) } : {}),
      },
      args,
      env: envList(env),
      cwd,
      capabilities: security.capabilities,
      rlimits: defaultRlimits(inputs.nofileHard),
      noNewPrivileges: security.noNewPrivileges,
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
      ...(auto ? { uidMappings: [], gidMappings: [], usernsAuto: auto } : { uidMappings: maps.uidMappings, gidMappings: maps.gidMappings }),
      maskedPaths: [...DEFAULT_MASKED_PATHS],
      readonlyPaths: [...DEFAULT_READONLY_PATHS],
      ...(security.seccomp ? { seccomp: security.seccomp } : {}),
    },
  };
  validateSpec(spec);
  return spec;
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
