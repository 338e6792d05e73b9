/**
 * Linux errno numbers: what 9p2000.L's Rlerror carries to the guest (a
 * Linux kernel), whatever the host. File system errors are recognised by
 * their `code` ("ENOENT"), as Node's fs sets it and MemoryFs copies.
 */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  ETXTBSY: 26,
  EFBIG: 27,
  ENOSPC: 28,
  ESPIPE: 29,
  EROFS: 30,
  EMLINK: 31,
  ERANGE: 34,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ELOOP: 40,
  ENODATA: 61,
  EPROTO: 71,
  EOVERFLOW: 75,
  ENOTSUP: 95,
  EOPNOTSUPP: 95,
  ESTALE: 116,
  EDQUOT: 122,
} as const;

export type ErrnoCode = keyof typeof Errno;

/** An error a P9Fs throws: like Node's fs errors, it has a `code`. */
export class FsError extends Error {
  constructor(
    readonly code: ErrnoCode,
    syscall: string,
    path?: string,
  ) {
    super(`${code}: ${syscall}${path === undefined ? "" : ` '${path}'`}`);
  }
}

/** The server's own refusals (EROFS, EBADF, …). */
export class P9Error extends Error {
  constructor(readonly errno: number) {
    super(`errno ${errno}`);
  }
}

/** The errno to answer for `err`; EIO when it is not a file system error. */
export function errnoOf(err: unknown): number {
  if (err instanceof P9Error) return err.errno;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && code in Errno ? Errno[code as ErrnoCode] : Errno.EIO;
}
