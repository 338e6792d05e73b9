import { TsboxError } from "../errors.js";
import type { ImageConfig } from "../image/oci.js";
import type { ContainerPaths } from "../paths.js";
import type { ContainerSpec, MountSpec } from "./container-spec.js";
import { applyUlimits, initArgs, initMount, overDefaultMounts } from "./data-options.js";
import { DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, defaultMounts, defaultRlimits, OCI_VERSION } from "./defaults.js";
import { addDefaultEnv, commandLine, CONTAINER_NAMESPACES, defaultCapabilitySets, envList, mergeEnv, workingDir } from "./process-rules.js";
import { type HostIdentity, idMappings } from "./id-mappings.js";
import type { RunOptions } from "./run-options.js";
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
  // --- data and mount options (cli-data) ---
  /** The user's mounts (volumes, binds, tmpfs), resolved to host paths, in mount order. */
  mounts?: MountSpec[];
  /** The static tsbox-init to run as PID 1 when `options.init` is set. */
  initBinary?: string;
  // --- end of data and mount options ---
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
  const command = commandLine(options, imageConfig.Entrypoint ?? [], imageConfig.Cmd ?? []);
  if (options.init && !inputs.initBinary) throw new TsboxError("--init needs the static tsbox-init (run npm run build:native)", { code: "runtime" });
  const args = options.init ? initArgs(command) : command;
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
      rlimits: applyUlimits(defaultRlimits(inputs.nofileHard), options.ulimits ?? []),
      noNewPrivileges: true,
    },
    root: {
      path: bundle.rootfs,
      readonly: options.readOnly ?? false,
      overlay: { lower: layers, upper: bundle.upper, work: bundle.work },
    },
    hostname,
    mounts: [
      ...overDefaultMounts(defaultMounts({ ttyGroupMapped: isMapped(maps.gidMappings, 5) }), inputs.mounts ?? []),
      ...(options.init && inputs.initBinary ? [initMount(inputs.initBinary)] : []),
    ],
    linux: {
      namespaces: [...CONTAINER_NAMESPACES],
      uidMappings: maps.uidMappings,
      gidMappings: maps.gidMappings,
      maskedPaths: [...DEFAULT_MASKED_PATHS],
      readonlyPaths: [...DEFAULT_READONLY_PATHS],
    },
  };
  validateSpec(spec);
  return spec;
}
