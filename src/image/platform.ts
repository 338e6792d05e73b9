import type { Platform } from "./oci.js";

/** Node's process.arch → the OCI/Go architecture name images use. */
const ARCH: Record<string, string> = { x64: "amd64", ia32: "386", arm64: "arm64", arm: "arm", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64" };

export function hostPlatform(): Platform {
  return { os: "linux", architecture: ARCH[process.arch] ?? process.arch };
}

export function platformMatches(candidate: Platform | undefined, wanted: Platform): boolean {
  return candidate !== undefined && candidate.os === wanted.os && candidate.architecture === wanted.architecture;
}

export function formatPlatform(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? "/" + p.variant : ""}`;
}
