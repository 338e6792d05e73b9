/**
 * The ContainerSpec of a run in the Worker: the shape src/spec/from-options.ts
 * builds for a rootless Node host (OCI defaults, every namespace, container
 * root mapped to the one user that owns the files), from the image config
 * and the page's request, with docker's rules for command, environment and
 * working directory. The memory fs plays the rootless host's disk, and its
 * user (GUEST_FILE_OWNER) plays the invoking user.
 */
import { TsboxError } from "../../../errors.js";
import type { ImageRunConfig } from "../../../image/oci.js";
import type { ContainerSpec } from "../../../spec/container-spec.js";
import { DEFAULT_CAPABILITIES, DEFAULT_MASKED_PATHS, DEFAULT_PATH_ENV, DEFAULT_READONLY_PATHS, defaultMounts, OCI_VERSION } from "../../../spec/defaults.js";
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
  const args = request.cmd && request.cmd.length > 0 ? [...(image.Entrypoint ?? []), ...request.cmd] : [...(image.Entrypoint ?? []), ...(image.Cmd ?? [])];
  if (args.length === 0) throw new TsboxError("no command specified (the image has no Cmd or Entrypoint)", { code: "usage" });

  // Image values first, the request's override them; then the defaults docker adds.
  const env = new Map<string, string>();
  for (const entry of image.Env ?? []) {
    const eq = entry.indexOf("=");
    if (eq > 0) env.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  for (const [key, value] of Object.entries(request.env ?? {})) env.set(key, value);
  if (!env.has("PATH")) env.set("PATH", DEFAULT_PATH_ENV.slice("PATH=".length));
  env.set("HOSTNAME", hostname);
  if (!env.has("HOME")) env.set("HOME", user.uid === 0 ? "/root" : "/");

  const caps = [...DEFAULT_CAPABILITIES];
  const single = [{ containerID: 0, hostID: GUEST_FILE_OWNER, size: 1 }];
  const spec: ContainerSpec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: false,
      user,
      args,
      env: [...env].map(([k, v]) => `${k}=${v}`),
      cwd: request.cwd ?? (image.WorkingDir?.startsWith("/") ? image.WorkingDir : "/"),
      capabilities: { bounding: caps, effective: [...caps], permitted: [...caps], inheritable: [], ambient: [] },
      rlimits: [{ type: "RLIMIT_NOFILE", soft: 1024, hard: GUEST_NOFILE_HARD }],
      noNewPrivileges: true,
    },
    // The guest translation (guest-spec.ts) puts the root and the writable layer in the guest's tmpfs.
    root: { path: `/containers/${cid}/rootfs`, readonly: false, overlay: { lower: [imageRoot], upper: `/containers/${cid}/upper`, work: `/containers/${cid}/work` } },
    hostname,
    mounts: defaultMounts({ ttyGroupMapped: false }),
    linux: {
      namespaces: [{ type: "user" }, { type: "pid" }, { type: "mount" }, { type: "uts" }, { type: "ipc" }, { type: "network" }, { type: "cgroup" }],
      uidMappings: single,
      gidMappings: single,
      maskedPaths: [...DEFAULT_MASKED_PATHS],
      readonlyPaths: [...DEFAULT_READONLY_PATHS],
    },
  };
  validateSpec(spec);
  return spec;
}

/** `uid[:gid]`; user names would need the image's /etc/passwd, which the Worker does not read yet. */
function numericUser(text: string): { uid: number; gid: number } {
  const m = /^(\d+)(?::(\d+))?$/.exec(text);
  if (!m) throw new TsboxError(`user "${text}": only numeric uid[:gid] users are supported in the browser`, { code: "usage" });
  return { uid: Number(m[1]), gid: Number(m[2] ?? 0) };
}
