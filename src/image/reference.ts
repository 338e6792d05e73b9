import { ImageError } from "../errors.js";
import { isDigest } from "./digest.js";

/**
 * A parsed image reference, normalised the way docker does so names typed
 * by users (`busybox`) and names stored in index.json
 * (`docker.io/library/busybox:latest`) compare equal.
 */
export interface ImageReference {
  /** Registry host, `docker.io` when omitted. */
  domain: string;
  /** Repository path, `library/` prefixed for single-component docker.io names. */
  path: string;
  /** Tag; `latest` when neither tag nor digest is given. */
  tag?: string;
  digest?: string;
}

export const DEFAULT_DOMAIN = "docker.io";
const COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const NAME_MAX = 255;
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DOMAIN_RE = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?$|^\[[0-9a-fA-F:]+\](?::[0-9]+)?$/;

export function parseReference(input: string): ImageReference {
  const invalid = (why: string) => new ImageError(`invalid image reference "${input}": ${why}`);
  if (input === "") throw invalid("empty");
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) throw invalid("digest must be sha256:<64 hex digits>");
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) throw invalid(`bad tag "${tag}"`);
  }
  // distribution's limit on the name (registry and path, without tag or digest).
  if (rest.length > NAME_MAX) throw invalid(`repository name must not be more than ${NAME_MAX} characters`);
  let domain = DEFAULT_DOMAIN;
  const slash = rest.indexOf("/");
  const first = slash >= 0 ? rest.slice(0, slash) : "";
  // Docker's rule: the first component is a registry when it looks like a host.
  if (slash >= 0 && (first.includes(".") || first.includes(":") || first === "localhost" || first !== first.toLowerCase())) {
    if (!DOMAIN_RE.test(first)) throw invalid(`bad registry "${first}"`);
    domain = first === "index.docker.io" ? DEFAULT_DOMAIN : first;
    rest = rest.slice(slash + 1);
  }
  if (rest === "") throw invalid("missing repository name");
  for (const component of rest.split("/")) {
    if (!COMPONENT_RE.test(component)) throw invalid("repository name must be lowercase letters, digits and separators");
  }
  if (domain === DEFAULT_DOMAIN && !rest.includes("/")) rest = "library/" + rest;
  if (tag === undefined && digest === undefined) tag = "latest";
  // NAME:TAG@DIGEST (Renovate's pinned form) is NAME@DIGEST: the digest says which image, the tag was only a note.
  // docker drops it too (distribution's reference.ParseDockerRef; `docker pull` pulls by digest and tags nothing).
  if (digest !== undefined) tag = undefined;
  return { domain, path: rest, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/**
 * A name to give an image (tag, commit, import): REPOSITORY[:TAG], checked before any work is done. A digest
 * names what an image is, not what a user calls it: `tag img repo@sha256:…` stored a digest the image did not
 * have, which then resolved to it (docker: "refusing to create a tag with a digest reference").
 */
export function checkImageName(name: string | undefined): void {
  if (name === undefined) return;
  try {
    const ref = parseReference(name);
    if (ref.digest) throw new ImageError(`invalid reference format: ${name} (a digest cannot be given to a new image)`);
  } catch (err) {
    if (err instanceof ImageError) throw err;
    throw new ImageError(`invalid reference format: ${name}`);
  }
}

/** A name typed without tag or digest (`busybox`, `host:5000/app`): a repository, to `save` and `push -a` every tag of. */
export function isNameOnly(input: string): boolean {
  return !input.includes("@") && !/:[^/]*$/.test(input);
}

/** `docker.io/library/busybox:latest`: the name stored in index.json. */
export function canonicalName(ref: ImageReference): string {
  return `${ref.domain}/${ref.path}${ref.tag !== undefined ? ":" + ref.tag : ""}${ref.digest !== undefined ? "@" + ref.digest : ""}`;
}

/** `busybox:latest`: the name shown to users (docker's "familiar" form). */
export function familiarName(ref: ImageReference): string {
  let repo = ref.path;
  if (ref.domain === DEFAULT_DOMAIN) {
    if (repo.startsWith("library/") && repo.indexOf("/", 8) < 0) repo = repo.slice(8);
  } else {
    repo = `${ref.domain}/${repo}`;
  }
  return `${repo}${ref.tag !== undefined ? ":" + ref.tag : ""}${ref.digest !== undefined ? "@" + ref.digest : ""}`;
}

/** Repository without tag/digest, e.g. `docker.io/library/busybox`. */
export function repositoryName(ref: ImageReference): string {
  return `${ref.domain}/${ref.path}`;
}
