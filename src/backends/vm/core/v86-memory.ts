/**
 * A restore without zeroing memory that is zero already. v86's
 * `restore_state` (`unpack_memory`) first zeroes all guest memory, then
 * writes the state's nonzero pages. In a new emulator that memory is fresh
 * wasm memory (zero, by the wasm spec) and untouched: the host has committed
 * none of it. Writing, or even reading, 256 MiB of it makes the host fault in
 * every page — ≈ 1.8 s of CPU on this machine (a VM, where a page fault costs
 * ≈ 28 µs), and the process's RSS grows by the guest's whole memory instead of
 * the few MiB the state holds. Before a restore v86's init writes only its
 * BIOS images, below 1 MiB, when it is given no kernel or initrd (a restore
 * never needs them: the state holds the booted guest); test/vm.test.ts checks
 * that on the real emulator.
 */

/** Guest memory v86's init may write before a restore: the BIOS images at 0xC0000–0xFFFFF. */
export const WRITTEN_BEFORE_RESTORE = 1 << 20;

type ZeroMemory = (addr: number, length: number) => void;

/**
 * `exports` whose `zero_memory` zeroes only below WRITTEN_BEFORE_RESTORE on its
 * first call (the restore's, before the guest ever ran) and everything after.
 * For a new emulator that is restored and was given no kernel or initrd.
 */
export function freshMemoryRestore(exports: WebAssembly.Exports): WebAssembly.Exports {
  const zero = exports.zero_memory as ZeroMemory | undefined;
  if (typeof zero !== "function") return exports;
  let fresh = true;
  const zeroMemory: ZeroMemory = (addr, length) => {
    if (!fresh) return zero(addr, length);
    fresh = false;
    const end = Math.min(addr + length, WRITTEN_BEFORE_RESTORE);
    if (addr < end) zero(addr, end - addr);
  };
  // instance.exports is frozen: a copy with every other export as it is.
  return { ...exports, zero_memory: zeroMemory };
}
