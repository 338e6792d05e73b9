/**
 * The ContainerSpec of a run in the Worker: the shape src/spec/from-options.ts
 * builds for a rootless Node host (OCI defaults, every namespace, container
 * root mapped to the one user that owns the files), from the image config
 * and the page's request, with docker's rules for command, environment and
 * working directory (spec/process-rules.ts, shared with hosts). The memory fs plays the rootless host's disk, and its
 * user (GUEST_FILE_OWNER) plays the invoking user.
 */
import { TsboxError } from "../../../errors.js";
import type { ImageRunConfig } from "../../../image/oci.js";
import type { ContainerSpec } from "../../../spec/container-spec.js";
import { DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS, defaultMounts, OCI_VERSION } from "../../../spec/defaults.js";
import { addDefaultEnv, commandLine, CONTAINER_NAMESPACES, defaultCapabilitySets, envList, mergeEnv, workingDir } from "../../../spec/process-rules.js";
import { validateSpec } from "../../../spec/validate.js";
import type { RunRequest } from "./protocol.js";

/** Owner of the memory fs's files, in the guest: container root maps to it (like a rootless host's user). */
export const GUEST_FILE_OWNER = 1000;
/** The guest's default hard RLIMIT_NOFILE (what a host would pass on as its own). */
const GUEST_NOFILE_HARD = 4096;

export interface BrowserSpecInputs {
  cid: string;
  /** The image's merged root in the memory fs. */
  imageRoot: string;
  image: ImageRunConfig | undefined;
  request: RunRequest;
}

export function browserContainerSpec({ cid, imageRoot, image = {}, request }: BrowserSpecInputs): ContainerSpec {
  const user = numericUser(image.User || "0");
  const hostname = request.hostname ?? cid.slice(0, 12);
  const args = commandLine({ cmd: request.cmd }, image.Entrypoint ?? [], image.Cmd ?? []);
  const env = addDefaultEnv(mergeEnv(image.Env ?? [], request.env), { hostname, home: homeOf(user.uid), tty: false });
  const single = [{ containerID: 0, hostID: GUEST_FILE_OWNER, size: 1 }];
  const spec: ContainerSpec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: false,
      user,
      args,
      env: envList(env),
      cwd: workingDir(request.cwd, image.WorkingDir),
      capabilities: defaultCapabilitySets(),
      rlimits: [{ type: "RLIMIT_NOFILE", soft: 1024, hard: GUEST_NOFILE_HARD }],
      noNewPrivileges: true,
    },
    // The guest translation (guest-spec.ts) puts the root and the writable layer in the guest's tmpfs.
    root: { path: `/containers/${cid}/rootfs`, readonly: false, overlay: { lower: [imageRoot], upper: `/containers/${cid}/upper`, work: `/containers/${cid}/work` } },
    hostname,
    mounts: defaultMounts({ ttyGroupMapped: false }),
    linux: {
      namespaces: [...CONTAINER_NAMESPACES],
      uidMappings: single,
      gidMappings: single,
      maskedPaths: [...DEFAULT_MASKED_PATHS],
      readonlyPaths: [...DEFAULT_READONLY_PATHS],
    },
  };
  validateSpec(spec);
  return spec;
}

/** $HOME of a user without a passwd entry (the Worker does not read the image's /etc/passwd). */
export const homeOf = (uid: number): string => (uid === 0 ? "/root" : "/");

/** `uid[:gid]`; user names would need the image's /etc/passwd, which the Worker does not read yet. */
export function numericUser(text: string): { uid: number; gid: number } {
  const m = /^(\d+)(?::(\d+))?$/.exec(text);
  if (!m) throw new TsboxError(`user "${text}": only numeric uid[:gid] users are supported in the browser`, { code: "usage" });
  return { uid: Number(m[1]), gid: Number(m[2] ?? 0) };
}
