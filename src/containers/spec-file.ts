import { readFileSync, writeFileSync } from "node:fs";
import type { ContainerSpec } from "../spec/container-spec.js";

/** A container's record of how it runs: its bundle's config.json (throws when it is missing or unreadable). */
export function readSpec(configPath: string): ContainerSpec {
  return JSON.parse(readFileSync(configPath, "utf8")) as ContainerSpec;
}

/**
 * Writes a new container's config.json (before its state exists: nothing reads it yet, so no rename is needed):
 * a spec, or its JSON text as this wrote it before (the run cache's replay).
 */
export function writeSpec(configPath: string, spec: ContainerSpec | string): void {
  writeFileSync(configPath, typeof spec === "string" ? spec : JSON.stringify(spec));
}
