/**
 * A restore that writes guest memory once. v86's `restore_state` copies
 * every buffer of the state out of it (`ArrayBuffer.slice`), then
 * `unpack_memory` zeroes all guest memory and copies the state's nonzero
 * pages into it: the guest's pages (10 MiB of a 12 MiB state) are copied
 * twice and all 256 MiB are written once more. Here:
 *
 * - *Nothing zeroed that is zero already.* In a new emulator guest memory is
 *   fresh wasm memory (zero, by the wasm spec) and untouched: the host has
 *   committed none of it. Writing, or even reading, 256 MiB of it makes the
 *   host fault in every page — ≈ 1.8 s of CPU on this machine (a VM, where a
 *   page fault costs ≈ 28 µs), and the process's RSS grows by the guest's
 *   whole memory instead of the few MiB the state holds. Before a restore
 *   v86's init writes only its BIOS images, below 1 MiB, when it is given no
 *   kernel or initrd (a restore never needs them: the state holds the booted
 *   guest); test/vm.test.ts checks that on the real emulator.
 * - *The guest's pages copied once* (`splitGuestMemory`): v86 is given the
 *   state without its memory and page bitmap, and the pages are copied from
 *   the state's own bytes straight into guest memory when the restore zeroes
 *   it. In Chromium that took v86's restore from ≈ 290 to ≈ 150 ms of the
 *   Worker's CPU (docs/architecture.md). The file format stays v86's own.
 */

/** Guest memory v86's init may write before a restore: the BIOS images at 0xC0000–0xFFFFF. */
export const WRITTEN_BEFORE_RESTORE = 1 << 20;

/** v86's state header (src/state.js): magic, format version, total length, info block length. */
const STATE_MAGIC = -2039052682;
const STATE_VERSION = 6;
/** Where the CPU's state array keeps the packed nonzero pages and their bitmap (one bit per 4 KiB page). */
const PACKED_MEMORY = 77;
const PAGE_BITMAP = 78;
const PAGE = 4096;

/** The guest's pages, as a state holds them: a bit per page, and the pages whose bit is set, in order. */
export interface GuestPages {
  bitmap: Uint8Array;
  packed: Uint8Array;
}

interface BufferRef {
  __state_type__: string;
  buffer_id: number;
}

const isBufferRef = (v: unknown): v is BufferRef => typeof (v as BufferRef | null)?.buffer_id === "number";

/**
 * `state` as v86 restores it but for the guest's pages (`rest`: the memory
 * and bitmap buffers empty, every other buffer as it was), and those pages
 * (views into `state`, not copies). Undefined for anything but an
 * uncompressed v86 state of this format whose pages add up: that one goes
 * to v86 as it is.
 */
export function splitGuestMemory(state: ArrayBuffer): { rest: ArrayBuffer; pages: GuestPages } | undefined {
  if (state.byteLength < 16) return undefined;
  const [magic, version, length, infoLength] = new Int32Array(state, 0, 4) as unknown as number[];
  if (magic !== STATE_MAGIC || version !== STATE_VERSION || length !== state.byteLength || !(infoLength! > 0 && 16 + infoLength! <= length!)) return undefined;
  let info: { buffer_infos: { offset: number; length: number }[]; state: unknown[] };
  try {
    info = JSON.parse(new TextDecoder().decode(new Uint8Array(state, 16, infoLength)));
  } catch {
    return undefined;
  }
  const buffers = info?.buffer_infos;
  const memoryRef = Array.isArray(info?.state) ? info.state[PACKED_MEMORY] : undefined;
  const bitmapRef = Array.isArray(info?.state) ? info.state[PAGE_BITMAP] : undefined;
  if (!Array.isArray(buffers) || !isBufferRef(memoryRef) || !isBufferRef(bitmapRef)) return undefined;
  const start = (16 + infoLength! + 3) & ~3;
  const views: Uint8Array[] = [];
  for (const b of buffers) {
    if (!Number.isInteger(b?.offset) || !Number.isInteger(b?.length) || b.offset < 0 || b.length < 0 || start + b.offset + b.length > length!) return undefined;
    views.push(new Uint8Array(state, start + b.offset, b.length));
  }
  const packed = views[memoryRef.buffer_id];
  const bitmap = views[bitmapRef.buffer_id];
  if (!packed || !bitmap || memoryRef.buffer_id === bitmapRef.buffer_id || packed.length !== pagesSet(bitmap) * PAGE) return undefined;

  // The same layout as v86's save_state: header, info block, then each buffer at a 4-byte aligned offset.
  const kept = views.map((v, i) => (i === memoryRef.buffer_id || i === bitmapRef.buffer_id ? new Uint8Array(0) : v));
  let offset = 0;
  const infos = kept.map((v) => {
    const at = offset;
    offset = (offset + v.length + 3) & ~3;
    return { offset: at, length: v.length };
  });
  const infoBlock = new TextEncoder().encode(JSON.stringify({ buffer_infos: infos, state: info.state }));
  const restStart = (16 + infoBlock.length + 3) & ~3;
  const rest = new ArrayBuffer(restStart + offset);
  new Int32Array(rest, 0, 4).set([STATE_MAGIC, STATE_VERSION, rest.byteLength, infoBlock.length]);
  new Uint8Array(rest, 16).set(infoBlock);
  const out = new Uint8Array(rest, restStart);
  kept.forEach((v, i) => out.set(v, infos[i]!.offset));
  return { rest, pages: { bitmap, packed } };
}

function pagesSet(bitmap: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < bitmap.length; i++) for (let b = bitmap[i]!; b !== 0; b &= b - 1) n++;
  return n;
}

/** Copies each run of set pages of `pages` into `memory` (guest physical address 0 at index 0). */
export function writeGuestPages(memory: Uint8Array, pages: GuestPages): void {
  const { bitmap, packed } = pages;
  const count = Math.min(bitmap.length * 8, memory.length / PAGE);
  let from = 0;
  for (let page = 0; page < count; ) {
    if (bitmap[page >> 3] === 0) {
      page = (page | 7) + 1;
      continue;
    }
    if (!((bitmap[page >> 3]! >> (page & 7)) & 1)) {
      page++;
      continue;
    }
    let end = page + 1;
    while (end < count && (bitmap[end >> 3]! >> (end & 7)) & 1) end++;
    const bytes = (end - page) * PAGE;
    memory.set(packed.subarray(from, from + bytes), page * PAGE);
    from += bytes;
    page = end;
  }
}

type ZeroMemory = (addr: number, length: number) => void;
type AllocateMemory = (size: number) => number;

/**
 * The hooks of one restore into a new emulator that was given no kernel or
 * initrd: `wrap` its wasm exports when they are instantiated, and give v86
 * `take(state)` to restore. Their `zero_memory`'s first call (the
 * restore's, before the guest ever ran) zeroes only below
 * WRITTEN_BEFORE_RESTORE and writes the pages `take` kept; later calls are
 * v86's own.
 */
export class RestoreHooks {
  private pages: GuestPages | undefined;

  /** What v86 restores of `state`: without its pages, kept here for the restore to write, when it splits. */
  take(state: ArrayBuffer): ArrayBuffer {
    const split = splitGuestMemory(state);
    this.pages = split?.pages;
    return split ? split.rest : state;
  }

  wrap(exports: WebAssembly.Exports): WebAssembly.Exports {
    const zero = exports.zero_memory as ZeroMemory | undefined;
    const allocate = exports.allocate_memory as AllocateMemory | undefined;
    const memory = exports.memory as WebAssembly.Memory | undefined;
    if (typeof zero !== "function" || typeof allocate !== "function" || !(memory instanceof WebAssembly.Memory)) {
      throw new Error("this v86 build has no zero_memory, allocate_memory or memory export: its restore cannot be hooked");
    }
    let guest: { at: number; size: number } | undefined;
    const allocateMemory: AllocateMemory = (size) => {
      const at = allocate(size);
      // The first allocation is the guest's memory (CPU.create_memory); VGA memory has its own.
      guest ??= { at: at >>> 0, size };
      return at;
    };
    let fresh = true;
    const zeroMemory: ZeroMemory = (addr, length) => {
      if (!fresh) return zero(addr, length);
      fresh = false;
      const end = Math.min(addr + length, WRITTEN_BEFORE_RESTORE);
      if (addr < end) zero(addr, end - addr);
      if (!this.pages) return;
      if (!guest) throw new Error("v86 zeroed guest memory before allocating it");
      writeGuestPages(new Uint8Array(memory.buffer, guest.at, guest.size), this.pages);
    };
    // instance.exports is frozen: a copy with every other export as it is.
    return { ...exports, zero_memory: zeroMemory, allocate_memory: allocateMemory };
  }
}
