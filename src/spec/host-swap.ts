import { readFileSync } from "node:fs";

/**
 * Whether this host swaps at all (a device or file in /proc/swaps): where it
 * does, a memory limit without --memory-swap gets docker's memory+swap of
 * twice it (resources.ts `cgroupSettings`).
 */
export function hostHasSwap(): boolean {
  try {
    return readFileSync("/proc/swaps", "utf8").trim().split("\n").length > 1;
  } catch {
    return false;
  }
}
