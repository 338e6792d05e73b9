/**
 * One v86 guest, wherever it runs (Node, or a browser Worker): boots the
 * kernel + initramfs (or restores a saved state), answers the guest's 9p
 * requests with a P9Server and talks to the guest agent over the virtio
 * console's port 1 (/dev/hvc1 inside). Loading the emulator and the guest
 * files is the caller's part (machine.ts in Node, browser/worker.ts).
 */
import { TsboxError } from "../../../errors.js";
import type { AgentProtocol, ConsoleTransport, LinkNumbering } from "./agent-protocol.js";
import type { P9Server, P9State } from "./p9/server.js";
import type { MachineConfig } from "./machine-config.js";
import { RestoreHooks } from "./v86-memory.js";

export { checkMachineConfig, DEFAULT_CONFIG, type MachineConfig } from "./machine-config.js";

/**
 * The guest has no screen: v86's smallest VGA memory (it rounds anything below up to this),
 * which a saved state holds whole (2 MiB of it was 13 % of a state).
 */
const VGA_MEMORY_BYTES = 256 * 1024;

/** What makes a saved state loadable: the same guest image, emulator and devices. */
export function fingerprintOf(imageId: string, v86Version: string, config: MachineConfig): string {
  return JSON.stringify({ image: imageId, v86: v86Version, memoryMb: config.memoryMb, cmdline: config.cmdline, devices: `virtio-console,virtio-9p,serial0,vga-${VGA_MEMORY_BYTES}` });
}

export interface SavedMachine {
  state: ArrayBuffer;
  p9: P9State;
  /** The link's numbering when saved (absent: saved idle, at a session's start). */
  link?: LinkNumbering;
}

/** The guest's files, and v86's wasm compiled (instantiated here). */
export interface GuestFiles {
  bios: ArrayBuffer;
  kernel: ArrayBuffer;
  initrd: ArrayBuffer;
  wasm: WebAssembly.Module;
}

export interface V86Like {
  add_listener(event: string, fn: (arg: unknown) => void): void;
  restore_state(state: ArrayBuffer): Promise<void>;
  run(): void;
  save_state(): Promise<ArrayBuffer>;
  destroy(): Promise<void>;
  stop(): Promise<void>;
  bus: { send(event: string, data: unknown): void };
}

export type V86Constructor = new (options: Record<string, unknown>) => V86Like;

export interface GuestMachineParts<L> {
  config: MachineConfig;
  p9: P9Server;
  makeLink: (transport: ConsoleTransport) => L;
  loadV86: () => Promise<V86Constructor>;
  loadFiles: () => Promise<GuestFiles> | GuestFiles;
}

const SERIAL_KEEP = 8192;

export class GuestMachine<L extends AgentProtocol<any>> {
  readonly config: MachineConfig;
  readonly link: L;
  readonly p9: P9Server;
  private emulator: V86Like | undefined;
  /** An emulator made ahead of its restore (prepareRestore), with the hooks its state's pages go to. */
  private prepared: Promise<RestoreHooks> | undefined;
  private serial = "";
  private destroyed = false;
  /** Milliseconds from the start call to a live agent. */
  bootMs = 0;
  /** Settles with the agent's `hello` (the start's, or a restore's answered after `startFrom` returned). */
  answered: Promise<void> = Promise.resolve();

  constructor(private readonly parts: GuestMachineParts<L>) {
    this.config = parts.config;
    this.p9 = parts.p9;
    this.link = parts.makeLink({ send: (bytes) => this.emulator?.bus.send("virtio-console1-input-bytes", bytes) });
  }

  /** Boots from scratch; resolves once the agent answered `hello`. */
  async startCold(timeoutMs: number, onEmulatorLoaded?: () => void): Promise<void> {
    const t0 = performance.now();
    const ready = new Promise<void>((resolve) => this.link.once("ready", () => resolve()));
    try {
      await this.discardPrepared();
      await this.startEmulator(undefined);
      onEmulatorLoaded?.();
      await withTimeout(ready, timeoutMs, () => this.failure(`the vm guest did not start its agent within ${timeoutMs / 1000} s`));
      await this.link.hello(15_000);
    } catch (err) {
      await this.destroy();
      throw err;
    }
    this.bootMs = performance.now() - t0;
  }

  /**
   * Restores a saved state; resolves once the agent answered `hello`, or
   * (`early`) once the emulator runs: requests made meanwhile go out after
   * the `hello` (agent-protocol.ts), and `answered` settles with it (a
   * failure destroys the machine, so they fail with its reason).
   */
  async startFrom(saved: SavedMachine, timeoutMs: number, onEmulatorLoaded?: () => void, early = false): Promise<void> {
    const t0 = performance.now();
    this.p9.loadState(saved.p9);
    if (saved.link) this.link.continueNumbering(saved.link);
    const fail = async (err: unknown) => {
      await this.destroy();
      throw err instanceof TsboxError ? this.failure(err.message) : err;
    };
    try {
      const prepared = await this.prepared?.catch(() => undefined);
      if (prepared) {
        this.prepared = undefined;
        await this.emulator!.restore_state(prepared.take(saved.state));
        this.emulator!.run();
      } else {
        await this.discardPrepared();
        await this.startEmulator(saved.state);
      }
      onEmulatorLoaded?.();
    } catch (err) {
      await fail(err);
    }
    this.answered = this.link.hello(timeoutMs).then(() => void (this.bootMs = performance.now() - t0), fail);
    if (!early) await this.answered;
    else this.answered.catch(() => {});
  }

  /**
   * The guest's state now, for a later `startFrom`: with the 9p fids and
   * the link's numbering (the guest may hold requests and channels of this
   * session; what the host has not sent yet is not in the state, so the
   * link must be drained).
   */
  async save(): Promise<SavedMachine> {
    if (!this.emulator) throw new TsboxError("the vm is not running", { code: "runtime" });
    if (!this.link.drained) throw new TsboxError("the vm's link is busy: its state cannot be saved now", { code: "runtime" });
    const link = this.link.numbering();
    const state = await this.emulator.save_state();
    return { state, p9: this.p9.saveState(), link };
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

  /**
   * Makes the emulator for a restore ahead of the state (v86's init: its wasm
   * instantiated, memory and devices set up, ≈ 0.1 s of CPU in a page), so
   * that work overlaps reading the state; `startFrom` then only restores.
   * A `startCold` after it makes its own.
   */
  prepareRestore(): void {
    if (this.emulator || this.prepared) return;
    const hooks = new RestoreHooks();
    this.prepared = this.startEmulator(hooks).then(() => hooks);
    this.prepared.catch(() => {});
  }

  private async discardPrepared(): Promise<void> {
    const prepared = this.prepared;
    this.prepared = undefined;
    if (!prepared) return;
    await prepared.catch(() => {});
    const emu = this.emulator;
    this.emulator = undefined;
    await emu?.destroy().catch(() => {});
  }

  private async startEmulator(restore: ArrayBuffer | RestoreHooks | undefined): Promise<void> {
    const [V86, files] = await Promise.all([this.parts.loadV86(), this.parts.loadFiles()]);
    const loaded = new Promise<void>((resolve) => {
      const options = v86Options(this.config, files, restore, (req, reply) => this.p9.handle(req, reply));
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

/**
 * v86's options for a cold boot (`restore` undefined), a restore of `state`,
 * or an emulator made ahead of its state (`RestoreHooks`: not started, its
 * `restore_state` called later). A restore gives the emulator no kernel or
 * initrd (the state holds the booted guest), so its memory is untouched but
 * for the BIOS when restore_state runs: the hooks (v86-memory.ts) spare
 * zeroing the rest and write the guest's pages straight from the state.
 */
export function v86Options(
  config: MachineConfig,
  files: GuestFiles,
  restore: ArrayBuffer | RestoreHooks | undefined,
  handle9p: (req: Uint8Array, reply: (buf: Uint8Array) => void) => void,
): Record<string, unknown> {
  const instantiate = async (env: WebAssembly.Imports) => (await WebAssembly.instantiate(files.wasm, env)).exports;
  const hooked = (hooks: RestoreHooks) => async (env: WebAssembly.Imports) => hooks.wrap(await instantiate(env));
  let boot: Record<string, unknown>;
  if (restore instanceof RestoreHooks) boot = { wasm_fn: hooked(restore), autostart: false };
  else if (restore) {
    const hooks = new RestoreHooks();
    boot = { initial_state: { buffer: hooks.take(restore) }, wasm_fn: hooked(hooks) };
  } else boot = { bzimage: { buffer: files.kernel }, initrd: { buffer: files.initrd }, wasm_fn: instantiate };
  return {
    bios: { buffer: files.bios },
    cmdline: config.cmdline,
    memory_size: config.memoryMb * 1024 * 1024,
    vga_memory_size: VGA_MEMORY_BYTES,
    autostart: true,
    disable_keyboard: true,
    disable_mouse: true,
    disable_speaker: true,
    acpi: false,
    fastboot: true,
    virtio_console: true,
    filesystem: { handle9p },
    log_level: 0,
    ...boot,
  };
}

/** `p`, or `onTimeout()`'s error once `ms` have passed (browser/state-files.ts uses it too). */
export function withTimeout<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms);
    p.then(
      (v) => (clearTimeout(timer), resolve(v)),
      (e) => (clearTimeout(timer), reject(e)),
    );
  });
}
