/**
 * One v86 guest: boots the kernel + initramfs of vm-images/dist (or
 * restores a saved state), serves the host's directories over 9p and talks
 * to the guest agent over the virtio console's port 1 (/dev/hvc1 inside).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { TsboxError } from "../../errors.js";
import { AgentLink } from "./agent-link.js";
import { type VmImages, v86Dir, v86Version } from "./images.js";
import { P9Server, type P9State } from "./p9/server.js";

export interface MachineConfig {
  /** Guest RAM in MiB; at least 128 (the initrd is placed at 64 MiB). */
  memoryMb: number;
  /** Kernel command line. */
  cmdline: string;
}

export const DEFAULT_CONFIG: MachineConfig = {
  memoryMb: 256,
  // init_on_free: freed pages are zero, so a saved state is mostly zeros.
  cmdline: "console=ttyS0 quiet loglevel=3 init_on_free=1 mitigations=off tsc=reliable no_timer_check panic=-1 rdinit=/init",
};

/** What makes a saved state loadable: the same guest image, emulator and devices. */
export function machineFingerprint(images: VmImages, config: MachineConfig): string {
  return JSON.stringify({ image: images.manifest.imageId, v86: v86Version(), memoryMb: config.memoryMb, cmdline: config.cmdline, devices: "virtio-console,virtio-9p,serial0" });
}

export interface SavedMachine {
  state: ArrayBuffer;
  p9: P9State;
}

interface V86Like {
  add_listener(event: string, fn: (arg: unknown) => void): void;
  save_state(): Promise<ArrayBuffer>;
  destroy(): Promise<void>;
  stop(): Promise<void>;
  bus: { send(event: string, data: unknown): void };
}

const SERIAL_KEEP = 8192;

export class Machine {
  readonly link: AgentLink;
  readonly p9 = new P9Server();
  private emulator: V86Like | undefined;
  private serial = "";
  private destroyed = false;
  /** Milliseconds from construction to a live agent. */
  bootMs = 0;

  private constructor(
    readonly images: VmImages,
    readonly config: MachineConfig,
  ) {
    this.link = new AgentLink({ send: (bytes) => this.emulator?.bus.send("virtio-console1-input-bytes", bytes) });
  }

  /** Boots from scratch; resolves once the agent answered `hello`. */
  static async boot(images: VmImages, config: MachineConfig = DEFAULT_CONFIG, timeoutMs = 90_000): Promise<Machine> {
    const m = new Machine(images, config);
    const t0 = performance.now();
    const ready = new Promise<void>((resolve) => m.link.once("ready", () => resolve()));
    await m.start(undefined);
    try {
      await withTimeout(ready, timeoutMs, () => m.failure(`the vm guest did not start its agent within ${timeoutMs / 1000} s`));
      await m.link.hello(15_000);
    } catch (err) {
      await m.destroy();
      throw err;
    }
    m.bootMs = performance.now() - t0;
    return m;
  }

  /** Restores a saved state; resolves once the agent answered `hello`. */
  static async restore(images: VmImages, saved: SavedMachine, config: MachineConfig = DEFAULT_CONFIG, timeoutMs = 20_000): Promise<Machine> {
    const m = new Machine(images, config);
    const t0 = performance.now();
    m.p9.loadState(saved.p9);
    try {
      await m.start(saved.state);
      await m.link.hello(timeoutMs);
    } catch (err) {
      await m.destroy();
      if (err instanceof TsboxError) throw m.failure(err.message);
      throw err;
    }
    m.bootMs = performance.now() - t0;
    return m;
  }

  /** The guest's state now, for a later `restore` (the agent must be idle). */
  async save(): Promise<SavedMachine> {
    if (!this.emulator) throw new TsboxError("the vm is not running", { code: "runtime" });
    const state = await this.emulator.save_state();
    return { state, p9: this.p9.saveState() };
  }

  /** The last lines the guest printed on its serial console (kernel messages, init errors). */
  serialTail(): string {
    return this.serial;
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    this.link.close(new TsboxError("the vm was shut down", { code: "runtime" }));
    const emu = this.emulator;
    this.emulator = undefined;
    if (emu) {
      try {
        await emu.destroy();
      } catch {
        // a half-initialised emulator: nothing more to free
      }
    }
    this.p9.closeAll();
  }

  private async start(state: ArrayBuffer | undefined): Promise<void> {
    const { V86 } = (await import("v86")) as unknown as { V86: new (options: Record<string, unknown>) => V86Like };
    const buffer = (path: string) => {
      const b = readFileSync(path);
      return { buffer: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer };
    };
    const loaded = new Promise<void>((resolve) => {
      const options: Record<string, unknown> = {
        wasm_path: join(v86Dir(), "build", "v86.wasm"),
        bios: buffer(this.images.bios),
        bzimage: buffer(this.images.kernel),
        initrd: buffer(this.images.initrd),
        cmdline: this.config.cmdline,
        memory_size: this.config.memoryMb * 1024 * 1024,
        vga_memory_size: 2 * 1024 * 1024,
        autostart: true,
        disable_keyboard: true,
        disable_mouse: true,
        disable_speaker: true,
        acpi: false,
        fastboot: true,
        virtio_console: true,
        filesystem: { handle9p: (req: Uint8Array, reply: (buf: Uint8Array) => void) => this.p9.handle(req, reply) },
        log_level: 0,
      };
      if (state) options.initial_state = { buffer: state };
      const emu = new V86(options);
      this.emulator = emu;
      emu.add_listener("emulator-loaded", () => resolve());
      emu.add_listener("virtio-console1-output-bytes", (bytes) => this.link.receive(bytes as Uint8Array));
      emu.add_listener("serial0-output-byte", (byte) => {
        this.serial += String.fromCharCode(byte as number);
        if (this.serial.length > SERIAL_KEEP * 2) this.serial = this.serial.slice(-SERIAL_KEEP);
      });
    });
    await withTimeout(loaded, 30_000, () => this.failure("the emulator did not load within 30 s"));
  }

  private failure(message: string): TsboxError {
    const tail = this.serial.trim().split("\n").slice(-5).join(" | ");
    return new TsboxError(tail ? `${message} (guest console: ${tail})` : message, { code: "runtime" });
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms);
    p.then(
      (v) => (clearTimeout(timer), resolve(v)),
      (e) => (clearTimeout(timer), reject(e)),
    );
  });
}
