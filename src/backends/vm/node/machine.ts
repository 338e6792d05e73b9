/**
 * One v86 guest in Node: GuestMachine (guest-machine.ts, shared with the
 * browser Worker) with the files of vm-images/dist, v86 from node_modules,
 * the host's directories over 9p (NodeFs) and Node streams on the link.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { AgentLink } from "./agent-link.js";
import { DEFAULT_CONFIG, fingerprintOf, GuestMachine, type MachineConfig, type SavedMachine, type V86Constructor } from "../core/guest-machine.js";
import { serveOutbound } from "./outbound.js";
import { type VmImages, v86Dir, v86Version } from "./images.js";
import { NodeFs } from "./p9/node-fs.js";
import { P9Server } from "../core/p9/server.js";
import { DEFAULT_FID_LIMITS } from "../core/p9/fid-table.js";
import { presentedOwners } from "./p9/presented-owners.js";
import { probeHostIdentity } from "../../../spec/id-mappings.js";

export { DEFAULT_CONFIG, type MachineConfig, type SavedMachine } from "../core/guest-machine.js";

/** What makes a saved state loadable: the same guest image, emulator and devices. */
export function machineFingerprint(images: VmImages, config: MachineConfig): string {
  return fingerprintOf(images.manifest.imageId, v86Version(), config);
}

/** How the guest's containers may reach out through this process (outbound.ts): this host's loopback, or not. */
export interface OutboundPolicy {
  hostLoopback: boolean;
}

export class Machine extends GuestMachine<AgentLink> {
  private constructor(
    readonly images: VmImages,
    config: MachineConfig,
    readonly outbound: OutboundPolicy,
  ) {
    super({
      config,
      p9: new P9Server(new NodeFs(), DEFAULT_FID_LIMITS, presentedOwners(probeHostIdentity())),
      makeLink: (transport) => serveOutbound(new AgentLink(transport), outbound),
      loadV86: async () => ((await import("v86")) as unknown as { V86: V86Constructor }).V86,
      loadFiles: async () => ({
        bios: fileBuffer(images.bios),
        kernel: fileBuffer(images.kernel),
        initrd: fileBuffer(images.initrd),
        wasm: await v86Module(),
      }),
    });
  }

  /** Boots from scratch; resolves once the agent answered `hello`. */
  static async boot(images: VmImages, config: MachineConfig, outbound: OutboundPolicy, timeoutMs = 90_000): Promise<Machine> {
    const m = new Machine(images, config, outbound);
    await m.startCold(timeoutMs);
    return m;
  }

  /** Restores a saved state; resolves once the agent answered `hello`. */
  static async restore(images: VmImages, saved: SavedMachine, config: MachineConfig, outbound: OutboundPolicy, timeoutMs = 20_000): Promise<Machine> {
    const m = new Machine(images, config, outbound);
    await m.startFrom(saved, timeoutMs);
    return m;
  }
}

let compiled: Promise<WebAssembly.Module> | undefined;

/** v86's wasm, compiled once per process (every guest of a process instantiates the same module). */
export function v86Module(): Promise<WebAssembly.Module> {
  compiled ??= WebAssembly.compile(readFileSync(join(v86Dir(), "build", "v86.wasm")));
  return compiled;
}

function fileBuffer(path: string): ArrayBuffer {
  const b = readFileSync(path);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}
