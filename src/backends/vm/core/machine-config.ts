/**
 * The guest machine's settings (memory, kernel command line), shared by Node's vm backend and the page, which
 * takes them from its caller (`RuntimeOptions.config`): a module of its own, so the page's bundle checks them
 * without the emulator's code.
 */
import { UsageError } from "../../../errors.js";
import { describeValue } from "../../../spec/run-options-check.js";

export interface MachineConfig {
  /** Guest RAM in MiB; at least 128 (the initrd is placed at 64 MiB). */
  memoryMb: number;
  /** Kernel command line. */
  cmdline: string;
}

/** A page's `config` as given (plain JS too): refused at once rather than failing in the emulator (64 MiB: "offset is out of bounds", then a 30 s wait). */
export function checkMachineConfig(config: unknown): MachineConfig {
  const c = config as Partial<MachineConfig> | null;
  if (typeof c !== "object" || c === null) throw new UsageError(`config: expected { memoryMb, cmdline }, got ${describeValue(config)}`);
  if (!Number.isInteger(c.memoryMb) || c.memoryMb! < 128 || c.memoryMb! > 2048) {
    throw new UsageError(`config.memoryMb: expected a whole number of MiB from 128 (the initrd sits at 64 MiB) to 2048, got ${describeValue(c.memoryMb)}`);
  }
  if (typeof c.cmdline !== "string") throw new UsageError(`config.cmdline: expected the kernel command line as a string, got ${describeValue(c.cmdline)}`);
  return { memoryMb: c.memoryMb!, cmdline: c.cmdline };
}

export const DEFAULT_CONFIG: MachineConfig = {
  memoryMb: 256,
  // init_on_free: freed pages are zero, so a saved state is mostly zeros.
  cmdline: "console=ttyS0 quiet loglevel=3 init_on_free=1 mitigations=off tsc=reliable no_timer_check panic=-1 rdinit=/init",
};

