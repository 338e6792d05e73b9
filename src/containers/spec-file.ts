import { readFileSync } from "node:fs";
import type { ContainerSpec } from "../spec/container-spec.js";

/** A container's record of how it runs: its bundle's config.json (throws when it is missing or unreadable). */
export function readSpec(configPath: string): ContainerSpec {
  return JSON.parse(readFileSync(configPath, "utf8")) as ContainerSpec;
}
